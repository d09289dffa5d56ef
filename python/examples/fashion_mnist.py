"""Fit PCA and a VAE to Fashion-MNIST-10k (embedded in latent) and save a figure of samples.

    python/.venv/bin/python python/examples/fashion_mnist.py [OUT.png] [--epochs N]

Draws 16 samples of each model (PCA: a Gaussian fitted to its training codes; the VAE: its
prior) with matplotlib when it is installed (`pip install matplotlib`); without it, saves the
samples as OUT.npy. Also saves the VAE's run directory (usable with `latent sample --run`).
"""

from __future__ import annotations

import argparse
import pathlib
import time

import numpy as np

import latent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", nargs="?", default="fashion-samples.png")
    ap.add_argument("--epochs", type=int, default=10)
    args = ap.parse_args()
    out = pathlib.Path(args.out)

    data = latent.datasets.load("fashion-mnist-10k")
    X = data.X.astype(np.uint8)  # 8-bit pixels: scaled to [0, 1] by the `auto` scaling
    print(f"Fashion-MNIST-10k: {X.shape[0]} images of {data.image_shape}")

    t = time.perf_counter()
    pca = latent.PCA(n_components=20).fit(X / 255.0)
    print(
        f"PCA: 20 components explain {pca.explained_variance_ratio_.sum():.1%} of the "
        f"variance ({time.perf_counter() - t:.2f} s)"
    )

    t = time.perf_counter()
    vae = latent.VAE(latent_dim=20, epochs=args.epochs, verbose=True).fit(X)
    print(f"VAE: mean ELBO {vae.score(X):.1f} nats per image ({time.perf_counter() - t:.1f} s)")
    run = out.with_suffix("")
    vae.save(run.with_name(run.name + "-vae-run"), force=True)

    samples = {
        "PCA (Gaussian of its codes)": pca.sample(16, seed=0) * 255.0,
        "VAE (prior)": vae.sample(16, seed=0),
    }
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        np.save(out.with_suffix(".npy"), np.stack(list(samples.values())))
        print(f"matplotlib is not installed: wrote the samples to {out.with_suffix('.npy')}")
        return
    h, w, _ = data.image_shape
    fig, axes = plt.subplots(2, 16, figsize=(16, 2.4))
    for row, (title, s) in zip(axes, samples.items()):
        for ax, img in zip(row, s):
            ax.imshow(np.clip(img, 0, 255).reshape(h, w), cmap="gray_r", vmin=0, vmax=255)
            ax.axis("off")
        row[0].set_title(title, loc="left", fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
