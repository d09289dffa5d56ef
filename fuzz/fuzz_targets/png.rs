//! `latent_data::image::read_png_folder`: the PNG decoding is private (`decode_png(path)`), so
//! the input is written into a fresh folder as one or two `.png` files, optionally as two
//! class sub-folders.
//!
//! Input layout: byte 0 = mode (bit 0: two files; bit 1: class sub-folders), bytes 1..3 =
//! split point (little-endian, modulo the length) when there are two files, then the bytes.
#![no_main]

use std::fs;
use std::path::Path;

use latent_data::image;
use libfuzzer_sys::fuzz_target;

fn write(dir: &Path, sub: &str, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let d = dir.join(sub);
    fs::create_dir_all(&d)?;
    fs::write(d.join(name), bytes)
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let Ok(dir) = tempfile::tempdir() else { return };
    let two = mode & 1 == 1;
    let classes = mode & 2 == 2;
    let files: Vec<&[u8]> = if two && rest.len() >= 2 {
        let at = usize::from(u16::from_le_bytes([rest[0], rest[1]]));
        let body = &rest[2..];
        let at = if body.is_empty() {
            0
        } else {
            at % (body.len() + 1)
        };
        vec![&body[..at], &body[at..]]
    } else {
        vec![rest]
    };
    for (i, bytes) in files.iter().enumerate() {
        let (sub, name) = match (classes, i) {
            (false, 0) => ("", "a.png"),
            (false, _) => ("", "b.png"),
            (true, 0) => ("cats", "1.png"),
            (true, _) => ("dogs", "1.png"),
        };
        if write(dir.path(), sub, name, bytes).is_err() {
            return;
        }
    }
    if let Ok(ds) = image::read_png_folder(dir.path()) {
        assert_eq!(ds.n(), files.len());
        let shape = ds.image_shape().expect("a PNG dataset has an image shape");
        assert_eq!(shape.numel(), Some(ds.dim()));
        assert_eq!(ds.labels().is_some(), classes);
    }
});
