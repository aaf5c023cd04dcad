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

# The main job on the embedded default: the smoke sweep (every seed task x simple_rnn, lstm, gru;
# about 30 s on 2 idle CPU cores), no downloads (MNIST: a local copy or the shipped 5k subset).
# Re-running it resumes: complete runs are skipped.
demo: setup
	$(BIN)/memorybench list
	MEMORYBENCH_OFFLINE=1 $(BIN)/memorybench run --profile smoke --out results

test: setup
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check .

# the performance suite, smaller sizes (< 5 min on 2 cores): table + results/bench.json
bench: setup
	$(BIN)/memorybench bench --quick

clean:
	rm -rf $(VENV) .pytest_cache
