"""LMU: the Legendre Memory Unit, an optimal linear delay memory read by a tanh cell."""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops
from scipy.linalg import expm

from memorybench.errors import ConfigError, check_positive
from memorybench.models import register_cell

MAX_DEFAULT_ORDER = 64


def legendre_ab(order: int) -> tuple[np.ndarray, np.ndarray]:
    """The continuous-time (A, B) of the LMU memory, theta dm/dt = A m + B u (float64).

    Voelker et al. 2019, eq. (2): the order-``order`` Pade approximant of a delay of theta,
    in the basis of shifted Legendre polynomials::

        A_ij = (2i + 1) * (-1 if i < j else (-1)^(i - j + 1)),    B_i = (2i + 1) * (-1)^i
    """
    q = np.arange(order, dtype=np.float64)
    i, j = q[:, None], q[None, :]
    a = (2 * i + 1) * np.where(i < j, -1.0, (-1.0) ** (i - j + 1))
    b = (2 * q + 1) * (-1.0) ** q
    return a, b[:, None]


def zoh(a: np.ndarray, b: np.ndarray, dt: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Zero-order-hold discretisation of dm/dt = a m + b u with step ``dt``.

    ``m_t = Ad m_{t-1} + Bd u_t`` with Ad = e^(a dt) and Bd = a^-1 (Ad - I) b, both read off
    one matrix exponential of the block matrix [[a, b], [0, 0]] * dt (exact for inputs held
    constant over each step; no inverse of a needed).
    """
    n, k = b.shape
    block = np.zeros((n + k, n + k))
    block[:n, :n] = a
    block[:n, n:] = b
    e = expm(block * dt)
    return e[:n, :n], e[:n, n:]


def legendre_decoder(order: int, r) -> np.ndarray:
    """Weights that read u(t - r*theta), 0 <= r <= 1, out of the memory m_t (eq. 4 of the paper).

    u(t - r theta) ~= sum_i P_i(r) m_i(t) with the shifted Legendre polynomials
    P_i(r) = (-1)^i sum_j C(i, j) C(i + j, j) (-r)^j. Returns shape (len(r), order). With the
    zero-order hold each sample u_s stands for the interval (s - 1, s], so in sample units the
    read is u at t - r*theta + 1/2.
    """
    r = np.atleast_1d(np.asarray(r, dtype=np.float64))
    out = np.zeros((r.size, order))
    for i in range(order):
        coef = [math.comb(i, j) * math.comb(i + j, j) * (-1.0) ** j for j in range(i + 1)]
        out[:, i] = (-1.0) ** i * np.polynomial.polynomial.polyval(r, coef)
    return out


# Written here rather than taken from keras-lmu 0.9.0, which installs and round-trips with
# Keras 3.15 but imports the private keras.src (its DropoutRNNCell) and calls TensorFlow
# directly: this cell uses public Keras and keras.ops only.
@register_cell("lmu")
class LMUCell(keras.layers.Layer):
    """Legendre Memory Unit cell.

    Voelker, Kajic & Eliasmith 2019, "Legendre Memory Units: Continuous-Time Representation in
    Recurrent Neural Networks" (NeurIPS). A linear memory m (``order`` Legendre coefficients per
    memory dimension) holds a sliding window of the last ``theta`` steps of a learned scalar
    input u; a tanh cell h reads it::

        u_t = e_x^T x_t + e_h^T h_{t-1} + e_m^T m_{t-1}
        m_t = Ad m_{t-1} + Bd u_t
        h_t = tanh(W_x x_t + W_h h_{t-1} + W_m m_t)

    (Ad, Bd) is the zero-order-hold discretisation (step 1) of theta dm/dt = A m + B u, whose
    (A, B) (``legendre_ab``) make m the projection of the window u(t - theta .. t) onto the
    first ``order`` shifted Legendre polynomials; ``legendre_decoder`` reads a delayed input
    back out. Ad and Bd are fixed (not trained, not counted as parameters): the memory is
    derived, only the encoders e and kernels W learn. Initialisers as in the paper's reference
    code: e_x, e_h LeCun uniform, e_m zero, W_x, W_h, W_m Glorot normal; no bias (eq. 3 has
    none). ``memory_d`` > 1 keeps several independent memories (u becomes a vector).
    ``from_task`` sets ``theta`` to the task's number of time steps (the window covers the whole
    sequence, so every lag the task can ask for is in memory) and ``order`` to
    min(64, steps): more Legendre coefficients than samples in the window add nothing.
    State (h, m); output h_t. Parameters: (d + u + k n) k + d u + u^2 + k n u for input size
    d, u units, order n and k = ``memory_d``.
    """

    def __init__(self, units: int, order: int = MAX_DEFAULT_ORDER, theta: float = 100.0,
                 memory_d: int = 1, **kwargs):
        super().__init__(**kwargs)
        for field, value in (("units", units), ("order", order), ("memory_d", memory_d)):
            check_positive(field, value, "LMUCell")
        if isinstance(theta, bool) or not isinstance(theta, (int, float)) or theta <= 0:
            raise ConfigError(f"LMUCell: theta must be a number > 0 (time steps), got {theta!r}")
        self.units = units
        self.order = order
        self.theta = float(theta)
        self.memory_d = memory_d
        a, b = legendre_ab(order)
        ad, bd = zoh(a / self.theta, b / self.theta)
        # row-vector form: m_rows @ Ad^T + u * Bd^T
        self._ad_t = ad.T.astype(np.float32)
        self._bd_t = bd.T.astype(np.float32)
        self.state_size = [units, memory_d * order]  # (h, m)
        self.output_size = units

    @classmethod
    def from_task(cls, spec, units: int, **params):
        """The cell whose window covers the task's sequence: theta = steps."""
        params.setdefault("theta", float(spec.steps))
        params.setdefault("order", min(MAX_DEFAULT_ORDER, spec.steps))
        return cls(units, **params)

    def build(self, input_shape):
        d, u, k, mem = input_shape[-1], self.units, self.memory_d, self.memory_d * self.order
        lecun, glorot = "lecun_uniform", "glorot_normal"
        self.input_encoders = self.add_weight(shape=(d, k), name="input_encoders",
                                              initializer=lecun)
        self.hidden_encoders = self.add_weight(shape=(u, k), name="hidden_encoders",
                                               initializer=lecun)
        self.memory_encoders = self.add_weight(shape=(mem, k), name="memory_encoders",
                                               initializer="zeros")
        self.input_kernel = self.add_weight(shape=(d, u), name="input_kernel", initializer=glorot)
        self.hidden_kernel = self.add_weight(shape=(u, u), name="hidden_kernel",
                                             initializer=glorot)
        self.memory_kernel = self.add_weight(shape=(mem, u), name="memory_kernel",
                                             initializer=glorot)
        super().build(input_shape)

    def call(self, inputs, states, training=False):
        h_tm1, m_tm1 = states[0], states[1]
        u = (
            ops.matmul(inputs, self.input_encoders)
            + ops.matmul(h_tm1, self.hidden_encoders)
            + ops.matmul(m_tm1, self.memory_encoders)
        )  # (batch, k)
        ad_t = ops.convert_to_tensor(self._ad_t, dtype=self.compute_dtype)
        bd_t = ops.convert_to_tensor(self._bd_t, dtype=self.compute_dtype)
        m = ops.reshape(m_tm1, (-1, self.memory_d, self.order))
        m = ops.matmul(m, ad_t) + ops.expand_dims(u, -1) * bd_t  # each memory on its own
        m = ops.reshape(m, (-1, self.memory_d * self.order))
        h = ops.tanh(
            ops.matmul(inputs, self.input_kernel)
            + ops.matmul(h_tm1, self.hidden_kernel)
            + ops.matmul(m, self.memory_kernel)
        )
        return h, [h, m]

    def get_config(self):
        config = super().get_config()
        config.update(
            units=self.units, order=self.order, theta=self.theta, memory_d=self.memory_d
        )
        return config
