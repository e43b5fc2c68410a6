"""Reference profiles and target sketches: one streaming pass each, memory O(features x bins).

A reference profile holds, per numeric feature, quantile bin edges (from a bounded uniform
sample taken in a first pass) and the exact count of reference values in each bin (a second
pass); per categorical feature, the frequency of each category (up to ``MAX_CATEGORIES``, the
rest counted together). Both carry count, nulls, min, max and the Arrow type. A target is then
read once, counted into the reference's bins (:class:`TargetSketch`), with data quality counted
exactly on the way: nulls, values that do not parse as the reference's type, values outside the
reference's range, categories the reference never had.

Sources are read with ``pyarrow.dataset`` in record batches, so no table is ever loaded whole.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from mlbench.errors import InvalidInputError
from mlbench.monitoring.models import CategoricalProfile, FeatureProfile, NumericProfile, Profile

log = logging.getLogger(__name__)

FINE_BINS = 100  # quantile bins per numeric feature (KS/Wasserstein from their CDFs)
SAMPLE_SIZE = 50_000  # values per feature the bin edges are estimated from
MAX_CATEGORIES = 10_000  # distinct categories kept per feature; more are counted as other
EXACT_LIMIT = 100_000  # up to this many rows on both sides, KS and Wasserstein are exact
UNSEEN_KEPT = 100  # unseen categories named one by one; the rest are counted together
BATCH_ROWS = 262_144
METADATA_PREFIX = "mlbench_"
PREDICTION = "mlbench_prediction"


# -- sources -----------------------------------------------------------------------------------
def open_source(paths: Sequence[str | Path], fmt: str | None = None) -> ds.Dataset:
    """A dataset over files or folders of Parquet or CSV (several: their union)."""
    from mlbench.data.tables import infer_format

    parts = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise InvalidInputError(f"{path} does not exist", hint="give a file or a folder")
        files = (
            [str(p) for p in sorted(path.rglob("*")) if p.is_file() and not p.name.startswith(".")]
            if path.is_dir()
            else [str(path)]
        )
        if not files:
            raise InvalidInputError(f"{path} holds no files", hint="give a folder of tables")
        form = infer_format(files, fmt)
        file_format: Any = form
        if form == "csv":
            import pyarrow.csv as pacsv

            delimiter = "\t" if files[0].lower().endswith(".tsv") else ","
            file_format = ds.CsvFileFormat(parse_options=pacsv.ParseOptions(delimiter=delimiter))
        elif form == "parquet":
            # pre_buffer (the default) keeps every column chunk it read ahead for the whole file:
            # peak memory grew with the file (1.0 -> 1.5 GiB for 2 -> 4 M rows x 50 columns);
            # without it, it stays at about a row group's worth (0.6 GiB for both)
            file_format = ds.ParquetFileFormat(
                default_fragment_scan_options=ds.ParquetFragmentScanOptions(pre_buffer=False)
            )
        try:
            parts.append(ds.dataset(files, format=file_format))
        except Exception as exc:
            raise InvalidInputError(
                f"cannot read {path} as a {form} table: {' '.join(str(exc).split())[:300]}"
            ) from None
    if len(parts) == 1:
        return parts[0]
    try:
        return ds.dataset(parts)
    except Exception as exc:
        raise InvalidInputError(
            f"the target's parts have different columns: {' '.join(str(exc).split())[:300]}",
            hint="compare versions with one schema",
        ) from None


def batches(dataset: ds.Dataset, columns: list[str]) -> Iterator[pa.RecordBatch]:
    present = set(dataset.schema.names)
    # pyarrow reads ahead 16 batches of 4 files by default: with 100 wide columns that is
    # gigabytes in flight; two batches keep the cores busy
    yield from dataset.to_batches(
        columns=[c for c in columns if c in present],
        batch_size=BATCH_ROWS,
        batch_readahead=2,
        fragment_readahead=1,
    )


def kind_of(t: pa.DataType) -> str | None:
    """numeric, categorical, or None (a type that is not profiled: times, lists, binaries)."""
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        return "numeric"
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_boolean(t):
        return "categorical"
    if pa.types.is_dictionary(t):
        return "categorical"
    return None


def feature_columns(schema: pa.Schema, wanted: Sequence[str] | None = None) -> dict[str, str]:
    """The features of a schema (name -> kind): every column not starting with ``mlbench_``
    (metadata) whose type is profiled, or exactly ``wanted``."""
    types = {f.name: f.type for f in schema}
    if wanted:
        missing = [w for w in wanted if w not in types]
        if missing:
            raise InvalidInputError(
                f"the reference has no column {', '.join(map(repr, missing))}",
                hint=f"its columns: {', '.join(list(types)[:30])}",
            )
        out = {}
        for name in wanted:
            kind = kind_of(types[name])
            if kind is None:
                raise InvalidInputError(
                    f"column {name!r} is {types[name]}, which is not monitored",
                    hint="monitor numeric, string or boolean columns",
                )
            out[name] = kind
        return out
    return {
        name: kind
        for name, t in types.items()
        if not name.startswith(METADATA_PREFIX) and (kind := kind_of(t)) is not None
    }


# -- numeric helpers ---------------------------------------------------------------------------
def _as_float(column: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, int]:
    """Values as float64 without nulls/NaNs, and how many values did not parse as numbers
    (a string column where the reference was numeric)."""
    t = column.type
    errors = 0
    if kind_of(t) != "numeric":
        import pandas as pd

        text = pc.cast(column, pa.string()) if not pa.types.is_string(t) else column
        raw = text.to_pandas()
        present = raw.notna().to_numpy()
        numbers = pd.to_numeric(raw[present], errors="coerce").to_numpy(float)
        errors = int(np.isnan(numbers).sum())
        values = np.full(len(raw), np.nan)
        values[present] = numbers
    else:
        values = pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False)
        values = np.asarray(values, dtype=float)
    return values[~np.isnan(values)], errors


@dataclass
class _NumAcc:
    count: int = 0
    nulls: int = 0
    type_errors: int = 0
    low: float = float("inf")
    high: float = float("-inf")
    mean: float = 0.0
    m2: float = 0.0  # sum of squared deviations (Chan et al.'s merge of batch moments)
    sample: list[np.ndarray] = field(default_factory=list)

    def add(self, column: Any, rate: float, rng: np.random.Generator) -> np.ndarray:
        values, errors = _as_float(column)
        self.type_errors += errors
        self.nulls += len(column) - len(values) - errors
        if len(values):
            n, k = self.count, len(values)
            batch_mean = float(values.mean())
            delta = batch_mean - self.mean
            self.m2 += float(((values - batch_mean) ** 2).sum()) + delta**2 * n * k / (n + k)
            self.mean += delta * k / (n + k)
        self.count += len(values)
        if len(values):
            self.low = min(self.low, float(values.min()))
            self.high = max(self.high, float(values.max()))
            if rate < 1.0:  # a uniform sample (with replacement) of the expected size
                take = rng.binomial(len(values), rate)
                self.sample.append(values[rng.integers(0, len(values), take)])
            else:
                self.sample.append(values)
        return values


@dataclass
class _CatAcc:
    count: int = 0
    nulls: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    other: int = 0

    def add(self, column: Any) -> None:
        nulls = column.null_count
        self.nulls += nulls
        self.count += len(column) - nulls
        if pa.types.is_dictionary(column.type):
            column = pc.cast(column, column.type.value_type)
        if not pa.types.is_string(column.type):
            column = pc.cast(column, pa.string())
        for item in pc.value_counts(column.drop_null()).to_pylist():
            key, n = item["values"], int(item["counts"])
            if key in self.counts:
                self.counts[key] += n
            elif len(self.counts) < MAX_CATEGORIES:
                self.counts[key] = n
            else:
                self.other += n


def _edges(sample: np.ndarray, bins: int) -> list[float]:
    """Inner bin edges: the sample's quantiles, ties merged (a feature with few values gets
    fewer bins). Values equal to an edge fall in the bin to its right."""
    if not len(sample):
        return []
    qs = np.quantile(sample, np.linspace(0, 1, bins + 1)[1:-1], method="linear")
    edges = np.unique(qs)
    # an edge at the minimum would leave the first bin empty by construction
    edges = edges[edges > sample.min()]
    return [float(e) for e in edges]


def bin_counts(values: np.ndarray, edges: Sequence[float]) -> np.ndarray:
    idx = np.searchsorted(np.asarray(edges, dtype=float), values, side="right")
    return np.bincount(idx, minlength=len(edges) + 1)


# -- the reference ---------------------------------------------------------------------------
def build_profile(
    dataset: ds.Dataset,
    features: Sequence[str] | None = None,
    *,
    source: str = "",
    bins: int = FINE_BINS,
    seed: int = 0,
) -> Profile:
    """Profile ``dataset``: two streaming passes (bounded sample for the edges, then counts)."""
    kinds = feature_columns(dataset.schema, features)
    if not kinds:
        raise InvalidInputError(
            "the reference has no numeric or categorical column to monitor",
            hint="monitor a table with numeric, string or boolean columns",
        )
    rows = dataset.count_rows()
    rate = min(1.0, SAMPLE_SIZE / rows) if rows else 1.0
    rng = np.random.default_rng(seed)
    numeric = {n: _NumAcc() for n, k in kinds.items() if k == "numeric"}
    categorical = {n: _CatAcc() for n, k in kinds.items() if k == "categorical"}
    for batch in batches(dataset, list(kinds)):
        for name, acc in numeric.items():
            acc.add(batch.column(name), rate, rng)
        for name, cat in categorical.items():
            cat.add(batch.column(name))
    edges = {
        n: _edges(np.concatenate(a.sample) if a.sample else np.empty(0), bins)
        for n, a in numeric.items()
    }
    counts = {n: np.zeros(len(e) + 1, dtype=np.int64) for n, e in edges.items()}
    if numeric:
        for batch in batches(dataset, list(numeric)):
            for name in numeric:
                values, _ = _as_float(batch.column(name))
                counts[name] += bin_counts(values, edges[name])
    out: dict[str, FeatureProfile] = {}
    types = {f.name: str(f.type) for f in dataset.schema}
    for name in kinds:
        if name in numeric:
            a = numeric[name]
            mean = a.mean if a.count else None
            var = a.m2 / a.count if a.count else None
            out[name] = NumericProfile(
                name=name,
                type=types[name],
                count=a.count,
                nulls=a.nulls,
                min=a.low if a.count else None,
                max=a.high if a.count else None,
                mean=mean,
                std=float(np.sqrt(var)) if var is not None else None,
                edges=edges[name],
                counts=[int(c) for c in counts[name]],
            )
        else:
            c = categorical[name]
            out[name] = CategoricalProfile(
                name=name,
                type=types[name],
                count=c.count,
                nulls=c.nulls,
                categories=dict(sorted(c.counts.items(), key=lambda kv: -kv[1])),
                other=c.other,
            )
    return Profile(source=source, rows=rows, features=out)


# -- a target against a reference ------------------------------------------------------------
@dataclass
class FeatureSketch:
    """A target feature counted against the reference's bins or categories."""

    name: str
    kind: str
    type: str
    rows: int = 0
    nulls: int = 0
    type_errors: int = 0
    below: int = 0
    above: int = 0
    low: float = float("inf")
    high: float = float("-inf")
    counts: np.ndarray | None = None
    categories: dict[str, int] = field(default_factory=dict)
    unseen: dict[str, int] = field(default_factory=dict)
    unseen_other: int = 0
    exact: list[np.ndarray] | None = None

    @property
    def count(self) -> int:
        return self.rows - self.nulls - self.type_errors

    @property
    def unseen_total(self) -> int:
        return sum(self.unseen.values()) + self.unseen_other


@dataclass
class TargetSketch:
    rows: int
    features: dict[str, FeatureSketch]
    missing: list[str]
    exact: bool


def sketch_target(
    dataset: ds.Dataset,
    profile: Profile,
    *,
    features: Iterable[str] | None = None,
    keep_exact: bool = True,
) -> TargetSketch:
    """One streaming pass over the target: bin counts against the profile, quality counts, and
    (when the target has at most :data:`EXACT_LIMIT` rows) the values themselves for exact KS."""
    names = list(features) if features is not None else list(profile.features)
    present = set(dataset.schema.names)
    missing = [n for n in names if n not in present]
    names = [n for n in names if n in present]
    rows = dataset.count_rows()
    exact = keep_exact and rows <= EXACT_LIMIT and profile.rows <= EXACT_LIMIT
    types = {f.name: str(f.type) for f in dataset.schema}
    out: dict[str, FeatureSketch] = {}
    for name in names:
        ref = profile.features[name]
        sk = FeatureSketch(name=name, kind=ref.kind, type=types[name])
        if isinstance(ref, NumericProfile):
            sk.counts = np.zeros(len(ref.edges) + 1, dtype=np.int64)
            sk.exact = [] if exact else None
        out[name] = sk

    def count(batch: pa.RecordBatch, sk: FeatureSketch) -> None:
        ref = profile.features[sk.name]
        column = batch.column(sk.name)
        sk.rows += len(column)
        if isinstance(ref, NumericProfile):
            _count_numbers(sk, column, ref)
        else:
            assert isinstance(ref, CategoricalProfile)
            _count_categories(sk, column, ref)

    # features are counted on threads (numpy's binning releases the GIL); each sketch is
    # touched by one thread at a time, batch after batch
    with ThreadPoolExecutor(max_workers=_threads()) as pool:
        for batch in batches(dataset, names):
            list(pool.map(lambda sk: count(batch, sk), out.values()))  # noqa: B023
    return TargetSketch(rows=rows, features=out, missing=missing, exact=exact)


def _threads() -> int:
    return max(1, min(8, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1))


def _count_numbers(sk: FeatureSketch, column: Any, ref: NumericProfile) -> None:
    values, errors = _as_float(column)
    sk.type_errors += errors
    sk.nulls += len(column) - len(values) - errors
    if not len(values):
        return
    assert sk.counts is not None
    sk.counts += bin_counts(values, ref.edges)
    sk.low = min(sk.low, float(values.min()))
    sk.high = max(sk.high, float(values.max()))
    if ref.min is not None and ref.max is not None:
        sk.below += int(np.count_nonzero(values < ref.min))
        sk.above += int(np.count_nonzero(values > ref.max))
    if sk.exact is not None:
        sk.exact.append(values)


def _count_categories(sk: FeatureSketch, column: Any, ref: CategoricalProfile) -> None:
    sk.nulls += column.null_count
    if pa.types.is_dictionary(column.type):
        column = pc.cast(column, column.type.value_type)
    if not pa.types.is_string(column.type):
        column = pc.cast(column, pa.string())
    for item in pc.value_counts(column.drop_null()).to_pylist():
        key, n = item["values"], int(item["counts"])
        if key in ref.categories:
            sk.categories[key] = sk.categories.get(key, 0) + n
        elif ref.other:
            # the reference had more categories than it kept: a value it did not keep may have
            # been among them, so it is counted as 'other', not as unseen
            sk.categories["\x00other"] = sk.categories.get("\x00other", 0) + n
        elif key in sk.unseen or len(sk.unseen) < UNSEEN_KEPT:
            sk.unseen[key] = sk.unseen.get(key, 0) + n
        else:
            sk.unseen_other += n


def merge_sketches(parts: Sequence[TargetSketch], *, exact: bool) -> TargetSketch:
    """The sketches of disjoint slices of one target as the sketch of the whole (a pass split
    across tasks). Counts add up, so the result is what one pass would have counted; ``exact``
    is decided for the whole target (each slice is smaller)."""
    first = parts[0]
    features: dict[str, FeatureSketch] = {}
    for name, sk in first.features.items():
        merged = FeatureSketch(
            name=name,
            kind=sk.kind,
            type=sk.type,
            counts=None if sk.counts is None else np.zeros_like(sk.counts),
        )
        for part in parts:
            p = part.features[name]
            merged.rows += p.rows
            merged.nulls += p.nulls
            merged.type_errors += p.type_errors
            merged.below += p.below
            merged.above += p.above
            merged.low, merged.high = min(merged.low, p.low), max(merged.high, p.high)
            if merged.counts is not None and p.counts is not None:
                merged.counts += p.counts
            for key, n in p.categories.items():
                merged.categories[key] = merged.categories.get(key, 0) + n
            for key, n in p.unseen.items():
                if key in merged.unseen or len(merged.unseen) < UNSEEN_KEPT:
                    merged.unseen[key] = merged.unseen.get(key, 0) + n
                else:
                    merged.unseen_other += n
            merged.unseen_other += p.unseen_other
        features[name] = merged
    return TargetSketch(
        rows=sum(p.rows for p in parts), features=features, missing=first.missing, exact=exact
    )


def exact_values(dataset: ds.Dataset, name: str) -> np.ndarray:
    """All values of a numeric column (only called for sources of at most EXACT_LIMIT rows)."""
    parts = [_as_float(b.column(name))[0] for b in batches(dataset, [name])]
    return np.concatenate(parts) if parts else np.empty(0)
