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

# The suite twice: on SQLite files, then on PostgreSQL (HUB_TEST_DATABASE_URL, default the local
# server; every test skips, saying why, when it is unreachable). Each pass runs most tests on two
# workers (pytest-xdist, a private store per test), then the timing-sensitive ones (marker
# `serial`) alone. Both passes run; either failing fails. The wall time is printed at the end.
# Before them: ruff, and mypy (strict on hub/ and plugins/, [tool.mypy] in pyproject.toml).
PASS = $(BIN)/python -m pytest -q -p no:cacheprovider
test: setup
	@start=$$(date +%s); \
	$(BIN)/ruff check . || exit 1; \
	$(BIN)/python -m mypy || exit 1; \
	sqlite=passed; pg=passed; \
	echo "== the suite on SQLite"; \
	$(PASS) -n 2 -m "not serial" || sqlite=FAILED; \
	$(PASS) -m serial || sqlite=FAILED; \
	echo "== the suite on PostgreSQL"; \
	$(PASS) -n 2 -m "not serial" --backend=postgresql || pg=FAILED; \
	$(PASS) -m serial --backend=postgresql || pg=FAILED; \
	echo "== sqlite pass: $$sqlite; postgresql pass: $$pg; make test took $$(( $$(date +%s) - start )) s"; \
	[ $$sqlite = passed ] && [ $$pg = passed ]

# Static checks alone, without the suite: ruff, and mypy (strict on hub/ and plugins/).
lint: setup
	$(BIN)/ruff check .
	$(BIN)/python -m mypy

bench: setup
	$(BIN)/python benchmarks/report.py

clean:
	rm -rf $(VENV) hub.db hub.db-wal hub.db-shm
