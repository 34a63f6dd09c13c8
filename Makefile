# The README's commands. `make run` and `make test` each set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test setup lint bench clean

$(BIN)/hub: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(BIN)/hub

setup: $(BIN)/hub

run: setup
	$(BIN)/hub demo

# ruff, mypy (strict on hub/ and plugins/, [tool.mypy] in pyproject.toml), then the suite twice:
# on SQLite files, then on PostgreSQL (HUB_TEST_DATABASE_URL, default the local server; every test
# skips, saying why, when it is unreachable). Both run; either failing fails.
test: setup
	$(BIN)/ruff check .
	$(BIN)/python -m mypy
	@sqlite=passed; pg=passed; \
	echo "== the suite on SQLite"; \
	$(BIN)/python -m pytest -q || sqlite=FAILED; \
	echo "== the suite on PostgreSQL"; \
	$(BIN)/python -m pytest -q --backend=postgresql || pg=FAILED; \
	echo "== sqlite pass: $$sqlite; postgresql pass: $$pg"; \
	[ $$sqlite = passed ] && [ $$pg = passed ]

# Static checks alone, without the suite: ruff, and mypy (strict on hub/ and plugins/).
lint: setup
	$(BIN)/ruff check .
	$(BIN)/python -m mypy

bench: setup
	$(BIN)/python benchmarks/report.py

clean:
	rm -rf $(VENV) hub.db hub.db-wal hub.db-shm
