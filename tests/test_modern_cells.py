"""Numerical checks of the cells and models from the literature against their papers' equations.

IRNN starts at the identity; IndRNN keeps |u| <= 2^(1/T); coRNN's step is the IMEX update; the
LMU's (A, B) are the paper's, its ZOH is exact and its memory reconstructs a delayed input;
minGRU / minLSTM's parallel scan equals the sequential recurrence; the TCN's receptive field
covers the task and it is causal. The shared contract (shapes, training step, config, save and
load) lives in ``test_contract.py``.
"""

import numpy as np
import pytest

import memorybench as mb
from memorybench.errors import ConfigError

keras = pytest.importorskip("keras")

from memorybench.models.build import build_model  # noqa: E402
from memorybench.models.cells.cornn import CoRNNCell  # noqa: E402
from memorybench.models.cells.indrnn import IndRNNCell  # noqa: E402
from memorybench.models.cells.irnn import IRNNCell  # noqa: E402
from memorybench.models.cells.lmu import LMUCell, legendre_ab, legendre_decoder, zoh  # noqa: E402
from memorybench.models.layers.minrnn import MinGRULayer, MinLSTMLayer  # noqa: E402
from memorybench.models.tcn import TCN, CausalConv1D, dilations_for, receptive_field  # noqa: E402


def _cell(model):
    return model.layers[1].cell


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


# -- IRNN ------------------------------------------------------------------------------------
def test_irnn_starts_at_identity_with_zero_bias_and_small_inputs():
    keras.utils.set_random_seed(0)
    cell = _cell(build_model(mb.get_task("adding", length=10), "irnn", units=16))
    np.testing.assert_array_equal(cell.recurrent_kernel.numpy(), np.eye(16, dtype=np.float32))
    np.testing.assert_array_equal(cell.bias.numpy(), 0.0)
    w = cell.kernel.numpy()
    assert 0 < np.abs(w).max() < 0.01  # N(0, 0.001^2): small, not zero
    # with zero input the ReLU cell copies a non-negative state forward unchanged
    h = np.abs(np.random.default_rng(0).normal(size=(3, 16))).astype(np.float32)
    out, _ = cell(np.zeros((3, 2), np.float32), [h])
    np.testing.assert_allclose(np.asarray(out), h, rtol=1e-6)


# -- IndRNN ----------------------------------------------------------------------------------
def test_indrnn_bound_from_task_and_respected_after_an_update():
    T = 25
    keras.utils.set_random_seed(0)
    cell = _cell(build_model(mb.get_task("adding", length=T), "indrnn", units=32))
    bound = 2.0 ** (1.0 / T)
    assert cell.recurrent_max_abs == pytest.approx(bound)
    u = cell.recurrent_kernel
    init = u.numpy()
    # the authors' last-layer initialisation: u ~ U[2^(-1/T), 2^(1/T)]
    assert init.min() >= 2.0 ** (-1.0 / T) and init.max() <= bound
    # a huge step outwards (both signs) must be clipped back to the bound by the constraint
    opt = keras.optimizers.SGD(learning_rate=10.0)
    grad = np.where(np.arange(32) % 2 == 0, -1.0, 1.0).astype(np.float32)
    opt.apply_gradients([(grad, u)])
    after = u.numpy()
    assert np.abs(after).max() <= bound + 1e-6
    np.testing.assert_allclose(np.abs(after), bound, rtol=1e-6)  # every unit hit the bound


def test_indrnn_step_is_elementwise_recurrence():
    cell = IndRNNCell(4, recurrent_max_abs=1.1)
    x = np.random.default_rng(1).normal(size=(2, 3)).astype(np.float32)
    h = np.random.default_rng(2).normal(size=(2, 4)).astype(np.float32)
    out, _ = cell(x, [h])
    want = np.maximum(x @ cell.kernel.numpy() + cell.recurrent_kernel.numpy() * h
                      + cell.bias.numpy(), 0)
    np.testing.assert_allclose(np.asarray(out), want, rtol=1e-5, atol=1e-6)


def test_indrnn_rejects_bad_bounds():
    with pytest.raises(ConfigError, match="recurrent_init_min"):
        IndRNNCell(4, recurrent_max_abs=1.01, recurrent_init_min=2.0)
    with pytest.raises(ConfigError, match="magnitude"):
        IndRNNCell.from_task(mb.get_task("adding", length=10).spec, 4, magnitude=0.5)


# -- coRNN -----------------------------------------------------------------------------------
@pytest.mark.parametrize("damping", ["implicit", "explicit"])
def test_cornn_step_equals_hand_computed_update(damping):
    dt, gamma, eps = 0.1, 2.0, 3.0
    cell = CoRNNCell(5, dt=dt, gamma=gamma, epsilon=eps, damping=damping)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 2)).astype(np.float32)
    y0, z0 = (rng.normal(size=(3, 5)).astype(np.float32) for _ in range(2))
    out, (y1, z1) = cell(x, [y0, z0])
    V, R, b = cell.kernel.numpy(), cell.recurrent_kernel.numpy(), cell.bias.numpy()
    W, Wz = R[:5], R[5:]
    drive = np.tanh(x @ V + y0 @ W + z0 @ Wz + b)
    if damping == "implicit":  # z1 = z0 + dt (drive - gamma y0 - eps z1), solved for z1
        z = (z0 + dt * (drive - gamma * y0)) / (1 + dt * eps)
        np.testing.assert_allclose(z, z0 + dt * (drive - gamma * y0 - eps * z), rtol=1e-5)
    else:
        z = z0 + dt * (drive - gamma * y0 - eps * z0)
    y = y0 + dt * z
    np.testing.assert_allclose(np.asarray(z1), z, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(y1), y, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(out), y, rtol=1e-5, atol=1e-6)


def test_cornn_rejects_unknown_damping():
    with pytest.raises(ConfigError, match="known: implicit, explicit"):
        CoRNNCell(4, damping="semi")


# -- LMU -------------------------------------------------------------------------------------
def test_lmu_matrices_match_the_paper_for_order_3():
    a, b = legendre_ab(3)
    # A_ij = (2i+1) * (-1 if i < j else (-1)^(i-j+1)); B_i = (2i+1) (-1)^i
    np.testing.assert_array_equal(a, [[-1, -1, -1], [3, -3, -3], [-5, 5, -5]])
    np.testing.assert_array_equal(b[:, 0], [1, -3, 5])


def test_lmu_zoh_is_the_exact_discretisation():
    theta = 7.0
    a, b = legendre_ab(4)
    ad, bd = zoh(a / theta, b / theta)
    # Ad = e^(A/theta) by its eigen-decomposition, Bd = (A/theta)^-1 (Ad - I) B/theta
    w, v = np.linalg.eig(a / theta)
    np.testing.assert_allclose(ad, (v @ np.diag(np.exp(w)) @ np.linalg.inv(v)).real, atol=1e-10)
    np.testing.assert_allclose(bd, np.linalg.solve(a / theta, (ad - np.eye(4)) @ b / theta),
                               atol=1e-10)


def test_lmu_cell_memory_reconstructs_a_delayed_input():
    """Drive the cell's memory with a smooth signal and read u(t - theta/2) back out."""
    theta, order, T = 30.0, 12, 90
    cell = LMUCell(4, order=order, theta=theta)
    layer = keras.layers.RNN(cell, return_sequences=True, return_state=True)
    t = np.arange(T)
    u = (np.sin(2 * np.pi * t / 45) + 0.5 * np.cos(2 * np.pi * t / 70)).astype(np.float32)
    x = u[None, :, None]
    layer(x)  # build
    # u_t = x_t exactly: input encoder 1, hidden and memory encoders 0
    cell.input_encoders.assign(np.ones((1, 1), np.float32))
    cell.hidden_encoders.assign(np.zeros((4, 1), np.float32))
    _, _, m = layer(x)
    # zero-order hold: sample u_s drives the memory over the interval (s - 1, s], so the
    # memory at step T-1 holds the signal delayed by r*theta centred half a step later
    decoded = float(legendre_decoder(order, 0.5)[0] @ np.asarray(m)[0])
    assert decoded == pytest.approx(np.interp(T - 1 - theta / 2 + 0.5, t, u), abs=0.005)
    # and the whole window, r in [0, 1], to about 1% of the signal's range (3 here)
    r = np.linspace(0, 1, 16)
    window = legendre_decoder(order, r) @ np.asarray(m)[0]
    truth = np.interp(T - 1 - r * theta + 0.5, t, u)
    assert np.abs(window - truth).max() < 0.03


def test_lmu_window_follows_the_task():
    cell = _cell(build_model(mb.get_task("copy_memory", length=12), "lmu", units=8))
    assert cell.theta == 32.0 and cell.order == 32  # steps = T + 20
    cell = _cell(build_model(mb.get_task("adding", length=200), "lmu", units=8))
    assert cell.theta == 200.0 and cell.order == 64


# -- minGRU / minLSTM ------------------------------------------------------------------------
def _loop_reference(layer, x):
    """The papers' sequential equations, step by step in numpy, from the layer's weights."""
    k = x @ layer.kernel.numpy() + layer.bias.numpy()
    u = layer.units
    h = np.zeros((x.shape[0], u))
    out = []
    for t in range(x.shape[1]):
        if isinstance(layer, MinGRULayer):
            z, h_tilde = _sigmoid(k[:, t, :u]), k[:, t, u:]
            h = (1 - z) * h + z * h_tilde
        else:
            f, i, h_tilde = _sigmoid(k[:, t, :u]), _sigmoid(k[:, t, u:2 * u]), k[:, t, 2 * u:]
            h = f / (f + i) * h + i / (f + i) * h_tilde
        out.append(h)
    return np.stack(out, axis=1)


@pytest.mark.parametrize("scan", ["parallel", "sequential"])
@pytest.mark.parametrize("cls", [MinGRULayer, MinLSTMLayer])
def test_scan_equals_sequential_loop(cls, scan):
    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).normal(size=(3, 13, 2)).astype(np.float32)  # odd length
    layer = cls(6, return_sequences=True, scan=scan)
    eager = np.asarray(layer(x))
    want = _loop_reference(layer, x.astype(np.float64))
    np.testing.assert_allclose(eager, want, rtol=1e-4, atol=1e-5)
    # the compiled-graph path (fit / predict) too, where the scan's static shape matters
    inp = keras.Input((13, 2))
    last = cls(6, return_sequences=False, scan=scan)
    model = keras.Model(inp, last(inp))
    assert model.output_shape == (None, 6)
    last.set_weights(layer.get_weights())
    np.testing.assert_allclose(model.predict(x, verbose=0), want[:, -1], rtol=1e-4, atol=1e-5)
    assert cls.from_config(layer.get_config()).get_config() == layer.get_config()


# -- TCN -------------------------------------------------------------------------------------
@pytest.mark.parametrize("steps", [2, 10, 30, 200, 1000])
@pytest.mark.parametrize("k", [2, 3, 7])
def test_tcn_receptive_field_covers_the_steps_with_fewest_levels(steps, k):
    d = dilations_for(steps, k)
    assert d == [2**i for i in range(len(d))]
    assert receptive_field(k, d) >= steps
    assert len(d) == 1 or receptive_field(k, d[:-1]) < steps


def test_tcn_from_task_covers_the_sequence():
    task = mb.get_task("copy_memory", length=30)  # 50 steps
    model = build_model(task, "tcn", units=4, kernel_size=3)
    layer = model.layers[1]
    assert isinstance(layer, TCN) and layer.receptive_field >= task.spec.steps


def _tcn_outputs(layer, x):
    return np.asarray(layer(x))


@pytest.mark.parametrize("weight_norm", [True, False])
def test_tcn_is_causal_and_sees_the_first_step(weight_norm):
    keras.utils.set_random_seed(0)
    T = 20
    layer = TCN(8, dilations=dilations_for(T, 3), kernel_size=3, weight_norm=weight_norm,
                return_sequences=True)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, T, 2)).astype(np.float32)
    base = _tcn_outputs(layer, x)
    t0 = 11
    x2 = x.copy()
    x2[:, t0 + 1:] += rng.normal(size=(2, T - t0 - 1, 2)).astype(np.float32) * 5
    changed = _tcn_outputs(layer, x2)
    np.testing.assert_array_equal(changed[:, : t0 + 1], base[:, : t0 + 1])  # past untouched
    assert not np.allclose(changed[:, t0 + 1:], base[:, t0 + 1:])
    # the last output reads step 0 (receptive field >= T) ...
    x3 = x.copy()
    x3[:, 0] += 5.0
    assert np.abs(_tcn_outputs(layer, x3)[:, -1] - base[:, -1]).max() > 0
    # ... and a TCN too shallow for T does not
    short = TCN(8, dilations=[1, 2], kernel_size=3, weight_norm=weight_norm,
                return_sequences=True)
    assert receptive_field(3, [1, 2]) < T
    np.testing.assert_array_equal(_tcn_outputs(short, x3)[:, -1], _tcn_outputs(short, x)[:, -1])


def test_weight_norm_starts_at_the_raw_kernel():
    keras.utils.set_random_seed(0)
    conv = CausalConv1D(4, 3, dilation_rate=2, weight_norm=True)
    x = np.random.default_rng(0).normal(size=(1, 9, 2)).astype(np.float32)
    y = np.asarray(conv(x))
    v = conv.kernel.numpy()
    np.testing.assert_allclose(conv.g.numpy(), np.sqrt((v**2).sum(axis=(0, 1))), rtol=1e-6)
    # y_t = sum_j V_j x_{t - 2j}, zeros before the start
    xp = np.concatenate([np.zeros((1, 4, 2), np.float32), x], axis=1)
    want = sum(xp[:, 4 - 2 * j: 4 - 2 * j + 9] @ v[2 - j] for j in range(3))
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-6)


def test_bad_parameters_name_the_parameter():
    with pytest.raises(ConfigError, match="units"):
        IRNNCell(0)
    with pytest.raises(ConfigError, match="dilations"):
        TCN(4, dilations=[])
    with pytest.raises(ConfigError, match="theta"):
        LMUCell(4, theta=-1)
    with pytest.raises(ConfigError, match="known: parallel, sequential"):
        MinGRULayer(4, scan="blelloch")
