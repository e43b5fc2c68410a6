"""A job's MLflow run records every parameter the job ran with: the notebook's declared
defaults too (tagged ``mlbench.defaults``), so a runs table compares on all of them."""

from __future__ import annotations

import json
from typing import Any

WAIT = 120


def test_run_params_include_the_notebooks_defaults(module_ws: Any, notebook: Any) -> None:
    nb = notebook("print(lr, epochs, name)", parameters="lr = 0.1\nepochs = 3\nname = 'base'")
    info = module_ws.jobs.submit(nb, {"lr": 0.5}).wait(WAIT).info
    assert info.status.value == "completed", info.status_reason
    summary = module_ws.tracking.run_summary(info.mlflow_run_id)
    assert summary["params"] == {"lr": "0.5", "epochs": "3", "name": "base"}
    assert json.loads(summary["tags"]["mlbench.defaults"]) == ["epochs", "name"]
    # all set: no defaults to record
    info = module_ws.jobs.submit(nb, {"lr": 1.0, "epochs": 1, "name": "x"}).wait(WAIT).info
    summary = module_ws.tracking.run_summary(info.mlflow_run_id)
    assert summary["params"] == {"lr": "1.0", "epochs": "1", "name": "x"}
    assert "mlbench.defaults" not in summary["tags"]
