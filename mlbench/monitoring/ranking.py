"""Top-N features: ranked by mutual information with the label on a uniform reference sample."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow.dataset as ds

from mlbench.monitoring.profile import SAMPLE_SIZE, kind_of

BINS = 10


def _codes(values: np.ndarray, numeric: bool) -> np.ndarray:
    """Small integer codes: deciles of a numeric column (NaN its own code), else categories."""
    if numeric:
        x = values.astype(float)
        ok = ~np.isnan(x)
        codes = np.full(len(x), BINS, dtype=np.int64)
        if ok.any():
            edges = np.unique(np.quantile(x[ok], np.linspace(0, 1, BINS + 1)[1:-1]))
            codes[ok] = np.searchsorted(edges, x[ok], side="right")
        return codes
    _, codes = np.unique(values.astype(str), return_inverse=True)
    return codes.astype(np.int64)


def mutual_information(a: np.ndarray, b: np.ndarray) -> float:
    joint = np.zeros((int(a.max()) + 1, int(b.max()) + 1))
    np.add.at(joint, (a, b), 1)
    joint /= joint.sum()
    pa_, pb = joint.sum(axis=1, keepdims=True), joint.sum(axis=0, keepdims=True)
    nz = joint > 0
    return float(np.sum(joint[nz] * np.log(joint[nz] / (pa_ @ pb)[nz])))


def rank_features(dataset: ds.Dataset, names: Sequence[str], label: str) -> list[str]:
    """``names`` from the most to the least informative about ``label``."""
    rows = dataset.count_rows()
    rng = np.random.default_rng(0)
    take = np.sort(rng.choice(rows, size=min(rows, SAMPLE_SIZE), replace=False))
    table = dataset.take(take, columns=[*names, label])
    types = {f.name: f.type for f in dataset.schema}
    lab = table.column(label).to_numpy(zero_copy_only=False)
    many = kind_of(types[label]) == "numeric" and len(np.unique(lab)) > 20
    y = _codes(lab, many)
    scores = {
        n: mutual_information(
            _codes(table.column(n).to_numpy(zero_copy_only=False), kind_of(types[n]) == "numeric"),
            y,
        )
        for n in names
    }
    return sorted(names, key=lambda n: -scores[n])
