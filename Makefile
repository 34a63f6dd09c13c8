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

# The suite on both stores: SQLite files, and PostgreSQL (HUB_TEST_DATABASE_URL, default the
# local server; every test skips, saying why, when it is unreachable). First ruff; then, at once,
# mypy (strict on hub/ and plugins/) and the bulk of the suite on both stores (pytest-xdist: two
# workers on SQLite, three on PostgreSQL, whose tests wait more on the server, so both end together;
# a private store per test; their output is shown as each ends). Then the
# timing-sensitive tests (marker `serial`) alone, one store after the other. Everything runs;
# any failure fails. The wall time is printed at the end.
PASS = $(BIN)/python -m pytest -q -p no:cacheprovider
test: setup
	@start=$$(date +%s); logs=$$(mktemp -d); \
	$(BIN)/ruff check . || exit 1; \
	$(BIN)/python -m mypy > $$logs/mypy 2>&1 & mypy=$$!; \
	$(PASS) -n 2 -m "not serial" > $$logs/sqlite 2>&1 & sq=$$!; \
	$(PASS) -n 3 -m "not serial" --backend=postgresql > $$logs/pg 2>&1 & pg=$$!; \
	types=passed; sqlite=passed; postgresql=passed; \
	wait $$mypy || types=FAILED; echo "== mypy"; cat $$logs/mypy; \
	wait $$sq || sqlite=FAILED; echo "== the suite on SQLite (all but the serial tests)"; cat $$logs/sqlite; \
	wait $$pg || postgresql=FAILED; echo "== the suite on PostgreSQL (all but the serial tests)"; cat $$logs/pg; \
	echo "== the serial tests on SQLite"; $(PASS) -m serial || sqlite=FAILED; \
	echo "== the serial tests on PostgreSQL"; $(PASS) -m serial --backend=postgresql || postgresql=FAILED; \
	rm -rf $$logs; \
	echo "== mypy: $$types; sqlite: $$sqlite; postgresql: $$postgresql; make test took $$(( $$(date +%s) - start )) s"; \
	[ $$types = passed ] && [ $$sqlite = passed ] && [ $$postgresql = passed ]

# Static checks alone, without the suite: ruff, and mypy (strict on hub/ and plugins/).
lint: setup
	$(BIN)/ruff check .
	$(BIN)/python -m mypy

bench: setup
	$(BIN)/python benchmarks/report.py

clean:
	rm -rf $(VENV) hub.db hub.db-wal hub.db-shm
