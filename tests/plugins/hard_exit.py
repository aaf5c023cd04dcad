"""Test plugin: a cell that ends the process with ``os._exit(7)`` when it is called in
training (a run that hard-exits: with one worker it must fail that run, not the sweep); built
and called outside training (the plan's probe, ``model show``) it is an ordinary cell."""

import os

import keras

import memorybench as mb


@mb.register_cell("test_hard_exit")
class HardExitCell(keras.layers.Layer):
    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = units
        self.output_size = units

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units), name="w")

    def call(self, inputs, states, training=False):
        if training:
            os._exit(7)
        h = keras.ops.tanh(keras.ops.matmul(inputs, self.w) + states[0])
        return h, [h]

    def get_config(self):
        return {**super().get_config(), "units": self.units}
