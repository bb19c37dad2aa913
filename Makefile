# The two set-up commands: `make run` (the service on SQLite) and `make test`.
# `make run` installs delivrd as production does (`pip install .`: what serving needs, nothing more) into
# .venv-run; `make test` and `make lint` install it editable with the test and benchmark extras into .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
RUN_VENV := .venv-run
RUN_STAMP := $(RUN_VENV)/.installed

.PHONY: run test lint bench clean dashboard-assets

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,bench]'
	touch $(STAMP)

# reinstalled when the code changes, since a non-editable install is a copy; the .gitignore inside keeps git
# from listing the virtualenv
$(RUN_STAMP): pyproject.toml $(shell find src -type f -not -path '*/__pycache__/*' -not -path '*.egg-info/*')
	$(PYTHON) -m venv $(RUN_VENV)
	echo '*' > $(RUN_VENV)/.gitignore
	$(RUN_VENV)/bin/pip install --quiet --upgrade pip
	$(RUN_VENV)/bin/pip install --quiet .
	touch $(RUN_STAMP)

run: $(RUN_STAMP)
	$(RUN_VENV)/bin/delivrd serve

test: $(STAMP)
	$(BIN)/python -m pytest

# ruff (lint and format), mypy and the import contracts in pyproject.toml; .ci/run runs this before the tests
lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) $(RUN_VENV) build dist .pytest_cache .hypothesis

bench: $(STAMP)
	$(BIN)/python -m bench

# The dashboard's charting library, from npm at the exact version in package-lock.json,
# copied into the package; the output is committed so `pip install` serves it offline.
VENDOR := src/delivrd/dashboard/static/vendor
dashboard-assets:
	npm ci --no-audit --no-fund
	mkdir -p $(VENDOR)
	cp node_modules/uplot/dist/uPlot.iife.min.js node_modules/uplot/dist/uPlot.min.css $(VENDOR)/
	cp node_modules/uplot/LICENSE $(VENDOR)/uPlot.LICENSE
