"""Issue 12, written as the attacks were: bad numbers, names and JSON over the real server and
the CLI, and folders whose symlinks or hidden files would leave the root.

The server tests reuse test_server's fixtures (a real jupyter-server with the extension, every
response checked against the committed OpenAPI document).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import test_server
from tests.test_server import Api, error_code

# fixtures shared with tests/test_server.py (a module-scoped workspace and server config)
mlbench_home = test_server.mlbench_home
jp_server_config = test_server.jp_server_config
ws = test_server.ws
api = test_server.api
root = test_server.root


def _store_raw_config(w: Any, name: str, config: dict[str, Any]) -> None:
    """Write settings straight into the database, as an older mlbench (or a hand edit) did."""
    from mlbench.store import ComputeTargetRow

    with w.db.write() as s:
        row = s.get(ComputeTargetRow, name)
        row.config = config


# -- item 1: non-finite numbers in compute settings --------------------------------------------
@pytest.mark.parametrize(
    "config",
    [
        {"cpus": "inf"},
        {"cpus": "NaN"},
        {"cpus": 1e308 * 10},  # json.dumps writes Infinity: refused before parsing
        {"cpus": 10**400},
        {"memory_mb": int("9" * 400)},
        {"idle_timeout_s": "-inf"},
        {"max_concurrent_jobs": 10**30},
        {"kernel_pool_size": 10**19},
        {"gpu_ids": [[[[]]]] * 3, "cpus": 1},
    ],
)
async def test_compute_non_finite_or_huge_is_400_and_nothing_stored(
    api: Api, ws: Any, config: dict[str, Any]
) -> None:
    before = await api.get("/compute/{name}", name="local", expect=200)
    raw = json.dumps({"config": config}).encode()
    patched = await api("PATCH", "/compute/{name}", name="local", raw=raw, expect=400)
    assert error_code(patched) in ("invalid_input", "bad_request", "validation_error")
    created = await api.post(
        "/compute", raw=json.dumps({"name": "n1", **{"config": config}}).encode()
    )
    assert api.last_code == 400, created
    after = await api.get("/compute/{name}", name="local", expect=200)
    assert after["target"]["config"] == before["target"]["config"]
    assert "n1" not in {t.name for t in ws.compute.list()}
    items = (await api.get("/compute", expect=200))["items"]
    assert all(i["target"]["problem"] is None for i in items)


async def test_a_stored_bad_value_does_not_lock_the_workspace(api: Api, ws: Any) -> None:
    await api.post("/compute", body={"name": "broken", "config": {"cpus": 2}}, expect=201)
    _store_raw_config(ws, "broken", {"cpus": "Infinity"})  # what issue 12 found stored

    items = (await api.get("/compute", expect=200))["items"]  # was OverflowError: 500
    broken = next(i["target"] for i in items if i["target"]["name"] == "broken")
    assert "cpus" in broken["problem"] and broken["capacity"]["cpus"] == 0
    shown = await api.get("/compute/{name}", name="broken", expect=200)
    assert shown["target"]["problem"]
    # Submitting to it is a clear 400 naming the fix, not a 500.
    with pytest.raises(Exception, match="mlbench compute update broken"):
        ws.compute.backend("broken")

    repaired = await api(
        "PATCH", "/compute/{name}", name="broken", body={"config": {"cpus": 3}}, expect=200
    )
    assert repaired["target"]["problem"] is None
    assert repaired["target"]["capacity"]["cpus"] == 3

    _store_raw_config(ws, "broken", {"cpus": "nan", "memory_mb": 10**30})
    reset = await api(
        "PATCH",
        "/compute/{name}",
        name="broken",
        body={"config": {"cpus": None, "memory_mb": None}},
        expect=200,
    )
    assert reset["target"]["problem"] is None

    _store_raw_config(ws, "broken", {"cpus": "inf"})
    await api("DELETE", "/compute/{name}", name="broken", expect=204)


# -- item 4: one name rule, full match ---------------------------------------------------------
@pytest.mark.parametrize("name", ["x\n", "x\r\n", "\nx", "x y", "é", "a" * 129])
async def test_names_are_fully_matched(api: Api, ws: Any, root: Path, name: str) -> None:
    await api.post("/compute", body={"name": name}, expect=400)
    await api.post(
        "/datastores",
        body={"name": name, "kind": "local", "config": {"path": "."}, "verify": False},
        expect=400,
    )
    (root / "n.csv").write_text("a\n1\n")
    await api.post("/data", body={"name": name, "path": "n.csv"}, expect=400)
    assert name not in {t.name for t in ws.compute.list()}
    assert name not in {d.name for d in ws.datastores.list()}
    assert name not in {a.name for a in ws.data.list()}


# -- item 3 (JSON part): one depth/size limit before parsing -----------------------------------
@pytest.mark.parametrize("depth", [65, 900, 5000, 100_000])
async def test_deep_bodies_are_400_before_parsing(api: Api, ws: Any, depth: int) -> None:
    nested = b"[" * depth + b"]" * depth
    raw = b'{"name": "deep", "kind": "local", "config": {"path": ".", "x": ' + nested + b"}}"
    if len(raw) > 64 * 1024:  # the test server's max_body_bytes
        body = await api.post("/datastores", raw=raw, expect=413)
    else:
        body = await api.post("/datastores", raw=raw, expect=400)
        assert "nested more than 64 levels" in body["error"]["message"]
        compute = await api.post("/compute", raw=b'{"name": "deep", "config": ' + nested + b"}")
        assert api.last_code == 400 and "nested" in compute["error"]["message"]
    assert body["error"]["message"]
    assert "deep" not in {d.name for d in ws.datastores.list()}


async def test_odd_json_values_are_400(api: Api, ws: Any) -> None:
    surrogate = b'{"name": "s1", "description": "\\ud800"}'
    body = await api.post("/compute", raw=surrogate, expect=400)
    assert "surrogate" in body["error"]["message"]
    huge = b'{"name": "s2", "config": {"memory_mb": ' + b"9" * 400 + b"}}"
    body = await api.post("/compute", raw=huge, expect=400)
    assert "too large" in body["error"]["message"]
    for constant in (b"NaN", b"Infinity", b"-Infinity", b"1e999"):
        await api.post("/compute", raw=b'{"name": "s3", "config": {"cpus": ' + constant + b"}}")
        assert api.last_code == 400
    # Strings that merely look deep are not nested.
    await api.post(
        "/compute", body={"name": "s4", "description": "[" * 500 + "{" * 500}, expect=201
    )
    assert not {"s1", "s2", "s3"} & {t.name for t in ws.compute.list()}
    await api("DELETE", "/compute/{name}", name="s4", expect=204)


@pytest.mark.parametrize(
    "experiment_id", ["99999999999999999999999", "9223372036854775808", "9" * 5000]
)
async def test_huge_experiment_ids_are_404(api: Api, experiment_id: str) -> None:
    body = await api.get("/experiments/{experiment_id}", experiment_id=experiment_id, expect=404)
    assert error_code(body) == "experiment_not_found"
    await api.get("/experiments/{experiment_id}/runs", experiment_id=experiment_id, expect=404)


async def test_an_ordinary_unknown_experiment_is_still_404(api: Api) -> None:
    await api.get("/experiments/{experiment_id}", experiment_id="9223372036854775807", expect=404)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    config=st.dictionaries(
        st.sampled_from(["cpus", "memory_mb", "max_concurrent_jobs", "idle_timeout_s"]),
        st.one_of(
            st.floats(),
            st.integers(min_value=-(10**30), max_value=10**30),
            st.sampled_from(["inf", "nan", "-inf", "1e400", "x"]),
        ),
        min_size=1,
    )
)
def test_compute_settings_property(tmp_path_factory: pytest.TempPathFactory, config: Any) -> None:
    """Whatever numbers a request sends, a target is either refused with InvalidInputError or
    stored with a capacity every reader can use (finite, int()-able)."""
    import math

    from mlbench.errors import InvalidInputError

    w = _property_ws(tmp_path_factory)
    with contextlib.suppress(InvalidInputError):
        w.compute.update("local", **config)
    for target in w.compute.list():
        cap = target.capacity
        assert target.problem is None
        assert math.isfinite(cap.cpus) and int(cap.cpus) >= 0
        json.dumps(target.model_dump(mode="json"), allow_nan=False)


_PROPERTY_WS: list[Any] = []


def _property_ws(factory: pytest.TempPathFactory) -> Any:
    if not _PROPERTY_WS:
        from mlbench import Workspace

        _PROPERTY_WS.append(Workspace(factory.mktemp("prop-ws")))
    return _PROPERTY_WS[0]


# -- item 1 through the CLI --------------------------------------------------------------------
def _cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlbench", "-w", str(home), *args],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "COLUMNS": "200"},
        check=False,
    )


@pytest.fixture(scope="module")
def cli_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hardening-cli")


@pytest.mark.parametrize(
    "args",
    [
        ("--cpus", "inf"),
        ("--cpus", "nan"),
        ("--cpus", "-inf"),
        ("--cpus", "1e400"),
        ("--cpus", "0"),
        ("--memory-mb", "9" * 400),
        ("--max-concurrent-jobs", "0"),
        ("--idle-timeout", "nan"),
        ("--default-cpus", "inf"),
        ("--connect-timeout", "inf"),
    ],
)
def test_cli_refuses_non_finite_options(cli_home: Path, args: tuple[str, ...]) -> None:
    result = _cli(cli_home, "compute", "create", "c1", *args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert "Invalid value" in result.stderr and args[0] in result.stderr
    listed = json.loads(_cli(cli_home, "compute", "list", "--json").stdout)
    assert "c1" not in {t["target"]["name"] for t in listed}


def test_cli_repairs_a_stored_bad_value(cli_home: Path) -> None:
    from mlbench import Workspace

    assert _cli(cli_home, "compute", "create", "c2", "--cpus", "2").returncode == 0
    w = Workspace(cli_home)
    try:
        _store_raw_config(w, "c2", {"cpus": "inf"})
    finally:
        w.close()
    listed = _cli(cli_home, "compute", "list")
    assert listed.returncode == 0, listed.stderr
    assert "c2: cannot be used" in listed.stdout and "mlbench compute update c2" in listed.stdout
    shown = json.loads(_cli(cli_home, "compute", "show", "c2", "--json").stdout)
    assert "cpus" in shown["target"]["problem"]
    fixed = _cli(cli_home, "compute", "update", "c2", "--cpus", "4")
    assert fixed.returncode == 0, fixed.stderr
    shown = json.loads(_cli(cli_home, "compute", "show", "c2", "--json").stdout)
    assert shown["target"]["problem"] is None and shown["target"]["capacity"]["cpus"] == 4

    w = Workspace(cli_home)
    try:
        _store_raw_config(w, "c2", {"cpus": "nan"})
    finally:
        w.close()
    reset = _cli(cli_home, "compute", "update", "c2", "--reset", "cpus")
    assert reset.returncode == 0, reset.stderr
    _store_raw_config_cli = Workspace(cli_home)
    try:
        _store_raw_config(_store_raw_config_cli, "c2", {"cpus": "nan"})
    finally:
        _store_raw_config_cli.close()
    deleted = _cli(cli_home, "compute", "delete", "c2")
    assert deleted.returncode == 0, deleted.stderr


def test_cli_names_are_fully_matched(cli_home: Path) -> None:
    result = _cli(cli_home, "compute", "create", "x\n")
    assert result.returncode == 2 and "invalid compute target name" in result.stderr
