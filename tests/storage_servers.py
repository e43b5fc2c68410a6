"""Real storage servers on 127.0.0.1 for the data tests: moto's S3 server and Azurite.

Each runs as a child process on a free loopback port and is stopped by the fixture that
started it. moto checks signatures (``INITIAL_NO_AUTH_ACTION_COUNT``: the first requests, which
create the IAM user and key, are let through; every later one must be signed with a real key),
so a wrong key is refused as by AWS. Azurite (npm package ``azurite``) is looked up on PATH, in
``node_modules/.bin`` or at ``$AZURITE_BLOB``; without it the Azure tests are skipped (in CI,
where ``CI`` is set, they fail: see ``tests.conftest.require_service``).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import require_module, require_service

SETUP = "`make setup` (it installs the test extra)"

# Azurite's documented development account (public, the same for everyone).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


@dataclass
class S3Server:
    url: str
    key_id: str
    secret: str
    bucket: str

    def client(self) -> object:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id=self.key_id,
            aws_secret_access_key=self.secret,
        )


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    require_module("moto.server", f"{SETUP} (moto[server] is in it)")
    import boto3

    port = free_port()
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "3"}
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_port(port, proc)
        url = f"http://127.0.0.1:{port}"
        iam = boto3.client(
            "iam",
            endpoint_url=url,
            region_name="us-east-1",
            aws_access_key_id="bootstrap",
            aws_secret_access_key="bootstrap",
        )
        iam.create_user(UserName="mlbench")
        key = iam.create_access_key(UserName="mlbench")["AccessKey"]
        iam.put_user_policy(
            UserName="mlbench",
            PolicyName="all",
            PolicyDocument='{"Version":"2012-10-17","Statement":'
            '[{"Effect":"Allow","Action":"*","Resource":"*"}]}',
        )
        server = S3Server(url, key["AccessKeyId"], key["SecretAccessKey"], "mlbench-data")
        server.client().create_bucket(Bucket=server.bucket)  # type: ignore[attr-defined]
        yield server
    finally:
        stop(proc)


def azurite_command() -> str | None:
    for candidate in (
        os.environ.get("AZURITE_BLOB"),
        shutil.which("azurite-blob"),
        str(Path(__file__).resolve().parents[1] / "node_modules" / ".bin" / "azurite-blob"),
    ):
        if candidate and Path(candidate).exists():
            return candidate
    return None


@dataclass
class AzuriteServer:
    endpoint: str
    container: str

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};"
            f"AccountKey={AZURITE_KEY};BlobEndpoint={self.endpoint};"
        )


@pytest.fixture(scope="module")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AzuriteServer]:
    command = azurite_command()
    if command is None:
        require_service(
            "Azurite (the Azure Blob emulator) is not installed",
            "`make test-python` installs it (npm install --prefix .ci/tools azurite@3); "
            "or set AZURITE_BLOB to an azurite-blob executable",
        )
    require_module("adlfs", f"{SETUP} (adlfs is in it)")
    from azure.storage.blob import BlobServiceClient

    port = free_port()
    folder = tmp_path_factory.mktemp("azurite")
    with open(folder / "azurite.log", "wb") as out:
        proc = subprocess.Popen(
            [
                command,
                "--blobHost",
                "127.0.0.1",
                "--blobPort",
                str(port),
                "--location",
                str(folder),
                "--skipApiVersionCheck",
                "--silent",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_port(port, proc)
        server = AzuriteServer(f"http://127.0.0.1:{port}/{AZURITE_ACCOUNT}", "mlbench")
        client = BlobServiceClient.from_connection_string(server.connection_string)
        client.create_container(server.container)
        yield server
    finally:
        stop(proc)
