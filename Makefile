# Two commands do everything on a fresh clone (see README.md):
#   make run-example   set up, then run examples/train.ipynb as a tracked job
#   make test          set up, then run every check and test
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.mlbench-installed
# jlpm, jupyter-builder and the kernels' python must come from the venv
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: setup run-example test test-python test-ui build-ext lint bench clean

$(STAMP): pyproject.toml package.json
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

setup: $(STAMP)

run-example: setup
	$(BIN)/mlbench run examples/train.ipynb -p epochs 30 -p learning_rate 0.05

lint: setup
	$(BIN)/lint-imports --no-cache
	$(BIN)/ruff check mlbench tests benchmarks
	$(BIN)/ruff format --check mlbench tests benchmarks
	$(BIN)/jlpm install --immutable
	$(BIN)/jlpm lint:check
	$(BIN)/jlpm test

# Azurite (Azure Blob emulator, npm) for the azureblob datastore tests, kept out of package.json.
AZURITE := .ci/tools/node_modules/.bin/azurite-blob
$(AZURITE):
	npm install --silent --no-save --no-audit --no-fund --prefix .ci/tools azurite@3

# The tests run offline (loopback only): the environment tests' packages are fetched into uv's
# cache first, while PyPI can still be reached.
test-python: setup $(AZURITE)
	$(BIN)/python -m tests.test_environments --prefetch
	AZURITE_BLOB=$(abspath $(AZURITE)) .ci/loopback $(BIN)/python -m pytest -ra --durations=15

# The extension built and linked into the venv (a symlink, so later builds are picked up).
build-ext: setup
	$(BIN)/jlpm install --immutable
	$(BIN)/jlpm build
	$(BIN)/jupyter labextension develop --overwrite .

# Debian's Chromium for the UI tests (Playwright cannot download its browsers here).
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	@if [ "$$(id -u)" -ne 0 ]; then \
	    echo "test-ui needs Debian's Chromium at $(CHROMIUM): run 'apt-get install chromium' as root" \
	        "(make installs it itself when run as root)" >&2; \
	    exit 1; \
	fi
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

# Galata/Playwright in Debian's Chromium against a real JupyterLab (see ui-tests/README.md);
# installed outside, run inside the loopback-only namespace like the Python tests.
# UI_ARGS="tests/x.spec.ts" runs one spec.
test-ui: build-ext $(CHROMIUM)
	cd ui-tests && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 $(abspath $(BIN))/jlpm install
	$(BIN)/python -m tests.test_environments --prefetch
	cd ui-tests && CI=1 $(abspath .ci/loopback) $(abspath $(BIN))/jlpm playwright test $(UI_ARGS)

test: lint test-python test-ui

bench: setup
	$(BIN)/python benchmarks/bench_jobs.py

clean:
	rm -rf $(VENV) node_modules lib mlbench/labextension tsconfig.tsbuildinfo .ci/tools
