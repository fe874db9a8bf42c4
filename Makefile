# Developer tasks (CONTRIBUTING.md). CI runs .ci/run, which runs the same lint and test commands.
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: help install test test-slow lint fmt bench bench-smoke docs

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/'

$(BIN)/reconciler: pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

install: $(BIN)/reconciler  ## make the venv and install reconciler with its dev tools

test: $(BIN)/reconciler  ## the default test run, as CI runs it (needs PostgreSQL and MariaDB, see CONTRIBUTING.md)
	$(BIN)/pytest

test-slow: $(BIN)/reconciler  ## the long reliability and scale tests (pytest -m slow)
	$(BIN)/pytest -m slow

lint: $(BIN)/reconciler  ## ruff format --check, ruff check, mypy --strict (exactly what .ci/run checks)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy --strict reconciler

fmt: $(BIN)/reconciler  ## format the tree and apply ruff's safe fixes
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(BIN)/reconciler  ## the benchmarks behind docs/performance.md (tens of minutes; bench/README.md)
	$(BIN)/python bench/bench_startup.py
	$(BIN)/python bench/bench_validate.py
	$(BIN)/python bench/bench_plan.py --breakdown
	$(BIN)/python bench/bench_apply.py --runs 3
	$(BIN)/python bench/bench_refresher.py

bench-smoke: $(BIN)/reconciler  ## every benchmark script at a tiny size (exact counts, no timings)
	$(BIN)/pytest tests/bench

docs: $(BIN)/reconciler  ## compile the catalog (source_types.json), regenerate reconciler/help.txt, docs/sources.md and the JSON Schemas in docs/
	$(BIN)/python -m reconciler.docgen
	$(BIN)/reconciler schema > docs/manifest.schema.json
	$(BIN)/reconciler schema --repo-config > docs/reconciler.schema.json
