"""One run: artifacts to the schema, early stop, divergence, failure, precision / jit / GPUs."""

from __future__ import annotations

import csv
import json
import re
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from memorybench import config as C
from memorybench.models import resolve as R
from memorybench.run import store
from memorybench.run.train import run

# the summary keys of the artifact schema (a contract with the reports)
SUMMARY_KEYS = {
    "run_id", "status", "reason", "traceback", "task", "length", "task_params", "dataset",
    "model", "units", "layers", "seed", "metric", "higher_is_better", "chance", "solved_at",
    "test_metric", "test_loss", "score", "solved", "steps_trained", "steps_to_solve",
    "seconds_to_solve", "params", "throughput", "wall_seconds", "device", "gpus", "precision",
    "jit", "cudnn_eligible", "versions", "plugins", "started_at", "finished_at", "training_path",
}
TRAIN_KEYS = {"steps", "batch_size", "eval_every", "lr", "optimizer", "clipnorm", "n_train",
              "n_val", "n_test", "precision", "jit", "early_stop", "early_stop_margin"}

PLUGIN = Path(__file__).parent / "plugins" / "faulty.py"


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("MEMORYBENCH_OFFLINE", "1")


@pytest.fixture(scope="module")
def plugin(tmp_path_factory):
    import memorybench as mb

    digest = mb.load_plugin(PLUGIN)
    return str(PLUGIN.resolve()), digest


def tiny(task="adding", length=5, model="gru", units=8, seed=0, **train):
    t = {"steps": 40, "eval_every": 20, "batch_size": 16, "n_train": 256, "n_val": 64,
         "n_test": 128, "eval_batch_size": 128, "lr": 1e-2, **train}
    return C.RunConfig(C.TaskConfig(task, {"length": length}), C.ModelConfig(model, units=units),
                       C.TrainConfig(**t), seed)


def test_a_run_writes_every_artifact_of_the_schema(tmp_path):
    cfg = tiny(early_stop=False)
    res = run(cfg, tmp_path, save_weights=True, tensorboard=True)
    assert res.status == "completed", res.summary.get("traceback")
    folder = tmp_path / "runs" / R.run_id(cfg)
    assert res.run_dir == folder and res.run_id == folder.name
    names = {p.name for p in folder.iterdir()}
    assert {"config.json", "history.csv", "summary.json", "model.weights.h5",
            "tensorboard"} <= names
    assert not [n for n in names if n.startswith(".")]  # no temporary files left

    conf = json.loads((folder / "config.json").read_text())
    assert conf["task"] == {"name": "adding", "params": {"length": 5, "variant": "half"}}
    assert conf["model"] == {"name": "gru", "units": 8, "layers": 1, "param_budget": None,
                             "params": {}}
    assert TRAIN_KEYS <= set(conf["train"]) and conf["seed"] == 0
    assert isinstance(conf["plugins"], dict) and conf["memorybench_version"]
    assert R.run_id(C.from_dict(conf)) == res.run_id

    with open(folder / "history.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["step", "seconds", "train_loss", "val_loss", "val_metric",
                             "val_score"]
    assert [float(r["step"]) for r in rows] == [20.0, 40.0]
    assert 0 < float(rows[0]["seconds"]) < float(rows[1]["seconds"])

    s = json.loads((folder / "summary.json").read_text())
    assert SUMMARY_KEYS <= set(s)
    assert store.is_complete(folder) and store.load_summary(folder) == s
    assert s["status"] == "completed" and s["reason"] is None and s["traceback"] is None
    assert (s["task"], s["length"], s["model"], s["units"], s["seed"]) == (
        "adding", 5, "gru", 8, 0)
    assert s["dataset"] == "synthetic" and s["metric"] == "mse"
    assert s["higher_is_better"] is False and s["chance"] == pytest.approx(1 / 6)
    assert s["steps_trained"] == 40 and isinstance(s["solved"], bool)
    assert s["score"] == pytest.approx(1 - s["test_metric"] / (1 / 6))
    assert s["params"] > 0 and s["throughput"] > 0 and s["wall_seconds"] > 0
    assert s["device"].startswith(("CPU", "GPU")) and isinstance(s["gpus"], list)
    # the default training path: XLA (no GPU here), one program call per evaluation interval
    assert s["precision"] == "float32" and s["jit"] is True and s["cudnn_eligible"] is True
    assert s["training_path"] == {"jit": True, "steps_per_execution": 20, "program": "compiled",
                                  "note": None}
    assert conf["train"]["jit"] is True and conf["train"]["steps_per_execution"] == 20
    assert set(s["versions"]) >= {"python", "memorybench", "keras", "tensorflow", "numpy",
                                  "backend"}
    assert datetime.fromisoformat(s["finished_at"]) >= datetime.fromisoformat(s["started_at"])

    # the saved weights reproduce the test metric
    import memorybench as mb

    task = mb.get_task("adding", length=5)
    model = mb.build_model(task, "gru", units=8)
    model.load_weights(str(folder / "model.weights.h5"))
    x, y = task.data("test", n=128, seed=0)
    metric = task.evaluate(y, model.predict(x, verbose=0))["metric"]
    assert metric == pytest.approx(s["test_metric"], rel=1e-4)
    assert any((folder / "tensorboard").rglob("*tfevents*"))


@pytest.mark.parametrize("model", ["gru", "test_raise"])
def test_the_summary_is_written_last(tmp_path, monkeypatch, plugin, model):
    """The store's promise: ``summary.json`` marks a run complete (resume skips it), so every
    other artifact is on disk before it, for completed and failed runs alike."""
    written = []
    real = store.write_bytes

    def recording(path, data):
        real(path, data)
        written.append(Path(path).name)

    monkeypatch.setattr(store, "write_bytes", recording)
    res = run(tiny(model=model, steps=20, eval_every=20), tmp_path)
    assert res.status == ("completed" if model == "gru" else "failed")
    assert written[0] == store.CONFIG and written[-1] == store.SUMMARY
    assert written.count(store.SUMMARY) == 1 and store.HISTORY in written


def test_a_run_that_dies_before_its_summary_reads_as_incomplete(tmp_path, monkeypatch):
    """A crash while the history is written (the step before the summary) leaves a run that a
    resumed sweep does again: no summary, so not complete."""
    def crash(*a, **k):
        raise KeyboardInterrupt("killed while writing history.csv")

    monkeypatch.setattr(store, "write_csv", crash)
    cfg = tiny(steps=20, eval_every=20)
    with pytest.raises(KeyboardInterrupt):
        run(cfg, tmp_path)
    folder = tmp_path / "runs" / R.run_id(cfg)
    assert (folder / store.CONFIG).is_file() and not (folder / store.SUMMARY).exists()
    assert not store.is_complete(folder)


def test_early_stop_when_the_validation_metric_is_solved(tmp_path):
    cfg = tiny("delayed_xor", length=4, model="lstm", units=16, steps=600, eval_every=50,
               batch_size=32, n_train=1024, n_val=256, n_test=256)
    s = run(cfg, tmp_path).summary
    assert s["status"] == "completed"
    assert s["steps_to_solve"] is not None and s["steps_trained"] == s["steps_to_solve"] < 600
    assert 0 < s["seconds_to_solve"] and s["solved"] is True and s["test_metric"] >= 0.99
    hist = store.load_history(tmp_path / "runs" / s["run_id"])
    assert hist[-1]["step"] == s["steps_to_solve"] and hist[-1]["val_metric"] >= 0.99
    assert all(h["val_metric"] < 0.99 for h in hist[:-1])


class _Scripted:
    """A stand-in for the Keras model under training: its validation predictions are given."""

    def __init__(self, preds):
        self.preds, self.stop_training = list(preds), False

    def predict(self, ds, verbose=0):
        return self.preds.pop(0)


@pytest.mark.parametrize("margin, stops_at", [(0.0, 40), (0.5, 60)])
def test_early_stop_waits_for_the_margin_in_the_training_loop(margin, stops_at):
    """The epoch-end monitor stops at the first solved validation metric with no margin; with
    ``train.early_stop_margin=0.5`` (accuracy: 0.99 + 0.01 * 0.5 = 0.995) it goes on past a
    solved 0.992 and stops at 0.996. Driven by scripted predictions: no training, seconds."""
    pytest.importorskip("keras")
    import memorybench as mb
    from memorybench.run.train import _monitor, _Progress

    task = mb.get_task("delayed_xor", length=4)
    _, y = task.data("val", n=1000, seed=0)
    labels = y.reshape(-1)

    def with_wrong(k):  # class probabilities, the first k sequences answered wrong
        p = np.eye(2, dtype=np.float32)[labels]
        p[:k] = p[:k, ::-1]
        return p

    tc = C.TrainConfig(steps=80, eval_every=20, early_stop_margin=margin)
    rec = _Progress()
    monitor = _monitor(task, y, None, tc, rec, "rid", None)
    model = _Scripted([with_wrong(k) for k in (500, 8, 4, 0)])  # 0.5, 0.992, 0.996, 1.0
    monitor.set_model(model)
    monitor.on_train_begin()
    for epoch in range(4):
        monitor.on_epoch_end(epoch, {"loss": 0.1})
        if model.stop_training:
            break
    assert rec.steps_to_solve == 40  # solved at 0.992 either way
    assert rec.steps_trained == stops_at
    assert [h["val_metric"] for h in rec.history][-1] == (0.992 if stops_at == 40 else 0.996)


def test_nan_cell_diverges_with_the_reason(tmp_path, plugin):
    path, digest = plugin
    res = run(tiny(model="test_nan"), tmp_path)
    s = res.summary
    assert res.status == s["status"] == "diverged"
    assert "loss became nan by step 20" in s["reason"]
    assert s["test_metric"] is None and s["score"] is None and s["solved"] is False
    assert s["steps_trained"] == 20 and s["plugins"][path] == digest
    conf = store.load_config(res.run_dir)
    assert conf["code"] == {"model": digest}  # the plugin's hash is part of the run id


def test_raising_cell_fails_with_the_traceback_stored(tmp_path, plugin):
    res = run(tiny(model="test_raise"), tmp_path)
    s = store.load_summary(res.run_dir)
    assert s["status"] == "failed" and "boom from the test cell" in s["reason"]
    assert "Traceback" in s["traceback"] and "RuntimeError" in s["traceback"]
    assert s["test_metric"] is None


def _schema_summary_keys() -> set[str]:
    """The summary keys documented in ``memorybench/run/store.py`` (never dropped)."""
    doc = store.__doc__
    section = doc[doc.index("``summary.json``"):doc.index("Optional:")]
    return set(re.findall(r'"(\w+)":', section))


def test_the_documented_schema_is_the_one_tested():
    assert SUMMARY_KEYS < _schema_summary_keys()


def _fail_in_run(tmp_path, monkeypatch):
    # fails inside the run, before any training: its optimizer cannot be made (a batch larger
    # than the training set, used here before, is now refused before the run: issue 11)
    from memorybench.run import train as train_module

    def broken(tc):
        raise ValueError("no optimizer for this run")

    monkeypatch.setattr(train_module, "make_optimizer", broken)
    return run(tiny(), tmp_path)


def _fail_out_of_run(tmp_path, monkeypatch):
    # ``run`` itself raises (its history cannot be written): the sweep's job records the run
    from memorybench.run.sweep import RunJob

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store, "write_csv", disk_full)
    return RunJob(tmp_path)(R.resolve(tiny()))


def _fail_in_a_worker(tmp_path, monkeypatch):
    # a Ray task that did not come back: the driver records the run
    from memorybench.run.ray_executor import write_crash

    return write_crash(tmp_path, R.resolve(tiny()), MemoryError("worker ran out of memory"), 1.5)


@pytest.mark.parametrize("fail, reason", [
    (_fail_in_run, "ValueError: no optimizer for this run"),
    (_fail_out_of_run, "OSError: [Errno 28] No space left on device"),
    (_fail_in_a_worker, "the Ray task did not come back: MemoryError: worker ran out of memory"),
])
def test_a_failed_run_has_every_schema_key_wherever_it_failed(tmp_path, monkeypatch, fail,
                                                              reason):
    res = fail(tmp_path, monkeypatch)
    s = store.load_summary(tmp_path / "runs" / res.run_id)
    assert res.status == s["status"] == "failed" and res.summary == s
    assert _schema_summary_keys() <= set(s)
    assert s["reason"].startswith(reason) and reason.rsplit(": ", 1)[-1] in s["traceback"]
    assert (s["task"], s["length"], s["model"], s["units"], s["seed"]) == ("adding", 5, "gru", 8, 0)
    assert s["metric"] == "mse" and s["score"] is None and s["solved"] is False
    assert set(s["versions"]) >= {"python", "memorybench", "numpy", "backend"}
    assert store.load_config(res.run_dir)["model"]["name"] == "gru"


# a fused built-in layer and a Python cell inside keras.layers.RNN (every model under XLA and
# mixed precision: tests/test_contract.py)
@pytest.mark.parametrize("model", ["simple_rnn", "lstm_full"])
def test_precision_and_jit_are_applied_during_the_run_and_restored(tmp_path, model):
    import keras

    seen = {}

    class Probe(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            seen["global"] = keras.config.dtype_policy().name
            rnns = [la for la in self.model.layers if isinstance(la, keras.layers.RNN)]
            seen["rnn"] = [la.dtype_policy.name for la in rnns]
            seen["cells"] = [la.cell.dtype_policy.name for la in rnns]
            seen["head"] = self.model.get_layer("head").dtype_policy.name
            seen["jit"] = self.model.jit_compile
            seen["optimizer"] = type(self.model.optimizer).__name__

        def on_train_batch_end(self, batch, logs=None):
            seen["loss"] = logs.get("loss") if logs else None

    before = keras.config.dtype_policy().name
    s = run(tiny(model=model, units=4, steps=2, eval_every=2, precision="mixed_float16",
                 jit=False), tmp_path, callbacks=[Probe()]).summary
    assert s["status"] == "completed", s["traceback"]
    assert s["precision"] == "mixed_float16"
    assert seen["global"] == "mixed_float16"
    assert seen["rnn"] == seen["cells"] == ["mixed_float16"]
    assert seen["head"] == "float32"
    assert seen["optimizer"] == "LossScaleOptimizer"  # Keras scales the loss under float16
    assert seen["jit"] is False
    assert keras.config.dtype_policy().name == before == "float32"
    assert s["test_metric"] is not None and np.isfinite(s["test_metric"])

    s = run(tiny(model=model, units=4, steps=2, eval_every=2, jit=True), tmp_path,
            callbacks=[Probe()]).summary
    assert s["status"] == "completed", s["traceback"]
    assert s["jit"] is True and seen["jit"] is True
    assert seen["global"] == "float32" and seen["rnn"] == seen["cells"] == ["float32"]
    assert seen["optimizer"] != "LossScaleOptimizer"


def test_gpus_get_memory_growth(monkeypatch):
    import tensorflow as tf

    from memorybench.run import train

    fake = [tf.config.PhysicalDevice("/physical_device:GPU:0", "GPU"),
            tf.config.PhysicalDevice("/physical_device:GPU:1", "GPU")]
    calls = []
    monkeypatch.setattr(tf.config, "list_physical_devices",
                        lambda kind=None: fake if kind == "GPU" else [])
    monkeypatch.setattr(tf.config.experimental, "set_memory_growth",
                        lambda dev, on: calls.append((dev.name, on)))
    monkeypatch.setattr(tf.config.experimental, "get_device_details",
                        lambda dev: {"device_name": f"Fake H100 {dev.name[-1]}"})
    names = train.configure_gpus()
    assert calls == [("/physical_device:GPU:0", True), ("/physical_device:GPU:1", True)]
    assert names == ["Fake H100 0", "Fake H100 1"]
    assert train.device_name(names) == "GPU: Fake H100 0, Fake H100 1"


def test_finite_datasets_give_at_most_their_split():
    import memorybench as mb
    from memorybench.run.train import split_data

    task = mb.get_task("sequential_mnist", pixels_per_step=28)
    x_all, _ = task.data("val", n=None, seed=0)
    x, y = split_data(task, "val", 10**9, seed=0)
    assert len(x) == len(x_all) == len(y)
    x, y = split_data(task, "val", 32, seed=0)
    assert x.shape == (32, 28, 28) and np.array_equal(x, task.data("val", n=32, seed=0)[0])
