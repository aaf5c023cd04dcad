"""The cell / model contract, checked for every registered name and for a plugin-file cell.

For each name: a model per head kind (adding = regression, delayed_xor marked = last,
copy_memory = every_step, plus sequential MNIST by rows when that task exists) has the right
output shapes; one training step on each task gives a finite loss and moves the recurrent
weights; ``get_config`` round-trips (and holds exactly the ``__init__`` arguments); a saved
``.keras`` file loads without ``custom_objects`` and predicts the same. A new cell is covered
the moment it registers. Tiny sizes (8 units, batch 4, length 10) keep the suite fast: each
model is built once and reused by every check, the steps run eagerly except one traced
``train_on_batch`` per name (proving the cell also works inside a compiled graph).
"""

import contextlib
import importlib.util
import inspect
import os
from pathlib import Path

import numpy as np
import pytest

import memorybench as mb
from memorybench.models import model_names, resolve
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
    kind, entry = resolve(name)
    for head, model in b.models.items():
        x, _ = b.batches[head]
        path = tmp_path / f"{head}.keras"
        model.save(path)
        loaded = keras.saving.load_model(path)
        np.testing.assert_allclose(np.asarray(loaded(x, training=False)),
                                   np.asarray(model(x, training=False)), rtol=1e-6, atol=1e-7)
        if kind == "cell":
            assert type(_sequence_layers(loaded)[0].cell) is entry.obj
