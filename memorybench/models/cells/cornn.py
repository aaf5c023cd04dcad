"""coRNN: a network of coupled, damped, driven oscillators (Rusch & Mishra 2021)."""

from __future__ import annotations

import math

import keras
from keras import ops

from memorybench.errors import ConfigError, check_positive
from memorybench.models import register_cell

DAMPING = ("implicit", "explicit")


@register_cell("cornn")
class CoRNNCell(keras.layers.Layer):
    """Coupled oscillatory RNN cell.

    Rusch & Mishra 2021, "Coupled Oscillatory Recurrent Neural Network (coRNN): An accurate and
    (gradient) stable architecture for learning long time dependencies" (ICLR;
    arXiv:2010.00951). The hidden state y follows the second-order ODE of a network of
    controlled nonlinear oscillators, y'' = sigma(W y + Wz y' + V u + b) - gamma y - eps y',
    written as a first-order system in (y, z = y') and discretised with the paper's IMEX
    (implicit-explicit) scheme, eq. (3)::

        z_n = z_{n-1} + dt * [tanh(W y_{n-1} + Wz z_{n-1} + V u_n + b) - gamma y_{n-1}
                              - eps z_n]
            = (z_{n-1} + dt * [tanh(...) - gamma y_{n-1}]) / (1 + dt * eps)
        y_n = y_{n-1} + dt * z_n

    State (y, z); output y_n. The paper proves that, under a step-size condition on dt, the
    hidden states stay bounded, the gradients cannot explode, and their decay is not exponential
    in the sequence length. ``damping="explicit"`` takes eps z_{n-1} instead of eps z_n
    (the variant in the authors' released code, tk-rusch/coRNN). Defaults dt = 0.042,
    gamma = 2.7, eps = 4.7 are the authors' sequential-MNIST settings; their adding-problem
    script uses dt = 0.06, gamma = 66, eps = 15 and permuted MNIST dt = 0.076, gamma = 0.4,
    eps = 8. Weights start like the authors' ``nn.Linear`` over [u, z, y]:
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = d + 2u. du + 2u^2 + u parameters.
    """

    def __init__(
        self,
        units: int,
        dt: float = 0.042,
        gamma: float = 2.7,
        epsilon: float = 4.7,
        damping: str = "implicit",
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_positive("units", units, "CoRNNCell")
        for field, value, positive in (("dt", dt, True), ("gamma", gamma, False),
                                       ("epsilon", epsilon, False)):
            ok = not isinstance(value, bool) and isinstance(value, (int, float))
            if not ok or (value <= 0 if positive else value < 0):
                bound = "> 0" if positive else ">= 0"
                raise ConfigError(f"CoRNNCell: {field} must be a number {bound}, got {value!r}")
        if damping not in DAMPING:
            raise ConfigError(
                f"CoRNNCell: unknown damping {damping!r}; known: {', '.join(DAMPING)}"
            )
        self.units = units
        self.dt = float(dt)
        self.gamma = float(gamma)
        self.epsilon = float(epsilon)
        self.damping = damping
        self.state_size = [units, units]  # (y, z)
        self.output_size = units

    def build(self, input_shape):
        u = self.units
        bound = 1.0 / math.sqrt(input_shape[-1] + 2 * u)
        init = keras.initializers.RandomUniform(-bound, bound)
        self.kernel = self.add_weight(shape=(input_shape[-1], u), name="kernel", initializer=init)
        # W (from y) and Wz (from z) stacked: one matmul of [y, z] per step
        self.recurrent_kernel = self.add_weight(
            shape=(2 * u, u), name="recurrent_kernel", initializer=init
        )
        self.bias = self.add_weight(shape=(u,), name="bias", initializer=init)
        super().build(input_shape)

    def call(self, inputs, states, training=False):
        y, z = states[0], states[1]
        drive = ops.tanh(
            ops.matmul(inputs, self.kernel)
            + ops.matmul(ops.concatenate([y, z], axis=-1), self.recurrent_kernel)
            + self.bias
        )
        if self.damping == "implicit":
            z = (z + self.dt * (drive - self.gamma * y)) / (1.0 + self.dt * self.epsilon)
        else:
            z = z + self.dt * (drive - self.gamma * y - self.epsilon * z)
        y = y + self.dt * z
        return y, [y, z]

    def get_config(self):
        config = super().get_config()
        config.update(
            units=self.units, dt=self.dt, gamma=self.gamma, epsilon=self.epsilon,
            damping=self.damping,
        )
        return config
