# Two commands on a fresh machine:  `make run`  and  `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The C accelerator of handlers/xlsx/cells.records, built in place by setup.py (a C compiler and
# Python's headers needed); its file name carries the interpreter's tag, so another Python rebuilds it.
NATIVE := handlers/xlsx/_records$(shell $(PYTHON) -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')

.PHONY: run test lint typecheck pytest nodetest repeat bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt clients/python/pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

$(NATIVE): $(wildcard handlers/xlsx/_*.c handlers/xlsx/_*.h) setup.py requirements-build.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-build.txt
	$(BIN)/python setup.py --quiet build_ext --inplace --force

## Install the runtime requirements and start the service on 127.0.0.1:8080 (in-memory store).
run: $(VENV)/.runtime $(NATIVE)
	$(BIN)/python server.py $(ARGS)

## Install everything the tests need, then lint, type-check and run the whole test suite.
test: $(VENV)/.dev $(NATIVE) lint typecheck nodetest pytest repeat

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.dev
	$(BIN)/mypy

# The Netlify client's tests start the real service with .venv's Python.
nodetest: $(VENV)/.dev $(NATIVE)
	node --test clients/netlify/test/*.test.mjs

pytest: $(VENV)/.dev $(NATIVE)
	$(BIN)/pytest -q -p no:cacheprovider $(PYTEST_ARGS)

# The tests marked `timing` (once flaky under load) REPEAT times each, with every core kept busy by
# tests/stress.py: 33 runs in 190 s measured on 2 cores that other test suites also loaded (load average 6).
REPEAT ?= 3
repeat: $(VENV)/.dev $(NATIVE)
	$(BIN)/python -m tests.stress -- $(BIN)/pytest -q -p no:cacheprovider -m timing --count $(REPEAT) $(PYTEST_ARGS)

bench: $(VENV)/.dev $(NATIVE)
	$(BIN)/python bench/bench_jobs.py $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build $(NATIVE)
