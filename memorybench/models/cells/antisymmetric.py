"""AntisymmetricRNN: a forward-Euler step of an ODE with an antisymmetric (stable) Jacobian."""

from __future__ import annotations

import keras
from keras import ops

from memorybench.errors import ConfigError, check_positive
from memorybench.models import register_cell


def _check_number(field: str, value, minimum: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum:
        raise ConfigError(
            f"AntisymmetricCell: {field} must be a number >= {minimum}, got {value!r}"
        )
    return float(value)


@register_cell("antisymmetric")
class AntisymmetricCell(keras.layers.Layer):
    """AntisymmetricRNN cell, Chang, Chen, Chi & Chen 2019, "AntisymmetricRNN: A Dynamical
    System View on Recurrent Neural Networks" (ICLR; arXiv:1902.09689)::

        A_t = W - W^T - gamma I                               (antisymmetric, minus a damping)
        gated=False:  h_t = h_{t-1} + eps * tanh(A h_{t-1} + V_h x_t + b_h)          (eq. 7)
        gated=True:   z_t = sigmoid(A h_{t-1} + V_z x_t + b_z)                        (eq. 8)
                      h_t = h_{t-1} + eps * z_t * tanh(A h_{t-1} + V_h x_t + b_h)

    The ODE h' = tanh(A h + V x + b) with an antisymmetric A has a Jacobian whose eigenvalues
    are purely imaginary, so it neither explodes nor vanishes (stable and non-dissipative); the
    small diffusion ``gamma`` keeps the forward-Euler discretisation with step ``eps`` stable.
    The gate shares A with the update, as in the paper. Initialisation as in the paper: W from
    N(0, sigma^2 / u) with sigma = 1 (``init_std``), V from N(0, 1 / d) (LeCun normal), biases
    zero; defaults eps = gamma = 0.01 (the paper's MNIST settings). "units" is the size u of h
    (the only state); output h_t. Parameters: u^2 + (d + 1) u, and (d + 1) u more with the gate.
    """

    def __init__(self, units: int, gated: bool = True, eps: float = 0.01, gamma: float = 0.01,
                 init_std: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        check_positive("units", units, "AntisymmetricCell")
        if not isinstance(gated, bool):
            raise ConfigError(f"AntisymmetricCell: gated must be True or False, got {gated!r}")
        self.units = units
        self.gated = gated
        self.eps = _check_number("eps", eps)
        self.gamma = _check_number("gamma", gamma)
        self.init_std = _check_number("init_std", init_std)
        self.state_size = units
        self.output_size = units

    def build(self, input_shape):
        d, u = input_shape[-1], self.units
        n = 2 * u if self.gated else u  # [V_h | V_z]
        self.recurrent_kernel = self.add_weight(
            shape=(u, u), name="recurrent_kernel",
            initializer=keras.initializers.RandomNormal(stddev=self.init_std / u**0.5))
        self.kernel = self.add_weight(shape=(d, n), name="kernel", initializer="lecun_normal")
        self.bias = self.add_weight(shape=(n,), name="bias", initializer="zeros")
        super().build(input_shape)

    def antisymmetric_matrix(self):
        """A = W - W^T - gamma I (float32, the variable's dtype)."""
        w = self.recurrent_kernel
        return w - ops.transpose(w) - self.gamma * ops.eye(self.units, dtype=w.dtype)

    def call(self, inputs, states, training=False):
        h = states[0]
        a = ops.cast(self.antisymmetric_matrix(), h.dtype)
        # row vectors: (A h)^T = h^T A^T
        ah = ops.matmul(h, ops.transpose(a))
        k = ops.matmul(inputs, self.kernel) + self.bias
        if self.gated:
            k_h, k_z = ops.split(k, 2, axis=-1)
            step = ops.sigmoid(ah + k_z) * ops.tanh(ah + k_h)
        else:
            step = ops.tanh(ah + k)
        h = h + self.eps * step
        return h, [h]

    def get_config(self):
        config = super().get_config()
        config.update(units=self.units, gated=self.gated, eps=self.eps, gamma=self.gamma,
                      init_std=self.init_std)
        return config
