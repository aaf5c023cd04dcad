"""The memory path's Jacobian: ||dc_T/dc_{T-k}|| and ||dh_T/dh_{T-k}|| against the lag k.

Computed here (models built, Jacobians taken); drawn and summarised for the Findings by
``report/jacobian.py``.

Why. ``diagnostics/gradflow.py`` measures ||dL/dx_t||, which mixes two things: how well the state
carries a perturbation from step t to the end (memory), and how much the loss cares about x_t
at all (input relevance). This module measures the first one alone, on the state path, and the
second one only where the task says it matters (the marked steps of the adding problem).

What is measured, per model (a one-layer ``keras.layers.RNN`` with a cell: ``lstm``, ``gru``,
``simple_rnn`` are Keras' ``LSTM`` / ``GRU`` / ``SimpleRNN``, whose ``.cell`` is the cell; a
registered cell is wrapped in ``keras.layers.RNN``):

- ``h``: ||dh_{T-1} / dh_{T-1-k}|| for k = 0..T-1, every model;
- ``c``: ||dc_{T-1} / dc_{T-1-k}||, the memory path, for cells with a memory state;
- ``x_marked`` (adding only): ||dL_i / dx_t|| at the two marked steps t of each sequence,
  against the lag k = T-1-t (the marked value enters the state s_t, so its lag is the lag of
  ds_{T-1}/ds_t: the same axis as the state curves).

Steps are counted from 0 as in ``gradflow.py``: s_t = (h_t[, c_t]) is the state after reading
x_t, t = 0..T-1, and s_{-1} the cell's initial state (zeros). So lag T-1 is d s_{T-1} / d s_0,
the first step's state seen from the last ("dc_T/dc_0" in the Findings' words).

Which state is the memory. A cell's states are ``cell.state_size`` (one int, or a list); the
first state is h (Keras' RNN contract: the output is the new first state for every cell here).
A cell whose ``state_size`` is two equal sizes ``[units, units]`` keeps (h, c) in that order and
c is the memory. Checked for every why-LSTM cell: Keras' ``LSTMCell`` (``state_size = [units,
units]``, ``call`` returns ``h, [h, c]``); ``AblationLSTMCell`` (``lstm_*``, ``lstm_chrono``,
``cec``: returns ``y, [y, c]`` with c the additive memory); ``UngatedCell`` (``ungated``:
returns ``h, [h, m]``, m its separate memory, reported as ``c``). ``GRUCell`` and
``SimpleRNNCell`` have ``state_size = units``: h only. Any other state layout (one state, three
states, unequal sizes) is measured on ``h`` only; every state is still in the Jacobian. (A
plugin cell with two equal states that are not (h, memory), e.g. a position and a velocity,
gets a ``c`` curve for its second state: read it as that.)

Method. The sequence that enters the recurrent layer is computed with a Keras sub-model from
the model's input to the layer's input (the identity on ``adding``; an embedding on token
tasks). The cell is then run step by step (``cell(x_t, states, training=False)``) from its
initial state, giving s_{-1}, ..., s_{T-1}. With the inputs fixed, each step is a map
s_t = F(x_t, s_{t-1}); its Jacobian J_t = dF/ds_{t-1} is taken on the concatenated state
s = [h, c] (dimension D = sum(state_size)) with ``tf.GradientTape.batch_jacobian``, many steps
per call: the rows (x_t, s_{t-1}) of ``JACOBIAN_CHUNK`` steps times the batch form one batch of
a single step (a cell treats each row on its own), in one ``tf.function`` traced once per model,
chunk after chunk from the end of the sequence (at most (chunk * batch, D, D) in memory). By the
chain rule over the whole recurrence,

    d s_{T-1} / d s_{T-1-k} = J_{T-1} J_{T-2} ... J_{T-k}        (k >= 1; the identity at k = 0)

and it is accumulated backwards from the end once, P_0 = I, P_k = P_{k-1} J_{T-k}: T - 1
products of (D, D) matrices per sequence, never the O(T^2) of forming each product anew. The
(h, h) block of P_k is dh_{T-1}/dh_{T-1-k} and the (c, c) block dc_{T-1}/dc_{T-1-k}: total
derivatives over every path through the recurrence (c -> h -> c included), with the other state
at step T-1-k held fixed (a perturbation of c_{T-1-k} alone, as a gradient arriving at the
memory sees it). The products are taken in float64, so that a gradient that vanishes to 1e-40 is
still a number (float32 stops at about 1e-38; beyond about 1e-300 it is 0, and a log axis leaves
it out). Checked in the tests against autodiff through the unrolled loop (h_{T-1-k} and
c_{T-1-k} injected as watched tensors), and against ||U^k||_2 for a linear simple RNN.

Norm. The spectral norm (the largest singular value) of each sequence's block, then the mean
(``norm``) and the median (``norm_median``) over the batch. Spectral because it is the largest
factor by which any perturbation of the old state can reach the new one, whatever its
direction: a memory that holds even one direction (one stored value) shows as a norm near 1,
which a Frobenius norm would dilute by the number of units and a mean over units would hide;
and it is the quantity of the vanishing / exploding gradient analyses (Pascanu, Mikolov & Bengio
2013: the gradient vanishes when the Jacobians' largest singular values stay below 1).

The marked-input gradient. For the adding task's loss L_i of each sequence (the batch-mean
loss times the batch, as in ``gradflow.py``), ||dL_i/dx_t|| (Euclidean over x's features) at
the two steps whose marker channel is 1, grouped by the lag T-1-t: ``norm`` is the mean over the
marked steps at that lag, ``norm_median`` their median. So that each lag has about ``batch``
marked steps, this gradient is taken on ``batch * ceil(T / 2)`` test sequences (one forward and
backward pass of the model; in the default variant each of the two markers is uniform over T/2
steps, so each step is marked in 2 / T of the sequences). Variant ``hochreiter1997`` marks only
the first half: its lags below T/2 are absent. It is a gradient of the loss: it scales with each
sequence's error, so a model that has solved the task shows small values at every lag; compare
the shape across lags, and the state curves for the memory itself.

At initialisation and trained: for every run folder (``gradflow.read_run``; weights
``model.weights.h5``) the model is built from its config at the asked length after
``keras.utils.set_random_seed(seed)`` with the run's own seed (``init``), and the same build
with the run's weights loaded (``trained``); both see the same test batch (the task's test split
with that seed). Seeds are fixed, so the output is deterministic.

Not measured. A model that is not one cell layer (a model factory such as ``mingru`` or
``tcn``, ``layers > 1``, a backwards layer, several inputs), or whose cell fails on a step, gets
one row per state with an empty ``path`` and ``note`` "not measured: <reason>"; the other runs
go on. Bad input (no run folder, a run of another task, length < 2, weights that do not fit
the config) is a one-line ``ConfigError``.

Cost (T = 100, batch 32, one seed = init and trained, on a 2-core CPU shared with other work):
4 to 7 s for the ~5,000-parameter LSTM, GRU, simple RNN and ungated cell (D = 39 to 69), 9 s for
``cec`` (69 units, D = 138: the products and SVDs grow as D^3).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from memorybench.errors import ConfigError, check_positive, one_line

CSV_COLUMNS = ["model", "run_id", "seed", "state", "path", "lag", "norm", "norm_median", "note"]
PATHS = ("h", "c", "x_marked")
MIN_LENGTH = 2  # one Jacobian product needs two steps
JACOBIAN_CHUNK = 25  # steps whose Jacobians are held at once
MARKED_TASKS = ("adding",)  # tasks whose x marks the steps that matter (channel 1 == 1)


class NotMeasured(ConfigError):
    """The model cannot be measured here (no cell, several layers, ...): one line, the reason.
    ``run_jacobians`` turns it into a "not measured: <reason>" row and goes on."""


# -- one model ---------------------------------------------------------------------------------
def recurrent_layer(model):
    """The one ``keras.layers.RNN`` (``LSTM``, ``GRU``, ``SimpleRNN`` or a wrapped cell) of
    ``model``; ``NotMeasured`` naming what is allowed when there is none or several."""
    import keras

    found = [la for la in model.layers if isinstance(la, keras.layers.RNN)]
    if not found:
        kinds = sorted({type(la).__name__ for la in model.layers
                        if not isinstance(la, (keras.layers.InputLayer, keras.layers.Dense))})
        raise NotMeasured(
            f"no recurrent cell layer (found {', '.join(kinds) or 'none'}); measured are one-layer "
            f"models of a cell: keras.layers.LSTM / GRU / SimpleRNN or a cell in keras.layers.RNN")
    if len(found) > 1:
        raise NotMeasured(f"{len(found)} recurrent layers; only one-layer models are measured")
    layer = found[0]
    cell = layer.cell
    if isinstance(cell, keras.layers.StackedRNNCells):
        raise NotMeasured("a stack of cells in one layer; only one cell is measured")
    if getattr(layer, "go_backwards", False):
        raise NotMeasured("the layer reads the sequence backwards; only forward layers are "
                          "measured")
    return layer


def state_sizes(cell) -> list[int]:
    """``cell.state_size`` as a list of ints."""
    size = cell.state_size
    sizes = [size] if isinstance(size, int) else list(size)
    if not sizes or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0
                            for s in sizes):
        raise NotMeasured(f"state_size {size!r} is not a positive int or a list of them")
    return sizes


def has_memory(cell) -> bool:
    """The module docstring's rule: two equal states [units, units] are (h, c)."""
    sizes = state_sizes(cell)
    return len(sizes) == 2 and sizes[0] == sizes[1]


def layer_inputs(model, layer, x):
    """The sequence entering ``layer`` when ``model`` reads ``x``: float32, (batch, T, d)."""
    import keras
    import tensorflow as tf

    if len(model.inputs) != 1:
        raise NotMeasured(f"{len(model.inputs)} model inputs; measured are models of one input")
    if layer.input is model.inputs[0]:
        seq = x
    else:  # e.g. token ids through an Embedding
        seq = keras.Model(model.inputs[0], layer.input)(x, training=False)
    return tf.cast(tf.convert_to_tensor(seq), tf.float32)


def _initial_states(cell, batch: int, sizes: list[int]):
    import tensorflow as tf

    make = getattr(cell, "get_initial_state", None)
    states = make(batch_size=batch) if make is not None else None
    if states is None:
        return [tf.zeros((batch, s), tf.float32) for s in sizes]
    states = list(states) if isinstance(states, (list, tuple)) else [states]
    return [tf.cast(s, tf.float32) for s in states]


def _step(cell, x_t, flat, sizes: list[int]):
    """One cell step on the concatenated state: (batch, D) -> (batch, D)."""
    import tensorflow as tf

    states = tf.split(flat, sizes, axis=-1)
    _, new = cell(x_t, list(states), training=False)
    new = list(new) if isinstance(new, (list, tuple)) else [new]
    return tf.concat([tf.cast(s, tf.float32) for s in new], axis=-1)


def _forward(cell, seq):
    """The states before each step, s_{-1} .. s_{T-2}: (T, batch, D) float32."""
    import tensorflow as tf

    sizes = state_sizes(cell)
    batch, steps = int(seq.shape[0]), int(seq.shape[1])
    flat = tf.concat(_initial_states(cell, batch, sizes), axis=-1)
    previous = []
    for t in range(steps):
        previous.append(flat)
        flat = _step(cell, seq[:, t], flat, sizes)
    return tf.stack(previous)


def _jacobian_chunks(cell, seq, chunk: int = JACOBIAN_CHUNK):
    """(t0, J_{t0} .. J_{t1-1}) as a float64 tensor (t1 - t0, batch, D, D), chunks of ``chunk``
    steps from the end of the sequence backwards (what the product needs first, and the memory
    of one chunk at a time: (T * batch, D, D) at once is 0.5 GB for D = 138, T = 100)."""
    import tensorflow as tf

    sizes = state_sizes(cell)
    batch, steps = int(seq.shape[0]), int(seq.shape[1])
    before = _forward(cell, seq)
    xs = tf.transpose(seq, (1, 0, 2))  # (T, batch, d)
    d = int(sum(sizes))

    # one trace for every chunk (rows: any number): eager batch_jacobian traces its
    # vectorised loop anew on each call
    @tf.function(input_signature=[tf.TensorSpec((None, xs.shape[-1]), tf.float32),
                                  tf.TensorSpec((None, d), tf.float32)])
    def jacobian(x, s_prev):
        with tf.GradientTape() as tape:
            tape.watch(s_prev)
            s_new = _step(cell, x, s_prev, sizes)
        return tape.batch_jacobian(s_new, s_prev)  # each row depends on its own row only

    for t1 in range(steps, 0, -chunk):
        t0 = max(0, t1 - chunk)
        n = (t1 - t0) * batch
        s_prev = tf.reshape(before[t0:t1], (n, d))  # row (t - t0) * batch + b
        x = tf.reshape(xs[t0:t1], (n, -1))
        jac = jacobian(x, s_prev)
        yield t0, tf.reshape(tf.cast(jac, tf.float64), (t1 - t0, batch, d, d))


def state_jacobians(cell, seq) -> np.ndarray:
    """J_t = d s_t / d s_{t-1} for t = 0..T-1 with the inputs fixed: (T, batch, D, D), float64
    (index [t, b, i, j] = d s_t[i] / d s_{t-1}[j] of sequence b)."""
    chunks = sorted(_jacobian_chunks(cell, seq), key=lambda c: c[0])
    return np.concatenate([j.numpy() for _, j in chunks])


def _spectral(blocks: np.ndarray) -> np.ndarray:
    """Largest singular value of each (n, n) matrix of (batch, n, n)."""
    return np.linalg.svd(blocks, compute_uv=False)[..., 0]


def jacobian_products(jacs, blocks: dict[str, slice]) -> dict[str, np.ndarray]:
    """Spectral norms of the diagonal ``blocks`` of d s_{T-1} / d s_{T-1-k}, k = 0..T-1, from
    the J_t: ``jacs`` is ``state_jacobians``' array or ``_jacobian_chunks``' chunks (from the
    end). Accumulated backwards once, P_0 = I, P_k = P_{k-1} J_{T-k}. Each value: (T, batch)."""
    import tensorflow as tf

    if isinstance(jacs, np.ndarray):
        jacs = [(0, tf.constant(jacs, tf.float64))]
    jacs = list(jacs) if not hasattr(jacs, "__next__") else jacs
    out: dict[str, np.ndarray] = {}
    prod = pending = None
    k = 0
    for t0, chunk in jacs:
        # TensorFlow's matmul: numpy's batched one on OpenBLAS threads was 20x slower on a busy
        # 2-core machine (138 x 138 states, T = 25: 6 s against 0.3 s)
        if prod is None:
            steps = t0 + int(chunk.shape[0])
            batch, d = int(chunk.shape[1]), int(chunk.shape[2])
            out = {name: np.empty((steps, batch)) for name in blocks}
            prod = tf.eye(d, batch_shape=[batch], dtype=tf.float64)
        for i in range(int(chunk.shape[0]) - 1, -1, -1):  # t = t0 + i = T-1-k, from the end
            if k:  # P_k = P_{k-1} J_{T-k} = P_{k-1} J_{t+1}, the previous step's Jacobian
                prod = tf.linalg.matmul(prod, pending)
            pending = chunk[i]
            p = prod.numpy()
            for name, sl in blocks.items():
                out[name][k] = _spectral(np.ascontiguousarray(p[:, sl, sl]))
            k += 1
    return out


def memory_jacobians(model, x) -> Any:
    """A DataFrame (lag, path, norm, norm_median): ||dh_{T-1}/dh_{T-1-k}|| (path ``h``) and,
    for a cell with a memory state, ||dc_{T-1}/dc_{T-1-k}|| (path ``c``), k = 0..T-1, spectral
    norms, mean and median over the sequences of ``x`` (the model's input, (batch, T, ...)).
    ``NotMeasured`` (a ConfigError) when the model is not one cell layer."""
    import pandas as pd

    layer = recurrent_layer(model)
    cell = layer.cell
    sizes = state_sizes(cell)
    seq = layer_inputs(model, layer, x)
    steps = int(seq.shape[1])
    if steps < MIN_LENGTH:
        raise ConfigError(f"the sequence has {steps} step(s); the Jacobian along it needs "
                          f"length >= {MIN_LENGTH}")
    blocks = {"h": slice(0, sizes[0])}
    if has_memory(cell):
        blocks["c"] = slice(sizes[0], sizes[0] + sizes[1])
    norms = jacobian_products(_jacobian_chunks(cell, seq), blocks)
    rows = [{"lag": k, "path": name, "norm": float(v[k].mean()),
             "norm_median": float(np.median(v[k]))}
            for name, v in norms.items() for k in range(steps)]
    return pd.DataFrame(rows, columns=["lag", "path", "norm", "norm_median"])


def marked_input_gradients(model, task, n: int, seed: int) -> Any:
    """A DataFrame (lag, norm, norm_median, count): ||dL_i/dx_t|| at the marked steps of ``n``
    test sequences of ``task`` (adding: the marker channel x[..., 1] == 1) against the lag
    T-1-t; mean, median and number of marked steps per lag. Lags with no marked step are
    absent."""
    import pandas as pd
    import tensorflow as tf

    from memorybench.models.build import loss_for

    if task.name not in MARKED_TASKS:
        raise NotMeasured(f"{task.name} marks no steps in its input; the marked-input gradient "
                          f"is measured on: {', '.join(MARKED_TASKS)}")
    x, y = task.data("test", n=n, seed=seed)
    xt = tf.convert_to_tensor(x, tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        pred = model(xt, training=False)
        # the loss averages over the batch: times the batch, each sequence's own gradient
        loss = tf.cast(loss_for(task.spec)(y, pred), tf.float32) * n
    grad = tape.gradient(loss, xt)
    g = np.zeros(x.shape) if grad is None else grad.numpy().astype(np.float64)
    seq_idx, t_idx = np.nonzero(x[..., 1] == 1.0)
    norms = np.linalg.norm(g[seq_idx, t_idx], axis=-1)
    lags = x.shape[1] - 1 - t_idx
    rows = []
    for lag in np.unique(lags):
        v = norms[lags == lag]
        rows.append({"lag": int(lag), "norm": float(v.mean()),
                     "norm_median": float(np.median(v)), "count": int(v.size)})
    return pd.DataFrame(rows, columns=["lag", "norm", "norm_median", "count"])


# -- run folders -------------------------------------------------------------------------------
def _run_seed(run) -> int:
    from memorybench.run import store

    seed = store.load_config(run.run_dir).get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"--run {str(run.run_dir)!r}: its config.json seed {seed!r} is not a "
                          f"non-negative integer")
    return seed


def jacobians(task: str, length: int, runs: Iterable[str | Path], *, batch: int = 32):
    """A DataFrame with ``CSV_COLUMNS``: for every run folder in ``runs`` (its task must be
    ``task``), its model at initialisation (built with the run's seed) and trained (its
    weights), at ``length``: the ``h`` and ``c`` curves of ``memory_jacobians`` on ``batch``
    test sequences and, on ``adding``, the ``x_marked`` curve. A model that cannot be measured
    gets one row per state with path "" and ``note`` "not measured: <reason>"."""
    from memorybench.diagnostics.gradflow import read_run

    check_positive("batch", batch)
    if isinstance(length, bool) or not isinstance(length, int) or length < MIN_LENGTH:
        raise ConfigError(f"length must be an integer >= {MIN_LENGTH} (the Jacobian along the "
                          f"sequence needs two steps), got {length!r}")
    runs = list(runs)
    if not runs:
        raise ConfigError("the memory Jacobian needs at least one run folder (results/runs/"
                          "<run_id> trained with --save-weights)")
    read = [read_run(r, named=[task]) for r in runs]
    for run in read:
        if run.task != task:
            raise ConfigError(f"--run {str(run.run_dir)!r} trained task {run.task!r}, but the "
                              f"task is {task!r}")
    seeds = [_run_seed(run) for run in read]

    import keras
    import pandas as pd

    from memorybench.models.build import build_model
    from memorybench.tasks import get_task

    rows: list[dict[str, Any]] = []
    for run, seed in zip(read, seeds, strict=True):
        the_task = get_task(task, **{**run.task_params, "length": length})
        x, _ = the_task.data("test", n=batch, seed=seed)
        head = {"model": run.model, "run_id": run.run_id, "seed": seed}
        for state in ("init", "trained"):
            keras.utils.set_random_seed(seed)
            model = build_model(the_task, run.model, units=run.units, layers=run.layers,
                                **run.model_params)
            if state == "trained":
                try:
                    model.load_weights(run.weights)
                except (OSError, ValueError) as exc:
                    raise ConfigError(f"--run {str(run.run_dir)!r}: its {run.weights.name} does "
                                      f"not fit the model its config.json describes "
                                      f"({one_line(exc)[:200]})") from None
            try:
                df = memory_jacobians(model, x)
                if the_task.name in MARKED_TASKS:
                    n = batch * math.ceil(length / 2)  # about `batch` marked steps per lag
                    xm = marked_input_gradients(model, the_task, n, seed)
            except NotMeasured as exc:
                reason = str(exc)
            except Exception as exc:  # a cell's own code (a plugin): this model only
                reason = f"failed: {one_line(exc)[:300]}"
            else:
                reason = ""
            if reason:
                rows.append({**head, "state": state, "path": "", "lag": None, "norm": None,
                             "norm_median": None, "note": f"not measured: {reason}"})
                continue
            rows.extend({**head, "state": state, **r, "note": ""}
                        for r in df.to_dict("records"))
            if the_task.name in MARKED_TASKS:
                rows.extend({**head, "state": state, "path": "x_marked", "lag": r["lag"],
                             "norm": r["norm"], "norm_median": r["norm_median"], "note": ""}
                            for r in xm.to_dict("records"))
    df = pd.DataFrame(rows, columns=CSV_COLUMNS)
    df["lag"] = df["lag"].astype("Int64")
    return df


def write_jacobians(
    task: str,
    length: int,
    runs: Sequence[str | Path],
    out: str | Path,
    *,
    root: str | Path | None = None,
    batch: int = 32,
    keep=None,
    draw=None,
) -> dict[str, Any]:
    """Check that ``out`` can be written, compute ``jacobians``, then write
    ``out/jacobian.csv`` and, with ``draw`` (``(df, path, title) -> [png, svg]``: the report's
    ``plot_jacobians``), ``out/jacobian.png`` and ``.svg``. Returns their paths (``csv``,
    ``png``, ``svg``) and ``not_measured``: one "model run_id state: reason" line each.
    ``root``: the results folder ``out`` was derived from; no folder between it and ``out`` may
    be a symbolic link. ``keep``: rows of other models (a DataFrame of this CSV's columns)
    written and drawn before the computed ones."""
    from memorybench.diagnostics.gradflow import check_writable
    from memorybench.errors import OutputError, os_error_line
    from memorybench.run import store

    out = Path(out)
    if root is not None:  # never through a link below the results folder
        store.check_folder_inside(root, out, "the memory Jacobian")
    check_writable(out)  # before the seconds of computing
    df = jacobians(task, length, runs, batch=batch)
    if keep is not None:
        import pandas as pd

        df = pd.concat([keep[list(df.columns)], df], ignore_index=True)
    seeds = sorted(set(df["seed"]))
    try:
        out.mkdir(parents=True, exist_ok=True)
        csv = out / "jacobian.csv"
        store.write_text(csv, df.to_csv(index=False))
        files: dict[str, Any] = {"csv": csv}
        if draw is not None:
            files["png"], files["svg"] = draw(
                df, out / "jacobian.png",
                f"Memory-path Jacobian norms against lag: {task}, T={length}, batch {batch}, "
                f"seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))}",
            )
    except OSError as exc:
        if isinstance(exc, OutputError):
            raise
        raise OutputError(os_error_line(exc, f"write the memory Jacobian into {out}")) from exc
    skipped = df[df["note"].fillna("") != ""]
    return {**files, "not_measured": [f"{r.model} {r.run_id} {r.state}: {r.note}"
                                      for r in skipped.itertuples()]}
