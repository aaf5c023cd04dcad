"""The training path: "auto" settings made concrete, and compiled programs reused between runs
of one shape without changing a single number."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd
import pytest

import memorybench as mb
from memorybench import config as C
from memorybench import settings as S
from memorybench.errors import ConfigError
from memorybench.models import resolve as R
from memorybench.registry import load_plugin
from memorybench.run import programs
from memorybench.run.executors import pick_run
from memorybench.settings import expand

PLUGIN = Path(__file__).resolve().parents[1] / "examples" / "plugins" / "my_cell.py"


def cfg(model="lstm", seed=0, lr=1e-2, length=6, **train):
    t = {"steps": 40, "eval_every": 20, "batch_size": 16, "n_train": 128, "n_val": 32,
         "n_test": 32, "eval_batch_size": 32, "early_stop": False, "lr": lr, **train}
    return C.RunConfig(C.TaskConfig("adding", {"length": length}), C.ModelConfig(model, units=6),
                       C.TrainConfig(**t), seed)


def _numbers(result):
    """Everything a run computed (its history without the timings, its test scores)."""
    hist = pd.read_csv(result.run_dir / "history.csv").drop(columns="seconds")
    keys = ("test_metric", "test_loss", "score", "solved", "val_metric", "steps_to_solve")
    return hist, {k: result.summary[k] for k in keys}


@pytest.mark.parametrize("model", ["lstm", "ungated", "my_cell"])
def test_a_run_on_a_reused_program_equals_the_same_run_compiled_afresh(model, tmp_path):
    load_plugin(PLUGIN)
    other = mb.run(cfg(model, seed=1, lr=3e-3), tmp_path / "a")  # compiles, then holds
    reused = mb.run(cfg(model, seed=2), tmp_path / "b")
    programs.drop()
    fresh = mb.run(cfg(model, seed=2), tmp_path / "c")
    assert other.summary["training_path"]["program"] == "compiled"
    assert reused.summary["training_path"]["program"] == "reused"
    assert fresh.summary["training_path"]["program"] == "compiled"
    (h1, s1), (h2, s2) = _numbers(reused), _numbers(fresh)
    pd.testing.assert_frame_equal(h1, h2, check_exact=True)  # to the last digit
    assert s1 == s2
    assert not _numbers(other)[0].equals(h1)  # another seed and rate: other numbers


def test_only_a_run_of_the_same_program_reuses_it(tmp_path):
    mb.run(cfg(), tmp_path)
    for changed in (cfg(length=7), cfg(model="gru"), cfg(jit=False), cfg(batch_size=8),
                    cfg(precision="mixed_float16")):
        s = mb.run(changed, tmp_path).summary
        assert s["status"] == "completed" and s["training_path"]["program"] == "compiled"
    mb.run(cfg(precision="mixed_float16", seed=3), tmp_path)  # mixed precision: never held
    assert programs.take(R.resolve(cfg(precision="mixed_float16", seed=4))) is None


def test_a_run_that_fails_drops_the_held_program(tmp_path, monkeypatch):
    mb.run(cfg(), tmp_path)
    assert programs.take(R.resolve(cfg(seed=5))) is not None
    from memorybench.run import train

    def broken(*args, **kwargs):
        raise ValueError("broken pipeline")

    monkeypatch.setattr(train, "train_dataset", broken)
    assert mb.run(cfg(seed=6), tmp_path).status == "failed"
    assert programs.take(R.resolve(cfg(seed=7))) is None


def test_the_program_key_ignores_seed_rate_and_time_limit_only():
    base = R.resolve(cfg())
    same = [dataclasses.replace(base, seed=9),
            dataclasses.replace(base, train=dataclasses.replace(base.train, lr=0.5,
                                                                timeout_s=30.0))]
    assert {programs.program_key(c) for c in same} == {programs.program_key(base)}
    for field, value in (("steps", 60), ("jit", False), ("steps_per_execution", 10),
                         ("clipnorm", 0.0), ("eval_every", 10)):
        other = dataclasses.replace(base, train=dataclasses.replace(base.train, **{field: value}))
        assert programs.program_key(other) != programs.program_key(base), field


def test_auto_is_made_concrete_by_resolve_and_is_in_the_run_id():
    auto = R.resolve(cfg())
    assert auto.train.jit is True and auto.train.steps_per_execution == 20
    assert R.resolve(auto) == auto  # idempotent
    explicit = R.resolve(cfg(jit=True, steps_per_execution=20))
    assert R.run_id(explicit) == R.run_id(auto)  # the path, not how it was asked for
    assert R.run_id(cfg(jit=False)) != R.run_id(auto)
    assert R.run_id(cfg(steps_per_execution=1)) != R.run_id(auto)


def test_on_a_gpu_auto_keeps_cudnn_for_the_lstm_and_xla_for_a_python_cell(monkeypatch):
    monkeypatch.setattr(R, "gpu_visible", lambda: True)
    assert R.resolve(cfg("lstm")).train.jit is False
    assert R.resolve(cfg("lstm_full")).train.jit is True  # keras.layers.RNN: no cuDNN kernel
    assert "cuDNN" in R.jit_off_reason(mb.get_task("adding", length=6), "gru", 6, 1, {})


@pytest.mark.parametrize("raw, want", [
    ("auto", (True, 20)), ("AUTO", (True, 20)), ("true", (True, 20)), ("0", (False, 20)),
])
def test_jit_takes_auto_true_or_false_from_the_key_space(raw, want):
    plan = expand(S.merge_layers(S.profile("smoke"), S.parse_set_items(
        ["tasks=adding", "models=lstm", "lengths=6", f"train.jit={raw}",
         "train.steps_per_execution=auto", "train.eval_every=20", "train.steps=40"])))
    resolved = [R.resolve(c) for c in plan.configs]
    assert {(c.train.jit, c.train.steps_per_execution) for c in resolved} == {want}


def test_bad_path_settings_name_the_choices():
    with pytest.raises(ConfigError, match="true, false or auto"):
        C.check_train(C.TrainConfig(jit="maybe"))
    with pytest.raises(ConfigError, match=r"integer >= 1.*\(or auto\)"):
        C.check_train(C.TrainConfig(steps_per_execution="fast"))
    with pytest.raises(ConfigError, match="multiple of"):
        C.check_train(C.TrainConfig(eval_every=100, steps_per_execution=30))


class _W:
    def __init__(self, key):
        self.key = key


def test_a_worker_gets_the_runs_of_the_program_it_holds_first():
    queue = [("a", 1), ("b", 2), ("a", 3), ("c", 4)]
    w1, w2 = _W("a"), _W(None)
    assert pick_run(queue, w1, [w1, w2]) == 0
    w1.key, w2.key = "c", "b"
    assert pick_run(queue, w1, [w1, w2]) == 3
    # holds nothing that is queued: the first program no other worker holds
    w1.key = "z"
    assert pick_run(queue, w1, [w1, w2]) == 0
    assert pick_run([("b", 2), ("c", 4)], _W("z"), [_W("z"), _W("b")]) == 1
    assert pick_run([("b", 2)], _W("z"), [_W("z"), _W("b")]) == 0  # else the first
