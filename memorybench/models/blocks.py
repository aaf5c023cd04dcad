"""Residual blocks and linear-recurrence scans shared by the state-space models (LRU, S4D, Mamba).

A block model is one ``keras.layers.Layer`` per block, so ``layers`` counts blocks and
``--match-params`` sizes the whole stack like any other model::

    x = Dense(units)(x)                 # only where the input width differs from units
                                        # (PyTorch's default initialisation, as in the papers)
    x = x + mixer(norm(x))              # pre-norm residual block (mixer: the paper's layer)
    output: x (every step) or x[:, -1] (the last step)

The scans solve h_t = a_t * h_{t-1} + b_t (h_0 = 0) elementwise, real or complex (a complex
number is carried as its real and imaginary parts, so every backend, XLA and the mixed
policies work without complex dtypes), either sequentially (``keras.layers.RNN`` over a
weightless step) or in parallel (the associative scan, O(log T) depth).
"""

from __future__ import annotations

import keras
from keras import ops

from memorybench.errors import ConfigError, check_positive

SCANS = ("sequential", "parallel")


def check_scan(scan, owner: str, known: tuple[str, ...] = SCANS) -> str:
    if scan not in known:
        raise ConfigError(f"{owner}: unknown scan {scan!r}; known: {', '.join(known)}")
    return scan


# -- scans -------------------------------------------------------------------------------------
def real_compose(first, second):
    """h -> a h + b, first (a1, b1) then (a2, b2): (a1 a2, a2 b1 + b2)."""
    a1, b1 = first
    a2, b2 = second
    return [a1 * a2, a2 * b1 + b2]


def complex_compose(first, second):
    """The same for complex a, b given as (a_re, a_im, b_re, b_im)."""
    ar1, ai1, br1, bi1 = first
    ar2, ai2, br2, bi2 = second
    return [ar1 * ar2 - ai1 * ai2, ar1 * ai2 + ai1 * ar2,
            ar2 * br1 - ai2 * bi1 + br2, ar2 * bi1 + ai2 * br1 + bi2]


def _interleave(even, odd):
    n = odd.shape[1]
    pairs = ops.reshape(ops.stack([even[:, :n], odd], axis=2), (-1, 2 * n, *odd.shape[2:]))
    return pairs if even.shape[1] == n else ops.concatenate([pairs, even[:, n:]], axis=1)


def static_scan(compose, elems):
    """Inclusive prefixes of the associative ``compose`` over axis 1 of the list ``elems``.

    The odd / even recursion of ``keras.ops.associative_scan`` with every branch taken in
    Python for a length known when the graph is built (the Keras op's ``tf.cond`` does not
    compile under XLA: see ``memorybench.models.layers.minrnn.linear_scan``).
    """
    n = elems[0].shape[1]
    if n is None:
        raise ConfigError("the parallel scan needs a sequence length known when the model is "
                          "built; use scan='sequential'")
    if n < 2:
        return list(elems)
    reduced = compose([e[:, 0:-1:2] for e in elems], [e[:, 1::2] for e in elems])
    if n == 2:
        return [ops.concatenate([e[:, :1], r], axis=1) for e, r in zip(elems, reduced, strict=True)]
    if n == 3:
        last = compose(reduced, [e[:, 2:3] for e in elems])
        return [ops.concatenate([e[:, :1], r, q], axis=1)
                for e, r, q in zip(elems, reduced, last, strict=True)]
    odd = static_scan(compose, reduced)
    head = [o[:, :-1] for o in odd] if n % 2 == 0 else odd
    rest = compose(head, [e[:, 2::2] for e in elems])
    even = [ops.concatenate([e[:, :1], r], axis=1) for e, r in zip(elems, rest, strict=True)]
    return [_interleave(e, o) for e, o in zip(even, odd, strict=True)]


class LinearStep(keras.layers.Layer):
    """One step of h_t = a_t h_{t-1} + b_t as an RNN cell; inputs are [a | b] (real) or
    [a_re | a_im | b_re | b_im] (complex) concatenated; state h (complex: [h_re | h_im])."""

    def __init__(self, size: int, complex_valued: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.size = size
        self.complex_valued = complex_valued
        self.state_size = 2 * size if complex_valued else size
        self.output_size = self.state_size

    def call(self, inputs, states):
        h = states[0]
        if not self.complex_valued:
            a, b = ops.split(inputs, 2, axis=-1)
            h = a * h + b
            return h, [h]
        ar, ai, br, bi = ops.split(inputs, 4, axis=-1)
        hr, hi = ops.split(h, 2, axis=-1)
        h = ops.concatenate([ar * hr - ai * hi + br, ar * hi + ai * hr + bi], axis=-1)
        return h, [h]

    def get_config(self):
        return {**super().get_config(), "size": self.size, "complex_valued": self.complex_valued}


def linear_loop(size: int, complex_valued: bool, dtype="float32") -> keras.layers.RNN:
    """The sequential scan's loop (no weights: nothing in a config or a weights file). The
    models run it in float32 under every policy: a bfloat16 eigenvalue of modulus 0.999
    rounds to 1.0, and the reference Mamba kernel also scans in float32."""
    return keras.layers.RNN(LinearStep(size, complex_valued, dtype=dtype), return_sequences=True,
                            dtype=dtype)


def scan_real(a, b, parallel: bool, loop=None):
    """h_t = a_t h_{t-1} + b_t, a and b (batch, T, n): every h_t, (batch, T, n)."""
    if parallel:
        return static_scan(real_compose, [a, b])[1]
    return loop(ops.concatenate([a, b], axis=-1))


def scan_complex(ar, ai, br, bi, parallel: bool, loop=None):
    """The same for complex a, b (parts (batch, T, n) each): (h_re, h_im)."""
    if parallel:
        out = static_scan(complex_compose, [ar, ai, br, bi])
        return out[2], out[3]
    h = loop(ops.concatenate([ar, ai, br, bi], axis=-1))
    return ops.split(h, 2, axis=-1)


# -- the block ---------------------------------------------------------------------------------
class ResidualBlock(keras.layers.Layer):
    """Pre-norm residual block: post(x + mixer(norm(x))), after a linear encoder to ``units`` where
    the input is narrower or wider. Subclasses make the mixer (``build_mixer``) and run it
    (``mix``); ``norm`` picks LayerNormalization or RMSNormalization."""

    norm = "layer"
    scans = SCANS  # the forms of the recurrence a block offers (S4D adds its convolution)

    def __init__(self, units: int, return_sequences: bool = False, scan: str = "sequential",
                 **kwargs):
        super().__init__(**kwargs)
        name = type(self).__name__
        check_positive("units", units, name)
        if not isinstance(return_sequences, bool):
            raise ConfigError(f"{name}: return_sequences must be True or False, "
                              f"got {return_sequences!r}")
        self.units = units
        self.return_sequences = return_sequences
        self.scan = check_scan(scan, name, self.scans)

    def _sub(self, layer, shape):
        layer.build(shape)
        return layer

    def build(self, input_shape):
        d, u = input_shape[-1], self.units
        policy = self.dtype_policy
        self.encoder = None
        if d != u:
            # PyTorch's default Linear initialisation, as the papers' code encodes: a nonzero
            # bias, so an all-zero input step (most steps of the adding and XOR tasks) is not
            # a zero vector, whose normalisation has a gradient of 1/sqrt(eps)
            init = keras.initializers.RandomUniform(-(d**-0.5), d**-0.5)
            self.encoder = self._sub(keras.layers.Dense(u, name="encoder", dtype=policy,
                                                        kernel_initializer=init,
                                                        bias_initializer=init), input_shape)
        shape = (*input_shape[:-1], u)
        if self.norm == "rms":  # Mamba's RMSNorm, epsilon as in the reference
            norm = keras.layers.RMSNormalization(epsilon=1e-5, name="norm", dtype=policy)
        else:
            norm = keras.layers.LayerNormalization(name="norm", dtype=policy)
        self.norm_layer = self._sub(norm, shape)
        self.build_mixer(shape)
        super().build(input_shape)

    def build_mixer(self, shape):
        raise NotImplementedError

    def mix(self, x):
        raise NotImplementedError

    def post(self, x):
        """A second residual sub-block after the first (the sLSTM block's MLP); none here."""
        return x

    def call(self, inputs):
        x = self.encoder(inputs) if self.encoder is not None else inputs
        x = self.post(x + self.mix(self.norm_layer(x)))
        return x if self.return_sequences else x[:, -1, :]

    def compute_output_shape(self, input_shape):
        if self.return_sequences:
            return (*input_shape[:-1], self.units)
        return (input_shape[0], self.units)

    def get_config(self):
        config = super().get_config()
        config.update(units=self.units, return_sequences=self.return_sequences, scan=self.scan)
        return config


class GLU(keras.layers.Layer):
    """Gated linear unit on GELU features: (W_1 g + b_1) * sigmoid(W_2 g + b_2), g = GELU(y)
    (the LRU and S4 blocks' output mixing, Dauphin et al. 2017)."""

    def __init__(self, units: int, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], 2 * self.units), name="kernel",
                                      initializer="glorot_uniform")
        self.bias = self.add_weight(shape=(2 * self.units,), name="bias", initializer="zeros")
        super().build(input_shape)

    def call(self, y):
        v, g = ops.split(ops.matmul(ops.gelu(y, approximate=False), self.kernel) + self.bias, 2,
                         axis=-1)
        return v * ops.sigmoid(g)

    def get_config(self):
        return {**super().get_config(), "units": self.units}
