# One entry point per thing a user does. Everything installs what it needs first.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell scripts/find-python.sh)
VENVS := .venvs
UV := $(VENVS)/tools/bin/uv
AIRFLOW_PY := $(VENVS)/airflow/bin/python
LOCAL_PY := $(VENVS)/local/bin/python
export UV_PYTHON_DOWNLOADS := never
# Install compiled bytecode with every package: a process that imports Airflow or dbt otherwise
# compiles them from source each time it starts when .pyc files cannot be written (read-only
# or PYTHONDONTWRITEBYTECODE=1 environments): a fifth of an `airflow dags test`'s CPU here.
export UV_COMPILE_BYTECODE := 1
export PYTHONPATH := $(CURDIR)

.PHONY: help install demo test test-unit test-integration test-e2e test-airflow lint format \
        stack-up stack-down stop reset report airflow runs rerun redrive backfill package deploy athena-check bench bench-parse bench-history lock clean install-infra test-infra \
        test-terraform-emulator

help:
	@echo "make demo    run the whole flow locally for one generated day and print a summary"
	@echo "make test    lint + unit + integration + end-to-end tests (what CI runs)"
	@echo "make install create the two virtualenvs (.venvs/airflow, .venvs/local) from the locks"
	@echo "make airflow start Airflow 3.3.1 (UI + scheduler) on http://127.0.0.1:8080, wired to the local stack"
	@echo "make package build what MWAA reads: dist/mwaa/{dags/,plugins.zip,requirements.txt,startup.sh}"
	@echo "make deploy ENV=sandbox   build/push the Lambda image, upload MWAA files, terraform apply"
	@echo "make athena-check ENV=sandbox   the cross-engine corpus on the environment's Athena, diffed"
	@echo "make bench         every benchmark -> docs/benchmarks.md (SCALE=tiny|small|full, SAMPLES=3)"
	@echo "make bench-parse   median parse time of each DAG file"
	@echo "make bench-history daily run time with 1 vs DAYS (30) days of history stored"
	@echo "make report  the data-quality report of the local lakehouse -> dist/report/index.html"
	@echo "make stack-up / stack-down   start, or stop every process of, the local stack (data kept; stop = stack-down)"
	@echo "make reset   delete the local stack's data (.local-stack/), after asking"
	@echo "make runs ARGS='show RUN'    the run ledger: list recent runs, show one (scripts/runs)"
	@echo "make rerun DAY=2026-11-20     run a day again (its latest run; in the foreground without make airflow)"
	@echo "make redrive RUN=<run id>     repeat a failed run from the stage that failed"
	@echo "make backfill FROM=2026-11-01 TO=2026-11-07   one run per day, both days included"

$(UV):
	$(PYTHON) -m venv $(VENVS)/tools
	$(VENVS)/tools/bin/pip install --quiet --disable-pip-version-check uv==0.13.9

# The Airflow side: MWAA 3.3.1's Airflow and Amazon provider, resolved under MWAA's constraints.
$(VENVS)/airflow/.installed: requirements/airflow.lock | $(UV)
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(VENVS)/airflow
	VIRTUAL_ENV=$(VENVS)/airflow $(UV) pip sync --quiet requirements/airflow.lock
	touch $@

# The Lambda side (dbt, DuckDB, pyiceberg) plus the emulator: what the local stack runs.
$(VENVS)/local/.installed: requirements/local.lock | $(UV)
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(VENVS)/local
	VIRTUAL_ENV=$(VENVS)/local $(UV) pip sync --quiet requirements/local.lock
	touch $@

# The Lambda image's packages alone (lambdas/requirements.lock, what the Dockerfile installs):
# the Athena contract harness (tests/athena_contract) and tests/integration/test_runtime_image.py
# run the functions' code in it.
$(VENVS)/image/.installed: lambdas/requirements.lock | $(UV)
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(VENVS)/image
	VIRTUAL_ENV=$(VENVS)/image $(UV) pip sync --quiet lambdas/requirements.lock
	touch $@

# checkov (Terraform policy checks) pins older boto3/botocore than the Lambda side: its own venv.
$(VENVS)/checkov/.installed: requirements/checkov.lock | $(UV)
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(VENVS)/checkov
	VIRTUAL_ENV=$(VENVS)/checkov $(UV) pip sync --quiet requirements/checkov.lock
	touch $@

# The benchmark environment: the Airflow side plus astronomer-cosmos (the DbtDag parse-time
# comparison). Its own venv so cosmos never reaches .venvs/airflow or MWAA.
$(VENVS)/bench/.installed: requirements/bench.lock | $(UV)
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(VENVS)/bench
	VIRTUAL_ENV=$(VENVS)/bench $(UV) pip sync --quiet requirements/bench.lock
	touch $@

# Node tools of the infra checks (asl-validator, the Compose JSON schema), pinned by the lock.
tests/infra/node_modules/.installed: tests/infra/package-lock.json
	npm ci --no-audit --no-fund --prefix tests/infra
	touch $@

install: $(VENVS)/airflow/.installed $(VENVS)/local/.installed

install-infra: $(VENVS)/checkov/.installed tests/infra/node_modules/.installed

demo: install
	$(LOCAL_PY) -m local.demo $(DEMO_ARGS)

stack-up: install
	$(LOCAL_PY) -m local.stack up

# The data-quality report (HTML, self-contained) from the local stack's Elementary tables.
report: install
	scripts/lakehouse report --out dist/report

# Stops every process the stack started (emulator, Lambda environments, make airflow's
# Airflow), found by recorded PID even if .local-stack was deleted; the data stays on disk.
stack-down stop:
	@if [ -x $(LOCAL_PY) ]; then $(LOCAL_PY) -m local.stack down; \
	else echo "stack-down: $(LOCAL_PY) not found: nothing of the local stack can be running" >&2; fi

# Deletes the local stack's data, after asking (ARGS=--yes does not ask).
reset:
	@if [ -x $(LOCAL_PY) ]; then $(LOCAL_PY) -m local.stack reset $(ARGS); \
	else rm -rI "$${LAKEHOUSE_STATE_DIR:-.local-stack}"; fi

airflow: install
	$(LOCAL_PY) -m local.airflow_server --port $(or $(PORT),8080)

# The run ledger CLI: make runs ARGS="list --status FAILED", make runs ARGS="show RUN_ID".
runs: install
	scripts/runs $(or $(ARGS),list)

# Runs addressed by the day they process (the first day of their interval, from the run ledger):
# through the scheduler of `make airflow` when it runs, else in the foreground (docs/runbooks.md).
rerun: install
	scripts/runs rerun $(or $(DAY),$(error make rerun DAY=YYYY-MM-DD))

redrive: install
	scripts/runs redrive $(or $(RUN),$(error make redrive RUN=<failed run id>))

backfill: install
	scripts/runs backfill $(or $(FROM),$(error make backfill FROM=YYYY-MM-DD TO=YYYY-MM-DD)) $(or $(TO),$(FROM))

package: install
	$(LOCAL_PY) -m mwaa.package --out dist/mwaa

# The cross-engine corpus on a deployed environment's Athena, diffed with what DuckDB gives in
# CI (tests/parity/athena_check.py; needs AWS credentials and a deployed ENV).
athena-check: install
	$(LOCAL_PY) -m tests.parity.athena_check --env $(or $(ENV),$(error make athena-check ENV=<env>))

# Build and push the Lambda image, upload the MWAA files, apply Terraform (needs AWS credentials).
deploy: package
	scripts/deploy.sh $(or $(ENV),sandbox)

bench-parse: install
	$(AIRFLOW_PY) -m benchmarks.dag_parse

bench: install $(VENVS)/bench/.installed
	$(LOCAL_PY) -m benchmarks.run --scale $(or $(SCALE),full) --samples $(or $(SAMPLES),3)

bench-history: install
	$(LOCAL_PY) -m benchmarks.history $(if $(DAYS),--history-days $(DAYS))

lint: install
	$(VENVS)/local/bin/ruff check .
	$(VENVS)/local/bin/ruff format --check .

format: install
	$(VENVS)/local/bin/ruff check --fix .
	$(VENVS)/local/bin/ruff format .

test-unit: install
	$(LOCAL_PY) -m pytest -m "unit and not airflow and not infra" tests
	$(AIRFLOW_PY) -m pytest -m "unit and airflow" tests/airflow

test-airflow: install
	$(AIRFLOW_PY) -m pytest -m airflow tests/airflow

test-integration: install $(VENVS)/image/.installed
	$(LOCAL_PY) -m pytest -m integration tests

# The end-to-end modules spend most of their time waiting on DAG runs: two workers, one module
# each at a time (module-scoped stacks stay within a worker), roughly halve the wall time.
PYTEST_WORKERS ?= 2
XDIST := -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder --durations=15

test-e2e: install $(VENVS)/bench/.installed
	$(LOCAL_PY) -m pytest $(XDIST) -m e2e tests

# terraform/environments/sandbox applied to a private emulator and compared with the local
# provisioner (about three minutes; part of test-infra and of make test).
test-terraform-emulator: install
	$(LOCAL_PY) -m pytest tests/infra/test_terraform_on_emulator.py

test-infra: install install-infra
	CHECKOV=$(VENVS)/checkov/bin/checkov $(LOCAL_PY) -m pytest -m infra tests/infra

test: lint install-infra $(VENVS)/bench/.installed $(VENVS)/image/.installed
	$(LOCAL_PY) -m pytest $(XDIST) -m "not airflow and not infra" tests
	# Terraform's checks share provider caches in the repo's terraform dirs: one at a time.
	CHECKOV=$(VENVS)/checkov/bin/checkov $(LOCAL_PY) -m pytest -m infra tests/infra
	$(AIRFLOW_PY) -m pytest -m airflow tests/airflow

# Re-resolve the locks (needs the package index): after editing a requirements *.in file.
lock: | $(UV)
	$(UV) pip compile --quiet --universal --python-version 3.11 requirements/airflow-dev.in \
	  -c ../shared/constraints/mwaa-3.3.1.txt -o requirements/airflow.lock
	$(UV) pip compile --quiet --universal --python-version 3.11 requirements/local.in -o requirements/local.lock
	$(UV) pip compile --quiet --universal --python-version 3.11 requirements/checkov.in -o requirements/checkov.lock
	$(UV) pip compile --quiet --universal --python-version 3.11 requirements/bench.in \
	  -c ../shared/constraints/mwaa-3.3.1.txt -o requirements/bench.lock
	$(UV) pip compile --quiet --universal --python-version 3.11 lambdas/requirements.in \
	  -c requirements/local.lock -o lambdas/requirements.lock

clean: reset
