# The two set-up commands (see README): `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

.PHONY: run test lint typecheck bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install -q -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

## Create the environment and run a sync on the embedded default (emulator + moto + SQLite).
run: $(STAMP)
	$(BIN)/dgsync sync

## Install what the tests need (incl. Debian's Chromium) and run the whole suite.
test: $(STAMP)
	bash scripts/test.sh

bench: $(STAMP)
	$(BIN)/python benchmarks/sync_bench.py --assets 1000

clean:
	rm -rf $(VENV) .dgsync .pytest_cache .mypy_cache .ruff_cache
