"""mlbench.tracking.query against a real MLflow SQLite store: experiments, runs, histories."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mlbench.errors import InvalidInputError, NotFoundError
from mlbench.tracking.client import TrackingClient
from mlbench.tracking.query import TrackingQueries, downsample_indices
from mlbench.tracking.series import RECORD
from tests import test_postgres

postgres_url = test_postgres.postgres_url  # a real PostgreSQL server (skips without one)


# -- downsampling (pure) -----------------------------------------------------------------------
@pytest.mark.parametrize("n", [0, 1, 5, 10])
def test_short_series_are_kept_whole(n: int) -> None:
    assert downsample_indices(np.arange(n, dtype=float), 10).tolist() == list(range(n))


@pytest.mark.parametrize(("n", "max_points"), [(11, 10), (1000, 10), (100_000, 1000), (12345, 7)])
def test_downsampling_bounds_and_keeps_extremes(n: int, max_points: int) -> None:
    rng = np.random.default_rng(n)
    values = rng.normal(size=n).cumsum()
    spike, dip = n // 3, (2 * n) // 3
    values[spike], values[dip] = 1e6, -1e6
    keep = downsample_indices(values, max_points)
    assert len(keep) <= max_points
    assert keep[0] == 0 and keep[-1] == n - 1
    assert np.all(np.diff(keep) > 0)  # sorted, no duplicates
    assert spike in keep and dip in keep
    assert values[keep].max() == values.max() and values[keep].min() == values.min()


def test_downsampling_skips_nans_unless_alone() -> None:
    values = np.full(1000, np.nan)
    values[500] = 3.0
    keep = downsample_indices(values, 10)
    assert 500 in keep and len(keep) <= 10


def test_downsampling_refuses_tiny_budgets() -> None:
    with pytest.raises(ValueError):
        downsample_indices(np.arange(100.0), 2)


# -- queries against a store -------------------------------------------------------------------
@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    base: Path = tmp_path_factory.mktemp("mlflow")
    tracking = TrackingClient(f"sqlite:///{base / 'mlflow.db'}", (base / "artifacts").as_uri())
    exp_id, a = tracking.start_run(
        "query-exp", "a", {"mlbench.job_id": "job-a", "mlbench.attempt": "1"}, {"lr": 0.1}
    )
    _, b = tracking.start_run("query-exp", "b", {"team": "x"}, {"lr": 0.2, "depth": 3})
    _, c = tracking.start_run("query-exp", "c", {}, {"lr": 0.1})
    other_id, _ = tracking.start_run("other exp", "z", {}, {})
    tracking.log_points(a, [("loss", 1.0 / (i + 1), i, 1000 + i) for i in range(5000)])
    tracking.log_points(a, [("acc", 0.5, 0, 1000)])
    tracking.log_points(b, [("loss", 0.5, 0, 1), ("loss", float("nan"), 1, 2)])
    tracking.log_points(b, [("acc", 0.9, 0, 1)])
    tracking.log_points(c, [("loss", 0.05, 0, 1)])
    tracking.end_run(c, "failed")
    yield {
        "q": TrackingQueries(tracking),
        "exp": exp_id,
        "other": other_id,
        "a": a,
        "b": b,
        "c": c,
    }


def test_experiments_list_search_and_page(store: dict[str, Any]) -> None:
    q = store["q"]
    names = [e.name for e in q.experiments().items]
    assert {"query-exp", "other exp"} <= set(names)
    assert [e.name for e in q.experiments(text="query").items] == ["query-exp"]
    assert q.experiments(text="it's").items == []  # quotes are escaped, not injected
    first = q.experiments(limit=1)
    assert len(first.items) == 1 and first.next_cursor
    second = q.experiments(limit=1, cursor=first.next_cursor)
    assert second.items[0].experiment_id != first.items[0].experiment_id
    with pytest.raises(InvalidInputError):
        q.experiments(cursor="not-a-token")
    with pytest.raises(InvalidInputError):
        q.experiments(limit=0)


def test_experiment_lookup(store: dict[str, Any]) -> None:
    q = store["q"]
    assert q.experiment(store["exp"]).name == "query-exp"
    with pytest.raises(NotFoundError):
        q.experiment("987654")
    with pytest.raises(InvalidInputError):
        q.experiment("not-a-number")


def test_runs_with_params_metrics_sorting_and_filters(store: dict[str, Any]) -> None:
    q = store["q"]
    page = q.runs(store["exp"])
    by_id = {r.run_id: r for r in page.items}
    assert set(by_id) == {store["a"], store["b"], store["c"]}
    a = by_id[store["a"]]
    assert a.job_id == "job-a" and a.attempt == 1 and a.params == {"lr": "0.1"}
    assert a.metrics["loss"] == pytest.approx(1 / 5000) and a.metrics["acc"] == 0.5
    assert by_id[store["b"]].metrics["loss"] is None  # NaN travels as null
    assert by_id[store["b"]].tags == {"team": "x"}
    asc = [r.run_id for r in q.runs(store["exp"], sort="metrics.acc", order="asc").items]
    assert asc[:2] == [store["a"], store["b"]]
    desc = [r.run_id for r in q.runs(store["exp"], sort="metrics.acc", order="desc").items]
    assert desc[0] == store["b"]
    assert [r.run_id for r in q.runs(store["exp"], status="failed").items] == [store["c"]]
    assert [r.run_id for r in q.runs(store["exp"], job_id="job-a").items] == [store["a"]]
    assert {r.run_id for r in q.runs(store["exp"], filter="params.lr = '0.1'").items} == {
        store["a"],
        store["c"],
    }
    one = q.runs(store["exp"], limit=2)
    rest = q.runs(store["exp"], limit=2, cursor=one.next_cursor)
    assert len(one.items) == 2 and len(rest.items) == 1 and rest.next_cursor is None


@pytest.mark.parametrize(
    "kwargs",
    [
        {"sort": "bogus"},
        {"sort": "metrics.`x"},
        {"status": "sleeping"},
        {"filter": "metrics.loss <"},
        {"filter": "nonsense here"},
        {"limit": 5000},
    ],
)
def test_runs_bad_arguments(store: dict[str, Any], kwargs: dict[str, Any]) -> None:
    with pytest.raises(InvalidInputError):
        store["q"].runs(store["exp"], **kwargs)


def test_runs_of_unknown_experiment(store: dict[str, Any]) -> None:
    with pytest.raises(NotFoundError):
        store["q"].runs("424242")


def test_metric_history_downsampled_with_extremes(store: dict[str, Any]) -> None:
    q = store["q"]
    hist = q.metric_history([store["a"]], ["loss"], max_points=100)
    (series,) = hist.series
    assert series.total_points == 5000 and series.downsampled
    assert len(series.steps) == len(series.values) == len(series.timestamps) <= 100
    assert series.steps[0] == 0 and series.steps[-1] == 4999
    assert max(series.values) == 1.0 and min(series.values) == pytest.approx(1 / 5000)
    assert series.steps == sorted(series.steps)
    full = q.metric_history([store["a"]], ["loss"], max_points=10_000).series[0]
    assert not full.downsampled and len(full.steps) == 5000


def test_metric_history_several_runs_all_keys_nan_and_missing(store: dict[str, Any]) -> None:
    q = store["q"]
    hist = q.metric_history([store["a"], store["b"]])
    keys = {(s.run_id, s.key) for s in hist.series}
    assert keys == {(store["a"], "acc"), (store["a"], "loss"), (store["b"], "acc"),
                    (store["b"], "loss")}  # fmt: skip
    b_loss = next(s for s in hist.series if s.run_id == store["b"] and s.key == "loss")
    assert b_loss.values == [0.5, None]
    missing = q.metric_history([store["c"]], ["never-logged"]).series[0]
    assert missing.total_points == 0 and missing.steps == []
    with pytest.raises(NotFoundError):
        q.metric_history(["0" * 32], ["loss"])
    with pytest.raises(InvalidInputError):
        q.metric_history([store["a"]], ["loss"], max_points=1)
    with pytest.raises(InvalidInputError):
        q.metric_history([])


def test_sql_and_api_readers_agree(store: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    q = store["q"]
    fast = q.metric_history([store["a"], store["b"]], ["loss"], max_points=50)
    monkeypatch.setattr(TrackingQueries, "_sql_reader", lambda self: None)
    slow = q.metric_history([store["a"], store["b"]], ["loss"], max_points=50)
    assert fast == slow


def test_compare_runs(store: dict[str, Any]) -> None:
    q = store["q"]
    cmp = q.compare([store["a"], store["b"], store["c"]])
    assert [r.run_id for r in cmp.runs] == [store["a"], store["b"], store["c"]]
    params = {p.key: p for p in cmp.params}
    assert params["lr"].differs and params["depth"].values[store["a"]] is None
    metrics = {m.key: m for m in cmp.metrics}
    assert metrics["loss"].min_run_id == store["a"] and metrics["loss"].max_run_id == store["c"]
    assert metrics["acc"].values[store["c"]] is None
    same = q.compare([store["a"], store["c"]])
    assert not next(p for p in same.params if p.key == "lr").differs
    with pytest.raises(NotFoundError):
        q.compare([store["a"], "f" * 32])
    with pytest.raises(InvalidInputError):
        q.compare([])


def test_non_finite_latest_metric_is_null(store: dict[str, Any]) -> None:
    run = store["q"].run(store["b"])
    assert run.metrics["loss"] is None and not any(
        isinstance(v, float) and math.isnan(v) for v in run.metrics.values()
    )


def test_cached_history_follows_new_points(tmp_path: Path) -> None:
    tracking = TrackingClient(f"sqlite:///{tmp_path / 'm.db'}", (tmp_path / "a").as_uri())
    q = TrackingQueries(tracking)
    _, run = tracking.start_run("cache", "r", {}, {})
    tracking.log_points(run, [("loss", float(i), i, i) for i in range(100)])
    first = q.metric_history([run], ["loss"], max_points=10).series[0]
    assert q.metric_history([run], ["loss"], max_points=10).series[0] is first  # cached
    tracking.log_points(run, [("loss", -5.0, 100, 100)])
    grown = q.metric_history([run], ["loss"], max_points=10).series[0]
    assert grown.total_points == 101 and min(v for v in grown.values if v is not None) == -5.0
    # ties on a step are ordered by time, as MLflow's history is
    tracking.log_points(run, [("tie", 2.0, 0, 20), ("tie", 1.0, 0, 10)])
    tie = q.metric_history([run], ["tie"]).series[0]
    assert tie.timestamps == [10, 20] and tie.values == [1.0, 2.0]


def test_column_files_mirror_the_store_and_serve_histories(tmp_path: Path) -> None:
    """Points logged through mlbench land in a column file the history is then read from."""
    tracking = TrackingClient(
        f"sqlite:///{tmp_path / 'm.db'}", (tmp_path / "a").as_uri(), series=tmp_path / "series"
    )
    assert tracking.series is not None
    _, run = tracking.start_run("files", "r", {}, {})
    points = [("loss", float((i * 7919) % 1000), i, 10 * i) for i in range(3000)]
    points += [("loss", float("inf"), 3000, 30_000), ("loss", float("-inf"), 3001, 30_010)]
    points += [("loss", float("nan"), 3002, 30_020), ("loss", 5.0, 0, 1)]  # a tie on step 0
    tracking.log_points(run, points)
    path = tracking.series.path(run, "loss")
    assert path.stat().st_size == len(points) * 24

    with_files = TrackingQueries(tracking).metric_history([run], ["loss"], max_points=100)
    from_store = TrackingQueries(TrackingClient(tracking.tracking_uri)).metric_history(
        [run], ["loss"], max_points=100
    )
    assert with_files == from_store
    series = with_files.series[0]
    assert series.total_points == 3004 and series.values[-3:] == [None, None, None]
    whole = TrackingQueries(tracking).metric_history([run], ["loss"], max_points=10_000).series[0]
    assert whole.steps[:2] == [0, 0] and whole.timestamps[:2] == [0, 1]  # ties ordered by time
    assert max(v for v in series.values if v is not None) == 999.0

    # the file is what was read: its points replaced, the history follows the file
    records = np.fromfile(path, dtype=RECORD)
    assert np.count_nonzero(records["value"] == 999.0) == 3
    records["value"][records["value"] == 999.0] = 998.0
    records.tofile(path)
    reread = TrackingQueries(tracking).metric_history([run], ["loss"], max_points=100).series[0]
    assert max(v for v in reread.values if v is not None) == 998.0


def test_column_files_that_disagree_with_the_store_are_rebuilt(tmp_path: Path) -> None:
    """Points logged around mlbench, torn or extra records: the store wins, the file heals."""
    tracking = TrackingClient(
        f"sqlite:///{tmp_path / 'm.db'}", (tmp_path / "a").as_uri(), series=tmp_path / "series"
    )
    assert tracking.series is not None
    _, run = tracking.start_run("files", "r", {}, {})
    tracking.log_points(run, [("acc", float(i), i, i) for i in range(500)])
    path = tracking.series.path(run, "acc")

    tracking.client.log_metric(run, "acc", 1e6, timestamp=600, step=600)  # not through mlbench
    series = TrackingQueries(tracking).metric_history([run], ["acc"]).series[0]
    assert series.total_points == 501 and series.values[-1] == 1e6
    assert path.stat().st_size == 501 * 24  # rewritten from the store

    with open(path, "ab") as f:  # a torn record (a crash mid-write) and then a whole extra one
        f.write(b"\0" * 10)
    q = TrackingQueries(tracking)
    assert q.metric_history([run], ["acc"]).series[0].total_points == 501
    with open(path, "ab") as f:
        f.write(np.array([(700, 5.0, 700)], dtype=RECORD).tobytes())
    assert TrackingQueries(tracking).metric_history([run], ["acc"]).series[0] == series
    assert path.stat().st_size == 501 * 24

    path.unlink()  # a missing file is read from the store and written again
    assert TrackingQueries(tracking).metric_history([run], ["acc"]).series[0] == series
    assert path.exists()
    assert TrackingQueries(tracking).metric_history([run], ["never"]).series[0].total_points == 0
    assert not tracking.series.path(run, "never").exists()  # no files for series never logged

    tracking.delete_run(run)
    assert not path.parent.exists()


def test_only_database_stores_get_column_files(tmp_path: Path) -> None:
    assert TrackingClient(f"sqlite:///{tmp_path / 'm.db'}", series=tmp_path / "s").series
    for uri in ("http://127.0.0.1:5000", "databricks", (tmp_path / "mlruns").as_uri()):
        assert TrackingClient(uri, series=tmp_path / "s").series is None


def test_queries_on_an_mlflow_postgresql_store(postgres_url: str) -> None:
    """The SQL fast path speaks PostgreSQL's placeholders too (team mode's tracking store)."""
    base = postgres_url.rsplit("/", 1)[0]
    _create_database(postgres_url, "mlflow_query")
    tracking = TrackingClient(f"{base}/mlflow_query")
    q = TrackingQueries(tracking)
    exp, run = tracking.start_run("pg", "r", {}, {"a": 1})
    tracking.log_points(run, [("loss", float(i % 11), i, i) for i in range(500)])
    tracking.log_points(run, [("loss", float("nan"), 500, 500)])
    assert q._sql_reader() is not None
    series = q.metric_history([run], ["loss"], max_points=20).series[0]
    assert series.total_points == 501 and len(series.steps) <= 20
    assert max(v for v in series.values if v is not None) == 10.0 and series.values[-1] is None
    assert q.runs(exp, sort="metrics.loss").items[0].run_id == run
    assert q.compare([run]).params[0].key == "a"


def _create_database(url: str, name: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        conn.execute(text(f"CREATE DATABASE {name}"))
    engine.dispose()


def test_processes_creating_one_new_store_at_once_do_not_collide(tmp_path: Path) -> None:
    """Server, agent and CLI may all touch a new workspace's MLflow store first."""
    import subprocess
    import sys

    code = (
        "import sys; from mlbench.tracking.client import TrackingClient\n"
        "TrackingClient(sys.argv[1]).initialize()"
    )
    # Without the lock, 3 or 4 of 4 such processes failed here (alembic errors).
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    procs = [
        subprocess.Popen([sys.executable, "-c", code, uri], stderr=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    errors = [p.communicate(timeout=300)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 3, "\n".join(errors)[-3000:]
