# Two commands on a fresh machine: `make run` (dashboard on the sample) and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test lint bench sample system-deps clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The package itself is installed editable (pyproject.toml), so a "Python code" snippet saved
# anywhere runs with $(BIN)/python; reinstalled only when pyproject.toml changes.
EDITABLE := $(BIN)/pip install --quiet --no-deps -e .
# plotly.js's basic bundle, which draws the dashboard's charts (dashboard/chart.py), from the npm
# registry into static/ (checked against its pinned sha512); without it the charts still draw.
BUNDLE := $(BIN)/python -m dashboard.chart

$(VENV)/.stamp-run: requirements.txt pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	$(EDITABLE)
	$(BUNDLE)
	touch $@

$(VENV)/.stamp-dev: requirements.txt requirements-dev.txt pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(EDITABLE)
	$(BUNDLE)
	touch $@ $(VENV)/.stamp-run

# Debian's Chromium: figure export (kaleido) and the browser tests (Playwright, never
# `playwright install`). Installed once; skipped when already present.
system-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installing Debian's chromium (figure export, browser tests)"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium chromium-driver >/dev/null; }
	@command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || { \
	  echo "Installing Debian's nginx (the reverse-proxy test, deploy/)"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq nginx-light >/dev/null; }
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  echo "Installing Debian's postgresql (the workspace tests start a throwaway cluster)"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq postgresql >/dev/null; }

run: $(VENV)/.stamp-run system-deps
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 $(BIN)/streamlit run app.py  # one BLAS thread per computation: sessions share the cores

lint: $(VENV)/.stamp-dev
	$(BIN)/ruff check .

test: $(VENV)/.stamp-dev system-deps lint
	$(BIN)/python -m pytest

bench: $(VENV)/.stamp-dev system-deps
	$(BIN)/python -m benchmarks

sample: $(VENV)/.stamp-run
	$(BIN)/python -m analysis.simulation --sample data/sample

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
