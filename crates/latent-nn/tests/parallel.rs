//! Data-parallel training (`latent_nn::train_sharded`): ranks holding parts of the rows train
//! the network one process trains on all of them — the same batches, noise and updates — to
//! float-summation rounding, and every rank ends with the same bits. The ranks here are
//! threads exchanging through `latent_core::LocalGroup` (the MPI transport is tested by
//! `latent-cli`'s `mpi` suite under `mpirun`).

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use common::digits;
use latent_core::{Collective, LocalGroup, Single};
use latent_nn::params::{HostTensors, named_params};
use latent_nn::{
    Arch, Engine, EpochMetrics, ModelKind, NetConfig, RowMap, Shards, Silent, TrainConfig,
    cpu_device, train_sharded, train_with,
};
use ndarray::{Array2, ArrayView2, Axis};

fn base() -> NetConfig {
    NetConfig {
        input_dim: 64,
        latent_dim: 5,
        hidden: vec![48],
        ..NetConfig::reference_vae()
    }
}

/// A conv network on the 8 × 8 digits.
fn conv() -> NetConfig {
    NetConfig {
        arch: Arch::Conv,
        image: Some([8, 8, 1]),
        conv_channels: vec![4, 8],
        hidden: vec![16],
        ..base()
    }
}

/// Which global rows rank `rank` of `size` holds.
#[derive(Clone, Copy)]
enum Layout {
    /// Contiguous shares (as files are read).
    Contiguous,
    /// Every `size`-th row (a layout no batch splits evenly).
    Interleaved,
}

fn rows_of(n: usize, size: usize, rank: usize, layout: Layout) -> Vec<usize> {
    match layout {
        Layout::Contiguous => latent_core::collective::share(n, size, rank).collect(),
        Layout::Interleaved => (rank..n).step_by(size).collect(),
    }
}

fn select(x: ArrayView2<'_, f32>, rows: &[usize]) -> Array2<f32> {
    x.select(Axis(0), rows)
}

type Run = (HostTensors, Vec<EpochMetrics>);

/// Trains on `size` thread ranks; every rank's parameters and history.
fn ranks(
    engine: Engine,
    net: &NetConfig,
    cfg: &TrainConfig,
    (train, val): (ArrayView2<'_, f32>, Option<ArrayView2<'_, f32>>),
    size: usize,
    layout: Layout,
) -> Vec<Run> {
    let handles = LocalGroup::new(size);
    std::thread::scope(|scope| {
        let jobs: Vec<_> = handles
            .into_iter()
            .map(|g| {
                scope.spawn(move || {
                    let mine = rows_of(train.nrows(), size, g.rank(), layout);
                    let x = select(train, &mine);
                    let val_rows = val.map(|v| rows_of(v.nrows(), size, g.rank(), layout));
                    let vx = val.zip(val_rows.as_ref()).map(|(v, r)| select(v, r));
                    let shards = Shards {
                        comm: &g,
                        train: RowMap::from_global(train.nrows(), &mine).unwrap(),
                        val: val
                            .zip(val_rows.as_ref())
                            .map(|(v, r)| RowMap::from_global(v.nrows(), r).unwrap()),
                    };
                    let t = train_sharded(
                        engine,
                        net,
                        cfg,
                        (x.view(), vx.as_ref().map(|v| v.view())),
                        &shards,
                        &cpu_device(),
                        None,
                        &mut Silent,
                    )
                    .unwrap();
                    (named_params(&t.net).unwrap(), t.history)
                })
            })
            .collect();
        jobs.into_iter().map(|j| j.join().unwrap()).collect()
    })
}

fn one(
    engine: Engine,
    net: &NetConfig,
    cfg: &TrainConfig,
    (train, val): (ArrayView2<'_, f32>, Option<ArrayView2<'_, f32>>),
) -> Run {
    let t = train_with(
        engine,
        net,
        cfg,
        train,
        val,
        &cpu_device(),
        None,
        &mut Silent,
    )
    .unwrap();
    (named_params(&t.net).unwrap(), t.history)
}

/// The largest difference between two networks' parameters, relative to the largest value.
fn max_rel_diff(a: &HostTensors, b: &HostTensors) -> f32 {
    let mut worst = 0.0f32;
    for (name, x) in a {
        let y = &b[name];
        let scale = x.iter().fold(1e-3f32, |m, v| m.max(v.abs()));
        for (p, q) in x.iter().zip(y.iter()) {
            worst = worst.max((p - q).abs() / scale);
        }
    }
    worst
}

fn bits(p: &HostTensors) -> Vec<u32> {
    p.values()
        .flat_map(|a| a.iter().map(|v| v.to_bits()))
        .collect()
}

/// Every rank holds the same bits, and the network one process trains, to `tol`.
fn check(label: &str, runs: &[Run], single: &Run, tol: f32) {
    for r in &runs[1..] {
        assert_eq!(bits(&r.0), bits(&runs[0].0), "{label}: ranks differ");
        assert_eq!(r.1.len(), runs[0].1.len());
    }
    let d = max_rel_diff(&runs[0].0, &single.0);
    println!("{label}: largest parameter difference from one process {d:.2e} (relative)");
    assert!(d < tol, "{label}: {d} from one process");
    for (a, b) in runs[0].1.iter().zip(&single.1) {
        let rel = |x: f64, y: f64| (x - y).abs() / y.abs().max(1e-9);
        assert!(
            rel(a.train_loss, b.train_loss) < 1e-4,
            "{label}: {a:?} vs {b:?}"
        );
        if let (Some(x), Some(y)) = (a.val_loss, b.val_loss) {
            assert!(rel(x, y) < 1e-4, "{label}: {a:?} vs {b:?}");
        }
    }
}

#[test]
fn two_and_three_ranks_train_what_one_process_trains() {
    let x = digits();
    let (train, val) = (
        x.slice(ndarray::s![..1400, ..]),
        x.slice(ndarray::s![1400.., ..]),
    );
    let cfg = TrainConfig {
        epochs: 3,
        batch_size: 64,
        seed: 9,
        val_fraction: 0.2,
        dynamic_binarize: true,
        ..TrainConfig::default()
    };
    for net in [base(), conv()] {
        let single = one(Engine::Auto, &net, &cfg, (train, Some(val)));
        for (size, layout) in [(2, Layout::Contiguous), (3, Layout::Interleaved)] {
            let runs = ranks(Engine::Auto, &net, &cfg, (train, Some(val)), size, layout);
            let label = format!("VAE {:?}, fused, {size} ranks", net.arch);
            check(&label, &runs, &single, 1e-5);
        }
    }
}

#[test]
fn one_rank_with_a_shard_map_is_one_process_bit_for_bit() {
    let x = digits();
    let train = x.slice(ndarray::s![..600, ..]);
    let cfg = TrainConfig {
        epochs: 2,
        batch_size: 50,
        seed: 3,
        dynamic_binarize: true,
        ..TrainConfig::default()
    };
    let net = base();
    let single = one(Engine::Auto, &net, &cfg, (train, None));
    // a map naming every row (not `RowMap::all`): the sharded gathering, on one rank
    let all: Vec<usize> = (0..600).collect();
    let shards = Shards {
        comm: &Single,
        train: RowMap::from_global(600, &all).unwrap(),
        val: None,
    };
    let t = train_sharded(
        Engine::Auto,
        &net,
        &cfg,
        (train, None),
        &shards,
        &cpu_device(),
        None,
        &mut Silent,
    )
    .unwrap();
    assert_eq!(bits(&named_params(&t.net).unwrap()), bits(&single.0));
}

/// A batch of 2 rows over 3 ranks: most batches leave a rank without rows, whose share of
/// the gradient is zero.
#[test]
fn ranks_without_rows_in_a_batch_contribute_nothing() {
    let x = digits();
    let train = x.slice(ndarray::s![..90, ..]);
    let cfg = TrainConfig {
        epochs: 2,
        batch_size: 2,
        seed: 5,
        ..TrainConfig::default()
    };
    let net = NetConfig {
        kind: ModelKind::Ae,
        ..base()
    };
    let single = one(Engine::Auto, &net, &cfg, (train, None));
    let runs = ranks(
        Engine::Auto,
        &net,
        &cfg,
        (train, None),
        3,
        Layout::Contiguous,
    );
    check("AE, batch 2, 3 ranks", &runs, &single, 1e-5);
}

/// burn's engine (a GPU's, and the full posterior's) exchanges its gradients through the
/// same seam.
#[test]
fn burns_engine_trains_data_parallel_too() {
    let x = digits();
    let train = x.slice(ndarray::s![..512, ..]);
    let cfg = TrainConfig {
        epochs: 1,
        batch_size: 64,
        seed: 2,
        ..TrainConfig::default()
    };
    for net in [base(), conv()] {
        let single = one(Engine::Burn, &net, &cfg, (train, None));
        let runs = ranks(
            Engine::Burn,
            &net,
            &cfg,
            (train, None),
            2,
            Layout::Contiguous,
        );
        check(&format!("burn {:?}", net.arch), &runs, &single, 1e-5);
    }
}
