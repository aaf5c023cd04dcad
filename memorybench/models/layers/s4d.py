"""S4D: a diagonal state-space layer (zero-order hold, learned step) in a residual block."""

from __future__ import annotations

import math

import keras
from keras import ops

from memorybench.errors import ConfigError
from memorybench.models import documented_by, register_model
from memorybench.models.blocks import GLU, ResidualBlock, linear_loop, scan_complex

INITS = ("lin", "real")


def zoh_diagonal(dt, a_re, a_im):
    """Zero-order hold of x' = A x + B u (B = 1) for diagonal complex A with step dt:
    (Abar_re, Abar_im, Bbar_re, Bbar_im) with Abar = exp(dt A), Bbar = (Abar - 1) / A.
    Works on numpy arrays and Keras tensors alike."""
    mag = ops.exp(dt * a_re)
    abar_re, abar_im = mag * ops.cos(dt * a_im), mag * ops.sin(dt * a_im)
    num_re, num_im = abar_re - 1.0, abar_im
    den = a_re * a_re + a_im * a_im
    return (abar_re, abar_im, (num_re * a_re + num_im * a_im) / den,
            (num_im * a_re - num_re * a_im) / den)


@keras.saving.register_keras_serializable(package="memorybench")
class S4DBlock(ResidualBlock):
    """S4D block, Gu, Gupta, Goel & Re 2022, "On the Parameterization and Initialization of
    Diagonal State Space Models" (NeurIPS; arXiv:2206.11893). Per channel h of the input u
    (H independent single-input SSMs with M = ``state_dim`` complex modes each)::

        x'(t) = A x(t) + B u(t),  y(t) = 2 Re(C x(t)) + D u(t)     A = -exp(A_log_re) + i A_im
        ZOH with step dt = exp(log_dt):  Abar = exp(dt A),  Bbar = (exp(dt A) - 1) / A * B
        x_t = Abar x_{t-1} + Bbar u_t,   y_t = 2 Re(C x_t) + D u_t
        block: x + GLU(GELU(y)), u = LayerNorm(x);  GLU(g) = (W_1 g + b_1) * sigmoid(W_2 g + b_2)

    The factor 2 and Re(.) keep the conjugate partner of every mode implicitly (the paper's
    N = 2M states). Initialisations (``init``): S4D-Lin, A_m = -1/2 + i pi m (the default);
    S4D-Real, A_m = -(m + 1). B = 1 (fixed; C absorbs its scale, as in the paper's reference
    S4D layer), C complex N(0, 1) (both parts variance 1/2), D N(0, 1), log dt uniform in
    [log 0.001, log 0.1] per channel (``dt_min``, ``dt_max``); A, C, D and dt are trained.
    The recurrence is linear and time-invariant, so it is the paper's convolution
    y = K * u + D u with the kernel K_k = 2 Re(C Abar^k Bbar), k = 0..T-1, computed once a
    step from the Vandermonde powers Abar^k = exp(k dt A) and applied with an FFT
    (``scan="conv"``, as the paper trains it), or a scan of the recurrence (``"sequential"``
    or ``"parallel"``): the same map, equal to float32 rounding. Complex numbers are carried as real
    and imaginary parts; the SSM runs in float32 under the mixed policies, the GLU in the
    policy's dtype. The block is the paper's: pre-LayerNorm, S4D, GELU, a linear layer
    to 2H and a GLU, residual; a Dense encoder maps the input to H where they differ.

    "units" is the block's width H; ``state_dim`` is M (default 32: the paper's N = 64).
    ``layers`` stacks blocks. Parameters per block: H(4M + 2) (S4D: A, C, log dt, D) +
    2H(H + 1) (GLU) + 2H (norm), plus the encoder.
    """

    scans = ("conv", "sequential", "parallel")

    def __init__(self, units: int, return_sequences: bool = False, scan: str = "conv",
                 state_dim: int = 32, init: str = "lin", dt_min: float = 0.001,
                 dt_max: float = 0.1, **kwargs):
        super().__init__(units, return_sequences=return_sequences, scan=scan, **kwargs)
        if isinstance(state_dim, bool) or not isinstance(state_dim, int) or state_dim < 1:
            raise ConfigError(f"S4DBlock: state_dim must be a positive int, got {state_dim!r}")
        if init not in INITS:
            raise ConfigError(f"S4DBlock: unknown init {init!r}; known: {', '.join(INITS)}")
        for field, v in (("dt_min", dt_min), ("dt_max", dt_max)):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0:
                raise ConfigError(f"S4DBlock: {field} must be a number > 0, got {v!r}")
        if dt_min > dt_max:
            raise ConfigError(f"S4DBlock: dt_min must be <= dt_max, got {dt_min} > {dt_max}")
        self.state_dim, self.init = state_dim, init
        self.dt_min, self.dt_max = float(dt_min), float(dt_max)
        self._loop = (linear_loop(units * state_dim, True)
                      if scan == "sequential" else None)

    def build_mixer(self, shape):
        h, m = self.units, self.state_dim
        modes = ops.arange(m, dtype="float32")
        lin = self.init == "lin"

        def a_re_init(shape, dtype=None):  # log of -Re(A): 1/2 (Lin) or m + 1 (Real)
            return ops.log(ops.broadcast_to(0.5 if lin else modes + 1.0, shape))

        def a_im_init(shape, dtype=None):
            return ops.broadcast_to(math.pi * modes if lin else ops.zeros_like(modes), shape)

        def log_dt_init(shape, dtype=None):
            lo, hi = math.log(self.dt_min), math.log(self.dt_max)
            return keras.random.uniform(shape, lo, hi, dtype="float32")

        def add(name, shape, initializer):  # the recurrence runs in float32 under any policy
            return self.add_weight(shape=shape, name=name, initializer=initializer,
                                   autocast=False)

        normal = keras.initializers.RandomNormal
        self.log_a_re = add("log_a_re", (h, m), a_re_init)
        self.a_im = add("a_im", (h, m), a_im_init)
        self.c_re = add("c_re", (h, m), normal(stddev=0.5**0.5))
        self.c_im = add("c_im", (h, m), normal(stddev=0.5**0.5))
        self.log_dt = add("log_dt", (h,), log_dt_init)
        self.d = add("d", (h,), normal(stddev=1.0))
        self.glu = self._sub(GLU(h, name="glu", dtype=self.dtype_policy), shape)

    def discretised(self):
        """(Abar_re, Abar_im, Bbar_re, Bbar_im), each (H, M), float32."""
        dt = ops.expand_dims(ops.exp(self.log_dt), -1)
        return zoh_diagonal(dt, -ops.exp(self.log_a_re), self.a_im)

    def kernel(self, steps: int):
        """K (H, steps): K_k = 2 Re(C Abar^k Bbar) = 2 sum_m Re(C Bbar exp(k dt A)), float32."""
        dt = ops.expand_dims(ops.exp(self.log_dt), -1)
        a_re, a_im = -ops.exp(self.log_a_re), self.a_im
        _, _, b_re, b_im = zoh_diagonal(dt, a_re, a_im)
        cb_re = self.c_re * b_re - self.c_im * b_im  # C Bbar, (H, M)
        cb_im = self.c_re * b_im + self.c_im * b_re
        k = ops.arange(steps, dtype="float32")  # Vandermonde powers: (H, M, steps)
        mag = ops.exp(ops.expand_dims(dt * a_re, -1) * k)
        ang = ops.expand_dims(dt * a_im, -1) * k
        terms = mag * (ops.expand_dims(cb_re, -1) * ops.cos(ang)
                       - ops.expand_dims(cb_im, -1) * ops.sin(ang))
        return 2.0 * ops.sum(terms, axis=1)

    def convolve(self, u):
        """y = K * u (causal) for u (batch, T, H) float32, by FFT over 2T points."""
        steps = ops.shape(u)[1]
        n = 2 * steps
        u_t = ops.transpose(u, (0, 2, 1))  # (batch, H, T): the FFT runs on the last axis
        pad = ops.pad(u_t, ((0, 0), (0, 0), (0, steps)))
        kern = ops.pad(self.kernel(steps), ((0, 0), (0, steps)))
        ur, ui = ops.rfft(pad)
        kr, ki = ops.rfft(kern)
        y = ops.irfft((ur * kr - ui * ki, ur * ki + ui * kr), fft_length=n)[..., :steps]
        return ops.transpose(y, (0, 2, 1))

    def s4d(self, u):
        """y_t = 2 Re(C x_t) + D u_t for u (batch, T, H); computed in float32."""
        h, m = self.units, self.state_dim
        dtype, u = u.dtype, ops.cast(u, "float32")
        if self.scan == "conv":
            return ops.cast(self.convolve(u) + self.d * u, dtype)
        abar_re, abar_im, bbar_re, bbar_im = (ops.reshape(v, (h * m,))
                                              for v in self.discretised())
        uu = ops.repeat(u, m, axis=-1)  # (batch, T, H*M): channel h feeds its M modes
        br, bi = uu * bbar_re, uu * bbar_im
        ar = ops.broadcast_to(abar_re, ops.shape(br))
        ai = ops.broadcast_to(abar_im, ops.shape(br))
        xr, xi = scan_complex(ar, ai, br, bi, self.scan == "parallel", self._loop)
        c_re = ops.reshape(self.c_re, (h * m,))
        c_im = ops.reshape(self.c_im, (h * m,))
        y = ops.reshape(xr * c_re - xi * c_im, (*ops.shape(u)[:-1], h, m))
        return ops.cast(2.0 * ops.sum(y, axis=-1) + self.d * u, dtype)

    def mix(self, x):
        return self.glu(self.s4d(x))

    def get_config(self):
        config = super().get_config()
        config.update(state_dim=self.state_dim, init=self.init, dt_min=self.dt_min,
                      dt_max=self.dt_max)
        return config


@register_model("s4d")
@documented_by(S4DBlock)
def s4d(spec, units: int, return_sequences: bool, **params) -> S4DBlock:
    """One S4D block (Gu et al. 2022); ``layers`` stacks blocks."""
    return S4DBlock(units, return_sequences=return_sequences, **params)
