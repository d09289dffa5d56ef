"""Data-parallel training over MPI: measured on this machine, and a cost model for clusters.

    python bench/mpi_scaling.py --latent target/release/latent \
        --allreduce target/release/examples/allreduce [--epochs 2] [--quick]

Needs Open MPI (scripts/setup-mpi.sh) and a release build with the `mpi` feature. Every process
runs one thread (RAYON_NUM_THREADS=1), so 2 ranks use the 2 cores that 1 process would leave
half idle. It measures, one after the other:

1. the reference VAE (784-400-20, Bernoulli) on Fashion-MNIST's 60,000 training rows, one
   process, at batch 128 and 64: the compute time of a step, t(b) = a + c*b, where a is what
   every rank pays whatever its share (Adam's update of all the parameters, the step's fixed
   costs) and c the cost of one example;
2. the same at batch 128 as a job of 2 ranks, over shared memory (Open MPI's vader) and over
   TCP (the ob1 messaging layer with `--mca btl tcp,self`): epoch time, and the time each
   epoch spent in the exchange (`exchange_seconds` in metrics.jsonl);
3. latent's all-reduce alone (crates/latent-mpi/examples/allreduce.rs) for 1 to 4M floats over
   both transports: a least-squares line t(S) = alpha2 + S/bw through the medians gives this
   machine's latency and bandwidth.

Then the cost model (bench/README.md, "Past one machine"): a step of a job of N ranks takes
    a + c * B/N + T_ar(N, S),   T_ar = 2(N-1) * alpha + 2(N-1)/N * S / bw   (ring all-reduce)
with S the gradient bytes. It is checked against the measured 2-rank epochs first, then
projects the epoch time for 4, 16 and 64 nodes on 10 GbE and 100 Gb/s InfiniBand, and the
global batch from which a node's compute outlasts its exchange (B* = N * T_ar / c): above it,
an exchange overlapped with the backward pass would be hidden. Prints one JSON object per line.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

# 784-400-20 VAE with a Bernoulli decoder: encoder 784->400, 400->(20 means + 20 log-variances),
# decoder 20->400, 400->784, weights and biases
PARAMS = 784 * 400 + 400 + 400 * 40 + 40 + 20 * 400 + 400 + 400 * 784 + 784
ROWS = 60000
# networks to project onto: (name, one-way latency in seconds, bandwidth in bytes per second),
# what MPI reaches on them, not the line rate: 10 GbE with TCP about 25 us and 1.1 GB/s;
# 100 Gb/s InfiniBand (EDR) about 1.5 us and 11 GB/s
NETWORKS = [("10 GbE", 25e-6, 1.1e9), ("100 Gb/s InfiniBand", 1.5e-6, 11e9)]
NODES = [4, 16, 64]

TRANSPORTS = {
    "shared memory": ["--mca", "pml", "ob1", "--mca", "btl", "vader,self"],
    "tcp": ["--mca", "pml", "ob1", "--mca", "btl", "tcp,self"],
}


def mpirun(n, transport):
    cmd = ["mpirun", "-np", str(n), "--bind-to", "core", "-x", "RAYON_NUM_THREADS=1"]
    if os.geteuid() == 0:
        cmd.insert(1, "--allow-run-as-root")
    return cmd + TRANSPORTS[transport]


def fit(prefix, latent, out, batch, epochs):
    env = dict(os.environ, RAYON_NUM_THREADS="1")
    cmd = prefix + [latent, "fit", "--model", "vae", "--data", "fashion-mnist", "--hidden", "400",
                    "--latent-dim", "20", "--likelihood", "bernoulli", "--val-fraction", "0",
                    "--batch-size", str(batch), "--epochs", str(epochs), "--out", out]
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
    rows = [json.loads(line) for line in open(os.path.join(out, "metrics.jsonl")) if line.strip()]
    # the fastest epoch: the first pays for warming caches and the allocator
    best = min(rows, key=lambda r: r["seconds"])
    return best["seconds"], best.get("exchange_seconds"), rows[-1]["train_loss"]


def allreduce(binary, transport):
    sizes = ["1", "1000", "10000", "100000", str(PARAMS), "1000000", "4000000"]
    out = subprocess.run(mpirun(2, transport) + [binary] + sizes, check=True,
                         capture_output=True, text=True).stdout
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def line_fit(xs, ys):
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
    return my - slope * mx, slope


def ring(n, nbytes, alpha, bw):
    return 2 * (n - 1) * alpha + 2 * (n - 1) / n * nbytes / bw


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--latent", required=True)
    p.add_argument("--allreduce", required=True)
    p.add_argument("--epochs", type=int, default=2)
    args = p.parse_args()
    nbytes = 4 * PARAMS
    with tempfile.TemporaryDirectory() as tmp:
        one = {b: fit([], args.latent, f"{tmp}/one-{b}", b, args.epochs) for b in (128, 64)}
        steps = {b: -(-ROWS // b) for b in (128, 64)}
        per_step = {b: one[b][0] / steps[b] for b in (128, 64)}
        c = (per_step[128] - per_step[64]) / 64
        a = per_step[128] - 128 * c
        two = {t: fit(mpirun(2, t), args.latent, f"{tmp}/two-{t.replace(' ', '-')}", 128, args.epochs)
               for t in TRANSPORTS}
        links = {}
        for t in TRANSPORTS:
            rows = allreduce(args.allreduce, t)
            big = [r for r in rows if r["floats"] >= 10000]
            intercept, slope = line_fit([r["bytes"] for r in big], [r["median_seconds"] for r in big])
            small = min(r["median_seconds"] for r in rows)
            # 2 ranks: T = 2 alpha + S / bw (2(N-1)/N = 1)
            links[t] = {"alpha": max(small, intercept) / 2, "bw": 1 / slope, "rows": rows}
    print(json.dumps({
        "benchmark": "mpi_scaling",
        "what": "reference VAE, Fashion-MNIST 60k, batch 128, one thread per process, fastest epoch",
        "epochs": args.epochs,
        "one_process_seconds": round(one[128][0], 3),
        **{f"two_ranks_{t.replace(' ', '_')}_seconds": round(two[t][0], 3) for t in TRANSPORTS},
        **{f"speedup_{t.replace(' ', '_')}": round(one[128][0] / two[t][0], 3) for t in TRANSPORTS},
        **{f"exchange_ms_per_step_{t.replace(' ', '_')}": round(1e3 * two[t][1] / steps[128], 3)
           for t in TRANSPORTS},
        "final_train_loss_one_process": round(one[128][2], 4),
        **{f"final_train_loss_two_ranks_{t.replace(' ', '_')}": round(two[t][2], 4) for t in TRANSPORTS},
    }))
    for t, link in links.items():
        print(json.dumps({
            "benchmark": "mpi_allreduce", "transport": t, "ranks": 2,
            "latency_us": round(link["alpha"] * 1e6, 2), "bandwidth_gb_per_s": round(link["bw"] / 1e9, 3),
            "gradient_bytes": nbytes,
            "gradient_allreduce_ms": round(1e3 * next(r["median_seconds"] for r in link["rows"]
                                                      if r["floats"] == PARAMS), 3),
            "median_seconds": {r["floats"]: r["median_seconds"] for r in link["rows"]},
        }))
    # the model against what was measured: 2 ranks, each half the batch, and the exchange
    check = {}
    for t, link in links.items():
        predicted = steps[128] * (a + c * 64 + ring(2, nbytes, link["alpha"], link["bw"]))
        check[t] = {"predicted_seconds": round(predicted, 3), "measured_seconds": round(two[t][0], 3),
                    "relative_error": round((predicted - two[t][0]) / two[t][0], 3)}
    projections = []
    for name, alpha, bw in NETWORKS:
        for n in NODES:
            t_ar = ring(n, nbytes, alpha, bw)
            row = {"network": name, "nodes": n, "allreduce_ms": round(1e3 * t_ar, 3),
                   "hidden_from_global_batch": round(n * t_ar / c)}
            for batch in (128, 1024):
                step = a + c * batch / n + t_ar
                row[f"batch_{batch}"] = {
                    "epoch_seconds": round(-(-ROWS // batch) * step, 3),
                    "speedup_over_one_node": round((a + c * batch) / step, 2),
                    "communication_share": round(t_ar / step, 3),
                }
            projections.append(row)
    print(json.dumps({
        "benchmark": "mpi_cost_model",
        "step_fixed_ms": round(1e3 * a, 3), "step_ms_per_example": round(1e3 * c, 4),
        "gradient_bytes_per_step": nbytes, "parameters": PARAMS,
        "check_two_ranks": check,
        "networks": {name: {"latency_us": alpha * 1e6, "bandwidth_gb_per_s": bw / 1e9}
                     for name, alpha, bw in NETWORKS},
        "projections": projections,
    }))


if __name__ == "__main__":
    sys.exit(main())
