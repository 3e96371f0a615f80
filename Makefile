# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint bench system-deps clean

$(STAMP): pyproject.toml setup.py ipc/broker/_fastpath.c
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

## run: install, then run the core in the foreground with the simulated demo plant
##      (make run PORT=8081 when 8080 is taken)
PORT   ?= 8080
run: $(STAMP)
	$(BIN)/edgeos --demo --config var/config --data var/data --web-port $(PORT)

## test: install what the tests need (Python and Debian packages), run the whole suite
##       (TEST_JOBS pytest-xdist workers: most tests wait on real daemons and peers;
##       the 25 slowest tests are listed at the end, to keep the suite under 15 min)
##       (3 workers: 5 measured slower on 2 cores, the suite needs ~1,000 CPU-s; docs/suite-time.md)
##       (compileall: the project's bytecode once, which every daemon and edgectl the
##       tests start reads; pytest runs without PYTHONDONTWRITEBYTECODE so its rewritten
##       test modules are cached too: docs/suite-time.md)
TEST_JOBS ?= 3
test: $(STAMP) system-deps
	$(BIN)/ruff check .
	$(BIN)/python -m compileall -q -j 0 -x '/(\.venv|node_modules)/' .
	env -u PYTHONDONTWRITEBYTECODE $(BIN)/python -m pytest -q -n $(TEST_JOBS) --dist loadfile --no-loadscope-reorder --durations=25

system-deps:
	scripts/install-system-deps.sh

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	$(BIN)/python bench/supervisor.py
	$(BIN)/python bench/router.py
	$(BIN)/python bench/drain_budget.py
	$(BIN)/python bench/router_tail.py
	$(BIN)/python bench/modbus.py
	$(BIN)/python bench/ads.py
	$(BIN)/python bench/admin_ui.py
	$(BIN)/python bench/history.py

clean:
	rm -rf $(VENV) var run .pytest_cache
