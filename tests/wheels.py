"""A tiny pure-Python wheel made on the spot: a package no index has and the base venv lacks,
so an environment holding it builds with no network (uv takes ipykernel and its dependencies
from its cache) and a job that imports it proves it ran in that environment.

``python -m tests.wheels FOLDER`` writes it and prints the requirement naming it (the Galata
spec of environments uses that).
"""

from __future__ import annotations

import base64
import hashlib
import sys
import zipfile
from pathlib import Path

PROBE = "mlbench-probe"
PROBE_MODULE = "mlbench_probe"


def make_wheel(folder: Path, name: str = PROBE, version: str = "1.0") -> str:
    """Write ``name``'s wheel (one module, ``VALUE = '<name> <version>'``) into ``folder``;
    the PEP 508 requirement naming that file."""
    module = name.replace("-", "_")
    info = f"{module}-{version}.dist-info"
    files = {
        f"{module}.py": f"VALUE = {f'{name} {version}'!r}\n__version__ = {version!r}\n",
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: mlbench-tests\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{path},sha256={digest.decode()},{len(text.encode())}")
    files[f"{info}/RECORD"] = "\n".join([*record, f"{info}/RECORD,,"]) + "\n"
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder.resolve() / f"{module}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for path, text in files.items():
            zf.writestr(path, text)
    return f"{name} @ {wheel.as_uri()}"


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m tests.wheels FOLDER")
    print(make_wheel(Path(sys.argv[1])))
