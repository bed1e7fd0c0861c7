# Two entry points for a fresh machine:  make repro   and   make test
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -ec
VENV ?= .venv
PY := $(VENV)/bin/python
# PyPI's default Linux torch wheel pulls gigabytes of CUDA libraries; the CPU build is
# enough here. On a GPU machine:  make repro TORCH=torch  (or any pip requirement).
TORCH ?= torch==2.13.0
# Extra pip options for torch alone, e.g. TORCH_PIP="--index-url <your torch wheel index>"
TORCH_PIP ?=
export PATH := $(abspath $(VENV))/bin:$(PATH)
export TOKENIZERS_PARALLELISM := false
# quiet pip's notes about this machine's local mirrors; keep real errors
QUIET := 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }

.PHONY: install repro test bench clean
install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q $(TORCH_PIP) "$(TORCH)" $(QUIET)
	$(PY) -m pip install -q -e ".[test]" $(QUIET)
	touch $@

repro: install
	dvc repro
	pinpoint report

test: install
	$(PY) -m pytest

bench: install
	$(PY) benchmarks/attribute.py
	$(PY) benchmarks/tune.py

clean:
	rm -rf $(VENV) data models .dvc/cache .dvc/tmp
