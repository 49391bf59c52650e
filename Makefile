# Jupiter: the two set-up commands are `make run` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test install chromium lint format bench migrate clean screenshots

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

migrate: $(STAMP)
	$(BIN)/python manage.py migrate --noinput

run: migrate
	$(BIN)/python manage.py jupiter_bootstrap
	@echo "Jupiter console: http://$(HOST):$(PORT)/ (web server and worker: see Procfile)"
	JUPITER_HOST=$(HOST) JUPITER_PORT=$(PORT) $(BIN)/honcho -f Procfile start

# Debian's chromium drives the browser tests; Playwright never downloads a browser here.
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium; \
	fi

test: $(STAMP) chromium
	$(BIN)/pytest

# The charts, import graph and findings screens, as docs/screenshots/*.png (browser tests).
screenshots: $(STAMP) chromium
	JUPITER_SCREENSHOTS=docs/screenshots $(BIN)/pytest tests/e2e/test_insights.py -q -p no:randomly

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python bench/discovery.py
	$(BIN)/python bench/trust.py
	$(BIN)/python bench/jobs.py
	$(BIN)/python bench/logs.py
	$(BIN)/python bench/analyzers.py
	$(BIN)/python bench/confinement.py
	$(BIN)/python bench/faults.py
	$(BIN)/python bench/boot.py
	$(BIN)/python bench/pages.py
	$(BIN)/python bench/scan.py
	$(BIN)/python bench/insights.py
	$(BIN)/python bench/isolation.py
	$(BIN)/python bench/scale.py

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
