"""JupyterLab for the mlbench UI tests (Galata): a fresh root folder holding the example
notebooks and the tests' own, and a fresh mlbench workspace (MLBENCH_HOME, set by
playwright.config.js), so every run starts from nothing."""

import os
import shutil
from pathlib import Path

from jupyterlab.galata import configure_jupyter_server

c = get_config()  # noqa: F821 (injected by traitlets)

configure_jupyter_server(c)

HERE = Path(__file__).parent
c.ServerApp.ip = "127.0.0.1"
c.ServerApp.port = int(os.environ.get("MLBENCH_UI_PORT", "8899"))
# agents started for the tests leave soon after the run
os.environ.setdefault("MLBENCH_AGENT_IDLE_TIMEOUT_S", "30")
c.ServerApp.allow_root = True  # CI runs as root
c.LabApp.news_url = None
c.LabApp.check_for_updates_class = "jupyterlab.NeverCheckForUpdate"

root = Path(c.ServerApp.root_dir)
for notebook in [HERE.parent / "examples" / "train.ipynb", *sorted((HERE / "notebooks").glob("*.ipynb"))]:
    shutil.copy(notebook, root / notebook.name)

# A workspace of its own, even when the variable was not set by playwright.config.js.
os.environ.setdefault("MLBENCH_HOME", str(root.parent / "mlbench-workspace"))
