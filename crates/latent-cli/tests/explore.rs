//! `latent explore` from the command line: what it refuses (naming why) before it serves, and
//! `--export` (one self-contained page, written like every output: atomically, replaced only
//! with `--force`). The page itself, the server and the browser: `crates/latent-serve/tests`
//! and `python/tests/test_explore.py`.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use common::Dir;

/// A directory holding `pca`: a 3-D PCA of the embedded digits.
fn with_pca() -> Dir {
    let d = Dir::new();
    d.ok(&[
        "fit",
        "--model",
        "pca",
        "--data",
        "digits",
        "--latent-dim",
        "3",
        "--out",
        "pca",
    ]);
    d
}

#[test]
fn explore_refuses_what_it_cannot_show() {
    let d = with_pca();
    let wine = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/wine.csv");
    d.ok(&[
        "fit",
        "--model",
        "pca",
        "--data",
        wine,
        "--latent-dim",
        "2",
        "--out",
        "wine",
    ]);
    let e = d.fails(
        &[
            "explore", "--run", "pca", "--run", "pca", "--run", "pca", "--data", "digits",
        ],
        1,
    );
    assert!(e.contains("one run or two"), "{e}");
    let e = d.fails(
        &[
            "explore", "--run", "pca", "--data", "digits", "--dims", "0,7",
        ],
        1,
    );
    assert!(e.contains("z7") && e.contains("3"), "{e}");
    let e = d.fails(
        &["explore", "--run", "pca", "--data", "digits", "--dims", "0"],
        1,
    );
    assert!(e.contains("X,Y"), "{e}");
    let e = d.fails(
        &[
            "explore", "--run", "pca", "--data", "digits", "--points", "0",
        ],
        1,
    );
    assert!(e.contains("--points"), "{e}");
    let e = d.fails(&["explore", "--run", "nothing", "--data", "digits"], 1);
    assert!(e.contains("nothing"), "{e}");
    // two runs fitted on data of other widths
    let e = d.fails(
        &[
            "explore", "--run", "pca", "--run", "wine", "--data", "digits",
        ],
        1,
    );
    assert!(e.contains("64") && e.contains("13"), "{e}");
}

#[test]
fn export_writes_one_page_and_replaces_it_only_with_force() {
    let d = with_pca();
    let e = d.fails(
        &[
            "explore", "--run", "pca", "--data", "digits", "--export", "page.txt",
        ],
        1,
    );
    assert!(e.contains(".html"), "{e}");
    assert!(!d.path("page.txt").exists());
    let out = d.ok(&[
        "explore",
        "--run",
        "pca",
        "--data",
        "digits",
        "--points",
        "500",
        "--export",
        "page.html",
    ]);
    assert!(out.contains("500 rows"), "{out}");
    let page = std::fs::read_to_string(d.path("page.html")).unwrap();
    assert!(page.contains("window.latentBundle = {"));
    assert!(page.contains("window.latentBackend"));
    assert!(!page.contains("LATENT_TOKEN") && !page.contains("/*LATENT_JS*/"));
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "nothing from the network"
    );
    let e = d.fails(
        &[
            "explore",
            "--run",
            "pca",
            "--data",
            "digits",
            "--export",
            "page.html",
        ],
        1,
    );
    assert!(e.contains("page.html"), "{e}");
    d.ok(&[
        "explore",
        "--run",
        "pca",
        "--data",
        "digits",
        "--points",
        "100",
        "--export",
        "page.html",
        "--force",
    ]);
    let smaller = std::fs::read_to_string(d.path("page.html")).unwrap();
    assert!(smaller.len() < page.len());
    // a file latent did not write is not replaced, even with --force
    std::fs::write(d.path("mine.html"), "mine").unwrap();
    d.fails(
        &[
            "explore",
            "--run",
            "pca",
            "--data",
            "digits",
            "--export",
            "mine.html",
            "--force",
        ],
        1,
    );
    assert_eq!(
        std::fs::read_to_string(d.path("mine.html")).unwrap(),
        "mine"
    );
}
