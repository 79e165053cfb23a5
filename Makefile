# Two commands do everything on a fresh machine (Python >= 3.11, Node >= 20, make):
#   make demo   - install into .venv and node_modules, compile, run the main job
#   make test   - the same set-up, then the whole test suite on every backend
# Both are idempotent: stamps skip installs when pyproject.toml / package-lock.json are unchanged.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PY_STAMP := $(VENV)/.installed
NPM_STAMP := node_modules/.installed
PYTEST_ARGS ?=

.PHONY: setup compile demo test bench clean

setup: $(PY_STAMP) $(NPM_STAMP) compile

$(PY_STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python >= 3.11 required"'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[dev,ray]"
	touch $@

$(NPM_STAMP): package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $@

compile: $(PY_STAMP) $(NPM_STAMP)
	$(PY) -m protocol.build

demo: setup
	$(VENV)/bin/perpsim run default --backend revm

test: setup
	$(PY) -m pytest --backend all $(PYTEST_ARGS)

bench: setup
	$(PY) scripts/bench_chain.py
	$(PY) scripts/bench_gas.py

clean:
	rm -rf $(VENV) node_modules protocol/artifacts .pytest_cache .hypothesis
