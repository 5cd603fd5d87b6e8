# Set-up comes from the repository's own files: .venv/ (pip, from requirements.lock), contracts/node_modules and
# alto/node_modules (npm ci, from each one's package-lock.json). All are exact pins: a library's new release can't break a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY_STAMP := $(VENV)/.installed
NPM_STAMP := contracts/node_modules/.installed
ALTO_STAMP := alto/node_modules/.installed
UV_VERSION := 0.13.9
PIP := $(BIN)/python -m pip --quiet --disable-pip-version-check
# pytest's workers: one per core (pytest-xdist); each test module stays on one worker, its fixtures built once.
TEST_WORKERS ?= auto

.PHONY: setup test bench demo contracts layouts lock clean

setup: $(PY_STAMP) $(NPM_STAMP) $(ALTO_STAMP)

$(PY_STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --require-hashes -r requirements.lock
	$(PIP) install --no-deps --no-build-isolation -e .
	touch $@

$(NPM_STAMP): contracts/package-lock.json
	cd contracts && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Pimlico's Alto, a public ERC-4337 bundler, for the tests and figures that send member operations through one
# (its own package: ~350 npm packages the contracts' build does not need).
$(ALTO_STAMP): alto/package-lock.json
	cd alto && npm ci --no-audit --no-fund --loglevel=error
	touch $@

## The whole suite on the in-process EVM, then the GroupBuy and governance modules again on anvil.
test: setup
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadscope
	COOP_TEST_RPC=anvil $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadscope \
		tests/contracts/test_groupbuy.py tests/contracts/test_governor.py

## Gas figures: one line each, a ratio against an anchor measured in the same run.
bench: setup
	$(BIN)/python -m bench

## The main job on embedded defaults (no accounts, no network). Sets up everything the README's next steps use too.
demo: setup
	$(BIN)/coop demo

## Recompile contracts/src into contracts/artifacts (commit the result).
contracts: $(NPM_STAMP)
	cd contracts && npm run --silent build

## Rewrite contracts/layouts (the storage layout baselines) from contracts/artifacts: only when that version is deployed.
layouts: $(PY_STAMP)
	$(BIN)/python -m chain.layout --write

## Refresh requirements.lock from pyproject.toml's ranges (newest releases that fit), then run make test.
lock: $(PY_STAMP)
	$(PIP) install uv==$(UV_VERSION)
	printf 'setuptools>=68\n' | $(BIN)/uv pip compile pyproject.toml - --extra test --universal \
		--python-version 3.11 --generate-hashes --quiet --no-header -o requirements.lock

clean:
	rm -rf $(VENV) contracts/node_modules alto/node_modules .pytest_cache .hypothesis
