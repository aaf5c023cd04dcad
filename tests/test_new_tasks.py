"""The tasks of issue 13: selective copying, MQAR, induction heads, temporal order.

Per task: the card's spec; oracles (the trivial predictor scores exactly the card's chance, a
perfect predictor scores 1); the layout each card defines, position by position; determinism,
disjoint split streams and fixed data per seed; bad parameters; rendering; the command line, the
sweep key space, token inputs through the model builder (an ``Embedding``), induction heads'
scores per evaluation length in a run's summary and the report, and the generator benchmark.
"""

import hashlib
import math
import subprocess
import sys
from collections import Counter

import numpy as np
import pytest

import memorybench as mb
from memorybench.errors import ConfigError
from memorybench.tasks.base import cross_entropy, distinct_ints, sorted_subsets, token_dtype

# small instances (lengths <= 30) of every new task and variant
CASES = {
    "selective_copy": ("selective_copy", {"length": 20, "n_tokens": 4}),
    "mqar": ("mqar", {"length": 24, "n_pairs": 3, "vocab_size": 64}),
    "mqar-zeros": ("mqar", {"length": 16, "n_pairs": 2, "vocab_size": 20,
                            "random_non_queries": False}),
    "induction_heads": ("induction_heads", {"length": 12}),
    "temporal_order-6a": ("temporal_order", {"length": 20}),
    "temporal_order-6b": ("temporal_order", {"length": 30, "variant": "6b"}),
}
IDS = list(CASES)


def task_of(case: str):
    name, params = CASES[case]
    return mb.get_task(name, **params)


def answers(task) -> np.ndarray:
    """The labels a target can take (what the trivial predictor spreads over)."""
    if task.name == "selective_copy":
        return np.arange(1, task.vocab_size - 1)
    if task.name == "mqar":
        return np.arange(task.vocab_size // 2, task.vocab_size)
    if task.name == "induction_heads":  # the ordinary tokens, not the no-op 0 or the trigger
        return np.arange(1, task.vocab_size - 1)
    return np.arange(task.spec.n_classes)


def labels_to_probs(task, labels: np.ndarray) -> np.ndarray:
    k = task.spec.n_classes
    return np.eye(k, dtype=np.float32)[np.where(labels < 0, 0, labels)]


def constant(task, y, c: int) -> np.ndarray:
    """The predictor that always answers ``c`` (labels of y's shape)."""
    return np.full(y.shape, c, dtype=np.int64)


# -- the cards ---------------------------------------------------------------------------------
CARDS = {  # metric, chance, solved_at, input kind, output kind
    "selective_copy": ("accuracy", 1 / 14, 0.99, "tokens", "every_step"),
    "mqar": ("accuracy", 2 / 64, 0.99, "tokens", "every_step"),
    "mqar-zeros": ("accuracy", 2 / 20, 0.99, "tokens", "every_step"),
    "induction_heads": ("accuracy", 1 / 14, 0.99, "tokens", "every_step"),
    "temporal_order-6a": ("accuracy", 1 / 4, 0.99, "float", "last"),
    "temporal_order-6b": ("accuracy", 1 / 8, 0.99, "float", "last"),
}


@pytest.mark.parametrize("case", IDS)
def test_spec_matches_the_card(case):
    task = task_of(case)
    spec = task.spec
    metric, chance, solved_at, kind, output = CARDS[case]
    assert (spec.metric, spec.higher_is_better, spec.solved_at) == (metric, True, solved_at)
    assert spec.chance == pytest.approx(chance, rel=1e-12)
    assert (spec.input_kind, spec.output) == (kind, output)
    assert spec.length == task.length and spec.steps == task.length
    x, y = task.data("train", n=5, seed=0)
    if kind == "tokens":
        assert spec.vocab_size == task.vocab_size and spec.input_dim == 1
        assert x.shape == (5, spec.steps) and np.issubdtype(x.dtype, np.integer)
        assert x.min() >= 0 and x.max() < spec.vocab_size
    else:
        assert x.shape == (5, spec.steps, spec.input_dim) and x.dtype == np.float32
    assert np.issubdtype(y.dtype, np.integer)
    assert y.shape == ((5, 1) if output == "last" else (5, spec.steps))


def test_defaults_are_the_defining_papers():
    sc = mb.get_task("selective_copy")
    assert (sc.length, sc.n_tokens, sc.vocab_size) == (4096, 16, 16)  # Mamba, appendix E.1
    mq = mb.get_task("mqar")  # Zoology's multiquery_ar defaults
    assert (mq.length, mq.n_pairs, mq.vocab_size, mq.power_a, mq.random_non_queries) == (
        64, 4, 8192, 0.01, True)
    ih = mb.get_task("induction_heads")  # Mamba: vocabulary 16, trained at 256, tested longer
    assert (ih.length, ih.vocab_size) == (256, 16)
    assert ih.eval_lengths == (64, 128, 256, 512, 1024, 2048, 4096)
    to = mb.get_task("temporal_order")
    assert (to.length, to.variant) == (100, "6a")
    assert to.positions == ((10, 20), (50, 60))  # Hochreiter & Schmidhuber 1997, 6a
    assert mb.get_task("temporal_order", variant="6b").positions == ((10, 20), (33, 43),
                                                                     (66, 76))


@pytest.mark.parametrize("variant, lag", [("6a", 40), ("6b", 24)])
def test_temporal_order_minimal_lag_is_the_papers(variant, lag):
    """Hochreiter & Schmidhuber 1997, Table 10, column "lag" (minimal steps between the most
    recent relevant input and the teacher signal): 40 (6a) and 24 (6b) at T = 100. The paper
    counts positions from 1 (E at 1, B at T = 100), so position p is array index p - 1."""
    task = mb.get_task("temporal_order", variant=variant)
    assert task.min_lag == lag
    assert task.intervals == tuple((lo - 1, hi - 1) for lo, hi in task.positions)
    x, _ = task.data("train", n=20_000, seed=0)
    ids = np.argmax(x, -1)
    last = task.length - 1 - np.max(np.where(ids >= 6, np.arange(task.length), -1), axis=1)
    assert last.min() == lag  # steps from the last X / Y to the final B, over the data
    first = np.argmax(ids >= 6, axis=1)
    assert first.min() == 9 and first.max() == 19  # positions 10..20 of the paper


def test_mqar_cites_the_zoology_commit_its_defaults_come_from():
    """The defaults (vocabulary 8192, length 64, 4 pairs) are ``multiquery_ar``'s at Zoology's
    commit a2dc81f (December 2023); at later commits it has 8 pairs and no vocabulary default,
    so the card and the module name the commit in full."""
    from pathlib import Path

    from memorybench.tasks import mqar

    card = (Path(__file__).parents[1] / "docs" / "tasks.md").read_text()
    section = card[card.index("## `mqar`"):card.index("## `induction_heads`")]
    for text in (mqar.__doc__, section):
        flat = " ".join(text.split())
        assert "a2dc81f6374a88587b43455154f8fdaec5350448" in flat
        assert "zoology/data/associative_recall.py" in flat and "num_kv_pairs=8" in flat


# -- oracles -----------------------------------------------------------------------------------
@pytest.mark.parametrize("case", IDS)
def test_trivial_predictor_scores_exactly_the_cards_chance(case):
    """The trivial predictor answers uniformly over the K possible answers: its expected accuracy
    is the mean over the K constant answers, which is exactly 1/K on any sample (every target is
    one of them), and its cross-entropy is exactly ln K."""
    task = task_of(case)
    _, y = task.data("test", n=3_000, seed=1)
    ks = answers(task)
    accs = [task.evaluate(y, constant(task, y, int(c)))["metric"] for c in ks]
    assert float(np.mean(accs)) == pytest.approx(task.spec.chance, abs=1e-12)
    scores = [task.evaluate(y, constant(task, y, int(c)))["score"] for c in ks]
    assert float(np.mean(scores)) == pytest.approx(0.0, abs=1e-9)
    shape = (len(y),) if task.spec.output == "last" else y.shape
    probs = np.zeros((*shape, task.spec.n_classes), np.float32)
    probs[..., ks] = 1.0 / len(ks)
    ev = task.evaluate(y, probs)
    assert not ev["solved"]
    mask = task.metric_mask(y)
    if task.name == "induction_heads":  # the loss is next-token over every step: ln K where
        mask = np.asarray(mask)  # the metric reads (its last step)
        ce = cross_entropy(y[mask], probs[mask], None)
        assert ce == pytest.approx(math.log(len(ks)), rel=1e-6)
        return
    assert ev["loss"] == pytest.approx(math.log(len(ks)), rel=1e-6)


@pytest.mark.parametrize("case", IDS)
def test_perfect_predictor_scores_one_and_solves(case):
    task = task_of(case)
    _, y = task.data("val", n=500, seed=3)
    labels = y.reshape(len(y)) if task.spec.output == "last" else y
    ev = task.evaluate(y, labels_to_probs(task, labels))
    assert ev["metric"] == 1.0 and ev["score"] == pytest.approx(1.0) and ev["solved"] is True
    assert ev["loss"] == pytest.approx(0.0, abs=1e-6)


def test_temporal_order_reports_the_papers_count_of_correct_sequences():
    task = task_of("temporal_order-6a")
    _, y = task.data("test", n=400, seed=0)
    onehot = labels_to_probs(task, y[:, 0])
    assert task.evaluate(y, onehot)["paper_metrics"] == {"fraction_correct": 1.0}
    soft = 0.75 * onehot + 0.25 / 4  # right class at 0.8125: every output within 0.3 of target
    assert task.evaluate(y, soft)["paper_metrics"]["fraction_correct"] == 1.0
    unsure = 0.55 * onehot + 0.15 - 0.05 * onehot  # 0.65 on the right class: error 0.35
    ev = task.evaluate(y, unsure)
    assert ev["metric"] == 1.0 and ev["paper_metrics"]["fraction_correct"] == 0.0


# -- layouts -----------------------------------------------------------------------------------
def test_selective_copy_layout():
    task = mb.get_task("selective_copy", length=30, n_tokens=5, vocab_size=10)
    x, y = task.data("train", n=400, seed=0)
    T, M = 30, 5
    assert np.all(x[:, T - M:] == 9)  # M markers
    assert np.all(y[:, : T - M] == -1)
    body = x[:, : T - M]
    assert np.all((body == 0).sum(1) == T - 2 * M)  # M data tokens among noise
    data = body[body != 0].reshape(len(x), M)  # row-major: the data in their order
    assert np.array_equal(data, y[:, T - M:])
    assert data.min() >= 1 and data.max() <= 8
    # positions vary from sequence to sequence (not the fixed copy layout)
    first = np.argmax(body != 0, axis=1)
    assert len(set(first.tolist())) > 5


def test_mqar_layout_matches_zoology():
    task = mb.get_task("mqar", length=24, n_pairs=3, vocab_size=64)
    x, y = task.data("train", n=300, seed=0)
    K, half = 3, 32
    keys, values = x[:, 0:2 * K:2], x[:, 1:2 * K:2]
    assert keys.min() >= 1 and keys.max() < half and values.min() >= half
    assert all(len(set(r)) == K for r in keys.tolist())
    assert all(len(set(r)) == K for r in values.tolist())
    assert np.all(y[:, : 2 * K] == -1)
    for i in range(len(x)):
        pos = np.flatnonzero(y[i] != -1)
        assert len(pos) == K and np.all((pos - 2 * K) % 2 == 0)  # a query every other step
        pairs = dict(zip(keys[i].tolist(), values[i].tolist(), strict=True))
        assert sorted(x[i, pos].tolist()) == sorted(pairs)  # every key queried once
        assert all(pairs[int(x[i, p])] == y[i, p] for p in pos)
    odd = mb.get_task("mqar", length=25, n_pairs=3, vocab_size=64)  # Zoology: even only
    xo, yo = odd.data("train", n=200, seed=0)
    assert xo.shape == (200, 25) and np.all((yo != -1).sum(1) == 3) and np.all(yo[:, -1] == -1)
    zeros = mb.get_task("mqar", length=16, n_pairs=2, vocab_size=20, random_non_queries=False)
    xz, yz = zeros.data("train", n=50, seed=0)
    assert np.all(xz[:, 4:][yz[:, 4:] == -1] == 0)


def test_mqar_gaps_follow_the_power_law():
    """With one pair the gap is a single draw: its frequencies are Zoology's p."""
    task = mb.get_task("mqar", length=20, n_pairs=1, vocab_size=32, power_a=0.3)
    _, y = task.data("train", n=60_000, seed=0)
    gaps = (np.argmax(y != -1, axis=1) - 2) // 2
    freq = np.bincount(gaps, minlength=9) / len(gaps)
    np.testing.assert_allclose(freq, task.gap_probabilities(), atol=0.01)
    assert freq[0] > 2 * freq[-1]  # short gaps are likelier


def test_induction_heads_layout():
    task = mb.get_task("induction_heads", length=12, vocab_size=6)
    x, y = task.data("train", n=2_000, seed=0)
    assert np.all(x[:, -1] == 5) and np.all((x == 5).sum(1) == 2)  # the trigger, twice
    first = np.argmax(x == 5, axis=1)
    assert first.max() <= 9 and first.min() == 0
    assert np.array_equal(y[:, -1], x[np.arange(len(x)), first + 1])
    assert y.max() <= 5


def test_induction_heads_follows_the_safari_reference():
    """HazyResearch/safari src/dataloaders/synthetics.py (commit 42f326e): ``vocab_size``
    counts the two special tokens (14 ordinary tokens of 16, chance 1/14); the first trigger is
    at 0..T-4, so the copied token never stands right before the final trigger; the training
    targets are the next token at every step and the metric reads the last step only."""
    task = mb.get_task("induction_heads", length=12)
    x, y = task.data("train", n=20_000, seed=0)
    ordinary = x[x != task.trigger]
    assert set(np.unique(ordinary).tolist()) == set(range(1, 15))  # 14 ordinary tokens
    assert task.spec.chance == pytest.approx(1 / 14) and task.spec.n_classes == 16
    first = np.argmax(x == task.trigger, axis=1)
    assert first.min() == 0 and first.max() == 12 - 4  # never 9: the copy never at T-2
    assert np.array_equal(y[:, :-1], x[:, 1:])  # next token at every step
    assert np.array_equal(y[:, -1], x[np.arange(len(x)), first + 1])
    assert task.spec.output == "every_step" and task.spec.ignore_class is None  # loss: all
    mask = task.metric_mask(y)
    assert mask[:, -1].all() and not mask[:, :-1].any()  # the metric: the last step
    wrong = y.copy()
    wrong[:, :-1] = 0  # every step but the last wrong: still perfect on the metric
    assert task.evaluate(y, wrong)["metric"] == 1.0


def test_temporal_order_layout_and_classes():
    for variant, k in (("6a", 2), ("6b", 3)):
        task = mb.get_task("temporal_order", length=30, variant=variant)
        x, y = task.data("train", n=3_000, seed=0)
        ids = np.argmax(x, -1)
        assert np.all(x.sum(-1) == 1)
        assert np.all(ids[:, 0] == 5) and np.all(ids[:, -1] == 4)  # E ... B
        rel = [np.flatnonzero(r >= 6) for r in ids]
        assert all(len(p) == k for p in rel)
        for p, r, label in zip(rel[:200], ids[:200], y[:200, 0], strict=True):
            assert all(lo <= q <= hi for q, (lo, hi) in zip(p, task.intervals, strict=True))
            assert all(lo <= q + 1 <= hi for q, (lo, hi) in zip(p, task.positions, strict=True))
            bits = [int(r[q] == 7) for q in p]  # Y = 1, first symbol most significant
            assert label == int("".join(map(str, bits)), 2)
        assert set(np.bincount(y[:, 0], minlength=2 ** k) > 0) == {True}


def test_temporal_order_intervals_stay_apart_at_every_length():
    for variant in ("6a", "6b"):
        for T in range(10, 1001):
            spans = mb.get_task("temporal_order", length=T, variant=variant).intervals
            ends = [1, *[e for s in spans for e in s], T - 2]
            assert ends == sorted(ends), (variant, T)
            assert all(a[1] < b[0] for a, b in zip(spans, spans[1:], strict=False)), (variant, T)


def test_distinct_and_sorted_subsets_are_uniform():
    rng = np.random.default_rng(0)
    d = distinct_ints(rng, 120_000, 2, 4)  # 12 ordered pairs
    c = Counter(map(tuple, d.tolist()))
    assert len(c) == 12 and all(a != b for a, b in c)
    assert max(c.values()) / min(c.values()) < 1.1
    for k, high in ((2, 6), (3, 5)):  # the rejection path and the distinct_ints path
        s = sorted_subsets(rng, 100_000, k, high)
        c = Counter(map(tuple, s.tolist()))
        assert len(c) == math.comb(high, k) and all(list(t) == sorted(set(t)) for t in c)
        assert max(c.values()) / min(c.values()) < 1.1
    assert [token_dtype(v) for v in (16, 128, 129, 8192, 40_000)] == [
        np.int8, np.int8, np.int16, np.int16, np.int32]


# -- determinism -------------------------------------------------------------------------------
@pytest.mark.parametrize("case", IDS)
def test_determinism_and_disjoint_splits(case):
    task = task_of(case)
    state = np.random.get_state()
    a = task.data("train", n=64, seed=11)
    assert np.random.get_state()[1].tolist() == state[1].tolist()  # global RNG untouched
    b = task.data("train", n=64, seed=11)
    assert all(np.array_equal(u, v) for u, v in zip(a, b, strict=True))
    assert not np.array_equal(a[0], task.data("train", n=64, seed=12)[0])
    splits = [task.data(s, n=64, seed=11)[0] for s in ("train", "val", "test")]
    for i in range(3):
        for j in range(i + 1, 3):
            assert not np.array_equal(splits[i], splits[j])


GOLDEN = {  # data of a seed, part of what a result means (change = a change of the benchmark)
    "selective_copy": "e2766a2289bf940c",
    "mqar": "50a6cc04b08959f7",
    "mqar-zeros": "ffd710b1dd0457da",
    "induction_heads": "99a0327e25e01d53",  # the safari reference (issue 26)
    "temporal_order-6a": "6cc0b617d389259c",  # positions from 1, as the paper
    "temporal_order-6b": "de58032abb51a7db",
}


@pytest.mark.parametrize("case", IDS)
def test_a_seed_gives_the_same_data_in_every_version(case):
    x, y = task_of(case).data("train", n=3, seed=0)
    digest = hashlib.sha256(np.ascontiguousarray(x).tobytes()
                            + np.ascontiguousarray(y).tobytes()).hexdigest()[:16]
    assert digest == GOLDEN[case]


# -- bad input ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name,params,words", [
    ("selective_copy", {"length": 20, "n_tokens": 11}, "length=20 is too small; allowed: >= 22"),
    ("selective_copy", {"vocab_size": 2}, "vocab_size=2 is too small; allowed: >= 3"),
    ("mqar", {"length": 64, "vocab_size": 64}, "vocab_size=64 is too small; allowed: >= 65"),
    ("mqar", {"length": 12, "n_pairs": 4}, "length=12 is too small; allowed: >= 16"),
    ("mqar", {"power_a": 0}, "allowed: a number in (0, 1]"),
    ("induction_heads", {"eval_lengths": "64,x"}, "allowed: a list of lengths >= 4"),
    ("induction_heads", {"eval_lengths": "3,64"}, "allowed: a list of lengths >= 4"),
    ("induction_heads", {"length": 3}, "length=3 is too small; allowed: >= 4"),
    ("induction_heads", {"vocab_size": 3}, "vocab_size=3 is too small; allowed: >= 4"),
    ("temporal_order", {"variant": "6c"}, "unknown variant '6c'; known: 6a, 6b"),
    ("temporal_order", {"length": 9}, "length=9 is too small; allowed: >= 10"),
])
def test_bad_parameters_name_what_is_allowed(name, params, words):
    with pytest.raises(ConfigError, match=None) as err:
        mb.get_task(name, **params)
    assert words in str(err.value) and "\n" not in str(err.value)


def test_eval_lengths_accept_a_string_a_list_or_nothing():
    assert mb.get_task("induction_heads", eval_lengths="32, 16").eval_lengths == (16, 32)
    assert mb.get_task("induction_heads", eval_lengths=[64]).eval_lengths == (64,)
    assert mb.get_task("induction_heads", eval_lengths="").eval_lengths == ()


# -- rendering and the command line ------------------------------------------------------------
@pytest.mark.parametrize("case", IDS)
def test_render_shows_input_and_target(case):
    task = task_of(case)
    x, y = task.data("test", n=1, seed=0)
    text = task.render(x[0], y[0])
    assert "target" in text
    if task.spec.input_kind == "tokens":
        assert " ".join(str(int(v)).rjust(2) for v in x[0][:5]) in text


def test_cli_lists_and_shows_every_new_task():
    code = (
        "import sys\n"
        "from memorybench.cli import app\n"
        "app.main(['list', 'tasks'], standalone_mode=False)\n"
        "for args in (['selective_copy', '--length', '12', '--set', 'n_tokens=4'],\n"
        "             ['mqar', '--length', '16', '--set', 'n_pairs=2', '--set', 'vocab_size=20'],\n"
        "             ['induction_heads', '--length', '10', '--set', 'eval_lengths=16,32'],\n"
        "             ['temporal_order', '--length', '20', '--set', 'variant=6b']):\n"
        "    app.main(['task', 'show', *args], standalone_mode=False)\n"
        "heavy = [m for m in ('tensorflow', 'keras') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    for name in ("selective_copy", "mqar", "induction_heads", "temporal_order"):
        assert name in out.splitlines()[0]
        assert f"== {name} ==" in out
    for cite in ("Gu & Dao 2023", "Zoology", "Hochreiter & Schmidhuber 1997"):
        assert cite in out
    assert "eval_lengths     (16, 32)" in out
    assert "input_kind       tokens" in out and "vocab_size       20" in out


def test_sweep_key_space_takes_the_new_parameters():
    from memorybench.settings import plan

    p = plan("smoke", tasks="induction_heads,mqar,temporal_order", models="lstm",
             lengths=[16], sets={"induction_heads.eval_lengths": "32,64",
                                 "mqar.vocab_size": 100, "temporal_order.variant": "6b"})
    params = {c.task.name: c.task.params for c in p.configs}
    assert params["induction_heads"]["eval_lengths"] == [32, 64]
    assert params["mqar"]["vocab_size"] == 100 and params["mqar"]["length"] == 16
    assert params["temporal_order"]["variant"] == "6b"
    toml_list = plan("smoke", tasks="induction_heads", models="lstm", lengths=[16],
                     sets={"induction_heads.eval_lengths": [24]})
    assert toml_list.configs[0].task.params["eval_lengths"] == [24]
    with pytest.raises(ConfigError, match="eval_lengths"):
        plan("smoke", tasks="induction_heads", models="lstm", lengths=[16],
             sets={"induction_heads.eval_lengths": "8,abc"})


@pytest.mark.filterwarnings("ignore:MNIST:UserWarning")  # the search also looks at MNIST
def test_horizon_search_offers_the_tasks_with_a_solved_threshold():
    from memorybench.run.horizon import _searchable

    assert {"selective_copy", "mqar", "induction_heads", "temporal_order"} <= set(_searchable())


def test_generator_benchmark_covers_the_new_tasks():
    from memorybench.bench import generators

    cases = [c for c in generators.CASES if c[0] in
             ("selective_copy", "mqar", "induction_heads", "temporal_order")]
    assert {c[0] for c in cases} == {"selective_copy", "mqar", "induction_heads",
                                     "temporal_order"}
    rows = generators.measure(length=40, n=300, loop_n=10, repeats=1, cases=cases)
    assert [r["task"] for r in rows] == [c[0] for c in cases]
    assert all(r["samples_per_s"] > 0 and r["speedup_vs_loop"] > 0 for r in rows)
    for name, params in cases:  # the loops transcribe the same card: same shapes and kinds
        task = mb.get_task(name, length=40, **params)
        import random

        lx, ly = generators.LOOPS[name](task, random.Random(0), 3)
        vx, vy = task.sample(np.random.default_rng(0), 3)
        assert lx.shape == vx.shape and ly.shape == vy.shape


# -- token inputs through the builder, and the runner's scores per evaluation length -----------
def test_token_tasks_get_an_embedding_float_tasks_do_not():
    keras = pytest.importorskip("keras")
    from memorybench.models.build import build_model, count_params

    task = task_of("selective_copy")
    model = build_model(task, "lstm", units=6)
    emb = [la for la in model.layers if isinstance(la, keras.layers.Embedding)]
    assert len(emb) == 1 and emb[0].input_dim == task.vocab_size and emb[0].output_dim == 6
    assert model.input_shape == (None, task.length) and "int" in model.inputs[0].dtype
    assert count_params(task, "lstm", 6) == 16 * 6 + 4 * (6 * 6 + 6 * 6 + 6) + 6 * 16 + 16
    floaty = build_model(task_of("temporal_order-6a"), "lstm", units=6)
    assert not any(isinstance(la, keras.layers.Embedding) for la in floaty.layers)


def test_a_run_scores_induction_heads_at_every_eval_length_and_reports_them(tmp_path):
    pytest.importorskip("keras")
    from memorybench.report.html import report_tables

    cfg = mb.RunConfig(
        mb.TaskConfig("induction_heads", {"length": 12, "eval_lengths": [8, 24]}),
        mb.ModelConfig("gru", units=8),
        mb.TrainConfig(steps=20, eval_every=10, batch_size=8, n_train=64, n_val=32, n_test=40),
    )
    res = mb.run(cfg, out_dir=tmp_path)
    assert res.status == "completed", res.summary.get("reason")
    by_len = res.summary["eval_lengths"]
    assert set(by_len) == {"8", "24"}
    for ev in by_len.values():
        assert set(ev) == {"metric", "score", "solved"}
        assert 0.0 <= ev["metric"] <= 1.0 and ev["metric"] * 40 == round(ev["metric"] * 40)
    tables = report_tables(tmp_path)
    csv = tables["eval_lengths.csv"].splitlines()
    assert len(csv) == 3 and csv[0].endswith("n_seeds,n_errors")
    md = tables["eval_lengths.md"]
    assert "trained at length 12" in md and "| model | units | lr | 8 | 24 |" in md
    from memorybench.run.train import eval_lengths

    assert eval_lengths(task_of("temporal_order-6a"), None, cfg) == {}  # no eval_lengths


def test_gradient_flow_on_token_inputs_is_taken_at_the_embedded_inputs():
    pytest.importorskip("keras")
    from memorybench.diagnostics.gradflow import input_gradient_norms
    from memorybench.models.build import build_model

    task = mb.get_task("induction_heads", length=10)
    g = input_gradient_norms(build_model(task, "lstm", units=6), task, batch=4, seed=0)
    assert g.shape == (10,) and np.all(np.isfinite(g)) and np.all(g > 0)
