#!/usr/bin/env python3
"""Writes scikit-learn's wine data (178 rows, 13 features, 3 cultivars) as the CSV fixture
the tabular end-to-end test reads: crates/latent-cli/tests/fixtures/wine.csv.

    python3 scripts/save-wine-csv.py            # needs scikit-learn

The label column is `class` with the cultivars' names as text (class_0, class_1, class_2),
as a user's CSV would have them; the features keep scikit-learn's names and values.
"""
import csv
import pathlib

from sklearn.datasets import load_wine

out = pathlib.Path(__file__).resolve().parent.parent / "crates/latent-cli/tests/fixtures/wine.csv"
wine = load_wine()
with open(out, "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(list(wine.feature_names) + ["class"])
    for row, target in zip(wine.data, wine.target):
        w.writerow([f"{v:g}" for v in row] + [wine.target_names[target]])
print(f"wrote {out} ({len(wine.data)} rows)")
