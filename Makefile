# Set-up is part of every target: `make train` and `make test` work on a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STORE := $(CURDIR)/mlruns
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: install train pca compare test lint format ui server serve bench bench-quick bench-quality clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

install: $(BIN)/.installed

train: install
	$(BIN)/python -m pipelines.train $(ARGS)

pca: install
	$(BIN)/python -m pipelines.pca_baseline $(ARGS)

compare: install
	$(BIN)/python -m pipelines.compare $(ARGS)

# Two pytest workers (pytest-xdist): each test process uses one torch thread, so one worker leaves
# the second core idle.
test: install lint
	$(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

# The pipeline against hand-written PyTorch (benchmarks/suite.py): a table, and JSON under
# benchmarks/results/. bench: everything, quality rows included (~25 minutes on 2 cores); bench-quick:
# smaller sizes, no quality rows (a few minutes).
bench: install
	$(BIN)/python -m benchmarks.suite $(ARGS)

bench-quick: install
	$(BIN)/python -m benchmarks.suite --quick $(ARGS)

# Quality on data nobody tuned for (benchmarks/quality.py): every model on tables, images and series,
# seeds 0-2, the page docs/results/quality.md. ARGS=--quick: one task of each kind, seed 0.
bench-quality: install  # the faces task reads scikit-image's lfw_subset: installed for it alone
	$(BIN)/python -c "import skimage" 2>/dev/null || $(BIN)/pip install --quiet -e ".[bench]"
	$(BIN)/python -m benchmarks.quality $(ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The MLflow UI over the project's store (pipelines/tracking_server.py). It is a full tracking server too:
# runs started elsewhere with tracking=server tracking.uri=http://HOST:PORT send their artifacts through
# it into mlruns/artifacts. HOST=0.0.0.0 serves other machines, always with MLflow's login: the first
# start needs MLFLOW_AUTH_ADMIN_PASSWORD; ALLOWED_HOSTS=mlflow-host,other: the names they reach it by
# (docs/scale-out.md#a-team-server-with-a-login).
ALLOWED_HOSTS ?=
server: install
	$(BIN)/python -m pipelines.tracking_server host=$(HOST) port=$(PORT) store=$(STORE) \
		allowed_hosts=[$(ALLOWED_HOSTS)] $(ARGS)

ui: server

# Serve a detector over REST (MLflow's scoring server, guarded: docs/deploy.md):
# make serve MODEL=runs:/<run id>/anomaly_detector [SERVE_PORT=5001] [MAX_ROWS=10000]
SERVE_PORT ?= 5001
MAX_ROWS ?= 10000
serve: install
	$(BIN)/python -m pipelines.serve model_uri=$(MODEL) host=$(HOST) port=$(SERVE_PORT) max_rows=$(MAX_ROWS)

clean:
	rm -rf outputs multirun lightning_logs .pytest_cache .ruff_cache
