"""Environment specs from what users keep in their repos: a requirements list, a conda-style
YAML (its ``pip:`` section) or a pyproject's ``[project] dependencies``, normalized so that
order, spelling and comments do not make a different spec."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from mlbench.environments.errors import EnvironmentSpecError
from mlbench.environments.models import EnvironmentSpec

MAX_REQUIREMENTS = 500
_PYTHON = re.compile(r"^\d+(\.\d+){0,2}$")
# conda entries that are not packages to build: the interpreter and pip itself
_CONDA_SELF = {"python", "pip"}


def _text(value: str | Path, what: str) -> str:
    """A file's text when ``value`` is a path to one, else ``value`` itself."""
    if isinstance(value, Path) or ("\n" not in value and len(value) < 4096):
        path = Path(value).expanduser()
        try:
            if path.is_file():
                return path.read_text(encoding="utf-8")
        except OSError as exc:
            raise EnvironmentSpecError(f"cannot read {what} {path}: {exc}") from None
        if isinstance(value, Path):
            raise EnvironmentSpecError(f"{what} {path} does not exist")
    return str(value)


def normalize_requirement(line: str) -> str:
    try:
        req = Requirement(line)
    except InvalidRequirement as exc:
        raise EnvironmentSpecError(
            f"invalid requirement {line!r}: {exc}",
            hint="one PEP 508 requirement per entry, e.g. 'numpy>=2' or 'torch==2.5.*'",
        ) from None
    req.name = canonicalize_name(req.name)
    return str(req)


def normalize(requirements: Iterable[str]) -> list[str]:
    """Sorted, de-duplicated PEP 508 requirements (comments and blank lines dropped)."""
    seen: set[str] = set()
    for raw in requirements:
        line = str(raw).split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("-"):
            raise EnvironmentSpecError(
                f"requirements option {line.split()[0]!r} is not supported",
                hint="list packages only; an index is chosen with uv's own settings "
                "(UV_INDEX_URL, uv.toml)",
            )
        seen.add(normalize_requirement(line))
    if len(seen) > MAX_REQUIREMENTS:
        raise EnvironmentSpecError(f"at most {MAX_REQUIREMENTS} requirements, got {len(seen)}")
    return sorted(seen, key=lambda r: (canonicalize_name(Requirement(r).name), r))


def check_python(version: str | None) -> str | None:
    if version is None:
        return None
    version = str(version).strip()
    if not _PYTHON.match(version):
        raise EnvironmentSpecError(
            f"invalid Python version {version!r}", hint="e.g. 3.11 or 3.12.4"
        )
    parts = tuple(int(p) for p in version.split("."))
    if parts[:2] < (3, 10):
        raise EnvironmentSpecError(
            f"Python {version} is too old for mlbench's in-kernel helpers",
            hint="ask for Python 3.10 or newer",
        )
    return version


def from_requirements(requirements: str | Iterable[str], python: str | None) -> EnvironmentSpec:
    lines = (
        _text(requirements, "requirements file").splitlines()
        if isinstance(requirements, str | Path)
        else list(requirements)
    )
    return EnvironmentSpec(requirements=normalize(lines), python=check_python(python))


def from_conda(text_or_path: str | Path, python: str | None) -> EnvironmentSpec:
    """A conda environment file's ``pip:`` packages; conda packages are refused by name (no
    conda channel is used), ``python=X.Y`` chooses the interpreter."""
    import yaml

    text = _text(text_or_path, "conda environment file")
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise EnvironmentSpecError(f"invalid conda environment YAML: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("dependencies", []), list):
        raise EnvironmentSpecError(
            "a conda environment file is a mapping with a 'dependencies' list",
            hint="e.g. dependencies: [python=3.11, pip, {pip: [numpy, pandas]}]",
        )
    pip: list[str] = []
    conda_only: list[str] = []
    conda_python = None
    for dep in doc.get("dependencies") or []:
        if isinstance(dep, dict):
            for key, value in dep.items():
                if key != "pip" or not isinstance(value, list):
                    raise EnvironmentSpecError(f"unexpected conda dependency entry {dep!r}")
                pip.extend(str(v) for v in value)
            continue
        entry = str(dep).strip()
        name = re.split(r"[=<>!~ ]", entry.split("::")[-1], maxsplit=1)[0].strip().lower()
        if name == "python":
            match = re.search(r"(\d+(?:\.\d+){0,2})", entry)
            conda_python = match.group(1) if match else None
        elif name not in _CONDA_SELF:
            conda_only.append(entry)
    if conda_only:
        raise EnvironmentSpecError(
            "conda packages cannot be built (no conda channel is used): " + ", ".join(conda_only),
            hint="move them under 'pip:' with their PyPI names (e.g. pytorch -> torch), or "
            "drop the ones pip packages already bring",
            details={"conda_only": conda_only},
        )
    spec = EnvironmentSpec(
        requirements=normalize(pip), python=check_python(python or conda_python), source="conda"
    )
    return spec


def from_pyproject(text_or_path: str | Path, python: str | None) -> EnvironmentSpec:
    """``[project] dependencies`` of a pyproject.toml (the project itself is not installed)."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        try:
            import tomli as tomllib  # type: ignore[no-redef]
        except ModuleNotFoundError:
            raise EnvironmentSpecError(
                "reading a pyproject needs Python 3.11 or the tomli package",
                hint="pip install tomli, or pass its dependencies as requirements",
            ) from None

    text = _text(text_or_path, "pyproject file")
    try:
        doc: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise EnvironmentSpecError(f"invalid pyproject.toml: {exc}") from None
    project = doc.get("project")
    if not isinstance(project, dict) or not isinstance(project.get("dependencies", []), list):
        raise EnvironmentSpecError(
            "the pyproject has no [project] dependencies list",
            hint="dependencies = ['numpy>=2', ...] under [project]",
        )
    return EnvironmentSpec(
        requirements=normalize(project.get("dependencies") or []),
        python=check_python(python),
        source="pyproject",
    )


def spec_key(spec: EnvironmentSpec) -> str:
    """What an identical spec is recognized by, before anything is resolved."""
    body = json.dumps({"requirements": spec.requirements, "python": spec.python}, sort_keys=True)
    return hashlib.sha256(body.encode()).hexdigest()
