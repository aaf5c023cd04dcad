"""LEM: Long Expressive Memory, two coupled multiscale ODEs discretised with learned time steps."""

from __future__ import annotations

import keras
from keras import ops

from memorybench.errors import ConfigError, check_positive
from memorybench.models import register_cell


@register_cell("lem")
class LEMCell(keras.layers.Layer):
    """Long Expressive Memory cell, Rusch, Mishra, Erichson & Mahoney 2022, "Long Expressive
    Memory for Sequence Modeling" (ICLR; arXiv:2110.04744), eq. (3)::

        dt_t    = Dt * sigmoid(W_1 y_{t-1} + V_1 x_t + b_1)
        dtbar_t = Dt * sigmoid(W_2 y_{t-1} + V_2 x_t + b_2)
        z_t = (1 - dt_t) * z_{t-1}    + dt_t    * tanh(W_z y_{t-1} + V_z x_t + b_z)
        y_t = (1 - dtbar_t) * y_{t-1} + dtbar_t * tanh(W_y z_t     + V_y x_t + b_y)

    An IMEX discretisation of a system of two ODEs whose learned, input-dependent time steps
    (in (0, Dt)) give each unit its own time scale; z is updated first and y reads the new z.
    The paper proves its gradients neither explode nor vanish exponentially in T. ``dt`` is
    the paper's Dt (default 1: the gates are then plain sigmoid gates). Initialisation as in
    the authors' code: every weight and bias uniform in +-1/sqrt(u). "units" is the size u of
    each of y and z; state (y, z); output y_t. Parameters: 4(d + u + 1) u (V, W and b of the
    four pre-activations; W_y reads z).
    """

    def __init__(self, units: int, dt: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        check_positive("units", units, "LEMCell")
        if isinstance(dt, bool) or not isinstance(dt, (int, float)) or not 0 < dt <= 1:
            raise ConfigError(f"LEMCell: dt must be a number in (0, 1], got {dt!r}")
        self.units = units
        self.dt = float(dt)
        self.state_size = [units, units]  # (y, z)
        self.output_size = units

    def build(self, input_shape):
        d, u = input_shape[-1], self.units
        init = keras.initializers.RandomUniform(-(u**-0.5), u**-0.5)
        # columns: [dt, dtbar, z-candidate, y-candidate]
        self.kernel = self.add_weight(shape=(d, 4 * u), name="kernel", initializer=init)
        # y_{t-1} feeds [dt, dtbar, z-candidate]
        self.recurrent_kernel = self.add_weight(shape=(u, 3 * u), name="recurrent_kernel",
                                                initializer=init)
        self.z_kernel = self.add_weight(shape=(u, u), name="z_kernel", initializer=init)
        self.bias = self.add_weight(shape=(4 * u,), name="bias", initializer=init)
        super().build(input_shape)

    def call(self, inputs, states, training=False):
        y, z = states[0], states[1]
        k = ops.matmul(inputs, self.kernel) + self.bias
        k_dt, k_dtbar, k_z, k_y = ops.split(k, 4, axis=-1)
        r_dt, r_dtbar, r_z = ops.split(ops.matmul(y, self.recurrent_kernel), 3, axis=-1)
        dt = self.dt * ops.sigmoid(k_dt + r_dt)
        dtbar = self.dt * ops.sigmoid(k_dtbar + r_dtbar)
        z = (1.0 - dt) * z + dt * ops.tanh(k_z + r_z)
        y = (1.0 - dtbar) * y + dtbar * ops.tanh(ops.matmul(z, self.z_kernel) + k_y)
        return y, [y, z]

    def get_config(self):
        config = super().get_config()
        config.update(units=self.units, dt=self.dt)
        return config
