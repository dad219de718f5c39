# Kota Live for developers:
#   make run     the platform on http://localhost:8000/ (embedded PostgreSQL and Redis unless
#                KOTALIVE_DATABASE_URL / KOTALIVE_REDIS_URL are set), demo cities included
#   make test    everything CI runs (.ci/run): lint, format, types, import rules, tests
# Every target works on a fresh clone: `make setup` creates .venv and builds the front-end assets,
# and does nothing when nothing changed.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-builtin-rules

PYTHON ?= python3
PORT ?= 8000
PYTEST_ARGS ?=
VENV := .venv
BIN := $(VENV)/bin
# pip runs again only when the package metadata changes.
INSTALLED := $(VENV)/.kotalive-installed
VENDOR := platform/static/vendor
# mypy cannot map the folder platform/ to the import name kotalive (the editable install uses an
# import hook mypy does not read), and `mypy platform` would check it as the stdlib's `platform`
# with every `kotalive.*` import silently Any. So it checks a tree of links named like the installed
# package. The folder is already gitignored and skipped by ruff.
TYPECHECK_SRC := .mypy_cache/src

.PHONY: help setup assets run test lint typecheck bench clean

help:
	@echo "make setup      create .venv, install the package (editable) and build front-end assets"
	@echo "make run        start the platform with demo cities (PORT=$(PORT)); Ctrl-C stops everything"
	@echo "make test       ruff, ruff format --check, mypy, import-linter, pytest (what CI runs)"
	@echo "make bench      benchmarks (infra/bench/run_all.py)"
	@echo "make clean      stop embedded servers; remove their data, node_modules, built assets, caches"

setup: $(INSTALLED) assets

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; Kota Live needs Python 3.11 or newer" >&2; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { \
		echo "error: $(PYTHON) is Python $$($(PYTHON) -c 'import platform; print(platform.python_version())' 2>/dev/null); Kota Live needs 3.11 or newer (make PYTHON=python3.12 ...)" >&2; exit 1; }
	@# PYTHONSAFEPATH: ensurepip runs pip with the current folder first on sys.path, where
	@# platform/ would shadow the standard library module of that name.
	PYTHONSAFEPATH=1 $(PYTHON) -m venv $(VENV)

$(INSTALLED): pyproject.toml setup.py | $(BIN)/python
	$(BIN)/pip install --disable-pip-version-check --quiet -e ".[dev]"
	@touch $@

assets: $(VENDOR)/versions.json

$(VENDOR)/versions.json: package.json package-lock.json infra/assets.sh
	infra/assets.sh

run: setup
	$(BIN)/kotalive dev --port $(PORT)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	@rm -rf $(TYPECHECK_SRC) && mkdir -p $(TYPECHECK_SRC)/kotalive
	@for entry in platform/*; do ln -s "$(CURDIR)/$$entry" $(TYPECHECK_SRC)/kotalive/; done
	@ln -s "$(CURDIR)/admin" $(TYPECHECK_SRC)/kotalive/admin
	@echo "mypy platform admin (as package kotalive)"
	@MYPYPATH=$(TYPECHECK_SRC) $(BIN)/mypy -p kotalive \
		| sed -e 's#^$(TYPECHECK_SRC)/kotalive/admin/#admin/#' -e 's#^$(TYPECHECK_SRC)/kotalive/#platform/#'

test: setup
	$(MAKE) --no-print-directory lint typecheck
	$(BIN)/lint-imports
	@# Exit code 5 means no tests were collected, which is not a failure.
	rc=0; $(BIN)/pytest $(PYTEST_ARGS) || rc=$$?; [ $$rc -eq 0 ] || [ $$rc -eq 5 ] || exit $$rc

bench: setup
	$(BIN)/python -P infra/bench/run_all.py

clean:
	@if [ -x $(BIN)/python ] && [ -d .kotalive ]; then \
		$(BIN)/python -P -c 'from kotalive.devserver import stop_embedded; [print("stopped", s) for s in stop_embedded()]'; fi
	rm -rf .kotalive node_modules $(VENDOR) build dist .mypy_cache .pytest_cache .ruff_cache .import_linter_cache test-artifacts bench-results
	find platform admin tests infra -name __pycache__ -type d -prune -exec rm -rf {} +
	@echo "kept $(VENV) (remove it by hand to reinstall from scratch)"
