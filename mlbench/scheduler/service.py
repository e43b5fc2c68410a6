"""``mlbench service install``: a systemd user unit that runs the workspace's scheduler."""

from __future__ import annotations

import hashlib
import os
import shlex
from pathlib import Path

from mlbench.schedules.process import command_line


def unit_name(home: Path) -> str:
    """One unit per workspace: ``mlbench-scheduler-<hash of the path>.service``."""
    digest = hashlib.sha256(str(home.resolve()).encode()).hexdigest()[:8]
    return f"mlbench-scheduler-{digest}.service"


def unit_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "systemd" / "user"


def unit_text(home: Path, command: list[str]) -> str:
    return "\n".join(
        [
            "[Unit]",
            f"Description=mlbench scheduler for {home}",
            "After=network-online.target",
            "",
            "[Service]",
            "Type=simple",
            f"ExecStart={shlex.join(command)}",
            f"Environment=MLBENCH_HOME={home}",
            f"WorkingDirectory={home}",
            "Restart=on-failure",
            "RestartSec=5",
            "",
            "[Install]",
            "WantedBy=default.target",
            "",
        ]
    )


def install_unit(home: Path, folder: Path | None = None) -> tuple[Path, str, list[str]]:
    """Write the unit; (its path, its name, the command it runs). Runs no systemctl."""
    home = home.resolve()
    command = command_line(home, on_demand=False)
    name = unit_name(home)
    folder = folder or unit_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(unit_text(home, command))
    return path, name, command
