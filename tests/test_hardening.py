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
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import test_server
from tests.conftest import make_notebook, run_cli
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


async def test_a_stored_bad_value_does_not_lock_the_workspace(
    api: Api, ws: Any, root: Path
) -> None:
    await api.post("/compute", body={"name": "broken", "config": {"cpus": 2}}, expect=201)
    _store_raw_config(ws, "broken", {"cpus": "Infinity"})  # what issue 12 found stored

    items = (await api.get("/compute", expect=200))["items"]  # was OverflowError: 500
    broken = next(i["target"] for i in items if i["target"]["name"] == "broken")
    assert "cpus" in broken["problem"] and broken["capacity"]["cpus"] == 0
    shown = await api.get("/compute/{name}", name="broken", expect=200)
    assert shown["target"]["problem"]
    # Submitting to it is a clear 400 naming the fix, not a 500, and creates no job.
    make_notebook(root / "p.ipynb", "1")
    refused = await api.post(
        "/jobs", body={"notebook_path": "p.ipynb", "compute": "broken"}, expect=400
    )
    assert "mlbench compute update broken" in refused["error"]["hint"]
    assert not ws.jobs.list(compute="broken")

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
    return run_cli(home, *args)


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


# -- item 2: one folder walk for every upload and reference ------------------------------------
def _hostile_folder(root: Path, outside: Path, name: str = "t") -> Path:
    """``root/name`` with a table file, a symlink to a file outside the root, a symlinked
    folder leading out, a hidden folder and a hidden file; ``outside`` holds the secrets."""
    outside.mkdir(parents=True, exist_ok=True)
    (outside / "secret.csv").write_text("a,b\n" + "".join(f"666,secret{i}\n" for i in range(5)))
    (outside / "dir").mkdir(exist_ok=True)
    (outside / "dir" / "more.csv").write_text("a,b\n777,secret-dir\n")
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "a.csv").write_text("a,b\n" + "".join(f"{i},ok{i}\n" for i in range(30)))
    (folder / "b.csv").symlink_to(outside / "secret.csv")
    (folder / "linked").symlink_to(outside / "dir", target_is_directory=True)
    (folder / ".private").mkdir()
    (folder / ".private" / "h.csv").write_text("a,b\n888,hidden\n")
    (folder / ".h.csv").write_text("a,b\n999,hidden-file\n")
    return folder


def _no_secrets(rows: list[dict[str, Any]]) -> None:
    assert rows and all(str(r["b"]).startswith("ok") for r in rows), rows


async def test_upload_leaves_out_outside_symlinks_and_hidden_files(
    api: Api, ws: Any, root: Path, tmp_path: Path
) -> None:
    _hostile_folder(root, tmp_path / "outside")
    created = await api.post(
        "/data", body={"name": "walked", "path": "t", "kind": "table"}, expect=201
    )
    assert created["file_count"] == 1 and created["row_count"] == 30
    skipped = created["skipped"]
    assert "b.csv (symlink to a file outside the folder)" in skipped
    assert "linked (symlinked folder, not followed)" in skipped
    assert ".private/ (hidden)" in skipped and ".h.csv (hidden)" in skipped
    version = str(created["version"])
    for limit in ("5", "25"):  # recorded rows, then read again from the data
        preview = await api.get(
            "/data/{name}/versions/{version}/preview",
            name="walked",
            version=version,
            params={"limit": limit},
            expect=200,
        )
        _no_secrets(preview["rows"])
        assert len(preview["rows"]) == int(limit)
    files = ws.data.entries(ws.data.info(f"walked:{version}"))
    assert [e.path for e in files] == ["a.csv"]
    out = ws.data.download(f"walked:{version}", tmp_path / "dl")
    assert sorted(p.name for p in out.iterdir()) == ["a.csv"]


async def test_local_datastore_reference_leaves_out_the_same(
    api: Api, ws: Any, root: Path, tmp_path: Path
) -> None:
    folder = _hostile_folder(root / "proj", tmp_path / "outside2")
    await api.post(
        "/datastores",
        body={"name": "projds", "kind": "local", "config": {"path": "proj"}},
        expect=201,
    )
    created = await api.post(
        "/data",
        body={"name": "ref-walked", "uri": "datastore://projds/t", "kind": "table"},
        expect=201,
    )
    assert created["stored"] == "reference" and created["kind"] == "table"
    assert created["file_count"] == 1
    assert "b.csv (symlink to a file outside the folder)" in created["skipped"]
    preview = await api.get(
        "/data/{name}/versions/{version}/preview",
        name="ref-walked",
        version="1",
        params={"limit": "25"},
        expect=200,
    )
    _no_secrets(preview["rows"])
    # What a job or a download gets is the version's files only, never the folder as it is.
    path = ws.data.get("ref-walked:1").path()
    assert path != folder and sorted(p.name for p in path.iterdir()) == ["a.csv"]
    # Naming a hidden path directly is refused, as it was.
    await api.post("/data", body={"name": "h", "path": "proj/t/.private/h.csv"}, expect=400)
    # A folder of nothing but what is left out is refused with the reason.
    only = root / "only"
    only.mkdir()
    (only / "b.csv").symlink_to(tmp_path / "outside2" / "secret.csv")
    body = await api.post("/data", body={"name": "only", "path": "only"}, expect=400)
    assert "symlink to a file outside the folder" in body["error"]["message"]


def test_walk_files_rules(tmp_path: Path) -> None:

    from mlbench.data.hashing import scan_local, walk_files

    folder = _hostile_folder(tmp_path, tmp_path / "outside")
    (folder / "sub").mkdir()
    (folder / "sub" / "c.csv").write_text("a,b\n1,ok\n")
    (folder / "inner.csv").symlink_to(folder / "sub" / "c.csv")  # stays inside: kept
    (folder / "to-hidden.csv").symlink_to(folder / ".private" / "h.csv")
    (folder / "broken").symlink_to(tmp_path / "nothing")
    os.mkfifo(folder / "pipe")
    skipped: list[str] = []
    paths = sorted(p for p, _ in walk_files(folder, skipped))
    assert paths == ["a.csv", "inner.csv", "sub/c.csv"]
    assert sorted(skipped) == sorted(
        [
            ".h.csv (hidden)",
            ".private/ (hidden)",
            "b.csv (symlink to a file outside the folder)",
            "broken (broken symlink)",
            "linked (symlinked folder, not followed)",
            "pipe (not a regular file)",
            "to-hidden.csv (symlink to a hidden file)",
        ]
    )
    scan = scan_local(folder)
    assert [e.path for e in scan.entries] == paths and scan.skipped == skipped


def test_remote_scan_leaves_out_hidden_files() -> None:
    import fsspec

    from mlbench.data.hashing import scan_remote

    fs = fsspec.filesystem("memory")
    fs.pipe_file("/bucket/t/a.csv", b"a\n1\n")
    fs.pipe_file("/bucket/t/.private/h.csv", b"a\n2\n")
    fs.pipe_file("/bucket/t/sub/.h.csv", b"a\n3\n")
    scan = scan_remote(fs, "/bucket/t", "mem:")
    assert [e.path for e in scan.entries] == ["a.csv"]
    assert scan.skipped == [".private/ (hidden)", "sub/.h.csv (hidden)"]


# -- the CLI's number options, property-based (parsing only: no workspace needed) --------------
_NUMBER_OPTIONS = [
    "--cpus",
    "--memory-mb",
    "--max-concurrent-jobs",
    "--kernel-pool-size",
    "--idle-timeout",
    "--default-cpus",
    "--default-gpus",
    "--connect-timeout",
]


@settings(max_examples=300, deadline=None)
@given(
    option=st.sampled_from(_NUMBER_OPTIONS),
    value=st.one_of(
        st.floats().map(repr),
        st.integers(min_value=-(10**30), max_value=10**30).map(str),
        st.sampled_from(["inf", "-inf", "nan", "NaN", "1e400", "-0", "0x10", " 3 ", "1_000"]),
        st.text(max_size=8),
    ),
)
def test_cli_number_options_property(option: str, value: str) -> None:
    """Whatever text an option gets, it is refused by the parser or becomes a finite number in
    the option's range: nothing else reaches the settings."""
    import math

    import click

    from mlbench.cli.compute import create_command
    from mlbench.compute.base import MAX_CPUS, MAX_JOBS_AT_ONCE, MAX_MEMORY_MB, MAX_SECONDS

    try:
        ctx = create_command.make_context("create", ["c1", option, value])
    except click.UsageError:
        return
    parsed = next(v for k, v in ctx.params.items() if k not in ("name", "kind") and v is not None)
    assert isinstance(parsed, int | float) and math.isfinite(parsed)
    high = {
        "--cpus": MAX_CPUS,
        "--default-cpus": MAX_CPUS,
        "--memory-mb": MAX_MEMORY_MB,
        "--max-concurrent-jobs": MAX_JOBS_AT_ONCE,
        "--kernel-pool-size": 16,
        "--idle-timeout": MAX_SECONDS,
        "--connect-timeout": MAX_SECONDS,
    }.get(option, 10**6)
    assert 0 <= parsed <= high


def test_parse_json_is_bounded_for_any_client_text() -> None:
    """The REST bodies' parser, usable for any JSON a client sends (e.g. WebSocket messages,
    where a bare json.loads of 3000 brackets raises RecursionError)."""
    from mlbench.errors import InvalidInputError
    from mlbench.server.base import parse_json

    for text in ("[" * 3000 + "]" * 3000, '{"a": NaN}', '{"a": "\\ud800"}', "9" * 30, "{"):
        with pytest.raises(InvalidInputError):
            parse_json(text, what="a message", max_bytes=64 * 1024)
    assert parse_json('{"type": "ping", "s": "[[[["}', max_bytes=1024) == {
        "type": "ping",
        "s": "[[[[",
    }


def test_a_name_too_long_for_the_file_system_is_the_requests_fault() -> None:
    """Wherever the core opens a path built from a request's name, ENAMETOOLONG is a 400 that
    says so (schemathesis found such 500s one endpoint at a time)."""
    import errno

    from mlbench.server.base import error_body, status_for

    exc = OSError(errno.ENAMETOOLONG, "File name too long", "x" * 300)
    assert status_for(exc) == 400
    body = error_body(400, exc, "")
    assert body["code"] == "name_too_long" and "shorter name" in body["hint"]
    other = OSError(errno.EACCES, "Permission denied")
    assert status_for(other) == 500 and error_body(500, other, "")["code"] == "internal_error"
