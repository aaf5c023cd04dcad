"""One validation for every command (issue 26, points 14 and 17-20): a value is checked where
it is given, the memory estimate counts what a run holds, a model is probed before any run is
written, lengths work for every task with a length, and bad input is one line, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from memorybench import settings as S
from memorybench.cli import main
from memorybench.errors import ConfigError


def cli(args, command="run") -> int:
    with pytest.raises(SystemExit) as exc:
        main([command, *map(str, args)])
    return exc.value.code


def one_line_error(capsys, message: str) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and message in err, err
    return err


# -- point 17: a value is validated wherever it is given; an overridden one is noted ----------
@pytest.mark.parametrize("item", ["train.steps=-5", "train.steps=0", "train.lr=-1",
                                  "train.optimizer=adamm", "lstm.train.batch_size=0",
                                  "adding.train.timeout_s=-1"])
def test_a_bad_training_value_is_refused_even_where_a_narrower_key_overrides_it(item):
    # bai2018 sets adding.train.steps / lr / optimizer / batch_size: the global value is unused
    with pytest.raises(ConfigError, match=item.partition("=")[0].replace(".", r"\.")):
        S.plan("bai2018", tasks="adding", models="lstm", sets=[item, "lstm.train.timeout_s=5"])


def test_an_overridden_value_is_noted_in_one_line(tmp_path, capsys):
    p = S.plan("bai2018", tasks="adding,copy_memory", models="lstm", sets=["train.steps=500"])
    assert {c.train.steps for c in p.configs} == {15_625}
    assert p.notes == ["train.steps=500 is used by no run of this sweep: overridden by "
                       "adding.train.steps=15625, copy_memory.train.steps=15625"]
    p = S.plan("quick", sets=["train.steps=500"])  # copy_memory.train.steps=3000 wins there
    assert p.notes == ["train.steps=500 is overridden for copy_memory by "
                       "copy_memory.train.steps=3000"]
    p = S.plan("quick", lrs="1e-3,3e-3", sets=["train.lr=0.01"])
    assert p.notes == ["train.lr=0.01 is used by no run of this sweep: overridden by "
                       "train.lrs=0.001,0.003"]
    # a profile's own overrides (quick: train.steps, copy_memory.train.steps) are no news
    assert S.plan("quick").notes == [] and S.plan("quick", lrs="1e-3,3e-3").notes == []
    assert cli(["--profile", "bai2018", "--tasks", "adding", "--models", "lstm", "--set",
                "train.steps=500", "--out", tmp_path / "r", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert ("note: train.steps=500 is used by no run of this sweep: overridden by "
            "adding.train.steps=15625\n") in out
    assert cli(["--profile", "bai2018", "--tasks", "adding", "--models", "lstm", "--set",
                "train.steps=-5", "--out", tmp_path / "r", "--dry-run"]) == 2
    one_line_error(capsys, "train.steps must be an integer >= 1, got -5")
    assert not (tmp_path / "r").exists()


def test_horizon_refuses_a_bad_value_that_a_narrower_key_overrides(tmp_path, capsys):
    assert cli(["--tasks", "adding", "--models", "lstm", "--base-length", "10",
                "--max-length", "20", "--set", "train.steps=0", "--set", "adding.train.steps=100",
                "--out", tmp_path / "r", "--dry-run"], "horizon") == 2
    one_line_error(capsys, "train.steps must be an integer >= 1, got 0")


# -- point 14: the memory estimate counts the embedding, the output over the vocabulary and the
# extra test lengths
SMALL = ["train.steps=20", "train.eval_every=10", "train.batch_size=8", "train.n_train=16",
         "train.n_val=8", "train.n_test=8", "train.eval_batch_size=8", "model.units=8"]


def test_a_huge_vocabulary_is_refused_before_a_run_starts(monkeypatch):
    monkeypatch.setenv("MEMORYBENCH_MAX_RUN_GB", "1")
    base = dict(tasks="mqar", models="lstm", lengths="16", sets=SMALL)
    S.plan("smoke", **base)  # the default vocabulary fits
    # 10^7 ids x 8 units: the embedding and the output layer, with Adam, 2.6 GB; the
    # predictions of 8 sequences x 16 steps over 10^7 classes 5 GB (what died with an OOM)
    with pytest.raises(ConfigError, match=r"mqar .* would need about .*predictions 5\.12 GB.*"
                                          r"more than the limit 1 GB.*vocab_size"):
        S.plan("smoke", **{**base, "sets": [*SMALL, "mqar.vocab_size=10000000"]})
    from memorybench.config import TrainConfig
    from memorybench.models.resolve import estimate_memory
    from memorybench.tasks import get_task

    spec = get_task("mqar", length=16, vocab_size=10_000_000).spec
    parts = estimate_memory(spec, 8, 1, TrainConfig(n_train=16, n_val=8, n_test=8))
    assert parts["parameters"] > 16 * 2 * 10_000_000 * 8  # embedding + output layer, x4 x4 B


def test_an_eval_length_whose_data_would_not_fit_is_refused(tmp_path, capsys):
    base = ["--profile", "smoke", "--tasks", "induction_heads", "--models", "lstm",
            "--lengths", "16", *[a for s in SMALL for a in ("--set", s)],
            "--out", tmp_path / "r", "--dry-run"]
    assert cli([*base, "--set", "induction_heads.eval_lengths=32,64"]) == 0
    capsys.readouterr()
    assert cli([*base, "--set", "induction_heads.eval_lengths=64,100000000000"]) == 2
    one_line_error(capsys, "eval lengths")
    assert not (tmp_path / "r").exists()


# -- point 19: noisy_cifar's length is set like any other task's ------------------------------
def _cifar(folder):
    from test_cifar import _images, write_py  # the official python batches, written here

    return write_py(folder, _images())


def test_noisy_cifar_takes_lengths_like_other_tasks(tmp_path, capsys):
    from memorybench.tasks import cifar_sources as cs

    cs.clear_cache()
    src = f"noisy_cifar.source={_cifar(tmp_path / 'cifar-10-batches-py')}"
    small = [*SMALL, "train.n_train=16"]
    p = S.plan("smoke", tasks="noisy_cifar", models="lstm", lengths="40,64", sets=[src, *small])
    assert [c.task.params["length"] for c in p.configs] == [40, 64]
    assert not [n for n in p.notes if "ignored" in n or "fixed" in n], p.notes
    p = S.plan("smoke", tasks="noisy_cifar", models="lstm", sets=[src, *small,
                                                                 "noisy_cifar.lengths=48"])
    assert [c.task.params["length"] for c in p.configs] == [48]
    with pytest.raises(ConfigError, match=r"noisy_cifar\.length: set lengths with --lengths or "
                                          r"noisy_cifar\.lengths"):
        S.plan("smoke", tasks="noisy_cifar", models="lstm", sets=[src, "noisy_cifar.length=40"])
    with pytest.raises(ConfigError, match="length=20 is too small; allowed: >= 32"):
        S.plan("smoke", tasks="noisy_cifar", models="lstm", lengths="20", sets=[src, *small])
    # MNIST's length is set by pixels_per_step: lengths are ignored, and the note says why
    p = S.plan("smoke", tasks="sequential_mnist", models="lstm", lengths="40", sets=small)
    assert p.notes == ["lengths are ignored for sequential_mnist: its length is set by "
                       "sequential_mnist.pixels_per_step (28 steps)"]
    with pytest.raises(ConfigError, match="set by sequential_mnist.pixels_per_step"):
        S.plan("smoke", tasks="sequential_mnist", models="lstm",
               sets=["sequential_mnist.length=784"])
    assert cli(["--profile", "smoke", "--tasks", "noisy_cifar", "--models", "lstm", "--lengths",
                "40", "--set", src, *[a for s in small for a in ("--set", s)],
                "--out", tmp_path / "r", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "note:" not in out and "noisy_cifar        L=40 " in out, out


# -- point 18: a plugin model is probed once, before any run is written ------------------------
PLUGIN = '''
import keras
from keras import ops
import memorybench as mb


class _Cell(keras.layers.Layer):
    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = units
        self.output_size = units

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units), name="w")

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@mb.register_cell("ov_good")
class Good(_Cell):
    def call(self, inputs, states, training=False):
        h = ops.tanh(ops.matmul(inputs, self.w) + states[0])
        return h, [h]


@mb.register_cell("ov_wide_state")
class WideState(_Cell):
    def call(self, inputs, states, training=False):
        h = ops.matmul(inputs, self.w)
        return h, [ops.concatenate([h, h], -1)]  # twice as wide as state_size


@mb.register_cell("ov_exit_build")
class ExitOnBuild(_Cell):
    def build(self, input_shape):
        import os

        os._exit(9)  # a crash while building: its run records it, the probe must survive it


@mb.register_model("ov_none")
def none_factory(spec, units, return_sequences=False, **params):
    return None
'''


@pytest.fixture(scope="module")
def plugin(tmp_path_factory):
    """One file for the module: a name may be registered by one plugin file only."""
    f = tmp_path_factory.mktemp("ov") / "ov_plugin.py"
    f.write_text(PLUGIN)
    return f


TINY = ["--profile", "smoke", "--tasks", "adding,delayed_xor", "--lengths", "5", "--seeds", "3",
        *[a for s in SMALL for a in ("--set", s)]]


@pytest.mark.parametrize("model, message", [
    ("ov_wide_state", "returned output (None, 8) and states [(None, 16)], expected (None, 8) "
                      "and [(None, 8)]"),
    ("ov_none", "model 'ov_none' returned NoneType"),
])
def test_a_broken_plugin_model_is_refused_before_any_run_is_written(tmp_path, capsys, model,
                                                                      message, plugin):
    out = tmp_path / "r"
    for extra in (["--dry-run"], ["--workers", "1"]):
        assert cli([*TINY, "--models", f"lstm,{model}", "--plugin", plugin, "--out", out,
                    *extra]) == 2
        one_line_error(capsys, message)
        assert not out.exists()  # was: the lstm runs trained, then 6 failed runs, exit 1


def test_the_probe_builds_each_plugin_model_once_and_no_builtin(plugin, monkeypatch):
    from memorybench.models import build
    from memorybench.registry import load_plugin

    load_plugin(plugin)
    built = []
    real = build.build_model
    monkeypatch.setattr(build, "build_model",
                        lambda task, name, **kw: built.append(name) or real(task, name, **kw))
    p = S.plan("smoke", tasks="adding,delayed_xor", lengths="5,6", seeds=3,
               models="lstm,gru,ov_good", sets=SMALL)
    assert len(p.configs) == 2 * 2 * 3 * 3
    assert built == ["ov_good"]


# -- point 20: the smaller ones ---------------------------------------------------------------
def test_bad_cifar_labels_are_refused_before_the_card_or_any_run(tmp_path, capsys):
    from test_cifar import _images, write_bin

    from memorybench.tasks import cifar_sources as cs

    cs.clear_cache()
    batches = _images()
    batches[2] = (batches[2][0], batches[2][1] * 0 + 12)  # data_batch_3: labels out of 0..9
    folder = write_bin(tmp_path / "cifar-10-batches-bin", batches)
    assert cli(["show", "noisy_cifar", "--length", "40", "--set", f"source={folder}"],
               "task") == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # was: the card up to the sample, then the error, exit 0
    assert captured.err == f"error: {folder}/data_batch_3.bin: labels 12..12; expected 0..9\n"
    assert cli(["--profile", "smoke", "--tasks", "noisy_cifar", "--models", "lstm", "--lengths",
                "40", "--set", f"noisy_cifar.source={folder}",
                *[a for s in SMALL for a in ("--set", s)], "--out", tmp_path / "r",
                "--workers", "1"]) == 2  # was: a failed run, exit 1
    one_line_error(capsys, "labels 12..12; expected 0..9")
    assert not (tmp_path / "r").exists()


def test_horizon_on_noisy_cifar_without_data_says_it_is_not_searchable(tmp_path, capsys,
                                                                        monkeypatch):
    from memorybench.tasks import cifar_sources as cs

    monkeypatch.delenv("MEMORYBENCH_CIFAR10", raising=False)
    cs.clear_cache()
    for extra in (["--dry-run"], []):
        assert cli(["--tasks", "noisy_cifar", "--models", "lstm", "--out", tmp_path / "h",
                    *extra], "horizon") == 2
        # was: "no CIFAR-10 source (...)": the data, not that the task has no threshold
        err = one_line_error(capsys, "task 'noisy_cifar' has no solved threshold or no length "
                                     "to search; the horizon search takes tasks with both: ")
        assert "CIFAR" not in err and "Warning" not in err
        assert not (tmp_path / "h").exists()


def test_a_plugin_folder_is_named_a_folder(tmp_path, capsys):
    (tmp_path / "pkg").mkdir()
    assert cli(["models", "--plugin", tmp_path / "pkg"], "list") == 2
    # was: "plugin file '...' does not exist"
    one_line_error(capsys, f"plugin {str(tmp_path / 'pkg')!r} is a folder; give the plugin's "
                           ".py file")
    assert cli(["models", "--plugin", tmp_path / "nothing.py"], "list") == 2
    one_line_error(capsys, "does not exist")


def test_a_study_record_with_a_bad_element_names_the_element(tmp_path):
    import json

    from memorybench.run import store

    (tmp_path / store.STUDY_RECORD).write_text(json.dumps({"name": "s", "models": ["lstm", 3]}))
    notes: list[str] = []
    assert store.load_study(tmp_path, warn=notes.append) is None
    # was: "'models' must be list or null, got \"['lstm', 3]\"": it is a list
    assert len(notes) == 1 and notes[0].endswith(
        "'models' must be a list of strings, got int '3' at index 1"), notes


def test_retracing_and_plotting_warnings_stay_off_a_quiet_terminal(monkeypatch):
    import logging
    import warnings

    from memorybench.quiet import quiet_tensorflow

    tf_log = logging.getLogger("tensorflow")
    monkeypatch.setattr(tf_log, "level", tf_log.level)  # put back after the test
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "3")
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        quiet_tensorflow(False)
        for message, module in [
            ("Glyph 8238 (\\N{RIGHT-TO-LEFT OVERRIDE}) missing from font(s) DejaVu Sans.",
             "memorybench.report.plots"),  # matplotlib's warn_external names its caller
            ("The palette list has more values (10) than needed (3)", "seaborn.categorical"),
            ("Tight layout not applied", "matplotlib.figure"),
            ("skipping search record a.json: not valid JSON", "memorybench.report.html"),
        ]:
            warnings.warn_explicit(message, UserWarning, "f.py", 1, module=module)
    # was: all four shown, and TensorFlow's "... triggered tf.function retracing" lines
    assert [str(w.message) for w in seen] == ["skipping search record a.json: not valid JSON"]
    assert not tf_log.isEnabledFor(logging.WARNING) and tf_log.isEnabledFor(logging.ERROR)


def test_the_probe_leaves_a_plugin_that_ends_the_process_to_its_run(monkeypatch, plugin):
    import os

    from memorybench.registry import load_plugin

    load_plugin(plugin)  # ov_exit_build: os._exit(9) in build()
    load_plugin(Path(__file__).parent / "plugins" / "faulty.py")  # test_crash: os._exit(3) in
    real = os._exit  # the factory; test_raise raises in training
    monkeypatch.delenv("MEMORYBENCH_PROBE", raising=False)
    p = S.plan("smoke", tasks="adding", lengths="5", sets=SMALL,
               models="ov_exit_build,test_crash,test_raise,test_tiny")
    assert [c.model.name for c in p.configs] == ["ov_exit_build", "test_crash", "test_raise",
                                                 "test_tiny"]  # their runs record what happens
    assert os._exit is real and "MEMORYBENCH_PROBE" not in os.environ
