//! `latent_data::csv::parse`: the first byte picks the options (header mode, label column),
//! the rest must be UTF-8 text.
#![no_main]

use std::path::Path;

use latent_data::csv::{self, CsvOptions, Header, LabelColumn};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&opt, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let header = match opt % 3 {
        0 => Header::Auto,
        1 => Header::Present,
        _ => Header::Absent,
    };
    let label = match (opt >> 2) & 3 {
        0 => None,
        1 => Some(LabelColumn::Last),
        2 => Some(LabelColumn::Index(usize::from(opt >> 4))),
        _ => Some(LabelColumn::Name(
            if opt & 0x80 == 0 { "label" } else { "" }.into(),
        )),
    };
    let opts = CsvOptions { header, label };
    if let Ok(ds) = csv::parse(Path::new("fuzz.csv"), text, &opts) {
        assert!(ds.n() > 0);
        assert!(ds.x().iter().all(|v| v.is_finite()));
        if opts.label.is_some() {
            assert_eq!(ds.labels().map(<[u32]>::len), Some(ds.n()));
        }
    }
});
