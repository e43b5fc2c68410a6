"""Pure logic: parameters, resources, settings, GPUs, metrics buffering, schema migrations."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mlbench.compute.gpus import parse_nvidia_smi
from mlbench.errors import ParameterError
from mlbench.jobs.models import JobResources
from mlbench.jobs.parameters import (
    NotebookParameter,
    RawValue,
    _describe,
    coerce_parameters,
    parse_cli_parameters,
)


def _param(name: str, source: str, annotation: str = "None") -> NotebookParameter:
    return _describe(
        {"name": name, "inferred_type_name": annotation, "default": source, "help": ""}
    )


@pytest.mark.parametrize(
    ("source", "annotation", "kind", "nullable"),
    [
        ("1", "None", "int", False),
        ("0.01", "None", "float", False),
        ("1e-3", "None", "float", False),
        ("'a'", "None", "str", False),
        ("True", "None", "bool", False),
        ("None", "None", "any", True),
        ("[1]", "None", "list", False),
        ("{'a': 1}", "None", "dict", False),
        ("np.zeros(3)", "None", "any", True),
        ("None", "Optional[int]", "int", True),
        ("[]", "List[str]", "list", False),
        ("1", "int | float", "float", False),
        ("None", "str | None", "str", True),
        ("x", "Union[int, str]", "any", False),
    ],
)
def test_parameter_types_inferred(source: str, annotation: str, kind: str, nullable: bool) -> None:
    p = _param("p", source, annotation)
    assert (p.type, p.nullable) == (kind, nullable)


def test_raw_cli_values_are_converted_to_the_declared_type() -> None:
    declared = {
        "i": _param("i", "1"),
        "f": _param("f", "0.5"),
        "s": _param("s", "'x'"),
        "b": _param("b", "False"),
        "l": _param("l", "[1]"),
        "d": _param("d", "{}"),
        "n": _param("n", "None"),
        "o": _param("o", "None", "Optional[int]"),
    }
    given = {
        k: RawValue(v)
        for k, v in {
            "i": "3",
            "f": "2",
            "s": "123",
            "b": "true",
            "l": "[1, 'a']",
            "d": "{a: 1}",
            "n": "4.5",
            "o": "None",
        }.items()
    }
    assert coerce_parameters(given, declared) == {
        "i": 3,
        "f": 2.0,
        "s": "123",
        "b": True,
        "l": [1, "a"],
        "d": {"a": 1},
        "n": 4.5,
        "o": None,
    }


def test_all_problems_reported_at_once() -> None:
    declared = {"i": _param("i", "1"), "b": _param("b", "True")}
    with pytest.raises(ParameterError) as info:
        coerce_parameters({"i": RawValue("x"), "b": "yes", "z": 1}, declared)
    errors = info.value.details["errors"]
    assert len(errors) == 3


def test_sdk_values_are_checked_strictly() -> None:
    declared = {"i": _param("i", "1"), "f": _param("f", "1.0")}
    assert coerce_parameters({"i": 2.0, "f": 3}, declared) == {"i": 2, "f": 3.0}
    for bad in ({"i": True}, {"i": 2.5}, {"f": "1"}, {"i": None}):
        with pytest.raises(ParameterError):
            coerce_parameters(bad, declared)
    with pytest.raises(ParameterError, match="cannot be passed"):
        coerce_parameters({"x": object()}, {}, allow_unknown=True)
    with pytest.raises(ParameterError, match="JSON"):
        coerce_parameters({"x": float("nan")}, {}, allow_unknown=True)


def test_cli_parameter_precedence(tmp_path: Path) -> None:
    f = tmp_path / "p.yaml"
    f.write_text("a: 1\nb: from-file\n")
    merged = parse_cli_parameters((("b", "cli"),), (("c", "7"),), ("a: 2",), (str(f),))
    assert merged == {"a": 2, "b": "cli", "c": "7"}
    assert isinstance(merged["b"], RawValue) and not isinstance(merged["c"], RawValue)
    with pytest.raises(ParameterError, match="mapping"):
        parse_cli_parameters(yaml_texts=("[1, 2]",))


@pytest.mark.parametrize(
    ("given", "mb"), [("4GB", 4096), ("512M", 512), ("1.5GiB", 1536), ("2048", 2048), (100, 100)]
)
def test_memory_sizes(given: Any, mb: int) -> None:
    assert JobResources(memory_mb=given).memory_mb == mb


def test_nvidia_smi_parsing() -> None:
    out = "0, NVIDIA H100 80GB HBM3, GPU-aaa, 81559\n1, NVIDIA H100 80GB HBM3, GPU-bbb, 81559\n"
    gpus = parse_nvidia_smi(out)
    assert [(g.index, g.uuid, g.memory_mb) for g in gpus] == [
        ("0", "GPU-aaa", 81559),
        ("1", "GPU-bbb", 81559),
    ]


def test_local_capacity_honours_declared_and_visible_gpus(monkeypatch: pytest.MonkeyPatch) -> None:
    from mlbench.compute import local
    from mlbench.compute.gpus import GpuInfo

    backend = local.LocalBackend()
    cap = backend.capacity(backend.parse_config({"gpu_ids": "0,1", "cpus": 4}))
    assert cap.gpu_ids == ["0", "1"] and cap.max_concurrent_jobs == 4
    monkeypatch.setattr(
        local, "detect_gpus", lambda: [GpuInfo(index=str(i), uuid=f"GPU-{i}") for i in range(4)]
    )
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,GPU-3,9")
    assert backend.capacity(backend.parse_config({})).gpu_ids == ["2", "GPU-3"]
    with pytest.raises(ValueError, match="duplicates"):
        backend.parse_config({"gpu_ids": [0, 0]})


def test_metric_buffer_writes_batches_to_the_job_file(tmp_path: Path) -> None:
    from mlbench.tracking.metrics import FileSink, MetricBuffer

    path = tmp_path / "m.jsonl"
    buf = MetricBuffer(FileSink(str(path)))
    for i in range(2500):
        buf.add("loss", 1 / (i + 1), None, None)
    buf.add("acc", 0.5, 7, 123)
    lines_before_flush = len(path.read_text().splitlines())
    buf.flush()
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines_before_flush == 2000  # two full batches went out on their own
    assert len(records) == 2501
    assert [r["s"] for r in records if r["k"] == "loss"] == list(range(2500))
    assert records[-1] == {"k": "acc", "v": 0.5, "s": 7, "t": 123}
    with pytest.raises(ValueError, match="must be a number"):
        buf.add("loss", "high", None, None)  # type: ignore[arg-type]


def test_migrations_match_the_models(tmp_path: Path) -> None:
    """A schema change without a migration fails here."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from mlbench.store import Base, Database

    db = Database(f"sqlite:///{tmp_path / 'm.db'}", lock_dir=tmp_path)
    db.migrate()
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
    db.migrate()  # idempotent


def test_settings_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlbench.config import load_settings

    (tmp_path / "mlbench.yaml").write_text("agent_idle_timeout_s: 10\ncancel_grace_s: 3\n")
    monkeypatch.setenv("MLBENCH_AGENT_IDLE_TIMEOUT_S", "20")
    s = load_settings(tmp_path, {"cancel_grace_s": 1})
    assert (s.agent_idle_timeout_s, s.cancel_grace_s) == (20, 1)


def test_agents_started_from_a_job_do_not_inherit_the_job(monkeypatch: pytest.MonkeyPatch) -> None:
    from mlbench.compute import local
    from mlbench.compute.gpus import GpuInfo
    from mlbench.jobenv import AGENT_GPUS_ENV, agent_environment

    job_env = {
        "PATH": "/bin",
        "MLBENCH_JOB_ID": "abc",
        "MLFLOW_RUN_ID": "r",
        "MLBENCH_ATTEMPT": "1",
        "MLBENCH_METRICS_FILE": "/m",
        "MLBENCH_OUTPUT_DIR": "/o",
        "MLFLOW_EXPERIMENT_NAME": "e",
        "CUDA_VISIBLE_DEVICES": "",
        AGENT_GPUS_ENV: "*",
    }
    assert agent_environment(job_env) == {"PATH": "/bin"}
    assert agent_environment({**job_env, AGENT_GPUS_ENV: "0,1"})["CUDA_VISIBLE_DEVICES"] == "0,1"
    outside = {"PATH": "/bin", "CUDA_VISIBLE_DEVICES": "1"}
    assert agent_environment(outside) == outside  # a user's own restriction is kept

    # Inside a CPU-only job (CUDA_VISIBLE_DEVICES=""), the machine still has its GPUs.
    monkeypatch.setattr(local, "detect_gpus", lambda: [GpuInfo(index="0"), GpuInfo(index="1")])
    for key, value in job_env.items():
        monkeypatch.setenv(key, value)
    backend = local.LocalBackend()
    assert backend.capacity(backend.parse_config({})).gpu_ids == ["0", "1"]
