"""The recent cells and blocks against numpy transcriptions of their papers' equations.

AntisymmetricRNN (gated and not) and LEM step for step; the LRU, S4D and Mamba blocks end to
end (encoder, norm, the recurrence, output mixing, residual) on random weights, with both scans;
S4D also against its convolution kernel; Mamba's scan against a transcription of
``selective_scan_ref`` (mamba_ssm/ops/selective_scan_interface.py); the associative scan against
the step loop; the papers' initialisations; parameter counts against the docstrings' formulas;
``layers`` counting blocks. The shared contract (shapes, training, config, save/load, XLA,
mixed precision) is ``test_contract.py``'s.
"""

import math

import numpy as np
import pytest
from scipy.special import erf

import memorybench as mb
from memorybench.errors import ConfigError

keras = pytest.importorskip("keras")

from memorybench.models.blocks import (  # noqa: E402
    complex_compose,
    linear_loop,
    real_compose,
    static_scan,
)
from memorybench.models.build import build_model  # noqa: E402
from memorybench.models.cells.antisymmetric import AntisymmetricCell  # noqa: E402
from memorybench.models.cells.lem import LEMCell  # noqa: E402
from memorybench.models.layers.lru import LRUBlock  # noqa: E402
from memorybench.models.layers.mamba import MambaBlock  # noqa: E402
from memorybench.models.layers.s4d import S4DBlock  # noqa: E402
from memorybench.models.layers.xlstm import MLSTMBlock, SLSTMBlock, group_sizes  # noqa: E402

B, T, D, H = 3, 13, 5, 6  # batch, steps (odd: the scan's uneven split), input, width
RTOL, ATOL = 2e-4, 2e-5


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _gelu(x):
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def _silu(x):
    return x * _sigmoid(x)


def _softplus(x):
    return np.log1p(np.exp(x))


def _x(seed=0, d=D):
    return np.random.default_rng(seed).normal(size=(B, T, d)).astype(np.float32)


def _randomise(layer, seed=1, scale=0.3):
    """Every weight moved off its initialisation, so the check covers all of them."""
    rng = np.random.default_rng(seed)
    for w in layer.weights:
        v = w.numpy()
        w.assign((v + scale * rng.normal(size=v.shape)).astype(np.float32))
    return {w.path.split("/")[-1]: w.numpy().astype(np.float64) for w in layer.weights}


def _run_cell(cell, x):
    return np.asarray(keras.layers.RNN(cell, return_sequences=True)(x))


# -- AntisymmetricRNN --------------------------------------------------------------------------
@pytest.mark.parametrize("gated", [False, True])
def test_antisymmetric_matches_the_papers_equations(gated):
    cell = AntisymmetricCell(4, gated=gated, eps=0.1, gamma=0.05)
    x = _x()
    out = _run_cell(cell, x)  # builds the cell
    w = _randomise(cell)
    out = _run_cell(cell, x)
    a = w["recurrent_kernel"] - w["recurrent_kernel"].T - 0.05 * np.eye(4)
    h = np.zeros((B, 4))
    want = []
    for t in range(T):
        k = x[:, t] @ w["kernel"] + w["bias"]
        if gated:  # eq. (8): the gate shares A
            k_h, k_z = k[:, :4], k[:, 4:]
            h = h + 0.1 * _sigmoid(h @ a.T + k_z) * np.tanh(h @ a.T + k_h)
        else:  # eq. (7)
            h = h + 0.1 * np.tanh(h @ a.T + k)
        want.append(h)
    np.testing.assert_allclose(out, np.stack(want, 1), rtol=RTOL, atol=ATOL)
    # A + A^T = -2 gamma I: antisymmetric up to the diffusion
    am = cell.antisymmetric_matrix().numpy()
    np.testing.assert_allclose(am + am.T, -0.1 * np.eye(4), atol=1e-6)


def test_antisymmetric_init_and_size():
    keras.utils.set_random_seed(0)
    model = build_model(mb.get_task("adding", length=10), "antisymmetric", units=64)
    cell = model.layers[1].cell
    w = cell.recurrent_kernel.numpy()
    assert abs(w.std() - 64**-0.5) < 0.1 * 64**-0.5  # N(0, 1/u)
    np.testing.assert_array_equal(cell.bias.numpy(), 0)
    assert cell.count_params() == 64 * 64 + 2 * (2 + 1) * 64  # gated: u^2 + 2(d + 1)u
    ungated = AntisymmetricCell(64, gated=False)
    ungated.build((None, 2))
    assert ungated.count_params() == 64 * 64 + (2 + 1) * 64
    with pytest.raises(ConfigError, match="eps"):
        AntisymmetricCell(4, eps=-1)


# -- LEM ---------------------------------------------------------------------------------------
def test_lem_matches_the_papers_equations():
    u = 4
    cell = LEMCell(u, dt=0.7)
    x = _x()
    _run_cell(cell, x)
    w = _randomise(cell)
    out = _run_cell(cell, x)
    y, z = np.zeros((B, u)), np.zeros((B, u))
    want = []
    for t in range(T):
        k = x[:, t] @ w["kernel"] + w["bias"]
        r = y @ w["recurrent_kernel"]
        dt = 0.7 * _sigmoid(k[:, :u] + r[:, :u])
        dtbar = 0.7 * _sigmoid(k[:, u:2 * u] + r[:, u:2 * u])
        z = (1 - dt) * z + dt * np.tanh(k[:, 2 * u:3 * u] + r[:, 2 * u:])
        y = (1 - dtbar) * y + dtbar * np.tanh(z @ w["z_kernel"] + k[:, 3 * u:])
        want.append(y)
    np.testing.assert_allclose(out, np.stack(want, 1), rtol=RTOL, atol=ATOL)
    assert cell.count_params() == 4 * (D + u + 1) * u
    # the authors' initialisation: everything U(+-1/sqrt(u))
    fresh = LEMCell(100)
    fresh.build((None, 3))
    for v in fresh.weights:
        assert np.abs(v.numpy()).max() <= 0.1 + 1e-7
    with pytest.raises(ConfigError, match="dt"):
        LEMCell(4, dt=2.0)


# -- scans -------------------------------------------------------------------------------------
@pytest.mark.parametrize("steps", [1, 2, 3, 4, 7, 13])
def test_the_associative_scan_equals_the_step_loop(steps):
    rng = np.random.default_rng(steps)
    a, b, ai, bi = (rng.uniform(-1, 1, (2, steps, 3)).astype(np.float32) for _ in range(4))
    h = np.zeros((2, 3))
    hc = np.zeros((2, 3), complex)
    want, want_c = [], []
    for t in range(steps):
        h = a[:, t] * h + b[:, t]
        hc = (a[:, t] + 1j * ai[:, t]) * hc + (b[:, t] + 1j * bi[:, t])
        want.append(h)
        want_c.append(hc)
    want, want_c = np.stack(want, 1), np.stack(want_c, 1)
    got = static_scan(real_compose, [a, b])[1]
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5, atol=1e-6)
    got = static_scan(complex_compose, [a, ai, b, bi])
    np.testing.assert_allclose(np.asarray(got[2]) + 1j * np.asarray(got[3]), want_c,
                               rtol=1e-5, atol=1e-6)
    loop = linear_loop(3, True, "float32")(np.concatenate([a, ai, b, bi], -1))
    loop = np.asarray(loop)
    np.testing.assert_allclose(loop[..., :3] + 1j * loop[..., 3:], want_c, rtol=1e-5, atol=1e-6)


# -- blocks: numpy references ------------------------------------------------------------------
def _layer_norm(x, g, b, eps=1e-3):
    return (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + eps) * g + b


def _glu(y, w):
    g = _gelu(y) @ w["glu_kernel"] + w["glu_bias"]
    n = g.shape[-1] // 2
    return g[..., :n] * _sigmoid(g[..., n:])


def _weights(layer, seed=1):
    """Randomised weights by their attribute path (``encoder/kernel``, ``glu/kernel``, ...)."""
    _randomise(layer, seed)
    return {"_".join(w.path.split("/")[1:]): w.numpy().astype(np.float64) for w in layer.weights}


def _block(cls, scan, **params):
    keras.utils.set_random_seed(0)
    layer = cls(H, return_sequences=True, scan=scan, **params)
    x = _x()
    layer(x)
    return layer, x


def _lru_reference(w, x):
    v = x @ w["encoder_kernel"] + w["encoder_bias"]
    u = _layer_norm(v, w["norm_gamma"], w["norm_beta"])
    lam = np.exp(-np.exp(w["nu_log"]) + 1j * np.exp(w["theta_log"]))
    gamma = np.exp(w["gamma_log"])
    bm, cm = w["b_re"] + 1j * w["b_im"], w["c_re"] + 1j * w["c_im"]
    s = np.zeros((B, bm.shape[1]), complex)
    ys = []
    for t in range(T):
        s = lam * s + gamma * (u[:, t] @ bm)
        ys.append((s @ cm).real + w["d"] * u[:, t])
    return v + _glu(np.stack(ys, 1), w)


@pytest.mark.parametrize("scan", ["sequential", "parallel"])
def test_lru_block_matches_the_papers_equations(scan):
    layer, x = _block(LRUBlock, scan, state_dim=4)
    w = _weights(layer)
    np.testing.assert_allclose(np.asarray(layer(x)), _lru_reference(w, x), rtol=RTOL, atol=ATOL)


def test_lru_ring_initialisation():
    keras.utils.set_random_seed(0)
    layer = LRUBlock(16, state_dim=2000, r_min=0.4, r_max=0.9, max_phase=math.pi)
    layer.build((None, 10, 16))
    modulus = np.exp(-np.exp(layer.nu_log.numpy()))
    phase = np.exp(layer.theta_log.numpy())
    assert modulus.min() >= 0.4 - 1e-6 and modulus.max() <= 0.9 + 1e-6
    assert phase.min() >= 0 and phase.max() <= math.pi + 1e-6
    # uniform on the ring by area: |lambda|^2 is uniform in [r_min^2, r_max^2]
    assert abs(np.mean(modulus**2) - (0.4**2 + 0.9**2) / 2) < 0.02
    np.testing.assert_allclose(np.exp(layer.gamma_log.numpy()), np.sqrt(1 - modulus**2),
                               rtol=1e-4)
    assert abs(layer.b_re.numpy().std() - (2 * 16) ** -0.5) < 0.01
    with pytest.raises(ConfigError, match="r_min"):
        LRUBlock(4, r_min=0.95, r_max=0.9)


def _s4d_discrete(w):
    a = -np.exp(w["log_a_re"]) + 1j * w["a_im"]
    dt = np.exp(w["log_dt"])[:, None]
    abar = np.exp(dt * a)
    return abar, (abar - 1) / a, w["c_re"] + 1j * w["c_im"]


def _s4d_reference(w, x):
    v = x @ w["encoder_kernel"] + w["encoder_bias"]
    u = _layer_norm(v, w["norm_gamma"], w["norm_beta"])
    abar, bbar, c = _s4d_discrete(w)
    s = np.zeros((B, *abar.shape), complex)
    ys = []
    for t in range(T):
        s = abar * s + bbar * u[:, t, :, None]
        ys.append(2 * (c * s).sum(-1).real + w["d"] * u[:, t])
    return v + _glu(np.stack(ys, 1), w), u


@pytest.mark.parametrize("scan,init", [("sequential", "lin"), ("parallel", "real"),
                                       ("conv", "lin"), ("conv", "real")])
def test_s4d_block_matches_the_papers_equations_and_its_convolution(scan, init):
    layer, x = _block(S4DBlock, scan, state_dim=3, init=init)
    w = _weights(layer)
    want, u = _s4d_reference(w, x)
    np.testing.assert_allclose(np.asarray(layer(x)), want, rtol=RTOL, atol=ATOL)
    # the same SSM as a convolution: K_k = 2 Re(sum_m C Bbar Abar^k), y = K * u + D u
    abar, bbar, c = _s4d_discrete(w)
    kernel = np.stack([2 * (c * bbar * abar**k).sum(-1).real for k in range(T)])  # (T, H)
    conv = np.stack([sum(kernel[k] * u[:, t - k] for k in range(t + 1)) for t in range(T)], 1)
    np.testing.assert_allclose(np.asarray(layer.s4d(u.astype(np.float32))), conv + w["d"] * u,
                               rtol=RTOL, atol=ATOL)


def test_s4d_initialisations():
    lin = S4DBlock(4, state_dim=5, init="lin")
    lin.build((None, 7, 4))
    a = -np.exp(lin.log_a_re.numpy()) + 1j * lin.a_im.numpy()
    np.testing.assert_allclose(a, np.broadcast_to(-0.5 + 1j * np.pi * np.arange(5), (4, 5)),
                               rtol=1e-6)
    real = S4DBlock(4, state_dim=5, init="real")
    real.build((None, 7, 4))
    np.testing.assert_allclose(-np.exp(real.log_a_re.numpy()),
                               np.broadcast_to(-(np.arange(5) + 1.0), (4, 5)), rtol=1e-6)
    np.testing.assert_array_equal(real.a_im.numpy(), 0)
    dt = np.exp(lin.log_dt.numpy())
    assert dt.min() >= 0.001 - 1e-9 and dt.max() <= 0.1 + 1e-9
    with pytest.raises(ConfigError, match="init"):
        S4DBlock(4, init="legs")


def selective_scan_ref(u, delta, A, B_, C, D=None, z=None, delta_bias=None,
                       delta_softplus=False):
    """numpy transcription of mamba_ssm's ``selective_scan_ref`` (real A, variable B and C):
    u, delta, z (b, d, l); A (d, n); B, C (b, n, l); D, delta_bias (d,)."""
    if delta_bias is not None:
        delta = delta + delta_bias[..., None]
    if delta_softplus:
        delta = _softplus(delta)
    x = np.zeros((u.shape[0], u.shape[1], A.shape[1]))
    delta_a = np.exp(np.einsum("bdl,dn->bdln", delta, A))
    delta_b_u = np.einsum("bdl,bnl,bdl->bdln", delta, B_, u)
    ys = []
    for i in range(u.shape[2]):
        x = delta_a[:, :, i] * x + delta_b_u[:, :, i]
        ys.append(np.einsum("bdn,bn->bd", x, C[:, :, i]))
    out = np.stack(ys, axis=2)
    if D is not None:
        out = out + u * D[:, None]
    if z is not None:
        out = out * _silu(z)
    return out


def _mamba_reference(w, x, layer):
    n, r, k = layer.state_dim, layer.rank, layer.conv_width
    v0 = x @ w["encoder_kernel"] + w["encoder_bias"]
    hn = v0 / np.sqrt((v0**2).mean(-1, keepdims=True) + 1e-5) * w["norm_scale"]
    xz = hn @ w["in_kernel"]
    v, z = np.split(xz, 2, axis=-1)
    pad = np.concatenate([np.zeros((B, k - 1, v.shape[-1])), v], 1)
    conv = w["conv_bias"] + sum(pad[:, j:j + T] * w["conv_kernel"][j] for j in range(k))
    v = _silu(conv)
    proj = v @ w["x_kernel"]
    dt_low, bb, cc = proj[..., :r], proj[..., r:r + n], proj[..., r + n:]
    delta = dt_low @ w["dt_kernel"]  # the bias goes in as delta_bias, softplus in the scan
    tr = (0, 2, 1)
    y = selective_scan_ref(v.transpose(tr), delta.transpose(tr), -np.exp(w["a_log"]),
                           bb.transpose(tr), cc.transpose(tr), w["d"], z.transpose(tr),
                           delta_bias=w["dt_bias"], delta_softplus=True)
    return v0 + y.transpose(tr) @ w["out_kernel"]


@pytest.mark.parametrize("scan", ["sequential", "parallel"])
def test_mamba_block_matches_the_reference_selective_scan(scan):
    layer, x = _block(MambaBlock, scan, state_dim=4)
    w = _weights(layer)
    np.testing.assert_allclose(np.asarray(layer(x)), _mamba_reference(w, x, layer),
                               rtol=RTOL, atol=ATOL)


def test_mamba_initialisation():
    keras.utils.set_random_seed(0)
    layer = MambaBlock(32, state_dim=16)
    layer.build((None, 7, 32))
    assert layer.inner == 64 and layer.rank == 2  # expand 2, ceil(32 / 16)
    np.testing.assert_allclose(-np.exp(layer.a_log.numpy()),
                               np.broadcast_to(-np.arange(1.0, 17), (64, 16)), rtol=1e-6)
    np.testing.assert_array_equal(layer.d.numpy(), 1)
    dt = _softplus(layer.dt_bias.numpy().astype(np.float64))
    assert dt.min() >= 0.001 * (1 - 1e-4) and dt.max() <= 0.1 * (1 + 1e-4)
    with pytest.raises(ConfigError, match="expand"):
        MambaBlock(4, expand=0)


# -- xLSTM: the unstabilised equations give the same h (the stabiliser cancels) ---------------
def _conv(v, kernel, bias):
    k = kernel.shape[0]
    pad = np.concatenate([np.zeros((v.shape[0], k - 1, v.shape[-1])), v], 1)
    return bias + sum(pad[:, j:j + v.shape[1]] * kernel[j] for j in range(k))


def _head_norm(h, heads, scale, eps=1e-5):
    g = h.reshape(*h.shape[:-1], heads, -1)
    g = (g - g.mean(-1, keepdims=True)) / np.sqrt(g.var(-1, keepdims=True) + eps)
    return g.reshape(h.shape) * scale


def _slstm_reference(w, x, sizes):
    width = sum(sizes)
    v0 = x @ w["encoder_kernel"] + w["encoder_bias"]
    u = _layer_norm(v0, w["norm_gamma"], w["norm_beta"])
    uc = _silu(_conv(u, w["conv_kernel"], w["conv_bias"]))
    pre = np.concatenate([uc @ w["if_kernel"], u @ w["zo_kernel"]], -1) + w["gate_bias"]
    rs = [w[f"rnn_slstm_recurrent_kernel_{j}"] for j in range(len(sizes))]  # (s, 4s): i|f|z|o
    offsets = np.cumsum([0, *sizes])
    h, c, n = np.zeros((B, width)), np.zeros((B, width)), np.zeros((B, width))
    hs = []
    for t in range(T):
        rec = [(h[:, o:o + s] @ r).reshape(B, 4, s)
               for o, s, r in zip(offsets[:-1], sizes, rs, strict=True)]
        rec = np.concatenate(rec, -1).reshape(B, 4 * width)
        i_t, f_t, z_t, o_t = np.split(pre[:, t] + rec, 4, axis=-1)
        c = _sigmoid(f_t) * c + np.exp(i_t) * np.tanh(z_t)  # eqs. (8)-(13), no stabiliser
        n = _sigmoid(f_t) * n + np.exp(i_t)
        h = _sigmoid(o_t) * c / n
        hs.append(h)
    hs = np.stack(hs, 1)
    y = v0 + np.concatenate([_head_norm(hs[..., o:o + s], 1, 1.0) for o, s in
                             zip(offsets[:-1], sizes, strict=True)], -1) * w["out_norm_scale"]
    a, g = np.split(_layer_norm(y, w["norm2_gamma"], w["norm2_beta"]) @ w["up_kernel"], 2, -1)
    return y + (a * _gelu(g)) @ w["down_kernel"]


def test_slstm_block_matches_the_papers_equations():
    keras.utils.set_random_seed(0)
    layer = SLSTMBlock(9, return_sequences=True, heads=4)
    x = _x()
    layer(x)
    assert layer.sizes == [5, 4]  # heads of at least 4 units, as equal as possible
    w = _weights(layer)
    np.testing.assert_allclose(np.asarray(layer(x)), _slstm_reference(w, x, layer.sizes),
                               rtol=RTOL, atol=ATOL)


def _mlstm_reference(w, x, nh):
    e = 2 * H
    d = e // nh
    v0 = x @ w["encoder_kernel"] + w["encoder_bias"]
    u = _layer_norm(v0, w["norm_gamma"], w["norm_beta"])
    a, z = np.split(u @ w["up_kernel"], 2, -1)
    ac = _silu(_conv(a, w["conv_kernel"], w["conv_bias"]))
    wq, wk, wv = np.split(w["qkv_kernel"], 3, -1)
    q, k, v = ac @ wq, ac @ wk / math.sqrt(d), a @ wv
    gates = np.concatenate([q, ac @ wk, v], -1) @ w["gate_kernel"] + w["gate_bias"]
    i_t, f_t = np.exp(gates[..., :nh]), _sigmoid(gates[..., nh:])
    cm, n = np.zeros((B, nh, d, d)), np.zeros((B, nh, d))
    hs = []
    for t in range(T):
        qh, kh, vh = (m[:, t].reshape(B, nh, d) for m in (q, k, v))
        fi, ii = f_t[:, t, :, None], i_t[:, t, :, None]
        cm = fi[..., None] * cm + ii[..., None] * np.einsum("bhi,bhj->bhij", vh, kh)  # eq. (19)
        n = fi * n + ii * kh
        den = np.maximum(np.abs((n * qh).sum(-1, keepdims=True)), 1.0)  # eq. (21)
        hs.append((np.einsum("bhij,bhj->bhi", cm, qh) / den).reshape(B, e))
    hn = _head_norm(np.stack(hs, 1), nh, w["out_norm_scale"]) + w["skip"] * ac
    return v0 + (hn * _silu(z)) @ w["down_kernel"]


@pytest.mark.parametrize("scan", ["sequential", "parallel", "auto"])
@pytest.mark.parametrize("input_gate", [None, 60.0])
def test_mlstm_block_matches_the_papers_equations(scan, input_gate):
    """The step loop and the parallel form, also with input gates large enough (exp(60)) that
    an unstabilised exp overflows float32."""
    layer, x = _block(MLSTMBlock, scan, heads=4)
    if input_gate is not None:
        bias = layer.gate_bias.numpy()
        bias[:layer.nh] = input_gate
        layer.gate_bias.assign(bias)
    w = _weights(layer)
    got = np.asarray(layer(x))
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, _mlstm_reference(w, x, layer.nh), rtol=RTOL, atol=ATOL)


def _mlstm_input_gates(w, x, nh):
    """The input-gate pre-activations i~ (batch, T, heads) of ``_mlstm_reference``."""
    u = _layer_norm(x @ w["encoder_kernel"] + w["encoder_bias"], w["norm_gamma"], w["norm_beta"])
    a, _ = np.split(u @ w["up_kernel"], 2, -1)
    ac = _silu(_conv(a, w["conv_kernel"], w["conv_bias"]))
    wq, wk, wv = np.split(w["qkv_kernel"], 3, -1)
    qkv = np.concatenate([ac @ wq, ac @ wk, a @ wv], -1)
    return (qkv @ w["gate_kernel"] + w["gate_bias"])[..., :nh]


@pytest.mark.parametrize("scan", ["sequential", "parallel"])
def test_mlstm_stabiliser_holds_input_gates_where_exp_overflows_float32(scan):
    """Input-gate pre-activations of 50 to 100, one level per head, varying over the steps:
    exp(i~) overflows float32 above 88.7, so without the stabiliser m the block returns inf or
    NaN; with it, the output is finite and equals the unstabilised equations in float64."""
    layer, x = _block(MLSTMBlock, scan, heads=4)
    _weights(layer)  # every weight randomised, then the input-gate biases raised
    nh = layer.nh
    bias = layer.gate_bias.numpy()
    bias[:nh] = np.linspace(55.0, 95.0, nh)
    layer.gate_bias.assign(bias)
    w = {"_".join(v.path.split("/")[1:]): v.numpy().astype(np.float64) for v in layer.weights}
    gates = _mlstm_input_gates(w, x, nh)
    assert 45 < gates.min() and gates.max() > 89  # exp() of the largest is inf in float32
    with np.errstate(over="ignore"):
        assert not np.all(np.isfinite(np.exp(gates.astype(np.float32))))
    got = np.asarray(layer(x))
    assert np.all(np.isfinite(got)), "the stabiliser lets exp() overflow"
    np.testing.assert_allclose(got, _mlstm_reference(w, x, nh), rtol=RTOL, atol=ATOL)


def test_xlstm_initialisation_and_errors():
    keras.utils.set_random_seed(0)
    m = MLSTMBlock(8, heads=4)
    m.build((None, 5, 8))
    np.testing.assert_array_equal(m.gate_kernel.numpy(), 0)
    np.testing.assert_allclose(m.gate_bias.numpy()[4:], np.linspace(3, 6, 4), rtol=1e-6)
    s = SLSTMBlock(8, heads=2)
    s.build((None, 5, 8))
    assert all(np.all(r.numpy() == 0) for r in s.cell.recurrent_kernels)
    np.testing.assert_allclose(s.gate_bias.numpy()[8:16], np.repeat([3.0, 6.0], 4), rtol=1e-6)
    with pytest.raises(ConfigError, match="known: sequential"):
        SLSTMBlock(8, scan="parallel")


# -- sizes and stacking ------------------------------------------------------------------------
def _formula(name, h, d):
    if name == "lru":
        n = h
        return n * (4 * h + 3) + h + 2 * h * (h + 1) + 2 * h
    if name == "s4d":
        return h * (4 * 32 + 2) + 2 * h * (h + 1) + 2 * h
    if name == "slstm":
        f = round(4 * h / 3)
        r = 4 * sum(s * s for s in group_sizes(h, 4))  # 4H^2/heads, heads of >= 4 units
        return 4 * h * h + 4 * h + r + 5 * h + h + 2 * h + 2 * h + 3 * h * f
    if name == "mlstm":
        e, nh = 2 * h, 4
        return (2 * h * e + 5 * e + 3 * e * e + 2 * (3 * e + 1) * nh + e + e + e * h + 2 * h)
    e, n, r, k = 2 * h, 16, math.ceil(h / 16), 4
    return (2 * h * e + e * (k + 1) + e * (r + 2 * n) + (r + 1) * e + e * n + e + e * h + h)


@pytest.mark.parametrize("name", ["lru", "s4d", "mamba", "slstm", "mlstm"])
def test_layers_count_blocks_and_parameters_follow_the_docstring(name):
    task = mb.get_task("adding", length=10)
    h, d = 8, task.spec.input_dim
    one = build_model(task, name, units=h, layers=1)
    two = build_model(task, name, units=h, layers=2)
    blocks = [layer for layer in two.layers[1:-1]]
    assert len(blocks) == 2 and blocks[0].encoder is not None and blocks[1].encoder is None
    encoder, head = d * h + h, h + 1
    assert one.count_params() == encoder + _formula(name, h, d) + head
    assert two.count_params() == encoder + 2 * _formula(name, h, d) + head
    # a budget is met by the stack as by any model
    budget = 20_000
    assert abs(build_model(task, name, layers=2, param_budget=budget).count_params()
               - budget) <= 0.05 * budget


def test_unknown_scan_is_refused_with_the_choices():
    with pytest.raises(ConfigError, match="sequential, parallel"):
        build_model(mb.get_task("adding", length=10), "mamba", units=4, scan="fast")


# -- the bench's scan and peer sections, at tiny sizes (structure, not timings) -----------------
def test_bench_reports_the_scans_and_the_peer_section():
    from memorybench.bench import sections, suite

    scans = sections.bench_scans(units=4, Ts=(6,), batch=2, rounds=1, steps=1, models=("lru",))
    rows = {r["model"]: r for r in scans["scans"]}
    assert set(rows) == {"lru"}
    for r in rows.values():
        assert r["default"] == "sequential" and r["sequential_ms"] > 0 and r["parallel_ms"] > 0
        assert r["faster"] == ("sequential" if r["parallel_over_sequential"] > 1 else "parallel")
    note = "\n".join(suite.scan_note(scans["scans"]))
    assert "lru" in note and "T=6" in note and "default sequential" in note
    peer = sections.bench_peer(units=4, T=6, batch=2, rounds=1, steps=1)
    try:
        import torch  # noqa: F401
    except ImportError:
        assert "PyTorch is not installed" in peer["peer"]["skipped"]
    else:
        assert peer["keras_over_torch_lstm"] > 0 and peer["peer"]["torch_ms"] > 0
    assert "peer: the LSTM step" in suite.peer_note(peer)[0]
