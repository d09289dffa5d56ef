//! The parsers never panic, whatever the bytes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use latent_data::csv::{CsvOptions, Header, LabelColumn};
use latent_data::{csv, idx, labels, npy};
use proptest::prelude::*;

fn npy_with_header(descr: &str, fortran: bool, shape: &[u64], tail: &[u8]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let h = format!(
        "{{'descr': '{descr}', 'fortran_order': {}, 'shape': ({},), }}\n",
        if fortran { "True" } else { "False" },
        dims.join(", ")
    );
    let mut v = b"\x93NUMPY\x01\x00".to_vec();
    v.extend_from_slice(&(h.len() as u16).to_le_bytes());
    v.extend_from_slice(h.as_bytes());
    v.extend_from_slice(tail);
    v
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let name = Path::new("fuzz");
        let _ = npy::parse(name, &bytes);
        let _ = idx::parse_images(name, &bytes);
        let _ = idx::parse_labels(name, &bytes);
        let _ = idx::load_bytes("fuzz", &bytes, Some(&bytes));
        let text = String::from_utf8_lossy(&bytes);
        let _ = csv::parse(name, &text, &CsvOptions::default());
        let _ = labels::parse(Path::new("fuzz.npy"), &bytes);
        let _ = labels::parse(Path::new("fuzz.csv"), &bytes);
    }

    #[test]
    fn near_valid_npy(
        descr in prop::sample::select(vec![
            "<f4", "<f8", "|u1", "<i4", "<i8", "|i1", "<u2", "<u8", ">f4", "",
        ]),
        fortran in any::<bool>(),
        shape in proptest::collection::vec(prop_oneof![0u64..5, Just(u64::MAX), Just(1 << 40)], 0..6),
        tail in proptest::collection::vec(any::<u8>(), 0..256),
    ) {
        let bytes = npy_with_header(descr, fortran, &shape, &tail);
        let _ = npy::parse(Path::new("fuzz.npy"), &bytes);
        let _ = npy::parse_labels(Path::new("fuzz.npy"), &bytes);
        // and every truncation of it
        for cut in [1, 7, 9, 11, bytes.len() / 2] {
            let _ = npy::parse(Path::new("fuzz.npy"), &bytes[..cut.min(bytes.len())]);
            let _ = npy::parse_labels(Path::new("fuzz.npy"), &bytes[..cut.min(bytes.len())]);
        }
    }

    #[test]
    fn near_valid_idx(
        magic in prop::sample::select(vec![2049u32, 2051, 2050, 0x1f8b_0800]),
        dims in proptest::collection::vec(prop_oneof![0u32..6, Just(u32::MAX)], 0..4),
        tail in proptest::collection::vec(any::<u8>(), 0..256),
    ) {
        let mut bytes = magic.to_be_bytes().to_vec();
        for d in dims {
            bytes.extend_from_slice(&d.to_be_bytes());
        }
        bytes.extend(tail);
        let _ = idx::parse_images(Path::new("fuzz"), &bytes);
        let _ = idx::parse_labels(Path::new("fuzz"), &bytes);
        let _ = idx::load_bytes("fuzz", &bytes, None);
    }

    #[test]
    fn near_valid_csv(
        text in "([0-9a.eE+-]{0,4}[,\t ]?){0,12}(\n([0-9a.eE+-]{0,4}[,\t ]?){0,12}){0,6}",
        header in prop::sample::select(vec![Header::Auto, Header::Present, Header::Absent]),
        label in prop::sample::select(vec![
            None,
            Some(LabelColumn::Last),
            Some(LabelColumn::Index(0)),
            Some(LabelColumn::Index(3)),
            Some(LabelColumn::Name("a".into())),
            Some(LabelColumn::ByName),
        ]),
    ) {
        let _ = csv::parse(Path::new("fuzz.csv"), &text, &CsvOptions { header, label });
        let _ = labels::parse(Path::new("fuzz.csv"), text.as_bytes());
    }
}
