"""Step reuse keys: BLAKE3 over what decides a step's result, and why two keys differ.

The components (:class:`~mlbench.pipelines.models.KeyComponents`):

- ``code``: a notebook normalized (each cell's type, source and tags only: outputs, execution
  counts, ids and every other metadata stripped, so re-saving or re-running it in JupyterLab
  changes nothing), or a command's code snapshot (each file's path and bytes) plus the command;
- ``parameters``: the literal parameters, resolved (pipeline inputs substituted, typed as the
  notebook declares them);
- ``inputs``: each data input's exact version (``NAME:V``), upstream outputs included;
- ``environment``: the exact environment version the step would run in;
- ``options``: the kernel, the outputs' kinds (not their asset names), environment variables,
  ``allow_unknown_params``.

Where, how long and with how much a step runs (compute, resources, timeout, retries, names)
is not in the key. The key is ``blake3`` of the components as canonical JSON.
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Any

import blake3
import nbformat

from mlbench.pipelines.models import KeyComponents

COMPONENTS = ("code", "parameters", "inputs", "environment", "options")


def normalized_notebook(source: bytes) -> list[dict[str, Any]]:
    nb = nbformat.reads(source.decode("utf-8"), as_version=4)
    cells = []
    for cell in nb.cells:
        item: dict[str, Any] = {"type": cell.cell_type, "source": cell.source}
        tags = sorted(cell.get("metadata", {}).get("tags", []) or [])
        if tags:
            item["tags"] = tags
        cells.append(item)
    return cells


def notebook_digest(source: bytes) -> str:
    return _digest(normalized_notebook(source))


def code_digest(files: list[tuple[str, Path]], command: str) -> str:
    h = blake3.blake3()
    for rel, path in sorted(files):
        h.update(rel.encode() + b"\0")
        h.update(blake3.blake3(path.read_bytes()).digest())
    h.update(b"\0command\0" + command.encode())
    return h.hexdigest()


def reuse_key(components: KeyComponents) -> str:
    return _digest(components.model_dump(mode="json"))


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return blake3.blake3(text.encode("utf-8")).hexdigest()


def changed(old: KeyComponents, new: KeyComponents) -> list[str]:
    a, b = old.model_dump(mode="json"), new.model_dump(mode="json")
    out = [c for c in COMPONENTS if a.get(c) != b.get(c)]
    if a.get("kind") != b.get("kind") and "code" not in out:
        out.insert(0, "code")
    return out


def value_diff(name: str, old: Any, new: Any) -> list[str]:
    """One line per changed key of two mappings (or one for two plain values)."""
    if isinstance(old, dict) and isinstance(new, dict):
        lines = []
        for key in sorted(set(old) | set(new)):
            if key not in old:
                lines.append(f"{name}.{key}: added = {json.dumps(new[key])}")
            elif key not in new:
                lines.append(f"{name}.{key}: removed (was {json.dumps(old[key])})")
            elif old[key] != new[key]:
                lines.append(f"{name}.{key}: {json.dumps(old[key])} -> {json.dumps(new[key])}")
        return lines
    return [f"{name}: {json.dumps(old)} -> {json.dumps(new)}"]


def text_diff(old: str, new: str, old_label: str, new_label: str, limit: int = 200) -> list[str]:
    lines = list(
        difflib.unified_diff(
            old.splitlines(), new.splitlines(), old_label, new_label, lineterm="", n=2
        )
    )
    if len(lines) > limit:
        return [*lines[:limit], f"... ({len(lines) - limit} more lines)"]
    return lines


def notebook_text(source: bytes) -> str:
    """The normalized notebook as text (what a code diff shows)."""
    parts = []
    for i, cell in enumerate(normalized_notebook(source)):
        tags = f" tags={cell['tags']}" if cell.get("tags") else ""
        parts.append(f"# --- cell {i} ({cell['type']}){tags}\n{cell['source']}")
    return "\n".join(parts)


def folder_text(folder: Path, command: str) -> str:
    """A command step's code as text: the command, then each text file."""
    parts = [f"# --- command\n{command}"]
    if folder.is_dir():
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            rel = path.relative_to(folder).as_posix()
            try:
                parts.append(f"# --- {rel}\n{path.read_text(encoding='utf-8')}")
            except (UnicodeDecodeError, OSError):
                parts.append(f"# --- {rel} (binary, {path.stat().st_size} bytes)")
    return "\n".join(parts)


__all__ = [
    "COMPONENTS",
    "changed",
    "code_digest",
    "folder_text",
    "normalized_notebook",
    "notebook_digest",
    "notebook_text",
    "reuse_key",
    "text_diff",
    "value_diff",
]
