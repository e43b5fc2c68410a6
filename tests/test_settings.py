"""One settings story: the README's settings table is WorkspaceSettings, and every setting is read
from mlbench.yaml and from ``MLBENCH_`` + its name upper-cased (issue 23)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from markdown_it import MarkdownIt

from mlbench.config import DEPRECATED_ENV, WorkspaceSettings, env_name, load_settings

ROOT = Path(__file__).resolve().parents[1]

# A valid value different from the default, per setting (a new setting must be added here).
CHANGED: dict[str, Any] = {
    "database_url": "sqlite:////tmp/elsewhere.db",
    "tracking_uri": "http://mlflow.example:5000",
    "artifact_location": "/tmp/artifacts",
    "agent_idle_timeout_s": 12.5,
    "agent_poll_interval_s": 0.25,
    "agent_heartbeat_interval_s": 3.0,
    "gpu_sample_interval_s": 5.0,
    "kernel_heartbeat_timeout_s": 45.0,
    "cancel_grace_s": 2.0,
    "kernel_start_timeout_s": 90.0,
    "code_max_bytes": 4096,
    "job_log_max_bytes": 8192,
    "output_max_bytes": 2048,
    "notebook_output_max_bytes": 65536,
    "secrets_backend": "keyring",
}


def readme_settings() -> dict[str, list[str]]:
    """The README's settings table: {setting: [its cells]}."""
    text = (ROOT / "README.md").read_text()
    section = text.split("### Settings", 1)[1].split("\n## ", 1)[0].split("\n### ", 1)[0]
    tokens = MarkdownIt("commonmark").enable("table").parse(section)
    rows: list[list[str]] = []
    row: list[str] | None = None
    in_body = False
    for token in tokens:
        if token.type == "tbody_open":
            in_body = True
        elif token.type == "tbody_close":
            break
        elif in_body and token.type == "tr_open":
            row = []
        elif in_body and token.type == "inline" and row is not None:
            row.append(token.content)
        elif in_body and token.type == "tr_close" and row is not None:
            rows.append(row)
            row = None
    return {r[0].strip("` "): r for r in rows}


def test_readme_settings_table_is_workspace_settings() -> None:
    documented = readme_settings()
    fields = WorkspaceSettings.model_fields
    assert list(documented) == list(fields), (
        f"README's settings table and WorkspaceSettings differ: only in the README "
        f"{sorted(set(documented) - set(fields))}, only in the code "
        f"{sorted(set(fields) - set(documented))} (same order expected)"
    )
    for name, info in fields.items():
        default = info.default
        if isinstance(default, bool) or not isinstance(default, int | float | str):
            continue
        shown = f"{default:g}" if isinstance(default, float) else str(default)
        assert shown in documented[name][1], f"{name}: the README says {documented[name][1]!r}"
    assert set(CHANGED) == set(fields), "add the new setting to CHANGED"


def test_readme_states_the_naming_rule() -> None:
    text = " ".join((ROOT / "README.md").read_text().split())
    assert "`MLBENCH_` + the setting's name upper-cased" in text
    assert "`MLBENCH_CANCEL_GRACE_S=10`" in text


@pytest.mark.parametrize("name", list(WorkspaceSettings.model_fields))
def test_every_setting_is_read_from_the_file_and_the_environment(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in [*DEPRECATED_ENV, *(env_name(f) for f in WorkspaceSettings.model_fields)]:
        monkeypatch.delenv(var, raising=False)
    value = CHANGED[name]
    assert load_settings(tmp_path).model_dump()[name] != value
    (tmp_path / "mlbench.yaml").write_text(f"{name}: {value}\n")
    assert load_settings(tmp_path).model_dump()[name] == value
    (tmp_path / "mlbench.yaml").unlink()
    monkeypatch.setenv(env_name(name), str(value))
    assert env_name(name) == "MLBENCH_" + name.upper()
    assert load_settings(tmp_path).model_dump()[name] == value


def test_the_environment_wins_over_the_file_and_arguments_over_both(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "mlbench.yaml").write_text("cancel_grace_s: 3\nkernel_start_timeout_s: 70\n")
    monkeypatch.setenv("MLBENCH_CANCEL_GRACE_S", "2")
    monkeypatch.setenv("MLBENCH_KERNEL_START_TIMEOUT_S", "")  # empty: not set
    s = load_settings(tmp_path)
    assert (s.cancel_grace_s, s.kernel_start_timeout_s) == (2, 70)
    assert load_settings(tmp_path, {"cancel_grace_s": 1}).cancel_grace_s == 1


def test_a_bad_value_names_the_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlbench.errors import InvalidInputError

    monkeypatch.setenv("MLBENCH_CANCEL_GRACE_S", "soon")
    with pytest.raises(InvalidInputError, match="cancel_grace_s") as err:
        load_settings(tmp_path)
    assert err.value.hint and "MLBENCH_" in err.value.hint


def test_old_variable_names_still_work_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from mlbench import config

    monkeypatch.setattr(config, "_warned", set())
    monkeypatch.delenv("MLBENCH_AGENT_IDLE_TIMEOUT_S", raising=False)
    monkeypatch.setenv("MLBENCH_AGENT_IDLE_TIMEOUT", "20")
    with caplog.at_level(logging.WARNING, logger="mlbench.config"):
        assert load_settings(tmp_path).agent_idle_timeout_s == 20
    assert "MLBENCH_AGENT_IDLE_TIMEOUT is deprecated: use MLBENCH_AGENT_IDLE_TIMEOUT_S" in (
        caplog.text
    )
    monkeypatch.setenv("MLBENCH_AGENT_IDLE_TIMEOUT_S", "30")  # the new name wins
    assert load_settings(tmp_path).agent_idle_timeout_s == 30


# -- compute create --gpu-ids on a machine without those GPUs ----------------------------------
@pytest.mark.parametrize(
    ("detected", "args", "warning"),
    [
        ([], ["--gpu-ids", "0,1"], "no GPU detected on this machine"),
        (["0"], ["--gpu-ids", "0,1"], "GPU 1 not detected on this machine"),
        ([], ["--gpu-ids", "0,1", "--force"], None),
        (["0", "1"], ["--gpu-ids", "0,1"], None),
        ([], [], None),
    ],
)
def test_compute_create_warns_about_gpu_ids_not_detected(
    detected: list[str],
    args: list[str],
    warning: str | None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mlbench.cli.main import cli
    from mlbench.compute import local
    from mlbench.compute.gpus import GpuInfo

    monkeypatch.setattr(local, "detect_gpus", lambda: [GpuInfo(index=i) for i in detected])
    runner = CliRunner()
    ws = str(tmp_path / "ws")
    made = runner.invoke(cli, ["-w", ws, "compute", "create", "box", *args])
    assert made.exit_code == 0, made.output
    assert "created box (local)" in made.stdout
    if warning:
        assert warning in made.stderr and "--force" in made.stderr
    else:
        assert "warning" not in made.stderr
    updated = runner.invoke(cli, ["-w", ws, "compute", "update", "box", *args])
    assert updated.exit_code == 0, updated.output
    if warning:
        assert warning in updated.stderr
    else:
        assert "warning" not in updated.stderr
