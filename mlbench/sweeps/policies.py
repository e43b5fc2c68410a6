"""Early-termination policies: which running trials to stop, from the curves reported so far.

A trial's *curve* is its primary metric in the order it was reported; report ``k`` (1-based) is
*interval* ``k``. A policy is evaluated for a trial at interval ``k`` when ``k`` is a multiple of
``evaluation_interval`` (0 counts as 1) and ``k >= delay_evaluation`` (Azure: "delay 5 ... starting
at interval 5"). Azure ML's policies, with its semantics:

- ``bandit``: stop when the trial's value at ``k`` is not within the slack of the best value any
  trial reached by interval ``k``: for *maximize*, ``value < best / (1 + slack_factor)`` or
  ``value < best - slack_amount``; for *minimize*, ``value > best * (1 + slack_factor)`` or
  ``value > best + slack_amount``.
- ``median_stopping``: stop when the trial's best value so far is worse than the median of the
  other trials' running averages over their first ``k`` intervals (trials with at least ``k``).
- ``truncation_selection``: stop when the trial's value at ``k`` ranks in the lowest
  ``truncation_percentage`` % of the values every trial reported at ``k`` (finished trials
  included unless ``exclude_finished_jobs``); floor(n * percentage / 100) trials are cut.

And Optuna's ``hyperband`` and ``successive_halving`` pruners, fed the same reports through an
in-memory study. Every decision carries the rule and the numbers behind it.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Goal = Literal["maximize", "minimize"]


class EarlyTermination(BaseModel):
    """An early-termination policy, as Azure ML's job YAML writes it (``type`` plus its keys)."""

    model_config = ConfigDict(extra="forbid")

    type: Literal[
        "bandit", "median_stopping", "truncation_selection", "hyperband", "successive_halving"
    ]
    evaluation_interval: int = Field(1, ge=0, le=1_000_000)
    delay_evaluation: int = Field(0, ge=0, le=1_000_000)
    slack_factor: float | None = Field(None, ge=0, le=1e6)
    slack_amount: float | None = Field(None, ge=0, le=1e300)
    truncation_percentage: int | None = Field(None, ge=1, le=99)
    exclude_finished_jobs: bool = False
    min_resource: int | None = Field(
        None, ge=1, description="hyperband, successive_halving: intervals before the first cut."
    )
    max_resource: int | None = Field(
        None, ge=1, description="hyperband: intervals a full trial reports (its last step)."
    )
    reduction_factor: int = Field(3, ge=2, le=100)

    @model_validator(mode="after")
    def _keys(self) -> EarlyTermination:
        given = self.model_fields_set
        own = {
            "bandit": {"slack_factor", "slack_amount"},
            "median_stopping": set(),
            "truncation_selection": {"truncation_percentage", "exclude_finished_jobs"},
            "hyperband": {"min_resource", "max_resource", "reduction_factor"},
            "successive_halving": {"min_resource", "reduction_factor"},
        }[self.type]
        common = {"type", "evaluation_interval", "delay_evaluation"}
        fields = type(self).model_fields
        stray = sorted(k for k in given - own - common if getattr(self, k) != fields[k].default)
        if stray:
            raise ValueError(f"{self.type} does not take {', '.join(stray)}")
        if self.type == "bandit" and (self.slack_factor is None) == (self.slack_amount is None):
            raise ValueError("bandit needs exactly one of slack_factor or slack_amount")
        if self.type == "truncation_selection" and self.truncation_percentage is None:
            raise ValueError("truncation_selection needs truncation_percentage (1-99)")
        return self

    def evaluated_at(self, k: int) -> bool:
        return k >= max(self.delay_evaluation, 1) and k % max(self.evaluation_interval, 1) == 0


@dataclass
class Board:
    """What a policy sees: every trial's curve, which trials have ended, and the goal."""

    goal: Goal
    curves: dict[int, list[float]] = field(default_factory=dict)
    finished: set[int] = field(default_factory=set)

    def better(self, a: float, b: float) -> bool:
        return a > b if self.goal == "maximize" else a < b

    def best_of(self, values: list[float]) -> float | None:
        """The best finite value (a NaN a trial reported never counts), None if there is none."""
        finite = [v for v in values if math.isfinite(v)]
        if not finite:
            return None
        return max(finite) if self.goal == "maximize" else min(finite)


@dataclass
class Decision:
    """Why a trial is stopped: the rule and the numbers, for its record and its reason."""

    policy: str
    interval: int
    value: float
    threshold: float | None
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "interval": self.interval,
            "value": _json_float(self.value),
            "threshold": _json_float(self.threshold),
            "detail": self.detail,
        }


def _json_float(x: float | None) -> float | None:
    return x if x is None or math.isfinite(x) else None


class Policy:
    def __init__(self, config: EarlyTermination) -> None:
        self.config = config

    def evaluate(self, trial: int, k: int, board: Board) -> Decision | None:
        raise NotImplementedError

    def finished(self, trial: int, board: Board, stopped: bool) -> None:
        """A trial ended (completed, or stopped by this policy)."""


class Bandit(Policy):
    def evaluate(self, trial: int, k: int, board: Board) -> Decision | None:
        value = board.curves[trial][k - 1]
        reached = [b for c in board.curves.values() if (b := board.best_of(c[:k])) is not None]
        best = board.best_of(reached)
        if best is None or not math.isfinite(value):
            return None
        cfg = self.config
        maximize = board.goal == "maximize"
        if cfg.slack_factor is not None:
            f = cfg.slack_factor
            threshold = best / (1 + f) if maximize else best * (1 + f)
            rule = f"{best:.6g} / (1 + {f:g})" if maximize else f"{best:.6g} * (1 + {f:g})"
        else:
            a = cfg.slack_amount or 0.0
            threshold = best - a if maximize else best + a
            rule = f"{best:.6g} - {a:g}" if maximize else f"{best:.6g} + {a:g}"
        if not board.better(threshold, value):
            return None
        side = "below" if maximize else "above"
        return Decision(
            "bandit",
            k,
            value,
            threshold,
            f"bandit: {value:.6g} at interval {k} is {side} {rule} = {threshold:.6g} "
            f"(best by interval {k}: {best:.6g})",
        )


class MedianStopping(Policy):
    def evaluate(self, trial: int, k: int, board: Board) -> Decision | None:
        averages = [
            statistics.fmean(finite)
            for j, c in board.curves.items()
            if j != trial and len(c) >= k and (finite := [v for v in c[:k] if math.isfinite(v)])
        ]
        best = board.best_of(board.curves[trial][:k])
        if not averages or best is None:
            return None
        median = statistics.median(averages)
        if not board.better(median, best):
            return None
        side = "below" if board.goal == "maximize" else "above"
        return Decision(
            "median_stopping",
            k,
            best,
            median,
            f"median_stopping: best {best:.6g} by interval {k} is {side} the median "
            f"{median:.6g} of {len(averages)} other trial(s)' running averages",
        )


class TruncationSelection(Policy):
    def evaluate(self, trial: int, k: int, board: Board) -> Decision | None:
        cfg = self.config
        values = {
            j: c[k - 1]
            for j, c in board.curves.items()
            if len(c) >= k
            and math.isfinite(c[k - 1])
            and not (cfg.exclude_finished_jobs and j in board.finished and j != trial)
        }
        if trial not in values:
            return None
        cut = math.floor(len(values) * (cfg.truncation_percentage or 0) / 100)
        if cut < 1:
            return None
        sign = 1.0 if board.goal == "maximize" else -1.0
        order = sorted(values, key=lambda j: (sign * values[j], -j))  # worst first; ties: newer
        losers = order[:cut]
        if trial not in losers:
            return None
        threshold = values[order[cut]] if cut < len(order) else None
        return Decision(
            "truncation_selection",
            k,
            values[trial],
            threshold,
            f"truncation_selection: {values[trial]:.6g} at interval {k} is among the lowest "
            f"{cfg.truncation_percentage}% ({cut} of {len(values)} trials at interval {k})",
        )


class OptunaPruning(Policy):
    """Optuna's Hyperband or SuccessiveHalving pruner over an in-memory study of the reports."""

    def __init__(self, config: EarlyTermination, goal: Goal, name: str = "sweep") -> None:
        super().__init__(config)
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        if config.type == "hyperband":
            pruner: Any = optuna.pruners.HyperbandPruner(
                min_resource=config.min_resource or 1,
                max_resource=config.max_resource or "auto",
                reduction_factor=config.reduction_factor,
            )
        else:
            pruner = optuna.pruners.SuccessiveHalvingPruner(
                min_resource=config.min_resource or 1, reduction_factor=config.reduction_factor
            )
        self._optuna = optuna
        # Hyperband puts each trial in a bracket from a hash of the study's name and the trial's
        # number: a fixed name keeps a sweep's brackets the same after a restart
        self.study = optuna.create_study(study_name=name, direction=goal, pruner=pruner)
        self._trials: dict[int, Any] = {}
        self._reported: dict[int, int] = {}

    def _trial(self, index: int) -> Any:
        if index not in self._trials:
            self._trials[index] = self.study.ask()
            self._reported[index] = 0
        return self._trials[index]

    def _feed(self, index: int, curve: list[float], upto: int) -> Any:
        trial = self._trial(index)
        for step in range(self._reported[index] + 1, upto + 1):
            value = curve[step - 1]
            if math.isfinite(value):
                trial.report(value, step)
        self._reported[index] = max(self._reported[index], upto)
        return trial

    def evaluate(self, trial: int, k: int, board: Board) -> Decision | None:
        handle = self._feed(trial, board.curves[trial], k)
        if not handle.should_prune():
            return None
        value = board.curves[trial][k - 1]
        return Decision(
            self.config.type,
            k,
            value,
            None,
            f"{self.config.type}: {value:.6g} at interval {k} is not in the top "
            f"1/{self.config.reduction_factor} of the trials at its rung",
        )

    def finished(self, trial: int, board: Board, stopped: bool) -> None:
        curve = board.curves.get(trial, [])
        handle = self._feed(trial, curve, len(curve))
        state = self._optuna.trial.TrialState
        finite = [v for v in curve if math.isfinite(v)]
        if stopped:
            self.study.tell(handle, state=state.PRUNED)
        elif finite:
            self.study.tell(handle, finite[-1])
        else:
            self.study.tell(handle, state=state.FAIL)


def make_policy(config: EarlyTermination | None, goal: Goal, name: str = "sweep") -> Policy | None:
    """The policy of a sweep (``name``: its id, which seeds Hyperband's brackets)."""
    if config is None:
        return None
    if config.type == "bandit":
        return Bandit(config)
    if config.type == "median_stopping":
        return MedianStopping(config)
    if config.type == "truncation_selection":
        return TruncationSelection(config)
    return OptunaPruning(config, goal, name)


def parse_policy(raw: Mapping[str, Any] | str | None) -> EarlyTermination | None:
    if raw is None or raw in ("none", ""):
        return None
    if isinstance(raw, str):
        return EarlyTermination(type=raw.lower())  # type: ignore[arg-type]
    body = dict(raw)
    if isinstance(body.get("type"), str):
        body["type"] = body["type"].lower()
    return EarlyTermination.model_validate(body)


__all__ = [
    "Board",
    "Decision",
    "EarlyTermination",
    "Policy",
    "make_policy",
    "parse_policy",
]
