//! The run-directory format: `config.json` is sealed with the checksum of its content
//! (format version 2); version 1 runs, written before the seal, still read.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use latent::fit::{FitSpec, LatentDim, Quiet};
use latent::{DataSource, Family};

fn rewrite(
    path: &std::path::Path,
    edit: impl FnOnce(&mut serde_json::Map<String, serde_json::Value>),
) {
    let mut value: serde_json::Value =
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    edit(value.as_object_mut().unwrap());
    std::fs::write(path, serde_json::to_vec_pretty(&value).unwrap()).unwrap();
}

#[test]
fn sealed_configs_are_checked_and_version_1_runs_still_read() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let spec = FitSpec::new(Family::Pca, DataSource::new("digits"), LatentDim::Count(3));
    latent::fit::fit(&spec, &out, false, vec!["test".into()], &mut Quiet).unwrap();
    let config = out.join(latent::run::CONFIG_FILE);
    let sealed = std::fs::read(&config).unwrap();
    let (c, _) = latent::run::load(&out).unwrap();
    assert_eq!(c.format_version, 2);

    // the checksum removed: refused (every version 2 file carries one)
    rewrite(&config, |o| {
        o.remove("checksum");
    });
    let err = latent::run::load(&out).unwrap_err().to_string();
    assert!(err.contains("carries no `checksum`"), "{err}");

    // a version 1 run (written before the seal) reads as it is
    rewrite(&config, |o| {
        o.insert("format_version".into(), 1.into());
    });
    let (old, _) = latent::run::load(&out).unwrap();
    assert_eq!(old.format_version, 1);

    // an edited version is caught by the seal; without one, version 0 never existed and a
    // later version is not readable by this build
    std::fs::write(&config, &sealed).unwrap();
    rewrite(&config, |o| {
        o.insert("format_version".into(), 0.into());
    });
    let err = latent::run::load(&out).unwrap_err().to_string();
    assert!(err.contains("checksum mismatch"), "{err}");
    // a later version is "not readable", not "corrupt", sealed or not
    rewrite(&config, |o| {
        o.insert("format_version".into(), 3.into());
    });
    let err = latent::run::load(&out).unwrap_err().to_string();
    assert!(err.contains("not readable by this latent"), "{err}");
    for (version, says) in [(0, "does not exist"), (3, "not readable")] {
        std::fs::write(&config, &sealed).unwrap();
        rewrite(&config, |o| {
            o.remove("checksum");
            o.insert("format_version".into(), version.into());
        });
        let err = latent::run::load(&out).unwrap_err().to_string();
        assert!(err.contains(says), "{version}: {err}");
    }

    // the sealed file reads again once restored
    std::fs::write(&config, &sealed).unwrap();
    latent::run::load(&out).unwrap();
}
