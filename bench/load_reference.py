"""The reference for bench/run's data_load line: a gzip IDX image file into float32 rows with
the standard library's gzip (zlib) and NumPy, as a Python user loads Fashion-MNIST:

    python bench/load_reference.py IMAGES [REPEATS]

prints one JSON object with every repeat's seconds and the shape."""
import gzip
import json
import sys
import time

import numpy as np


def load(path: str) -> np.ndarray:
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    n, h, w = (int.from_bytes(raw[i : i + 4], "big") for i in (4, 8, 12))
    return np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(n, h * w).astype(np.float32)


def main() -> None:
    path = sys.argv[1]
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    seconds = []
    for _ in range(max(repeats, 1)):
        t = time.perf_counter()
        x = load(path)
        seconds.append(round(time.perf_counter() - t, 4))
    print(json.dumps({"library": f"numpy {np.__version__}", "rows": x.shape[0], "cols": x.shape[1], "seconds": seconds}))


if __name__ == "__main__":
    main()
