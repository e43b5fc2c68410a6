"""Drift, quality and performance signals from a reference profile and a target sketch.

Every drift statistic is computed from counts: the reference's quantile bins (numeric) or
categories, and the target counted into the same bins. PSI and Jensen-Shannon use decile bins
(the fine bins merged); KS and Wasserstein use the fine bins' CDFs, which bound their error:
evaluated at bin edges, KS is exact up to the largest share of either side in one bin, and
Wasserstein up to the sum over bins of width x that share. When both sides have at most
:data:`~mlbench.monitoring.profile.EXACT_LIMIT` rows, KS and Wasserstein are exact (scipy).

A signal breaches only when its value is above its effect floor (:class:`Thresholds`) *and*
above a no-shift bound: the statistic's ``1 - alpha`` quantile when the target is a sample of
the reference's own distribution at the target's size. That bound is analytic for KS
(Kolmogorov's distribution with ``sqrt(1/n + 1/N)``) and chi-squared (the chi-squared law), and
Monte Carlo for PSI, Jensen-Shannon and Wasserstein (multinomial draws of both sides from the
reference's bin shares, seeded, so the same inputs give the same bound). Small samples therefore
do not alarm on noise, and huge ones do not alarm on trivial shifts that clear the bound but not
the floor.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from scipy import stats

from mlbench.monitoring.models import (
    CategoricalProfile,
    DriftReport,
    FeatureResult,
    NumericProfile,
    Profile,
    SignalResult,
    Thresholds,
    Verdict,
)
from mlbench.monitoring.profile import FeatureSketch, TargetSketch

COARSE_BINS = 10
NULL_DRAWS = 2000
MAX_SIGNAL_CATEGORIES = 50  # PSI/JS/chi2 over the most common categories, the rest as one
EPS = 1e-4  # share given to an empty bin in PSI (the usual smoothing)


# -- statistics on shares ----------------------------------------------------------------------
def psi(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """PSI of shares ``q`` against ``p`` (last axis: bins); vectorized over leading axes."""
    p = np.clip(p, EPS, None)
    q = np.clip(q, EPS, None)
    return np.sum((q - p) * np.log(q / p), axis=-1)


def js_distance(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Jensen-Shannon distance, base 2 (0 identical, 1 disjoint)."""
    m = (p + q) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(p > 0, p * np.log2(p / m), 0.0)
        b = np.where(q > 0, q * np.log2(q / m), 0.0)
    return np.sqrt(np.clip(np.sum(a + b, axis=-1) / 2, 0.0, None))


def binned_ks(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    return np.max(np.abs(np.cumsum(p, axis=-1) - np.cumsum(q, axis=-1)), axis=-1)


def binned_wasserstein(p: np.ndarray, q: np.ndarray, widths: np.ndarray) -> np.ndarray:
    """Integral of |F - G| with both CDFs known at the bin edges (trapezoids per bin)."""
    d = np.abs(np.cumsum(p, axis=-1) - np.cumsum(q, axis=-1))  # at each bin's right edge
    left = np.concatenate([np.zeros((*d.shape[:-1], 1)), d[..., :-1]], axis=-1)
    return np.sum(widths * (left + d) / 2, axis=-1)


def coarse_groups(p: np.ndarray, groups: int = COARSE_BINS) -> np.ndarray:
    """Which coarse bin each fine bin joins: by the reference's cumulative share (deciles)."""
    mid = np.cumsum(p) - p / 2
    return np.minimum((mid * groups).astype(int), groups - 1)


def merge(shares: np.ndarray, group: np.ndarray) -> np.ndarray:
    n = int(group.max()) + 1 if len(group) else 0
    out = np.zeros((*shares.shape[:-1], n))
    for g in range(n):
        out[..., g] = shares[..., group == g].sum(axis=-1)
    return out


def _rng(name: str, n: int) -> np.random.Generator:
    import zlib

    return np.random.default_rng(zlib.crc32(f"{name}:{n}".encode()))


def _shares(p: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """NULL_DRAWS share vectors of n draws from p: multinomial, or its normal limit (same
    mean and covariance (diag(p) - pp')/n) once every bin expects 50 counts, which is far
    cheaper and indistinguishable there."""
    n = max(n, 1)
    if n * p.min() < 50:
        return rng.multinomial(n, p, size=NULL_DRAWS) / n
    root = np.sqrt(p)
    z = rng.standard_normal((NULL_DRAWS, len(p)))
    y = root * z - np.outer(z @ root, p)
    return np.clip(p + y / np.sqrt(n), 0.0, None)


def null_draws(
    p: np.ndarray, n_ref: int, n_target: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Shares of both sides drawn from the reference's shares at their sizes."""
    return _shares(p, n_ref, rng), _shares(p, n_target, rng)


def ks_bound(n_ref: int, n_target: int, alpha: float) -> float:
    """D's 1-alpha quantile for two samples of these sizes from one distribution."""
    return float(stats.kstwobign.ppf(1 - alpha) * np.sqrt(1 / n_target + 1 / max(n_ref, 1)))


def _verdict(
    value: float | None, floor: float, bound: float | None, warn: float | None = None
) -> Verdict:
    if value is None or not np.isfinite(value):
        return "skipped"
    limit = max(floor, bound or 0.0)
    if value > limit:
        return "breached"
    if warn is not None and value > max(warn, bound or 0.0):
        return "warning"
    return "ok"


# -- per feature -------------------------------------------------------------------------------
def numeric_drift(
    ref: NumericProfile,
    sk: FeatureSketch,
    th: Thresholds,
    wanted: Sequence[str],
    exact: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[list[SignalResult], np.ndarray, np.ndarray]:
    counts_p = np.asarray(ref.counts, dtype=float)
    assert sk.counts is not None
    counts_q = sk.counts.astype(float)
    n, m = int(counts_p.sum()), int(counts_q.sum())
    out: list[SignalResult] = []
    if n == 0 or m == 0:
        why = "the reference has no values" if n == 0 else "the target has no values"
        for sig in [s for s in ("psi", "js", "wasserstein", "ks") if s in wanted]:
            out.append(
                SignalResult(
                    feature=ref.name, signal=sig, value=None, verdict="skipped", detail=why
                )
            )
        return out, np.zeros(0), np.zeros(0)
    p, q = counts_p / n, counts_q / m
    group = coarse_groups(p)
    pc, qc = merge(p, group), merge(q, group)
    rng = _rng(ref.name, m)
    null_ref, null_tgt = null_draws(p, n, m, rng)
    lo = min(ref.min if ref.min is not None else sk.low, sk.low)
    hi = max(ref.max if ref.max is not None else sk.high, sk.high)
    edges = np.concatenate([[lo], np.asarray(ref.edges, dtype=float), [hi]])
    widths = np.maximum(np.diff(edges), 0.0)
    scale = ref.std if ref.std else (hi - lo) or 1.0

    def emit(
        signal: str,
        value: float,
        floor: float,
        bound: float,
        method: str,
        warn: float | None = None,
        **extra: Any,
    ) -> None:
        out.append(
            SignalResult(
                feature=ref.name,
                signal=signal,
                value=value,
                threshold=floor,
                bound=bound,
                method=method,
                verdict=_verdict(value, floor, bound, warn),
                **extra,
            )
        )

    if "psi" in wanted or "js" in wanted:
        null_pc, null_qc = merge(null_ref, group), merge(null_tgt, group)  # once for both
        bins = f"{len(pc)} quantile bins"
        if "psi" in wanted:
            bound = float(np.quantile(psi(null_pc, null_qc), 1 - th.alpha))
            emit("psi", float(psi(pc, qc)), th.psi, bound, bins, th.psi_warning)
        if "js" in wanted:
            bound = float(np.quantile(js_distance(null_pc, null_qc), 1 - th.alpha))
            emit("js", float(js_distance(pc, qc)), th.js, bound, f"{bins}, base 2")
    if "wasserstein" in wanted:
        null_w = binned_wasserstein(null_ref, null_tgt, widths) / scale
        bound = float(np.quantile(null_w, 1 - th.alpha))
        if exact is not None:
            value = float(stats.wasserstein_distance(exact[0], exact[1]) / scale)
            error, method = 0.0, "exact (scipy), / reference std"
        else:
            value = float(binned_wasserstein(p, q, widths) / scale)
            error = float(np.sum(widths * np.maximum(p, q)) / scale)
            method = f"from {len(p)}-bin CDFs, / reference std"
        emit("wasserstein", value, th.wasserstein, bound, method, error=error)
    if "ks" in wanted:
        bound = ks_bound(n, m, th.alpha)
        if exact is not None:
            res = stats.ks_2samp(exact[0], exact[1])
            value, p_value, error = float(res.statistic), float(res.pvalue), 0.0
            method = "exact (scipy ks_2samp)"
        else:
            value = float(binned_ks(p, q))
            p_value = float(stats.kstwobign.sf(value / np.sqrt(1 / m + 1 / n)))
            error = float(np.max(np.maximum(p, q)))
            method = f"from {len(p)}-bin CDFs (true D within +{error:.4f})"
        emit("ks", value, th.ks, bound, method, error=error, p_value=p_value)
    return out, pc, qc


def categorical_drift(
    ref: CategoricalProfile, sk: FeatureSketch, th: Thresholds, wanted: Sequence[str]
) -> tuple[list[SignalResult], np.ndarray, np.ndarray, list[str]]:
    keep = list(ref.categories)[:MAX_SIGNAL_CATEGORIES]
    ref_counts = [ref.categories[k] for k in keep]
    ref_rest = sum(ref.categories.values()) - sum(ref_counts) + ref.other
    tgt_counts = [sk.categories.get(k, 0) for k in keep]
    tgt_rest = sum(sk.categories.values()) - sum(tgt_counts) + sk.unseen_total
    labels = [*keep, "(other)"]
    counts_p = np.asarray([*ref_counts, ref_rest], dtype=float)
    counts_q = np.asarray([*tgt_counts, tgt_rest], dtype=float)
    n, m = int(counts_p.sum()), int(counts_q.sum())
    out: list[SignalResult] = []
    if n == 0 or m == 0:
        why = "the reference has no values" if n == 0 else "the target has no values"
        for sig in [s for s in ("psi", "js", "chi2") if s in wanted]:
            out.append(
                SignalResult(
                    feature=ref.name, signal=sig, value=None, verdict="skipped", detail=why
                )
            )
        return out, np.zeros(0), np.zeros(0), labels
    # a category the reference never had gets half a count, so its share is not zero
    p = np.where(counts_p > 0, counts_p, 0.5) / (n + 0.5 * np.count_nonzero(counts_p == 0))
    q = counts_q / m
    rng = _rng(ref.name, m)
    null_ref, null_tgt = null_draws(p, n, m, rng)
    if "psi" in wanted:
        value = float(psi(p, q))
        bound = float(np.quantile(psi(null_ref, null_tgt), 1 - th.alpha))
        out.append(
            SignalResult(
                feature=ref.name,
                signal="psi",
                value=value,
                threshold=th.psi,
                bound=bound,
                method=f"{len(p)} categories",
                verdict=_verdict(value, th.psi, bound, th.psi_warning),
            )
        )
    if "js" in wanted:
        value = float(js_distance(p, q))
        bound = float(np.quantile(js_distance(null_ref, null_tgt), 1 - th.alpha))
        out.append(
            SignalResult(
                feature=ref.name,
                signal="js",
                value=value,
                threshold=th.js,
                bound=bound,
                method=f"{len(p)} categories, base 2",
                verdict=_verdict(value, th.js, bound),
            )
        )
    if "chi2" in wanted:
        scale = 1 / m + 1 / n
        chi2 = float(np.sum((q - p) ** 2 / p))
        dof = max(len(p) - 1, 1)
        value = float(np.sqrt(chi2))
        bound = float(np.sqrt(stats.chi2.ppf(1 - th.alpha, dof) * scale))
        out.append(
            SignalResult(
                feature=ref.name,
                signal="chi2",
                value=value,
                threshold=th.chi2,
                bound=bound,
                p_value=float(stats.chi2.sf(chi2 / scale, dof)),
                method=f"Cohen's w over {len(p)} categories",
                verdict=_verdict(value, th.chi2, bound),
            )
        )
    return out, p, q, labels


def _rate_bound(p: float, m: int, alpha: float) -> float:
    """How far a share can rise by chance: the normal 1-alpha quantile of a binomial share."""
    return float(stats.norm.ppf(1 - alpha) * np.sqrt(max(p * (1 - p), 1 / max(m, 1)) / max(m, 1)))


def quality(
    ref: NumericProfile | CategoricalProfile,
    sk: FeatureSketch,
    th: Thresholds,
    wanted: Sequence[str],
    ref_rows: int,
) -> list[SignalResult]:
    out: list[SignalResult] = []
    m = max(sk.rows, 1)
    if "null_rate" in wanted:
        ref_rate = ref.nulls / max(ref_rows, 1)
        rate = sk.nulls / m
        rise = rate - ref_rate
        bound = _rate_bound(ref_rate, m, th.alpha)
        out.append(
            SignalResult(
                feature=ref.name,
                signal="null_rate",
                value=rate,
                threshold=th.null_rate,
                bound=bound,
                method=f"{sk.nulls} null of {sk.rows} (reference {ref_rate:.4f})",
                verdict=_verdict(rise, th.null_rate, bound),
                detail=f"nulls={sk.nulls}",
            )
        )
    if "type_errors" in wanted:
        share = sk.type_errors / m
        out.append(
            SignalResult(
                feature=ref.name,
                signal="type_errors",
                value=float(sk.type_errors),
                threshold=th.type_errors,
                method=f"values that are not {ref.type}",
                verdict="breached" if share > th.type_errors else "ok",
                detail=f"target type {sk.type}",
            )
        )
    if "out_of_range" in wanted and isinstance(ref, NumericProfile):
        outside = sk.below + sk.above
        share = outside / max(sk.count, 1)
        # a sample of the reference's own law falls outside its min..max with chance ~2/N
        expect = 2 / max(ref.count, 1)
        bound = expect + _rate_bound(expect, max(sk.count, 1), th.alpha)
        out.append(
            SignalResult(
                feature=ref.name,
                signal="out_of_range",
                value=float(outside),
                threshold=th.out_of_range,
                bound=bound,
                method=f"below {ref.min} or above {ref.max}",
                verdict=_verdict(share, th.out_of_range, bound),
                detail=f"below={sk.below} above={sk.above}",
            )
        )
    if "unseen" in wanted and isinstance(ref, CategoricalProfile):
        unseen = sk.unseen_total
        share = unseen / max(sk.count, 1)
        names = ", ".join(sorted(sk.unseen, key=lambda k: -sk.unseen[k])[:10])
        out.append(
            SignalResult(
                feature=ref.name,
                signal="unseen",
                value=float(unseen),
                threshold=th.unseen,
                method="categories the reference never had",
                verdict="breached" if share > th.unseen else ("warning" if unseen else "ok"),
                detail=names,
            )
        )
    return out


def performance(
    labels: np.ndarray, predictions: np.ndarray, th: Thresholds
) -> tuple[dict[str, float], list[SignalResult]]:
    """Accuracy (labels that are not numbers, or few distinct integers) or MAE/RMSE."""
    results: list[SignalResult] = []
    present = ~(_isnull(labels) | _isnull(predictions))
    y, yhat = labels[present], predictions[present]
    if not len(y):
        return {}, [
            SignalResult(
                feature="(model)",
                signal="performance",
                value=None,
                verdict="skipped",
                detail="no row has both a label and a prediction",
            )
        ]
    numeric = np.issubdtype(y.dtype, np.number) and np.issubdtype(yhat.dtype, np.number)
    if numeric and len(np.unique(y)) > 20:
        err = yhat.astype(float) - y.astype(float)
        rmse = float(np.sqrt(np.mean(err**2)))
        metrics = {"mae": float(np.mean(np.abs(err))), "rmse": rmse, "rows": float(len(y))}
        verdict: Verdict = "ok"
        if th.max_rmse is not None and rmse > th.max_rmse:
            verdict = "breached"
        results.append(
            SignalResult(
                feature="(model)",
                signal="performance",
                value=rmse,
                threshold=th.max_rmse,
                method="rmse",
                verdict=verdict,
            )
        )
    else:
        acc = float(np.mean(y.astype(str) == yhat.astype(str)))
        metrics = {"accuracy": acc, "rows": float(len(y))}
        verdict = "ok"
        if th.min_accuracy is not None and acc < th.min_accuracy:
            verdict = "breached"
        results.append(
            SignalResult(
                feature="(model)",
                signal="performance",
                value=acc,
                threshold=th.min_accuracy,
                method="accuracy",
                verdict=verdict,
            )
        )
    return metrics, results


def _isnull(a: np.ndarray) -> np.ndarray:
    if np.issubdtype(a.dtype, np.floating):
        return np.isnan(a)
    return np.array([v is None or (isinstance(v, float) and np.isnan(v)) for v in a], dtype=bool)


# -- a whole comparison ------------------------------------------------------------------------
def _worst(verdicts: Sequence[Verdict]) -> Verdict:
    rank = {"skipped": 0, "ok": 1, "warning": 2, "breached": 3}
    return max(verdicts, key=lambda v: rank[v], default="skipped")


def compare(
    profile: Profile,
    sketch: TargetSketch,
    *,
    thresholds: Thresholds | None = None,
    signals: Sequence[str] | None = None,
    target: str = "",
    roles: dict[str, str] | None = None,
    exact_values: Callable[[str], tuple[np.ndarray, np.ndarray]] | None = None,
) -> DriftReport:
    """The report of ``sketch`` (a target) against ``profile``: every feature's signals."""
    from mlbench.monitoring.models import SIGNALS

    th = thresholds or Thresholds()
    wanted = list(signals or SIGNALS)
    roles = roles or {}
    features: list[FeatureResult] = []
    for name, sk in sketch.features.items():
        ref = profile.features[name]
        hist_p: Any
        if isinstance(ref, NumericProfile):
            exact = exact_values(name) if (exact_values and sketch.exact) else None
            results, hist_p, hist_q = numeric_drift(ref, sk, th, wanted, exact)
            labels = [f"d{i + 1}" for i in range(len(hist_p))]
        else:
            results, hist_p, hist_q, labels = categorical_drift(ref, sk, th, wanted)
        results += quality(ref, sk, th, wanted, profile.rows)
        features.append(
            FeatureResult(
                name=name,
                kind=ref.kind,
                role=roles.get(name, "feature"),  # type: ignore[arg-type]
                reference_count=ref.count,
                target_count=sk.count,
                verdict=_worst([r.verdict for r in results]),
                signals=results,
                reference_hist=[round(float(x), 6) for x in hist_p],
                target_hist=[round(float(x), 6) for x in hist_q],
                labels=labels,
            )
        )
    breaches = [
        f"{f.name}:{s.signal}" for f in features for s in f.signals if s.verdict == "breached"
    ]
    return DriftReport(
        reference=profile.source,
        target=target,
        reference_rows=profile.rows,
        target_rows=sketch.rows,
        exact=sketch.exact and exact_values is not None,
        verdict="breached" if breaches else _worst([f.verdict for f in features] or ["ok"]),
        features=features,
        missing=sketch.missing,
        breaches=breaches,
    )
