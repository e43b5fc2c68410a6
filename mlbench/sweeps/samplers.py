"""Samplers: the parameters of trial ``n`` of a sweep.

- ``random``: trial ``n``'s point is drawn from a generator seeded with (seed, n), so a seeded
  sweep is reproducible trial by trial, and a resumed sweep needs no saved state;
  ``rule: sobol`` takes the ``n``-th point of a scrambled Sobol sequence instead.
- ``grid``: trial ``n`` is the ``n``-th combination of the choices; each exactly once.
- ``bayesian``: Optuna's TPE through ask/tell on an in-memory study. mlbench's database is the
  store: after a restart the study is rebuilt from the recorded trials (their parameters, curves
  and outcomes), which costs nothing per trial while it runs.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np

from mlbench.sweeps.space import SearchSpace, grid_point, to_optuna

Ending = Literal["completed", "stopped", "failed"]


class Sampler:
    def params(self, index: int) -> dict[str, Any]:
        raise NotImplementedError

    def observe(self, index: int, ending: Ending, curve: list[float]) -> None:
        """A trial ended: ``completed`` (its last value is the objective), ``stopped`` early, or
        ``failed``."""

    def restore(self, index: int, params: dict[str, Any]) -> None:
        """A trial recorded before a restart (call :meth:`observe` after it when it ended)."""


class RandomSampler(Sampler):
    def __init__(self, space: SearchSpace, seed: int, rule: str = "random") -> None:
        self.space = space
        self.seed = seed
        self.rule = rule
        self._sobol: Any = None
        self._next = 0

    def _point(self, index: int) -> np.ndarray:
        if self.rule != "sobol":
            return np.random.default_rng([self.seed, index]).random(len(self.space))
        if self._sobol is None or index != self._next:
            from scipy.stats import qmc

            self._sobol = qmc.Sobol(len(self.space), scramble=True, seed=self.seed)
            if index:
                self._sobol.fast_forward(index)
        self._next = index + 1
        return np.asarray(self._sobol.random(1)[0])

    def params(self, index: int) -> dict[str, Any]:
        point = self._point(index)
        pairs = zip(self.space.items(), point, strict=True)
        return {name: expr.at(float(u)) for (name, expr), u in pairs}


class GridSampler(Sampler):
    def __init__(self, space: SearchSpace) -> None:
        self.space = space

    def params(self, index: int) -> dict[str, Any]:
        return grid_point(self.space, index)


class BayesianSampler(Sampler):
    def __init__(self, space: SearchSpace, seed: int, goal: str) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self._optuna = optuna
        self.distributions = {name: to_optuna(expr) for name, expr in space.items()}
        sampler = optuna.samplers.TPESampler(seed=seed, constant_liar=True)
        self.study = optuna.create_study(direction=goal, sampler=sampler)
        self._trials: dict[int, Any] = {}

    def params(self, index: int) -> dict[str, Any]:
        trial = self.study.ask(self.distributions)
        self._trials[index] = trial
        return dict(trial.params)

    def restore(self, index: int, params: dict[str, Any]) -> None:
        self.study.enqueue_trial(params, skip_if_exists=False)
        self._trials[index] = self.study.ask(self.distributions)

    def observe(self, index: int, ending: Ending, curve: list[float]) -> None:
        trial = self._trials.pop(index, None)
        if trial is None:
            return
        state = self._optuna.trial.TrialState
        finite = [v for v in curve if math.isfinite(v)]
        if ending == "completed" and finite:
            self.study.tell(trial, finite[-1])
            return
        if ending == "stopped":
            # TPE ranks a pruned trial by its last report: the curve goes in before the tell
            for step, value in enumerate(curve, start=1):
                if math.isfinite(value):
                    trial.report(value, step)
            self.study.tell(trial, state=state.PRUNED)
            return
        self.study.tell(trial, state=state.FAIL)


def make_sampler(algorithm: str, space: SearchSpace, seed: int, rule: str, goal: str) -> Sampler:
    if algorithm == "grid":
        return GridSampler(space)
    if algorithm == "bayesian":
        return BayesianSampler(space, seed, goal)
    return RandomSampler(space, seed, rule)


__all__ = ["BayesianSampler", "GridSampler", "RandomSampler", "Sampler", "make_sampler"]
