#!/usr/bin/env bash
# UI benchmarks of issue 4 (Jobs section with 10,000 jobs; chart of 4 runs x
# 100,000 points) and issue 22 (the main-area runs view with 1,000 runs x 10
# parameters + 10 metrics: render and sort) in a real JupyterLab and Chromium:
# ui-tests/tests/bench.spec.ts.
# Needs the extension built and linked (jlpm build && jupyter labextension
# develop --overwrite .) and ui-tests installed (see ui-tests/README.md).
# Figures land in ui-tests/test-results/*/bench-*.json and on stdout.
set -euo pipefail
cd "$(dirname "$0")/../ui-tests"
export PATH="$(cd .. && pwd)/.venv/bin:$PATH"
MLBENCH_UI_BENCH=1 exec jlpm playwright test --grep @bench --reporter=list "$@"
