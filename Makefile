# AgentoCore developer commands. `make test` is the one CI runs (through .ci/run).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export TIKTOKEN_CACHE_DIR ?= $(CURDIR)/.cache/tiktoken

# Lambda runs python3.12/3.13: where those interpreters exist (pyenv here), `make compat` runs
# the unit tests on each of them in its own virtualenv.
PYENV_ROOT ?= $(HOME)/.pyenv
find_python = $(shell for p in $(wildcard $(PYENV_ROOT)/versions/$(1).*/bin/python$(1)) $$(command -v python$(1)); do \
  "$$p" -c 'import venv' >/dev/null 2>&1 && echo "$$p" && break; done)
COMPAT_PYTHONS ?= 3.12=$(call find_python,3.12) 3.13=$(call find_python,3.13)

# Lambda artifacts are built for the runtime and architecture the workspace declares
# (`make build WORKSPACE=prod`; default dev: python3.12 on arm64); Terraform refuses zips built
# for anything else. The local emulator runs functions with this machine's Python, so the local
# stack builds for the host (build-local).
WORKSPACE ?= dev
# The opt-in local model (`make local-llm`): runtime in .venv, weights assembled once here.
export AGENTOCORE_LOCAL_MODELS_DIR ?= $(CURDIR)/.cache/models
LLM_STAMP := $(VENV)/.local-llm-installed
# The local stack's model (deploy-local, demo, up): AGENTOCORE_MODEL when given, else the local
# LLM where `make local-llm` installed it, else the rules model. The tests always use rules.
LOCAL_LLM_READY := $(and $(wildcard $(LLM_STAMP)),$(wildcard $(AGENTOCORE_LOCAL_MODELS_DIR)/*.gguf))
STACK_MODEL := $(or $(AGENTOCORE_MODEL),$(if $(LOCAL_LLM_READY),local,rules:v1))
ifneq ($(filter local local:%,$(STACK_MODEL)),)
LOCAL_LLM_SERVER := llm-up
endif
# The IAM policy evaluator of the tests (tests/iam: @cloud-copilot/iam-simulate, locked).
IAM_SIM := tests/iam/node_modules/.installed
# The local functions' AWS calls in tf-apply-test/localstack-test (localstack/aws_call_log.py),
# checked against their roles afterwards (localstack/aws_call_check.py).
CALL_LOG := $(CURDIR)/.localstack/aws-calls.jsonl
# The fault suite (tests/faults, `python -m tests.faults --help`): seeded conversations through
# the real handlers with faults injected into the model and the AWS clients, invariants checked
# after every step. `make faults` runs the full suite (~2 min here); `make test` runs the
# checker's own tests and the reduced suite (~25 s).
FAULTS_ARGS ?= --conversations 200
FAULTS_QUICK_ARGS ?= --conversations 40
# The unit tests run on every core (pytest-xdist); PYTEST_WORKERS=0 runs them in one process.
PYTEST_WORKERS ?= auto
CHECKOV_VENV ?= .venv-checkov
CHECKOV_VERSION ?= 3.3.30

.PHONY: chromium help install lint format typecheck unit test faults faults-quick compat compat-venvs bench clean build build-local \
	localstack-up localstack-down tf-check tf-apply-test checkov localstack-test deploy-local \
	destroy-local demo up load local-llm llm-up llm-down test-local-llm bench-local-llm iam-sim

help:
	@echo "make test       lint + typecheck + the whole test suite (offline)"
	@echo "make unit       the fast unit tests only"
	@echo "make faults     the fault suite: 200 seeded conversations with faults injected"
	@echo "make tf-check   terraform fmt/validate (offline mirror) + checkov"
	@echo "make tf-apply-test  apply workspace ci to the local emulator, test, destroy"
	@echo "make localstack-up / localstack-down   the local AWS emulator on 127.0.0.1:4566"
	@echo "make bench      benchmarks/loop_overhead.py"
	@echo "make load       Locust load test on the local stack: chart in benchmarks/results/"
	@echo "make local-llm  install the local model (xllamacpp + Gemma 3 270M, ~290 MB, cached)"
	@echo "make test-local-llm / bench-local-llm   its slow tests / tool-choice accuracy"
	@echo "make format     ruff format + autofix"

$(STAMP): requirements-dev.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

install: $(STAMP) $(IAM_SIM) chromium

# The console's browser tests (tests/e2e/test_console_browser.py) drive Debian's chromium with
# Playwright (no browser download): installed here when missing (root, or sudo without a
# password); otherwise the target says what to run.
chromium:
	@if command -v chromium >/dev/null || command -v chromium-browser >/dev/null || [ -n "$$AGENTOCORE_CHROMIUM" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then sudo=""; elif sudo -n true 2>/dev/null; then sudo="sudo -n"; \
	else echo "chromium is missing: sudo apt-get install -y chromium"; exit 1; fi; \
	echo "chromium: installing Debian's package"; \
	$$sudo apt-get install -y -q --no-install-recommends chromium >/dev/null 2>&1 || \
	  { $$sudo apt-get update -q >/dev/null && $$sudo apt-get install -y -q --no-install-recommends chromium >/dev/null; }; \
	command -v chromium >/dev/null

# Without npm the evaluator's unit tests skip (and say so); the stamp is not written.
$(IAM_SIM): tests/iam/package.json tests/iam/package-lock.json
	@if command -v npm >/dev/null; then \
	  npm ci --prefix tests/iam --no-audit --no-fund --loglevel=error && touch $@; \
	else echo "iam-sim: npm not found; the IAM evaluator tests will skip"; fi

iam-sim: $(IAM_SIM)

lint: $(STAMP)
	$(VENV)/bin/ruff check shared functions tests benchmarks localstack layers terraform
	$(VENV)/bin/ruff format --check shared functions tests benchmarks localstack layers terraform

format: $(STAMP)
	$(VENV)/bin/ruff check --fix shared functions tests benchmarks localstack layers terraform
	$(VENV)/bin/ruff format shared functions tests benchmarks localstack layers terraform

typecheck: $(STAMP)
	$(VENV)/bin/mypy

unit: $(STAMP) $(IAM_SIM) checkov
	$(PY) -m pytest tests/unit -q -n $(PYTEST_WORKERS)

# The stages overlap where one mostly waits (tests/pipeline.py: apply and destroy on the emulator
# run beside the CPU-bound stages); `$(PY) tests/pipeline.py --serial` runs them one by one.
test: $(STAMP) checkov $(IAM_SIM) chromium
	MAKE="$(MAKE)" PYTEST_WORKERS=$(PYTEST_WORKERS) $(PY) tests/pipeline.py

faults-quick: $(STAMP)
	$(PY) -m tests.faults $(FAULTS_QUICK_ARGS)

faults: $(STAMP)
	$(PY) -m pytest tests/faults -q
	$(PY) -m tests.faults $(FAULTS_ARGS)

build: $(STAMP)
	$(PY) layers/agentocore/build.py --workspace $(WORKSPACE) --out dist

# The local stack's layer also ships the e2e tests' app (workspace ci deploys it).
build-local: $(STAMP)
	$(PY) layers/agentocore/build.py --host --out dist --app tests/e2e/e2e_app

localstack-up: $(STAMP)
	$(PY) localstack/emulator.py start

localstack-down: $(STAMP)
	$(PY) localstack/emulator.py stop
	$(PY) localstack/llm_server.py stop

$(LLM_STAMP): requirements-llm.txt $(STAMP)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-llm.txt
	touch $@

# Idempotent: the runtime install is stamped, the weights are written only when missing.
local-llm: $(LLM_STAMP)
	$(PY) -m agentocore.models.local install

llm-up: local-llm
	AGENTOCORE_MODEL=$(filter local local:%,$(STACK_MODEL)) $(PY) localstack/llm_server.py start

llm-down: $(STAMP)
	$(PY) localstack/llm_server.py stop

test-local-llm: local-llm
	$(PY) -m pytest -q -m slow tests/unit/test_local_model_slow.py

bench-local-llm: local-llm
	$(PY) benchmarks/local_llm_accuracy.py
	$(PY) benchmarks/local_llm_accuracy.py --data benchmarks/data/tool_choice_holdout.json

# checkov lives in its own virtualenv: its bc-python-hcl2 and terraform-local's python-hcl2
# install the same top-level module.
$(CHECKOV_VENV)/.installed:
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check checkov==$(CHECKOV_VERSION)
	touch $@

checkov: $(CHECKOV_VENV)/.installed

tf-check: $(STAMP) checkov
	$(PY) terraform/checks.py --checkov $(CHECKOV_VENV)/bin/checkov

# Deploy workspace "ci" to the local emulator, run the tests against it, destroy, check that
# nothing is left. tf-apply-test: tests/integration only; localstack-test: + tests/e2e.
tf-apply-test: $(STAMP) $(IAM_SIM) build-local
	AGENTOCORE_AWS_CALL_LOG=$(CALL_LOG) $(PY) localstack/emulator.py start
	AGENTOCORE_AWS_CALL_LOG=$(CALL_LOG) $(PY) localstack/terraform_apply_test.py --tests integration; status=$$?; \
	  $(PY) localstack/emulator.py stop; exit $$status

localstack-test: $(STAMP) $(IAM_SIM) chromium build-local
	AGENTOCORE_AWS_CALL_LOG=$(CALL_LOG) $(PY) localstack/emulator.py start
	AGENTOCORE_AWS_CALL_LOG=$(CALL_LOG) $(PY) localstack/terraform_apply_test.py --tests integration,e2e --durations=10; status=$$?; \
	  $(PY) localstack/emulator.py stop; exit $$status

# Workspace "local" on the emulator, kept running (make localstack-down stops everything).
deploy-local: $(STAMP) build-local $(LOCAL_LLM_SERVER)
	$(PY) localstack/emulator.py start
	AGENTOCORE_MODEL=$(STACK_MODEL) $(PY) localstack/terraform_apply_test.py --workspace local --deploy

# The main job: the refund story, narrated, on the local stack (no AWS account needed).
demo: deploy-local
	AGENTOCORE_MODEL=$(STACK_MODEL) $(PY) localstack/demo.py

# Same, then keep serving the HTTP API on 127.0.0.1:$${AGENTOCORE_API_PORT:-3000}.
up: deploy-local
	AGENTOCORE_MODEL=$(STACK_MODEL) $(PY) localstack/demo.py --serve

# Locust, headless: users 1, 5, 10, 20, 50 against the local stack (deployed first; the emulator
# keeps running: make localstack-down), or a deployed stage with `make load LOAD_HOST=https://...
# AGENTOCORE_JWT=...`. Results in benchmarks/results/. LOAD_ARGS: e.g. --quick, --users 1,10.
# The emulator's port is shared: flock /tmp/agentocore-4566.lock make load
load: $(STAMP) $(if $(LOAD_HOST),,deploy-local)
	$(PY) benchmarks/load_test.py $(if $(LOAD_HOST),--host $(LOAD_HOST)) $(LOAD_ARGS)

destroy-local: $(STAMP)
	$(PY) localstack/terraform_apply_test.py --workspace local --destroy

# The unit tests on Lambda's other Pythons, without the emulator's and the tooling's own tests
# (marker `host`: they run on the developer's Python only).
compat-venvs:
	@for pair in $(COMPAT_PYTHONS); do \
	  v=$${pair%%=*}; py=$${pair#*=}; venv=.venv-py$$v; \
	  if [ -z "$$py" ]; then continue; fi; \
	  if [ ! -f $$venv/.installed ] || [ requirements-dev.txt -nt $$venv/.installed ]; then \
	    echo "compat: installing $$venv"; \
	    $$py -m venv $$venv && \
	    $$venv/bin/python -m pip install -q --disable-pip-version-check -r requirements-dev.txt && \
	    $$venv/bin/python -m pip install -q --disable-pip-version-check --no-deps -e . && \
	    touch $$venv/.installed || exit 1; \
	  fi; \
	done

compat: compat-venvs
	@for pair in $(COMPAT_PYTHONS); do \
	  v=$${pair%%=*}; py=$${pair#*=}; venv=.venv-py$$v; \
	  if [ -z "$$py" ]; then echo "compat: python$$v not found, skipped"; continue; fi; \
	  echo "compat: unit tests on $$($$venv/bin/python -V)"; \
	  $$venv/bin/python -m pytest tests/unit -q -p no:cacheprovider -m "not host" -n $(PYTEST_WORKERS) || exit 1; \
	done

bench: $(STAMP)
	$(PY) benchmarks/loop_overhead.py

clean:
	rm -rf $(VENV) .venv-py3.* $(CHECKOV_VENV) tests/iam/node_modules .cache .pytest_cache .mypy_cache .ruff_cache dist build .artifacts
