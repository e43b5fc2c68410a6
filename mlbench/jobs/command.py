"""Command jobs: a shell command run in a snapshot of a code folder (Azure ML's command job).

The command may hold Azure ML's placeholders:

- ``${{inputs.NAME}}``: a literal input (a parameter of the job) or the local path of a data
  input, shell-quoted when it needs quoting;
- ``${{outputs.NAME}}``: a folder the command writes; its files become run artifacts, or a data
  asset version when the output is bound to one (``outputs={"NAME": "data:asset"}``);
- ``${{search_space.NAME}}``: a sweep trial's sampled value (a parameter too);
- ``[ ... ]`` around an optional part: kept (without the brackets) when every input it names is
  given, dropped otherwise, as Azure ML does.

The code folder is snapshotted at submission: every file but what its ``.amlignore`` (or, without
one, its ``.gitignore``) excludes, and ``.git``, ``__pycache__`` and ``.ipynb_checkpoints``;
bounded in size; content-hashed (the job's spec hash uses it).
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlbench.errors import InvalidInputError

PLACEHOLDER = re.compile(r"\$\{\{\s*(?P<body>[^{}]*?)\s*\}\}")
OPTIONAL = re.compile(r"\[(?P<body>[^\[\]]*\$\{\{[^\[\]]*\}\}[^\[\]]*)\]")
KINDS = ("inputs", "outputs", "search_space")
ALWAYS_LEFT_OUT = (".git/", "__pycache__/", ".ipynb_checkpoints/", ".amlignore", ".gitignore")
DEFAULT_CODE_MAX_BYTES = 100 * 1024 * 1024


@dataclass(frozen=True)
class Placeholder:
    kind: str  # inputs, outputs or search_space
    name: str
    text: str  # as written


def placeholders(command: str) -> list[Placeholder]:
    """Every placeholder of a command; a malformed one is an error naming it and the fix."""
    found = []
    for m in PLACEHOLDER.finditer(command):
        body = m.group("body")
        kind, dot, name = body.partition(".")
        if kind not in KINDS or not dot or not name.isidentifier():
            raise InvalidInputError(
                f"command: cannot resolve {m.group(0)!r} (at character {m.start() + 1})",
                hint="placeholders are ${{inputs.NAME}}, ${{outputs.NAME}} or "
                "${{search_space.NAME}}",
            )
        found.append(Placeholder(kind, name, m.group(0)))
    if "${{" in PLACEHOLDER.sub("", command):
        at = PLACEHOLDER.sub(lambda m: " " * len(m.group(0)), command).index("${{")
        raise InvalidInputError(
            f"command: an unclosed placeholder at character {at + 1}",
            hint="write ${{inputs.NAME}} with both braces closed",
        )
    return found


def check_command(command: str, parameters: Mapping[str, Any], outputs: Mapping[str, Any]) -> None:
    """Every required input the command names is given (optional parts may name missing ones)."""
    required = OPTIONAL.sub("", command)
    placeholders(command)  # syntax of every placeholder, optional ones included
    missing = sorted(
        {
            p.text
            for p in placeholders(required)
            if p.kind in ("inputs", "search_space") and p.name not in parameters
        }
    )
    if missing:
        raise InvalidInputError(
            f"command: {', '.join(missing)} not given",
            hint="give each input (inputs: {NAME: value} in YAML, -p NAME VALUE on the command "
            "line), or make that part optional with [ ... ]",
        )
    del outputs  # any output name is fine: its folder is made before the command runs


def resolve(command: str, parameters: Mapping[str, Any], outputs_dir: Path) -> str:
    """The command as the shell runs it: placeholders replaced by (quoted) values and paths."""

    def optional(m: re.Match[str]) -> str:
        names = [p for p in placeholders(m.group("body")) if p.kind != "outputs"]
        return m.group("body") if all(p.name in parameters for p in names) else ""

    def value(m: re.Match[str]) -> str:
        kind, _, name = m.group("body").partition(".")
        if kind == "outputs":
            if name in parameters:  # bound to a data asset: the binding's path
                return shlex.quote(str(parameters[name]))
            folder = outputs_dir / name
            folder.mkdir(parents=True, exist_ok=True)
            return shlex.quote(str(folder))
        raw = parameters[name]
        text = raw if isinstance(raw, str) else _literal(raw)
        return shlex.quote(text)

    return PLACEHOLDER.sub(value, OPTIONAL.sub(optional, command))


def output_names(command: str) -> list[str]:
    return list(dict.fromkeys(p.name for p in placeholders(command) if p.kind == "outputs"))


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, float) else str(value)
    import json

    return json.dumps(value)


# -- the code snapshot -------------------------------------------------------------------------
def _ignore_spec(root: Path) -> Any:
    import pathspec

    lines = list(ALWAYS_LEFT_OUT)
    for name in (".amlignore", ".gitignore"):  # Azure ML: .amlignore wins when both exist
        path = root / name
        if path.is_file():
            lines += path.read_text(encoding="utf-8", errors="replace").splitlines()
            break
    return pathspec.GitIgnoreSpec.from_lines(lines)


def code_files(root: Path) -> list[tuple[str, Path]]:
    """(relative POSIX path, path) of every file of the snapshot, sorted by path."""
    return sorted(_walk_code(root))


def _walk_code(root: Path) -> Iterator[tuple[str, Path]]:
    spec = _ignore_spec(root)
    for folder, dirs, files in os.walk(root, followlinks=False):
        rel = Path(folder).relative_to(root).as_posix()
        prefix = "" if rel == "." else f"{rel}/"
        dirs[:] = sorted(d for d in dirs if not spec.match_file(f"{prefix}{d}/"))
        for name in sorted(files):
            path = Path(folder) / name
            if spec.match_file(f"{prefix}{name}") or not path.is_file():
                continue
            yield f"{prefix}{name}", path


@dataclass(frozen=True)
class CodeSnapshot:
    root: Path
    files: list[tuple[str, Path]]
    size: int
    sha256: str


def scan_code(root: Path, max_bytes: int = DEFAULT_CODE_MAX_BYTES) -> CodeSnapshot:
    """The files a snapshot of ``root`` takes, their size (bounded) and content hash."""
    try:
        if not root.is_dir():
            raise InvalidInputError(
                f"code folder {root} does not exist",
                hint="give an existing folder as code (the folder the command runs in)",
            )
    except OSError as exc:
        raise InvalidInputError(f"code folder {root}: {exc.strerror}") from None
    files = code_files(root)
    digest = hashlib.sha256()
    size = 0
    for rel, path in files:
        size += path.stat().st_size
        if size > max_bytes:
            raise InvalidInputError(
                f"code folder {root} holds more than {max_bytes // (1024 * 1024)} MiB to snapshot "
                f"(at {rel})",
                hint="leave data and build output out with a .amlignore or .gitignore file, or "
                "pass data as inputs; the limit is the code_max_bytes setting",
            )
        digest.update(rel.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return CodeSnapshot(root, files, size, digest.hexdigest())


def copy_code(snapshot: CodeSnapshot, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for rel, path in snapshot.files:
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)


__all__ = [
    "CodeSnapshot",
    "Placeholder",
    "check_command",
    "code_files",
    "copy_code",
    "output_names",
    "placeholders",
    "resolve",
    "scan_code",
]
