#!/usr/bin/env bash
# Create (or reuse) a separate venv holding jupyter-scheduler, for the baseline benchmark.
#
#   bash benchmarks/baselines/setup_scheduler_venv.sh
#
# Environment:
#   SCHEDULER_VENV               venv path (default: benchmarks/.venv-scheduler in this repo)
#   SCHEDULER_PYTHON             interpreter used to create the venv (default: python3)
#   JUPYTER_SCHEDULER_VERSION    pip version spec (default: ==2.12.*)
#
# Idempotent: an existing venv is reused and pip only installs what is missing. Needs no network
# except the package index. Prints the venv's absolute path as the last line of stdout.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$here/../.." && pwd)"
venv="${SCHEDULER_VENV:-$repo_root/benchmarks/.venv-scheduler}"
python="${SCHEDULER_PYTHON:-python3}"
version="${JUPYTER_SCHEDULER_VERSION:-==2.12.*}"

log() { echo "setup_scheduler_venv: $*" >&2; }

if [[ ! -x "$venv/bin/python" ]]; then
    log "creating venv at $venv"
    "$python" -m venv "$venv"
else
    log "reusing venv at $venv"
fi

# Keep pip's chatter off stdout: stdout carries only the venv path.
"$venv/bin/python" -m pip install --quiet \
    "jupyter-scheduler${version}" jupyterlab ipykernel 1>&2

# A kernelspec inside the venv (sys-prefix), so that a server with JUPYTER_DATA_DIR pointed at a
# temp dir still finds it through sys.prefix/share/jupyter.
"$venv/bin/python" -m ipykernel install --sys-prefix --name python3 \
    --display-name "Python 3 (scheduler baseline)" 1>&2

"$venv/bin/python" - <<'EOF' 1>&2
import importlib.metadata as md
for name in ("jupyter-scheduler", "jupyter-server", "jupyterlab", "ipykernel", "nbconvert"):
    print(f"setup_scheduler_venv: {name} {md.version(name)}")
EOF

cd "$venv" && pwd
