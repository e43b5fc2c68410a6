"""``mlbench.Workspace``: the entry point of the Python SDK."""

from __future__ import annotations

import json
import logging
import os
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from mlbench.compute.agents import AgentControl, AgentLauncher, NoAgentLauncher
from mlbench.compute.service import ComputeTargets
from mlbench.config import WorkspaceSettings, load_settings, resolve_home
from mlbench.environments.hook import EnvironmentBinding
from mlbench.jobs.bindings import DataBindings
from mlbench.jobs.service import Jobs
from mlbench.models.hook import ModelRegistration
from mlbench.paths import WorkspacePaths
from mlbench.store import ComputeTargetRow, Database, DatastoreRow, NotificationRuleRow
from mlbench.store.secrets import Redactor
from mlbench.tracking.client import TrackingClient

if TYPE_CHECKING:
    from mlbench.automl.service import AutoML
    from mlbench.data.datastores import Datastores
    from mlbench.data.service import Data
    from mlbench.endpoints.service import Endpoints
    from mlbench.environments.service import Environments
    from mlbench.models.service import Models
    from mlbench.monitoring.service import Monitors
    from mlbench.notify.service import Notifications
    from mlbench.pipelines.service import Pipelines
    from mlbench.rai.service import ResponsibleAI
    from mlbench.schedules.service import Schedules
    from mlbench.sweeps.service import Sweeps

log = logging.getLogger(__name__)

SETTINGS_ENV = "MLBENCH_SETTINGS_JSON"


class Workspace:
    """A folder holding mlbench's metadata database, MLflow tracking store and job files.

    ``Workspace()`` uses ``$MLBENCH_HOME`` or ``~/.mlbench``; keyword arguments override
    settings (see :class:`mlbench.config.WorkspaceSettings`) for this process and the agents
    it starts. ``agents`` starts and reaches the compute targets' agents; without it (the
    agent's own workspace) none is started. ``mlbench.Workspace`` passes the real one.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        agents: AgentLauncher | None = None,
        **settings: Any,
    ) -> None:
        self.home: Path = resolve_home(path)
        self.home.mkdir(parents=True, exist_ok=True)
        inherited = json.loads(os.environ.get(SETTINGS_ENV) or "{}")
        self._overrides = {**inherited, **{k: v for k, v in settings.items() if v is not None}}
        self.settings: WorkspaceSettings = load_settings(self.home, self._overrides)
        self.paths = WorkspacePaths(self.home)
        self.db = Database(
            self.settings.database_url or f"sqlite:///{self.paths.database}", lock_dir=self.home
        )
        self.db.migrate()
        self._agents: AgentLauncher = agents or NoAgentLauncher
        self.redact = Redactor(self._secret_values, self._secrets_version)
        self.compute = ComputeTargets(self)
        self.jobs = Jobs(
            self, hooks=[DataBindings(), EnvironmentBinding(self.home), ModelRegistration()]
        )

    def _secret_values(self) -> list[str]:
        return [
            *self.compute.secret_values(),
            *self.datastores.secret_values(),
            *self.notifications.secret_values(),
        ]

    def _secrets_version(self) -> object:
        """Changes whenever a datastore, compute target or notification rule (and so maybe a
        secret) changes."""
        with self.db.session() as s:
            return tuple(
                s.execute(select(func.count(), func.max(row.updated_at))).one()
                for row in (DatastoreRow, ComputeTargetRow, NotificationRuleRow)
            )

    def agents(self, compute: str) -> AgentControl:
        """The agent of compute target ``compute``."""
        return self._agents(self, compute)

    @property
    def starts_agents(self) -> bool:
        """Whether this workspace starts processes on demand (agents, the scheduler)."""
        return self._agents is not NoAgentLauncher

    @property
    def setting_overrides(self) -> dict[str, str]:
        """Environment that hands this process's setting overrides to agents it starts."""
        return {SETTINGS_ENV: json.dumps(self._overrides)} if self._overrides else {}

    @property
    def tracking_uri(self) -> str:
        if self.settings.tracking_uri:
            return self.settings.tracking_uri
        return f"sqlite:///{self.paths.mlflow_dir / 'mlflow.db'}"

    @property
    def artifact_root(self) -> str:
        if self.settings.artifact_location:
            return self.settings.artifact_location
        return (self.paths.mlflow_dir / "artifacts").as_uri()

    @cached_property
    def datastores(self) -> Datastores:
        """Named connections to storage (credentials kept apart, never shown)."""
        from mlbench.data.datastores import Datastores

        return Datastores(self)

    @cached_property
    def data(self) -> Data:
        """Versioned data assets (``name:version``) with lineage."""
        from mlbench.data.service import Data

        return Data(self)

    @cached_property
    def environments(self) -> Environments:
        """Versioned Python environments (``name:version``) that jobs run in."""
        from mlbench.environments.service import Environments

        return Environments(self)

    @cached_property
    def models(self) -> Models:
        """Registered models (MLflow's registry) with the lineage of the jobs they came from."""
        from mlbench.models.service import Models

        return Models(self)

    @cached_property
    def endpoints(self) -> Endpoints:
        """Online endpoints: a stable URL with keys, deployments of model versions, traffic."""
        from mlbench.endpoints.service import Endpoints

        return Endpoints(self)

    @cached_property
    def automl(self) -> AutoML:
        """AutoML on table data assets (FLAML), run as jobs; the best model registered."""
        from mlbench.automl.service import AutoML

        return AutoML(self)

    @cached_property
    def rai(self) -> ResponsibleAI:
        """Responsible AI reports of models on test tables, run as notebook jobs."""
        from mlbench.rai.service import ResponsibleAI

        return ResponsibleAI(self)

    @cached_property
    def sweeps(self) -> Sweeps:
        """Hyperparameter sweeps over a notebook's parameters (trials are jobs)."""
        from mlbench.sweeps.service import Sweeps

        return Sweeps(self)

    @cached_property
    def pipelines(self) -> Pipelines:
        """DAGs of notebook and command steps passing data, with step reuse (steps are jobs)."""
        from mlbench.pipelines.service import Pipelines

        return Pipelines(self)

    @cached_property
    def schedules(self) -> Schedules:
        """Cron and recurrence rules that start jobs and sweeps, fired by a scheduler process."""
        from mlbench.schedules.service import Schedules

        return Schedules(self)

    @cached_property
    def notifications(self) -> Notifications:
        """Rules that send job, sweep and schedule events to webhooks, Slack or email."""
        from mlbench.notify.service import Notifications

        return Notifications(self)

    @cached_property
    def monitors(self) -> Monitors:
        """Drift, data quality and performance monitors, and one-off drift reports."""
        from mlbench.monitoring.service import Monitors

        return Monitors(self)

    @cached_property
    def tracking(self) -> TrackingClient:
        self.paths.mlflow_dir.mkdir(parents=True, exist_ok=True)
        return TrackingClient(
            self.tracking_uri, self.artifact_root, series=self.paths.mlflow_dir / "series"
        )

    def info(self) -> dict[str, Any]:
        from mlbench._version import __version__

        return {
            "version": __version__,
            "home": str(self.home),
            "database_url": self.db.url.render_as_string(hide_password=True),
            "tracking_uri": self.tracking_uri,
            "artifact_root": self.artifact_root,
            "settings": self.settings.model_dump(),
        }

    def close(self) -> None:
        self.db.dispose()

    def __repr__(self) -> str:
        return f"Workspace({str(self.home)!r})"
