# Atelier's two commands: `make run` (install and start everything) and `make test` (install test
# dependencies and run every test). torch is pinned in pyproject.toml to the CPU build this machine
# kind keeps on disk; a GPU host installs its CUDA build of the same version first.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip

# open_clip's wheel ships the CLIP BPE vocabulary that `atelier models tokenizer` reads; installed
# without its dependencies, because its torchvision requirement would replace the CPU torch build's
# operators and break diffusers. The package is only located on disk, never imported.
OPEN_CLIP := open_clip_torch==3.3.0

.PHONY: run install test test-deps lint bench clean

run: install
	$(VENV)/bin/atelier up

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e '.[worker]'
	$(PIP) install --quiet --no-deps $(OPEN_CLIP)
	touch $@

test-deps: $(VENV)/.installed-dev

$(VENV)/.installed-dev: $(VENV)/.installed pyproject.toml
	$(PIP) install --quiet -e '.[worker,dev]'
	test -x /usr/bin/chromium || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver)
	touch $@

lint: test-deps
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

test: test-deps lint
	$(PY) -m pytest

bench: test-deps
	$(PY) bench/job_overhead.py

clean:
	rm -rf $(VENV) data
