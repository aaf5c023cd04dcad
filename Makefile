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

# -n auto: one pytest-xdist worker per CPU; each test file (and each model of the contract
# test) is one group that runs in one worker (tests/conftest.py)
test: setup
	$(BIN)/python -m pytest -q -n auto --dist loadgroup

lint: setup
	$(BIN)/ruff check .

# the performance suite, smaller sizes (over 9 min on 2 cores with every model): table +
# results/bench.json
bench: setup
	$(BIN)/memorybench bench --quick

# mutation testing (mutmut; config in pyproject.toml [tool.mutmut]; docs/mutation.md); slow, not
# part of CI. Mutates the task generators and scoring, the run store, the sweep's resume split,
# the run id and the leaderboard aggregation, tries each mutant against the fast unit tests that
# cover it, and writes the mutants no test kills to $(MUTATE_OUT). A subset:
# make mutate MUTANTS='memorybench.run.store.*'; `.venv/bin/mutmut show NAME` prints one diff.
LEADERBOARD_AGGREGATION := _median aggregate _select_rates rank leaderboard horizons
LEADERBOARD_LOADING := load_runs train_id variant_of entry_key train_settings
LEADERBOARD_FORMAT := canon bracket missing
MUTANTS ?= memorybench.tasks.* memorybench.run.store.* memorybench.run.sweep.x_plan_status__* \
	memorybench.config.x_run_id__* memorybench.config.x_canonical_json__* \
	$(foreach f,$(LEADERBOARD_AGGREGATION),memorybench.report.leaderboard.x_$(f)__mutmut_*) \
	$(foreach f,$(LEADERBOARD_LOADING),memorybench.report.load.x_$(f)__mutmut_*) \
	$(foreach f,$(LEADERBOARD_FORMAT),memorybench.report.format.x_$(f)__mutmut_*)
MUTATE_OUT ?= results/mutation-survivors.txt
MUTATE_JOBS ?= 2
mutate: setup
	$(BIN)/pip install -q -e ".[test,mutate]"
	rm -rf mutants
	nice -n 10 $(BIN)/mutmut run --max-children $(MUTATE_JOBS) $(foreach m,$(MUTANTS),'$(m)') || true
	mkdir -p $(dir $(MUTATE_OUT))
	$(BIN)/mutmut results --all true | grep -v -e ': killed$$' -e ': not checked$$' \
		> $(MUTATE_OUT) || true
	@$(BIN)/mutmut results --all true | grep -v ': not checked$$' | sed 's/.*: //' | sort \
		| uniq -c
	@echo "$$(grep -c . $(MUTATE_OUT)) mutant(s) not killed: $(MUTATE_OUT)"

clean:
	rm -rf $(VENV) .pytest_cache mutants
