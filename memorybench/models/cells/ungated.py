"""The ungated cell: the suite's question cell, a memory with no gates and no additive path."""

from __future__ import annotations

import keras
from keras import ops

from memorybench.errors import check_positive
from memorybench.models import register_cell

# two recurrent paths into each state (see the class docstring): each orthogonal at 1/sqrt(2)
RECURRENT_GAIN = 2**-0.5


@register_cell("ungated")
class UngatedCell(keras.layers.Layer):
    """A separate memory written and read by two plain networks, with no gates.

    The question this suite asks: the LSTM keeps a memory c_t next to its hidden state h_t,
    but it also gates it and updates it additively (c_t = f_t * c_{t-1} + i_t * z_t). Is a
    separate memory enough on its own? This cell keeps the memory and drops the rest: one
    network writes the new memory from the input, the hidden state and the old memory; another
    reads the new hidden state from the input, the hidden state and the new memory::

        m_t = tanh(W_m [x_t, h_{t-1}, m_{t-1}] + b_m)       write
        h_t = tanh(W_h [x_t, h_{t-1}, m_t] + b_h)           read

    State (h, m); output h_t. No gate multiplies anything and m_t is not m_{t-1} plus an
    update, so the Jacobian dm_t/dm_{t-1} = diag(1 - m_t^2) W_mm shrinks like a plain RNN's
    unless W_mm learns to hold it. Compare the gated, additive version and its ablations in
    Greff et al. 2017, "LSTM: A Search Space Odyssey" (``lstm_full``, ``lstm_nfg``, ...).

    Weights: W_m and W_h are stored split by what they read, so that the two input blocks and
    the two h_{t-1} blocks are each one fused matmul per step: ``kernel`` (d, 2u) for x_t,
    ``recurrent_kernel`` (u, 2u) for h_{t-1}, ``memory_kernel`` (u, u) for m_{t-1} and
    ``read_kernel`` (u, u) for m_t; 2du + 4u^2 + 2u parameters (the LSTM has 4du + 4u^2 + 4u).

    Initialisation: the recurrent matrices (h_{t-1} -> m_t, h_t and m_{t-1} -> m_t) are
    orthogonal with gain 1/sqrt(2) (``RECURRENT_GAIN``): two recurrent paths feed each of m_t
    and h_t, and a sum of two orthogonal maps of gain 1 grows the state's gradient going back in
    time. Measured at the why-LSTM study's size (34 units, adding, 5 seeds, the ratio
    ||dL/dx_1|| / ||dL/dx_T|| at initialisation): gain 1 gave medians 4.9 / 4.9 / 7.4 (largest
    11 / 15 / 14) at L = 25 / 50 / 100, an exploding gradient; gain 0.8 medians below 1 but up
    to 2.5; gain 1/sqrt(2) at most 0.47 / 0.12 / 0.018 on every seed. The earlier
    initialisation is ``recurrent_initializer="orthogonal"`` (gain 1).
    """

    def __init__(
        self,
        units: int,
        kernel_initializer="glorot_uniform",
        recurrent_initializer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_positive("units", units, "UngatedCell")
        self.units = units
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        if recurrent_initializer is None:  # the default: orthogonal with gain 1/sqrt(2)
            recurrent_initializer = keras.initializers.Orthogonal(gain=RECURRENT_GAIN)
        self.recurrent_initializer = keras.initializers.get(recurrent_initializer)
        self.state_size = [units, units]
        self.output_size = units

    def build(self, input_shape):
        u = self.units
        self.kernel = self.add_weight(
            shape=(input_shape[-1], 2 * u), name="kernel", initializer=self.kernel_initializer
        )
        self.recurrent_kernel = self.add_weight(
            shape=(u, 2 * u), name="recurrent_kernel", initializer=self.recurrent_initializer
        )
        # m_{t-1} -> m_t is recurrent (orthogonal, like h's); m_t -> h_t is a feed-forward read
        self.memory_kernel = self.add_weight(
            shape=(u, u), name="memory_kernel", initializer=self.recurrent_initializer
        )
        self.read_kernel = self.add_weight(
            shape=(u, u), name="read_kernel", initializer=self.kernel_initializer
        )
        self.bias = self.add_weight(shape=(2 * u,), name="bias", initializer="zeros")
        super().build(input_shape)

    def call(self, inputs, states, training=False):
        h_tm1, m_tm1 = states[0], states[1]
        z = ops.matmul(inputs, self.kernel)
        z = ops.add(z, ops.matmul(h_tm1, self.recurrent_kernel))
        z = ops.add(z, self.bias)
        z_m, z_h = ops.split(z, 2, axis=-1)
        m = ops.tanh(z_m + ops.matmul(m_tm1, self.memory_kernel))
        h = ops.tanh(z_h + ops.matmul(m, self.read_kernel))
        return h, [h, m]

    def get_config(self):
        config = super().get_config()
        config.update(
            units=self.units,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
            recurrent_initializer=keras.initializers.serialize(self.recurrent_initializer),
        )
        return config
