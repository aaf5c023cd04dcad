"""Run configuration: round trips, run-id stability, the settings key space and profiles."""

from __future__ import annotations

import hashlib
import json

import pytest

from memorybench import config as C
from memorybench import settings as S
from memorybench.errors import ConfigError
from memorybench.models import resolve as R
from memorybench.settings import expand


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("MEMORYBENCH_OFFLINE", "1")  # tests never touch the network (MNIST)


def _cfg(**train):
    return C.RunConfig(
        C.TaskConfig("adding", {"length": 10}), C.ModelConfig("lstm", units=8),
        C.TrainConfig(**train), seed=3,
    )


def test_round_trip_through_json():
    cfg = R.resolve(_cfg(lr=0.01, steps=400, eval_every=100, precision="mixed_bfloat16"))
    back = C.from_dict(json.loads(json.dumps(C.to_dict(cfg))))
    assert back == cfg
    assert R.run_id(back) == R.run_id(cfg)
    # config.json carries provenance keys that from_dict ignores
    assert C.from_dict({**C.to_dict(cfg), "plugins": {}, "memorybench_version": "x"}) == cfg


def test_resolve_fills_task_defaults_so_the_run_id_is_stable():
    short = _cfg()
    explicit = C.RunConfig(
        C.TaskConfig("adding", {"length": 10, "variant": "half"}), C.ModelConfig("lstm", units=8),
        C.TrainConfig(), seed=3,
    )
    resolved = R.resolve(short)
    assert resolved.task.params == {"length": 10, "variant": "half"}
    assert R.resolve(resolved) == resolved  # idempotent
    assert R.run_id(short) == R.run_id(explicit)
    rid = R.run_id(short)
    assert len(rid) == 16 and int(rid, 16) >= 0
    # the id is the sha256 of the canonical (sorted-key) JSON of the resolved config
    canon = json.dumps(C.to_dict(resolved), sort_keys=True, separators=(",", ":"))
    assert rid == hashlib.sha256(canon.encode()).hexdigest()[:16]
    # every setting that changes the run changes the id
    others = {
        R.run_id(_cfg(lr=0.01)),
        R.run_id(C.RunConfig(short.task, short.model, short.train, seed=4)),
        R.run_id(C.RunConfig(C.TaskConfig("adding", {"length": 11}), short.model, short.train, 3)),
        R.run_id(C.RunConfig(short.task, C.ModelConfig("gru", units=8), short.train, 3)),
    }
    assert rid not in others and len(others) == 4


def test_from_dict_rejects_unknown_training_settings():
    d = C.to_dict(R.resolve(_cfg()))
    d["train"]["lrr"] = 1
    with pytest.raises(ConfigError, match="unknown training setting 'lrr'; known: .*lr"):
        C.from_dict(d)


@pytest.mark.parametrize("train, match", [
    ({"steps": 250, "eval_every": 100}, "multiple of train.eval_every"),
    ({"lr": -1.0}, "train.lr"),
    ({"optimizer": "adamm"}, "known: adam, adamw"),
    ({"precision": "float16"}, "known: float32, mixed_float16, mixed_bfloat16"),
    ({"batch_size": 0}, "train.batch_size must be an integer >= 1"),
])
def test_bad_training_settings_name_what_is_allowed(train, match):
    with pytest.raises(ConfigError, match=match):
        R.resolve(_cfg(**train))


def test_unknown_model_lists_known_ones():
    with pytest.raises(ConfigError, match="unknown model 'lstmm'; known: .*lstm"):
        R.resolve(C.RunConfig(C.TaskConfig("adding"), C.ModelConfig("lstmm")))


# -- the settings key space --------------------------------------------------------------------
def _expand(*sets, base=None):
    layers = [S.profile("smoke") if base is None else base, S.parse_set_items(list(sets))]
    return expand(S.merge_layers(*layers))


def test_set_values_are_coerced_to_the_field_types():
    plan = _expand(
        "tasks=adding,delayed_xor", "models=lstm", "lengths=5,7", "seeds=2",
        "train.lr=0.01", "train.jit=true", "train.steps=300", "train.eval_every=100",
        "model.units=8", "adding.variant=anywhere", "delayed_xor.train.steps=100",
        "model.params.dropout=0.25",
    )
    cfgs = plan.configs
    assert len(cfgs) == 2 * 2 * 1 * 2  # tasks x lengths x models x seeds
    add = [c for c in cfgs if c.task.name == "adding"]
    xor = [c for c in cfgs if c.task.name == "delayed_xor"]
    assert {c.task.params["length"] for c in add} == {5, 7}
    assert {c.seed for c in add} == {0, 1}
    assert all(c.task.params["variant"] == "anywhere" for c in add)
    assert all(c.task.params["variant"] == "marked" for c in xor)
    c = add[0]
    assert c.train.lr == 0.01 and isinstance(c.train.lr, float)
    assert c.train.jit is True and c.train.steps == 300
    assert c.model.units == 8 and c.model.params == {"dropout": 0.25}
    assert all(c.train.steps == 100 for c in xor)  # per-task training override
    assert len({R.run_id(c) for c in cfgs}) == len(cfgs)


@pytest.mark.parametrize("item, match", [
    ("train.lrr=0.1", "unknown key 'train.lrr'; known: .*train.lr"),
    ("lr=0.1", "unknown key 'lr' .*; known: tasks, models"),
    ("addng.variant=x", "unknown key 'addng.variant'"),
    ("adding.varient=x", "task 'adding' has no parameter 'varient'; known: variant"),
    ("task.bogus=1", "no task of this sweep .* has parameter 'bogus'"),
    ("train.steps=abc", "train.steps='abc' is not a valid int"),
    ("train.jit=maybe", "train.jit='maybe' is not a valid bool"),
    ("lengths=0", "lengths: '0' is not allowed; allowed: integers >= 1"),
    ("seeds=-1", "seeds=-1 is not allowed"),
    ("tasks=addng", "unknown task 'addng'; known: adding, copy_memory"),
    ("models=lstmm", "unknown model 'lstmm'; known: .*gru"),
    ("adding.variant=diagonal", "unknown variant 'diagonal'; known: half, anywhere"),
    ("noequals", "--set expects key=value"),
])
def test_bad_settings_are_rejected_naming_the_valid_ones(item, match):
    with pytest.raises(ConfigError, match=match):
        _expand("tasks=adding,delayed_xor", item)


def test_config_file_uses_the_same_keys_as_set(tmp_path):
    f = tmp_path / "sweep.toml"
    f.write_text(
        'tasks = ["adding"]\nmodels = ["gru", "lstm"]\nlengths = [6]\nseeds = 2\n'
        '[train]\nlr = 0.02\nsteps = 200\neval_every = 100\n'
        '[model]\nunits = 12\n[adding]\nvariant = "anywhere"\n'
    )
    from_file = expand(S.merge_layers(S.profile("smoke"), S.load_config_file(f))).configs
    from_sets = _expand(
        "tasks=adding", "models=gru,lstm", "lengths=6", "seeds=2", "train.lr=0.02",
        "train.steps=200", "train.eval_every=100", "model.units=12", "adding.variant=anywhere",
    ).configs
    assert [R.run_id(c) for c in from_file] == [R.run_id(c) for c in from_sets]
    bad = tmp_path / "bad.toml"
    bad.write_text("[train]\nlr = 'fast'\n")
    with pytest.raises(ConfigError, match="train.lr='fast' is not a valid float"):
        expand(S.merge_layers(S.profile("smoke"), S.load_config_file(bad)))
    with pytest.raises(ConfigError, match="not valid TOML"):
        (tmp_path / "broken.toml").write_text("[train\n")
        S.load_config_file(tmp_path / "broken.toml")


def test_lengths_replace_per_task_lengths_of_the_profile():
    quick = S.profile("quick")
    per_task = {c.task.name: c.task.params["length"] for c in expand(quick).configs}
    assert per_task == {"adding": quick["adding.lengths"][0],
                        "copy_memory": quick["copy_memory.lengths"][0],
                        "delayed_xor": quick["delayed_xor.lengths"][0]}
    merged = S.merge_layers(quick, {"lengths": "9"})
    assert {c.task.params["length"] for c in expand(merged).configs} == {9}


def test_profiles_expand_and_unknown_profiles_are_named():
    smoke = expand(S.profile("smoke"))
    assert {c.task.name for c in smoke.configs} == {
        "adding", "copy_memory", "delayed_xor", "sequential_mnist"}
    assert {c.model.name for c in smoke.configs} == {"simple_rnn", "lstm", "gru"}
    assert len(smoke.configs) == 12
    # MNIST has a fixed length: the sweep's lengths are ignored, and the user is told once
    assert [n for n in smoke.notes if "sequential_mnist" in n] == [
        n for n in smoke.notes if "ignored" in n]
    assert len([n for n in smoke.notes if "ignored" in n]) == 1
    assert len(expand(S.profile("quick")).configs) == 9
    with pytest.raises(ConfigError,
                       match="unknown profile 'fast'; known: smoke, quick, bai2018, arjovsky2016"):
        S.profile("fast")
    # the retired `paper` profile names the reproduction profiles that replaced it
    with pytest.raises(ConfigError, match=r"unknown profile 'paper' \(replaced by one profile per "
                       r"reproduced paper\); known: smoke, quick, bai2018, arjovsky2016"):
        S.profile("paper")


def test_match_params_gives_every_model_the_same_budget():
    from memorybench.models.build import build_model

    plan = _expand("tasks=adding", "models=simple_rnn,lstm,gru", "lengths=5",
                   "match_params=3000")
    units = {c.model.name: c.model.units for c in plan.configs}
    assert units["simple_rnn"] > units["gru"] > units["lstm"]
    for c in plan.configs:
        assert c.model.param_budget == 3000
        n = build_model("adding", c.model.name, units=c.model.units).count_params()
        assert abs(n - 3000) <= 0.05 * 3000


def test_a_fixed_generator_gets_new_run_ids_and_the_others_keep_theirs(monkeypatch):
    from memorybench.config import ModelConfig, RunConfig, TaskConfig
    from memorybench.models.resolve import resolve, run_id
    from memorybench.tasks.induction_heads import InductionHeads

    def rid(task, **params):
        return run_id(RunConfig(TaskConfig(task, params), ModelConfig("lstm", units=4)))

    ih = rid("induction_heads", length=16)
    assert resolve(RunConfig(TaskConfig("induction_heads", {"length": 16}),
                             ModelConfig("lstm", units=4))).code == {"task": "generator v2"}
    monkeypatch.setattr(InductionHeads, "generator_version", 1)
    assert rid("induction_heads", length=16) != ih  # the old generator's runs are not reused
    assert resolve(RunConfig(TaskConfig("adding", {"length": 16}),
                             ModelConfig("lstm", units=4))).code == {}  # ids unchanged
