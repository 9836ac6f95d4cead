# AgentoCore developer commands. `make test` is the one CI runs (through .ci/run).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export TIKTOKEN_CACHE_DIR ?= $(CURDIR)/.cache/tiktoken

.PHONY: help install lint format typecheck unit test bench clean

help:
	@echo "make test       lint + typecheck + the whole test suite (offline)"
	@echo "make unit       the fast unit tests only"
	@echo "make bench      benchmarks/loop_overhead.py"
	@echo "make format     ruff format + autofix"

$(STAMP): requirements-dev.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

install: $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check shared tests benchmarks
	$(VENV)/bin/ruff format --check shared tests benchmarks

format: $(STAMP)
	$(VENV)/bin/ruff check --fix shared tests benchmarks
	$(VENV)/bin/ruff format shared tests benchmarks

typecheck: $(STAMP)
	$(VENV)/bin/mypy

unit: $(STAMP)
	$(PY) -m pytest tests/unit -q

test: lint typecheck
	$(PY) -m pytest tests -q

bench: $(STAMP)
	$(PY) benchmarks/loop_overhead.py

clean:
	rm -rf $(VENV) .cache .pytest_cache .mypy_cache .ruff_cache dist build
