#!/usr/bin/env python3
"""scikit-learn's PCA family on an IDX image file, the reference latent's PCA is compared with.

Prints one JSON line: the fit time (data already in memory, or streamed for the incremental
solver), the sum of the explained variance ratios of the k components.

    bench/.venv/bin/python bench/pca_reference.py --data train.idx --solver covariance_eigh --k 50
    bench/.venv/bin/python bench/pca_reference.py --data train.idx --solver incremental --k 50
    bench/.venv/bin/python bench/pca_reference.py --data train.idx --solver covariance_eigh \
        --library latent      # latent's Python package on the same array, the same way

With `--library latent`, the estimator timed is `latent.PCA` (the Python package, installed in
bench/.venv by bench/run) on the same float32 array: `solver="exact"` for covariance_eigh,
`"randomized"` with the same oversamples and power iterations, `scale="none"` (the array is
already scaled as scikit-learn gets it).

Data is scaled to [0, 1] as latent's `--scale auto` does for 8-bit images. The incremental
solver reads the raw (uncompressed) IDX file through a memory map in batches, so its memory is
what IncrementalPCA itself needs, as latent's streamed incremental PCA.
"""
import argparse, gzip, json, struct, time
import numpy as np


def idx_header(raw):
    magic, n, h, w = struct.unpack(">IIII", raw[:16])
    assert magic == 2051, f"bad magic {magic}"
    return n, h * w


def load(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    n, d = idx_header(raw)
    return np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(n, d).astype(np.float32) / 255.0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--solver", required=True,
                   choices=["covariance_eigh", "full", "randomized", "incremental"])
    p.add_argument("--k", type=int, default=50)
    p.add_argument("--batch-size", type=int, default=1000)
    p.add_argument("--oversamples", type=int, default=10)
    p.add_argument("--power-iters", type=int, default=7)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--library", choices=["sklearn", "latent"], default="sklearn")
    a = p.parse_args()
    if a.library == "latent":
        return main_latent(a)
    from threadpoolctl import threadpool_limits
    from sklearn.decomposition import PCA, IncrementalPCA
    with threadpool_limits(limits=a.threads):
        if a.solver == "incremental":
            with open(a.data, "rb") as f:
                n, d = idx_header(f.read(16))
            mm = np.memmap(a.data, dtype=np.uint8, mode="r", offset=16, shape=(n, d))
            t0 = time.perf_counter()
            model = IncrementalPCA(n_components=a.k, batch_size=a.batch_size)
            for i in range(0, n, a.batch_size):
                batch = mm[i:i + a.batch_size]
                if len(batch) < a.k:  # partial_fit needs at least k rows
                    break
                model.partial_fit(np.asarray(batch, dtype=np.float32) / 255.0)
            secs = time.perf_counter() - t0
        else:
            x = load(a.data)
            n = len(x)
            kw = {}
            if a.solver == "randomized":
                kw = dict(n_oversamples=a.oversamples, iterated_power=a.power_iters, random_state=0)
            t0 = time.perf_counter()
            model = PCA(n_components=a.k, svd_solver=a.solver, **kw).fit(x)
            secs = time.perf_counter() - t0
    import os, sklearn
    from threadpoolctl import threadpool_info
    # the BLAS the fit ran on: OpenBLAS's kernel ("architecture") shows whether it used the
    # CPU's native kernel (bench/run unsets OPENBLAS_CORETYPE for the references)
    blas = [{k: i.get(k) for k in ("internal_api", "architecture", "version")}
            for i in threadpool_info() if i.get("user_api") == "blas"]
    print(json.dumps({"framework": f"scikit-learn {sklearn.__version__}", "solver": a.solver,
                      "blas": blas, "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE"),
                      "rows": int(n), "k": a.k, "seconds": secs,
                      "explained_variance_ratio_sum": float(model.explained_variance_ratio_.sum())}))


def main_latent(a):
    import latent
    if a.solver not in ("covariance_eigh", "randomized"):
        raise SystemExit(f"--library latent: no counterpart of --solver {a.solver} measured here")
    x = load(a.data)
    kw = dict(solver="exact")
    if a.solver == "randomized":
        kw = dict(solver="randomized", oversamples=a.oversamples, power_iters=a.power_iters)
    t0 = time.perf_counter()
    model = latent.PCA(n_components=a.k, scale="none", **kw).fit(x)
    secs = time.perf_counter() - t0
    print(json.dumps({"framework": f"latent {latent.__version__} (Python)", "solver": kw["solver"],
                      "rows": int(len(x)), "k": a.k, "seconds": secs,
                      "explained_variance_ratio_sum": float(model.explained_variance_ratio_.sum())}))


if __name__ == "__main__":
    main()
