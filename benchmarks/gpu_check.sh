#!/usr/bin/env bash
# GPU check, for whoever gets a machine with NVIDIA GPUs: run it once, read what it prints.
#
#   make setup && benchmarks/gpu_check.sh          (add `pip install -e '.[gpu,ray]'` for NVML/Ray)
#
# Ray binds every interface: as root, run it in a loopback-only namespace (.ci/loopback ...).
# RAY_NUM_GPUS=N declares GPUs to the Ray head (a machine whose GPUs Ray does not find itself;
# checked here with a stand-in nvidia-smi, tests/test_jobs.py FAKE_NVIDIA_SMI).
#
# It shows, in a throwaway workspace:
#   1. the GPUs mlbench detects (NVML, else nvidia-smi) and one load sample of each;
#   2. two `gpus: 1` jobs run at once on the local target: the CUDA_VISIBLE_DEVICES each saw, the
#      device torch (or nvidia-smi) reports inside the job, and the system/gpu_0_* metrics the
#      agent recorded for each run (two jobs must see two different GPUs);
#   3. with Ray installed: a `gpus: 1` job on a Ray head started here (127.0.0.1), and what it saw.
# Nothing is left running: its agents are stopped, and the Ray head it started is stopped by the
# PIDs of its own processes (tests/ray_head.py; another Ray on the machine is left alone).
set -euo pipefail

cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
PY=$BIN/python
MLBENCH=$BIN/mlbench
export MLBENCH_HOME=$(mktemp -d /tmp/mlbench-gpu-check.XXXXXX)
WORK=$MLBENCH_HOME/probe
mkdir -p "$WORK"

cleanup() {
  "$PY" - <<'EOF' || true
import mlbench
from mlbench.agent.process import AgentHandle

ws = mlbench.Workspace()
for target in ws.compute.list():
    AgentHandle(ws, target.name).stop(now=True, timeout=30)
EOF
}
trap cleanup EXIT

echo "== nvidia-smi"
nvidia-smi -L || echo "(no nvidia-smi)"

echo "== what mlbench detects"
"$PY" - <<'EOF'
from mlbench.compute.gpus import detect_gpus, sample_gpus

gpus = detect_gpus()
for g in gpus:
    print(f"GPU {g.index}: {g.name} {g.uuid} {g.memory_mb} MiB")
for s in sample_gpus():
    print(f"GPU {s.index}: {s.utilization_pct}% busy, {s.memory_used_mb}/{s.memory_total_mb} MiB")
if len(gpus) < 1:
    raise SystemExit("no GPU detected: nothing more to check")
EOF

# the job: what it was given, what CUDA sees, then a few seconds of work for the sampler
cat >"$WORK/probe.py" <<'EOF'
import os
import subprocess
import time

print("CUDA_VISIBLE_DEVICES =", repr(os.environ.get("CUDA_VISIBLE_DEVICES")))
try:
    import torch

    print("torch sees", torch.cuda.device_count(), "GPU(s):",
          [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())])
    x = torch.randn(4096, 4096, device="cuda")
    end = time.time() + 8
    while time.time() < end:
        x = x @ x
        x = x / x.norm()
    torch.cuda.synchronize()
except ImportError:
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", "")
    out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True).stdout
    print("no torch; nvidia-smi lists (all GPUs, it ignores CUDA_VISIBLE_DEVICES):")
    print(out.strip())
    print("the job's GPU(s) by index:", visible)
    time.sleep(8)
EOF

report() {
  "$PY" - "$@" <<'EOF'
import sys

import mlbench

ws = mlbench.Workspace()
for job_id in sys.argv[1:]:
    job = ws.jobs.get(job_id)
    info = job.wait(600).info
    print(f"-- job {info.id} on {info.compute}: {info.status.value}, gpu_ids={info.gpu_ids}")
    print(job.logs().strip())
    metrics = ws.tracking.run_summary(info.mlflow_run_id)["metrics"]
    for key in sorted(k for k in metrics if k.startswith("system/gpu")):
        values = ws.tracking.metric_values(info.mlflow_run_id, key)
        print(f"   {key}: {len(values)} samples, max {max(values):g}")
EOF
}

echo "== two gpus:1 jobs at once on the local target"
export MLBENCH_GPU_SAMPLE_INTERVAL_S=1
A=$("$MLBENCH" job submit --command "python probe.py" --code "$WORK" --gpus 1)
B=$("$MLBENCH" job submit --command "python probe.py" --code "$WORK" --gpus 1)
report "$A" "$B"

if "$PY" -c "import ray" 2>/dev/null; then
  echo "== a gpus:1 job on a Ray head started here"
  # tests/ray_head.py: a head on 127.0.0.1 in a session of its own, stopped by its own PIDs
  # (SIGTERM, a grace, SIGKILL, then a check that none is left); the job finishes before it stops
  "$PY" - "$MLBENCH" "$WORK" <<'EOF'
import os
import subprocess
import sys

sys.path.insert(0, ".")
import mlbench
from mlbench.agent.process import AgentHandle
from tests.ray_head import RayHead

cli, work = sys.argv[1], sys.argv[2]
# Ray finds a machine's GPUs itself; RAY_NUM_GPUS declares some (a machine without any)
head = RayHead(*([f"--num-gpus={os.environ['RAY_NUM_GPUS']}"] if "RAY_NUM_GPUS" in os.environ else []))
try:
    address = head.start()
    subprocess.run([cli, "compute", "create", "raygpu", "--type", "ray", "--address", address,
                    "--max-concurrent-jobs", "2"], check=True)
    job_id = subprocess.run([cli, "job", "submit", "--command", "python probe.py", "--code", work,
                             "--gpus", "1", "--compute", "raygpu"],
                            check=True, stdout=subprocess.PIPE, text=True).stdout.strip()
    ws = mlbench.Workspace()
    ws.jobs.get(job_id).wait(600)
    AgentHandle(ws, "raygpu").stop(now=True, timeout=30)
    with open(f"{work}/ray-job", "w") as f:
        f.write(job_id)
finally:
    head.stop()
EOF
  report "$(cat "$WORK/ray-job")"
else
  echo "== Ray not installed: pip install -e '.[ray]' to check Ray's GPU assignment too"
fi
