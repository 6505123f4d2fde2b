# Set-up and checks.  `make demo` and `make test` work on a fresh machine:
# they create .venv when missing, install from the committed lock, then run.
# Both are idempotent and fast when already set up.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip install --disable-pip-version-check -q
# Every install is constrained by requirements.lock (the versions the suite
# last passed with), so a new upstream release cannot break a fresh clone;
# pyproject.toml keeps the ranges for `pip install modelspec`.  The lock pins
# torch==2.13.0: a CPU wheel of exactly that version is on every machine here,
# and any other version would download GBs of CUDA packages.
LOCK   := requirements.lock
CORE   := $(VENV)/.installed-core
FULL   := $(VENV)/.installed-all

.PHONY: demo test lint bench docs lock clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# The demo prints a summary: the front end alone (no torch, no jax).
# The build back end comes from the lock too (no isolated build env that
# would take the newest setuptools).
$(CORE): $(PY) pyproject.toml $(LOCK)
	$(PIP) -c $(LOCK) setuptools
	$(PIP) -c $(LOCK) --no-build-isolation -e .
	touch $(CORE)

# The suite needs every back end and the test tools.  It runs on every core
# (pytest-xdist, one file per worker: the hostile and training tests start
# their own processes, and a file keeps its fixtures in one worker).
$(FULL): $(PY) pyproject.toml $(LOCK)
	$(PIP) -c $(LOCK) setuptools
	$(PIP) -c $(LOCK) --no-build-isolation -e ".[all]"
	touch $(FULL) $(CORE)

demo: $(CORE)
	$(VENV)/bin/modelspec summary specs/dyrcnn_x4.yaml

test: $(FULL)
	$(VENV)/bin/modelspec lint specs/
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -n auto --dist loadfile

lint: $(CORE)
	$(VENV)/bin/modelspec lint specs/

# Regenerate the example outputs in README.md and docs/*.md from the real
# commands (blocks marked `<!-- output: COMMAND -->`; tests/test_docs_outputs.py
# fails while one is stale).
docs: $(CORE)
	$(PY) tools/docs_outputs.py

# Issue 11's speed targets (start-up, the front end, summary, and any other bench
# script that reports through bench/timing.py): one markdown table and the machine.
bench: $(FULL)
	$(PY) bench/issue11.py

# Refresh the lock: resolve pyproject's ranges afresh in a throw-away venv,
# then record exactly what was installed.  Run `make test` before committing it.
lock:
	rm -rf .lock-venv
	$(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --disable-pip-version-check -q -U setuptools torch==2.13.0
	.lock-venv/bin/python -m pip install --disable-pip-version-check -q --no-build-isolation -e ".[all]"
	{ echo "# The tested versions: \`make lock\` writes this file, \`make demo\`/\`make test\` install with it."; \
	  echo "# Python $$(.lock-venv/bin/python -c 'import platform; print(platform.python_version())'), $$(uname -sm)."; \
	  .lock-venv/bin/python -m pip freeze --all --exclude-editable --disable-pip-version-check \
	    | grep -v '^pip=='; } > $(LOCK)
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) .lock-venv .pytest_cache .hypothesis
