# Two-command quick start: `make demo` (set up + main job) and `make test` (set up + tests).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup demo test lint bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[test]"
	touch $@

# The main job on the embedded default: synthetic tasks only, no downloads.
demo: setup
	$(BIN)/memorybench list
	for t in adding copy_memory delayed_xor; do $(BIN)/memorybench task show $$t --length 12 | tail -n 22; done

test: setup
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check .

bench: setup
	$(BIN)/python benchmarks/generators.py

clean:
	rm -rf $(VENV) .pytest_cache
