# Two-command quick start: `make demo` (set up + main job) and `make test` (set up + tests).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup demo test lint bench mutate clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[test]"
	touch $@

# The main job on the embedded default: the demo slice of the why-LSTM study (adding at L=50:
# simple_rnn, ungated and lstm at one parameter budget, two runs at once, then gradient flow and
# the report), no downloads. It prints the report's path and the Findings' headline lines.
# Re-running it resumes: complete runs are skipped.
demo: setup
	MEMORYBENCH_OFFLINE=1 $(BIN)/memorybench study why-lstm --scale demo --out results/demo

test: setup
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check .

# the performance suite, smaller sizes (< 5 min on 2 cores): table + results/bench.json
bench: setup
	$(BIN)/memorybench bench --quick

# mutation testing (mutmut; config in pyproject.toml [tool.mutmut]); slow, not part of CI.
# Writes the mutants that no test kills to $(MUTATE_OUT). A subset: make mutate
# MUTANTS='memorybench.tasks.*'; `.venv/bin/mutmut show NAME` prints one mutant's diff.
MUTANTS ?= memorybench.tasks.* memorybench.run.store.* memorybench.run.sweep.x_plan_status* \
	memorybench.config.x_run_id* memorybench.config.x_canonical_json* \
	memorybench.report.leaderboard.*
MUTATE_OUT ?= results/mutation-survivors.txt
mutate: setup
	$(BIN)/pip install -q -e ".[test,mutate]"
	rm -rf mutants
	$(BIN)/mutmut run $(foreach m,$(MUTANTS),'$(m)') || true
	mkdir -p $(dir $(MUTATE_OUT))
	$(BIN)/mutmut results | grep -v ': killed$$' > $(MUTATE_OUT) || true
	@echo "$$(grep -c . $(MUTATE_OUT)) mutant(s) not killed: $(MUTATE_OUT)"

clean:
	rm -rf $(VENV) .pytest_cache mutants
