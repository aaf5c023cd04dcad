"""TCN: dilated causal convolutions (Bai, Kolter & Koltun 2018), the non-recurrent reference."""

from __future__ import annotations

import inspect

import keras
from keras import ops

from memorybench.errors import ConfigError
from memorybench.models import register_model


def receptive_field(kernel_size: int, dilations) -> int:
    """Steps one output sees: 1 + 2 (k - 1) sum(dilations) (two convolutions per block)."""
    return 1 + 2 * (kernel_size - 1) * sum(dilations)


def dilations_for(steps: int, kernel_size: int) -> list[int]:
    """The shortest 1, 2, 4, ..., 2^(L-1) whose receptive field covers ``steps`` time steps.

    With L blocks the field is 1 + 2 (k - 1)(2^L - 1), so L = ceil(log2((steps - 1) /
    (2 (k - 1)) + 1)), at least 1: the last output then sees the first input.
    """
    dilations = [1]
    while receptive_field(kernel_size, dilations) < steps:
        dilations.append(2 * dilations[-1])
    return dilations


@keras.saving.register_keras_serializable(package="memorybench")
class CausalConv1D(keras.layers.Layer):
    """Dilated causal 1-D convolution, optionally weight-normalised.

    y_t = sum_{j<k} W_j x_{t - (k-1-j) dilation} + b: the input is left-padded with (k - 1) dilation
    zeros, so y_t never reads x after t. Weight normalisation (Salimans & Kingma 2016), as in
    the TCN paper: W = g * V / ||V|| per output channel, ||.|| over taps and input channels,
    with g starting at ||V|| so that W starts as V. Initial V ~ N(0, 0.01^2), as in the paper's
    code.
    """

    def __init__(self, filters: int, kernel_size: int, dilation_rate: int = 1,
                 weight_norm: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.filters = filters
        self.kernel_size = kernel_size
        self.dilation_rate = dilation_rate
        self.weight_norm = weight_norm

    def build(self, input_shape):
        self.kernel = self.add_weight(
            shape=(self.kernel_size, input_shape[-1], self.filters), name="kernel",
            initializer=keras.initializers.RandomNormal(stddev=0.01),
        )
        if self.weight_norm:
            self.g = self.add_weight(shape=(self.filters,), name="g", initializer="ones")
            # W = g * V/||V||; setting g = ||V|| makes the initial W equal V
            self.g.assign(ops.sqrt(ops.sum(ops.square(self.kernel), axis=(0, 1))))
        self.bias = self.add_weight(shape=(self.filters,), name="bias", initializer="zeros")
        super().build(input_shape)

    def call(self, inputs):
        kernel = self.kernel
        if self.weight_norm:
            norm = ops.sqrt(ops.sum(ops.square(kernel), axis=(0, 1)) + 1e-12)
            kernel = kernel * (self.g / norm)
        pad = (self.kernel_size - 1) * self.dilation_rate
        x = ops.pad(inputs, ((0, 0), (pad, 0), (0, 0)))
        y = ops.conv(x, kernel, strides=1, padding="valid", dilation_rate=self.dilation_rate)
        return y + self.bias

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.filters)

    def get_config(self):
        config = super().get_config()
        config.update(
            filters=self.filters, kernel_size=self.kernel_size,
            dilation_rate=self.dilation_rate, weight_norm=self.weight_norm,
        )
        return config


# Written here rather than taken from keras-tcn: its latest release (3.5.7) requires
# tensorflow-macos on every platform, so pip silently falls back to 3.5.6, and it calls
# TensorFlow directly (tf.keras, tf.reverse) where this layer uses public Keras / keras.ops.
@keras.saving.register_keras_serializable(package="memorybench")
class TCN(keras.layers.Layer):
    """Temporal convolutional network (Bai, Kolter & Koltun 2018, "An Empirical Evaluation of
    Generic Convolutional and Recurrent Networks for Sequence Modeling", arXiv:1803.01271).

    A stack of residual blocks, block i with dilation d_i::

        o = dropout(relu(conv_{k,d_i}(dropout(relu(conv_{k,d_i}(x))))))
        block(x) = relu(o + (x if channels match else conv_1x1(x)))

    Every convolution is causal (``CausalConv1D``), so the output at t depends only on inputs
    at or before t; with dilations 1, 2, 4, ... the receptive field 1 + 2 (k - 1) sum(d_i) grows
    exponentially with depth. ``units`` is the number of filters in every block,
    ``kernel_size`` k (the paper's adding-problem setting is 7). Memory is not a state but a
    window: anything older than the receptive field is invisible, which is why the factory
    picks the dilations from the task's length. ``return_sequences=False`` returns the last
    step's features.
    """

    def __init__(self, units: int, dilations=(1,), kernel_size: int = 7, dropout: float = 0.0,
                 weight_norm: bool = True, return_sequences: bool = False, **kwargs):
        super().__init__(**kwargs)
        for field, value, low in (("units", units, 1), ("kernel_size", kernel_size, 2)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigError(f"TCN: {field} must be an integer >= {low}, got {value!r}")
        dilations = list(dilations) if isinstance(dilations, (list, tuple)) else dilations
        if not isinstance(dilations, list) or not dilations or not all(
            isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in dilations
        ):
            raise ConfigError(
                f"TCN: dilations must be a non-empty list of positive integers, got {dilations!r}"
            )
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not (
            0 <= dropout < 1
        ):
            raise ConfigError(f"TCN: dropout must be a number in [0, 1), got {dropout!r}")
        for field, value in (("weight_norm", weight_norm), ("return_sequences", return_sequences)):
            if not isinstance(value, bool):
                raise ConfigError(f"TCN: {field} must be True or False, got {value!r}")
        self.units = units
        self.dilations = dilations
        self.kernel_size = kernel_size
        self.dropout = float(dropout)
        self.weight_norm = weight_norm
        self.return_sequences = return_sequences
        # two convolutions per block, flat: convs[2i] and convs[2i + 1] belong to block i
        self.convs = [
            CausalConv1D(units, kernel_size, d, weight_norm, name=f"block{i}_conv{j}")
            for i, d in enumerate(dilations)
            for j in (1, 2)
        ]
        self.drops = [keras.layers.Dropout(self.dropout) for _ in range(2 * len(dilations))]
        self.downsample = None

    @property
    def receptive_field(self) -> int:
        return receptive_field(self.kernel_size, self.dilations)

    def build(self, input_shape):
        shape = tuple(input_shape)
        if shape[-1] != self.units:
            # 1x1 convolution so the first residual sum has matching channels (paper's code)
            self.downsample = CausalConv1D(self.units, 1, 1, weight_norm=False, name="downsample")
            self.downsample.build(shape)
        for conv in self.convs:
            conv.build(shape)
            shape = (*shape[:-1], self.units)
        super().build(input_shape)

    def call(self, inputs, training=False):
        x = inputs
        for i in range(len(self.dilations)):
            o = self.drops[2 * i](ops.relu(self.convs[2 * i](x)), training=training)
            o = self.drops[2 * i + 1](ops.relu(self.convs[2 * i + 1](o)), training=training)
            res = self.downsample(x) if i == 0 and self.downsample is not None else x
            x = ops.relu(o + res)
        return x if self.return_sequences else x[:, -1, :]

    def compute_output_shape(self, input_shape):
        if self.return_sequences:
            return (*input_shape[:-1], self.units)
        return (input_shape[0], self.units)

    def get_config(self):
        config = super().get_config()
        config.update(
            units=self.units, dilations=list(self.dilations), kernel_size=self.kernel_size,
            dropout=self.dropout, weight_norm=self.weight_norm,
            return_sequences=self.return_sequences,
        )
        return config


@register_model("tcn")
def tcn(spec, units: int, return_sequences: bool, kernel_size: int = 7, dilations=None,
        **params) -> TCN:
    """A TCN whose receptive field covers the task: dilations 1, 2, ..., 2^(L-1), L minimal
    with 1 + 2 (k - 1)(2^L - 1) >= ``spec.steps`` (``dilations_for``), unless given."""
    if isinstance(kernel_size, bool) or not isinstance(kernel_size, int) or kernel_size < 2:
        raise ConfigError(f"tcn: kernel_size must be an integer >= 2, got {kernel_size!r}")
    if dilations is None:
        dilations = dilations_for(spec.steps, kernel_size)
    return TCN(units, dilations=dilations, kernel_size=kernel_size,
               return_sequences=return_sequences, **params)


# ``model show`` prints the factory's docstring: give it the layer's equations and citation
if tcn.__doc__ and TCN.__doc__:  # None under python -OO
    tcn.__doc__ = f"{inspect.cleandoc(tcn.__doc__)}\n\n{inspect.cleandoc(TCN.__doc__)}"
