"""Test plugin shared by the runner, sweep and Ray tests: one working cell and three faults."""

import os

import keras
from keras import ops

import memorybench as mb


class _Base(keras.layers.Layer):
    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = units
        self.output_size = units

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units), name="w")
        self.u = self.add_weight(shape=(self.units, self.units), name="u")

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@mb.register_cell("test_tiny")
class TinyCell(_Base):
    def call(self, inputs, states, training=False):
        h = ops.tanh(ops.matmul(inputs, self.w) + ops.matmul(states[0], self.u))
        return h, [h]


@mb.register_cell("test_nan")
class NanCell(_Base):
    def call(self, inputs, states, training=False):
        h = ops.matmul(inputs, self.w) + states[0] * float("nan")
        return h, [h]


@mb.register_cell("test_raise")
class RaiseCell(_Base):
    def call(self, inputs, states, training=False):
        if training:
            raise RuntimeError("boom from the test cell")
        h = ops.matmul(inputs, self.w)
        return h, [h]


@mb.register_model("test_crash")
def crash(spec, units, return_sequences, **params):
    os._exit(3)  # a segfault / OOM kill, as the driver sees it
