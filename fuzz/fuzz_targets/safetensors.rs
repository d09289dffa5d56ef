//! `latent_core::tensors::Tensors::from_bytes` on arbitrary bytes; what parses must survive
//! a round trip through `to_bytes`.
#![no_main]

use std::collections::BTreeMap;
use std::path::Path;

use latent_core::tensors::Tensors;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz.safetensors");
    let Ok(t) = Tensors::from_bytes(path, data) else {
        return;
    };
    for (name, a) in t.iter() {
        assert!(a.iter().all(|v| v.is_finite()));
        let _ = t.vector(path, name);
        let _ = t.matrix(path, name);
    }
    let bytes = t
        .to_bytes(BTreeMap::new())
        .expect("parsed tensors serialize");
    let back = Tensors::from_bytes(path, &bytes).expect("serialized tensors parse");
    assert_eq!(t, back);
});
