"""xLSTM: the sLSTM and mLSTM blocks (exponential gating, stabiliser, normaliser; matrix memory)."""

from __future__ import annotations

import functools
import math

import keras
from keras import ops

from memorybench.errors import ConfigError
from memorybench.models import documented_by, register_model
from memorybench.models.blocks import ResidualBlock

# A head needs a few units: the group norm of a 1-unit head is 0 and of a 2-unit head +-1
# whatever the input (and its gradient overflows float16). The paper's heads have 32 or more.
MIN_HEAD = 4


def _heads(width: int, heads: int) -> int:
    """Heads actually used: the largest divisor of ``width`` not above ``heads`` whose heads
    have at least ``MIN_HEAD`` units (so that any width works, which ``--match-params``
    needs); 1 for a narrower width."""
    return max(k for k in range(1, min(heads, width) + 1)
               if width % k == 0 and (k == 1 or width // k >= MIN_HEAD))


def group_sizes(width: int, heads: int) -> list[int]:
    """``width`` units in min(heads, width // MIN_HEAD) groups (at least 1) as equal as
    possible, the first ones one larger: any width works and the parameter count grows with
    it (``--match-params``)."""
    k = max(1, min(heads, width // MIN_HEAD))
    base, extra = divmod(width, k)
    return [base + 1] * extra + [base] * (k - extra)


def small_init(dim: int):
    """N(0, 2 / (5 dim)): the xLSTM reference's ``small_init`` for input-side projections."""
    return keras.initializers.RandomNormal(stddev=math.sqrt(2.0 / (5 * dim)))


def wang_init(dim: int, blocks: int = 1):
    """N(0, (2 / (blocks sqrt(dim)))^2): the reference's ``wang_init`` for output projections."""
    return keras.initializers.RandomNormal(stddev=2.0 / blocks / math.sqrt(dim))


def causal_conv(v, kernel, bias):
    """Causal depthwise convolution over time, kernel (width, channels)."""
    k = kernel.shape[0]
    steps = v.shape[1] if v.shape[1] is not None else ops.shape(v)[1]
    padded = ops.pad(v, [(0, 0), (k - 1, 0), (0, 0)])
    out = bias
    for j in range(k):
        out = out + padded[:, j:j + steps, :] * kernel[j]
    return out


def head_norm(h, sizes: list[int], scale, eps: float = 1e-5):
    """GroupNorm with one group per head of the given sizes (the reference's
    ``MultiHeadLayerNorm``, no bias)."""
    out, start = [], 0
    for s in sizes:
        g = h[..., start:start + s]
        mean = ops.mean(g, axis=-1, keepdims=True)
        var = ops.mean(ops.square(g - mean), axis=-1, keepdims=True)
        out.append((g - mean) / ops.sqrt(var + eps))
        start += s
    return (ops.concatenate(out, axis=-1) if len(out) > 1 else out[0]) * scale


def _conv_weights(layer, width, channels):
    bound = width**-0.5  # PyTorch's Conv1d default, as the reference
    init = keras.initializers.RandomUniform(-bound, bound)
    return (layer.add_weight(shape=(width, channels), name="conv_kernel", initializer=init,
                             autocast=False),
            layer.add_weight(shape=(channels,), name="conv_bias", initializer=init,
                             autocast=False))


def _forget_bias(sizes: list[int]):
    """linspace(3, 6) over the heads (the reference's forget-gate bias), each value repeated
    over its head's units."""
    def init(shape, dtype=None):
        k = len(sizes)
        values = [3.0 + 3.0 * j / (k - 1) if k > 1 else 3.0 for j in range(k)]
        return ops.convert_to_tensor(
            [v for v, s in zip(values, sizes, strict=True) for _ in range(s)], "float32")
    return init


# -- sLSTM -------------------------------------------------------------------------------------
class SLSTMStep(keras.layers.Layer):
    """One sLSTM step on precomputed input pre-activations [i | f | z | o] (each H wide):
    adds the block-diagonal recurrent part R h_{t-1} (one block per head, ``group_sizes``)
    and updates the states (h, c, n, m). Runs in float32 (exponential gates)."""

    def __init__(self, units: int, heads: int, **kwargs):
        super().__init__(**kwargs)
        self.units, self.heads = units, heads
        self.sizes = group_sizes(units, heads)
        self.state_size = [units] * 4
        self.output_size = units

    def build(self, input_shape):
        # zeros, as the reference's recurrent_weight_init="zeros"
        self.recurrent_kernels = [
            self.add_weight(shape=(s, 4 * s), name=f"recurrent_kernel_{j}", initializer="zeros")
            for j, s in enumerate(self.sizes)]
        super().build(input_shape)

    def call(self, inputs, states):
        h, c, n, m = states
        parts, start = [], 0
        for s, r in zip(self.sizes, self.recurrent_kernels, strict=True):  # head by head
            parts.append(ops.reshape(ops.matmul(h[:, start:start + s], r), (-1, 4, s)))
            start += s
        r = ops.concatenate(parts, axis=-1) if len(parts) > 1 else parts[0]
        r = ops.reshape(r, (-1, 4 * self.units))  # [i | f | z | o], head-major inside each
        i_t, f_t, z_t, o_t = ops.split(inputs + r, 4, axis=-1)
        log_f = -ops.softplus(-f_t)  # log sigmoid: the reference's sigmoid forget gate
        m_new = ops.maximum(log_f + m, i_t)  # stabiliser
        i_s = ops.exp(i_t - m_new)
        f_s = ops.exp(log_f + m - m_new)
        c = f_s * c + i_s * ops.tanh(z_t)
        n = f_s * n + i_s
        h = ops.sigmoid(o_t) * c / n
        return h, [h, c, n, m_new]

    def get_config(self):
        return {**super().get_config(), "units": self.units, "heads": self.heads}


@keras.saving.register_keras_serializable(package="memorybench")
class SLSTMBlock(ResidualBlock):
    """sLSTM block, Beck, Poeppel, Spanring, Auer, Prudnikova, Kopp, Klambauer, Brandstetter &
    Hochreiter 2024, "xLSTM: Extended Long Short-Term Memory" (NeurIPS; arXiv:2405.04517),
    eqs. (8)-(17) and Figure 9 (post up-projection block)::

        i~, f~, z~, o~ = W x_t + R h_{t-1} + b     (R block-diagonal: one block per head)
        m_t = max(log f_t + m_{t-1}, i~_t)         (stabiliser; f_t = sigmoid(f~), i_t = exp(i~))
        i'_t = exp(i~_t - m_t),  f'_t = exp(log f_t + m_{t-1} - m_t)
        c_t = f'_t c_{t-1} + i'_t tanh(z~_t)       (cell)
        n_t = f'_t n_{t-1} + i'_t                  (normaliser)
        h_t = sigmoid(o~_t) * c_t / n_t
        block: y = x + GroupNorm_heads(sLSTM(u)),  u = LayerNorm(x); i~, f~ read
               SiLU(causal conv1d(u, width 4)), z~, o~ read u;
               out = y + W_down((W_a v) * GELU(W_g v)),  v = LayerNorm(y)  (up-projection 4/3)

    The exponential input gate lets a new input overwrite the memory (the LSTM cannot revise a
    stored value); the stabiliser m keeps exp() finite without changing h (the same h as
    without it), and the normaliser n keeps h a weighted average of the inputs. The recurrence
    is nonlinear, so it runs as a loop (``keras.layers.RNN``), in float32 under every policy.
    Initialisation as the reference code: R zero, forget-gate bias linspace(3, 6) over the
    heads, other biases zero, input-side projections ``small_init`` N(0, 2/(5H)), the output
    projection ``wang_init``; input and gate projections are dense here (the reference makes
    z and o head-wise). ``heads`` (default 4, the paper's) blocks of R and of the group norm,
    the H units split as equally as possible into heads of at least 4 units (``group_sizes``:
    any H works, and the parameter count grows with H). A Dense encoder maps the input to H
    where they differ.

    "units" is the block's width H: the sLSTM has H cells (h, c, n, m of size H each).
    ``layers`` stacks blocks. Parameters per block: 4H^2 + 4H (W, b) + 4H^2/heads (R) +
    5H (conv) + H (group norm) + 2H (norm) + 2H (second norm) + 3HF (MLP, F = round(4H/3));
    4H^2/heads is 4 sum(s_j^2) over the head sizes s_j where heads does not divide H.
    """

    def __init__(self, units: int, return_sequences: bool = False, scan: str = "sequential",
                 heads: int = 4, conv_width: int = 4, **kwargs):
        super().__init__(units, return_sequences=return_sequences, scan=scan, **kwargs)
        if scan != "sequential":
            raise ConfigError(f"SLSTMBlock: unknown scan {scan!r}; known: sequential (the "
                              f"sLSTM recurrence is nonlinear)")
        for field, v in (("heads", heads), ("conv_width", conv_width)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ConfigError(f"SLSTMBlock: {field} must be a positive int, got {v!r}")
        self.heads, self.conv_width = heads, conv_width
        self.sizes = group_sizes(units, heads)
        self.ffn = max(1, round(4 * units / 3))

    def build_mixer(self, shape):
        h, f = self.units, self.ffn
        # the sLSTM layer (projections, convolution, recurrence, group norm) runs in float32
        # under the mixed policies: the group norm of small early activations has gradients
        # that overflow float16 at the loss scale; the MLP runs in the policy's dtype
        add = functools.partial(self.add_weight, autocast=False)
        self.conv_kernel, self.conv_bias = _conv_weights(self, self.conv_width, h)
        self.if_kernel = add(shape=(h, 2 * h), name="if_kernel", initializer=small_init(h))
        self.zo_kernel = add(shape=(h, 2 * h), name="zo_kernel", initializer=small_init(h))
        fb = _forget_bias(self.sizes)

        def bias_init(shape, dtype=None):  # [i | f | z | o]: only the forget gate is nonzero
            z = ops.zeros((h,))
            return ops.concatenate([z, fb((h,)), z, z])

        self.gate_bias = add(shape=(4 * h,), name="gate_bias", initializer=bias_init)
        self.out_norm_scale = add(shape=(h,), name="out_norm_scale", initializer="ones")
        self.cell = SLSTMStep(h, self.heads, dtype="float32", name="slstm")
        self.rnn = keras.layers.RNN(self.cell, return_sequences=True, dtype="float32", name="rnn")
        self.rnn.build((*shape[:-1], 4 * h))
        self.norm2 = self._sub(keras.layers.LayerNormalization(name="norm2",
                                                               dtype=self.dtype_policy), shape)
        self.up_kernel = self.add_weight(shape=(h, 2 * f), name="up_kernel",
                                         initializer=small_init(h))
        self.down_kernel = self.add_weight(shape=(f, h), name="down_kernel",
                                           initializer=wang_init(f))

    def preactivations(self, u):
        """[i | f | z | o] input pre-activations, (batch, T, 4H)."""
        uc = ops.silu(causal_conv(u, self.conv_kernel, self.conv_bias))
        i_f = ops.matmul(uc, self.if_kernel)
        z_o = ops.matmul(u, self.zo_kernel)
        return ops.concatenate([i_f, z_o], axis=-1) + self.gate_bias

    def mix(self, u):
        dtype = u.dtype
        h = self.rnn(self.preactivations(ops.cast(u, "float32")))
        return ops.cast(head_norm(h, self.sizes, self.out_norm_scale), dtype)

    def post(self, y):
        v = self.norm2(y)
        a, g = ops.split(ops.matmul(v, self.up_kernel), 2, axis=-1)
        return y + ops.matmul(a * ops.gelu(g, approximate=False), self.down_kernel)

    def get_config(self):
        config = super().get_config()
        config.update(heads=self.heads, conv_width=self.conv_width)
        return config


# -- mLSTM -------------------------------------------------------------------------------------
# mLSTM's parallel form holds batch x heads x T x T matrices: up to this T ("auto")
PARALLEL_MAX_STEPS = 512


class MLSTMStep(keras.layers.Layer):
    """One stabilised mLSTM step per head on inputs [q | k | v | i~ | f~] (E, E, E, heads,
    heads); states: C (heads * d * d), n (heads * d), m (heads). Output h~ (E). Float32."""

    def __init__(self, width: int, heads: int, **kwargs):
        super().__init__(**kwargs)
        self.width, self.heads = width, heads
        d = width // heads
        self.state_size = [heads * d * d, heads * d, heads]
        self.output_size = width

    def call(self, inputs, states):
        nh, e = self.heads, self.width
        d = e // nh
        q, k, v = (ops.reshape(inputs[:, j * e:(j + 1) * e], (-1, nh, d)) for j in range(3))
        i_t, f_t = inputs[:, 3 * e:3 * e + nh], inputs[:, 3 * e + nh:]
        c = ops.reshape(states[0], (-1, nh, d, d))
        n = ops.reshape(states[1], (-1, nh, d))
        m = states[2]
        k = k / math.sqrt(d)
        log_f = -ops.softplus(-f_t)
        m_new = ops.maximum(log_f + m, i_t)
        i_s = ops.exp(i_t - m_new)[..., None]
        f_s = ops.exp(log_f + m - m_new)[..., None]
        c = f_s[..., None] * c + i_s[..., None] * (v[..., :, None] * k[..., None, :])  # v k^T
        n = f_s * n + i_s * k
        num = ops.sum(c * q[..., None, :], axis=-1)  # C q
        qn = ops.sum(n * q, axis=-1, keepdims=True)
        den = ops.maximum(ops.abs(qn), ops.exp(-m_new)[..., None])
        h = ops.reshape(num / den, (-1, e))
        return h, [ops.reshape(c, (-1, nh * d * d)), ops.reshape(n, (-1, nh * d)), m_new]

    def get_config(self):
        return {**super().get_config(), "width": self.width, "heads": self.heads}


@keras.saving.register_keras_serializable(package="memorybench")
class MLSTMBlock(ResidualBlock):
    """mLSTM block, Beck et al. 2024, "xLSTM: Extended Long Short-Term Memory" (NeurIPS;
    arXiv:2405.04517), eqs. (19)-(27) and Figure 10 (pre up-projection block)::

        q_t = W_q x_t,  k_t = W_k x_t / sqrt(d),  v_t = W_v x_t      (per head, d = E/heads)
        i~_t, f~_t = w^T [q; k; v] + b                               (scalar gates per head)
        m_t = max(log f_t + m_{t-1}, i~_t),  i'_t = exp(i~_t - m_t),
        f'_t = exp(log f_t + m_{t-1} - m_t)                           (f_t = sigmoid(f~_t))
        C_t = f'_t C_{t-1} + i'_t v_t k_t^T                           (matrix memory, d x d)
        n_t = f'_t n_{t-1} + i'_t k_t
        h~_t = C_t q_t / max(|n_t^T q_t|, exp(-m_t))
        block: [a, z] = LayerNorm(x) W_up (E = 2H each); a' = SiLU(causal conv1d(a, 4));
               q, k read a', v reads a; out = x + W_down((GroupNorm_heads(h~) + s * a')
               * SiLU(z))

    The covariance update v k^T stores key-value pairs and q retrieves them: a memory of
    d x d per head instead of the LSTM's scalar cell. The recurrence is linear in (C, n) given
    the gates, so it has the paper's parallel form (its appendix): with F_t = sum_{s<=t}
    log f_s and D_ts = F_t - F_s + i~_s (s <= t), h~_t = sum_s exp(D_ts)(q_t.k_s) v_s /
    max(|sum_s exp(D_ts)(q_t.k_s)|, 1), computed with D stabilised by its row maximum: the same
    h~ as the step loop (the stabiliser m cancels), O(T^2) memory per head. ``scan``:
    "parallel", "sequential" (the stabilised step loop, ``keras.layers.RNN``) or "auto" (the
    default: parallel up to ``PARALLEL_MAX_STEPS`` steps, the loop beyond, where the T x T
    matrices would not fit). Float32 under every policy. Initialisation as in the
    reference: gate weights zero, input-gate bias N(0, 0.1^2), forget-gate bias
    linspace(3, 6) over the heads, projections ``small_init`` N(0, 2/(5 width)), the output
    projection ``wang_init``, skip s = 1; q, k, v projections are dense here (the reference's
    are block-diagonal with blocks of 4). ``heads`` (default 4) is reduced to the largest
    divisor of E not above it that leaves heads of at least 4 units. The SiLU(z) branch is
    the block's output gate (the mLSTM of the block has no o gate). A Dense encoder maps the
    input to H where they differ.

    "units" is the block's width H; the mLSTM runs at E = 2H (``proj_factor`` 2) with
    ``heads`` heads of d = E/heads and a d x d memory each. ``layers`` stacks blocks.
    Parameters per block: 2HE (up) + 5E (conv) + 3E^2 (q, k, v) + 2(3E + 1) heads (gates) +
    E (group norm) + E (skip) + EH (down) + 2H (norm).
    """

    scans = ("auto", "parallel", "sequential")

    def __init__(self, units: int, return_sequences: bool = False, scan: str = "auto",
                 heads: int = 4, conv_width: int = 4, proj_factor: int = 2, **kwargs):
        super().__init__(units, return_sequences=return_sequences, scan=scan, **kwargs)
        for field, v in (("heads", heads), ("conv_width", conv_width),
                         ("proj_factor", proj_factor)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ConfigError(f"MLSTMBlock: {field} must be a positive int, got {v!r}")
        self.heads, self.conv_width, self.proj_factor = heads, conv_width, proj_factor
        self.width = proj_factor * units
        self.nh = _heads(self.width, heads)

    def build_mixer(self, shape):
        h, e, nh = self.units, self.width, self.nh
        add = functools.partial(self.add_weight, autocast=False)  # float32, as the sLSTM
        self.up_kernel = add(shape=(h, 2 * e), name="up_kernel", initializer=small_init(h))
        self.conv_kernel, self.conv_bias = _conv_weights(self, self.conv_width, e)
        self.qkv_kernel = add(shape=(e, 3 * e), name="qkv_kernel", initializer=small_init(e))
        self.gate_kernel = add(shape=(3 * e, 2 * nh), name="gate_kernel", initializer="zeros")
        fb = _forget_bias([1] * nh)

        def bias_init(shape, dtype=None):  # [i~ | f~]
            return ops.concatenate([keras.random.normal((nh,), stddev=0.1), fb((nh,))])

        self.gate_bias = add(shape=(2 * nh,), name="gate_bias", initializer=bias_init)
        self.out_norm_scale = add(shape=(e,), name="out_norm_scale", initializer="ones")
        self.skip = add(shape=(e,), name="skip", initializer="ones")
        self.down_kernel = add(shape=(e, h), name="down_kernel", initializer=wang_init(e))
        self.cell = MLSTMStep(e, nh, dtype="float32", name="mlstm")
        self.rnn = keras.layers.RNN(self.cell, return_sequences=True, dtype="float32", name="rnn")
        self.rnn.build((*shape[:-1], 3 * e + 2 * nh))

    def step_inputs(self, u):
        """(a', z, [q | k | v | i~ | f~]) for the normalised input u."""
        e = self.width
        a, z = ops.split(ops.matmul(u, self.up_kernel), 2, axis=-1)
        ac = ops.silu(causal_conv(a, self.conv_kernel, self.conv_bias))
        w = self.qkv_kernel
        q, k = ops.matmul(ac, w[:, :e]), ops.matmul(ac, w[:, e:2 * e])
        v = ops.matmul(a, w[:, 2 * e:])
        qkv = ops.concatenate([q, k, v], axis=-1)
        gates = ops.matmul(qkv, self.gate_kernel) + self.gate_bias
        return ac, z, ops.concatenate([qkv, gates], axis=-1)

    def parallel(self, inputs):
        """h~ (batch, T, E) from [q | k | v | i~ | f~] by the parallel form (the docstring)."""
        nh, e = self.nh, self.width
        d = e // nh
        steps = ops.shape(inputs)[1]

        def heads(x, width):  # (batch, T, nh * width) -> (batch, nh, T, width)
            return ops.transpose(ops.reshape(x, (-1, steps, nh, width)), (0, 2, 1, 3))

        q, k, v = (heads(inputs[..., j * e:(j + 1) * e], d) for j in range(3))
        i_t = heads(inputs[..., 3 * e:3 * e + nh], 1)[..., 0]  # (batch, nh, T)
        log_f = -ops.softplus(-heads(inputs[..., 3 * e + nh:], 1)[..., 0])
        f_cum = ops.cumsum(log_f, axis=-1)
        d_mat = f_cum[..., :, None] - f_cum[..., None, :] + i_t[..., None, :]
        causal = ops.tril(ops.ones((steps, steps), dtype="bool"))
        d_mat = ops.where(causal, d_mat, -1e30)
        m = ops.max(d_mat, axis=-1, keepdims=True)
        scores = ops.matmul(q, ops.transpose(k, (0, 1, 3, 2))) / math.sqrt(d)
        s = scores * ops.exp(d_mat - m)
        den = ops.maximum(ops.abs(ops.sum(s, axis=-1, keepdims=True)), ops.exp(-m))
        h = ops.matmul(s / den, v)  # (batch, nh, T, d)
        return ops.reshape(ops.transpose(h, (0, 2, 1, 3)), (-1, steps, e))

    def mix(self, u):
        dtype = u.dtype
        ac, z, inputs = self.step_inputs(ops.cast(u, "float32"))
        parallel = self.scan == "parallel" or (
            self.scan == "auto" and (inputs.shape[1] or PARALLEL_MAX_STEPS + 1)
            <= PARALLEL_MAX_STEPS)
        h = self.parallel(inputs) if parallel else self.rnn(inputs)
        h = head_norm(h, [self.width // self.nh] * self.nh, self.out_norm_scale) + self.skip * ac
        return ops.cast(ops.matmul(h * ops.silu(z), self.down_kernel), dtype)

    def get_config(self):
        config = super().get_config()
        config.update(heads=self.heads, conv_width=self.conv_width, proj_factor=self.proj_factor)
        return config


@register_model("slstm")
@documented_by(SLSTMBlock)
def slstm(spec, units: int, return_sequences: bool, **params) -> SLSTMBlock:
    """One sLSTM block (Beck et al. 2024); ``layers`` stacks blocks."""
    return SLSTMBlock(units, return_sequences=return_sequences, **params)


@register_model("mlstm")
@documented_by(MLSTMBlock)
def mlstm(spec, units: int, return_sequences: bool, **params) -> MLSTMBlock:
    """One mLSTM block (Beck et al. 2024); ``layers`` stacks blocks."""
    return MLSTMBlock(units, return_sequences=return_sequences, **params)
