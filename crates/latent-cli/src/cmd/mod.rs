//! One module per subcommand: arguments → library settings → one library call → files and
//! lines on the terminal. No command module uses another.

pub mod compare;
pub mod decode;
pub mod demo;
pub mod encode;
pub mod eval;
pub mod explore;
pub mod fit;
pub mod info;
pub mod interpolate;
pub mod map;
pub mod reconstruct;
pub mod sample;
pub mod traverse;
