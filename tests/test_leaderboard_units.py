"""Unit tests of the leaderboard aggregation on hand-made run summaries (no training; fast).

Each number a leaderboard or horizon table shows is checked against its definition in the
module docstring of ``memorybench.report.leaderboard``: means and sample std over seeds,
failed and diverged seeds counted as not solved, medians over solved seeds, the learning rate
chosen on validation, the ranking and its tie-breaks, and the majority rule of the horizon.
These also keep ``make mutate`` honest (docs/mutation.md).
"""

from __future__ import annotations

import hashlib
import json
import math
import statistics
from pathlib import Path

import pandas as pd
import pytest

from memorybench.report import eval_lengths, load
from memorybench.report import format as fm
from memorybench.report import leaderboard as lb
from memorybench.run import store


def run(model="lstm", seed=0, length=10, task="adding", **kw) -> dict:
    """One run summary as ``load_runs`` returns it (defaults: a solved, completed MSE run)."""
    r = dict(task=task, length=length, task_params={"length": length}, dataset="synthetic",
             model=model, units=8, layers=1, seed=seed, metric="mse", higher_is_better=False,
             chance=1 / 6, solved_at=0.01, status="completed", test_metric=0.005, score=0.97,
             solved=True, steps_to_solve=100, seconds_to_solve=1.0, params=1000,
             throughput=50.0, val_metric=0.005, lr=0.01, train="t1", model_params="")
    r.update(kw)
    return r


# -- the aggregates of one entry ---------------------------------------------------------------
def test_aggregates_follow_their_definitions():
    runs = [
        run(seed=0, test_metric=0.1, score=0.4, steps_to_solve=100, seconds_to_solve=10.0,
            params=1000, throughput=50.0, val_metric=0.2),
        run(seed=1, test_metric=0.3, score=0.8, steps_to_solve=300, seconds_to_solve=30.0,
            params=1001, throughput=70.0, val_metric=0.4),
        run(seed=2, status="diverged", test_metric=float("nan"), score=None, solved=False,
            steps_to_solve=None, seconds_to_solve=None, params=1001, throughput=None,
            val_metric=None),
        run(seed=3, status="failed", test_metric=None, score=float("inf"), solved=None,
            steps_to_solve=None, seconds_to_solve=None, params=None, throughput=float("inf"),
            val_metric=float("nan")),
        # not solved: its steps / seconds to solve must not enter the medians
        run(seed=4, test_metric=0.2, score=0.6, solved=False, steps_to_solve=7,
            seconds_to_solve=0.5, params=1000, throughput=60.0, val_metric=0.3),
    ]
    (row,) = lb.aggregate(runs)
    assert row["metric_mean"] == pytest.approx(0.2)
    assert row["metric_std"] == pytest.approx(statistics.stdev([0.1, 0.3, 0.2]))  # ddof=1
    assert row["metric_std"] == pytest.approx(0.1)
    assert row["score_mean"] == pytest.approx(0.6)
    assert row["solved_frac"] == pytest.approx(2 / 5)  # failed and diverged count as unsolved
    assert row["steps_to_solve_median"] == 200
    assert row["seconds_to_solve_median"] == 20.0
    assert row["throughput"] == pytest.approx(60.0)
    assert row["val_metric_mean"] == pytest.approx(0.3)
    assert row["params"] == 1000 and isinstance(row["params"], int)  # median 1000.5, as int
    assert (row["n_seeds"], row["n_failed"], row["n_diverged"]) == (5, 1, 1)
    assert (row["metric"], row["higher_is_better"]) == ("mse", False)
    assert (row["solved_at"], row["chance"]) == (0.01, pytest.approx(1 / 6))
    assert {k: row[k] for k in load.ENTRY_KEY} == dict(
        dataset="synthetic", task="adding", variant="", length=10, train="t1", model="lstm",
        units=8, layers=1, model_params="", lr=0.01)


@pytest.mark.parametrize("order", [(0, 1, 2), (2, 1, 0), (1, 2, 0)])
def test_every_mean_counts_every_seed_whatever_their_order(order):
    """Asymmetric values (0.1, 0.2, 0.9): a mean that drops the first or the last seed, or
    any one seed, gives another number (0.15, 0.5 or 0.55 instead of 0.4), in any order of the
    runs; so does a median or a std over fewer seeds."""
    base = [dict(seed=0, test_metric=0.1, score=0.0, throughput=10.0, val_metric=0.1,
                 paper_metrics={"fraction_correct": 0.1}, params=100, steps_to_solve=10,
                 seconds_to_solve=1.0,
                 eval_lengths={"8": {"metric": 0.1, "score": 0.0, "solved": False}}),
            dict(seed=1, test_metric=0.2, score=0.3, throughput=20.0, val_metric=0.2,
                 paper_metrics={"fraction_correct": 0.2}, params=200, steps_to_solve=20,
                 seconds_to_solve=2.0,
                 eval_lengths={"8": {"metric": 0.2, "score": 0.3, "solved": True}}),
            dict(seed=2, test_metric=0.9, score=0.9, throughput=90.0, val_metric=0.9,
                 paper_metrics={"fraction_correct": 0.9}, params=900, steps_to_solve=90,
                 seconds_to_solve=9.0,
                 eval_lengths={"8": {"metric": 0.9, "score": 0.9, "solved": True}})]
    runs = [run(**base[i]) for i in order]
    (row,) = lb.aggregate(runs)
    assert row["metric_mean"] == pytest.approx(0.4)
    assert row["metric_std"] == pytest.approx(statistics.stdev([0.1, 0.2, 0.9]))
    assert row["score_mean"] == pytest.approx(0.4)
    assert row["throughput"] == pytest.approx(40.0)
    assert row["val_metric_mean"] == pytest.approx(0.4)
    assert row["paper_metrics_mean"] == {"fraction_correct": pytest.approx(0.4)}
    assert row["params"] == 200 and row["steps_to_solve_median"] == 20
    assert row["seconds_to_solve_median"] == 2.0 and row["n_seeds"] == 3
    (by_len,) = eval_lengths.eval_length_table(runs).to_dict("records")
    assert by_len["metric_mean"] == pytest.approx(0.4)
    assert by_len["score_mean"] == pytest.approx(0.4)
    assert by_len["solved_frac"] == pytest.approx(2 / 3) and by_len["n_seeds"] == 3


def test_two_seeds_have_a_std_and_the_row_carries_what_the_published_numbers_need():
    runs = [run(seed=0, test_metric=1.0, paper_metrics={"ce_all_steps": 0.5, "x": "n/a"},
                task_params={"length": 10, "variant": "half"}, train_settings={"steps": 9},
                reproduces={"task": "adding", "length": 600}, scale="1/10"),
            run(seed=1, test_metric=3.0, paper_metrics={"ce_all_steps": 1.5},
                task_params={"length": 10, "variant": "half"})]
    (row,) = lb.aggregate(runs)
    assert row["metric_std"] == pytest.approx(2 ** 0.5)
    assert row["task_params"] == {"length": 10, "variant": "half"}
    assert row["train_settings"] == {"steps": 9}
    assert row["paper_metrics_mean"] == {"ce_all_steps": 1.0}
    assert (row["reproduces"], row["scale"]) == ({"task": "adding", "length": 600}, "1/10")


def test_one_seed_has_no_std_and_nothing_finite_gives_empty_cells():
    (row,) = lb.aggregate([run(test_metric=0.5, params=999)])
    assert row["metric_mean"] == 0.5 and row["metric_std"] is None and row["params"] == 999
    (row,) = lb.aggregate([run(status="failed", test_metric=None, score=None, solved=False,
                               params=None, throughput=None, val_metric=None,
                               solved_at="n/a", chance=None)])
    assert [row[k] for k in ("metric_mean", "metric_std", "score_mean", "params", "throughput",
                             "val_metric_mean", "steps_to_solve_median",
                             "seconds_to_solve_median", "solved_at", "chance")] == [None] * 10
    assert row["solved_frac"] == 0.0 and row["n_failed"] == 1


def test_entries_split_on_every_key_field():
    base = run()
    changes = [dict(dataset="mnist-5k"), dict(task="copy_memory"), dict(length=20),
               dict(task_params={"length": 10, "variant": "half"}), dict(train="t2"),
               dict(model="gru"), dict(units=16), dict(layers=2), dict(model_params='{"a":1}')]
    rows = lb.aggregate([base, *(run(**c) for c in changes)])
    assert len(rows) == 1 + len(changes) and all(r["n_seeds"] == 1 for r in rows)
    # a missing dataset is the synthetic one; a string length is a length
    rows = lb.aggregate([run(seed=0), run(seed=1, dataset=None), run(seed=2, length="10")])
    assert [(r["dataset"], r["length"], r["n_seeds"]) for r in rows] == [("synthetic", 10, 3)]


def test_entry_key_reads_defaults_for_older_summaries():
    r = {"task": "adding", "length": "25", "model": "gru", "lr": "0.01"}
    assert load.entry_key(r) == ("synthetic", "adding", "", 25, "", "gru", None, None, "", 0.01)


def test_variant_is_the_set_task_parameters_but_length_sorted():
    assert load.variant_of({"length": 5, "variant": "half", "bits": 3, "unset": None}) == \
        "bits=3,variant=half"
    assert load.variant_of(None) == "" and load.variant_of({"length": 5}) == ""


def test_train_id_is_a_short_hash_of_the_settings_in_any_key_order():
    a = load.train_id({"steps": 100, "batch_size": 8})
    assert a == load.train_id({"batch_size": 8, "steps": 100})
    assert a == hashlib.sha256(b'{"batch_size":8,"steps":100}').hexdigest()[:8]
    assert load.train_id({"steps": 200, "batch_size": 8}) != a
    assert load.train_id({}) == "" and load.train_id(None) == ""
    assert fm.canon({"p": Path("x")}) == '{"p":"x"}'


# -- the learning rate chosen on validation ------------------------------------------------
def test_each_model_shows_the_rate_it_scores_best_with_on_validation():
    runs = [run(lr=lr, seed=s, val_metric=v + s / 100, test_metric=t)
            for lr, v, t in ((0.001, 0.5, 0.1), (0.01, 0.2, 0.9), (0.1, 0.3, 0.05))
            for s in range(2)]
    rows = {r["lr"]: r for r in lb.aggregate(runs)}
    assert {lr: r["chosen"] for lr, r in rows.items()} == {0.001: False, 0.01: True, 0.1: False}
    assert all(r["lrs"] == "0.001,0.01,0.1" and r["lr_at_edge"] is False for r in rows.values())
    board = lb.leaderboard(runs)
    assert list(board.columns) == lb.LEADERBOARD_COLUMNS
    assert board["lr"].tolist() == [0.01]  # not the best test metric: the test split is unseen
    every = lb.leaderboard(runs, all_rates=True)
    assert list(every.columns) == lb.ALL_RATES_COLUMNS
    assert sorted(every["lr"]) == [0.001, 0.01, 0.1]
    assert every.set_index("lr")["chosen"].to_dict() == {0.001: False, 0.01: True, 0.1: False}


def test_higher_is_better_picks_the_highest_validation_metric_at_the_edge():
    runs = [run(metric="accuracy", higher_is_better=1, lr=lr, val_metric=v)
            for lr, v in ((0.001, 0.6), (0.01, 0.9))]
    rows = {r["lr"]: r for r in lb.aggregate(runs)}
    assert rows[0.01]["chosen"] and not rows[0.001]["chosen"]
    assert rows[0.01]["lr_at_edge"] is True and rows[0.001]["lrs"] == "0.001,0.01"


def test_runs_that_do_not_say_their_rate_are_all_shown():
    rows = lb.aggregate([run(lr=None, val_metric=0.1), run(lr=0.01, val_metric=0.5)])
    assert [(r["lr"], r["chosen"], r["lr_at_edge"], r["lrs"]) for r in rows] == [
        (None, True, False, "0.01"), (0.01, True, False, "0.01")]  # nothing to choose
    (row,) = lb.aggregate([run(lr=0.01)])
    assert (row["chosen"], row["lr_at_edge"], row["lrs"]) == (True, False, "0.01")


# -- ranking ---------------------------------------------------------------------------------
def test_rank_by_score_then_fewer_params_then_name_per_block():
    runs = [
        run(model="a", score=0.5, params=300), run(model="b", score=0.9, params=500),
        run(model="c", score=0.5, params=200), run(model="d", score=None, params=10),
        run(model="e", score=0.5, params=None), run(model="f", score=0.5, params=300),
        run(model="g", score=-0.5, params=1), run(model="h", score=0.0, params=1),
        run(model="a", length=5, score=0.1), run(model="b", length=5, score=0.2),
        run(model="z", score=0.5, params=0),  # a model without weights is the smallest
        run(model="y", score=0.5, params=1),
        run(model="a", task="copy_memory", score=0.1), run(model="b", task="copy_memory"),
    ]
    board = lb.leaderboard(runs)
    order = list(zip(board["task"], board["length"], board["model"], board["rank"],
                     strict=True))
    # length 5 before 10 (numeric, not text order), ranks restart at 1 in each block
    assert order == [("adding", 5, "b", 1), ("adding", 5, "a", 2),
                     ("adding", 10, "b", 1), ("adding", 10, "z", 2), ("adding", 10, "y", 3),
                     ("adding", 10, "c", 4), ("adding", 10, "a", 5), ("adding", 10, "f", 6),
                     ("adding", 10, "e", 7), ("adding", 10, "h", 8), ("adding", 10, "g", 9),
                     ("adding", 10, "d", 10),
                     ("copy_memory", 10, "b", 1), ("copy_memory", 10, "a", 2)]
    # summaries without a training hash beside ones with one: blocks of their own
    board = lb.leaderboard([run(train=None), run(train="t1", model="b")])
    assert board["rank"].tolist() == [1, 1]


def test_rank_ties_on_everything_but_units_order_by_units_text_whatever_the_input_order():
    for units in ((16, 8), (8, 16)):
        rows = lb.rank(lb.aggregate([run(units=u) for u in units]))
        assert [(r["units"], r["rank"]) for r in rows] == [(16, 1), (8, 2)]  # "16" < "8"


def test_leaderboard_keeps_the_training_settings_for_titles():
    runs = [run(train="t1", train_settings={"steps": 100}), run(train="", model="x")]
    assert lb.leaderboard(runs).attrs["train_settings"] == {"t1": {"steps": 100}}


def test_leaderboard_carries_the_scale_of_a_reproduction_and_the_published_numbers():
    assert lb.leaderboard([run()]).attrs["scale"] is None
    board = lb.leaderboard([run(), run(model="gru", scale="1/10 of the steps")])
    assert board.attrs["scale"] == "1/10 of the steps"
    # adding at L=10 matches no published number: the task's reference rows are unmatched
    matched, unmatched = board.attrs["published"]
    assert matched == [] and unmatched and {u["task"] for u in unmatched} == {"adding"}
    assert load.train_settings([run(train="t2")]) == {"t2": {}}


# -- memory horizon --------------------------------------------------------------------------
def _at(length, solved, seeds=2, **kw):
    """``seeds`` runs at ``length``, the first ``solved`` of them solved."""
    return [run(length=length, seed=s, solved=s < solved, **kw) for s in range(seeds)]


def test_horizon_is_the_largest_length_a_majority_solves_and_brackets_it():
    runs = [*_at(5, 2), *_at(10, 1), *_at(20, 2), *_at(40, 1, seeds=3), *_at(80, 0)]
    (h,) = lb.horizons(runs).to_dict("records")
    # 10: one seed of two is no majority; a gap below the horizon is shown, not hidden
    assert (h["horizon"], h["smallest_failed"], h["hit_max"]) == (20, 40, False)
    assert (h["lengths"], h["solved_lengths"]) == ("5,10,20,40,80", "5,20")
    assert h["lrs_chosen"] == "5:0.01,10:0.01,20:0.01,40:0.01,80:0.01"
    assert h["n_seeds"] == 3 and h["params"] == 1000
    assert fm.bracket(h["horizon"], h["smallest_failed"], h["hit_max"]) == "[20, 40)"


def test_no_solved_length_brackets_below_the_smallest():
    (h,) = lb.horizons([*_at(20, 0), *_at(10, 1, params=None)]).to_dict("records")
    assert fm.missing(h["horizon"]) and h["smallest_failed"] == 10 and h["solved_lengths"] == ""
    assert h["params"] == 1000 and h["lengths"] == "10,20"
    assert fm.bracket(h["horizon"], h["smallest_failed"]) == "[-, 10)"


def test_a_search_stopped_at_its_maximum_marks_a_lower_bound_only_when_still_solving():
    solving = [*_at(10, 2), *_at(20, 2)]
    searches = [{"task": "adding", "model": "lstm", "hit_max": True}]
    (h,) = lb.horizons(solving, searches).to_dict("records")
    assert h["hit_max"] is True and fm.missing(h["smallest_failed"])
    assert fm.bracket(h["horizon"], h["smallest_failed"], h["hit_max"]) == "[20, -) max"
    (h,) = lb.horizons([*solving, *_at(40, 0)], searches).to_dict("records")
    assert h["hit_max"] is False
    (h,) = lb.horizons(solving, [{"task": "adding", "model": "gru", "hit_max": 1}]) \
        .to_dict("records")
    assert h["hit_max"] is False
    (h,) = lb.horizons(solving, [{"task": "adding", "model": "lstm", "hit_max": 1}]) \
        .to_dict("records")
    assert h["hit_max"] is True


def test_horizon_counts_each_length_at_the_rate_chosen_there():
    # at L=20 the good rate (by validation) solves, the other does not: the horizon is 20
    runs = [*_at(10, 2, lr=0.1, val_metric=0.001), *_at(10, 0, lr=0.01, val_metric=0.5),
            *_at(20, 2, lr=0.01, val_metric=0.001), *_at(20, 0, lr=0.1, val_metric=0.5)]
    (h,) = lb.horizons(runs).to_dict("records")
    assert h["horizon"] == 20 and h["lrs_chosen"] == "10:0.1,20:0.01"


def test_horizons_sort_best_first_and_keep_models_apart():
    runs = [*_at(10, 2, model="a"), *_at(20, 0, model="a"),  # [10, 20)
            *_at(10, 2, model="b"), *_at(40, 0, model="b"),  # [10, 40): failed later
            *_at(10, 2, model="c"), *_at(40, 2, model="c"),  # [40, -)
            *_at(20, 2, model="g"), *_at(30, 0, model="g"),  # [20, 30): above b
            *_at(40, 2, model="k"), *_at(160, 0, model="k"),  # [40, 160): below c
            *_at(1, 2, model="p"), *_at(2, 0, model="p"),  # [1, 2): above d
            *_at(10, 0, model="d"),  # [-, 10)
            *_at(10, 2, model="e", params=900), *_at(20, 0, model="e", params=900),
            *_at(10, 2, model="Z"), *_at(20, 0, model="Z"),  # as a: by name ("Z" < "a")
            *_at(10, 2, model="n", params=None), *_at(20, 0, model="n", params=None),
            *_at(10, 2, model="f", task="copy_memory"),
            *_at(10, 0, model="m", dataset="mnist-5k"),
            *_at(10, 0, model="v", task_params={"length": 10, "variant": "half"}),
            *_at(10, 0, model="t", train="t2")]
    df = lb.horizons(runs)
    assert list(df.columns) == lb.HORIZON_COLUMNS
    assert str(df["horizon"].dtype) == "Int64" and str(df["smallest_failed"].dtype) == "Int64"
    assert [(r["dataset"], r["task"], r["variant"], r["train"], r["model"])
            for r in df.to_dict("records")] == [
        ("mnist-5k", "adding", "", "t1", "m"),
        *[("synthetic", "adding", "", "t1", m)
          for m in ("c", "k", "g", "b", "e", "Z", "a", "n", "p", "d")],
        ("synthetic", "adding", "", "t2", "t"),
        ("synthetic", "adding", "variant=half", "t1", "v"),
        ("synthetic", "copy_memory", "", "t1", "f")]
    assert lb.horizons([]).empty and list(lb.horizons([]).columns) == lb.HORIZON_COLUMNS


def test_a_horizon_row_names_the_model_configuration():
    (h,) = lb.horizons(_at(10, 2, units=32, layers=2, model_params='{"theta":5}')) \
        .to_dict("records")
    assert (h["model"], h["units"], h["layers"], h["model_params"], h["train"]) == (
        "lstm", 32, 2, '{"theta":5}', "t1")
    assert (h["dataset"], h["task"], h["variant"]) == ("synthetic", "adding", "")


def test_horizon_settings_and_empty_cells():
    runs = [*_at(10, 2, train="t1", train_settings={"steps": 5})]
    assert lb.horizons(runs).attrs["train_settings"] == {"t1": {"steps": 5}}
    (h,) = lb.horizons(_at(10, 2, lr=None)).to_dict("records")
    assert h["lrs_chosen"] == ""


def test_bracket_and_missing_values():
    assert fm.bracket(None, None) == "[-, -)"
    assert fm.bracket(float("nan"), 50.0) == "[-, 50)"
    assert fm.bracket(pd.NA, 25, hit_max=False) == "[-, 25)"
    assert [fm.missing(v) for v in (None, pd.NA, math.nan, 0, 0.0, "")] == [
        True, True, True, False, False, False]


# -- loading runs from the store -------------------------------------------------------------
def _write_run(root: Path, rid: str, summary: dict, config=None) -> Path:
    d = store.run_dir(root, rid)
    d.mkdir(parents=True)
    store.write_json(d / store.SUMMARY, summary)
    if config is not None:
        (d / store.CONFIG).write_text(config if isinstance(config, str) else json.dumps(config))
    return d


def test_load_runs_adds_the_training_hash_without_the_rate_and_the_model_params(tmp_path):
    base = dict(status="completed", task="adding", model="lstm", length=5)
    train = {"steps": 100, "lr": 0.01, "batch_size": 8}
    _write_run(tmp_path, "a", base, {"train": train, "model": {"params": {"b": 1, "a": [2]}}})
    _write_run(tmp_path, "b", {**base, "lr": 0.5}, {"train": {**train, "lr": 0.1}})
    _write_run(tmp_path, "c", base)  # no config.json
    _write_run(tmp_path, "d", base, "[1, 2]")  # a config that is not an object
    _write_run(tmp_path, "e", base, {"train": None, "model": None})
    _write_run(tmp_path, "f", base, "{")  # unreadable config
    _write_run(tmp_path, "h", base, {"train": [1], "model": {"params": [1]}})  # wrong shapes
    _write_run(tmp_path, "i", base, {"model": "lstm"})
    (tmp_path / "runs" / "g").mkdir()  # running
    runs = {Path(r["run_dir"]).name: r for r in load.load_runs(tmp_path, warn=pytest.fail)}
    assert sorted(runs) == ["a", "b", "c", "d", "e", "f", "h", "i"]
    no_lr = {"steps": 100, "batch_size": 8}
    assert runs["a"]["train"] == runs["b"]["train"] == load.train_id(no_lr)  # rates compared
    assert runs["a"]["train_settings"] == runs["b"]["train_settings"] == no_lr
    assert (runs["a"]["lr"], runs["b"]["lr"]) == (0.01, 0.5)  # the summary's rate wins
    assert runs["a"]["model_params"] == '{"a":[2],"b":1}' and runs["b"]["model_params"] == ""
    for k in "cdefhi":
        assert (runs[k]["train"], runs[k]["train_settings"], runs[k]["model_params"],
                runs[k]["lr"]) == ("", {}, "", None)


def test_load_runs_warns_about_a_corrupt_summary_naming_it(tmp_path):
    _write_run(tmp_path, "ok", dict(status="completed", task="adding", model="lstm", length=5))
    d = store.run_dir(tmp_path, "bad")
    d.mkdir()
    (d / store.SUMMARY).write_text('{"status": ')
    with pytest.warns(UserWarning, match="skipping run bad: .*summary.json: unreadable"):
        runs = load.load_runs(tmp_path)
    assert [Path(r["run_dir"]).name for r in runs] == ["ok"]
    notes: list[str] = []
    assert len(load.load_runs(tmp_path, warn=notes.append)) == 1
    assert len(notes) == 1 and notes[0].startswith("skipping run bad: ")


def test_load_runs_marks_the_runs_of_a_reproduction_with_its_scale(tmp_path):
    base = dict(status="completed", task="adding", model="lstm", length=60)
    _write_run(tmp_path, "r1", {**base, "run_id": "r1"})
    _write_run(tmp_path, "r2", {**base, "run_id": "r2", "seed": 1})
    stands = {"task": "adding", "length": 600}
    (tmp_path / "reproduce.json").write_text(json.dumps(
        {"scale": "cpu", "scale_words": "1/10 of the length", "runs": {"r1": stands}}))
    runs = {r["run_id"]: r for r in load.load_runs(tmp_path, warn=pytest.fail)}
    assert (runs["r1"]["reproduces"], runs["r1"]["scale"]) == (stands, "1/10 of the length")
    assert "reproduces" not in runs["r2"]
    (tmp_path / "reproduce.json").write_text("{")
    notes: list[str] = []
    assert len(load.load_runs(tmp_path, warn=notes.append)) == 2
    assert len(notes) == 1 and "reproduce.json: not a reproduction record" in notes[0]
