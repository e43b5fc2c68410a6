"""Pydantic shapes of monitoring: profiles, signals and their verdicts, monitors and runs."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Verdict = Literal["ok", "warning", "breached", "skipped"]
NUMERIC_SIGNALS = ("psi", "js", "wasserstein", "ks")
CATEGORICAL_SIGNALS = ("psi", "js", "chi2")
QUALITY_SIGNALS = ("null_rate", "type_errors", "out_of_range", "unseen")
SIGNALS = ("psi", "js", "wasserstein", "ks", "chi2", *QUALITY_SIGNALS, "performance")


# -- profiles ------------------------------------------------------------------------------------
class NumericProfile(BaseModel):
    kind: Literal["numeric"] = "numeric"
    name: str
    type: str
    count: int = Field(description="Non-null values.")
    nulls: int
    min: float | None
    max: float | None
    mean: float | None
    std: float | None
    edges: list[float] = Field(
        description="Inner quantile bin edges; a value on an edge goes right."
    )
    counts: list[int] = Field(description="Reference values per bin (len(edges) + 1 bins).")


class CategoricalProfile(BaseModel):
    kind: Literal["categorical"] = "categorical"
    name: str
    type: str
    count: int
    nulls: int
    categories: dict[str, int] = Field(description="Frequency of each category, most common first.")
    other: int = Field(0, description="Values of categories beyond the kept ones.")


FeatureProfile = Annotated[NumericProfile | CategoricalProfile, Field(discriminator="kind")]


class Profile(BaseModel):
    source: str = Field(description="What was profiled (a data version ref or files).")
    rows: int
    features: dict[str, FeatureProfile]


# -- thresholds and results ----------------------------------------------------------------------
class Thresholds(BaseModel):
    """Effect floors: a signal breaches only above its floor *and* above the no-shift bound
    calibrated on the reference at the target's size (see :mod:`mlbench.monitoring.signals`)."""

    model_config = ConfigDict(extra="forbid")

    psi: float = Field(0.25, gt=0, description="Population stability index (decile bins).")
    psi_warning: float = Field(0.1, gt=0, description="PSI above this (and the bound) warns.")
    js: float = Field(0.1, gt=0, description="Jensen-Shannon distance, base 2 (0..1).")
    wasserstein: float = Field(0.1, gt=0, description="Wasserstein distance / reference std.")
    ks: float = Field(0.1, gt=0, le=1, description="Kolmogorov-Smirnov statistic D.")
    chi2: float = Field(0.1, gt=0, description="Cohen's w = sqrt(chi2 / n) over categories.")
    null_rate: float = Field(
        0.05, ge=0, le=1, description="Rise of the null rate over the reference."
    )
    type_errors: float = Field(
        0.0, ge=0, le=1, description="Share of values not of the reference's type."
    )
    out_of_range: float = Field(
        0.01, ge=0, le=1, description="Share outside the reference's min..max."
    )
    unseen: float = Field(
        0.01, ge=0, le=1, description="Share of categories the reference never had."
    )
    alpha: float = Field(
        0.001, gt=0, lt=0.5, description="No-shift bound: the statistic's 1-alpha quantile at n."
    )
    min_accuracy: float | None = Field(None, ge=0, le=1, description="Performance: classifiers.")
    max_rmse: float | None = Field(None, gt=0, description="Performance: regressors.")


class SignalResult(BaseModel):
    feature: str
    signal: str
    value: float | None
    threshold: float | None = Field(None, description="The effect floor.")
    bound: float | None = Field(None, description="The no-shift bound at the target's size.")
    error: float | None = Field(None, description="Largest error of a binned approximation.")
    method: str = ""
    p_value: float | None = None
    verdict: Verdict
    detail: str = ""


class FeatureResult(BaseModel):
    name: str
    kind: Literal["numeric", "categorical"]
    role: Literal["feature", "prediction", "label"] = "feature"
    reference_count: int
    target_count: int
    verdict: Verdict
    signals: list[SignalResult]
    # compact histograms for the report (shares per bin / category); no raw values
    reference_hist: list[float] = Field(default_factory=list)
    target_hist: list[float] = Field(default_factory=list)
    labels: list[str] = Field(default_factory=list)


class DriftReport(BaseModel):
    reference: str
    target: str
    reference_rows: int
    target_rows: int
    exact: bool = Field(description="KS and Wasserstein were exact (both sides small).")
    verdict: Verdict = Field(description="breached if any signal breached.")
    features: list[FeatureResult]
    missing: list[str] = Field(default_factory=list, description="Features the target lacks.")
    performance: dict[str, float] = Field(default_factory=dict)
    breaches: list[str] = Field(default_factory=list, description="feature:signal that breached.")
    created_at: datetime | None = None

    def signal_verdicts(self) -> dict[str, Verdict]:
        """The worst verdict of each signal over the features."""
        rank = {"skipped": 0, "ok": 1, "warning": 2, "breached": 3}
        out: dict[str, Verdict] = {}
        for f in self.features:
            for s in f.signals:
                if rank[s.verdict] > rank[out.get(s.signal, "skipped")]:
                    out[s.signal] = s.verdict
        return out


# -- monitors ------------------------------------------------------------------------------------
class TopFeatures(BaseModel):
    model_config = ConfigDict(extra="forbid")

    top: int = Field(ge=1, le=10_000, description="The N features most associated with label.")


class Reference(BaseModel):
    model_config = ConfigDict(extra="forbid")

    data: str | None = Field(None, description="A data asset version, name:VERSION.")
    model: str | None = Field(
        None, description="A model version (name:VERSION): its training data from its lineage."
    )

    @model_validator(mode="after")
    def _one(self) -> Reference:
        if (self.data is None) == (self.model is None):
            raise ValueError("give exactly one of data and model")
        return self


class Target(BaseModel):
    model_config = ConfigDict(extra="forbid")

    data: str | None = Field(
        None, description="name:VERSION, or name / name@latest (its newest version at each run)."
    )
    endpoint: str | None = Field(None, description="An endpoint: its request log over a window.")
    window_hours: float = Field(24.0, gt=0, le=24 * 366, description="Endpoint: the last hours.")

    @model_validator(mode="after")
    def _one(self) -> Target:
        if (self.data is None) == (self.endpoint is None):
            raise ValueError("give exactly one of data and endpoint")
        return self


class MonitorSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
    description: str = Field("", max_length=2000)
    reference: Reference
    target: Target
    features: Literal["all"] | list[str] | TopFeatures = "all"
    label: str | None = Field(
        None, max_length=256, description="Label column (performance, top N)."
    )
    prediction: str | None = Field(
        None, max_length=256, description="Prediction column (default mlbench_prediction)."
    )
    signals: list[str] = Field(
        default_factory=lambda: list(SIGNALS), description=f"Any of {', '.join(SIGNALS)}."
    )
    thresholds: Thresholds = Field(default_factory=Thresholds)
    schedule: dict[str, Any] | None = Field(
        None, description="A schedule trigger (cron or recurrence, timezone) to run it on."
    )
    experiment: str = Field(
        "monitors", max_length=256, description="MLflow experiment of its runs."
    )
    compute: str = Field(
        "local",
        max_length=64,
        description="Where the pass over the target runs: local (here), or a Ray target (split "
        "across its tasks; its workers must read the target's files).",
    )

    @model_validator(mode="after")
    def _signals(self) -> MonitorSpec:
        unknown = [s for s in self.signals if s not in SIGNALS]
        if unknown:
            raise ValueError(
                f"unknown signal(s) {', '.join(unknown)}; signals: {', '.join(SIGNALS)}"
            )
        if isinstance(self.features, TopFeatures) and not self.label:
            raise ValueError("features top N ranks features by their link to label: give label")
        return self


class MonitorInfo(BaseModel):
    id: str
    name: str
    description: str
    spec: MonitorSpec
    schedule_id: str | None = None
    created_at: datetime
    updated_at: datetime
    last_run: MonitorRunInfo | None = None


class MonitorRunInfo(BaseModel):
    id: str
    monitor_id: str
    status: Literal["running", "completed", "failed"]
    verdict: Verdict | None = None
    signals: dict[str, Verdict] = Field(default_factory=dict)
    breaches: list[str] = Field(default_factory=list)
    reference: str = ""
    target: str = ""
    target_rows: int | None = None
    error: str | None = None
    mlflow_run_id: str | None = None
    created_at: datetime
    finished_at: datetime | None = None


MonitorInfo.model_rebuild()


# -- REST shapes ---------------------------------------------------------------------------------
class MonitorList(BaseModel):
    items: list[MonitorInfo]


class MonitorRunList(BaseModel):
    items: list[MonitorRunInfo]


class SignalSeries(BaseModel):
    """One signal of one feature over a monitor's runs (aligned with ``MonitorSeries.runs``)."""

    feature: str
    signal: str
    threshold: float | None = Field(None, description="The effect floor of the newest run.")
    values: list[float | None] = Field(description="Per run; null where the run had no value.")
    verdicts: list[Verdict | None]


class MonitorSeries(BaseModel):
    """Every feature's signal values over a monitor's completed runs, oldest first: what the
    monitor's chart draws, read from the runs' stored reports in one request."""

    runs: list[MonitorRunInfo]
    series: list[SignalSeries]


class MonitorHtml(BaseModel):
    run_id: str
    html: str = Field(description="The static HTML report (no script, no raw rows).")


class DriftRequest(BaseModel):
    """A one-off comparison: each side a data version (name:VERSION) or a table file or folder
    (a path relative to the server root)."""

    model_config = ConfigDict(extra="forbid")

    reference: str = Field(min_length=1, max_length=4096)
    target: str = Field(min_length=1, max_length=4096)
    features: list[str] | None = None
    signals: list[str] | None = None
    thresholds: Thresholds = Field(default_factory=Thresholds)
    label: str | None = Field(None, max_length=256)
