"""LRU: the Linear Recurrent Unit, a complex diagonal linear recurrence in a residual block."""

from __future__ import annotations

import math

import keras
from keras import ops

from memorybench.errors import ConfigError
from memorybench.models import documented_by, register_model
from memorybench.models.blocks import GLU, ResidualBlock, linear_loop, scan_complex


def ring_init(u1, u2, r_min: float, r_max: float, max_phase: float):
    """(nu_log, theta_log) from uniform draws u1, u2 in [0, 1): eigenvalues uniform (by area) on
    the ring r_min <= |lambda| <= r_max with phases uniform in [0, max_phase] (Orvieto et al.
    2023, Lemma 3.2): |lambda|^2 = u1 (r_max^2 - r_min^2) + r_min^2, arg lambda = max_phase u2.
    Works on numpy arrays and Keras tensors alike."""
    nu_log = ops.log(-0.5 * ops.log(u1 * (r_max**2 - r_min**2) + r_min**2))
    theta_log = ops.log(max_phase * u2)
    return nu_log, theta_log


@keras.saving.register_keras_serializable(package="memorybench")
class LRUBlock(ResidualBlock):
    """Linear Recurrent Unit block, Orvieto, Smith, Gu, Fernando, Gulcehre, Pascanu & De 2023,
    "Resurrecting Recurrent Neural Networks for Long Sequences" (ICML; arXiv:2303.06349)::

        lambda = exp(-exp(nu_log) + i exp(theta_log))            (exponential parameterisation)
        gamma  = exp(gamma_log)               (normalisation, init sqrt(1 - |lambda|^2))
        s_t = lambda * s_{t-1} + gamma * (B u_t)                 (complex diagonal, N states)
        y_t = Re(C s_t) + D * u_t
        block: x + GLU(GELU(y)), u = LayerNorm(x);  GLU(g) = (W_1 g + b_1) * sigmoid(W_2 g + b_2)

    The recurrence is linear and diagonal, so it runs as a scan (``scan="sequential"``: the
    step loop, the default on a CPU; ``"parallel"``: the associative scan, same numbers).
    Initialisation as in the paper: ring initialisation of lambda (``ring_init``: |lambda|
    uniform on the ring [r_min, r_max] by area, phase uniform in [0, max_phase]), gamma_log =
    log sqrt(1 - |lambda|^2), B = B_re + i B_im with both parts N(0, 1/(2H)), C likewise
    N(0, 1/N), D N(0, 1). Defaults r_min 0.9, r_max 0.999, max_phase pi/10: a slow ring with
    small phases, within the ranges the paper uses for its long-range tasks (it tunes them
    per task; pass r_min=0, r_max=1, max_phase=2 pi for its plain ring). Complex numbers are
    carried as real and imaginary parts (no complex dtypes: every backend, XLA and the mixed
    policies); the LRU runs in float32 under the mixed policies (a bfloat16 lambda of modulus
    0.999 rounds to 1.0), the GLU in the policy's dtype. The block follows the paper's
    Figure 1: pre-LayerNorm, the LRU, GELU, a GLU and the residual connection (no dropout:
    the tasks here do not need it); a Dense encoder maps the input to the width H where they
    differ.

    "units" is the block's width H (input and output of the LRU); ``state_dim`` is N, the
    number of complex states (default: H). ``layers`` stacks blocks. Parameters per block:
    N(4H + 3) + H (the LRU) + 2H(H + 1) (GLU) + 2H (norm), plus the encoder.
    """

    def __init__(self, units: int, return_sequences: bool = False, scan: str = "sequential",
                 state_dim: int | None = None, r_min: float = 0.9, r_max: float = 0.999,
                 max_phase: float = math.pi / 10, **kwargs):
        super().__init__(units, return_sequences=return_sequences, scan=scan, **kwargs)
        if state_dim is not None and (isinstance(state_dim, bool) or not isinstance(state_dim, int)
                                      or state_dim < 1):
            raise ConfigError(f"LRUBlock: state_dim must be a positive int or None, got "
                              f"{state_dim!r}")
        for field, v in (("r_min", r_min), ("r_max", r_max)):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 1:
                raise ConfigError(f"LRUBlock: {field} must be a number in [0, 1], got {v!r}")
        if r_min > r_max:
            raise ConfigError(f"LRUBlock: r_min must be <= r_max, got {r_min} > {r_max}")
        if isinstance(max_phase, bool) or not isinstance(max_phase, (int, float)) or max_phase <= 0:
            raise ConfigError(f"LRUBlock: max_phase must be a number > 0, got {max_phase!r}")
        self.state_dim = state_dim
        self.r_min, self.r_max, self.max_phase = float(r_min), float(r_max), float(max_phase)
        self.n = state_dim or units
        self._loop = (linear_loop(self.n, True) if scan == "sequential"
                      else None)

    def build_mixer(self, shape):
        h, n = self.units, self.n
        def ring(part):
            def init(shape, dtype=None):  # Keras' seeded generator: set_random_seed fixes it
                u1 = keras.random.uniform(shape, dtype="float32")
                u2 = keras.random.uniform(shape, dtype="float32")
                return ring_init(u1, u2, self.r_min, self.r_max, self.max_phase)[part]
            return init

        def gamma_init(shape, dtype=None):  # sqrt(1 - |lambda|^2) of the drawn lambda
            return ops.log(ops.sqrt(1.0 - ops.exp(-2.0 * ops.exp(self.nu_log))))

        def add(name, shape, initializer):  # the recurrence runs in float32 under any policy
            return self.add_weight(shape=shape, name=name, initializer=initializer,
                                   autocast=False)

        self.nu_log = add("nu_log", (n,), ring(0))
        self.theta_log = add("theta_log", (n,), ring(1))
        self.gamma_log = add("gamma_log", (n,), gamma_init)
        normal = keras.initializers.RandomNormal
        # row-vector form: u @ B with B (H, N), s @ C with C (N, H)
        self.b_re = add("b_re", (h, n), normal(stddev=(2 * h) ** -0.5))
        self.b_im = add("b_im", (h, n), normal(stddev=(2 * h) ** -0.5))
        self.c_re = add("c_re", (n, h), normal(stddev=n**-0.5))
        self.c_im = add("c_im", (n, h), normal(stddev=n**-0.5))
        self.d = add("d", (h,), normal(stddev=1.0))
        self.glu = self._sub(GLU(h, name="glu", dtype=self.dtype_policy), shape)

    def lam(self):
        """(Re lambda, Im lambda, gamma), float32."""
        modulus = ops.exp(-ops.exp(self.nu_log))
        phase = ops.exp(self.theta_log)
        return modulus * ops.cos(phase), modulus * ops.sin(phase), ops.exp(self.gamma_log)

    def lru(self, u):
        """y_t = Re(C s_t) + D u_t for u (batch, T, H); computed in float32."""
        dtype, u = u.dtype, ops.cast(u, "float32")
        lr, li, gamma = self.lam()
        br = ops.matmul(u, self.b_re) * gamma
        bi = ops.matmul(u, self.b_im) * gamma
        ar = ops.broadcast_to(lr, ops.shape(br))
        ai = ops.broadcast_to(li, ops.shape(br))
        sr, si = scan_complex(ar, ai, br, bi, self.scan == "parallel", self._loop)
        y = ops.matmul(sr, self.c_re) - ops.matmul(si, self.c_im) + self.d * u
        return ops.cast(y, dtype)

    def mix(self, x):
        return self.glu(self.lru(x))

    def get_config(self):
        config = super().get_config()
        config.update(state_dim=self.state_dim, r_min=self.r_min, r_max=self.r_max,
                      max_phase=self.max_phase)
        return config


@register_model("lru")
@documented_by(LRUBlock)
def lru(spec, units: int, return_sequences: bool, **params) -> LRUBlock:
    """One LRU block (Orvieto et al. 2023); ``layers`` stacks blocks."""
    return LRUBlock(units, return_sequences=return_sequences, **params)


# the default training path (train.jit=auto) reads this: XLA measured slower for this model
lru.xla_off_by_default = (
    "its sequential scan took 670 ms a step with XLA against 235 "
    "ms without (128 units, T=200, batch 128; memorybench bench --quick)"
)
