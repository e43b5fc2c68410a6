"""Where things live inside a workspace folder."""

from __future__ import annotations

from pathlib import Path


class WorkspacePaths:
    def __init__(self, home: Path) -> None:
        self.home = home

    @property
    def database(self) -> Path:
        return self.home / "mlbench.db"

    @property
    def mlflow_dir(self) -> Path:
        return self.home / "mlflow"

    @property
    def agents_dir(self) -> Path:
        return self.home / "agents"

    @property
    def jobs_dir(self) -> Path:
        return self.home / "jobs"

    def job_dir(self, job_id: str) -> Path:
        return self.jobs_dir / job_id

    def snapshot(self, job_id: str) -> Path:
        """The notebook exactly as submitted; never modified."""
        return self.job_dir(job_id) / "input.ipynb"

    def output_notebook(self, job_id: str) -> Path:
        return self.job_dir(job_id) / "output.ipynb"

    def log(self, job_id: str) -> Path:
        return self.job_dir(job_id) / "job.log"

    def metrics(self, job_id: str) -> Path:
        return self.job_dir(job_id) / "metrics.jsonl"

    def code(self, job_id: str) -> Path:
        """A command job's code folder exactly as submitted; never modified (it runs in a
        copy)."""
        return self.job_dir(job_id) / "code"

    def workdir(self, job_id: str) -> Path:
        """Where a command job runs: a fresh copy of its code for each attempt."""
        return self.job_dir(job_id) / "work"

    def outputs(self, job_id: str) -> Path:
        """Files a job writes to ``MLBENCH_OUTPUT_DIR``; logged as run artifacts at the end."""
        return self.job_dir(job_id) / "outputs"
