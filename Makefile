# Two commands: `make run` and `make test`. Both install into .venv first (idempotent).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test lint typecheck check bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: install
	$(BIN)/python -m bot run

# The suite mostly waits on servers and subprocesses, so it runs on more workers than cores
# (on 2 cores: 2 workers 305 s, 4 workers 277 s, 6 workers 256-304 s of pytest time, but at 6
# the CPU-bound benchmark smoke test_ack drops modals whose 3 s trigger expires: 4 it is).
# worksteal: an idle worker takes tests queued for a busy one, so a few long tests at the end
# no longer leave three workers idle (2026-12-07: 298-313 s -> 270 s). Each worker migrates its
# databases once and every test starts from a copy or emptied tables (tests/conftest.py):
# 234 -> 170 s.
TEST_WORKERS ?= 4

test: install
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist worksteal --durations=15

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

check: lint typecheck test

# SPEC §10's bars, measured against fake Slack and Jira on 127.0.0.1 (a few minutes);
# `.venv/bin/python -m benchmarks NAME` runs one, `--update-readme` refreshes README's table.
bench: install
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
