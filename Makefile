# Set-up and checks.  `make demo` and `make test` work on a fresh machine:
# they create .venv when missing, install, then run.  Both are idempotent.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# torch first, pinned: a CPU wheel of exactly this version is on every machine here,
# and any other version (or an unpinned torch) would download GBs of CUDA packages.
$(STAMP): $(PY) pyproject.toml
	$(PY) -m pip install --disable-pip-version-check -q torch==2.13.0
	$(PY) -m pip install --disable-pip-version-check -q -e ".[all]"
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/modelspec summary specs/dyrcnn_x4.yaml

test: $(STAMP)
	$(VENV)/bin/modelspec lint specs/
	$(PY) -m pytest

bench: $(STAMP)
	$(PY) bench/bench_frontend.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
