# Set-up comes from the repository's own files: .venv/ (pip) and contracts/node_modules (npm ci).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY_STAMP := $(VENV)/.installed
NPM_STAMP := contracts/node_modules/.installed

.PHONY: setup test bench demo contracts clean

setup: $(PY_STAMP) $(NPM_STAMP)

$(PY_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

$(NPM_STAMP): contracts/package-lock.json
	cd contracts && npm ci --no-audit --no-fund --loglevel=error
	touch $@

## The whole suite on the in-process EVM, then the GroupBuy and governance modules again on anvil.
test: setup
	$(BIN)/python -m pytest
	COOP_TEST_RPC=anvil $(BIN)/python -m pytest tests/contracts/test_groupbuy.py tests/contracts/test_governor.py

## Gas figures: one line each, a ratio against an anchor measured in the same run.
bench: setup
	$(BIN)/python -m bench

## The main job on embedded defaults (no accounts, no network).
demo: $(PY_STAMP)
	$(BIN)/coop demo

## Recompile contracts/src into contracts/artifacts (commit the result).
contracts: $(NPM_STAMP)
	cd contracts && npm run --silent build

clean:
	rm -rf $(VENV) contracts/node_modules .pytest_cache .hypothesis
