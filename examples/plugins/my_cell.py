"""A single-file cell plugin: copy this file, change the equations, run it with ``--plugin``.

    memorybench model show my_cell --plugin examples/plugins/my_cell.py
    memorybench run --models my_cell,lstm --tasks adding --lengths 10,20 \
        --plugin examples/plugins/my_cell.py

The cell below is a minimal gated cell: one update gate that mixes the old state with a
candidate, with no separate memory (a GRU without its reset gate; compare the minimal gated
unit of Zhou et al. 2016)::

    z_t = sigmoid(W_z x_t + U_z h_{t-1} + b_z)        update gate
    n_t = tanh(W_n x_t + U_n h_{t-1} + b_n)           candidate
    h_t = (1 - z_t) * h_{t-1} + z_t * n_t             gated, additive update

What a cell must provide (the Keras RNN cell contract; ``memorybench`` checks it when it
builds a model and tells you what to fix):

- subclass ``keras.layers.Layer`` and decorate it with ``@mb.register_cell("a_new_name")``;
  the name is what the CLI accepts and what a saved ``.keras`` file records
  (``memorybench>a_new_name``), so a saved model loads once this file is loaded again;
- ``__init__(self, units, ..., **kwargs)`` sets ``self.state_size`` (an int, or a list with one
  size per state) and ``self.output_size``; it passes ``**kwargs`` (name, dtype) to the base;
- ``build(input_shape)`` makes the weights with ``self.add_weight``;
- ``call(inputs, states, training=False)`` takes x_t (batch, d) and the list of states and
  returns ``(output, new_states)``: output (batch, output_size), one new state per state;
- ``get_config()`` returns exactly the ``__init__`` arguments, so the cell can be rebuilt
  from its config (saving and loading rely on it).

Use ``keras.ops`` only (never ``keras.src``) so the cell runs on every Keras backend. A class
method ``from_task(spec, units, **params)``, if present, is called instead of
``cls(units, **params)`` so a cell can read the task (e.g. its number of steps).
"""

from __future__ import annotations

import keras
from keras import ops

import memorybench as mb


@mb.register_cell("my_cell")
class MyCell(keras.layers.Layer):
    """Minimal gated cell (one update gate, no separate memory); see the module docstring.

    z_t = sigmoid(W_z x_t + U_z h_{t-1} + b_z); n_t = tanh(W_n x_t + U_n h_{t-1} + b_n);
    h_t = (1 - z_t) * h_{t-1} + z_t * n_t. After Zhou et al. 2016, "Minimal Gated Unit for
    Recurrent Neural Networks" (without the gate on h_{t-1} inside n_t).
    """

    def __init__(self, units: int, gate_bias: float = -1.0, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        # a negative gate bias starts z_t small: the state is kept unless the input says not to
        self.gate_bias = float(gate_bias)
        self.state_size = units
        self.output_size = units

    def build(self, input_shape):
        u = self.units
        # both blocks (gate z, candidate n) side by side: one matmul for x, one for h per step
        self.kernel = self.add_weight(shape=(input_shape[-1], 2 * u), name="kernel",
                                      initializer="glorot_uniform")
        self.recurrent_kernel = self.add_weight(shape=(u, 2 * u), name="recurrent_kernel",
                                                initializer="orthogonal")
        self.bias = self.add_weight(
            shape=(2 * u,), name="bias",
            initializer=lambda shape, dtype=None: ops.concatenate(
                [ops.full((u,), self.gate_bias, dtype=dtype), ops.zeros((u,), dtype=dtype)]
            ),
        )
        super().build(input_shape)

    def call(self, inputs, states, training=False):
        h_tm1 = states[0]
        zx = ops.matmul(inputs, self.kernel) + self.bias
        zh = ops.matmul(h_tm1, self.recurrent_kernel)
        z_lin, n_lin = ops.split(zx + zh, 2, axis=-1)
        z = ops.sigmoid(z_lin)
        h = (1.0 - z) * h_tm1 + z * ops.tanh(n_lin)
        return h, [h]

    def get_config(self):
        return {**super().get_config(), "units": self.units, "gate_bias": self.gate_bias}
