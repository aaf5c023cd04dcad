"""Mamba: the selective state-space block (input-dependent step, B and C) of Gu & Dao 2023."""

from __future__ import annotations

import math

import keras
from keras import ops

from memorybench.errors import ConfigError
from memorybench.models import documented_by, register_model
from memorybench.models.blocks import ResidualBlock, linear_loop, scan_real


def _torch_linear(fan_in: int):
    """PyTorch's default Linear / Conv1d initialisation, U(+-1/sqrt(fan_in)) (the reference's)."""
    return keras.initializers.RandomUniform(-(fan_in**-0.5), fan_in**-0.5)


@keras.saving.register_keras_serializable(package="memorybench")
class MambaBlock(ResidualBlock):
    """Mamba block, Gu & Dao 2023, "Mamba: Linear-Time Sequence Modeling with Selective State
    Spaces" (arXiv:2312.00752), Algorithm 2 and the reference ``mamba_simple.Mamba``::

        [v, z] = x W_in                                     (E = expand * H channels each)
        v = SiLU(causal depthwise conv1d(v, width d_conv) + b_conv)
        [dt_low, B_t, C_t] = v W_x                          (rank R, N, N)
        dt = softplus(dt_low W_dt + b_dt)                   (selection: input-dependent step)
        A = -exp(A_log)                                     (S4D-Real: A_log init log(1..N))
        h_t = exp(dt_t A) * h_{t-1} + dt_t B_t u_t          (per channel, N states; ZOH for A,
        y_t = h_t C_t + D u_t                                 Euler for B, as in the paper)
        out = (y * SiLU(z)) W_out
        block: x + out(RMSNorm(x))

    The scan is ``selective_scan_ref`` of the mamba repository
    (``mamba_ssm/ops/selective_scan_interface.py``): deltaA = exp(dt A), deltaB_u = dt B u,
    h = deltaA h + deltaB_u, y = h . C + D u, times SiLU(z); ``scan="sequential"`` runs it step
    by step (``keras.layers.RNN``, the default on a CPU), ``"parallel"`` as an associative
    scan (same numbers; the CUDA kernel's hardware-aware fusion is not reproduced: this is the
    reference path, on any backend). The selection (dt) and the scan run in float32 under the
    mixed policies, as the reference kernel computes them; the projections in the policy's
    dtype. Initialisation as in the reference: dt = exp(U[log
    dt_min, log dt_max]) (0.001, 0.1) floored at 1e-4 and b_dt = dt + log(-expm1(-dt)) (the
    inverse softplus), W_dt U(+-R^-0.5), A_log = log(1..N) for every channel, D = 1, the
    linear and convolution weights PyTorch's default U(+-1/sqrt(fan_in)); no biases on the
    projections. Defaults as the paper's: expand 2, d_state N = 16, d_conv 4, R = ceil(H/16).
    A Dense encoder maps the input to H where they differ.

    "units" is the block's width H (d_model); the SSM runs on E = expand * H channels with
    N states each. ``layers`` stacks blocks. Parameters per block: 2HE (in) + E(d_conv + 1)
    (conv) + E(R + 2N) (x) + (R + 1)E (dt) + EN (A) + E (D) + EH (out) + H (norm).
    """

    norm = "rms"

    def __init__(self, units: int, return_sequences: bool = False, scan: str = "sequential",
                 state_dim: int = 16, expand: int = 2, conv_width: int = 4,
                 dt_rank: int | None = None, dt_min: float = 0.001, dt_max: float = 0.1,
                 **kwargs):
        super().__init__(units, return_sequences=return_sequences, scan=scan, **kwargs)
        for field, v in (("state_dim", state_dim), ("expand", expand),
                         ("conv_width", conv_width)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ConfigError(f"MambaBlock: {field} must be a positive int, got {v!r}")
        if dt_rank is not None and (isinstance(dt_rank, bool) or not isinstance(dt_rank, int)
                                    or dt_rank < 1):
            raise ConfigError(f"MambaBlock: dt_rank must be a positive int or None, got "
                              f"{dt_rank!r}")
        for field, v in (("dt_min", dt_min), ("dt_max", dt_max)):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0:
                raise ConfigError(f"MambaBlock: {field} must be a number > 0, got {v!r}")
        if dt_min > dt_max:
            raise ConfigError(f"MambaBlock: dt_min must be <= dt_max, got {dt_min} > {dt_max}")
        self.state_dim, self.expand, self.conv_width = state_dim, expand, conv_width
        self.dt_rank = dt_rank
        self.dt_min, self.dt_max = float(dt_min), float(dt_max)
        self.inner = expand * units
        self.rank = dt_rank or math.ceil(units / 16)
        self._loop = (linear_loop(self.inner * state_dim, False)
                      if scan == "sequential" else None)

    def build_mixer(self, shape):
        h, e, n, r, k = self.units, self.inner, self.state_dim, self.rank, self.conv_width
        add = self.add_weight
        self.in_kernel = add(shape=(h, 2 * e), name="in_kernel", initializer=_torch_linear(h))
        self.conv_kernel = add(shape=(k, e), name="conv_kernel", initializer=_torch_linear(k))
        self.conv_bias = add(shape=(e,), name="conv_bias", initializer=_torch_linear(k))
        self.x_kernel = add(shape=(e, r + 2 * n), name="x_kernel", initializer=_torch_linear(e))
        self.dt_kernel = add(shape=(r, e), name="dt_kernel",
                             initializer=keras.initializers.RandomUniform(-(r**-0.5), r**-0.5))

        def dt_bias_init(shape, dtype=None):
            lo, hi = math.log(self.dt_min), math.log(self.dt_max)
            dt = ops.maximum(ops.exp(keras.random.uniform(shape, lo, hi, dtype="float32")), 1e-4)
            return dt + ops.log(-ops.expm1(-dt))  # softplus(b_dt) = dt

        def a_log_init(shape, dtype=None):
            return ops.log(ops.broadcast_to(ops.arange(1, n + 1, dtype="float32"), shape))

        # the selection and the scan run in float32 under any policy, as in the reference kernel
        self.dt_bias = add(shape=(e,), name="dt_bias", initializer=dt_bias_init, autocast=False)
        self.a_log = add(shape=(e, n), name="a_log", initializer=a_log_init, autocast=False)
        self.d = add(shape=(e,), name="d", initializer="ones", autocast=False)
        self.out_kernel = add(shape=(e, h), name="out_kernel", initializer=_torch_linear(e))

    def conv(self, v):
        """Causal depthwise convolution over time: sum_j w[j] v[t - (k-1) + j] + b."""
        k = self.conv_width
        steps = v.shape[1] if v.shape[1] is not None else ops.shape(v)[1]
        padded = ops.pad(v, [(0, 0), (k - 1, 0), (0, 0)])
        out = self.conv_bias
        for j in range(k):  # k is 4: a few shifted products, no convolution op needed
            out = out + padded[:, j:j + steps, :] * self.conv_kernel[j]
        return out

    def selective_scan(self, u, delta, b, c, z):
        """``selective_scan_ref`` with delta already softplus'd: u, delta, z (batch, T, E);
        b, c (batch, T, N). Returns (batch, T, E) in u's dtype; computed in float32."""
        e, n = self.inner, self.state_dim
        dtype = u.dtype
        u, delta, b, c, z = (ops.cast(v, "float32") for v in (u, delta, b, c, z))
        a = -ops.exp(self.a_log)  # (E, N)
        da = ops.exp(ops.expand_dims(delta, -1) * a)  # (batch, T, E, N)
        dbu = ops.expand_dims(delta * u, -1) * ops.expand_dims(b, 2)
        lead = ops.shape(u)[:-1]
        hs = scan_real(ops.reshape(da, (*lead, e * n)), ops.reshape(dbu, (*lead, e * n)),
                       self.scan == "parallel", self._loop)
        y = ops.sum(ops.reshape(hs, (*lead, e, n)) * ops.expand_dims(c, 2), axis=-1)
        return ops.cast((y + u * self.d) * ops.silu(z), dtype)

    def mix(self, x):
        n, r = self.state_dim, self.rank
        v, z = ops.split(ops.matmul(x, self.in_kernel), 2, axis=-1)
        v = ops.silu(self.conv(v))
        proj = ops.matmul(v, self.x_kernel)
        dt_low, b, c = proj[..., :r], proj[..., r:r + n], proj[..., r + n:]
        delta = ops.softplus(ops.cast(ops.matmul(dt_low, self.dt_kernel), "float32")
                             + self.dt_bias)
        return ops.matmul(self.selective_scan(v, delta, b, c, z), self.out_kernel)

    def get_config(self):
        config = super().get_config()
        config.update(state_dim=self.state_dim, expand=self.expand, conv_width=self.conv_width,
                      dt_rank=self.dt_rank, dt_min=self.dt_min, dt_max=self.dt_max)
        return config


@register_model("mamba")
@documented_by(MambaBlock)
def mamba(spec, units: int, return_sequences: bool, **params) -> MambaBlock:
    """One Mamba block (Gu & Dao 2023); ``layers`` stacks blocks."""
    return MambaBlock(units, return_sequences=return_sequences, **params)


# the default training path (train.jit=auto) reads this: XLA measured slower for this model
mamba.xla_off_by_default = (
    "its selective scan took 11.9 s a step with XLA against 1.6 s"
    " without (128 units, T=200, batch 128; memorybench bench --quick)"
)
