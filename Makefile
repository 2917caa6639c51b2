# `make demo` and `make test` set themselves up on a fresh machine: a .venv with the package and its
# development tools. Nothing here needs anything installed beforehand but Python 3.11+.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

CHROMIUM := /usr/bin/chromium

.PHONY: setup browser demo test lint format translations bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/easyflow demo

lint: setup
	$(BIN)/ruff format --check src tests bench
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

# The widget's browser tests drive Debian's Chromium; install it when missing and we may (root with apt),
# otherwise those tests skip and say why.
browser:
	@test -x $(CHROMIUM) || { command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && \
		{ apt-get install -y -q chromium >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }; }; } || \
		echo "note: $(CHROMIUM) is missing and could not be installed: the browser tests will be skipped"

# Two test processes, each with its own embedded PostgreSQL and migrated database: 4.5 min instead of
# 6.2 for the whole suite on a 2-core machine (measured on one quiet machine, same commit).
test: lint browser
	$(BIN)/pytest -n 2

format: setup
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

# The dashboard's messages, extracted from templates and code and merged into the Russian catalog: translate
# what is new (empty) or marked fuzzy; make test fails until every message has its Russian.
translations: setup
	$(BIN)/pybabel -q extract -F babel.cfg --no-location --sort-output -o $(VENV)/messages.pot .
	$(BIN)/pybabel -q update -i $(VENV)/messages.pot -d src/easyflow/web/locale -D messages -l ru --no-wrap

bench: setup
	$(BIN)/python bench/http_baseline.py

clean:
	rm -rf $(VENV) .easyflow .pytest_cache .mypy_cache .ruff_cache
