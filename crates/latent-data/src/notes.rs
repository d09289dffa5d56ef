//! Notes for the user: what latent decided on its own while reading or preprocessing data
//! (a column taken as labels because of its name, features whose ranges differ widely while
//! scaling is off).
//!
//! A library does not print. The front end installs a sink with [`set_sink`] (the `latent`
//! binary writes `note: …` lines to standard error, each distinct note once); without one,
//! notes are dropped.

use std::sync::RwLock;

static SINK: RwLock<Option<fn(&str)>> = RwLock::new(None);

/// Send every later note to `sink` (replacing any sink set before).
pub fn set_sink(sink: fn(&str)) {
    if let Ok(mut s) = SINK.write() {
        *s = Some(sink);
    }
}

/// Pass a note to the sink, if one is set.
pub fn emit(message: &str) {
    let sink = SINK.read().ok().and_then(|s| *s);
    if let Some(sink) = sink {
        sink(message);
    }
}
