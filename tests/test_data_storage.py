"""Data on real object storage: moto's S3 server and Azurite, on 127.0.0.1, started here.

Round trips of files, folders and tables (uploaded and referenced), the download cache,
dedupe, wrong keys, unreachable endpoints, paths outside the datastore — and the credentials,
which must never appear in a response, repr, log line, job output or output notebook.
"""

from __future__ import annotations

import logging
import stat
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mlbench.data.errors import (
    DataChangedError,
    DataPathNotFoundError,
    DatastoreAuthError,
    DatastoreUnreachableError,
    PathOutsideDatastoreError,
)
from mlbench.data.hashing import scan_remote
from mlbench.data.service import blob_path
from mlbench.errors import InvalidInputError
from mlbench.store import DatastoreRow, DataVersionRow
from tests import storage_servers
from tests.conftest import require_module
from tests.storage_servers import AZURITE_KEY, AzuriteServer, S3Server, free_port

s3_server = storage_servers.s3_server  # fixtures (module-scoped servers)
azurite = storage_servers.azurite

WAIT = 120


def make_s3_store(ws: Any, s3: S3Server, name: str = "s3", **kw: Any) -> Any:
    return ws.datastores.create(
        name,
        "s3",
        bucket=s3.bucket,
        prefix=kw.pop("prefix", "team"),
        endpoint_url=s3.url,
        region="us-east-1",
        credentials={"access_key_id": s3.key_id, "secret_access_key": s3.secret},
        **kw,
    )


def assert_secret_free(secret: str, *texts: Any) -> None:
    for text in texts:
        assert secret not in str(text), str(text)[:500]


def test_s3_round_trip_cache_and_dedupe(
    ws: Any, s3_server: S3Server, tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: Any
) -> None:
    caplog.set_level(logging.DEBUG)
    s3 = s3_server
    info = make_s3_store(ws, s3)
    assert info.credentials == ["access_key_id", "secret_access_key"]
    assert info.uri == f"s3://{s3.bucket}/team"
    # credentials: a 0600 file in a 0700 folder, nowhere in the database
    secret_file = ws.home / "secrets" / "s3.json"
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(secret_file.parent.stat().st_mode) == 0o700
    with ws.db.session() as s:
        row = s.get(DatastoreRow, "s3")
        assert_secret_free(s3.secret, row.config, row.credential_names)
    result = ws.datastores.test("s3")
    assert result.ok and result.reachable and result.can_list and result.can_write

    # upload: file, folder, table
    src = tmp_path / "src"
    (src / "imgs" / "sub").mkdir(parents=True)
    (src / "imgs" / "a.bin").write_bytes(b"A" * 1000)
    (src / "imgs" / "sub" / "b.bin").write_bytes(b"B" * 10)
    (src / "model.pt").write_bytes(b"weights")
    pq.write_table(pa.table({"id": [1, 2, 3], "v": [0.5, 1.5, 2.5]}), src / "t.parquet")
    f = ws.data.create("model", src / "model.pt", datastore="s3")
    d = ws.data.create("imgs", src / "imgs", datastore="s3")
    t = ws.data.create("scores", src / "t.parquet", datastore="s3")
    assert f.info.uri.startswith(f"s3://{s3.bucket}/team/mlbench/")
    keys = {o["Key"] for o in s3.client().list_objects_v2(Bucket=s3.bucket)["Contents"]}  # type: ignore[attr-defined]
    b_hash = next(e.hash for e in d.files() if e.path == "sub/b.bin")
    assert f"team/{blob_path(b_hash)}" in keys and f"team/{d.info.path}" in keys  # + manifest
    # reading downloads into the workspace's cache, keyed by the content hash
    cache = ws.home / "cache" / "data"
    assert f.path() == cache / f.info.content_hash / "model.pt"
    assert f.path().read_bytes() == b"weights"
    assert (d.path() / "sub" / "b.bin").read_bytes() == b"B" * 10
    assert t.to_pandas()["v"].tolist() == [0.5, 1.5, 2.5]
    assert t.info.row_count == 3 and [c.name for c in t.info.columns or []] == ["id", "v"]
    # the cache serves later reads: even with the object gone from S3
    s3.client().delete_object(Bucket=s3.bucket, Key=f"team/{blob_path(f.info.content_hash)}")  # type: ignore[attr-defined]
    assert ws.data.get("model:1").path().read_bytes() == b"weights"
    # identical content: the same version, nothing uploaded again
    assert ws.data.create("imgs", src / "imgs", datastore="s3").version == 1
    (src / "imgs" / "a.bin").write_bytes(b"C" * 1000)
    assert ws.data.create("imgs", src / "imgs", datastore="s3").version == 2

    # reference: data already in the bucket, registered where it is
    client = s3.client()
    client.put_object(Bucket=s3.bucket, Key="team/lake/p0.csv", Body=b"k,v\n1,a\n2,b\n")  # type: ignore[attr-defined]
    client.put_object(Bucket=s3.bucket, Key="team/lake/p1.csv", Body=b"k,v\n3,c\n")  # type: ignore[attr-defined]
    lake = ws.data.create("lake", f"s3://{s3.bucket}/team/lake", kind="table")
    assert lake.info.stored == "reference" and lake.info.row_count == 3
    assert lake.info.format == "csv" and lake.info.file_count == 2
    same = ws.data.create("lake", "datastore://s3/lake", kind="table")
    assert same.version == 1
    # unchanged objects (same size and ETag) are not read again
    store = ws.datastores.open("s3")
    again = scan_remote(store.fs, store.full("lake"), "ds:s3:", ws.data.hash_cache)
    assert again.rehashed == 0 and again.content_hash == lake.info.content_hash
    assert sorted(lake.to_pandas()["k"].tolist()) == [1, 2, 3]
    # a referenced object changed behind mlbench's back: refused when first read
    client.put_object(Bucket=s3.bucket, Key="team/ref.txt", Body=b"v1")  # type: ignore[attr-defined]
    ref = ws.data.create("ref", f"s3://{s3.bucket}/team/ref.txt")
    client.put_object(Bucket=s3.bucket, Key="team/ref.txt", Body=b"v2")  # type: ignore[attr-defined]
    with pytest.raises(DataChangedError, match="changed since it was registered"):
        ref.path()
    assert not (cache / ref.info.content_hash).exists()  # nothing half-downloaded is kept

    # missing key, path outside the datastore
    with pytest.raises(DataPathNotFoundError):
        ws.data.create("nothing", f"s3://{s3.bucket}/team/missing/x.csv")
    with pytest.raises(PathOutsideDatastoreError, match="outside datastore 's3'"):
        ws.data.create("outside", f"s3://{s3.bucket}/other/x.csv", datastore="s3")
    with pytest.raises(PathOutsideDatastoreError, match="not inside any datastore"):
        ws.data.create("outside", "s3://another-bucket/x.csv")

    # the secret is in no repr, response model, log record or printed output
    texts = [
        repr(store),
        repr(ws.datastores.get("s3")),
        ws.datastores.get("s3").model_dump_json(),
        [i.model_dump_json() for i in ws.datastores.list()],
        [i.model_dump_json() for i in ws.data.list()],
        repr(f),
        ws.datastores.test("s3").model_dump_json(),
    ]
    out = capsys.readouterr()
    assert_secret_free(s3.secret, *texts, caplog.text, out.out, out.err)
    assert caplog.records  # the storage libraries did log (at DEBUG) during all this


def test_s3_wrong_key_and_unreachable_endpoint(
    ws: Any, s3_server: S3Server, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    s3 = s3_server
    wrong = "wrong-secret-value-0123456789"
    with pytest.raises(DatastoreAuthError) as err:
        ws.datastores.create(
            "bad",
            "s3",
            bucket=s3.bucket,
            endpoint_url=s3.url,
            credentials={"access_key_id": s3.key_id, "secret_access_key": wrong},
        )
    assert "failed its check, so it was not saved" in err.value.message
    assert "access denied" in err.value.message and "--no-verify" in (err.value.hint or "")
    # nothing half-registered: no row, no credentials file
    assert "bad" not in [d.name for d in ws.datastores.list()]
    assert not (ws.home / "secrets" / "bad.json").exists()
    # saved unchecked, the test says what is wrong; using it gives a clear error
    ws.datastores.create(
        "bad",
        "s3",
        bucket=s3.bucket,
        endpoint_url=s3.url,
        credentials={"access_key_id": s3.key_id, "secret_access_key": wrong},
        verify=False,
    )
    result = ws.datastores.test("bad")
    assert not result.ok and result.reachable and result.error_code == "datastore_auth_failed"
    with pytest.raises(DatastoreAuthError, match="access denied") as used:
        ws.data.create("x", "datastore://bad/some/file.csv")
    assert "mlbench datastore update bad" in (used.value.hint or "")
    # the fix the hint names: the right key, read from standard input (not the command line)
    from click.testing import CliRunner

    from mlbench.cli.main import cli

    fixed = CliRunner().invoke(
        cli,
        ["-w", str(ws.home), "datastore", "update", "bad", "--credential", "secret_access_key=-"],
        input=s3.secret + "\n",
        catch_exceptions=False,
    )
    assert fixed.exit_code == 0, fixed.output
    assert "credentials: access_key_id, secret_access_key" in fixed.output
    assert ws.datastores.test("bad").ok
    assert_secret_free(s3.secret, fixed.output)

    closed = free_port()  # nothing listens there
    started = time.monotonic()
    with pytest.raises(DatastoreUnreachableError, match=f"127.0.0.1:{closed}"):
        ws.datastores.create(
            "down",
            "s3",
            bucket="b-down",
            endpoint_url=f"http://127.0.0.1:{closed}",
            credentials={"secret_access_key": wrong},
        )
    assert time.monotonic() - started < 10  # fails fast, not after minutes of retries
    ws.datastores.create(
        "down", "s3", bucket="b-down", endpoint_url=f"http://127.0.0.1:{closed}", verify=False
    )
    down = ws.datastores.test("down")
    assert not down.ok and not down.reachable and down.error_code == "datastore_unreachable"
    with ws.db.session() as s:
        assert s.query(DataVersionRow).count() == 0
    assert_secret_free(wrong, caplog.text, err.value, used.value, result.message)
    assert_secret_free(s3.secret, caplog.text)


@pytest.mark.slow
def test_job_reads_and_writes_s3_without_seeing_the_secret(
    ws: Any, s3_server: S3Server, notebook: Any, tmp_path: Path
) -> None:
    s3 = s3_server
    make_s3_store(ws, s3, name="s3jobs", prefix="jobs")
    src = tmp_path / "in.csv"
    src.write_text("a\n1\n2\n3\n")
    ws.data.create("s3-in", src, datastore="s3jobs")
    nb = notebook(
        "import os, pandas as pd\n"
        "df = pd.read_csv(data)\n"
        "keys = ('AWS_SECRET_ACCESS_KEY', 'AWS_ACCESS_KEY_ID', 'AWS_SESSION_TOKEN')\n"
        "print('env has', [k for k in keys if k in os.environ])\n"
        "print(dict(os.environ))  # all of it lands in the output notebook, scanned below\n"
        "df.assign(b=df.a * 2).to_csv(out, index=False)",
        parameters='data = ""\nout = ""',
        name="s3job.ipynb",
    )
    job = ws.jobs.submit(
        nb,
        inputs={"data": "data:s3-in"},
        outputs={"out": "data:s3-out,kind=table,format=csv,datastore=s3jobs"},
    )
    info = job.wait(WAIT).info
    assert info.status.value == "completed", (info.status_reason, ws.jobs.logs(info.id)[0])
    out = ws.data.get("s3-out")
    assert out.info.datastore == "s3jobs" and out.info.job_id == info.id
    assert out.to_pandas()["b"].tolist() == [2, 4, 6]
    lineage = ws.data.lineage("s3-out")
    assert {n.id for n in lineage.nodes} == {"data:s3-in:1", f"job:{info.id}", "data:s3-out:1"}
    log_text = ws.jobs.logs(info.id)[0]
    output_nb = ws.jobs.output_notebook_path(info.id).read_text()
    assert "env has []" in output_nb  # no storage credentials in the job's environment
    run = ws.tracking.client.get_run(info.mlflow_run_id)
    assert_secret_free(
        s3.secret,
        log_text,
        output_nb,
        run.data.params,
        run.data.tags,
        info.model_dump_json(),
        [d.dataset.source for d in run.inputs.dataset_inputs],
    )


def test_azureblob_round_trip_on_azurite(ws: Any, azurite: AzuriteServer, tmp_path: Path) -> None:
    info = ws.datastores.create(
        "az",
        "azureblob",
        account_name="devstoreaccount1",
        container=azurite.container,
        prefix="ml",
        endpoint_url=azurite.endpoint,
        credentials={"account_key": AZURITE_KEY},
    )
    assert info.credentials == ["account_key"] and AZURITE_KEY not in info.model_dump_json()
    assert ws.datastores.test("az").ok
    folder = tmp_path / "f"
    (folder / "x").mkdir(parents=True)
    (folder / "x" / "1.txt").write_text("one")
    (folder / "2.txt").write_text("two")
    (tmp_path / "t.csv").write_text("c\n1\n2\n")
    d = ws.data.create("azf", folder, datastore="az")
    t = ws.data.create("azt", tmp_path / "t.csv", datastore="az")
    assert (d.path() / "x" / "1.txt").read_text() == "one"
    assert t.to_pandas()["c"].tolist() == [1, 2]
    assert ws.data.create("azf", folder, datastore="az").version == 1
    fs = ws.datastores.open("az").fs
    fs.pipe_file(f"{azurite.container}/ml/lake/x/1.txt", b"one")
    fs.pipe_file(f"{azurite.container}/ml/lake/2.txt", b"two")
    ref = ws.data.create("azref", f"az://{azurite.container}/ml/lake", datastore="az")
    assert ref.info.stored == "reference" and ref.info.content_hash == d.info.content_hash
    assert (ref.path() / "2.txt").read_text() == "two"
    wrong = "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXk="
    with pytest.raises(DatastoreAuthError) as err:
        ws.datastores.create(
            "az-bad",
            "azureblob",
            account_name="devstoreaccount1",
            container=azurite.container,
            endpoint_url=azurite.endpoint,
            credentials={"account_key": wrong},
        )
    assert_secret_free(wrong, err.value)
    assert_secret_free(
        AZURITE_KEY, repr(ws.datastores.open("az")), ws.datastores.get("az").model_dump_json()
    )


def test_credentials_in_the_os_keyring(
    s3_server: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``secrets_backend: keyring``: credentials live in the keyring, not in the workspace."""
    keyring = require_module("keyring", "`make setup` (keyring is in the test extra)")
    file_keyring = require_module(
        "keyrings.alt.file", "`make setup` (keyrings.alt is in the test extra)"
    )
    from mlbench import Workspace

    # a real keyring backend (an encrypted-at-rest one needs a desktop session here)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    backend = file_keyring.PlaintextKeyring()
    previous = keyring.get_keyring()
    keyring.set_keyring(backend)
    ws = Workspace(tmp_path / "ws", secrets_backend="keyring")
    try:
        s3 = s3_server
        info = make_s3_store(ws, s3, name="kr")
        assert info.credentials == ["access_key_id", "secret_access_key"]
        assert not (ws.home / "secrets").exists()
        service = f"mlbench:{ws.home}"
        stored = keyring.get_password(service, "kr")
        assert stored is not None and s3.secret in stored
        assert_secret_free(s3.secret, *(p.read_bytes() for p in ws.home.rglob("*") if p.is_file()))
        assert ws.datastores.test("kr").ok
        (tmp_path / "d.txt").write_text("through the keyring")
        asset = ws.data.create("krd", tmp_path / "d.txt", datastore="kr")
        assert asset.path().read_text() == "through the keyring"
        make_s3_store(ws, s3, name="kr2")
        assert keyring.get_password(service, "kr2") is not None
        ws.datastores.delete("kr2")
        assert keyring.get_password(service, "kr2") is None
    finally:
        ws.close()
        keyring.set_keyring(previous)


def test_an_azureml_job_file_reads_its_remote_inputs_through_datastores(
    ws: Any, s3_server: S3Server, tmp_path: Path
) -> None:
    """s3:// and azureml://datastores/NAME/paths/P inputs of a job file are registered as data
    versions on the datastore holding them, staged for the command, and noted."""
    s3 = s3_server
    make_s3_store(ws, s3, name="lake")
    client = s3.client()
    client.put_object(Bucket=s3.bucket, Key="team/in/rows.csv", Body=b"k,v\n1,a\n")  # type: ignore[attr-defined]
    client.put_object(Bucket=s3.bucket, Key="team/dir/x.txt", Body=b"from a folder")  # type: ignore[attr-defined]
    job_file = tmp_path / "remote.yml"
    job_file.write_text(
        "command: cat ${{inputs.rows}} && cat ${{inputs.folder}}/x.txt\n"
        "inputs:\n"
        "  rows:\n"
        "    type: uri_file\n"
        f"    path: s3://{s3.bucket}/team/in/rows.csv\n"
        "  folder:\n"
        "    type: uri_folder\n"
        "    path: azureml://datastores/lake/paths/dir\n"
        "  page:\n"
        "    type: uri_file\n"
        "    path: https://example.com/data.csv\n"
    )
    with pytest.raises(InvalidInputError, match=r"remote\.yml:9: input page: https:// paths"):
        ws.jobs.submit_yaml(job_file)
    assert ws.data.list() == []  # a bad file registers nothing
    job_file.write_text(job_file.read_text().split("  page:")[0])
    loaded = ws.jobs.load_yaml(job_file)
    assert loaded.body["inputs"] == {"rows": "data:remote-rows:1", "folder": "data:remote-folder:1"}
    assert any("s3://" in n and "data:remote-rows:1" in n for n in loaded.notes)
    job = ws.jobs.submit_yaml(job_file).wait(120)
    assert job.info.status.value == "completed", job.info.status_reason
    assert "k,v\n1,a\nfrom a folder" in job.logs()
    assert ws.data.info("remote-rows:1").stored == "reference"
