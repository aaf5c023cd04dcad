"""The study's statistics from fixture summaries (no training): each seed's bracket, the median's
exact interval, the Mann-Whitney verdict, and time to solve (Kaplan-Meier, log-rank)."""

from __future__ import annotations

import pytest

from memorybench.report import survival as sv
from memorybench.report import verdict as vd


def run(model="lstm", length=10, seed=0, solved=False, lr=0.01, val=None, steps_to_solve=None,
        status="completed", steps=1000, task="adding"):
    return {
        "run_id": f"{task}-{model}-{length}-{lr}-{seed}", "status": status, "task": task,
        "length": length, "task_params": {"length": length}, "dataset": "synthetic",
        "model": model, "units": 8, "layers": 1, "seed": seed, "metric": "mse",
        "higher_is_better": False, "solved_at": 0.01, "chance": 1 / 6,
        "test_metric": 0.005 if solved else 0.1, "solved": solved,
        "val_metric": val if val is not None else (0.005 if solved else 0.1), "lr": lr,
        "params": 100, "train": "t", "model_params": "", "steps": steps,
        "steps_to_solve": steps_to_solve if steps_to_solve is not None else (
            500 if solved else None),
    }


def searched(model, solved_up_to: dict[int, int], lengths=(10, 20, 40), **kw):
    """Runs of ``model``: seed s solves every length <= solved_up_to[s]."""
    return [run(model, L, s, solved=L <= top, **kw) for s, top in solved_up_to.items()
            for L in lengths]


# -- a seed's bracket, the median and its interval ----------------------------------------------
def test_each_seed_gets_its_own_bracket_and_a_censored_seed_is_marked():
    runs = searched("lstm", {0: 10, 1: 20, 2: 40, 3: 0, 4: 20})
    sh = vd.seed_horizons(runs)[("adding", "lstm")]
    assert sh.brackets == {0: (10, 20), 1: (20, 40), 2: (40, None), 3: (0, 10), 4: (20, 40)}
    assert sh.values == [0, 10, 20, 20, 40] and sh.median == 20 and sh.censored == 1
    assert vd.per_seed(sh) == "none, 10, 20, 20, 40+"


def test_a_seed_that_fails_a_shorter_length_keeps_the_bracket_below_it():
    # solves 10 and 40 but not 20: its horizon is 10 (the largest solved below its first failure)
    runs = [run("lstm", 10, 0, True), run("lstm", 20, 0, False), run("lstm", 40, 0, True)]
    assert vd.seed_horizons(runs)[("adding", "lstm")].brackets == {0: (10, 20)}


def test_only_the_chosen_rate_counts():
    # lr 0.003 solves everything but has the worse validation score: it is not chosen
    good = [run("lstm", 10, s, solved=False, lr=0.01, val=0.02) for s in range(3)]
    bad = [run("lstm", 10, s, solved=True, lr=0.003, val=0.05) for s in range(3)]
    assert vd.seed_horizons(good + bad)[("adding", "lstm")].values == [0, 0, 0]


@pytest.mark.parametrize("n,j,cov", [(5, 1, 0.9375), (10, 2, 0.978515625), (2, 1, 0.5)])
def test_the_median_interval_is_the_exact_order_statistic_one(n, j, cov):
    lo, hi, c = vd.median_interval(list(range(1, n + 1)))
    assert (lo, hi) == (j, n + 1 - j) and c == pytest.approx(cov)
    # and it is the narrowest with coverage >= CONFIDENCE where one exists
    if n >= 5:
        assert vd.coverage(n, j + 1) < vd.CONFIDENCE <= c


# -- the test --------------------------------------------------------------------------------
def sh_of(values: list[int], model="m") -> vd.SeedHorizons:
    return vd.SeedHorizons("adding", model, {s: (v, v * 2) for s, v in enumerate(values)})


def test_five_seeds_apart_are_significant_two_are_not():
    c = vd.contrast(sh_of([10] * 5, "lstm_nfg"), sh_of([40] * 5, "lstm"))
    assert c.verdict == "lost" and c.p == pytest.approx(2 / 252)
    assert c.words() == "lost (p = 0.0079)"
    assert vd.contrast(sh_of([40] * 5), sh_of([10] * 5)).verdict == "gained"
    two = vd.contrast(sh_of([10, 10]), sh_of([40, 40]))
    assert two.verdict == "not distinguishable" and two.p == pytest.approx(1 / 3)
    assert two.words() == "not distinguishable at this budget (p = 0.33)"


def test_ties_and_overlap_are_not_distinguishable_and_never_kept():
    tied = vd.contrast(sh_of([40] * 5), sh_of([40] * 5))
    assert tied.verdict == "not distinguishable" and tied.p == 1.0
    overlap = vd.contrast(sh_of([10, 20, 40, 40, 40]), sh_of([20, 40, 40, 40, 40]))
    assert overlap.verdict == "not distinguishable" and 0.05 < overlap.p <= 1
    assert vd.contrast(None, sh_of([1])).verdict == "not measured"
    assert "kept" not in {tied.verdict, overlap.verdict}


def test_the_exact_p_matches_a_hand_count():
    # 5 vs 5, one value apart: ranks 1..10, the smaller side holds ranks {1,2,3,4,6}; U = 1.
    # P(U <= 1) = 2/252 (U=0: 1 arrangement, U=1: 1), two-sided: 4/252
    c = vd.contrast(sh_of([1, 2, 3, 4, 6]), sh_of([5, 7, 8, 9, 10]))
    assert c.p == pytest.approx(4 / 252)


# -- time to solve ---------------------------------------------------------------------------
def test_unsolved_runs_are_censored_at_the_budget_and_failed_ones_left_out():
    runs = [run("gru", 50, s, solved=True, steps_to_solve=st) for s, st in
            enumerate((300, 300, 400))]
    runs += [run("gru", 50, 3, solved=False, steps=1000),
             run("gru", 50, 4, status="failed")]
    t = sv.times(runs)[("adding", "gru", 50)]
    assert t.solved_at == (300, 300, 400) and t.censored_at == (1000,) and t.failed == 1
    steps, frac = t.curve()
    assert steps == [0.0, 300.0, 400.0, 1000.0] and frac == pytest.approx([1, 0.5, 0.25, 0.25])
    assert t.median() == 300


def test_the_log_rank_test_separates_fast_from_slow_and_says_when_nobody_solves():
    fast = [run("gru", 50, s, solved=True, steps_to_solve=200) for s in range(5)]
    slow = [run("lstm", 50, s, solved=True, steps_to_solve=900) for s in range(5)]
    never = [run("cec", 50, s, solved=False) for s in range(5)]
    never2 = [run("ungated", 50, s, solved=False) for s in range(5)]
    t = sv.times(fast + slow + never + never2)
    p = sv.logrank_p(t[("adding", "gru", 50)], t[("adding", "lstm", 50)])
    assert p < 0.01
    assert sv.logrank_p(t[("adding", "cec", 50)], t[("adding", "ungated", 50)]) is None
    assert t[("adding", "cec", 50)].median() is None  # fewer than half solve


def test_a_task_without_a_threshold_has_no_time_to_solve():
    runs = [{**run("lstm", 28, s, task="sequential_mnist"), "solved_at": None}
            for s in range(2)]
    assert sv.times(runs) == {}


def test_a_compressed_history_is_read_like_a_plain_one(tmp_path):
    import gzip

    from memorybench.run import store

    rows = [{"step": 100, "seconds": 1.0, "train_loss": 0.5, "val_loss": 0.4, "val_metric": 0.3,
             "val_score": 0.2}]
    plain, packed = tmp_path / "a", tmp_path / "b"
    plain.mkdir()
    packed.mkdir()
    store.write_csv(plain / store.HISTORY, rows)
    with gzip.open(packed / (store.HISTORY + ".gz"), "wt") as f:
        f.write((plain / store.HISTORY).read_text())
    assert store.load_history(packed) == store.load_history(plain) == [
        {k: float(v) for k, v in rows[0].items()}]
    assert store.load_history(tmp_path) == []
