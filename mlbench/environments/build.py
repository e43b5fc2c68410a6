"""Resolving and building environments with uv, and registering their kernels.

uv comes from its PyPI wheel (``uv.find_uv_bin()``), so nothing is downloaded but packages.
A build is ``uv pip compile`` (the lock) → ``uv venv`` → ``uv pip sync`` → the mlbench helper
link → ``kernel.json``, then byte-compiling. uv does not byte-compile by default, and first
imports are then slower; compiling during the build (``uv pip sync --compile-bytecode``) was
measured here to take 20 s of a 27 s build of numpy/pandas/scikit-learn, to save 2 s on the first
job only (Python writes the bytecode of what it imports itself). So by default the version is
ready once installed and ``compileall`` runs after it in the background (its writes are atomic,
so a job importing meanwhile is safe); ``compile_now`` compiles before the version is ready.

The venv is complete only once its marker file is written, and the kernelspec is written after
that, so an interrupted build leaves nothing a job could start.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from packaging.utils import canonicalize_name

from mlbench.environments.errors import EnvironmentBuildError, EnvironmentSpecError

log = logging.getLogger(__name__)

KERNEL_PACKAGE = "ipykernel"
COMPLETE_MARKER = ".mlbench-complete"
HELPER_PTH = "_mlbench_helpers.pth"
HELPER_DIR = "mlbench-helpers"
KERNEL_PREFIX = "mlbench-"
_PROBE = (
    "import json, platform, sys; print(json.dumps([platform.python_implementation(), "
    "platform.python_version(), sys.platform, platform.machine()]))"
)
_LOCK_LINE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?\s*(==|@)\s*(.+)$")

# JUPYTER_PATH entries this process added (one workspace's kernels at a time).
_exposed: list[str] = []


def uv_bin() -> str:
    try:
        from uv import find_uv_bin
    except ImportError as exc:
        raise EnvironmentBuildError(
            "uv is not installed", hint="pip install uv (a dependency of mlbench)"
        ) from exc
    return str(find_uv_bin())


def uv_env() -> dict[str, str]:
    """uv's environment: the caller's (index, cache, offline settings), never a download of
    Python (only the interpreters present are used) and no colors in logs."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "CONDA_PREFIX")}
    env.update({"UV_PYTHON_DOWNLOADS": "never", "NO_COLOR": "1", "UV_NO_PROGRESS": "1"})
    return env


@dataclass(frozen=True)
class Interpreter:
    path: str
    implementation: str
    version: str
    platform: str

    @property
    def label(self) -> str:
        return f"{self.implementation} {self.version}"


def find_python(request: str | None) -> Interpreter:
    """The interpreter for a spec: mlbench's own by default, else one present that matches."""
    if request is None:
        path = getattr(sys, "_base_executable", None) or sys.executable
    else:
        proc = subprocess.run(
            [uv_bin(), "python", "find", request, "--no-python-downloads"],
            capture_output=True,
            text=True,
            env=uv_env(),
            check=False,
        )
        if proc.returncode != 0:
            found = _installed_pythons()
            raise EnvironmentSpecError(
                f"no Python {request} on this machine",
                hint=f"interpreters present: {', '.join(found) or 'none found'}; "
                "ask for one of them (Pythons are not downloaded)",
            )
        path = proc.stdout.strip().splitlines()[-1]
    probe = subprocess.run([path, "-c", _PROBE], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        raise EnvironmentSpecError(f"cannot run the interpreter {path}: {probe.stderr.strip()}")
    impl, version, plat, machine = json.loads(probe.stdout)
    return Interpreter(path, impl, version, f"{plat}-{machine}".lower())


def _installed_pythons() -> list[str]:
    proc = subprocess.run(
        [uv_bin(), "python", "list", "--only-installed", "--output-format", "json"],
        capture_output=True,
        text=True,
        env=uv_env(),
        check=False,
    )
    try:
        return sorted({p["version"] for p in json.loads(proc.stdout)})
    except (ValueError, KeyError, TypeError):
        return []


# -- the lock ----------------------------------------------------------------------------------
def normalize_lock(text: str) -> list[str]:
    """``name==version`` lines (names canonical), sorted; comments, hashes, annotations and
    continuation lines dropped, so only what is installed decides the hash."""
    out = set()
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip().rstrip("\\").strip()
        if not line or line.startswith("-"):
            continue
        match = _LOCK_LINE.match(line)
        if not match:
            raise EnvironmentBuildError(f"unexpected line in uv's lock: {raw!r}")
        name, extras, op, rest = match.groups()
        rest = rest.split(";", 1)[0].strip().split(" ", 1)[0]
        out.add(f"{canonicalize_name(name)}{extras or ''}{op}{rest}")
    return sorted(out)


def lock_hash(packages: list[str], python: Interpreter) -> str:
    body = {"lock": packages, "python": python.label, "platform": python.platform}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def with_kernel(requirements: list[str]) -> list[str]:
    """The spec plus ipykernel (a job's kernel needs it), unless the spec pins it itself."""
    names = {canonicalize_name(re.split(r"[\[<>=!~;@ ]", r, maxsplit=1)[0]) for r in requirements}
    return requirements if KERNEL_PACKAGE in names else [*requirements, KERNEL_PACKAGE]


def compile_lock(requirements: list[str], python: Interpreter, log_file: TextIO) -> list[str]:
    """Resolve with ``uv pip compile``; the resolver's message on failure."""
    with tempfile.TemporaryDirectory(prefix="mlbench-env-") as tmp:
        req_in = Path(tmp) / "requirements.in"
        req_in.write_text("\n".join(with_kernel(requirements)) + "\n", encoding="utf-8")
        cmd = [
            uv_bin(),
            "pip",
            "compile",
            str(req_in),
            "--python",
            python.path,
            "--no-header",
            "--no-annotate",
            "--quiet",
        ]
        out = run_logged(cmd, log_file, "resolving", capture=True)
    return normalize_lock(out)


def run_logged(cmd: list[str], log_file: TextIO, what: str, *, capture: bool = False) -> str:
    """Run uv, its messages appended to the build log as they come; stdout returned when
    ``capture``. Ctrl-C stops uv and is raised again (the caller cleans up)."""
    log_file.write(f"$ {' '.join(cmd[1:3])} ... ({what})\n")
    log_file.flush()
    with tempfile.TemporaryFile("w+", encoding="utf-8") as stdout:
        proc = subprocess.Popen(
            cmd,
            stdout=stdout if capture else log_file,
            stderr=log_file,
            stdin=subprocess.DEVNULL,
            env=uv_env(),
            text=True,
        )
        try:
            code = proc.wait()
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        stdout.seek(0)
        out = stdout.read()
    log_file.flush()
    if code != 0:
        raise EnvironmentBuildError(
            f"{what} failed: {_uv_message(log_file)}",
            hint=_hint_for(_uv_message(log_file)),
        )
    return out


def _uv_message(log_file: TextIO) -> str:
    """uv's error from the end of the log: the lines from its last 'error:'."""
    try:
        text = Path(log_file.name).read_text(encoding="utf-8", errors="replace")
    except (OSError, TypeError):
        return "uv failed (see the build log)"
    tail = text[-8000:]
    start = tail.rfind("error:")
    if start < 0:
        return "\n".join(tail.strip().splitlines()[-5:])
    return tail[start + len("error:") :].strip()


def _hint_for(message: str) -> str:
    lower = message.lower()
    if "not found in the package registry" in lower or "no solution found" in lower:
        return "check the package names and version pins (the resolver's words above)"
    if "offline" in lower or "connect" in lower or "dns" in lower or "network" in lower:
        return (
            "the package index could not be reached: set UV_INDEX_URL to a mirror, or "
            "UV_OFFLINE=1 to build from uv's cache"
        )
    return "see the build log (`mlbench env show NAME --log`)"


def freeze(python: str) -> tuple[list[str], list[str]]:
    """``name==version`` of what ``python`` has installed, and the entries left out (editable,
    local or URL installs: an index cannot rebuild them)."""
    proc = subprocess.run(
        [uv_bin(), "pip", "freeze", "--python", python, "--exclude-editable"],
        capture_output=True,
        text=True,
        env=uv_env(),
        check=False,
    )
    if proc.returncode != 0:
        raise EnvironmentSpecError(f"cannot list the packages of {python}: {proc.stderr.strip()}")
    pinned, skipped = [], []
    for raw in proc.stdout.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        (pinned if "==" in line and "@" not in line else skipped).append(line)
    return pinned, skipped


# -- the venv ----------------------------------------------------------------------------------
def is_complete(venv: Path) -> bool:
    return (venv / COMPLETE_MARKER).is_file()


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def build_venv(
    venv: Path,
    packages: list[str],
    python: Interpreter,
    log_file: TextIO,
    *,
    compile_bytecode: bool = False,
) -> None:
    """Build the venv at ``venv`` from the lock (nothing to do when it is complete);
    ``compile_bytecode``: byte-compile during the install (else see :func:`compile_later`)."""
    if is_complete(venv):
        log_file.write(f"venv {venv} already built: reused\n")
        return
    if venv.exists():  # what an interrupted build left
        shutil.rmtree(venv)
    venv.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mlbench-lock-") as tmp:
        lock = Path(tmp) / "requirements.txt"
        lock.write_text("\n".join(packages) + "\n", encoding="utf-8")
        run_logged(
            [uv_bin(), "venv", str(venv), "--python", python.path, "--no-project"],
            log_file,
            "creating the venv",
        )
        run_logged(
            [
                uv_bin(),
                "pip",
                "sync",
                str(lock),
                "--python",
                str(venv_python(venv)),
                *(["--compile-bytecode"] if compile_bytecode else []),
            ],
            log_file,
            "installing",
        )
    link_helpers(venv)
    (venv / COMPLETE_MARKER).write_text(json.dumps({"packages": len(packages)}) + "\n")


def compile_later(venv: Path, log_path: Path) -> subprocess.Popen[str] | None:
    """Byte-compile the venv's packages in a detached, low-priority process (not waited for;
    it survives Ctrl-C of the caller, and errors in odd files are only logged)."""
    sites = [str(p) for p in (venv / "lib").glob("python*/site-packages")]
    if not sites:
        return None
    with log_path.open("a", encoding="utf-8") as out:
        out.write("byte-compiling in the background\n")
        out.flush()
        nice = shutil.which("nice")  # not preexec_fn: callers may have threads (the server)
        return subprocess.Popen(
            [
                *([nice, "-n", "10"] if nice else []),
                str(venv_python(venv)),
                "-m",
                "compileall",
                "-q",
                "-j",
                "0",
                *sites,
            ],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            start_new_session=True,
            text=True,
        )


def link_helpers(venv: Path) -> None:
    """Make ``import mlbench`` (``mlbench.log_metric``, the kernel fork server) work in the venv.

    A ``.pth`` names a folder holding only a link to the running mlbench package, not the
    folder it lives in (that would expose every package of mlbench's own environment). A link,
    not a copy: the kernel's metric writer then always matches the agent that reads it, across
    upgrades. ``import mlbench`` needs only the standard library.
    """
    package = Path(__file__).resolve().parents[1]  # the mlbench package
    helpers = venv / HELPER_DIR
    helpers.mkdir(exist_ok=True)
    link = helpers / "mlbench"
    if link.is_symlink() and Path(os.readlink(link)) == package:
        return
    tmp = helpers / f".mlbench-{os.getpid()}"
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    tmp.symlink_to(package, target_is_directory=True)
    tmp.replace(link)
    for site in (venv / "lib").glob("python*/site-packages"):
        (site / HELPER_PTH).write_text(str(helpers) + "\n", encoding="utf-8")


def venv_size(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, name)).st_size
    return total


# -- kernels -----------------------------------------------------------------------------------
def kernel_name(name: str, lock_hash: str) -> str:
    return f"{KERNEL_PREFIX}{name.lower()}-{lock_hash[:8]}"


def write_kernelspec(kernels_dir: Path, name: str, venv: Path, *, display: str, meta: dict) -> Path:
    """``kernels_dir/<name>/kernel.json``, written whole (a temporary folder renamed): a reader
    never sees half a spec. Only mlbench's own names are written, so no user kernel is touched."""
    if not name.startswith(KERNEL_PREFIX):
        raise ValueError(f"not an mlbench kernel name: {name}")
    kernels_dir.mkdir(parents=True, exist_ok=True)
    target = kernels_dir / name
    spec = {
        "argv": [str(venv_python(venv)), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": display,
        "language": "python",
        "metadata": {"mlbench": meta, "debugger": True},
    }
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=kernels_dir))
    (tmp / "kernel.json").write_text(json.dumps(spec, indent=1) + "\n", encoding="utf-8")
    if target.exists():
        shutil.rmtree(target)
    tmp.rename(target)
    return target


def remove_kernelspec(kernels_dir: Path, name: str) -> None:
    if name.startswith(KERNEL_PREFIX):
        shutil.rmtree(kernels_dir / name, ignore_errors=True)


def expose_kernels(data_dir: Path) -> None:
    """Put ``data_dir`` (holding ``kernels/``) first on JUPYTER_PATH, where jupyter_client's
    KernelSpecManager looks: this process (the kernel check at submission) and the agents it
    starts (their kernel pool) then find the environments' kernels, and the user's own kernel
    folders are left as they are. One workspace's folder at a time."""
    entry = str(data_dir)
    current = [p for p in os.environ.get("JUPYTER_PATH", "").split(os.pathsep) if p]
    rest = [p for p in current if p != entry and p not in _exposed]
    os.environ["JUPYTER_PATH"] = os.pathsep.join([entry, *rest])
    _exposed[:] = [entry]
