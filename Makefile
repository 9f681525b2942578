# The two set-up commands (see README): `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

.PHONY: run test lint typecheck bench bench-wolf clean bear-package iac-tools bear-lint bear-deploy

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

## Wolf read latency (p50/p95/max per endpoint) on a 10,000-asset tenant while a sync job runs.
bench-wolf: $(STAMP)
	$(BIN)/python benchmarks/wolf_read_bench.py --assets 10000

## Bear (deploy/bear/README.md): the Lambda artifact, the template checks, the one-command deploy.
bear-package: $(STAMP)
	$(BIN)/python scripts/bear_package.py --output dist/bear-lambda.zip

iac-tools: .venv-iac/.pins

.venv-iac/.pins: deploy/bear/requirements-iac.txt
	$(PY) -m venv .venv-iac
	.venv-iac/bin/pip install -q -r deploy/bear/requirements-iac.txt
	grep -v '^#' deploy/bear/requirements-iac.txt | sed '/^$$/d' > .venv-iac/.pins

bear-lint: iac-tools
	.venv-iac/bin/cfn-lint deploy/bear/template.yaml
	.venv-iac/bin/checkov -f deploy/bear/template.yaml --framework cloudformation --skip-download --compact --quiet

## STACK (default dgsync-bear) and sam's samconfig.toml (made by the first `--guided` run).
STACK ?= dgsync-bear
bear-deploy: bear-package bear-lint
	cd deploy/bear && if [ -f samconfig.toml ]; then sam deploy; \
	  else sam deploy --guided --stack-name $(STACK) --capabilities CAPABILITY_IAM; fi

clean:
	rm -rf $(VENV) .venv-iac .dgsync .pytest_cache .mypy_cache .ruff_cache
