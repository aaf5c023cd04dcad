"""What stands between the study's training step and the arithmetic limit, measured.

At the why-LSTM study's size (an LSTM of ~34 units, batch 64) a training step is not bound
by its matmuls: ``study_shape`` finds the default path (XLA) some 3x above the arithmetic
limit. This probe times one step's gradient (forward and backward through time, no optimizer)
of that LSTM three ways, and its matmuls alone, interleaved in one process and thread, so that
the bench itself says whether another way to run the same step would be faster:

- ``keras_xla``: ``keras.layers.LSTM`` under XLA, as the default training path runs it;
- ``fused_kernel``: TensorFlow's fused C++ LSTM kernel (``tf.raw_ops.BlockLSTMV2`` and its
  registered gradient): the whole sequence in one op, no per-step dispatch at all;
- ``stacked_4``: four LSTMs of this size as one XLA program (weights stacked, one batched
  matmul a time step, one loop), per model: the cost of training K runs of a shape together;
- ``matmuls_only``: the step's three matmuls a time step (forward, and the two of the backward
  pass) alone in one XLA loop: what the arithmetic costs as XLA runs it, so that the rest of
  ``keras_xla`` is its elementwise work and the loop's bookkeeping.

If per-step dispatch were what costs, the fused kernel would be several times faster and the
stacked program's per-model cost would fall with K; ``us_per_time_step`` says how far each is
from ``limit_us_per_time_step`` (the matmul FLOPs of one time step over the small-GEMM rate).
"""

from __future__ import annotations

import statistics
import time
from typing import Any

STACK = 4  # models in the stacked program


def measure(units: int, batch: int, length: int, input_dim: int, gemm_gflops: float,
            calls: int = 10, rounds: int = 3) -> dict[str, Any]:
    """{"rows": [...], "limit_us_per_time_step": ...} for one shape (module docstring)."""
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(0)
    shape = dict(units=units, batch=batch, length=length, input_dim=input_dim)
    cands = {"keras_xla": (_keras_step(rng, **shape), 1),
             "fused_kernel": (_fused_step(rng, **shape), 1),
             f"stacked_{STACK}": (_stacked_step(rng, STACK, **shape), STACK),
             "matmuls_only": (_matmuls(rng, **shape), 1)}
    for fn, _ in cands.values():
        fn()  # trace and compile
    ms: dict[str, list[float]] = {k: [] for k in cands}
    for _ in range(rounds):
        for name, (fn, _) in cands.items():
            t0 = time.perf_counter()
            for _ in range(calls):
                out = fn()
            tf.nest.map_structure(lambda t: t.numpy(), out)
            ms[name].append(1e3 * (time.perf_counter() - t0) / calls)
    # forward: one matmul of the recurrent (units x 4 units) and input weights; backward: two
    limit_us = 1e6 * 6.0 * batch * (units + input_dim) * 4 * units / (gemm_gflops * 1e9)
    rows = []
    for name, (_, models) in cands.items():
        per_model = statistics.median(ms[name]) / models
        rows.append({"way": name, "ms_step": per_model,
                     "us_per_time_step": 1e3 * per_model / length,
                     "over_limit": 1e3 * per_model / length / limit_us})
    return {**shape, "rows": rows, "limit_us_per_time_step": limit_us, "stack": STACK}


def _data(rng, batch, length, input_dim, k=1):
    import tensorflow as tf

    x = tf.constant(rng.standard_normal((batch, length, k * input_dim)), tf.float32)
    y = tf.constant(rng.standard_normal((batch, k)), tf.float32)
    return x, y


def _grad_fn(forward, variables, x, y, jit: bool):
    import tensorflow as tf

    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.reduce_mean((forward(x) - y) ** 2, axis=0))
        return loss, tape.gradient(loss, variables)

    return tf.function(step, jit_compile=jit)


def _keras_step(rng, units, batch, length, input_dim):
    import keras

    inp = keras.Input((length, input_dim), batch_size=batch)
    model = keras.Model(inp, keras.layers.Dense(1)(keras.layers.LSTM(units)(inp)))
    return _grad_fn(model, model.trainable_variables, *_data(rng, batch, length, input_dim),
                    jit=True)


def _fused_step(rng, units, batch, length, input_dim):
    import tensorflow as tf

    w = tf.Variable(rng.standard_normal((input_dim + units, 4 * units)).astype("f") * 0.1)
    b = tf.Variable(tf.zeros(4 * units))
    head = tf.Variable(rng.standard_normal((units, 1)).astype("f") * 0.1)
    zeros, lag = tf.zeros((batch, units)), tf.zeros(units)

    def forward(x):
        out = tf.raw_ops.BlockLSTMV2(
            seq_len_max=tf.constant(length, tf.int64), x=tf.transpose(x, [1, 0, 2]),
            cs_prev=zeros, h_prev=zeros, w=w, wci=lag, wcf=lag, wco=lag, b=b, cell_clip=0.0,
            use_peephole=False)
        return tf.matmul(out.h[-1], head)

    return _grad_fn(forward, [w, b, head], *_data(rng, batch, length, input_dim), jit=False)


def _stacked_step(rng, k, units, batch, length, input_dim):
    import keras
    from keras import ops

    class Stacked(keras.layers.Layer):
        """``k`` LSTM cells with weights of their own, as one cell: state (batch, k * units)."""

        def __init__(self):
            super().__init__()
            self.state_size, self.output_size = [k * units, k * units], k * units

        def build(self, input_shape):
            self.w = self.add_weight(shape=(k, input_dim, 4 * units))
            self.u = self.add_weight(shape=(k, units, 4 * units), initializer="orthogonal")
            self.b = self.add_weight(shape=(k, 4 * units), initializer="zeros")

        def call(self, x, states):
            h, c = (ops.reshape(s, (-1, k, units)) for s in states)
            z = (ops.einsum("bkd,kdg->bkg", ops.reshape(x, (-1, k, input_dim)), self.w)
                 + ops.einsum("bkh,khg->bkg", h, self.u) + self.b)
            i, f, g, o = ops.split(z, 4, axis=-1)
            c = ops.sigmoid(f) * c + ops.sigmoid(i) * ops.tanh(g)
            h = ops.reshape(ops.sigmoid(o) * ops.tanh(c), (-1, k * units))
            return h, [h, ops.reshape(c, (-1, k * units))]

    inp = keras.Input((length, k * input_dim), batch_size=batch)
    model = keras.Model(inp, keras.layers.Dense(k)(keras.layers.RNN(Stacked())(inp)))
    return _grad_fn(model, model.trainable_variables,
                    *_data(rng, batch, length, input_dim, k), jit=True)


def _matmuls(rng, units, batch, length, input_dim):
    import tensorflow as tf

    u = tf.constant(rng.standard_normal((units + input_dim, 4 * units)).astype("f") * 0.1)
    h0 = tf.constant(rng.standard_normal((batch, units + input_dim)).astype("f"))

    def body(t, h, grad):
        z = tf.matmul(h, u)  # forward: [x, h] @ W
        back = tf.matmul(z, u, transpose_b=True)  # backward: to the state
        grad += tf.matmul(h, z, transpose_a=True)  # backward: to the weights
        return t + 1, back * 1e-3, grad

    def loop():
        return tf.while_loop(lambda t, h, g: t < length, body, (0, h0, tf.zeros_like(u)),
                             maximum_iterations=length)[2]

    return tf.function(loop, jit_compile=True)


def note(floor: dict[str, Any], needed_ms: float | None) -> list[str]:
    """The probe as text lines."""
    out = [f"step floor (L={floor['length']}, {floor['units']} units, batch {floor['batch']}; "
           f"gradient only, no optimizer; limit {floor['limit_us_per_time_step']:.1f} us a "
           f"time step):"]
    for r in floor["rows"]:
        per = " a model" if r["way"].startswith("stacked") else ""
        out.append(f"  {r['way']:<14}{r['ms_step']:>8.2f} ms{per}  "
                   f"{r['us_per_time_step']:>6.1f} us a time step  {r['over_limit']:>5.1f}x limit")
    by = {r["way"]: r for r in floor["rows"]}
    if {"keras_xla", "matmuls_only"} <= set(by):
        k, m = by["keras_xla"]["us_per_time_step"], by["matmuls_only"]["us_per_time_step"]
        out.append(f"  of keras_xla's {k:.1f} us a time step, its matmuls take {m:.1f}; the rest "
                   f"({k - m:.1f}) is elementwise work and the loop's bookkeeping")
    if needed_ms is not None and needed_ms > 0:
        out.append(f"  study_shape_speedup 3 needs a whole training step of <= {needed_ms:.2f} ms "
                   f"at this length")
    elif needed_ms is not None:  # the default path's fixed costs alone exceed a third of today's
        out.append("  study_shape_speedup 3 is out of reach of a faster step alone: the default "
                   "path's fixed costs exceed a third of today's run")
    return out
