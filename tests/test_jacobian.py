"""The memory path's Jacobian: products against direct autodiff, an analytical case, run
folders into a CSV and a figure, the summary, determinism and bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from memorybench.diagnostics import jacobian as jd
from memorybench.errors import ConfigError
from memorybench.report import jacobian as jm

T = 12  # short sequences: the tests run on a shared 2-core CPU


def _model(name: str, length: int = T, seed: int = 0, units: int = 6, **params):
    import keras

    from memorybench.models.build import build_model
    from memorybench.tasks import get_task

    keras.utils.set_random_seed(seed)
    task = get_task("adding", length=length)
    return task, build_model(task, name, units=units, **params)


def _spectral_mean(m: np.ndarray) -> float:
    return float(np.linalg.svd(m.astype(np.float64), compute_uv=False)[:, 0].mean())


LAGS = (1, 2, 5, T - 1)


def _direct(model, x) -> dict[str, list[float]]:
    """||dh_{T-1}/dh_{T-1-k}|| and ||dc_{T-1}/dc_{T-1-k}|| at the lags ``LAGS`` by autodiff
    through the unrolled loop: h_{T-1-k} and c_{T-1-k} injected as watched tensors, h_{T-1} /
    c_{T-1} differentiated one unit at a time (a row of the Jacobian each; no batch_jacobian,
    which the module uses); the mean over the batch of the spectral norms."""
    import tensorflow as tf

    cell = jd.recurrent_layer(model).cell
    seq = tf.convert_to_tensor(x, tf.float32)
    n, steps = x.shape[0], x.shape[1]
    states = [tf.zeros((n, s)) for s in jd.state_sizes(cell)]
    history = []  # states after each step
    for t in range(steps):
        _, states = cell(seq[:, t], states, training=False)
        states = list(states)
        history.append(states)
    out: dict[str, list[float]] = {"h": [], "c": []}
    for k in LAGS:
        start = [tf.identity(s) for s in history[steps - 1 - k]]
        with tf.GradientTape(persistent=True) as tape:
            for s in start:
                tape.watch(s)
            states = start
            for t in range(steps - k, steps):
                _, states = cell(seq[:, t], states, training=False)
                states = list(states)
            units = [[s[:, j] for j in range(s.shape[-1])] for s in states]  # on the tape
        for i, path in enumerate(("h", "c")[:len(start)]):
            rows = [tape.gradient(u, start[i]).numpy() for u in units[i]]
            out[path].append(_spectral_mean(np.stack(rows, axis=1)))  # (batch, out, in)
        del tape
    return out


@pytest.mark.parametrize("name", ["lstm", "ungated", "cec"])
def test_products_match_unrolled_autodiff(name):
    """The backward product of per-step Jacobians equals autodiff through the loop, for Keras'
    LSTM and two custom cells (ungated: memory m; cec: the bare carousel)."""
    task, model = _model(name)
    x, _ = task.data("test", n=4, seed=3)
    df = jd.memory_jacobians(model, x)
    assert set(df.path) == {"h", "c"}
    want = _direct(model, x)
    for path in ("h", "c"):
        got = df[df.path == path].sort_values("lag")
        assert list(got.lag) == list(range(T))
        assert got.norm.iloc[0] == pytest.approx(1.0)  # lag 0: the identity
        np.testing.assert_allclose(got.norm.to_numpy()[list(LAGS)], want[path], rtol=2e-4,
                                   atol=1e-9)
    # Jacobians taken a few steps at a time (as for long sequences) give the same products
    layer = jd.recurrent_layer(model)
    seq = jd.layer_inputs(model, layer, x)
    u = jd.state_sizes(layer.cell)[0]
    chunked = jd.jacobian_products(jd._jacobian_chunks(layer.cell, seq, chunk=5),
                                   {"h": slice(0, u)})
    whole = jd.jacobian_products(jd.state_jacobians(layer.cell, seq), {"h": slice(0, u)})
    np.testing.assert_allclose(chunked["h"], whole["h"], rtol=1e-12)
    np.testing.assert_allclose(chunked["h"].mean(axis=1),
                               df[df.path == "h"].sort_values("lag").norm, rtol=1e-12)


def test_linear_simple_rnn_is_the_power_of_its_recurrent_kernel():
    """h_t = x_t W + h_{t-1} U (linear): dh_{T-1}/dh_{T-1-k} = (U^T)^k, whose spectral norm is
    ||U^k||_2, the same for every sequence. U is not normal, so ||U^k|| != ||U||^k."""
    task, model = _model("simple_rnn", units=3, activation="linear")
    u = np.array([[0.9, 0.6, 0.0], [0.0, 0.7, 0.3], [0.1, 0.0, 0.5]], np.float32)
    jd.recurrent_layer(model).cell.recurrent_kernel.assign(u)
    x, _ = task.data("test", n=3, seed=0)
    df = jd.memory_jacobians(model, x)
    assert set(df.path) == {"h"}  # one state: no memory path
    want = [np.linalg.norm(np.linalg.matrix_power(u.astype(np.float64), k), 2)
            for k in range(T)]
    assert not np.isclose(want[3], want[1] ** 3)
    got = df.sort_values("lag")
    np.testing.assert_allclose(got.norm, want, rtol=1e-5)
    np.testing.assert_allclose(got.norm_median, want, rtol=1e-5)


def test_which_cells_have_a_memory_state():
    """The rule (two equal states are (h, c)) on the why-LSTM cells: their call returns the
    output as the first state and the memory second."""
    import tensorflow as tf

    for name, memory in (("lstm", True), ("lstm_cifg", True), ("cec", True), ("ungated", True),
                         ("gru", False), ("simple_rnn", False)):
        _, model = _model(name, units=4)
        cell = jd.recurrent_layer(model).cell
        assert jd.has_memory(cell) is memory, name
        states = [tf.random.normal((2, s), seed=1) for s in jd.state_sizes(cell)]
        out, new = cell(tf.ones((2, 2)), states, training=False)
        new = list(new) if isinstance(new, (list, tuple)) else [new]
        np.testing.assert_array_equal(out.numpy(), new[0].numpy())  # h first


def test_models_that_are_not_one_cell_are_not_measured():
    _, model = _model("mingru", units=4)  # a parallel-scan model: no cell
    with pytest.raises(jd.NotMeasured, match="no recurrent cell layer"):
        jd.memory_jacobians(model, np.zeros((2, T, 2), np.float32))
    _, model = _model("lstm", units=4, layers=2)
    with pytest.raises(ConfigError, match="2 recurrent layers"):
        jd.memory_jacobians(model, np.zeros((2, T, 2), np.float32))


def test_token_task_reads_the_embedded_sequence():
    """Token ids enter the cell through the Embedding: the sub-model to the layer's input."""
    from memorybench.models.build import build_model
    from memorybench.tasks import get_task

    task = get_task("mqar", length=T, n_pairs=2, vocab_size=32)
    model = build_model(task, "gru", units=4)
    x, _ = task.data("test", n=2, seed=0)
    df = jd.memory_jacobians(model, x)
    assert set(df.path) == {"h"} and len(df) == T
    assert np.isfinite(df.norm).all() and df.norm.iloc[0] == pytest.approx(1.0)


def test_marked_input_gradient_is_taken_at_the_markers():
    task, model = _model("lstm", units=4)
    df = jd.marked_input_gradients(model, task, n=40, seed=0)
    assert list(df.columns) == ["lag", "norm", "norm_median", "count"]
    assert df["count"].sum() == 80  # two marked steps per sequence
    assert df.lag.between(0, T - 1).all() and df.lag.is_unique
    assert np.isfinite(df.norm).all() and (df.norm > 0).all()
    from memorybench.tasks import get_task

    with pytest.raises(ConfigError, match="measured on: adding"):
        jd.marked_input_gradients(model, get_task("delayed_xor", length=T), n=4, seed=0)


def _fake_run(root, name: str, seed: int, units: int = 5, run_id: str | None = None):
    """A run folder as the runner writes it (config.json, model.weights.h5), its 'trained'
    weights a build with another seed: no training needed to tell init from trained."""
    task, model = _model(name, length=T, seed=seed + 100, units=units)
    folder = root / (run_id or f"{name}_{seed}")
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({
        "seed": seed, "task": {"name": "adding", "params": {"length": T, "variant": "half"}},
        "model": {"name": name, "units": units, "layers": 1, "params": {}},
        "plugins": {}, "code": {}}))
    model.save_weights(folder / "model.weights.h5")
    return folder


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("jacobian_runs")
    return [_fake_run(root, "lstm", 0), _fake_run(root, "lstm", 1),
            _fake_run(root, "simple_rnn", 0), _fake_run(root, "ungated", 0),
            _fake_run(root, "mingru", 0)]


def _not_blank(png) -> None:
    import matplotlib.image as mpimg

    img = mpimg.imread(png)
    assert img.shape[0] > 300 and img.shape[1] > 600
    rgb = (img[..., :3] * 255).round().astype(np.uint32)
    assert len(np.unique(rgb[..., 0] << 16 | rgb[..., 1] << 8 | rgb[..., 2])) > 10


def test_run_jacobians_writes_csv_figure_and_summary(tmp_path, runs):
    out = tmp_path / "jac"
    files = jm.run_jacobians("adding", T, runs, out, root=tmp_path, batch=4)
    df = pd.read_csv(files["csv"])
    assert list(df.columns) == jd.CSV_COLUMNS
    measured = df[df.note.isna()]
    paths = measured.groupby("model").path.agg(lambda p: set(p)).to_dict()
    assert paths == {"lstm": {"h", "c", "x_marked"}, "ungated": {"h", "c", "x_marked"},
                     "simple_rnn": {"h", "x_marked"}}
    for _key, g in measured[measured.path != "x_marked"].groupby(
            ["run_id", "state", "path"]):
        assert sorted(g.lag) == list(range(T))
        assert g[g.lag == 0].norm.item() == pytest.approx(1.0)  # d s / d s: the identity
    assert set(measured.state) == {"init", "trained"}
    assert set(df[df.model == "lstm"].seed) == {0, 1}
    assert np.isfinite(measured.norm).all() and (measured.norm > 0).all()
    # trained weights were loaded: another curve than at init
    lstm0 = measured[(measured.run_id == "lstm_0") & (measured.path == "c")]
    assert not np.allclose(lstm0[lstm0.state == "init"].norm, lstm0[lstm0.state == "trained"].norm)
    skipped = df[df.note.notna()]
    assert set(skipped.model) == {"mingru"} and len(skipped) == 2
    assert skipped.note.str.startswith("not measured: no recurrent cell layer").all()
    assert len(files["not_measured"]) == 2
    _not_blank(files["png"])
    assert files["svg"].stat().st_size > 1000

    summary = {(r["model"], r["state"]): r for r in jm.jacobian_summary(files["csv"])}
    assert set(summary) == {(m, s) for m in ("lstm", "simple_rnn", "ungated", "mingru")
                            for s in ("init", "trained")}
    lstm = summary[("lstm", "init")]
    assert lstm["seeds"] == 2 and lstm["lag"] == T - 1 and lstm["note"] == ""
    last = measured[(measured.model == "lstm") & (measured.state == "init")
                    & (measured.path == "c") & (measured.lag == T - 1)].norm
    assert lstm["c_last_median"] == pytest.approx(last.median())
    assert lstm["c_last_min"] == pytest.approx(last.min())
    assert lstm["c_last_max"] == pytest.approx(last.max())
    assert lstm["c_half_life"] is None or 2 <= lstm["c_half_life"] <= T - 1
    rnn = summary[("simple_rnn", "trained")]
    assert rnn["c_last_median"] is None and rnn["h_last_median"] > 0
    assert summary[("mingru", "init")]["note"].startswith("not measured")
    assert summary[("mingru", "init")]["h_last_median"] is None


def test_deterministic(runs):
    a = jd.jacobians("adding", T, runs[:2], batch=3)
    b = jd.jacobians("adding", T, runs[:2], batch=3)
    pd.testing.assert_frame_equal(a, b)


def test_half_life():
    assert jm.half_life([1.0, 0.8, 0.6, 0.39, 0.1]) == 3
    assert jm.half_life([1.0, 1.0, 0.9, 0.8]) is None
    assert jm.half_life([1.0]) is None


@pytest.mark.filterwarnings("ignore:Skipping nested container")  # the mismatched weights
def test_bad_input(tmp_path, runs):
    with pytest.raises(ConfigError, match="length must be an integer >= 2"):
        jd.jacobians("adding", 1, runs[:1])
    with pytest.raises(ConfigError, match="no config.json"):
        jd.jacobians("adding", T, [tmp_path / "nowhere"])
    with pytest.raises(ConfigError, match="trained task 'adding'"):
        jd.jacobians("delayed_xor", T, runs[:1])
    with pytest.raises(ConfigError, match="at least one run folder"):
        jd.jacobians("adding", T, [])
    with pytest.raises(ConfigError, match="batch must be a positive integer"):
        jd.jacobians("adding", T, runs[:1], batch=0)
    wrong = _fake_run(tmp_path, "lstm", 0)  # weights of 5 units, config.json says 7
    cfg = json.loads((wrong / "config.json").read_text())
    cfg["model"]["units"] = 7
    (wrong / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ConfigError, match="does not fit the model"):
        jd.jacobians("adding", T, [wrong])
    bad = tmp_path / "other.csv"
    bad.write_text("model,t,grad_norm\nlstm,0,1.0\n")
    with pytest.raises(ConfigError, match="not a jacobian.csv"):
        jm.jacobian_summary(bad)
