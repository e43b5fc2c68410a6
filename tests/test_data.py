"""Data assets on local datastores: versions, dedupe, incremental hashing, errors, CLI, jobs.

S3 and Azure Blob (real emulators) are in tests/test_data_storage.py, REST in
tests/test_data_server.py.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from mlbench.data.errors import (
    DataChangedError,
    DataNotFoundError,
    DataPathNotFoundError,
    DatastoreReadOnlyError,
    PathOutsideDatastoreError,
)
from mlbench.data.hashing import scan_local
from mlbench.errors import ConflictError, InvalidInputError
from mlbench.store import DataAssetRow, DataVersionRow

WAIT = 120


def write_tree(root: Path, files: dict[str, str | bytes]) -> Path:
    for rel, content in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content)
    return root


def settle() -> None:
    # a file hashed within 50 ms of its last change is not trusted by the stat cache (racy git)
    time.sleep(0.12)


def count_rows(ws: Any, model: Any) -> int:
    from sqlalchemy import func, select

    with ws.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


# -- kinds -------------------------------------------------------------------------------------
def test_file_folder_and_tables_round_trip(ws: Any, tmp_path: Path) -> None:
    src = write_tree(
        tmp_path / "src",
        {
            "notes.bin": b"\x00\x01binary",
            "images/a.txt": "a",
            "images/deep/b.txt": "bb",
            "iris.csv": "sepal,species\n5.1,setosa\n4.9,setosa\n6.3,virginica\n",
        },
    )
    pq.write_table(pa.table({"x": [1, 2, 3, 4], "y": ["a", "b", "c", "d"]}), src / "t.parquet")

    f = ws.data.create("notes", src / "notes.bin", description="raw", tags={"team": "cv"})
    assert (f.kind.value, f.version, f.info.file_count, f.info.size_bytes) == ("file", 1, 1, 8)
    assert f.path().read_bytes() == b"\x00\x01binary"
    with f.open() as fh:
        assert fh.read() == b"\x00\x01binary"
    assert f.info.tags == {"team": "cv"} and f.info.description == "raw"
    assert f.info.stored == "upload" and f.info.hash_algorithm == "blake3"

    d = ws.data.create("images", src / "images")
    assert d.kind.value == "folder" and d.info.file_count == 2 and d.info.size_bytes == 3
    assert sorted(p.path for p in d.files()) == ["a.txt", "deep/b.txt"]
    assert (d.path() / "deep" / "b.txt").read_text() == "bb"
    with d.open("deep/b.txt", "r") as fh:
        assert fh.read() == "bb"
    with pytest.raises(InvalidInputError, match="is outside"):
        d.open("../../x")
    preview = d.preview(5)
    assert preview.files is not None and preview.file_count == 2 and not preview.truncated

    csv = ws.data.create("iris", src / "iris.csv")
    assert csv.kind.value == "table" and csv.info.format == "csv" and csv.info.row_count == 3
    assert [(c.name, c.type) for c in csv.info.columns or []] == [
        ("sepal", "double"),
        ("species", "string"),
    ]
    assert csv.to_pandas()["species"].tolist() == ["setosa", "setosa", "virginica"]
    assert csv.preview(2).rows == [
        {"sepal": 5.1, "species": "setosa"},
        {"sepal": 4.9, "species": "setosa"},
    ]
    assert csv.preview(2).truncated

    par = ws.data.create("tab", src / "t.parquet")
    assert par.info.format == "parquet" and par.info.row_count == 4
    assert par.to_arrow().column("y").to_pylist() == ["a", "b", "c", "d"]
    # a folder of parquet parts is one table; other files in it (a marker) are not read
    parts = tmp_path / "parts"
    parts.mkdir()
    pq.write_table(pa.table({"x": [1, 2]}), parts / "p0.parquet")
    pq.write_table(pa.table({"x": [3]}), parts / "p1.parquet")
    (parts / "_SUCCESS").write_text("")
    tbl = ws.data.create("parts", parts, kind="table")
    assert tbl.info.row_count == 3 and tbl.info.file_count == 3 and tbl.info.filename is None
    with pytest.raises(InvalidInputError, match="not a table"):
        f.to_pandas()
    assert "notes:1" in repr(f) and "file" in repr(f)


# -- versions ----------------------------------------------------------------------------------
def test_versions_dedupe_resolution_and_archive(ws: Any, tmp_path: Path) -> None:
    path = tmp_path / "d.txt"
    path.write_text("one")
    v1 = ws.data.create("d", path)
    again = ws.data.create("d", path)
    assert again.version == 1 and again.info.id == v1.info.id  # identical: the same version
    # same bytes from another place are the same content too
    (tmp_path / "copy.txt").write_text("one")
    assert ws.data.create("d", tmp_path / "copy.txt", kind="file").version == 1
    path.write_text("two")
    v2 = ws.data.create("d", path)
    path.write_text("three")
    v3 = ws.data.create("d", path)
    assert (v2.version, v3.version) == (2, 3)
    assert count_rows(ws, DataVersionRow) == 3
    # the same content under another name is stored once on the datastore
    other = ws.data.create("d-copy", path)
    assert other.version == 1 and other.info.path == v3.info.path
    blobs = [p for p in (ws.home / "data" / "mlbench" / "blobs").rglob("*") if p.is_file()]
    assert len(blobs) == 3  # one, two, three
    assert all(p.stat().st_mode & 0o222 == 0 for p in blobs)  # stored bytes are read-only

    for ref, version in [("d", 3), ("d@latest", 3), ("d:latest", 3), ("d:2", 2), ("data:d:1", 1)]:
        assert ws.data.get(ref).version == version, ref
    assert [i.version for i in ws.data.versions("d")] == [3, 2, 1]
    assert ws.data.get("d:1").path().read_text() == "one"  # old versions stay readable

    ws.data.archive("d:3")
    assert ws.data.get("d").version == 2  # latest skips archived versions
    assert ws.data.get("d:3").info.archived  # but the exact version still resolves
    ws.data.archive("d:3", restore=True)
    assert ws.data.get("d").version == 3
    ws.data.archive("d")
    assert "d" not in [i.name for i in ws.data.list()]
    assert "d" in [i.name for i in ws.data.list(include_archived=True)]
    with pytest.raises(DataNotFoundError, match="every version of 'd' is archived") as err:
        ws.data.get("d")
    assert "--restore" in (err.value.hint or "")
    ws.data.archive("d", restore=True)
    assert ws.data.get("d").version == 3


def test_folder_rehash_reads_only_changed_files(ws: Any, tmp_path: Path) -> None:
    folder = write_tree(
        tmp_path / "many", {f"part-{i:03d}/f{i}.txt": f"row {i}\n" for i in range(300)}
    )
    settle()
    first = scan_local(folder, ws.data.hash_cache)
    assert first.rehashed == 300
    v1 = ws.data.create("many", folder)
    assert v1.info.content_hash == first.content_hash and v1.info.file_count == 300
    # nothing changed: nothing read
    assert scan_local(folder, ws.data.hash_cache).rehashed == 0
    assert ws.data.create("many", folder).version == 1
    # one file changed (same size, so only mtime/ctime tell): one file read
    (folder / "part-007" / "f7.txt").write_text("row X\n")
    settle()
    again = scan_local(folder, ws.data.hash_cache)
    assert again.rehashed == 1 and again.rehashed_bytes == len("row X\n")
    v2 = ws.data.create("many", folder)
    assert v2.version == 2 and v2.info.content_hash == again.content_hash
    # a renamed file changes the folder's hash without rereading any file
    (folder / "part-001" / "f1.txt").rename(folder / "part-001" / "g1.txt")
    settle()
    renamed = scan_local(folder, ws.data.hash_cache)
    assert renamed.rehashed == 1  # a new path is a new cache key: read once
    assert renamed.content_hash != again.content_hash


# -- references --------------------------------------------------------------------------------
def test_reference_on_local_datastore_is_checked_when_used(ws: Any, tmp_path: Path) -> None:
    lake = write_tree(tmp_path / "lake", {"raw/a.csv": "k\n1\n2\n", "raw/b.csv": "k\n3\n"})
    info = ws.datastores.create("lake", "local", path=str(lake), description="shared folder")
    assert info.uri == lake.as_uri() and not info.credentials
    ref = ws.data.create("raw", "datastore://lake/raw", kind="table")
    assert ref.info.stored == "reference" and ref.info.row_count == 3
    assert ref.path() == lake / "raw"  # used in place, not copied
    by_uri = ws.data.create("raw", (lake / "raw").as_uri(), kind="table")
    assert by_uri.version == 1  # the same data through a file:// URI
    (lake / "raw" / "b.csv").write_text("k\n4\n")
    settle()
    with pytest.raises(DataChangedError, match="changed since it was registered") as err:
        ws.data.get("raw:1").path()
    assert "mlbench data create raw" in (err.value.hint or "")
    assert ws.data.create("raw", "datastore://lake/raw", kind="table").version == 2
    with pytest.raises(ConflictError, match="holds 2 data version"):
        ws.datastores.delete("lake")

    ro = ws.datastores.create("ro", "local", path=str(lake), read_only=True)
    assert ro.read_only and ws.datastores.test("ro").can_write is None
    with pytest.raises(DatastoreReadOnlyError):
        ws.data.create("x", lake / "raw" / "a.csv", datastore="ro")
    ws.datastores.delete("ro")
    assert "ro" not in [d.name for d in ws.datastores.list()]


# -- errors ------------------------------------------------------------------------------------
def test_bad_input_gives_clear_errors_and_registers_nothing(ws: Any, tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("x")
    ws.data.create("known", tmp_path / "f.txt")
    before = (count_rows(ws, DataVersionRow), count_rows(ws, DataAssetRow))
    cases: list[tuple[Any, type[Exception], str, str]] = [
        (lambda: ws.data.get("knwon"), DataNotFoundError, "'knwon' does not exist", "data list"),
        (lambda: ws.data.get("known:7"), DataNotFoundError, "no version 7", "versions: 1"),
        (lambda: ws.data.get("known:x"), InvalidInputError, "not a positive number", "name:"),
        (lambda: ws.data.get("known@first"), InvalidInputError, "unknown label", "@latest"),
        (lambda: ws.data.get("known:\u00b3"), InvalidInputError, "not a positive", "name:"),
        (lambda: ws.data.get(f"known:{2**63}"), InvalidInputError, "not a positive", "name:"),
        (
            lambda: ws.data.create("y", ws.home),
            InvalidInputError,
            "contains datastore 'workspace'",
            "datastore://workspace/PATH",
        ),
        (lambda: ws.data.get("bad name!"), InvalidInputError, "invalid data asset name", "letters"),
        (
            lambda: ws.data.create("y", tmp_path / "missing.csv"),
            DataPathNotFoundError,
            "does not exist",
            "local file or folder",
        ),
        (
            lambda: ws.data.create("y", "datastore://workspace/../../etc/passwd"),
            PathOutsideDatastoreError,
            "leaves datastore",
            "cannot go above",
        ),
        (
            lambda: ws.data.create("y", "/etc/hostname".join(["file://", ""])),
            PathOutsideDatastoreError,
            "not inside any datastore",
            "mlbench datastore create",
        ),
        (
            lambda: ws.data.create("y", "datastore://nope/x"),
            DataNotFoundError.__mro__[1],  # NotFoundError: datastore_not_found
            "datastore 'nope' does not exist",
            "mlbench datastore create",
        ),
        (
            lambda: ws.data.create("y", "ftp://host/x"),
            InvalidInputError,
            "unsupported URI",
            "datastore://NAME/path",
        ),
        (
            lambda: ws.data.create("y", tmp_path / "f.txt", kind="folder"),
            InvalidInputError,
            "is a file, not a folder",
            "kind 'file'",
        ),
        (
            lambda: ws.data.create("y", tmp_path / "f.txt", kind="blob"),
            InvalidInputError,
            "unknown data kind",
            "file, folder, table",
        ),
        (
            lambda: ws.data.create("y", tmp_path / "f.txt", kind="table"),
            InvalidInputError,
            "cannot tell the table's format",
            "--format",
        ),
        (
            lambda: ws.datastores.create("lake", "local", path=str(tmp_path / "absent")),
            InvalidInputError,
            "does not exist",
            "create it first",
        ),
        (
            lambda: ws.datastores.create("s3x", "s3", bucket="b", colour="red"),
            InvalidInputError,
            "colour",
            "settings of kind 's3'",
        ),
        (
            lambda: ws.datastores.create("s3x", "s3", bucket="bkt", credentials={"password": "p"}),
            InvalidInputError,
            "unknown credential",
            "secret_access_key",
        ),
    ]
    for call, cls, message, hint in cases:
        with pytest.raises(cls) as err:
            call()
        assert message in err.value.message, (message, err.value.message)
        assert hint in (err.value.hint or ""), (hint, err.value.hint)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidInputError, match="holds no files"):
        ws.data.create("y", tmp_path / "empty")
    (tmp_path / "broken.parquet").write_text("not parquet")
    with pytest.raises(InvalidInputError, match="cannot read"):
        ws.data.create("y", tmp_path / "broken.parquet")
    assert (count_rows(ws, DataVersionRow), count_rows(ws, DataAssetRow)) == before
    # nothing uploaded for what failed: the one blob and manifest are those of "known"
    stored = sorted(p.parent.name for p in (ws.home / "data" / "mlbench").rglob("*") if p.is_file())
    assert stored == sorted(["manifests", ws.data.get("known").info.content_hash[:2]])
    assert [d.name for d in ws.datastores.list()] == ["workspace"]


# -- CLI ---------------------------------------------------------------------------------------
def test_cli_data_and_datastore_commands(ws: Any, tmp_path: Path) -> None:
    from mlbench.cli.main import cli

    runner = CliRunner()
    w = ["-w", str(ws.home)]

    def run(*args: str, code: int = 0) -> str:
        result = runner.invoke(cli, [*w, *args], catch_exceptions=False)
        assert result.exit_code == code, (args, result.output)
        return result.output

    csv = tmp_path / "iris.csv"
    csv.write_text("a,b\n1,x\n2,y\n")
    out = run("data", "create", "iris", str(csv), "--description", "flowers", "--tag", "k=v")
    assert out.startswith("iris:1 table, 12 B in 1 file(s), 2 rows")
    assert json.loads(run("data", "create", "iris", str(csv), "--json"))["version"] == 1
    csv.write_text("a,b\n1,x\n2,y\n3,z\n")
    run("data", "create", "iris", str(csv))
    assert "iris" in run("data", "list") and "3" in run("data", "list")
    shown = run("data", "show", "iris:1")
    assert "flowers" in shown and "k=v" in shown and "schema" in shown and "x" in shown
    versions = json.loads(run("data", "versions", "iris", "--json"))
    assert [v["version"] for v in versions] == [2, 1]
    got = Path(run("data", "download", "iris:1", "--to", str(tmp_path / "dl")).strip())
    assert got.read_text() == "a,b\n1,x\n2,y\n"
    assert "read by no job" in run("data", "lineage", "iris")
    assert "archived: iris:2" in run("data", "archive", "iris:2")
    assert json.loads(run("data", "show", "iris", "--json"))["version"] == 1
    err = run("data", "show", "iris:9", code=2)
    assert "no version 9" in err and "hint: versions: 1, 2" in err

    # jobs: --input / --output on the command line, shown by `job show`
    from tests.conftest import make_notebook

    nb = make_notebook(
        tmp_path / "copy.ipynb",
        "import shutil\nshutil.copy(src, dst)",
        parameters='src = ""\ndst = ""',
    )
    submitted = json.loads(
        run(
            "job", "submit", str(nb), "--input", "src=data:iris:1",
            "--output", "dst=data:iris-copy,kind=file,filename=copy.csv", "--json",
        )
    )  # fmt: skip
    assert submitted["inputs"][0]["ref"] == "iris:1"
    assert ws.jobs.wait(submitted["id"], timeout=WAIT).status.value == "completed"
    shown = run("job", "show", submitted["id"])
    assert "input src" in shown and "output dst" in shown and "iris-copy:1" in shown
    assert ws.data.get("iris-copy").path().name == "copy.csv"
    bad = run("job", "submit", str(nb), "--input", "src", code=2)
    assert "invalid --input 'src'" in bad and "NAME=data:ASSET:VERSION" in bad

    lake = tmp_path / "lake"
    lake.mkdir()
    assert "datastore lake (local)" in run(
        "datastore", "create", "lake", "--type", "local", "--path", str(lake)
    )
    assert "lake" in run("datastore", "list")
    assert str(lake) in run("datastore", "show", "lake")
    assert "ok" in run("datastore", "test", "lake")
    lake.rmdir()  # gone: the test says so and exits 1
    assert "failed" in run("datastore", "test", "lake", code=1)
    run("datastore", "delete", "lake")
    assert "does not exist" in run("datastore", "show", "lake", code=2)


# -- jobs --------------------------------------------------------------------------------------
@pytest.mark.slow
def test_job_inputs_outputs_and_transitive_lineage(ws: Any, notebook: Any, tmp_path: Path) -> None:
    raw = tmp_path / "raw.csv"
    raw.write_text("x,y\n1,2\n3,4\n")
    ws.data.create("raw", raw)
    clean_nb = notebook(
        "import pandas as pd\n"
        "df = pd.read_csv(train)\n"
        "df['z'] = df.x + df.y\n"
        "df.to_parquet(clean)\n"
        "print('read', train)",
        parameters='train: str = ""\nclean: str = ""',
        name="clean.ipynb",
    )
    job = ws.jobs.submit(
        clean_nb, inputs={"train": "data:raw"}, outputs={"clean": "data:clean,kind=table"}
    )
    assert [(b.name, b.ref) for b in job.info.inputs] == [("train", "raw:1")]
    assert job.info.parameters["train"].endswith("/data/inputs/train/raw.csv")
    info = job.wait(WAIT).info
    assert info.status.value == "completed", (info.status_reason, ws.jobs.logs(info.id)[0])
    assert [(o.name, o.ref) for o in info.outputs] == [("clean", "clean:1")]
    clean = ws.data.get("clean")
    assert clean.info.job_id == info.id and clean.info.format == "parquet"
    assert clean.to_pandas()["z"].tolist() == [3, 7]

    summarize_nb = notebook(
        "import os, pandas as pd\n"
        "total = int(pd.read_parquet(data)['z'].sum())\n"
        "open(os.path.join(out, 'total.txt'), 'w').write(str(total))",
        parameters='data = ""\nout = ""',
        name="summarize.ipynb",
    )
    second = ws.jobs.submit(
        summarize_nb, inputs={"data": "clean:1"}, outputs={"out": "data:total"}
    ).wait(WAIT)
    assert second.info.status.value == "completed", second.info.status_reason
    assert (ws.data.get("total").path() / "total.txt").read_text() == "10"

    # lineage, both ways and transitively
    down = ws.data.lineage("raw:1")
    assert {n.id for n in down.nodes} == {
        "data:raw:1",
        f"job:{info.id}",
        "data:clean:1",
        f"job:{second.id}",
        "data:total:1",
    }
    assert {(e.source, e.target, e.binding) for e in down.edges} == {
        ("data:raw:1", f"job:{info.id}", "train"),
        (f"job:{info.id}", "data:clean:1", "clean"),
        ("data:clean:1", f"job:{second.id}", "data"),
        (f"job:{second.id}", "data:total:1", "out"),
    }
    up = ws.data.lineage("total")
    assert {n.id for n in up.nodes} == {n.id for n in down.nodes}
    assert {n.status for n in up.nodes if n.type == "job"} == {"completed"}
    assert ws.data.lineage("total", depth=1).truncated

    # the MLflow run has the exact versions: dataset inputs and tags
    run = ws.tracking.client.get_run(info.mlflow_run_id)
    inputs = run.inputs.dataset_inputs
    assert [(d.dataset.name, d.dataset.digest) for d in inputs] == [
        ("raw", ws.data.get("raw:1").info.content_hash[:36])
    ]
    assert run.data.tags["mlbench.input.train"] == "raw:1"
    assert run.data.tags["mlbench.output.clean"] == "clean:1"
    assert run.data.params["train"] == info.parameters["train"]
    log_text = ws.jobs.logs(info.id)[0]
    assert "input train = raw:1" in log_text and "output clean registered as clean:1" in log_text

    # a rerun reads the same exact version and makes no new one for identical output
    rerun = ws.jobs.rerun(info.id).wait(WAIT)
    assert rerun.info.status.value == "completed"
    assert [o.ref for o in rerun.info.outputs] == ["clean:1"]
    assert f"job:{rerun.id}" in {n.id for n in ws.data.lineage("clean:1").nodes}

    # an output the notebook does not write fails the job, naming the path
    lazy = notebook("print('nothing written')", parameters='out = ""', name="lazy.ipynb")
    failed = ws.jobs.submit(lazy, outputs={"out": "data:never"}).wait(WAIT).info
    assert failed.status.value == "failed" and failed.error is not None
    assert (
        failed.error.kind == "data_error" and "output out was not written" in failed.error.message
    )
    with pytest.raises(DataNotFoundError):
        ws.data.get("never")


def test_job_binding_errors_are_caught_at_submission(ws: Any, notebook: Any) -> None:
    nb = notebook("print(1)", parameters='train = ""', name="b.ipynb")
    with pytest.raises(DataNotFoundError, match="'nothing' does not exist"):
        ws.jobs.submit(nb, inputs={"train": "data:nothing:1"}, start_agent=False)
    with pytest.raises(InvalidInputError, match="bound twice"):
        ws.jobs.submit(nb, {"train": "x"}, outputs={"train": "data:o"}, start_agent=False)
    with pytest.raises(InvalidInputError, match="names a version"):
        ws.jobs.submit(nb, outputs={"train": "data:o:3"}, start_agent=False)
    with pytest.raises(InvalidInputError, match="invalid output option"):
        ws.jobs.submit(nb, outputs={"train": "data:o,colour=red"}, start_agent=False)
    with pytest.raises(InvalidInputError, match="not a Python identifier"):
        ws.jobs.submit(nb, outputs={"2x": "data:o"}, start_agent=False)
    # an undeclared parameter name is refused like any unknown parameter
    with pytest.raises(InvalidInputError, match="other"):
        ws.jobs.submit(nb, outputs={"other": "data:o"}, start_agent=False)
    assert list(ws.jobs.list()) == []
    from mlbench.data.jobs import parse_bindings

    with pytest.raises(InvalidInputError, match="NAME=data:ASSET:VERSION"):
        parse_bindings(("train",), "input")
    assert os.environ.get("MLBENCH_JOB_ID") is None


def test_magic_data_get_and_list(ws: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.test_magics import assert_ok, execute, text

    (tmp_path / "iris.csv").write_text("a,b\n1,x\n2,y\n")
    write_tree(tmp_path / "imgs", {"a.txt": "a"})
    ws.data.create("iris", tmp_path / "iris.csv")
    imgs = ws.data.create("imgs", tmp_path / "imgs")
    monkeypatch.setenv("MLBENCH_HOME", str(ws.home))
    nb = execute(
        [
            "%load_ext mlbench",
            "df = %mlbench data get iris\nprint(type(df).__name__, len(df), list(df.columns))",
            "p = %mlbench data get imgs:1\nprint(p)",
            "a = %mlbench data get iris@latest --asset\nprint(a.ref, a.info.row_count)",
            "%mlbench data list",
        ],
        tmp_path,
    )
    for cell in nb.cells:
        assert_ok(cell)
    assert text(nb.cells[1]).strip() == "DataFrame 2 ['a', 'b']"
    assert text(nb.cells[2]).strip() == str(imgs.path())
    assert text(nb.cells[3]).strip() == "iris:1 2"
    listing = text(nb.cells[4])
    assert "iris:1" in listing and "imgs:1" in listing and "table (csv)" in listing
