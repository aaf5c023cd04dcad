"""IRNN: a ReLU RNN whose recurrent matrix starts as the identity (Le, Jaitly & Hinton 2015)."""

from __future__ import annotations

import keras
from keras import ops

from memorybench.errors import ConfigError, check_positive
from memorybench.models import register_cell


@register_cell("irnn")
class IRNNCell(keras.layers.Layer):
    """Elman RNN with ReLU units, identity recurrent initialisation and zero bias.

    Le, Jaitly & Hinton 2015, "A Simple Way to Initialize Recurrent Networks of Rectified Linear
    Units" (arXiv:1504.00941)::

        h_t = relu(W x_t + U h_{t-1} + b),    U_0 = g I,  b_0 = 0,  W_0 ~ N(0, s^2)

    With U = I and b = 0 an input-free unit copies its value forward unchanged, so at
    initialisation the error signal flows back through time without shrinking or growing: the
    ReLU cell's answer to vanishing gradients, with no gates. ``identity_gain`` is g: 1 is the
    paper's IRNN, 0.01 its "iRNN", a way to forget where dependencies are short.
    ``input_stddev`` is s, small so that the inputs perturb the identity dynamics only slightly
    at the start. Training needs gradient clipping, as in the
    paper. du + u^2 + u parameters for input size d and u units.
    """

    def __init__(self, units: int, identity_gain: float = 1.0, input_stddev: float = 0.001,
                 **kwargs):
        super().__init__(**kwargs)
        check_positive("units", units, "IRNNCell")
        for field, value in (("identity_gain", identity_gain), ("input_stddev", input_stddev)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ConfigError(f"IRNNCell: {field} must be a number >= 0, got {value!r}")
        self.units = units
        self.identity_gain = float(identity_gain)
        self.input_stddev = float(input_stddev)
        self.state_size = units
        self.output_size = units

    def build(self, input_shape):
        u = self.units
        self.kernel = self.add_weight(
            shape=(input_shape[-1], u), name="kernel",
            initializer=keras.initializers.RandomNormal(stddev=self.input_stddev),
        )
        self.recurrent_kernel = self.add_weight(
            shape=(u, u), name="recurrent_kernel",
            initializer=keras.initializers.Identity(gain=self.identity_gain),
        )
        self.bias = self.add_weight(shape=(u,), name="bias", initializer="zeros")
        super().build(input_shape)

    def call(self, inputs, states, training=False):
        h_tm1 = states[0] if isinstance(states, (list, tuple)) else states
        h = ops.relu(
            ops.matmul(inputs, self.kernel) + ops.matmul(h_tm1, self.recurrent_kernel) + self.bias
        )
        return h, [h]

    def get_config(self):
        config = super().get_config()
        config.update(
            units=self.units, identity_gain=self.identity_gain, input_stddev=self.input_stddev
        )
        return config
