"""Sweeps: search spaces, samplers and policies on hand-computed cases, then real sweeps whose
trials are jobs on real kernels (policies stopping trials, resume after an agent SIGKILL, bad
configurations refused with nothing created, the CLI)."""

from __future__ import annotations

import json
import math
import os
import signal
import statistics
from pathlib import Path
from typing import Any

import pytest

from mlbench.errors import InvalidInputError, MlbenchError
from mlbench.sweeps.policies import Board, EarlyTermination, make_policy
from mlbench.sweeps.samplers import BayesianSampler, GridSampler, RandomSampler
from mlbench.sweeps.service import parse_sweep
from mlbench.sweeps.space import check_against_parameters, grid_size, parse_space
from tests.conftest import make_notebook, run_cli
from tests.test_jobs import WAIT, wait_for

CURVE = (
    "import math, time, mlbench\n"
    "for t in range(1, steps + 1):\n"
    "    mlbench.log_metric('acc', quality * (1 - math.exp(-t / 2)), step=t)\n"
    "    time.sleep(pause)"
)
CURVE_PARAMS = "quality: float = 0.5\nsteps: int = 6\npause: float = 0.2\nlabel: str = 'x'"


@pytest.fixture
def curve_nb(tmp_path: Path) -> Path:
    return make_notebook(tmp_path / "curve.ipynb", CURVE, parameters=CURVE_PARAMS)


# -- search spaces -----------------------------------------------------------------------------
def test_expressions_in_azure_yaml_and_call_forms_have_azure_semantics() -> None:
    space = parse_space(
        {
            "lr": {"type": "LogUniform", "min_value": -6, "max_value": -1},
            "bs": "choice(16, 32, 64)",
            "layers": {"type": "randint", "upper": 4},
            "drop": "quniform(0, 1, 0.25)",
            "wd": "lognormal(0, 1)",
            "opt": ["adam", "sgd"],
        }
    )
    lr = space["lr"]
    assert lr.at(0.0) == pytest.approx(math.exp(-6)) and lr.at(0.999999) <= math.exp(-1)
    assert lr.at(0.5) == pytest.approx(math.exp(-3.5))  # exp(U(min, max)): bounds are logs
    assert [space["bs"].at(u) for u in (0.0, 0.4, 0.9)] == [16, 32, 64]
    assert {space["layers"].at(u / 10) for u in range(10)} == {0, 1, 2, 3}  # [0, upper)
    assert space["drop"].at(0.3) == 0.25 and space["drop"].at(0.99) == 1.0  # round(x/q)*q
    assert space["wd"].at(0.5) == pytest.approx(1.0)  # exp(N(0, 1)) at its median
    assert space["opt"].type == "choice"
    assert space["lr"].describe() == "loguniform(-6, -1)"


@pytest.mark.parametrize(
    "raw, message",
    [
        ({"x": "uniform(1, 0)"}, "min_value must be below max_value"),
        ({"x": "uniform(0)"}, "uniform needs max_value"),
        ({"x": "gamma(1, 2)"}, "unknown expression 'gamma'"),
        ({"x": {"type": "choice", "values": []}}, "choice needs between 1"),
        ({"x": {"type": "randint", "upper": 3, "q": 1}}, "randint takes upper, not q"),
        ({"x": "uniform(0, 1"}, "cannot read"),
        ({"x": 3}, "has no expression"),
    ],
)
def test_bad_expressions_name_the_parameter_and_the_fix(raw: Any, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message) as err:
        parse_space(raw)
    assert "'x'" in err.value.message and err.value.hint


def test_expressions_are_checked_against_the_notebooks_types(curve_nb: Path) -> None:
    import nbformat

    from mlbench.jobs.parameters import notebook_parameters

    declared, _ = notebook_parameters(nbformat.read(curve_nb, as_version=4))
    check_against_parameters(
        parse_space({"quality": "uniform(0, 1)", "steps": "randint(5)", "label": "choice('a')"}),
        declared,
    )
    for raw, message in [
        ({"steps": "uniform(1, 5)"}, "'steps' is an int but uniform"),
        ({"label": "uniform(0, 1)"}, "'label' is a str; uniform gives numbers"),
        ({"label": "choice('a', 2)"}, "'label' is a str but choice"),
        ({"quality": "choice(0.1, 'high')"}, "'quality' is a float but choice"),
        ({"epochs": "randint(3)"}, "the notebook has no parameter 'epochs'"),
    ]:
        with pytest.raises(InvalidInputError, match=message):
            check_against_parameters(parse_space(raw), declared)


# -- samplers ----------------------------------------------------------------------------------
def test_grid_enumerates_each_combination_exactly_once() -> None:
    space = parse_space({"a": "choice(1, 2, 3)", "b": "randint(2)", "c": "choice('x', 'y')"})
    assert grid_size(space) == 12
    grid = GridSampler(space)
    seen = [tuple(grid.params(i).values()) for i in range(12)]
    assert len(set(seen)) == 12
    assert set(seen) == {(a, b, c) for a in (1, 2, 3) for b in (0, 1) for c in ("x", "y")}


def test_random_with_a_seed_is_reproducible_trial_by_trial() -> None:
    space = parse_space({"lr": "loguniform(-6, -1)", "bs": "choice(16, 32, 64)"})
    first = [RandomSampler(space, 42).params(i) for i in range(20)]
    # a resumed sweep asks for trial 13 first: it gets the same values
    again = RandomSampler(space, 42)
    assert again.params(13) == first[13] and again.params(2) == first[2]
    assert [RandomSampler(space, 43).params(i) for i in range(20)] != first
    sobol = RandomSampler(space, 42, "sobol")
    points = [sobol.params(i) for i in range(8)]
    assert RandomSampler(space, 42, "sobol").params(5) == points[5]
    assert points != first[:8]


def _smooth(params: dict[str, float]) -> float:
    return -((params["x"] - 0.3) ** 2) - (params["y"] - 0.7) ** 2


def test_bayesian_beats_random_on_a_smooth_objective_at_the_same_budget() -> None:
    space = parse_space({"x": "uniform(0, 1)", "y": "uniform(0, 1)"})
    budget, seeds = 40, range(5)
    best_random, best_tpe = [], []
    for seed in seeds:
        rnd = RandomSampler(space, seed)
        best_random.append(max(_smooth(rnd.params(i)) for i in range(budget)))
        tpe = BayesianSampler(space, seed, "maximize")
        values = []
        for i in range(budget):
            value = _smooth(tpe.params(i))
            tpe.observe(i, "completed", [value])
            values.append(value)
        best_tpe.append(max(values))
    # regret (distance to the optimum 0) is smaller on average and on most seeds
    assert statistics.fmean(best_tpe) > statistics.fmean(best_random)
    assert sum(t > r for t, r in zip(best_tpe, best_random, strict=True)) >= 3


def test_bayesian_refuses_what_tpe_cannot_sample() -> None:
    with pytest.raises(InvalidInputError, match="bayesian sampling does not support normal"):
        BayesianSampler(parse_space({"x": "normal(0, 1)"}), 0, "maximize")


# -- policies on hand-computed cases -----------------------------------------------------------
def _decide(config: dict[str, Any], curves: dict[int, list[float]], trial: int, k: int, **kw: Any):
    board = Board(goal=kw.pop("goal", "maximize"), curves=curves, finished=kw.pop("done", set()))
    return make_policy(EarlyTermination.model_validate(config), board.goal).evaluate(
        trial, k, board
    )


def test_bandit_slack_factor_stops_below_best_over_one_plus_slack() -> None:
    bandit = {"type": "bandit", "slack_factor": 0.2}
    best = [0.5, 0.8]
    # best by interval 2 is 0.8: the threshold is 0.8 / 1.2 = 0.6667
    stop = _decide(bandit, {0: best, 1: [0.4, 0.66]}, 1, 2)
    assert stop is not None and stop.threshold == pytest.approx(0.8 / 1.2)
    assert "0.66 at interval 2 is below 0.8 / (1 + 0.2) = 0.666667" in stop.detail
    assert _decide(bandit, {0: best, 1: [0.4, 0.67]}, 1, 2) is None
    # only what was reached by interval k counts: at interval 1 the best is 0.5
    assert _decide(bandit, {0: best, 1: [0.42]}, 1, 1) is None  # 0.42 > 0.5 / 1.2
    assert _decide(bandit, {0: best, 1: [0.41]}, 1, 1) is not None


def test_bandit_slack_amount_and_minimize() -> None:
    bandit = {"type": "bandit", "slack_amount": 0.1}
    # minimize: best 0.3, allowed up to 0.4
    assert _decide(bandit, {0: [0.3], 1: [0.41]}, 1, 1, goal="minimize") is not None
    assert _decide(bandit, {0: [0.3], 1: [0.39]}, 1, 1, goal="minimize") is None
    factor = {"type": "bandit", "slack_factor": 0.5}
    assert _decide(factor, {0: [2.0], 1: [3.1]}, 1, 1, goal="minimize") is not None  # > 3.0
    assert _decide(factor, {0: [2.0], 1: [2.9]}, 1, 1, goal="minimize") is None


def test_median_stopping_compares_best_with_the_median_of_running_averages() -> None:
    median = {"type": "median_stopping"}
    others = {0: [0.5, 0.7], 1: [0.2, 0.4], 2: [0.8, 0.9]}  # averages 0.6, 0.3, 0.85
    stop = _decide(median, {**others, 3: [0.5, 0.55]}, 3, 2)
    assert stop is not None and stop.threshold == pytest.approx(0.6)
    assert _decide(median, {**others, 3: [0.65, 0.5]}, 3, 2) is None  # best 0.65 > 0.6
    assert _decide(median, {3: [0.1]}, 3, 1) is None  # nobody to compare with


def test_truncation_selection_cuts_the_lowest_percentage_at_the_interval() -> None:
    trunc = {"type": "truncation_selection", "truncation_percentage": 40}
    curves = {0: [0.9], 1: [0.7], 2: [0.5], 3: [0.3], 4: [0.1]}  # floor(5 * 0.4) = 2 cut
    assert _decide(trunc, curves, 4, 1) is not None
    assert _decide(trunc, curves, 3, 1) is not None
    assert _decide(trunc, curves, 2, 1) is None
    # excluding finished trials: 3 remain, floor(3 * 0.4) = 1 cut (the worst of them)
    excl = {**trunc, "exclude_finished_jobs": True}
    assert _decide(excl, curves, 3, 1, done={0, 1}) is None
    assert _decide(excl, curves, 4, 1, done={0, 1}) is not None


def test_evaluation_interval_and_delay_follow_azure() -> None:
    policy = EarlyTermination(type="median_stopping", evaluation_interval=2, delay_evaluation=5)
    assert [k for k in range(1, 12) if policy.evaluated_at(k)] == [6, 8, 10]
    every = EarlyTermination(type="median_stopping", evaluation_interval=0)
    assert [k for k in range(1, 4) if every.evaluated_at(k)] == [1, 2, 3]


def test_hyperband_prunes_the_poor_trials_at_a_rung() -> None:
    config = {"type": "hyperband", "min_resource": 1, "max_resource": 9, "reduction_factor": 3}
    policy = make_policy(EarlyTermination.model_validate(config), "maximize")
    assert policy is not None
    board = Board(goal="maximize")
    stopped = 0
    for trial in range(12):
        quality = 1.0 - trial / 12
        board.curves[trial] = []
        for k in range(1, 10):
            board.curves[trial].append(quality * k / 9)
            if policy.evaluate(trial, k, board) is not None:
                stopped += 1
                break
        board.finished.add(trial)
        policy.finished(trial, board, stopped=len(board.curves[trial]) < 9)
    assert stopped >= 4


def test_a_nan_in_any_curve_never_decides_for_another_trial() -> None:
    nan = float("nan")
    bandit = {"type": "bandit", "slack_factor": 0.2}
    for order in ((0, 1), (1, 0)):  # the NaN curve first or not: the same decision
        curves = {order[0]: [nan, 0.2], order[1]: [0.9, 0.9], 2: [0.3, 0.3]}
        stop = _decide(bandit, curves, 2, 1)
        assert stop is not None and stop.threshold == pytest.approx(0.75)
    median = {"type": "median_stopping"}
    for first in (0, 1):
        curves = {first: [nan, 0.9, 0.9], 1 - first: [0.5] * 3, 2: [0.1] * 3, 3: [0.8] * 3}
        stop = _decide(median, curves, 2, 2)
        assert stop is not None and stop.threshold == pytest.approx(0.8)
    trunc = {"type": "truncation_selection", "truncation_percentage": 40}
    curves = {0: [nan], 1: [0.7], 2: [0.5], 3: [0.3], 4: [0.1], 5: [0.9]}
    assert _decide(trunc, curves, 0, 1) is None  # a NaN report is not ranked
    assert _decide(trunc, curves, 4, 1) is not None


def test_hyperband_brackets_are_the_same_for_the_same_sweep() -> None:
    config = EarlyTermination.model_validate(
        {"type": "hyperband", "min_resource": 2, "max_resource": 12, "reduction_factor": 3}
    )

    def stops(name: str) -> list[int]:
        policy = make_policy(config, "maximize", name)
        assert policy is not None
        board, out = Board(goal="maximize"), []
        for trial in range(20):
            board.curves[trial] = []
            for k in range(1, 13):
                board.curves[trial].append(((trial * 7) % 11) / 11 * k / 12)
                if policy.evaluate(trial, k, board) is not None:
                    out.append(trial)
                    break
            board.finished.add(trial)
            policy.finished(trial, board, stopped=trial in out)
        return out

    assert stops("sweep-a") == stops("sweep-a")


@pytest.mark.parametrize(
    "change, message",
    [
        ({"sampling_algorithm": "grid", "search_space": {"q": "uniform(0, 1)"}}, "continuous"),
        ({"early_termination": {"type": "bandit"}}, "exactly one of slack_factor"),
        ({"early_termination": {"type": "bandit", "slack_factor": 0.1, "foo": 1}}, "foo"),
        ({"limits": {"max_total_trials": 0}}, "max_total_trials"),
        ({"objective": {"primary_metric": "acc", "goal": "up"}}, "goal"),
        ({"type": "command"}, "a sweep file has type: sweep"),
        ({"trial": "train.yml"}, "names a job file; give the trial inline"),
    ],
)
def test_bad_configurations_are_clear_errors(change: dict[str, Any], message: str) -> None:
    base = {
        "notebook": "nb.ipynb",
        "search_space": {"q": "uniform(0, 1)"},
        "objective": {"primary_metric": "acc", "goal": "maximize"},
    }
    with pytest.raises(InvalidInputError, match=message):
        spec = parse_sweep({**base, **change})
        if spec.sampling_algorithm.type == "grid":
            grid_size(spec.search_space)


# -- real sweeps -------------------------------------------------------------------------------
def _sweep(**changes: Any) -> dict[str, Any]:
    return {
        "objective": {"primary_metric": "acc", "goal": "maximize"},
        **changes,
    }


def test_bandit_sweep_stops_the_poor_trials_within_a_report(module_ws: Any, curve_nb: Path) -> None:
    ws = module_ws
    sweep = ws.sweeps.submit(
        _sweep(
            notebook=str(curve_nb),
            parameters={"steps": 8, "pause": 0.5},
            search_space={"quality": "choice(1.0, 0.3, 0.9, 0.2)"},
            sampling_algorithm="grid",
            early_termination={"type": "bandit", "slack_factor": 0.2, "delay_evaluation": 2},
            limits={"max_concurrent_trials": 1},  # trial 0 sets the best at every interval
        )
    )
    info = sweep.wait(WAIT).info
    assert info.status.value == "completed", info.status_reason
    trials = sweep.trials()
    assert [t.parameters["quality"] for t in trials] == [1.0, 0.3, 0.9, 0.2]
    assert [t.status.value for t in trials] == [
        "completed",
        "early_terminated",
        "completed",
        "early_terminated",
    ]
    best_by_2 = 1.0 * (1 - math.exp(-1))  # trial 0 at step 2
    for t in (trials[1], trials[3]):
        assert t.termination is not None and t.termination.policy == "bandit"
        assert t.termination.interval == 2
        assert t.termination.threshold == pytest.approx(best_by_2 / 1.2)
        # stopped at once: at most a couple more reports after the one that triggered it
        assert t.reports <= 4, t.reports
        job = ws.jobs.info(t.job_id)
        assert job.status.value == "early_terminated" and job.error is None
        assert job.termination is not None and "bandit" in job.status_reason
        assert job.parent is not None and job.parent.id == info.id
    assert info.best_trial == 0 and info.best_value == pytest.approx(1 - math.exp(-4))
    assert info.counts.completed == 2 and info.counts.early_terminated == 2
    assert sweep.best_trial is not None and sweep.best_trial.parameters == {"quality": 1.0}
    frame = sweep.trials_dataframe()
    assert list(frame["params.quality"]) == [1.0, 0.3, 0.9, 0.2]
    assert frame["stopped_by"].notna().sum() == 2
    # MLflow: a parent run with the best trial, a child run per trial
    client = ws.tracking.client
    parent = client.get_run(info.mlflow_run_id)
    assert parent.info.status == "FINISHED"
    assert parent.data.params["best.quality"] == "1.0"
    assert parent.data.metrics["acc"] == pytest.approx(info.best_value)
    children = client.search_runs(
        [info.mlflow_experiment_id], f"tags.mlflow.parentRunId = '{info.mlflow_run_id}'"
    )
    assert sorted(c.info.status for c in children) == ["FINISHED", "FINISHED", "KILLED", "KILLED"]


def test_limits_hold_and_a_target_value_ends_the_sweep(module_ws: Any, curve_nb: Path) -> None:
    ws = module_ws
    sweep = ws.sweeps.submit(
        _sweep(
            notebook=str(curve_nb),
            parameters={"steps": 2, "pause": 0.05},
            search_space={"quality": "uniform(0, 1)"},
            sampling_algorithm={"type": "random", "seed": 3},
            limits={"max_total_trials": 5, "max_concurrent_trials": 1},
        )
    )
    seen_running: set[int] = set()

    def done() -> bool:
        running = [t for t in sweep.trials() if t.status.value in ("starting", "running")]
        seen_running.add(len(running))
        return sweep.status.is_final

    wait_for(done, timeout=WAIT, interval=0.05)
    assert max(seen_running) <= 1
    info = sweep.info
    assert info.trial_count == 5 and len(sweep.trials()) == 5
    # the same seed gives the same trials
    again = ws.sweeps.submit(
        {**info.spec.model_dump(exclude={"limits"}), "limits": {"max_total_trials": 5}}
    )
    assert [t.parameters for t in again.wait(WAIT).trials()] == [
        t.parameters for t in sweep.trials()
    ]
    # a target any trial reaches ends the sweep after its first trial
    hit = ws.sweeps.submit(
        _sweep(
            notebook=str(curve_nb),
            parameters={"steps": 1, "pause": 0.0},
            search_space={"quality": "uniform(0.5, 1)"},
            limits={"max_total_trials": 20, "max_concurrent_trials": 1, "target_value": 0.01},
        )
    ).wait(WAIT)
    assert hit.info.trial_count == 1 and "reached the target value" in hit.info.status_reason


def test_bad_sweeps_are_refused_with_nothing_created(module_ws: Any, curve_nb: Path) -> None:
    ws = module_ws
    before = (len(ws.sweeps.list(limit=1000).items), len(ws.jobs.list(limit=1000)))
    base = _sweep(notebook=str(curve_nb), search_space={"quality": "uniform(0, 1)"})
    cases = [
        ({"search_space": {"steps": "uniform(1, 9)"}}, "'steps' is an int"),
        ({"search_space": {"epochs": "randint(3)"}}, "no parameter 'epochs'"),
        ({"parameters": {"quality": 0.5}}, "both fixed and in the search space"),
        ({"compute": "nowhere"}, "nowhere"),
        ({"parameters": {"steps": "many"}}, "steps"),
        ({"notebook": str(curve_nb.with_name("missing.ipynb"))}, "missing.ipynb"),
        (
            {"sampling_algorithm": "bayesian", "search_space": {"quality": "normal(0, 1)"}},
            "bayesian sampling does not support normal",
        ),
    ]
    for change, message in cases:
        with pytest.raises(MlbenchError, match=message):
            ws.sweeps.submit({**base, **change})
    after = (len(ws.sweeps.list(limit=1000).items), len(ws.jobs.list(limit=1000)))
    assert after == before
    assert not (ws.home / "sweeps").exists() or all(
        (ws.home / "sweeps" / s.id).exists() for s in ws.sweeps.list(limit=1000).items
    )


def test_agent_sigkill_mid_sweep_resumes_with_exactly_max_total_trials(
    tmp_path: Path, curve_nb: Path
) -> None:
    from mlbench import Workspace

    ws = Workspace(tmp_path / "ws", agent_idle_timeout_s=60, cancel_grace_s=2)
    try:
        sweep = ws.sweeps.submit(
            _sweep(
                notebook=str(curve_nb),
                parameters={"steps": 4, "pause": 0.3},
                search_space={"quality": "uniform(0, 1)"},
                sampling_algorithm={"type": "bayesian", "seed": 1},
                early_termination={"type": "median_stopping", "delay_evaluation": 2},
                limits={"max_total_trials": 7, "max_concurrent_trials": 2},
            )
        )
        wait_for(lambda: sum(t.recorded for t in sweep.trials()) >= 2, timeout=WAIT)
        wait_for(lambda: any(t.status.value == "running" for t in sweep.trials()))
        pid = int(wait_for(lambda: (ws.jobs.agent("local").info() or {}).get("pid")))
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: not ws.jobs.agent("local").is_running())
        ws.jobs.agent("local").ensure_running(wait=True)
        info = sweep.wait(WAIT).info
        assert info.status.value == "completed", info.status_reason
        trials = sweep.trials()
        assert [t.index for t in trials] == list(range(7)) and info.trial_count == 7
        assert len({t.job_id for t in trials}) == 7 and all(t.recorded for t in trials)
        jobs = ws.jobs.list(limit=100)
        assert sorted(j.id for j in jobs) == sorted(t.job_id for t in trials)
        # the trials the dead agent was running ended with that reason; none was lost
        lost = [t for t in trials if ws.jobs.info(t.job_id).error is not None]
        assert all(ws.jobs.info(t.job_id).error.kind == "agent_lost" for t in lost)
        assert info.best_trial is not None
    finally:
        ws.jobs.agent("local").stop(now=True, timeout=30)
        ws.close()


def test_cli_submits_shows_and_lists_trials(tmp_path: Path, curve_nb: Path) -> None:
    home = tmp_path / "cli-ws"
    bad = run_cli(home, "sweep", "submit", str(curve_nb), "--space", "steps=uniform(1, 4)")
    assert bad.returncode == 2 and "needs an objective" in bad.stderr and "--metric" in bad.stderr
    metric = ("--metric", "acc", "--goal", "max")
    bad = run_cli(home, "sweep", "submit", str(curve_nb), "--space", "steps=uniform(1, 4)", *metric)
    assert bad.returncode == 2 and "'steps' is an int" in bad.stderr
    made = run_cli(
        home,
        "sweep",
        "submit",
        str(curve_nb),
        "--space",
        "quality=choice(0.2, 0.8)",
        "--sampler",
        "grid",
        "--metric",
        "acc",
        "--goal",
        "max",
        "-p",
        "steps",
        "2",
        "-p",
        "pause",
        "0",
        "--watch",
    )
    assert made.returncode == 0, made.stderr
    assert "trial 0: completed" in made.stdout and "best" in made.stdout
    listed = json.loads(run_cli(home, "sweep", "list", "--json").stdout)
    sweep_id = listed["items"][0]["id"]
    assert listed["items"][0]["status"] == "completed"
    trials = json.loads(run_cli(home, "sweep", "trials", sweep_id, "--json").stdout)["items"]
    assert [t["parameters"]["quality"] for t in trials] == [0.2, 0.8]
    shown = run_cli(home, "sweep", "show", sweep_id)
    assert "best" in shown.stdout and "quality=0.8" in shown.stdout
    assert run_cli(home, "agent", "stop", "--now").returncode in (0, 1)


def test_sweeps_page_newest_first(tmp_path: Path, curve_nb: Path) -> None:
    from mlbench import Workspace

    ws = Workspace(tmp_path / "ws")
    try:
        made = [
            ws.sweeps.submit(
                _sweep(notebook=str(curve_nb), search_space={"quality": "uniform(0, 1)"}),
                start_agent=False,
            ).id
            for _ in range(3)
        ]
        first = ws.sweeps.list(limit=2)
        assert [s.id for s in first.items] == made[:0:-1] and first.next_cursor
        second = ws.sweeps.list(limit=2, cursor=first.next_cursor)
        assert [s.id for s in second.items] == [made[0]] and second.next_cursor is None
    finally:
        ws.close()
