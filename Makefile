# The two commands: `make run` and `make test`. Everything else is a step they take.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: run test lint format pytest bench schemathesis install migrate seed clean

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

install: $(VENV)/.installed

migrate: install
	$(PY) manage.py migrate --noinput

seed: migrate
	$(PY) manage.py seed_demo

## Serve the whole product on http://127.0.0.1:8000: web, a Celery worker and beat (SQLite and a
## file-based broker by default), each restarted if it stops; Ctrl-C stops all three.
## Another port: make run PORT=8080, or another address: make run ADDR=0.0.0.0:8080.
PORT ?= 8000
ADDR ?= 127.0.0.1:$(PORT)
run: seed
	$(PY) manage.py serve --addr $(ADDR)

## The whole suite: lint, format check and tests.
test: lint pytest

## Style, the import contracts (pyproject.toml [tool.importlinter]), types (mypy with the Django, DRF and
## Celery stubs, pyproject.toml [tool.mypy]) and models without a migration.
lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy
	$(PY) manage.py makemigrations --check --dry-run

format: install
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

pytest: install
	$(PY) -m pytest $(PYTEST_ARGS)

## Benchmarks (not tests): figures printed and written under bench/results/. The pipeline and listener
## benchmarks run on PostgreSQL and Redis (the database is created if missing and emptied: its name must
## end in _bench); override BENCH_POSTGRES_URL / BENCH_BROKER_URL, or name benchmarks with BENCH=...
BENCH_POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432/automations_bench
BENCH_BROKER_URL ?= redis://127.0.0.1:6379/8
BENCH ?=
bench: install
	DATABASE_URL=$(BENCH_POSTGRES_URL) CELERY_BROKER_URL=$(BENCH_BROKER_URL) $(PY) -m bench $(BENCH)

## Fuzz every operation of /api/schema/ (>= 100 examples each) against a seeded production web server on a
## free port; fails on any 5xx or response that breaks the schema. Report under var/schemathesis-report/.
schemathesis: install
	$(PY) scripts/run_schemathesis.py

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .hypothesis .import_linter_cache
