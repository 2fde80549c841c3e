# Deep Learning Lab — `make run` starts the app, `make test` runs the whole suite.
# Both create .venv and install the pinned requirements on first use (about 2–3 minutes).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PORT   ?= 8501
export MLFLOW_DISABLE_TELEMETRY := true

.PHONY: install run test test-fast browser services class bench lint clean

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/python -m ui.launch --server.port $(PORT)

# A Chromium for the browser tests: Debian's package when we are root on Debian,
# otherwise an explanation (the browser tests then skip and say why).
browser:
	@bash scripts/ensure_chromium.sh

# Redis and PostgreSQL's server programs for class mode and its tests (tests/classroom):
# Debian's packages when we are root on Debian, otherwise an explanation (those tests then skip).
services:
	@bash scripts/ensure_services.sh

# Class mode on this machine: PostgreSQL, an MLflow tracking server with sign-in, Redis, two
# workers and the app, all on 127.0.0.1, their data in ./class-data (README: Serving a class).
class: $(STAMP) services
	$(BIN)/python -m ops.class_mode

test: $(STAMP) browser services
	$(BIN)/python -m pytest

test-fast: $(STAMP)
	$(BIN)/python -m pytest tests/unit tests/app

bench: $(STAMP) browser services
	PYTHONPATH=. $(BIN)/python bench/fit_overhead.py
	PYTHONPATH=. $(BIN)/python bench/trajectories.py
	PYTHONPATH=. $(BIN)/python bench/cnn_time_to_accuracy.py
	PYTHONPATH=. $(BIN)/python bench/style_transfer.py
	PYTHONPATH=. $(BIN)/python bench/transfer_feature_extraction.py
	PYTHONPATH=. $(BIN)/python bench/live_view.py
	PYTHONPATH=. $(BIN)/python bench/class_load.py
	PYTHONPATH=. $(BIN)/python bench/transformer.py

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache test-artifacts
