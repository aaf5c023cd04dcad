"""Paper metrics: the adding variant of Hochreiter & Schmidhuber 1997 and copy memory's
cross-entropy over all T+20 steps (Bai et al. 2018), and where runs record them."""

import math

import numpy as np
import pytest

import memorybench as mb
from memorybench.errors import ConfigError
from memorybench.tasks.adding import fraction_correct, hs_chance
from memorybench.tasks.base import is_solved

HS = {"variant": "hochreiter1997"}


def hs_task(length=20):
    return mb.get_task("adding", length=length, **HS)


# -- the card --------------------------------------------------------------------------------
def test_spec_matches_the_card():
    spec = hs_task(20).spec
    assert (spec.metric, spec.higher_is_better, spec.solved_at) == ("fraction_correct", True, 0.99)
    assert (spec.output, spec.loss, spec.input_dim, spec.steps) == ("regression", "mse", 2, 20)
    # chance = 0.1536 + 0.0064 p0, p0 = 1/10 + 9/10 / (T/2 - 1)   (the card's numbers)
    assert spec.chance == pytest.approx(0.15488, abs=1e-12)
    assert hs_task(100).spec.chance == pytest.approx(0.1536 + 0.0064 * (0.1 + 0.9 / 49))
    assert round(hs_task(100).spec.chance, 5) == 0.15436
    assert is_solved(spec, 0.99) and not is_solved(spec, 0.99 - 1e-6)


def test_chance_is_the_exact_integral():
    # P(|X1 + X2| < a) for X1, X2 ~ U[-1, 1] is a - a^2/4; P(|U| < a) = a
    a = 0.16
    for T in (20, 50, 1000):
        p0 = 0.1 + 0.9 / (T // 2 - 1)
        assert hs_chance(T) == pytest.approx((1 - p0) * (a - a * a / 4) + p0 * a, abs=1e-15)


# -- oracles ---------------------------------------------------------------------------------
def test_trivial_predictor_scores_the_chance_of_the_card():
    task = hs_task(20)
    n = 200_000
    _, y = task.data("test", n=n, seed=0)
    ev = task.evaluate(y, np.full_like(y, 0.5))
    chance = task.spec.chance
    tol = 5 * math.sqrt(chance * (1 - chance) / n)  # five binomial standard deviations
    assert abs(ev["metric"] - chance) < tol
    assert abs(ev["score"]) < tol / (1 - chance)
    assert ev["solved"] is False
    assert ev["paper_metrics"] == {"fraction_correct": ev["metric"]}
    # 0.5 is the best constant: a shifted constant scores less
    assert task.evaluate(y, np.full_like(y, 0.6))["metric"] < ev["metric"]


def test_perfect_predictor_scores_one_and_solves():
    task = hs_task(30)
    _, y = task.data("test", n=2000, seed=1)
    ev = task.evaluate(y, y.copy())
    assert (ev["metric"], ev["score"], ev["solved"], ev["loss"]) == (1.0, 1.0, True, 0.0)


def test_fraction_correct_counts_errors_below_0_04():
    y = np.array([[0.5], [0.5], [0.5], [0.5]])
    pred = np.array([[0.5], [0.539], [0.45], [0.3]])  # errors 0, 0.039, 0.05, 0.2
    assert fraction_correct(y, pred) == 0.5
    ev = hs_task().evaluate(y, pred.reshape(4))  # flat predictions are accepted
    assert ev["metric"] == 0.5
    assert ev["loss"] == pytest.approx(np.mean([0, 0.039**2, 0.05**2, 0.2**2]))


# -- the generator ---------------------------------------------------------------------------
def test_layout_follows_experiment_4():
    T = 40
    task = hs_task(T)
    x, y = task.data("train", n=20_000, seed=3)
    assert x.shape == (20_000, T, 2) and y.shape == (20_000, 1)
    assert x.dtype == y.dtype == np.float32
    vals, marks = x[..., 0], x[..., 1]
    assert vals.min() >= -1 and vals.max() < 1 and vals.mean() == pytest.approx(0, abs=0.01)
    ones = marks == 1
    assert np.all(ones.sum(1) == 2)
    pos = np.sort(np.nonzero(ones)[1].reshape(-1, 2), axis=1)
    first_in_ten = (pos < 10).any(1)
    assert first_in_ten.all()  # one marker on the first 10 steps
    assert np.all(pos[:, 1] < T // 2)  # the other on the first T/2 - 1 other steps: first half
    assert np.all(np.isin(marks, (-1.0, 0.0, 1.0)))
    # -1 on the first and the last step unless marked; 0 everywhere else
    assert np.all(marks[:, -1] == -1)
    assert np.all((marks[:, 0] == -1) | (marks[:, 0] == 1))
    assert np.all(marks[:, 1:-1] >= 0)
    # a marked first step carries the value 0
    first_marked = marks[:, 0] == 1
    assert first_marked.any() and np.all(vals[first_marked, 0] == 0)
    # p0 = 1/10 + 9/10 / (T/2 - 1)
    assert first_marked.mean() == pytest.approx(0.1 + 0.9 / (T // 2 - 1), abs=0.01)
    # target 0.5 + (X1 + X2) / 4, in [0, 1]
    x1x2 = (vals * ones).sum(1)
    np.testing.assert_allclose(y[:, 0], 0.5 + x1x2 / 4, atol=1e-6)
    assert y.min() >= 0 and y.max() <= 1


def test_determinism_and_disjoint_splits():
    task = hs_task(24)
    state = np.random.get_state()
    a = task.data("train", n=64, seed=11)
    assert np.random.get_state()[1].tolist() == state[1].tolist()  # global RNG untouched
    b = task.data("train", n=64, seed=11)
    assert all(np.array_equal(u, v) for u, v in zip(a, b, strict=True))
    assert not np.array_equal(a[0], task.data("train", n=64, seed=12)[0])
    splits = [task.data(s, n=64, seed=11)[0] for s in ("train", "val", "test")]
    assert not np.array_equal(splits[0], splits[1]) and not np.array_equal(splits[1], splits[2])
    c = task.sample(np.random.default_rng(5), 8)
    d = task.sample(np.random.default_rng(5), 8)
    assert all(np.array_equal(u, v) for u, v in zip(c, d, strict=True))


def test_too_short_is_a_config_error_naming_the_minimum():
    with pytest.raises(ConfigError, match="hochreiter1997 needs length >= 20.*got 19"):
        hs_task(19)
    with pytest.raises(ConfigError, match="half, anywhere, hochreiter1997"):
        mb.get_task("adding", variant="hs")


def test_other_adding_variants_are_unchanged():
    task = mb.get_task("adding", length=20)
    _, y = task.data("test", n=100, seed=0)
    ev = task.evaluate(y, y)
    assert task.spec.metric == "mse" and "paper_metrics" not in ev


# -- copy memory: cross-entropy over all T+20 steps ------------------------------------------
@pytest.mark.parametrize("length", [5, 30])
def test_copy_ce_all_steps_of_the_trivial_predictor_is_10_ln8_over_T_plus_20(length):
    task = mb.get_task("copy_memory", length=length)
    _, y = task.data("test", n=64, seed=0)
    probs = np.zeros(y.shape + (9,), np.float32)
    probs[..., 0] = 1
    probs[:, -10:] = 0
    probs[:, -10:, 1:] = 1 / 8
    ev = task.evaluate(y, probs)
    assert ev["paper_metrics"]["ce_all_steps"] == pytest.approx(10 * math.log(8) / (length + 20))
    assert ev["paper_metrics"]["ce_all_steps"] == ev["loss"]
    assert ev["metric"] == pytest.approx(1 / 8, abs=0.05)


def test_copy_ce_all_steps_needs_probabilities():
    task = mb.get_task("copy_memory", length=5)
    _, y = task.data("test", n=8, seed=0)
    perfect = np.eye(9, dtype=np.float32)[y]
    assert task.evaluate(y, perfect)["paper_metrics"]["ce_all_steps"] == pytest.approx(0, abs=1e-9)
    assert task.evaluate(y, y)["paper_metrics"] == {}  # labels: no cross-entropy


# -- where runs record them ------------------------------------------------------------------
def test_summary_schema_documents_paper_metrics():
    from memorybench.run import store

    doc = store.__doc__
    section = doc[doc.index("``summary.json``"):doc.index("Optional:")]
    assert '"paper_metrics": {name: float}' in section


@pytest.mark.slow
def test_a_run_records_paper_metrics_in_its_summary(tmp_path):
    cfg = mb.RunConfig(
        mb.TaskConfig("copy_memory", {"length": 3}), mb.ModelConfig("gru", units=8),
        mb.TrainConfig(steps=4, batch_size=8, eval_every=2, n_train=32, n_val=16, n_test=16),
        seed=0,
    )
    res = mb.run(cfg, out_dir=tmp_path)
    assert res.status == "completed", res.summary.get("reason")
    pm = res.summary["paper_metrics"]
    assert set(pm) == {"ce_all_steps"} and pm["ce_all_steps"] == res.summary["test_loss"]
