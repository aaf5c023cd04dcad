"""Test plugin: a cell whose build ends the process with ``os._exit(7)`` (a run that
hard-exits: with one worker it must fail that run, not the sweep)."""

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
        os._exit(7)

    def call(self, inputs, states, training=False):
        return states[0], states

    def get_config(self):
        return {**super().get_config(), "units": self.units}
