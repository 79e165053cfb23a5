# Two commands do everything on a fresh machine (Python >= 3.11, Node >= 20, make):
#   make demo   - install perpsim alone into .venv (what the demo runs), npm ci, compile, run the main job
#   make test   - the same set-up plus the dev and ray extras, then the whole test suite on every backend
# Both are idempotent: stamps skip installs when pyproject.toml / package-lock.json are unchanged;
# `make test` after `make demo` adds the extras, `make demo` after `make test` keeps them.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PY_STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
NPM_STAMP := node_modules/.installed
PYTEST_ARGS ?=

.PHONY: setup setup-dev compile demo test bench clean

# The compile needs only the standard library and node_modules (protocol/build/standalone.py),
# so it runs while pip installs the virtualenv: two jobs at a time. Each target installs the
# virtualenv once (the base or the dev stamp, never both at once).
MAKEFLAGS += --jobs=2

setup: $(PY_STAMP) $(NPM_STAMP) compile

setup-dev: $(DEV_STAMP) $(NPM_STAMP) compile

# The base install: perpsim and its run-time dependencies, no extras.
$(PY_STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python >= 3.11 required"'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e .
	touch $@

# The base install plus the dev extra (pytest, hypothesis, playwright, build) and ray, which
# tests use; it makes the base stamp current too, so a later `make demo` installs nothing.
$(DEV_STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python >= 3.11 required"'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[dev,ray]"
	touch $(PY_STAMP) $@

$(NPM_STAMP): package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $@

compile: $(NPM_STAMP)
	$(PYTHON) protocol/build/standalone.py

demo: setup
	$(VENV)/bin/perpsim run default --backend revm

# One pytest worker per core plus one (pytest-xdist; tests/conftest.py sizes "auto"): about a
# tenth of the suite's time is spent waiting on subprocesses, browsers and paced servers, which
# the extra worker fills. A test file runs whole on one worker, in order, on its own chains, so a
# file's module-scoped venues are launched once and results do not depend on which worker ran
# what. PYTEST_WORKERS=0 runs in this process.
PYTEST_WORKERS ?= auto
test: setup-dev
	$(PY) -m pytest --backend all -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

bench: setup
	$(PY) scripts/bench_chain.py
	$(PY) scripts/bench_gas.py

clean:
	rm -rf $(VENV) node_modules protocol/artifacts .pytest_cache .hypothesis
