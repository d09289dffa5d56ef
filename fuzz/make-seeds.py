#!/usr/bin/env python3
"""Regenerate the seed corpora in fuzz/corpus/ (small valid files of every supported kind,
plus the malformed examples of crates/latent-data/tests/corpus/). Run from anywhere:
    python3 fuzz/make-seeds.py
The run_config and *safetensors seeds come from a real `latent fit` run (see README.md) and
are not regenerated here."""
import gzip, struct, zlib
from pathlib import Path

FUZZ = Path(__file__).resolve().parent
DATA = FUZZ.parent / "crates" / "latent-data"
BAD = DATA / "tests" / "corpus"
C = FUZZ / "corpus"


def put(target, name, data):
    d = C / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)


def gz(b):
    return gzip.compress(b, mtime=0)


# ---- IDX
def idx_images(n, h, w):
    return struct.pack(">IIII", 0x803, n, h, w) + bytes((i * 37) % 256 for i in range(n * h * w))


def idx_labels(n):
    return struct.pack(">II", 0x801, n) + bytes(i % 10 for i in range(n))


put("idx_images", "valid-2x3x3", idx_images(2, 3, 3))
put("idx_images", "valid-1x1x1", idx_images(1, 1, 1))
put("idx_images", "valid-2x3x3.gz", gz(idx_images(2, 3, 3)))
put("idx_labels", "valid-5", idx_labels(5))
put("idx_labels", "valid-5.gz", gz(idx_labels(5)))
for f in sorted(BAD.iterdir()):
    if f.is_file() and "idx" in f.name:
        put("idx_labels" if "labels" in f.name else "idx_images", f.name, f.read_bytes())


# ---- NPY
def npy(descr, shape, payload, version=1):
    dims = ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "")
    h = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': ({dims}), }}"
    pre = 10 if version == 1 else 12
    h += " " * ((64 - (pre + len(h) + 1) % 64) % 64) + "\n"
    if version == 1:
        return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h.encode() + payload
    return b"\x93NUMPY" + bytes([version, 0]) + struct.pack("<I", len(h)) + h.encode() + payload


put("npy", "f4-2x3.npy", npy("<f4", (2, 3), struct.pack("<6f", 0, 1.5, -2, 3, 4.25, 5)))
put("npy", "f8-3x2.npy", npy("<f8", (3, 2), struct.pack("<6d", 0, 1, 2, 3, 4, 5)))
put("npy", "u1-2x2x2.npy", npy("|u1", (2, 2, 2), bytes(range(8))))
put("npy", "u1-1x2x2x3.npy", npy("|u1", (1, 2, 2, 3), bytes(range(12))))
put("npy", "f4-v2-1x1.npy", npy("<f4", (1, 1), struct.pack("<f", 7), version=2))
put("npy", "f4-v3-1x2.npy", npy("<f4", (1, 2), struct.pack("<2f", 7, 8), version=3))
for f in sorted(BAD.glob("*.npy")):
    put("npy", f.name, f.read_bytes())

# ---- CSV: first byte = options (see fuzz_targets/csv.rs)
tiny = b"a,b,c,label\n0.5,1,2,0\n1e-3,-4,5,1\n# comment\n\n\"6\",7,8,1\n"
put("csv", "auto-nolabel.csv", b"\x00" + tiny)
put("csv", "auto-last.csv", b"\x04" + tiny)
put("csv", "present-index1.csv", b"\x19" + tiny)
put("csv", "auto-name.csv", b"\x0c" + tiny.replace(b"label", b"label"))
put("csv", "absent-tabs.csv", b"\x02" + b"1\t2\t3\n4\t5\t6\n")
put("csv", "absent-spaces.csv", b"\x02" + b"\xef\xbb\xbf1 2 3\n 4  5 6\n")
digits = gzip.decompress((DATA / "data" / "digits" / "digits.csv.gz").read_bytes())
put("csv", "digits-head.csv", b"\x04" + b"\n".join(digits.split(b"\n")[:4]) + b"\n")
for f in sorted(BAD.glob("*.csv")):
    put("csv", f.name, b"\x00" + f.read_bytes())


# ---- PNG: first byte = mode, bit 0 two files (then 2 bytes of split point), bit 1 classes
def chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))


def png(w, h, depth, ctype, rows, extra=b"", interlace=0):
    raw = b"".join(b"\x00" + r for r in rows)
    ihdr = struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, interlace)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


pngs = {
    "gray8": png(3, 2, 8, 0, [bytes([0, 128, 255]), bytes([1, 2, 3])]),
    "gray16": png(2, 2, 16, 0, [bytes(4), bytes([255, 255, 0, 1])]),
    "gray1": png(8, 2, 1, 0, [b"\xa5", b"\x5a"]),
    "graya": png(2, 2, 8, 4, [bytes([1, 255, 2, 0]), bytes([3, 9, 4, 9])]),
    "rgb": png(2, 2, 8, 2, [bytes(range(6)), bytes(range(6, 12))]),
    "rgba": png(2, 1, 8, 6, [bytes(range(8))]),
    "palette": png(2, 2, 8, 3, [b"\x00\x01", b"\x01\x00"],
                   extra=chunk(b"PLTE", bytes([255, 0, 0, 0, 0, 255])) + chunk(b"tRNS", b"\x80")),
}
for k, v in pngs.items():
    put("png", k, b"\x00" + v)
two = pngs["gray8"] + pngs["gray8"]
put("png", "two-gray8", b"\x01" + struct.pack("<H", len(pngs["gray8"])) + two)
put("png", "two-classes", b"\x03" + struct.pack("<H", len(pngs["gray8"])) + two)
mixed = pngs["gray8"] + pngs["rgb"]
put("png", "two-mixed", b"\x01" + struct.pack("<H", len(pngs["gray8"])) + mixed)
for d in sorted(BAD.glob("png-*")):
    for f in sorted(d.rglob("*.png")):
        put("png", f"{d.name}-{f.name}", b"\x00" + f.read_bytes())

# ---- safetensors: the fixtures (weights of latent fit runs)
for f in sorted((FUZZ / "fixtures").glob("*.safetensors")):
    put("safetensors", f.name, f.read_bytes())
put("nn_safetensors", "vae.safetensors", (FUZZ / "fixtures" / "vae.safetensors").read_bytes())
print("seeds written to", C)
