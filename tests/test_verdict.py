"""The verdict's logic from fixture summaries (no training): learning-rate selection on
validation, the horizon search's probing, brackets, and the generated Findings."""

from __future__ import annotations

import json

import pytest

from memorybench.errors import ConfigError
from memorybench.report import findings as fd
from memorybench.report import format as fm
from memorybench.report import leaderboard as lb
from memorybench.run.horizon import Search, outcome
from memorybench.run.selection import choose_rate, majority_solved


def summary(model="lstm", length=10, lr=0.01, seed=0, val=0.5, test=0.5, solved=False,
            status="completed", task="adding", higher=False, run_id=None):
    return {
        "run_id": run_id or f"{task}-{model}-{length}-{lr}-{seed}", "status": status,
        "task": task, "length": length, "task_params": {"length": length, "variant": "half"},
        "dataset": "synthetic", "model": model, "units": 8, "layers": 1, "seed": seed,
        "metric": "mse" if not higher else "accuracy", "higher_is_better": higher,
        "chance": 1 / 6 if not higher else 0.5, "solved_at": 0.01 if not higher else 0.99,
        "test_metric": test if status == "completed" else None, "score": 0.0, "solved": solved,
        "val_metric": val if status != "failed" else None, "lr": lr, "params": 100,
        "train": "t", "model_params": "",
    }


# -- selection ---------------------------------------------------------------------------------
def test_the_rate_is_chosen_on_validation_never_on_test():
    # validation prefers 0.01 (lower MSE); the test split would prefer 0.001
    good_val = [summary(lr=0.01, val=0.01, test=0.9, seed=s) for s in (0, 1)]
    good_test = [summary(lr=0.001, val=0.1, test=0.001, seed=s) for s in (0, 1)]
    lr, edge = choose_rate({0.01: good_val, 0.001: good_test}, higher_is_better=False)
    assert lr == 0.01 and edge is True
    board = lb.leaderboard(good_val + good_test)
    assert list(board["lr"]) == [0.01]
    assert board["metric_mean"].iloc[0] == pytest.approx(0.9)  # the test metric at that rate
    every = lb.leaderboard(good_val + good_test, all_rates=True)
    assert sorted(every["lr"]) == [0.001, 0.01] and every["chosen"].sum() == 1


def test_accuracy_prefers_higher_and_a_middle_rate_is_not_at_the_edge():
    runs = {lr: [summary(lr=lr, val=v, higher=True)] for lr, v in
            ((0.001, 0.6), (0.003, 0.9), (0.01, 0.7))}
    assert choose_rate(runs, higher_is_better=True) == (0.003, False)


def test_ties_go_to_the_smaller_rate():
    runs = {lr: [summary(lr=lr, val=0.2)] for lr in (0.003, 0.001, 0.01)}
    assert choose_rate(runs, higher_is_better=False) == (0.001, True)


def test_a_rate_with_a_failed_or_diverged_seed_ranks_below_complete_ones():
    diverged = [summary(lr=0.01, val=0.001), summary(lr=0.01, seed=1, status="diverged",
                                                      val=None)]
    failed = [summary(lr=0.03, status="failed")]
    ok = [summary(lr=0.001, val=0.15), summary(lr=0.001, seed=1, val=0.16)]
    assert choose_rate({0.01: diverged, 0.001: ok, 0.03: failed}, False)[0] == 0.001
    # everything failed: still a choice (the report shows it as failed), no exception
    assert choose_rate({0.03: failed}, False) == (0.03, False)


def test_majority_means_more_than_half():
    s, f = summary(solved=True), summary(solved=False)
    assert majority_solved([s, s, f]) and not majority_solved([s, f]) and not majority_solved([])


# -- the horizon search ---------------------------------------------------------------------------
def probe_all(search: Search, solved_up_to: int) -> list[int]:
    seen = []
    while search.next_length is not None:
        L = search.next_length
        seen.append(L)
        search.take(L, {"solved": L <= solved_up_to})
    return seen


def test_doubling_then_bisecting_brackets_the_horizon():
    s = Search("adding", "lstm", base=10, max_length=1000, bisect=2)
    assert probe_all(s, solved_up_to=70) == [10, 20, 40, 80, 60, 70]
    assert (s.lo, s.hi, s.hit_max) == (70, 80, False)


def test_the_search_stops_at_its_maximum_and_says_so():
    s = Search("adding", "lstm", base=10, max_length=50, bisect=3)
    assert probe_all(s, solved_up_to=10**6) == [10, 20, 40, 50]
    assert (s.lo, s.hi, s.hit_max) == (50, None, True)


def test_a_model_that_fails_the_base_length_gets_an_open_bracket():
    s = Search("adding", "simple_rnn", base=10, max_length=100, bisect=2)
    assert probe_all(s, solved_up_to=5) == [10]
    assert (s.lo, s.hi) == (None, 10)
    assert fm.bracket(None, 10) == "[-, 10)" and fm.bracket(50, None, True) == "[50, -) max"


def test_below_the_base_the_search_halves_down_to_its_floor_then_bisects():
    s = Search("adding", "simple_rnn", base=25, max_length=100, bisect=1, floor=5)
    assert probe_all(s, solved_up_to=8) == [25, 12, 6, 9]  # halve, then bisect [6, 12)
    assert (s.lo, s.hi) == (6, 9)
    s = Search("adding", "simple_rnn", base=25, max_length=100, bisect=1, floor=5)
    assert probe_all(s, solved_up_to=4) == [25, 12, 6, 5]  # the floor is the last probe
    assert (s.lo, s.hi) == (None, 5) and s.to_dict()["floor"] == 5
    # a model that solves the base doubles as before, the floor never probed
    s = Search("adding", "lstm", base=25, max_length=100, bisect=0, floor=5)
    assert probe_all(s, solved_up_to=60) == [25, 50, 100]


def test_a_choice_at_the_grids_edge_probes_the_next_rate_beyond_it():
    x = Search("adding", "lstm", base=10, max_length=20, rates=(0.003, 0.01), extend_rates=2)
    x.take(10, {"solved": True, "lr": 0.01})  # the largest rate: 0.03 next, same length
    assert x.next_length == 10 and x.grid(10) == [0.003, 0.01, 0.03] and x.lo is None
    x.take(10, {"solved": True, "lr": 0.03})  # still the edge: 0.09
    assert x.next_length == 10 and x.grid(10) == [0.003, 0.01, 0.03, 0.09]
    x.take(10, {"solved": True, "lr": 0.09})  # two added: the extension is spent
    assert x.next_length == 20 and x.lo == 10
    assert x.probes[10]["rates_added"] == [0.03, 0.09]
    assert x.probes[10]["lrs"] == [0.003, 0.01, 0.03, 0.09]
    x.take(20, {"solved": False, "lr": 0.003})  # the smallest rate at L=20: 0.001 next
    assert x.next_length == 20 and x.grid(20) == [0.001, 0.003, 0.01]
    # the added rate lost (diverged: it ranks last), so the choice is interior: decided
    x.take(20, {"solved": False, "lr": 0.003})
    assert x.next_length is None and (x.lo, x.hi) == (10, 20)
    # off by default, and a single rate has no edge
    for kw in ({"rates": (0.003, 0.01)}, {"rates": (0.01,), "extend_rates": 2}):
        y = Search("adding", "lstm", base=10, max_length=20, **kw)
        y.take(10, {"solved": True, "lr": 0.01})
        assert y.next_length == 20 and not y.added


def test_the_search_trains_only_the_added_rate_when_it_extends_the_grid(tmp_path):
    from memorybench.run.horizon import horizon_search
    from memorybench.settings import layered

    settings = layered("smoke", options={"tasks": "adding", "models": "gru",
                                         "lrs": "1e-5,3e-5"}, sets=TINY)
    # at 20 steps the larger of two tiny rates is always better on validation: the edge
    (x,) = horizon_search(settings, base=3, max_length=3, out_dir=tmp_path, extend_rates=1)
    probe = x.probes[3]
    assert probe["rates_added"] == [9e-5] and probe["lrs"] == [1e-5, 3e-5, 9e-5]
    assert len(probe["run_ids"]) == 3 and len(list((tmp_path / "runs").iterdir())) == 3
    record = json.loads(next((tmp_path / "searches").glob("adding__gru__*.json")).read_text())
    assert record["extend_rates"] == 1 and record["probes"]["3"]["rates_added"] == [9e-5]
    with pytest.raises(ConfigError, match="extend-rates"):
        horizon_search(settings, base=3, max_length=3, out_dir=tmp_path, extend_rates=-1)


def test_the_floor_is_checked_before_any_run(tmp_path):
    from memorybench.run.horizon import horizon_search

    settings = {"tasks": ["adding"], "models": ["lstm"]}
    for bad, match in ((30, "above the base length"), (0, "integer >= 1"),
                       (True, "integer >= 1")):
        with pytest.raises(ConfigError, match=match):
            horizon_search(settings, base=25, max_length=50, min_length=bad,
                           out_dir=tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_bisect_is_one_number_or_one_per_task(tmp_path):
    from memorybench.run.horizon import check_search

    settings = {"tasks": ["adding", "delayed_xor"], "models": ["lstm"]}
    _, per_task, _ = check_search(settings, base=12, max_length=48,
                                  bisect={"delayed_xor": 2})
    assert per_task["delayed_xor"][3] == 2 and per_task["adding"][3] == 0  # missing: none
    _, per_task, _ = check_search(settings, base=12, max_length=48, bisect=1)
    assert per_task["delayed_xor"][3] == per_task["adding"][3] == 1
    for bad in ({"adding": -1}, {"adding": 1.5}, -1):
        with pytest.raises(ConfigError, match="bisect .* allowed: an integer >= 0"):
            check_search(settings, base=12, max_length=48, bisect=bad)
    # two bisection steps bracket [12, 24) down to a width of 3, one step leaves 6
    for steps, probes in ((1, [12, 24, 18]), (2, [12, 24, 18, 15])):
        s = Search("delayed_xor", "lstm", base=12, max_length=48, bisect=steps)
        assert probe_all(s, solved_up_to=14) == probes


def test_the_largest_length_a_search_may_reach_is_checked_for_memory_first(tmp_path, capsys):
    from memorybench.cli import main
    from memorybench.run.horizon import horizon_search

    settings = {"tasks": ["adding"], "models": ["lstm"]}
    with pytest.raises(ConfigError, match="would need about .* of memory"):
        horizon_search(settings, base=25, max_length=10**14, out_dir=tmp_path / "x")
    assert not (tmp_path / "x").exists()  # refused before the first round, not rounds in
    with pytest.raises(SystemExit) as exc:
        main(["horizon", "--tasks", "adding", "--models", "lstm", "--max-length", str(10**14),
              "--dry-run", "--out", str(tmp_path / "y")])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.count("\n") == 1 and "of memory" in err
    assert not (tmp_path / "y").exists()


def test_outcome_uses_the_best_rate_on_validation():
    runs = [summary(lr=0.01, val=0.001, solved=True, seed=0),
            summary(lr=0.01, val=0.002, solved=True, seed=1),
            summary(lr=0.001, val=0.1, solved=False, seed=0),
            summary(lr=0.001, val=0.1, solved=False, seed=1)]
    out = outcome(runs)
    assert out["solved"] and out["lr"] == 0.01 and out["seeds_solved"] == 2


def test_tasks_without_a_solved_threshold_are_refused(tmp_path, capsys):
    from memorybench.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["horizon", "--tasks", "sequential_mnist", "--models", "lstm", "--out",
              str(tmp_path / "h")])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no solved threshold" in err and "adding" in err
    assert not (tmp_path / "h").exists()


# -- findings -----------------------------------------------------------------------------------
def study_runs():
    """Five seeds: lstm solves up to 40 (all seeds), lstm_nfg up to 10 (all: a significant
    loss), lstm_cifg up to 40 on 3 seeds and 20 on 2 (the same bracket, not distinguishable),
    simple_rnn nothing; ungated only failed runs, gru no run."""
    runs = []
    for model, tops in (("lstm", [40] * 5), ("lstm_nfg", [10] * 5),
                        ("lstm_cifg", [40, 40, 40, 20, 20]), ("simple_rnn", [0] * 5)):
        horizon = sorted(tops)[2]
        for L in (10, 20, 40, 80):
            if L > 2 * max(horizon, 5):
                continue
            for seed, top in enumerate(tops):
                ok = L <= top
                runs.append({**summary(model=model, length=L, lr=0.01, seed=seed, solved=ok,
                                       val=0.001 if ok else 0.16),
                             "steps": 1000, "steps_to_solve": (100 * (1 + seed) if model ==
                                                               "lstm_cifg" else 600) if ok
                             else None})
    # ungated: every run failed; gru: not run at all
    runs.append(summary(model="ungated", length=10, status="failed"))
    return runs


def test_findings_open_with_the_factor_table_of_the_argument():
    from memorybench.settings import WHY_LSTM_FACTORS

    study = {"name": "why-lstm", "scale": "test", "description": "d", "tasks": ["adding"],
             "models": ["simple_rnn", "ungated", "lstm_nfg", "lstm", "gru"], "reference": "lstm",
             "factors": WHY_LSTM_FACTORS, "steps": [], "claims": []}
    md, _ = fd.findings(study_runs(), [], study)
    section = md.split("## The argument, step by step", 1)[1].split("\n## ", 1)[0]
    assert ("| model | separate memory | additive update | input gate | forget gate | output gate"
            " | adding horizon |") in section
    assert ("| simple_rnn | no | no | no | no | no | median none (none-none, 94%); "
            "bracket [-, 10) |") in section
    assert "| ungated | yes | no | no | no | no | not measured |" in section  # every run failed
    assert ("| lstm_nfg | yes | yes | yes | no | yes | median 10 (10-10, 94%); "
            "bracket [10, 20) |") in section
    assert ("| lstm | yes | yes | yes | yes | yes | median 40 (40-40, 94%); "
            "bracket [40, 80) |") in section
    assert "| gru | no | interpolated | coupled (z) | coupled (1 - z) | no | not measured |" \
        in section  # no run
    assert md.index("## The argument") < md.index("## adding")
    # a study without factors, or with factors of the wrong shape: no table, no crash
    for bad in (None, {"columns": 3}, {"columns": ["a"], "models": ["lstm"]}):
        md, _ = fd.findings(study_runs(), [], {**study, "factors": bad})
        assert "## The argument" not in md


def test_findings_rank_by_horizon_and_test_each_ablation():
    study = {"name": "why-lstm", "scale": "test", "description": "d", "tasks": ["adding"],
             "models": ["simple_rnn", "ungated", "lstm_nfg", "lstm_cifg", "lstm", "gru"],
             "reference": "lstm", "steps": [], "claims": []}
    grad = [{"where": "adding_L10", "model": "lstm", "init": 0.5, "trained": 0.25},
            {"where": "adding_L10", "model": "simple_rnn", "init": 1e-3, "trained": None}]
    md, headline = fd.findings(study_runs(), [], study, grad)
    table = md.split("## adding", 1)[1]
    # lstm and lstm_cifg tie at rank 1 (bracket [40, 80)), nfg next, simple_rnn last
    assert ("| 1 | lstm | [40, 80) | 5/5 | 40 (40-40, 94%) | 40, 40, 40, 40, 40 |" in table)
    assert ("| 1 | lstm_cifg | [40, 80) | 3/5 | 40 (20-40, 94%) | 20, 20, 40, 40, 40 |"
            in table)
    assert "| 3 | lstm_nfg | [10, 20) | 5/5 | 10 (10-10, 94%) |" in table
    assert "| 4 | simple_rnn | [-, 10) | - | none (none-none, 94%) |" in table
    assert "| - | ungated | not measured | - | - | - | - | (every run failed) |" in table
    assert "| - | gru | not measured | - | - | - | - | (no run) |" in table
    # the significant loss is "lost" with its p; the tie is not "kept" but not distinguishable
    assert ("| lstm_nfg | no forget gate | 10 (10-10, 94%) | 10, 10, 10, 10, 10 | 0.0079 | "
            "lost (p = 0.0079) |") in table
    assert ("| lstm_cifg | coupled input and forget gate | 40 (20-40, 94%) | 20, 20, 40, 40, 40 "
            "| 0.44 | not distinguishable at this budget (p = 0.44) |") in table
    assert "kept" not in md
    assert ("- 2 models share [40, 80): lstm_cifg, lstm; the probes between L=40 and L=80 do not "
            "separate them") in table
    assert "adding: against lstm, horizon lost: lstm_nfg (p = 0.0079)." in headline
    assert "adding: not distinguishable from lstm at this budget: lstm_cifg (p = 0.44)." \
        in headline
    # time to solve at L=40: cifg's seeds solve at 100..300 steps, lstm's at 600
    tts = table.split("Time to solve at L=40", 1)[1]
    assert "| lstm_cifg | 3/5 | 300 |" in tts and "| lstm | 5/5 | 600 | - |" in tts
    assert ("adding: lstm reaches the threshold at L=40 after a median of 600 of 1000 steps: "
            "more than half the budget") in " ".join(headline)
    assert "| adding_L10 | simple_rnn | 0.001 | not measured |" in md
    assert any(h.startswith("adding: longest horizon lstm") for h in headline), headline
    assert any("simple_rnn solves no length tried (fails at L=10" in h for h in headline)
    assert md.index("## Headline") < md.index("## adding")


def test_the_answer_states_each_step_and_claim_no_stronger_than_its_test():
    study = {"name": "why-lstm", "scale": "test", "description": "d", "tasks": ["adding"],
             "models": ["simple_rnn", "ungated", "lstm_nfg", "lstm_cifg", "lstm", "gru"],
             "reference": "lstm",
             "steps": [{"from": "lstm_nfg", "to": "lstm", "what": "a forget gate"},
                       {"from": "lstm_cifg", "to": "lstm", "what": "uncoupled gates"},
                       {"from": "ungated", "to": "lstm", "what": "everything"},
                       "not an object"],
             "claims": [
                 {"source": "A", "model": "lstm_nfg", "against": "lstm", "expect": "lost",
                  "claim": "no forget gate hurts"},
                 {"source": "B", "model": "lstm_cifg", "against": "lstm", "expect": "same",
                  "claim": "coupling is harmless"},
                 {"source": "C", "model": "lstm_cifg", "against": "lstm", "expect": "lost",
                  "claim": "coupling hurts"},
                 {"source": "D", "model": "lstm", "against": "lstm_nfg", "expect": "lost",
                  "claim": "the opposite"},
                 {"source": "E", "model": "gru", "against": "lstm", "expect": "same",
                  "claim": "not run"}]}
    md, _ = fd.findings(study_runs(), [], study)
    answer = md.split("## The answer", 1)[1].split("\n## ", 1)[0]
    assert ("- lstm_nfg -> lstm, a forget gate: adding: median 10 -> 40, gained "
            "(p = 0.0079).") in answer
    assert ("- lstm_cifg -> lstm, uncoupled gates: adding: median 40 -> 40, not "
            "distinguishable at this budget (p = 0.44).") in answer
    assert "- ungated -> lstm, everything: adding: not measured." in answer
    assert "not an object" not in answer
    rows = {r.split(" | ")[0].lstrip("| "): r for r in answer.splitlines() if r.startswith("| ")}
    assert rows["A"].endswith("| agrees |")
    assert rows["B"].endswith("| consistent: no difference detected (which does not show "
                              "equality) |")
    assert rows["C"].endswith("| not confirmed at this budget |")
    assert rows["D"].endswith("| disagrees: the opposite, significant |")
    assert rows["E"].endswith("| not tested (not measured) |")


def test_the_findings_say_plainly_where_no_run_leaves_chance():
    runs = []
    for m in ("lstm", "gru"):
        for seed in range(3):
            runs.append({**summary(m, 12, seed=seed, task="delayed_xor", higher=True,
                                   solved=True, test=1.0), "score": 1.0})
            for L, score in ((18, 0.04), (24, -0.02)):  # at chance (one at 18 is not: below)
                runs.append({**summary(m, L, seed=seed, task="delayed_xor", higher=True,
                                       test=0.5), "score": score})
    lines, head = fd.chance_floor("delayed_xor", runs)
    assert head == ["delayed_xor: no run leaves chance at L=18 or longer: all 12 runs probed "
                    "there (L=18, L=24; 2 models, every rate and seed) score below 0.1 in "
                    "normalised score (best 0.040), so brackets that end at these lengths are "
                    "bounded by the task at this budget, not separated by the cells."]
    assert lines[0].startswith("Chance floor: no run leaves chance at L=18")
    # one run above chance at 18 moves the floor to 24; one at 24 removes it
    runs[1]["score"] = 0.3
    assert "at L=24 or longer" in fd.chance_floor("delayed_xor", runs)[1][0]
    runs[2]["score"] = 0.3
    assert fd.chance_floor("delayed_xor", runs) == ([], [])
    # nothing ever left chance: no floor line (the ties say it), failed runs are not read
    flat = [{**r, "score": 0.0} for r in runs]
    assert fd.chance_floor("delayed_xor", flat) == ([], [])
    assert fd.chance_floor("adding", runs) == ([], [])
    md, headline = fd.findings(
        [*runs[:1], *[{**r, "score": 0.0} for r in runs[1:]]], [],
        {"name": "s", "scale": "t", "tasks": ["delayed_xor"], "models": ["lstm", "gru"],
         "reference": "lstm", "steps": [], "claims": []})
    assert "Chance floor: no run leaves chance at L=18" in md
    assert any(h.startswith("delayed_xor: no run leaves chance at L=18") for h in headline)


def test_a_task_without_a_solved_threshold_has_no_horizon_claim():
    mnist = [{**summary(model=m, length=28, task="sequential_mnist", higher=True, test=acc,
                        val=acc), "solved_at": None} for m, acc in (("lstm", 0.9), ("gru", 0.8))]
    md, headline = fd.findings(study_runs() + mnist)
    assert "sequential_mnist: no solved threshold (no horizon); see the leaderboard." in headline
    assert not any(h.startswith("sequential_mnist: no model solves") for h in headline)
    section = md.split("## sequential_mnist", 1)[1]
    assert "has no solved threshold" in section and "horizon bracket" not in section
    assert any(h.startswith("adding: longest horizon lstm") for h in headline)  # others as before


def test_findings_are_in_the_report_and_its_html(tmp_path):
    from memorybench.report.html import make_report
    from memorybench.run import store

    for s in study_runs():
        d = tmp_path / "runs" / s["run_id"].replace(".", "_")
        d.mkdir(parents=True)
        s = {k: v for k, v in s.items() if k not in ("train", "model_params")}
        store.write_json(d / "config.json", {"task": {"name": "adding", "params": {}},
                                             "model": {"name": s["model"], "params": {}},
                                             "train": {"lr": s["lr"], "steps": 100}})
        store.write_json(d / "summary.json", s)
    (tmp_path / "searches").mkdir()
    (tmp_path / "searches" / "adding__lstm__x.json").write_text(json.dumps(
        {"task": "adding", "model": "lstm", "hit_max": False}))
    index = make_report(tmp_path, warn=lambda m: None)
    md = (tmp_path / "report" / "findings.md").read_text()
    assert "## Headline" in md and "lstm_nfg" in md
    page = index.read_text()
    assert "<h2>Findings</h2>" in page and "horizon lost" in page
    hor = (tmp_path / "report" / "horizon.csv").read_text()
    assert "smallest_failed" in hor.splitlines()[0]
    assert (tmp_path / "report" / "leaderboard_all_rates.csv").exists()


# -- resume -------------------------------------------------------------------------------------
TINY = {"train.steps": 20, "train.eval_every": 10, "train.batch_size": 8, "train.n_train": 64,
        "train.n_val": 16, "train.n_test": 16, "train.eval_batch_size": 16, "model.units": 4}


def test_a_rate_grid_and_a_horizon_search_resume_without_redoing_runs(tmp_path):
    from memorybench.run.horizon import horizon_search
    from memorybench.run.sweep import sweep
    from memorybench.settings import expand, layered

    settings = layered("smoke", options={"tasks": "adding", "models": "gru",
                                         "lrs": "0.01,0.03"}, sets=TINY)
    searches = horizon_search(settings, base=3, max_length=6, out_dir=tmp_path)
    (x,) = searches
    first = x.probes[3]
    assert len(first["run_ids"]) == 2 and first["lr"] in (0.01, 0.03)
    record = json.loads(next((tmp_path / "searches").glob("adding__gru__*.json")).read_text())
    assert record["probes"]["3"]["run_ids"] == first["run_ids"]
    # the same search again: every probed run is found complete, nothing is trained
    again = horizon_search(settings, base=3, max_length=6, out_dir=tmp_path)
    assert again[0].probes == x.probes
    plan = expand({**settings, "adding.lengths": sorted(x.probes)})
    result = sweep(plan.configs, tmp_path)
    assert all(r.skipped for r in result.results) and len(result.results) == 2 * len(x.probes)


def test_early_stop_waits_for_the_margin_beyond_the_threshold():
    from memorybench.run.train import beyond_margin
    from memorybench.tasks import get_task

    mse = get_task("adding", length=5).spec  # solved at MSE <= 0.01
    acc = get_task("delayed_xor", length=5).spec  # solved at accuracy >= 0.99
    assert beyond_margin(mse, 0.0099, 0.0) and not beyond_margin(mse, 0.0099, 0.5)
    assert beyond_margin(mse, 0.005, 0.5)
    assert not beyond_margin(acc, 0.994, 0.5) and beyond_margin(acc, 0.995, 0.5)


def test_names_from_results_are_escaped_in_every_line_of_the_findings():
    evil_model = "<img src=x onerror=alert(1)>`*[a](http://x)\x1b]8;;http://x\x07\r\n## fake"
    evil_task = "adding\n# injected <b>"
    runs = [{**r, "model": evil_model if r["model"] == "lstm_nfg" else r["model"],
             "task": evil_task} for r in study_runs()]
    study = {"name": "why <script>", "scale": "t\r\nx", "description": "d <b>bold</b> `code`",
             "tasks": [evil_task], "models": ["lstm", evil_model, "simple_rnn"],
             "reference": "lstm", "steps": [{"from": evil_model, "to": "lstm", "what": "<i>"}],
             "claims": [], "not_searched": {"<t>": "why\n## not"}}
    md, headline = fd.findings(runs, [], study)
    for text in (md, "\n".join(headline)):
        assert "<img" not in text and "<script>" not in text and "<b>" not in text
        assert "\x1b" not in text and "\r" not in text and "\x07" not in text
        assert "](http" not in text and "<i>" not in text
    lines = md.splitlines()
    # no line starts a heading that the findings did not write, nor a table row out of a name
    assert not any(line.startswith("## fake") or line.startswith("# injected") for line in lines)
    assert sum(line.startswith("# ") for line in lines) == 1
    assert any(h.startswith("adding # injected &lt;b&gt;: ") for h in headline), headline
    from memorybench.report.html import markdown_html

    page = markdown_html(md)
    assert "<img" not in page and "<script>" not in page and "&lt;img src=x" in page


# -- a failure is not "not solved" ----------------------------------------------------------
def test_a_failed_run_makes_its_length_not_measured_and_stops_the_search():
    ok = [summary(length=20, seed=s, lr=0.01, solved=True, val=0.001) for s in (0, 1, 2)]
    crashed = [{**summary(length=20, seed=s, lr=0.03, status="failed"),
                "reason": "RuntimeError: boom\nline two"} for s in (0, 1)]
    out = outcome(ok + crashed + [summary(length=20, seed=2, lr=0.03, val=0.2)])
    assert out["not_measured"] == "2 of 6 runs failed (RuntimeError: boom line two)"
    diverged = [summary(length=20, seed=s, lr=0.01, status="diverged", val=None)
                for s in (0, 1)] + [summary(length=20, seed=2, lr=0.01, val=0.2)]
    assert outcome(diverged)["not_measured"].startswith(
        "2 of 3 seeds diverged at the chosen rate 0.01")
    assert "not_measured" not in outcome(ok)
    x = Search("adding", "lstm", base=10, max_length=40)
    x.take(10, {"solved": True})
    x.take(20, {"solved": False, "not_measured": "2 of 6 runs failed (boom)"})
    assert x.next_length is None and (x.lo, x.hi) == (10, None)
    assert x.problem == "L=20: 2 of 6 runs failed (boom)"
    assert x.to_dict()["not_measured"] == x.problem


def test_the_report_says_not_measured_where_a_search_stopped_at_a_failure():
    runs = [summary(length=10, seed=s, solved=True, val=0.001) for s in (0, 1, 2)]
    runs += [summary(length=20, seed=s, status="failed") for s in (0, 1, 2)]
    row = lb.horizons(runs).to_dict("records")[0]
    assert row["horizon"] == 10 and fm.missing(row["smallest_failed"])
    assert row["not_measured"] == "L=20: 3 of 3 seeds failed at lr 0.01" and not row["hit_max"]
    assert fm.bracket_of(row) == "[10, ?) not measured at L=20: 3 of 3 seeds failed at lr 0.01"
    md, headline = fd.findings(runs, [], {"name": "s", "scale": "t", "tasks": ["adding"],
                                          "models": ["lstm"], "reference": "lstm"})
    assert headline[0] == ("adding: longest horizon lstm, solves L=10, is not measured at L=20: "
                           "3 of 3 seeds failed at lr 0.01 (--retry-failed runs it again).")
    assert "| 1 | lstm | [10, ?) not measured at L=20: 3 of 3 seeds failed at lr 0.01 |" in md
    assert "[10, -)" not in md and "not L=20" not in md
    # a failure above a measured failure leaves the bracket as it is
    runs2 = runs[:3] + [summary(length=20, seed=s, val=0.2) for s in (0, 1, 2)] + [
        summary(length=40, seed=s, status="failed") for s in (0, 1, 2)]
    row = lb.horizons(runs2).to_dict("records")[0]
    assert (row["horizon"], row["smallest_failed"], row["not_measured"]) == (10, 20, None)


def test_horizon_exits_1_on_a_failed_length_and_retry_failed_runs_it_again(tmp_path, capsys):
    from pathlib import Path

    from memorybench.cli import main
    from memorybench.run import store

    plugin = Path(__file__).parent / "plugins" / "faulty.py"
    args = ["horizon", "--tasks", "adding", "--models", "test_raise", "--plugin", str(plugin),
            "--base-length", "3", "--max-length", "6", "--seeds", "1", "--profile", "smoke",
            "--out", str(tmp_path), *[f"--set={k}={v}" for k, v in TINY.items()]]
    with pytest.raises(SystemExit) as exc:
        main(args)
    out = " ".join(capsys.readouterr().out.split())  # the console wraps long lines
    assert exc.value.code == 1 and "not measured at L=3: 1 of 1 runs failed" in out
    assert "--retry-failed" in out
    record = json.loads(next((tmp_path / "searches").glob("*.json")).read_text())
    assert record["not_measured"].startswith("L=3: 1 of 1 runs failed (")
    assert sorted(record["probes"]) == ["3"]  # the search stopped there
    (rid,) = record["probes"]["3"]["run_ids"]
    first = json.loads((store.run_dir(tmp_path, rid) / "summary.json").read_text())
    with pytest.raises(SystemExit) as exc:
        main([*args, "--retry-failed"])
    assert exc.value.code == 1
    again = json.loads((store.run_dir(tmp_path, rid) / "summary.json").read_text())
    assert again["started_at"] >= first["started_at"] and again != first  # run again


@pytest.mark.parametrize("command", [["study", "why-lstm", "--scale", "demo"],
                                     ["reproduce", "bai2018"]])
def test_workers_0_is_refused_not_read_as_the_default(tmp_path, capsys, command):
    from memorybench.cli import main

    with pytest.raises(SystemExit) as exc:
        main([*command, "--workers", "0", "--dry-run", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.count("\n") == 1 and "workers" in err
    assert not (tmp_path / "o").exists()


def test_every_command_names_its_results_folder_out_and_its_tasks_tasks():
    import click

    from memorybench.cli import app

    def commands(group):
        for name, cmd in group.commands.items():
            if isinstance(cmd, click.Group):
                yield from commands(cmd)
            else:
                yield name, cmd

    folders = 0
    for name, cmd in commands(app):
        for p in cmd.params:
            if p.name in ("out", "results"):
                folders += 1
                assert "--out" in p.opts, (name, p.opts)
            if p.name in ("task_names", "tasks"):
                assert "--tasks" in p.opts, (name, p.opts)
    assert folders >= 7  # run, horizon, study, reproduce, gradflow, report, show
