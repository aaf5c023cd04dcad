"""IndRNN: independently recurrent ReLU units with bounded recurrent weights (Li et al. 2018)."""

from __future__ import annotations

import keras
from keras import ops

from memorybench.errors import ConfigError, check_positive
from memorybench.models import register_cell


class MaxAbs(keras.constraints.Constraint):
    """Clip every entry of a weight to [-max_abs, max_abs] after each optimizer step."""

    def __init__(self, max_abs: float):
        self.max_abs = float(max_abs)

    def __call__(self, w):
        return ops.clip(w, -self.max_abs, self.max_abs)

    def get_config(self):
        return {"max_abs": self.max_abs}


@register_cell("indrnn")
class IndRNNCell(keras.layers.Layer):
    """Independently recurrent neural network cell.

    Li, Li, Cook, Zhu & Gao 2018, "Independently Recurrent Neural Network (IndRNN): Building A
    Longer and Deeper RNN" (CVPR; arXiv:1803.04831)::

        h_t = relu(W x_t + u * h_{t-1} + b)        u: one recurrent weight per unit

    Each unit feeds back only to itself, so the gradient through T steps of unit n is
    u_n^T times a product of ReLU derivatives (0 or 1): it neither vanishes nor explodes as long
    as |u_n| stays near 1. The paper keeps |u_n| <= gamma^(1/T) for sequences of T steps, gamma =
    2 (``magnitude``): ``recurrent_max_abs``, applied as a constraint after every optimizer step.
    Initialisation as in the authors' adding-problem code (Sunnydreamrain/IndRNN_Theano_Lasagne):
    W ~ N(0, 0.001^2), b = 0 and u ~ U[``recurrent_init_min``, ``recurrent_max_abs``] with the
    lower end gamma^(-1/T) for the last layer (units that must carry memory across the whole
    sequence) and 0 for the layers below. ``from_task`` sets the bounds from the task's number of
    time steps and uses the last-layer range; training needs gradient clipping, as in the paper.
    du + 2u parameters for input size d and u units.
    """

    def __init__(
        self,
        units: int,
        recurrent_max_abs: float | None = None,
        recurrent_init_min: float = 0.0,
        input_stddev: float = 0.001,
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_positive("units", units, "IndRNNCell")
        if recurrent_max_abs is not None and not _number(recurrent_max_abs, positive=True):
            raise ConfigError(
                f"IndRNNCell: recurrent_max_abs must be a number > 0 or None, "
                f"got {recurrent_max_abs!r}"
            )
        upper = 1.0 if recurrent_max_abs is None else float(recurrent_max_abs)
        if not _number(recurrent_init_min) or not 0 <= recurrent_init_min <= upper:
            raise ConfigError(
                f"IndRNNCell: recurrent_init_min must be a number in [0, {upper:g}] "
                f"(the upper end is recurrent_max_abs), got {recurrent_init_min!r}"
            )
        if not _number(input_stddev):
            raise ConfigError(
                f"IndRNNCell: input_stddev must be a number >= 0, got {input_stddev!r}"
            )
        self.units = units
        self.recurrent_max_abs = None if recurrent_max_abs is None else float(recurrent_max_abs)
        self.recurrent_init_min = float(recurrent_init_min)
        self.input_stddev = float(input_stddev)
        self.state_size = units
        self.output_size = units

    @classmethod
    def from_task(cls, spec, units: int, magnitude: float = 2.0, **params):
        """The cell for sequences of ``spec.steps`` steps: |u| <= magnitude^(1/T)."""
        if not _number(magnitude) or magnitude <= 1:
            raise ConfigError(f"indrnn: magnitude must be a number > 1, got {magnitude!r}")
        steps = spec.steps
        params.setdefault("recurrent_max_abs", float(magnitude) ** (1.0 / steps))
        params.setdefault("recurrent_init_min", float(magnitude) ** (-1.0 / steps))
        return cls(units, **params)

    def build(self, input_shape):
        u = self.units
        upper = 1.0 if self.recurrent_max_abs is None else self.recurrent_max_abs
        self.kernel = self.add_weight(
            shape=(input_shape[-1], u), name="kernel",
            initializer=keras.initializers.RandomNormal(stddev=self.input_stddev),
        )
        self.recurrent_kernel = self.add_weight(
            shape=(u,), name="recurrent_kernel",
            initializer=keras.initializers.RandomUniform(self.recurrent_init_min, upper),
            constraint=None if self.recurrent_max_abs is None else MaxAbs(self.recurrent_max_abs),
        )
        self.bias = self.add_weight(shape=(u,), name="bias", initializer="zeros")
        super().build(input_shape)

    def call(self, inputs, states, training=False):
        h_tm1 = states[0] if isinstance(states, (list, tuple)) else states
        h = ops.relu(ops.matmul(inputs, self.kernel) + self.recurrent_kernel * h_tm1 + self.bias)
        return h, [h]

    def get_config(self):
        config = super().get_config()
        config.update(
            units=self.units,
            recurrent_max_abs=self.recurrent_max_abs,
            recurrent_init_min=self.recurrent_init_min,
            input_stddev=self.input_stddev,
        )
        return config


def _number(value, positive: bool = False) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return value > 0 if positive else value >= 0
