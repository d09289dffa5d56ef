#!/usr/bin/env python3
"""The classic PyTorch example VAE (784-400-20, ReLU, Bernoulli/BCE, Adam 1e-3, batch 128)
on Fashion-MNIST, as the reference latent's VAE is compared with.

Reads the IDX files of Debian's dataset-fashion-mnist (no download). Prints one JSON line per
epoch and a final line with the test loss per example (BCE summed over pixels + KL, one
posterior sample per test image), the same quantity `latent eval` reports as `loss`.

    bench/.venv/bin/python bench/vae_reference.py --epochs 10 --threads 2
"""
import argparse, gzip, json, struct, time
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F


def idx_images(path):
    with (gzip.open if path.endswith(".gz") else open)(path, "rb") as f:
        magic, n, h, w = struct.unpack(">IIII", f.read(16))
        assert magic == 2051, f"{path}: bad magic {magic}"
        return np.frombuffer(f.read(), dtype=np.uint8).reshape(n, h * w).astype(np.float32) / 255.0


class VAE(nn.Module):
    def __init__(self, d=784, h=400, k=20):
        super().__init__()
        self.fc1, self.fc21, self.fc22 = nn.Linear(d, h), nn.Linear(h, k), nn.Linear(h, k)
        self.fc3, self.fc4 = nn.Linear(k, h), nn.Linear(h, d)

    def forward(self, x):
        h = F.relu(self.fc1(x))
        mu, logvar = self.fc21(h), self.fc22(h)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return self.fc4(F.relu(self.fc3(z))), mu, logvar


class ConvVAE(nn.Module):
    """latent's `--arch conv` network: 4×4 stride-2 convolutions 1→32→64 (28→14→7), a dense
    hidden layer of 400, and the mirror image with transposed convolutions."""

    def __init__(self, h=400, k=20):
        super().__init__()
        self.c1, self.c2 = nn.Conv2d(1, 32, 4, 2, 1), nn.Conv2d(32, 64, 4, 2, 1)
        self.fc1, self.fc21, self.fc22 = nn.Linear(64 * 7 * 7, h), nn.Linear(h, k), nn.Linear(h, k)
        self.fc3, self.fc4 = nn.Linear(k, h), nn.Linear(h, 64 * 7 * 7)
        self.d1, self.d2 = nn.ConvTranspose2d(64, 32, 4, 2, 1), nn.ConvTranspose2d(32, 1, 4, 2, 1)

    def forward(self, x):
        b = len(x)
        m = F.relu(self.c2(F.relu(self.c1(x.view(b, 1, 28, 28)))))
        h = F.relu(self.fc1(m.reshape(b, -1)))
        mu, logvar = self.fc21(h), self.fc22(h)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        m = F.relu(self.fc4(F.relu(self.fc3(z)))).view(b, 64, 7, 7)
        return self.d2(F.relu(self.d1(m))).reshape(b, -1), mu, logvar


def loss_terms(logits, x, mu, logvar):
    bce = F.binary_cross_entropy_with_logits(logits, x, reduction="sum")
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return bce, kld


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--arch", choices=["mlp", "conv"], default="mlp")
    p.add_argument("--train", help="an IDX image file to train on instead of the training split")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    train = torch.from_numpy(idx_images(a.train or f"{a.data}/train-images-idx3-ubyte.gz"))
    test = torch.from_numpy(idx_images(f"{a.data}/t10k-images-idx3-ubyte.gz"))
    model = VAE() if a.arch == "mlp" else ConvVAE()
    opt = torch.optim.Adam(model.parameters(), lr=a.lr, eps=1e-8)
    for epoch in range(1, a.epochs + 1):
        t0 = time.perf_counter()
        model.train()
        perm = torch.randperm(len(train))
        total = 0.0
        for i in range(0, len(train), a.batch_size):
            x = train[perm[i : i + a.batch_size]]
            logits, mu, logvar = model(x)
            bce, kld = loss_terms(logits, x, mu, logvar)
            loss = (bce + kld) / len(x)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(x)
        secs = time.perf_counter() - t0
        model.eval()
        with torch.no_grad():
            tb = tk = 0.0
            for i in range(0, len(test), 1024):
                x = test[i : i + 1024]
                logits, mu, logvar = model(x)
                bce, kld = loss_terms(logits, x, mu, logvar)
                tb, tk = tb + bce.item(), tk + kld.item()
        n = len(test)
        print(json.dumps({"epoch": epoch, "train_loss": total / len(train), "test_loss": (tb + tk) / n,
                          "test_recon": tb / n, "test_kl": tk / n, "seconds": secs}), flush=True)
    # encode throughput: the posterior mean of every training row, batches of 1024
    with torch.no_grad():
        t0 = time.perf_counter()
        for i in range(0, len(train), 1024):
            x = train[i : i + 1024]
            if a.arch == "conv":
                b = len(x)
                x = F.relu(model.c2(F.relu(model.c1(x.view(b, 1, 28, 28))))).reshape(b, -1)
            model.fc21(F.relu(model.fc1(x)))
        encode_seconds = time.perf_counter() - t0
    print(json.dumps({"framework": f"pytorch {torch.__version__}", "threads": a.threads,
                      "epochs": a.epochs, "final_test_loss": (tb + tk) / n,
                      "encode_rows": len(train), "encode_seconds": encode_seconds}))


if __name__ == "__main__":
    main()
