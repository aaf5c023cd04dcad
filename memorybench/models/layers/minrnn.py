"""minGRU and minLSTM: gates that read only x_t, a recurrence linear in h (Feng et al. 2024)."""

from __future__ import annotations

import keras
from keras import ops

from memorybench.errors import ConfigError, check_positive
from memorybench.models import documented_by, register_model

SCANS = ("parallel", "sequential")


def _compose(first, second):
    """The affine step h -> a*h + b: first (a1, b1) then (a2, b2) is (a1*a2, a2*b1 + b2)."""
    a1, b1 = first
    a2, b2 = second
    return a1 * a2, a2 * b1 + b2


def _interleave(even, odd):
    """[e0 e1 ...] and [o0 o1 ...] along axis 1 -> [e0 o0 e1 o1 ...]; len(even) - len(odd)
    is 0 or 1, both known when the graph is built."""
    n = odd.shape[1]
    pairs = ops.reshape(ops.stack([even[:, :n], odd], axis=2), (-1, 2 * n, *odd.shape[2:]))
    return pairs if even.shape[1] == n else ops.concatenate([pairs, even[:, n:]], axis=1)


def _static_scan(elems):
    """Inclusive prefixes of ``_compose`` over axis 1 of the pair ``elems``, for a length known
    when the graph is built: the odd / even recursion of ``keras.ops.associative_scan`` (and
    of tfp.math.scan_associative), the same products in the same order, so the same numbers,
    but every branch is chosen in Python, so the graph holds no ``tf.cond`` (see
    ``linear_scan``)."""
    n = elems[0].shape[1]
    if n < 2:
        return elems
    reduced = _compose([e[:, 0:-1:2] for e in elems], [e[:, 1::2] for e in elems])
    if n == 2:
        return [ops.concatenate([e[:, :1], r], axis=1) for e, r in zip(elems, reduced, strict=True)]
    if n == 3:
        last = _compose(reduced, [e[:, 2:3] for e in elems])
        return [ops.concatenate([e[:, :1], r, q], axis=1)
                for e, r, q in zip(elems, reduced, last, strict=True)]
    odd = _static_scan(reduced)  # prefixes ending at steps 1, 3, 5, ...
    head = [o[:, :-1] for o in odd] if n % 2 == 0 else odd
    rest = _compose(head, [e[:, 2::2] for e in elems])  # prefixes ending at 2, 4, ...
    even = [ops.concatenate([e[:, :1], r], axis=1) for e, r in zip(elems, rest, strict=True)]
    return [_interleave(e, o) for e, o in zip(even, odd, strict=True)]


class _LinearStep(keras.layers.Layer):
    """The recurrence as an RNN cell: inputs [a_t, b_t] (concatenated), h_t = a_t h_{t-1} + b_t."""

    def __init__(self, units: int, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = units
        self.output_size = units

    def call(self, inputs, states):
        a, b = ops.split(inputs, 2, axis=-1)
        h = a * states[0] + b
        return h, [h]

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def linear_scan(a, b, parallel: bool = True, loop=None):
    """h_t = a_t * h_{t-1} + b_t with h_0 = 0 for every t; a, b: (batch, T, units).

    Parallel: the step h -> a*h + b is an affine map; composing two of them, first (a1, b1)
    then (a2, b2), gives (a1*a2, a2*b1 + b2), which is associative, so all prefixes take
    O(log T) parallel depth (Blelloch 1990) instead of T sequential steps; the second
    component of each prefix is h_t. Sequential: the same recurrence one step at a time with
    ``loop``, a ``keras.layers.RNN`` over ``_LinearStep`` (made once by the layer); on a 2-core
    CPU it trained about twice as fast at T = 100 (the parallel form is for accelerators).

    Why not ``keras.ops.associative_scan`` / ``keras.ops.scan``: on the TensorFlow backend
    (Keras 3.15, ``keras/src/backend/tensorflow/core.py``) neither compiles under XLA.
    ``associative_scan``'s ``_interleave`` picks between its odd and even layouts with a
    ``tf.cond`` even when both lengths are static, and XLA compiles both branches of the If:
    the branch not taken concatenates arrays of different lengths ("Cannot concatenate arrays
    that differ in dimensions other than the one being concatenated"). ``scan`` runs a
    ``tf.while_loop`` without ``maximum_iterations``, so its gradient's accumulators have no
    fixed size ("XLA compilation requires a fixed tensor list size"). ``_static_scan`` is the
    same recursion with the branches taken in Python, and the RNN layer's loop sets
    ``maximum_iterations``; both give the numbers the Keras ops gave. With a length unknown
    when the graph is built the parallel form falls back to the Keras op (not under XLA).
    """
    if not parallel:
        if loop is None:
            loop = keras.layers.RNN(_LinearStep(a.shape[-1]), return_sequences=True)
        return loop(ops.concatenate([a, b], axis=-1))
    if a.shape[1] is None or None in a.shape[2:]:
        _, h = ops.associative_scan(_compose, (a, b), axis=1)
        # TensorFlow's associative scan is built from tf.cond branches and loses the static
        # shape in a graph (fit's train step), which later layers need: restore it
        return ops.reshape(h, ops.shape(b))
    _, h = _static_scan([a, b])
    return h


class _MinRNN(keras.layers.Layer):
    """Shared body: project x_t once for all steps, build (a_t, b_t), scan over time."""

    n_projections = 0  # how many u-sized projections of x_t the variant needs

    # the sequential loop by default: on a CPU the bench measured the parallel scan slower
    # (mingru, 128 units, T=200, batch 128: 307 ms a step against 71 ms; at batch 16, 33
    # against 20 ms). The paper's parallel scan is for GPUs: scan="parallel" (same numbers)
    def __init__(self, units: int, return_sequences: bool = False, scan: str = "sequential",
                 **kwargs):
        super().__init__(**kwargs)
        check_positive("units", units, type(self).__name__)
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
        # the sequential loop: no weights, so nothing in the config or the saved weights
        self._loop = None
        if scan == "sequential":
            self._loop = keras.layers.RNN(_LinearStep(units, dtype=self.dtype_policy),
                                          return_sequences=True, dtype=self.dtype_policy)

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
        h = linear_scan(a, b, parallel=self.scan == "parallel", loop=self._loop)
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
    runs, so the paper trains it with a parallel scan (``scan="parallel"``, ``linear_scan``;
    a_t = 1 - z_t, b_t = z_t h~_t); the default runs the sequential loop (the same numbers,
    measured faster on a CPU). h_0 = 0. 2(du + u) parameters for input size d and u units.
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
    independent of time (the paper's time-independence argument). A linear scan with
    a_t = f'_t, b_t = i'_t h~_t (sequential by default, parallel as in the paper); h_0 = 0.
    f'_t is computed as sigmoid(log f_t - log i_t), which is f_t / (f_t + i_t) without the
    division.
    3(du + u) parameters for input size d and u units.
    """

    n_projections = 3

    def coefficients(self, k):
        k_f, k_i, k_h = ops.split(k, 3, axis=-1)
        # log sigmoid(x) = -softplus(-x): f' = sigmoid(log f - log i), stable for any logits
        f_norm = ops.sigmoid(ops.softplus(-k_i) - ops.softplus(-k_f))
        return f_norm, (1.0 - f_norm) * k_h


@register_model("mingru")
@documented_by(MinGRULayer)
def mingru(spec, units: int, return_sequences: bool, **params) -> MinGRULayer:
    """minGRU layer (Feng et al. 2024); ``scan`` sequential (default) or parallel."""
    return MinGRULayer(units, return_sequences=return_sequences, **params)


@register_model("minlstm")
@documented_by(MinLSTMLayer)
def minlstm(spec, units: int, return_sequences: bool, **params) -> MinLSTMLayer:
    """minLSTM layer (Feng et al. 2024); ``scan`` sequential (default) or parallel."""
    return MinLSTMLayer(units, return_sequences=return_sequences, **params)


# the default training path (train.jit=auto) reads this: XLA measured slower for these models
mingru.xla_off_by_default = minlstm.xla_off_by_default = (
    "their sequential loop took 163 ms a step with XLA against 58 ms without (mingru, 128 "
    "units, T=200, batch 128; memorybench bench --quick)"
)
