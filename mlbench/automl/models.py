"""Pydantic models of AutoML: what is asked (``AutoMLSettings``) and what is reported."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from mlbench.validation import FiniteFloat

Task = Literal["classification", "regression", "forecasting"]
GuardrailStatus = Literal["Passed", "Done", "Alerted"]

# FLAML's metric names; "higher is better" ones are reported as scores, the rest as errors
SCORE_METRICS = {
    "classification": ("accuracy", "roc_auc", "roc_auc_ovr", "f1", "micro_f1", "macro_f1", "ap"),
    "regression": ("r2",),
    "forecasting": ("r2",),
}
ERROR_METRICS = {
    "classification": ("log_loss",),
    "regression": ("rmse", "mae", "mse", "mape"),
    "forecasting": ("mape", "rmse", "mae", "mse"),
}
DEFAULT_METRIC = {"classification": "accuracy", "regression": "r2", "forecasting": "mape"}
_TREES = ("lgbm", "rf", "xgboost", "extra_tree", "xgb_limitdepth")
ESTIMATORS = {
    "classification": (*_TREES, "lrl1", "lrl2", "kneighbor"),
    "regression": (*_TREES, "kneighbor"),
    # FLAML's statistical ones (arima, sarimax, holt-winters, prophet) need statsmodels/prophet
    "forecasting": (*_TREES, "arima", "sarimax", "holt-winters", "prophet"),
}


def higher_is_better(metric: str) -> bool:
    return any(metric in names for names in SCORE_METRICS.values())


class AutoMLSettings(BaseModel):
    """An AutoML run: which column to predict, how, and within which limits."""

    model_config = ConfigDict(extra="forbid")

    task: Task
    target: str = Field(min_length=1, max_length=256, description="The column to predict.")
    metric: str | None = Field(
        None,
        description="Primary metric (FLAML's names: accuracy, roc_auc, log_loss, f1, r2, rmse, "
        "mae, mape...). Default: accuracy (classification), r2 (regression), mape "
        "(forecasting).",
    )
    budget_s: FiniteFloat = Field(60, gt=0, le=7 * 24 * 3600, description="Search time budget.")
    max_trials: int | None = Field(None, ge=1, le=100_000, description="Default: no limit.")
    concurrency: int = Field(
        1,
        ge=1,
        le=256,
        description="Trials at once (more than one: Ray Tune trials on the job's Ray cluster; "
        "a Ray compute target only).",
    )
    estimators: list[str] | None = Field(None, description="Default: FLAML's choice.")
    cv_below_rows: int = Field(
        20_000, ge=0, description="Cross-validation below this many rows, else a holdout split."
    )
    cv_folds: int = Field(5, ge=2, le=20)
    holdout_ratio: FiniteFloat = Field(0.1, gt=0, lt=1)
    exit_score: FiniteFloat | None = Field(
        None, description="Stop the search once the best trial reaches this metric value."
    )
    seed: int = Field(0, ge=0, lt=2**31)
    time_column: str | None = Field(
        None,
        min_length=1,
        max_length=256,
        description="forecasting: the column of timestamps (one row per time step).",
    )
    horizon: int | None = Field(
        None, ge=1, le=100_000, description="forecasting: how many time steps ahead to predict."
    )

    @model_validator(mode="after")
    def _metric(self) -> AutoMLSettings:
        if self.task == "forecasting":
            if self.time_column is None or self.horizon is None:
                raise ValueError(
                    "forecasting needs time_column (the timestamps) and horizon (steps ahead)"
                )
            if self.time_column == self.target:
                raise ValueError("time_column and target must be different columns")
        elif self.time_column is not None or self.horizon is not None:
            raise ValueError("time_column and horizon are for task forecasting only")
        allowed = (*SCORE_METRICS[self.task], *ERROR_METRICS[self.task])
        if self.metric is None:
            self.metric = DEFAULT_METRIC[self.task]
        elif self.metric not in allowed:
            raise ValueError(
                f"metric {self.metric!r} does not fit {self.task}; use one of {', '.join(allowed)}"
            )
        known = ESTIMATORS[self.task]
        for name in self.estimators or []:
            if name not in known:
                raise ValueError(
                    f"estimator {name!r} does not fit {self.task}; use one of {', '.join(known)}"
                )
        if self.estimators == []:
            raise ValueError("estimators: give at least one, or leave it unset")
        return self

    @property
    def primary_metric(self) -> str:
        assert self.metric is not None  # set by the validator
        return self.metric


class AutoMLGuardrail(BaseModel):
    """One data check, reported as Azure ML's guardrails are: Passed, Done (mlbench changed the
    data to fix it) or Alerted (a problem mlbench cannot fix for you)."""

    name: str
    status: GuardrailStatus
    message: str
    columns: list[str] = Field(default_factory=list)


class AutoMLTrial(BaseModel):
    """One configuration FLAML tried (an MLflow child run of the AutoML run)."""

    number: int
    run_id: str | None = None
    estimator: str
    score: float | None = Field(None, description="The primary metric on validation data.")
    validation_loss: float
    trial_time_s: float
    wall_clock_s: float = Field(description="Seconds since the search began, at its end.")
    sample_size: int
    config: dict[str, float | int | str | bool | None] = Field(default_factory=dict)


class AutoMLRunInfo(BaseModel):
    """An AutoML job as every face shows it."""

    job_id: str
    status: str
    run_id: str | None
    data: str | None = Field(None, description="The data version it trained on.")
    settings: AutoMLSettings
    guardrails: list[AutoMLGuardrail] = Field(default_factory=list)
    trials: int = 0
    best_estimator: str | None = None
    best_score: float | None = None
    best_config: dict[str, float | int | str | bool | None] = Field(default_factory=dict)
    search_time_s: float | None = None
    validation: str | None = Field(None, description="cv (k folds) or holdout.")
    model: str | None = Field(None, description="The registered model version (NAME:VERSION).")
    error: str | None = None


class AutoMLRequest(AutoMLSettings):
    """An AutoML run to submit (REST): the settings, the table and where to run."""

    data: str = Field(min_length=1, max_length=200, description="Table asset: NAME[:VERSION].")
    model_name: str | None = Field(
        None, max_length=128, description="Register the best model as (default: ASSET-automl)."
    )
    compute: str = Field("local", min_length=1, max_length=64)
    environment: str | None = Field(None, min_length=1, max_length=200)


class AutoMLRunList(BaseModel):
    items: list[AutoMLRunInfo]


class AutoMLTrialList(BaseModel):
    items: list[AutoMLTrial]
