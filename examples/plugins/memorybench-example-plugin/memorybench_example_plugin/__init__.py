"""Example memorybench plugin package: a leaky RNN cell registered as ``example_cell``."""

from __future__ import annotations

import keras
from keras import ops

from memorybench.models import register_cell

__all__ = ["ExampleCell"]


@register_cell("example_cell")
class ExampleCell(keras.layers.Layer):
    """Leaky RNN: a plain tanh RNN whose state leaks at a learned per-unit rate.

    a = sigmoid(alpha)  (one rate per unit, learned; alpha starts at 0 so a = 1/2)
    h_t = (1 - a) * h_{t-1} + a * tanh(W x_t + U h_{t-1} + b)

    A leaky-integrator echo-state unit made trainable (Jaeger et al. 2007, "Optimization and
    applications of echo state networks with leaky-integrator neurons").
    """

    def __init__(self, units: int, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = units
        self.output_size = units

    def build(self, input_shape):
        u = self.units
        self.kernel = self.add_weight(shape=(input_shape[-1], u), name="kernel",
                                      initializer="glorot_uniform")
        self.recurrent_kernel = self.add_weight(shape=(u, u), name="recurrent_kernel",
                                                initializer="orthogonal")
        self.bias = self.add_weight(shape=(u,), name="bias", initializer="zeros")
        self.alpha = self.add_weight(shape=(u,), name="alpha", initializer="zeros")
        super().build(input_shape)

    def call(self, inputs, states, training=False):
        h_tm1 = states[0]
        a = ops.sigmoid(self.alpha)
        n = ops.tanh(ops.matmul(inputs, self.kernel) + ops.matmul(h_tm1, self.recurrent_kernel)
                     + self.bias)
        h = (1.0 - a) * h_tm1 + a * n
        return h, [h]

    def get_config(self):
        return {**super().get_config(), "units": self.units}
