"""minGRU and minLSTM: gates that read only x_t, trained with a parallel scan (Feng et al. 2024)."""

from __future__ import annotations

import inspect

import keras
from keras import ops

from memorybench.errors import ConfigError
from memorybench.models import register_model

SCANS = ("parallel", "sequential")


def linear_scan(a, b, parallel: bool = True):
    """h_t = a_t * h_{t-1} + b_t with h_0 = 0 for every t; a, b: (batch, T, units).

    Parallel: the step h -> a*h + b is an affine map; composing two of them, first (a1, b1)
    then (a2, b2), gives (a1*a2, a2*b1 + b2), which is associative, so
    ``keras.ops.associative_scan`` computes all prefixes in O(log T) parallel depth (Blelloch
    1990) instead of T sequential steps; the second component of each prefix is h_t.
    Sequential: the same recurrence one step at a time with ``keras.ops.scan``; on a 2-core CPU
    it trained about twice as fast at T = 100 (the parallel form is for accelerators).
    """
    if parallel:

        def compose(first, second):
            a1, b1 = first
            a2, b2 = second
            return a1 * a2, a2 * b1 + b2

        _, h = ops.associative_scan(compose, (a, b), axis=1)
    else:

        def step(h, ab):
            h = ab[0] * h + ab[1]
            return h, h

        time_major = (ops.transpose(a, (1, 0, 2)), ops.transpose(b, (1, 0, 2)))
        _, h = ops.scan(step, ops.zeros_like(time_major[1][0]), time_major)
        h = ops.transpose(h, (1, 0, 2))
    # TensorFlow's associative scan is built from tf.cond branches and loses the static shape
    # in a graph (fit's train step), which later layers need: restore it from the input's
    return ops.reshape(h, ops.shape(b))


class _MinRNN(keras.layers.Layer):
    """Shared body: project x_t once for all steps, build (a_t, b_t), scan over time."""

    n_projections = 0  # how many u-sized projections of x_t the variant needs

    def __init__(self, units: int, return_sequences: bool = False, scan: str = "parallel",
                 **kwargs):
        super().__init__(**kwargs)
        if isinstance(units, bool) or not isinstance(units, int) or units < 1:
            raise ConfigError(
                f"{type(self).__name__}: units must be a positive integer, got {units!r}"
            )
        if not isinstance(return_sequences, bool):
            raise ConfigError(
                f"{type(self).__name__}: return_sequences must be True or False, "
                f"got {return_sequences!r}"
            )
        if scan not in SCANS:
            raise ConfigError(
                f"{type(self).__name__}: unknown scan {scan!r}; known: {', '.join(SCANS)}"
            )
        self.units = units
        self.return_sequences = return_sequences
        self.scan = scan

    def build(self, input_shape):
        n = self.n_projections * self.units
        self.kernel = self.add_weight(
            shape=(input_shape[-1], n), name="kernel", initializer="glorot_uniform"
        )
        self.bias = self.add_weight(shape=(n,), name="bias", initializer="zeros")
        super().build(input_shape)

    def coefficients(self, k):
        """(a, b) of h_t = a_t * h_{t-1} + b_t from the projections k = x W + bias."""
        raise NotImplementedError

    def call(self, inputs):
        k = ops.matmul(inputs, self.kernel) + self.bias  # (batch, T, n_projections * units)
        a, b = self.coefficients(k)
        h = linear_scan(a, b, parallel=self.scan == "parallel")
        return h if self.return_sequences else h[:, -1, :]

    def compute_output_shape(self, input_shape):
        if self.return_sequences:
            return (input_shape[0], input_shape[1], self.units)
        return (input_shape[0], self.units)

    def get_config(self):
        config = super().get_config()
        config.update(units=self.units, return_sequences=self.return_sequences, scan=self.scan)
        return config


@keras.saving.register_keras_serializable(package="memorybench")
class MinGRULayer(_MinRNN):
    """minGRU, Feng, Tung, Ahmed, Bengio & Hajimirsadeghi 2024, "Were RNNs All We Needed?"
    (arXiv:2410.01201)::

        z_t = sigmoid(W_z x_t + b_z),   h~_t = W_h x_t + b_h
        h_t = (1 - z_t) * h_{t-1} + z_t * h~_t

    The GRU without reset gate, without tanh on the candidate and with gates that read only
    the input, not h_{t-1}: the recurrence is linear in h with coefficients known before it
    runs, so a parallel scan (``linear_scan``; a_t = 1 - z_t, b_t = z_t h~_t) replaces the
    sequential loop (``scan="sequential"`` runs the loop instead: same numbers, and faster on a
    CPU). h_0 = 0. 2(du + u) parameters for input size d and u units.
    """

    n_projections = 2

    def coefficients(self, k):
        k_z, k_h = ops.split(k, 2, axis=-1)
        z = ops.sigmoid(k_z)
        return 1.0 - z, z * k_h


@keras.saving.register_keras_serializable(package="memorybench")
class MinLSTMLayer(_MinRNN):
    """minLSTM, Feng et al. 2024, "Were RNNs All We Needed?" (arXiv:2410.01201)::

        f_t = sigmoid(W_f x_t + b_f),  i_t = sigmoid(W_i x_t + b_i),  h~_t = W_h x_t + b_h
        f'_t = f_t / (f_t + i_t),      i'_t = i_t / (f_t + i_t)
        h_t = f'_t * h_{t-1} + i'_t * h~_t

    The LSTM with gates that read only x_t, no tanh on the candidate and no output gate (the
    cell state is the output); normalising f and i to sum to 1 makes the scale of h
    independent of time (the paper's time-independence argument). Parallel scan with
    a_t = f'_t, b_t = i'_t h~_t; h_0 = 0. f'_t is computed as sigmoid(log f_t - log i_t),
    which is f_t / (f_t + i_t) without the division.
    3(du + u) parameters for input size d and u units.
    """

    n_projections = 3

    def coefficients(self, k):
        k_f, k_i, k_h = ops.split(k, 3, axis=-1)
        # log sigmoid(x) = -softplus(-x): f' = sigmoid(log f - log i), stable for any logits
        f_norm = ops.sigmoid(ops.softplus(-k_i) - ops.softplus(-k_f))
        return f_norm, (1.0 - f_norm) * k_h


def _documented_by(cls):
    """Append ``cls``'s docstring (equations, citation) to the factory's: ``model show``."""

    def deco(fn):
        if fn.__doc__ and cls.__doc__:  # None under python -OO
            fn.__doc__ = f"{inspect.cleandoc(fn.__doc__)}\n\n{inspect.cleandoc(cls.__doc__)}"
        return fn

    return deco


@register_model("mingru")
@_documented_by(MinGRULayer)
def mingru(spec, units: int, return_sequences: bool, **params) -> MinGRULayer:
    """minGRU layer (Feng et al. 2024), trained with a parallel scan over time."""
    return MinGRULayer(units, return_sequences=return_sequences, **params)


@register_model("minlstm")
@_documented_by(MinLSTMLayer)
def minlstm(spec, units: int, return_sequences: bool, **params) -> MinLSTMLayer:
    """minLSTM layer (Feng et al. 2024), trained with a parallel scan over time."""
    return MinLSTMLayer(units, return_sequences=return_sequences, **params)
