"""The cell / model contract, checked for every registered name and for a plugin-file cell.

For each name: a model per head kind (adding = regression, delayed_xor marked = last,
copy_memory = every_step, plus sequential MNIST by rows when that task exists) has the right
output shapes; one training step on each task gives a finite loss and moves the recurrent
weights; ``get_config`` round-trips (and holds exactly the ``__init__`` arguments); a saved
``.keras`` file loads without ``custom_objects`` and predicts the same. A new cell is covered
the moment it registers. Tiny sizes (8 units, batch 4, length 10) keep the suite fast: each
model is built once and reused by every check, the steps run eagerly except one traced
``train_on_batch`` per name (proving the cell also works inside a compiled graph).

The GPU paths, on the CPU: for each name, one SGD step under XLA (``jit_compile=True``) gives
the eager step's loss and weight updates within ``XLA_RTOL`` / ``XLA_ATOL``, and one step under
``mixed_bfloat16`` and ``mixed_float16`` (eager) keeps the head float32, computes the sequence
layers in the policy's dtype and gives the float32 loss within ``MIXED_RTOL``. A name that
declares a mode unsupported (``unsupported_modes`` on its cell class or model factory) is
instead checked to be refused when its run is configured. These add about 100 s to this file's
200 s on 2 shared CPU cores, nearly all of it XLA compiling one training step per name.
"""

import contextlib
import dataclasses
import importlib.util
import inspect
import os
from pathlib import Path

import numpy as np
import pytest

import memorybench as mb
from memorybench.cli import main as cli_main
from memorybench.errors import ConfigError
from memorybench.models import model_entry, model_names
from memorybench.models.resolve import resolve as resolve_config
from memorybench.registry import load_plugin

keras = pytest.importorskip("keras")

from memorybench.models.build import build_model, loss_for  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = ROOT / "examples" / "plugins" / "my_cell.py"
load_plugin(PLUGIN)  # registers "my_cell" before the names are collected

UNITS, BATCH, LENGTH = 8, 4, 10
HEADS = {  # head kind -> (task name, parameters)
    "regression": ("adding", {"length": LENGTH}),
    "last": ("delayed_xor", {"length": LENGTH}),
    "every_step": ("copy_memory", {"length": LENGTH}),
}
if importlib.util.find_spec("memorybench.tasks.mnist") is not None:
    HEADS["mnist_rows"] = ("sequential_mnist", {"pixels_per_step": 28})
GRAPH_HEAD = "every_step"  # the one head whose training step is traced, not eager

NAMES = sorted(set(model_names()) | {"my_cell"})

pytestmark = [
    pytest.mark.filterwarnings("ignore:MNIST:UserWarning"),  # offline: the 5k subset, on purpose
    # Keras' own numpy conversion under numpy 2; nothing the cells do
    pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning"),
]


@contextlib.contextmanager
def _offline():
    """MNIST's spec resolves its data source: never let a test probe the network for it."""
    old = os.environ.get("MEMORYBENCH_OFFLINE")
    os.environ["MEMORYBENCH_OFFLINE"] = "1"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("MEMORYBENCH_OFFLINE", None)
        else:
            os.environ["MEMORYBENCH_OFFLINE"] = old


def _batch(task, seed=0):
    spec = task.spec
    if spec.dataset == "synthetic":
        return task.data("train", n=BATCH, seed=seed)
    # real data is not the point here: pixels and labels of the right shapes
    rng = np.random.default_rng(seed)
    x = rng.random((BATCH, spec.steps, spec.input_dim), dtype=np.float32)
    return x, rng.integers(0, spec.n_classes, BATCH).astype(np.int32)


class Built:
    """One name's models, one per head kind, built once and shared by every check."""

    def __init__(self, name):
        self.name = name
        self.models, self.specs, self.batches = {}, {}, {}
        for head, (task_name, params) in HEADS.items():
            with _offline():
                task = mb.get_task(task_name, **params)
                self.specs[head] = task.spec
                self.batches[head] = _batch(task)
                keras.utils.set_random_seed(0)
                self.models[head] = build_model(task, name, units=UNITS)


@pytest.fixture(scope="module")
def built():
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = Built(name)  # a failure here fails each check of this name
        return cache[name]

    return get


def _expected_shape(spec):
    if spec.output == "regression":
        return (None, spec.out_dim)
    if spec.output == "last":
        return (None, spec.n_classes)
    return (None, spec.steps, spec.n_classes)


def _sequence_layers(model):
    return model.layers[1:-1]  # between the input and the head


@pytest.mark.parametrize("name", NAMES)
def test_output_shapes_for_every_head(name, built):
    b = built(name)
    for head, model in b.models.items():
        spec = b.specs[head]
        assert model.output_shape == _expected_shape(spec), head
        x, _ = b.batches[head]
        y = np.asarray(model(x, training=False))
        assert y.shape == (BATCH, *_expected_shape(spec)[1:]), head
        assert np.all(np.isfinite(y)), head


@pytest.mark.parametrize("name", NAMES)
def test_one_training_step_gives_a_finite_loss_and_moves_the_weights(name, built):
    b = built(name)
    for head, model in b.models.items():
        spec = b.specs[head]
        model.compile(optimizer=keras.optimizers.Adam(1e-2), loss=loss_for(spec),
                      jit_compile=False, run_eagerly=head != GRAPH_HEAD)
        before = [w.numpy().copy() for layer in _sequence_layers(model) for w in layer.weights]
        x, y = b.batches[head]
        loss = model.train_on_batch(x, y)
        loss = float(loss[0] if isinstance(loss, (list, tuple)) else loss)
        assert np.isfinite(loss), head
        after = [w.numpy() for layer in _sequence_layers(model) for w in layer.weights]
        assert before, f"{name}: the sequence layer has no weights"
        assert any(not np.array_equal(a, c) for a, c in zip(before, after, strict=True)), (
            f"{name} ({head}): no recurrent weight changed in a training step"
        )


def _config_objects(model):
    """The objects whose config must round-trip: each cell, or the model factory's layer."""
    for layer in _sequence_layers(model):
        yield getattr(layer, "cell", None) or layer


@pytest.mark.parametrize("name", NAMES)
def test_get_config_round_trip(name, built):
    base = set(keras.layers.Layer().get_config())
    for obj in _config_objects(built(name).models["every_step"]):
        cls = type(obj)
        config = obj.get_config()
        assert cls.from_config(config).get_config() == config
        if cls.__module__.split(".")[0] == "keras":
            continue  # Keras' own layers (the fused LSTM / GRU) follow Keras' conventions
        params = [p.name for p in inspect.signature(cls.__init__).parameters.values()
                  if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and p.name != "self"]
        assert set(config) - base == set(params), (
            f"{cls.__name__}.get_config() must return exactly its __init__ arguments"
        )


@pytest.mark.parametrize("name", NAMES)
def test_keras_save_and_load_without_custom_objects(name, built, tmp_path):
    b = built(name)
    kind, entry = model_entry(name)
    for head, model in b.models.items():
        x, _ = b.batches[head]
        path = tmp_path / f"{head}.keras"
        model.save(path)
        loaded = keras.saving.load_model(path)
        np.testing.assert_allclose(np.asarray(loaded(x, training=False)),
                                   np.asarray(model(x, training=False)), rtol=1e-6, atol=1e-7)
        if kind == "cell":
            assert type(_sequence_layers(loaded)[0].cell) is entry.obj


# -- token inputs (issue 13): an Embedding in front of every cell and model --------------------
TOKEN_TASK = ("selective_copy", {"length": 8, "n_tokens": 2, "vocab_size": 6})


@pytest.mark.parametrize("name", NAMES)
def test_token_inputs_pass_through_an_embedding(name):
    """Token tasks feed integer ids: the builder embeds them (width = units) for every name, the
    model maps (batch, T) ids to the head, and the loss has a finite, non-zero gradient for the
    embedding and for the sequence layer (what a training step needs; a gradient, not a step,
    keeps this at ~0.3 s a name)."""
    import tensorflow as tf

    task = mb.get_task(TOKEN_TASK[0], **TOKEN_TASK[1])
    keras.utils.set_random_seed(0)
    model = build_model(task, name, units=UNITS)
    emb = [la for la in model.layers if isinstance(la, keras.layers.Embedding)]
    assert len(emb) == 1 and (emb[0].input_dim, emb[0].output_dim) == (6, UNITS)
    x, y = task.data("train", n=BATCH, seed=0)
    assert np.issubdtype(x.dtype, np.integer) and x.shape == (BATCH, 8)
    seq = [la for la in model.layers[1:] if la.trainable_weights and la.name != "head"
           and la is not emb[0]]
    assert seq, f"{name}: no sequence layer with weights"
    weights = emb[0].trainable_weights + [w for la in seq for w in la.trainable_weights]
    with tf.GradientTape() as tape:
        out = model(x, training=True)
        loss = loss_for(task.spec)(y, out)
    assert tuple(out.shape) == (BATCH, 8, 6) and np.isfinite(float(loss))
    grads = tape.gradient(loss, weights)
    assert grads[0] is not None and np.any(np.asarray(grads[0]) != 0), (
        f"{name}: no gradient reaches the embedding")
    rest = [np.asarray(g) for g in grads[1:] if g is not None]
    assert all(np.all(np.isfinite(g)) for g in rest)
    assert any(np.any(g != 0) for g in rest), f"{name}: no gradient for the sequence layer"


# -- the GPU paths: XLA and mixed precision ----------------------------------------------------
# the last-step head at T = 10: minGRU / minLSTM's scan then meets an even and an odd length;
# copy_memory's 30 steps made XLA compile the scan's deeper recursion for 3x as long
MODE_TASK = ("delayed_xor", {"length": LENGTH})
# XLA fuses and reorders float32 arithmetic: measured up to 2.4e-7 on the loss and 1.2e-7 on
# updates of size ~0.5 (every name, one SGD step at learning rate 1, so update = -gradient)
XLA_RTOL, XLA_ATOL = 1e-3, 1e-5
# bfloat16 keeps 8 significant bits: measured up to 9.4e-4 relative on the loss (float16: 3e-5)
MIXED_RTOL = 1e-2
POLICIES = ("mixed_bfloat16", "mixed_float16")


def _unsupported(name) -> dict:
    """The modes ``name`` declares it cannot run in: ``{mode: why}``."""
    return getattr(model_entry(name)[1].obj, "unsupported_modes", None) or {}


def _mode_config(name, mode):
    train = mb.TrainConfig(jit=True) if mode == "jit" else mb.TrainConfig(precision=mode)
    return mb.RunConfig(mb.TaskConfig("adding", {"length": LENGTH}), mb.ModelConfig(name),
                        train, seed=0)


def _assert_refused(name, mode):
    with pytest.raises(ConfigError, match=f"{name}.*{mode}"):
        resolve_config(_mode_config(name, mode))


@contextlib.contextmanager
def _policy(name):
    before = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(before)


def _sgd_step(model, weights, batch, spec, jit):
    """One SGD step (learning rate 1) from ``weights``: (loss, update of every weight)."""
    model.set_weights(weights)
    model.compile(optimizer=keras.optimizers.SGD(1.0), loss=loss_for(spec),
                  jit_compile=jit, run_eagerly=not jit)
    assert model.jit_compile is jit  # Keras falls back without XLA for a layer it deems unfit
    loss = model.train_on_batch(*batch)
    loss = float(loss[0] if isinstance(loss, (list, tuple)) else loss)
    after = [np.asarray(w.numpy(), np.float32) for w in model.weights]
    return loss, [a - w0 for a, w0 in zip(after, weights, strict=True)]


class Reference:
    """``name``'s float32 model on ``MODE_TASK``: its first weights and eager SGD step."""

    def __init__(self, name, **params):
        task_name, task_params = MODE_TASK
        self.task = mb.get_task(task_name, **task_params)
        self.batch = _batch(self.task)
        self.params = params
        self.model = self.build(name)
        self.weights = [w.numpy().copy() for w in self.model.weights]
        self.loss, self.updates = self.step(self.model, jit=False)

    def step(self, model, jit):
        return _sgd_step(model, self.weights, self.batch, self.task.spec, jit)

    def build(self, name):
        keras.utils.set_random_seed(0)
        return build_model(self.task, name, units=UNITS, **self.params)


@pytest.fixture(scope="module")
def reference():
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = Reference(name)
        return cache[name]

    return get


@pytest.mark.parametrize("name", NAMES)
def test_one_training_step_under_xla_equals_the_eager_step(name, reference):
    if "jit" in _unsupported(name):
        _assert_refused(name, "jit")
        return
    _assert_xla_step_equals_eager(reference(name))


def _assert_xla_step_equals_eager(ref):
    loss, updates = ref.step(ref.model, jit=True)
    assert np.isfinite(loss)
    np.testing.assert_allclose(loss, ref.loss, rtol=XLA_RTOL, atol=XLA_ATOL)
    for w, got, want in zip(ref.model.weights, updates, ref.updates, strict=True):
        np.testing.assert_allclose(got, want, rtol=XLA_RTOL, atol=XLA_ATOL, err_msg=w.path)


@pytest.mark.parametrize("name, scan", [("mingru", "parallel"), ("minlstm", "parallel"),
                                        ("s4d", "sequential"), ("s4d", "parallel")])
def test_the_other_forms_of_a_linear_recurrence_under_xla_too(name, scan, reference):
    """The contract runs each model's default form (the min RNNs' sequential loop, S4D's FFT
    convolution); the other forms also compile, with the same numbers."""
    ref = Reference(name, scan=scan)
    _assert_xla_step_equals_eager(ref)
    default = reference(name)
    np.testing.assert_allclose(ref.loss, default.loss, rtol=XLA_RTOL, atol=XLA_ATOL)
    for got, want in zip(ref.updates, default.updates, strict=True):
        np.testing.assert_allclose(got, want, rtol=XLA_RTOL, atol=XLA_ATOL)


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("name", NAMES)
def test_one_training_step_under_mixed_precision(name, policy, reference):
    if policy in _unsupported(name):
        _assert_refused(name, policy)
        return
    ref = reference(name)
    with _policy(policy):
        model = ref.build(name)
        loss, updates = ref.step(model, jit=False)
    compute = keras.DTypePolicy(policy).compute_dtype
    assert model.outputs[0].dtype == "float32"  # the head stays float32 (models.build.head)
    for layer in _sequence_layers(model):
        assert layer.compute_dtype == compute, layer.name
        assert all(w.dtype == "float32" for w in layer.weights), layer.name
    assert np.isfinite(loss)
    np.testing.assert_allclose(loss, ref.loss, rtol=MIXED_RTOL)
    assert any(np.any(u != 0) for u in updates), f"{name}: no weight moved under {policy}"


def test_a_model_declares_the_modes_it_cannot_run_in(monkeypatch, tmp_path, capsys):
    """Refused when the run is configured (exit 2, one line naming model and mode), before
    anything is trained or written; the other modes and names are untouched."""
    cls = model_entry("my_cell")[1].obj
    monkeypatch.setattr(cls, "unsupported_modes", {"jit": "a test says so"}, raising=False)
    _assert_refused("my_cell", "jit")
    resolve_config(_mode_config("my_cell", "mixed_bfloat16"))
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exit_:
        cli_main(["run", "--tasks", "adding", "--models", "lstm,my_cell", "--lengths", "10",
                  "--jit", "--out", str(out)])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "'my_cell'" in err and "jit" in err, err
    assert not out.exists()


# -- the default training path (train.jit / train.steps_per_execution "auto") -----------------
@pytest.mark.parametrize("name", NAMES)
def test_every_model_trains_on_the_default_path(name, tmp_path):
    """A short run on the automatic path: XLA (no GPU here) with several steps per call, or,
    for a model that declares XLA unsupported or slower, without it and the reason in the
    summary."""
    task, params = HEADS["regression"]
    cfg = mb.RunConfig(mb.TaskConfig(task, params), mb.ModelConfig(name, units=UNITS),
                       mb.TrainConfig(steps=4, eval_every=2, batch_size=BATCH, n_train=16,
                                      n_val=8, n_test=8, eval_batch_size=8))
    resolved = resolve_config(cfg)
    declared = (_unsupported(name).get("jit")
                or getattr(model_entry(name)[1].obj, "xla_off_by_default", None))
    assert resolved.train.jit is (declared is None)
    assert resolved.train.steps_per_execution == 2
    s = mb.run(cfg, tmp_path).summary
    assert s["status"] == "completed", s["traceback"]
    assert s["training_path"]["jit"] is s["jit"] is (declared is None)
    assert s["training_path"]["steps_per_execution"] == 2 and s["steps_trained"] == 4
    assert (s["training_path"]["note"] is None) is (declared is None)


def test_a_model_that_declares_xla_unsupported_falls_back_on_the_default_path(
        monkeypatch, tmp_path):
    cls = model_entry("my_cell")[1].obj
    monkeypatch.setattr(cls, "unsupported_modes", {"jit": "a test says so"}, raising=False)
    cfg = mb.RunConfig(mb.TaskConfig("adding", {"length": 5}), mb.ModelConfig("my_cell", units=4),
                       mb.TrainConfig(steps=2, eval_every=2, batch_size=4, n_train=8, n_val=4,
                                      n_test=4, eval_batch_size=4))
    assert resolve_config(cfg).train.jit is False
    s = mb.run(cfg, tmp_path).summary
    assert s["status"] == "completed" and s["jit"] is False
    assert s["training_path"]["note"] == "model 'my_cell' declares XLA unsupported: a test says so"
    # declared slower (a bench measurement): off by default, allowed when asked for
    monkeypatch.setattr(cls, "unsupported_modes", {}, raising=False)
    monkeypatch.setattr(cls, "xla_off_by_default", "3x slower here", raising=False)
    assert resolve_config(cfg).train.jit is False
    jit = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, jit=True))
    assert resolve_config(jit).train.jit is True
    s = mb.run(cfg, tmp_path / "slower").summary
    assert s["training_path"]["note"] == "model 'my_cell' trains faster without XLA: 3x slower here"
