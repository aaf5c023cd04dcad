"""Reproduction profiles (bai2018, arjovsky2016), per-model settings, the scaled check and the
published numbers beside ours in the report."""

import dataclasses
import math

import pytest

import memorybench as mb
from memorybench import references as refs
from memorybench import settings as S
from memorybench.errors import ConfigError
from memorybench.models.resolve import run_id
from memorybench.run import reproduce as R
from memorybench.run import store

TCN_8_LEVELS = [1, 2, 4, 8, 16, 32, 64, 128]


def _by(configs, seed=0):
    """(task, model) -> the seed's config (one length per task in bai2018)."""
    return {(c.task.name, c.model.name): c for c in configs if c.seed == seed}


# -- the profiles: the papers' settings ------------------------------------------------------
def test_paper_profiles_are_the_reproduction_profiles():
    assert set(S.PROFILES) == {"smoke", "quick", *R.PAPER_PROFILES}
    with pytest.raises(ConfigError, match=r"'paper' \(replaced by one profile per reproduced "
                       r"paper\); known: smoke, quick, bai2018, arjovsky2016"):
        S.plan("paper")


def test_bai2018_follows_table_1_and_the_supplement():
    configs = S.plan("bai2018").configs
    assert len(configs) == 4 * 4 * 3  # 4 tasks x LSTM, GRU, RNN, TCN x 3 seeds
    c = _by(configs)
    assert c["adding", "lstm"].task.params == {"length": 600, "variant": "anywhere"}
    assert c["copy_memory", "tcn"].task.params == {"length": 1000, "encoding": "scalar",
                                                  "n_copy": 10, "alphabet": 8}
    assert c["sequential_mnist", "lstm"].task.params["pixels_per_step"] == 1
    assert c["permuted_mnist", "gru"].task.params["pixels_per_step"] == 1
    # Table 3 (LSTM): hidden size, clipping, optimiser where stated
    lstm = c["adding", "lstm"]
    assert (lstm.model.units, lstm.train.clipnorm, lstm.train.steps) == (130, 5.0, 15_625)
    mnist = c["sequential_mnist", "lstm"]
    assert (mnist.model.units, mnist.train.optimizer, mnist.train.lr, mnist.train.clipnorm) == (
        130, "rmsprop", 1e-3, 1.0)
    assert (c["copy_memory", "lstm"].model.units, c["copy_memory", "lstm"].train.clipnorm) == (
        50, 1.0)
    # Table 2 (TCN): kernel k, n levels, hidden channels; Adam 2e-3 unless noted, no clipping
    tcn = c["adding", "tcn"]
    assert (tcn.model.units, tcn.model.params["kernel_size"], tcn.model.params["dilations"]) == (
        24, 8, TCN_8_LEVELS)
    assert (tcn.train.optimizer, tcn.train.lr, tcn.train.clipnorm) == ("adam", 2e-3, 0.0)
    ctcn = c["copy_memory", "tcn"]
    assert (ctcn.model.units, ctcn.model.params["dropout"], ctcn.train.optimizer, ctcn.train.lr,
            ctcn.train.clipnorm) == (10, 0.05, "rmsprop", 5e-4, 1.0)
    assert c["permuted_mnist", "tcn"].model.units == 25
    # GRU and RNN: Table 1's model size as a budget; the model is built at about that size
    assert c["adding", "gru"].model.param_budget == 70_000
    assert c["copy_memory", "simple_rnn"].model.param_budget == 16_000
    for key in (("adding", "gru"), ("sequential_mnist", "simple_rnn")):
        cfg = c[key]
        task = mb.get_task(cfg.task.name, **cfg.task.params)
        n = mb.build_model(task, cfg.model.name, units=cfg.model.units).count_params()
        assert abs(n / 70_000 - 1) < 0.05, (key, n)
    assert all(cfg.train.early_stop is False for cfg in configs)  # a fixed budget, as published


def test_arjovsky2016_follows_section_4():
    configs = S.plan("arjovsky2016").configs
    assert len(configs) == (4 + 4) * 2 * 3
    lengths = {(cfg.task.name, cfg.task.params["length"]) for cfg in configs}
    assert lengths == {("copy_memory", n) for n in (100, 200, 300, 500)} | {
        ("adding", n) for n in (100, 200, 400, 750)}
    units = {(cfg.task.name, cfg.model.name): cfg.model.units for cfg in configs}
    assert units == {("copy_memory", "simple_rnn"): 80, ("copy_memory", "lstm"): 40,
                     ("adding", "simple_rnn"): 128, ("adding", "lstm"): 128}
    t = configs[0].train
    assert (t.optimizer, t.lr, t.clipnorm, t.batch_size) == ("rmsprop", 1e-3, 1.0, 20)
    assert {cfg.task.params.get("variant") for cfg in configs if cfg.task.name == "adding"} == {
        "half"}


# -- per-model settings in the key space -------------------------------------------------------
def test_model_and_task_model_scopes_win_in_order():
    p = S.plan("quick", models="lstm,gru", sets={
        "lstm.train.lr": 0.02, "adding.lstm.train.lr": 0.05, "gru.model.units": 7,
        "copy_memory.gru.model.params.reset_after": False, "tcn.train.lr": 0.5})
    c = _by(p.configs)
    assert c["adding", "lstm"].train.lr == 0.05  # TASK.MODEL wins over MODEL
    assert c["delayed_xor", "lstm"].train.lr == 0.02  # MODEL wins over the profile
    assert c["copy_memory", "lstm"].train.lr == 0.02  # ... and over the per-task rate
    assert c["delayed_xor", "gru"].train.lr == 3e-3
    assert {cfg.model.units for cfg in p.configs if cfg.model.name == "gru"} == {7}
    assert c["copy_memory", "gru"].model.params == {"reset_after": False}
    assert c["adding", "gru"].model.params == {}


def test_a_scoped_rate_replaces_the_grid_and_units_replace_a_budget():
    p = S.plan("quick", models="lstm,gru", lrs=[1e-3, 1e-2],
               sets={"gru.train.lr": 0.004, "tasks": "adding", "match_params": 3000,
                     "lstm.model.units": 9})
    rates = {(cfg.model.name, cfg.train.lr) for cfg in p.configs}
    assert rates == {("lstm", 1e-3), ("lstm", 1e-2), ("gru", 0.004)}
    lstm = [cfg.model for cfg in p.configs if cfg.model.name == "lstm"]
    assert {(m.units, m.param_budget) for m in lstm} == {(9, None)}


@pytest.mark.parametrize("key, match", [
    ("lstm.train.bogus", r"unknown key 'lstm.train.bogus'; known: .*MODEL.train.FIELD"),
    ("adding.lstm.model.colour", r"unknown key 'adding.lstm.model.colour'"),
    ("lstmm.train.lr", r"unknown key 'lstmm.train.lr'"),
])
def test_bad_scoped_keys_name_the_valid_ones(key, match):
    with pytest.raises(ConfigError, match=match):
        S.plan("quick", sets={key: "1"})


def test_scoped_keys_from_a_toml_file(tmp_path):
    f = tmp_path / "s.toml"
    f.write_text('profile = "quick"\ntasks = ["adding"]\nmodels = ["lstm"]\n'
                 '[adding.lstm.train]\nlr = 0.007\n[lstm.model]\nunits = 11\n')
    (cfg,) = S.plan(config_file=f).configs
    assert (cfg.train.lr, cfg.model.units) == (0.007, 11)


# -- the scaled check --------------------------------------------------------------------------
def test_cpu_scale_shrinks_by_the_documented_factors():
    rep = R.plan_reproduction("all", "cpu")
    sc = R.SCALES["cpu"]
    assert len(rep.configs) == 16 + 16  # one seed of every run of both profiles
    stands = [rep.record["runs"][run_id(cfg)] for cfg in rep.configs]
    for cfg, orig in zip(rep.configs, stands, strict=True):
        t = cfg.train
        if cfg.task.name.endswith("mnist"):
            assert (cfg.task.params["pixels_per_step"], orig["length"]) == (28, 784)
        else:
            assert cfg.task.params["length"] == max(2, round(orig["length"] / 20))
        ev = sc["evaluations"]
        assert t.steps == max(ev, round(orig["steps"] / sc["steps_divisor"] / ev) * ev)
        assert t.steps == ev * t.eval_every and t.n_train <= t.steps * t.batch_size
        assert cfg.model.units == orig["units"] and "dilations" not in cfg.model.params
    adding = [(c, s) for c, s in zip(rep.configs, stands, strict=True)
              if s["profile"] == "bai2018" and c.task.name == "adding"]
    assert {c.task.params["length"] for c, _ in adding} == {30}
    assert {c.train.steps for c, _ in adding} == {78}
    assert rep.record["scale"] == "cpu" and "lengths / 20" in rep.record["scale_words"]
    assert R.plan_reproduction("arjovsky2016", "full").configs == S.plan("arjovsky2016").configs


@pytest.mark.parametrize("names, scale, match", [
    ("paper", "cpu", r"unknown reproduction profile 'paper'; known: bai2018, arjovsky2016, all"),
    ("bai2018", "gpu", r"unknown scale 'gpu'; known: full, cpu"),
    ("", "cpu", r"no profile given; known: bai2018, arjovsky2016, all"),
])
def test_bad_reproduce_input_names_the_choices(names, scale, match):
    with pytest.raises(ConfigError, match=match):
        R.plan_reproduction(names, scale)


def _tiny(cfg):
    """A run of a profile at test size: a few steps, a few units, a short sequence."""
    params = dict(cfg.task.params)
    if isinstance(params.get("length"), int) and not cfg.task.name.endswith("mnist"):
        params["length"] = min(params["length"], 12)
    model_params = {k: v for k, v in cfg.model.params.items() if k != "dilations"}
    train = dataclasses.replace(cfg.train, steps=2, eval_every=2, batch_size=8, n_train=16,
                                n_val=8, n_test=16, eval_batch_size=16)
    return mb.RunConfig(mb.TaskConfig(cfg.task.name, params),
                        mb.ModelConfig(cfg.model.name, units=min(cfg.model.units, 6),
                                       params=model_params), train, cfg.seed)


def test_every_run_of_both_profiles_takes_training_steps():
    """Every run of both profiles (one length per task: the code path does not depend on it),
    at reduced size: its model, optimiser, rate and clipping take a training step."""
    import keras
    import numpy as np

    from memorybench.models.build import build_model, loss_for
    from memorybench.run.train import make_optimizer

    rep = R.plan_reproduction("all", "cpu")
    done = {}
    for cfg in rep.configs:
        tiny = _tiny(cfg)
        key = (rep.record["runs"][run_id(cfg)]["profile"], cfg.task.name, cfg.model.name)
        if key in done:
            continue
        task = mb.get_task(tiny.task.name, **tiny.task.params)
        model = build_model(task, tiny.model.name, units=tiny.model.units, **tiny.model.params)
        model.compile(optimizer=make_optimizer(cfg.train), loss=loss_for(task.spec),
                      run_eagerly=True)  # no graph tracing: seconds saved per model
        x, y = task.data("train", n=2, seed=0)
        before = [w.copy() for w in model.get_weights()]
        assert math.isfinite(float(model.train_on_batch(x, y))), key
        assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights(),
                                                              strict=True)), key
        done[key] = type(model.optimizer).__name__.lower()
        keras.backend.clear_session()
    assert len(done) == 16 + 4
    assert done["bai2018", "copy_memory", "tcn"] == "rmsprop"
    assert done["bai2018", "adding", "tcn"] == "adam"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Two runs through the runner at test size, recorded as scaled runs of bai2018: a TCN on
    sequential MNIST (accuracy in percent) and an LSTM on copy memory (the paper metric
    ce_all_steps)."""
    out = tmp_path_factory.mktemp("repro")
    rep = R.plan_reproduction("all", "cpu")
    want = {("bai2018", "sequential_mnist", "tcn"), ("bai2018", "copy_memory", "lstm")}
    record = dict(rep.record, runs={})
    for cfg in rep.configs:
        stands = rep.record["runs"][run_id(cfg)]
        key = (stands["profile"], cfg.task.name, cfg.model.name)
        if key in want:
            want.discard(key)
            result = mb.run(_tiny(cfg), out_dir=out)
            assert result.status == "completed", result.summary.get("reason")
            record["runs"][result.run_id] = stands
    assert not want
    R.write_record(out, record, command="test")
    return out


def test_report_puts_published_numbers_beside_ours_labelled_scaled(trained):
    from memorybench.report.html import render_html, report_tables
    from memorybench.report.load import load_runs

    out = trained
    runs = load_runs(out)
    tables = report_tables(out, runs)
    md = tables["leaderboard.md"]
    assert "SCALED RUN, NOT A REPRODUCTION" in md
    assert "## Published numbers beside ours (SCALED RUN)" in md
    published = tables["published.csv"].splitlines()
    assert published[0].split(",")[:5] == list(refs.MATCH_COLUMNS[:5])
    board = tables.board
    matched, unmatched = board.attrs["published"]
    assert [(m["task"], m["model"], m["match"]) for m in matched] == [
        ("sequential_mnist", "tcn", "scaled"), ("copy_memory", "lstm", "scaled")]
    seq, copy = matched
    assert (seq["published"], seq["length"], seq["ran_length"], seq["unit"]) == (
        99.0, 784, 28, "percent")
    for words in ("SCALED run (cpu", "length 28 instead of 784", "budget: ours",
                  "data: ours mnist-5k"):
        assert words in seq["differences"], words
    assert (copy["metric"], copy["published"], copy["length"]) == ("ce_all_steps", 0.0204, 1000)
    summary = next(r for r in runs if r["task"] == "copy_memory")
    assert copy["ours"] == pytest.approx(summary["paper_metrics"]["ce_all_steps"])
    assert set(board["scaled"]) == {R.SCALES["cpu"]["words"]}  # every row, matched or not
    row = board[(board.task == "sequential_mnist") & (board.model == "tcn")].iloc[0]
    assert row["published"] == "99" and row["match"] == "scaled"
    assert float(row["ours_in_paper_units"]) == pytest.approx(100 * row["metric_mean"], rel=1e-3)
    assert row["reference"] == "Bai, Kolter & Koltun 2018, Table 1"
    # the published numbers of these tasks that no run matched: copy memory's other three
    assert {(u["task"], u["model"]) for u in unmatched} == {
        ("sequential_mnist", m) for m in ("LSTM", "GRU", "RNN", "coRNN")} | {
        ("copy_memory", m) for m in ("GRU", "RNN", "TCN")}
    assert "published_unmatched.csv" in tables
    page = render_html(board, tables.hor, [], [], runs, [], out / "report")
    assert page.count("SCALED RUN") >= 3 and "Published numbers beside ours" in page
    assert "Published numbers with no matching run" in page


# -- the matching function ---------------------------------------------------------------------
def _entry(**over):
    e = {"dataset": "synthetic", "task": "adding", "task_params": {"length": 600,
         "variant": "anywhere"}, "length": 600, "model": "gru", "units": 151, "params": 69_500,
         "metric": "mse", "metric_mean": 1e-4, "paper_metrics_mean": {}, "n_seeds": 3,
         "lr": 2e-3, "train_settings": {"steps": 15_625, "batch_size": 32, "optimizer": "adam"}}
    e.update(over)
    return e


def test_compare_matches_task_variant_length_model_and_metric():
    (m,), unmatched = refs.compare([_entry()])
    assert (m["published"], m["ours"], m["match"]) == (5.3e-5, 1e-4, "same")
    assert m["ratio"] == pytest.approx(1e-4 / 5.3e-5)
    assert m["source"] == "Bai, Kolter & Koltun 2018" and m["where"] == "Table 1"
    assert "parameters: ours 69,500, published ~70K" in m["differences"]
    assert "budget: ours 15,625 steps of batch 32, adam lr 0.002; published not stated" in m[
        "differences"]
    # the other adding numbers of the table have no matching run
    assert len(unmatched) == 6 and all(u["task"] == "adding" for u in unmatched)
    for over in ({"length": 400}, {"task_params": {"length": 600, "variant": "half"}},
                 {"model": "lstm_cifg"}, {"metric": "accuracy"}):
        assert refs.compare([_entry(**over)])[0] == [], over


def test_compare_spells_out_approximate_settings():
    (m,), _ = refs.compare([_entry(params=20_000)])
    assert m["match"] == "approximate" and "(-71%)" in m["differences"]
    mnist = _entry(task="sequential_mnist", task_params={"length": 784, "pixels_per_step": 1},
                   length=784, model="lstm", params=69_950, metric="accuracy", metric_mean=0.9,
                   dataset="mnist-5k")
    (m,), _ = refs.compare([mnist], [r for r in refs.load() if r["source"].startswith("Bai")])
    assert (m["ours"], m["published"], m["match"]) == (pytest.approx(90.0), 87.2, "approximate")
    assert "data: ours mnist-5k" in m["differences"]


def test_paper_units_conversions():
    copy = _entry(task="copy_memory", task_params={"length": 1000, "encoding": "scalar"},
                  length=1000, model="tcn", params=13_000, metric="accuracy", metric_mean=0.5,
                  paper_metrics_mean={"ce_all_steps": 7e-5})
    (m,), _ = refs.compare([copy])
    assert (m["metric"], m["ours"], m["ratio"]) == ("ce_all_steps", 7e-5, pytest.approx(2.0))
    assert refs.compare([{**copy, "paper_metrics_mean": {}}])[0] == []  # not measured: no match
    hs = _entry(task_params={"length": 100, "variant": "hochreiter1997"}, length=100,
                model="lstm", params=93, metric="fraction_correct", metric_mean=0.999)
    (m,), _ = refs.compare([hs])
    assert m["metric"] == "wrong_predictions" and m["ours"] == pytest.approx(2.56)
    assert m["ratio"] == pytest.approx(2.56) and m["match"] == "same"
    (m,), _ = refs.compare([{**hs, "task_params": {"length": 500, "variant": "hochreiter1997"},
                             "length": 500}])
    assert m["published"] == 0 and m["ratio"] is None  # no ratio to a published zero


def test_record_round_trip_and_corrupt_record(tmp_path):
    rec = R.write_record(tmp_path, {"scale": "cpu", "profiles": ["bai2018"], "papers": {},
                                    "runs": {"a": {"task": "adding"}}}, command="x")
    rec2 = R.write_record(tmp_path, {"scale": "cpu", "profiles": ["arjovsky2016"], "papers": {},
                                     "runs": {"b": {"task": "copy_memory"}}})
    assert set(rec2["runs"]) == {"a", "b"} and rec2["profiles"] == ["bai2018", "arjovsky2016"]
    assert rec["command"] == "x"
    assert store.load_reproduction(tmp_path)["runs"]["b"]["task"] == "copy_memory"
    (tmp_path / store.REPRODUCTION_RECORD).write_text("{")
    from memorybench.errors import DataError

    with pytest.raises(DataError, match="not a reproduction record"):
        store.load_reproduction(tmp_path)
    # the report goes on without it, saying which file it ignored
    from memorybench.report.load import _attach_reproduction

    said, runs = [], [{"run_id": "a"}]
    _attach_reproduction(tmp_path, runs, said.append)
    assert runs == [{"run_id": "a"}] and "reproduce.json" in said[0]


def test_reproduce_models_is_a_slice_of_the_profiles_models_never_another(tmp_path):
    from memorybench.errors import ConfigError
    from memorybench.run.reproduce import plan_reproduction

    with pytest.raises(ConfigError, match="mamba: not a model of bai2018; its models: lstm"):
        plan_reproduction("bai2018", "cpu", models="mamba")
    rep = plan_reproduction("bai2018", "cpu", models="lstm")
    assert {c.model.name for c in rep.configs} == {"lstm"}
