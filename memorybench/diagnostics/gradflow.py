"""Gradient-flow diagnostic: ||dL/dx_t|| per time step for fresh and trained models.

Computed here (models built, gradients taken); drawn by ``report/gradflow.py``.

For each model the loss of the task (``memorybench.models.build.loss_for``) on a fixed batch of
test sequences is differentiated with respect to the input sequence (``tf.GradientTape``). The
batch-mean loss is multiplied by the batch size, so each sequence contributes the gradient of its
own loss. By default the loss counts only the target steps the task's metric counts (for
``copy_memory`` the 10 recall steps; every other task: all its loss steps), so the curve shows
how much the remembered answer's error reaches back to each input; ``loss_steps="all"`` uses
the full training loss. ``grad_norm[t]`` is the Euclidean norm of that gradient over the input
features at step ``t``, averaged over the batch. A cell whose gradient at early steps is orders
of magnitude below the one at the last steps cannot learn dependencies across that span: the
vanishing gradient of Hochreiter (1991) and Bengio, Simard & Frasconi (1994), which the LSTM's
additive memory was designed to avoid. Compare ``init`` with ``trained``: at initialisation a
gated cell's sigmoid gates sit near 0.5 to 0.7 and forget geometrically, while Keras'
orthogonal recurrent initialiser keeps a fresh ``simple_rnn`` close to norm-preserving, so the
untrained picture can favour the simple RNN; what training does to each curve is the point.

Seeds are fixed (weights: ``keras.utils.set_random_seed(seed)`` before each model is built; data:
the task's test split with ``seed``), so the numbers are reproducible.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from memorybench.errors import ConfigError, check_positive

WEIGHTS = "model.weights.h5"  # memorybench.run.store.WEIGHTS
CSV_COLUMNS = ["model", "state", "t", "grad_norm"]


@dataclass(frozen=True)
class TrainedRun:
    """What gradflow needs from a run folder: its model and task as resolved by the runner."""

    run_dir: Path
    run_id: str
    task: str
    task_params: dict[str, Any]
    model: str
    units: int
    layers: int
    model_params: dict[str, Any]

    @property
    def weights(self) -> Path:
        return self.run_dir / WEIGHTS


def read_run(run_dir: str | Path, named: Iterable[str] = ()) -> TrainedRun:
    """The model and task of a run folder, from its ``config.json`` (weights checked too).

    A results folder is data: its model and task must be names this process already knows
    (built in, installed as entry points, or registered by a ``--plugin`` file), or a
    ``module:Class`` reference among ``named`` (what the user gave with ``--models``). Nothing
    named only in ``config.json`` is ever imported (``check_known``)."""
    from memorybench.errors import DataError, printable
    from memorybench.run import store

    run_dir = Path(run_dir)
    where = printable(str(run_dir))
    if not (run_dir / store.CONFIG).is_file():
        raise ConfigError(f"--run {where!r}: no {store.CONFIG}; expected a run folder "
                          f"such as results/runs/<run_id>")
    try:
        cfg = store.load_config(run_dir)
        task, model = cfg["task"], cfg["model"]
        for what, d in (("task", task), ("model", model)):
            if not isinstance(d.get("name"), str):
                raise TypeError(f"{what} name must be a string, got {d.get('name')!r}")
        for key in ("params",):
            if not isinstance(task.get(key) or {}, dict) or not isinstance(
                    model.get(key) or {}, dict):
                raise TypeError(f"{key} must be a table")
        units, layers = model["units"], model.get("layers") or 1
        if isinstance(units, bool) or not isinstance(units, int) or isinstance(
                layers, bool) or not isinstance(layers, int):
            raise TypeError(f"units and layers must be integers, got {units!r}, {layers!r}")
        run = TrainedRun(
            run_dir=run_dir, run_id=run_dir.name, task=task["name"],
            task_params=dict(task.get("params") or {}), model=model["name"],
            units=units, layers=layers, model_params=dict(model.get("params") or {}),
        )
    except (DataError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ConfigError(f"--run {where!r}: unusable {store.CONFIG} "
                          f"({printable(str(exc))[:200]})") from None
    check_known(run, cfg, named)
    if not run.weights.exists():
        raise ConfigError(
            f"--run {str(run_dir)!r} has no {WEIGHTS}; train it with `memorybench run "
            f"--save-weights`"
        )
    return run


def check_known(run: TrainedRun, cfg: dict[str, Any], named: Iterable[str] = ()) -> None:
    """ConfigError unless ``run``'s task and model resolve without importing anything its
    ``config.json`` names: registered names (built-ins, entry points, loaded plugin files) pass,
    and a ``module:Class`` reference passes only when the user named it (``named``). The error
    says which ``--plugin`` to pass (the file the run recorded for that name, by its hash)."""
    from memorybench.errors import printable
    from memorybench.models import model_names
    from memorybench.tasks import TASKS

    where = printable(str(run.run_dir))
    plugins = cfg.get("plugins") if isinstance(cfg.get("plugins"), dict) else {}
    code = cfg.get("code") if isinstance(cfg.get("code"), dict) else {}
    for kind, name, known in (("task", run.task, TASKS.names()),
                              ("model", run.model, model_names())):
        if name in known or (":" in name and name in set(named)):
            continue
        shown = printable(name)[:100]
        files = [str(f) for f, h in plugins.items() if code.get(kind) and h == code.get(kind)]
        files = files or [str(f) for f in plugins]
        if ":" in name:
            hint = (f"it is a 'module:Class' reference, which is imported only when you name it "
                    f"yourself: add it to --models ({shown})")
        elif files:
            hint = "pass the plugin that registers it: " + " or ".join(
                f"--plugin {printable(f)}" for f in files[:3])
        else:
            hint = ("install the package that provides it, or pass the plugin file that "
                    "registers it with --plugin")
        raise ConfigError(f"--run {where!r}: its {kind} {shown!r} is not a known {kind} (results "
                          f"never decide what is imported); {hint}")


LOSS_STEPS = ("all", "metric")


def input_gradient_norms(
    model, task, batch: int, seed: int, loss_steps: str = "metric"
) -> np.ndarray:
    """Mean over ``batch`` test sequences of ||dL_i/dx_t||, shape (T,).

    ``loss_steps="metric"`` weights the loss by the task's metric mask (for ``copy_memory``: the
    10 recall steps only), so short-range terms such as "predict a blank now" do not hide the
    long-range gradient; ``"all"`` is the training loss as is. The two differ only where the
    metric counts fewer steps than the loss (copy memory); at init on copy memory the full loss
    gives a nearly flat curve for every cell, because each input's own step carries a loss term.
    """
    import tensorflow as tf

    from memorybench.models.build import loss_for

    x, y = task.data("test", n=batch, seed=seed)
    xt = tf.convert_to_tensor(x, dtype=tf.float32)
    if getattr(task.spec, "input_kind", "float") == "tokens":  # ids have no gradient: take
        import keras  # it with respect to the embedded inputs, the sequence layers' x_t

        emb = next(la for la in model.layers if isinstance(la, keras.layers.Embedding))
        xt = tf.cast(emb(x), tf.float32)
        model = keras.Model(emb.output, model.output)
    loss_fn = loss_for(task.spec)
    weight = None
    if loss_steps == "metric":
        mask = task.metric_mask(y)
        weight = None if mask is None else mask.astype(np.float32)
    elif loss_steps != "all":
        raise ConfigError(f"unknown loss_steps {loss_steps!r}; known: {', '.join(LOSS_STEPS)}")
    with tf.GradientTape() as tape:
        tape.watch(xt)
        pred = model(xt, training=False)
        # the loss averages over the batch: times the batch, each sequence's own gradient
        loss = tf.cast(loss_fn(y, pred, sample_weight=weight), tf.float32) * batch
    grad = tape.gradient(loss, xt)
    if grad is None:  # the output does not depend on the input at all
        return np.zeros(x.shape[1])
    g = grad.numpy().astype(np.float64)
    return np.linalg.norm(g, axis=-1).mean(axis=0)


def gradient_flow(
    task: str,
    models: Sequence[str],
    length: int,
    runs: Iterable[str | Path] = (),
    units: int = 64,
    batch: int = 32,
    seed: int = 0,
    task_params: dict[str, Any] | None = None,
    loss_steps: str = "metric",
):
    """A DataFrame (model, state, t, grad_norm): every model in ``models`` freshly initialised
    (state ``init``) and each run folder in ``runs`` with its trained weights (state
    ``trained``), all on ``task`` at ``length``. A trained run's model is rebuilt from its
    config.json at this length (recurrent weights do not depend on the length); its task must be
    ``task``. Models of runs not in ``models`` get an ``init`` line too; the ``init`` line of a
    model with a run has that run's size (``units`` applies to the others)."""
    check_positive("length", length)
    check_positive("units", units)
    check_positive("batch", batch)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
    if loss_steps not in LOSS_STEPS:
        raise ConfigError(f"unknown loss_steps {loss_steps!r}; known: {', '.join(LOSS_STEPS)}")
    trained = [read_run(r, named=[*models, task]) for r in runs]  # what the user named
    for run in trained:
        if run.task != task:
            raise ConfigError(
                f"--run {str(run.run_dir)!r} trained task {run.task!r}, but --task is {task!r}"
            )
    names = list(dict.fromkeys([*models, *(r.model for r in trained)]))
    if not names:
        raise ConfigError("gradflow needs at least one model (--models) or run (--run)")

    import keras  # only now: bad input is answered without the seconds TensorFlow takes
    import pandas as pd

    from memorybench.models.build import build_model
    from memorybench.tasks import get_task

    # every line on one task instance: the runs' task parameters (a variant, an encoding), with
    # the length asked for
    variants = {json.dumps({k: v for k, v in r.task_params.items() if k != "length"},
                           sort_keys=True) for r in trained}
    if len(variants) > 1:
        raise ConfigError(f"the --run folders trained different {task} variants: "
                          f"{', '.join(sorted(variants))}; give runs of one variant")
    base = json.loads(variants.pop()) if variants else {}
    the_task = get_task(task, **{**base, **(task_params or {}), "length": length})

    rows = []

    def add(model_name: str, state: str, norms: np.ndarray) -> None:
        rows.extend(
            {"model": model_name, "state": state, "t": t, "grad_norm": float(v)}
            for t, v in enumerate(norms)
        )

    # a model that also has a trained run starts from that run's architecture, so that its init
    # and trained lines differ in the weights only
    sizes = {}
    for run in trained:
        sizes.setdefault(run.model, {"units": run.units, "layers": run.layers,
                                     **run.model_params})
    for name in names:
        keras.utils.set_random_seed(seed)  # the same initial weights whatever the model order
        model = build_model(the_task, name, **sizes.get(name, {"units": units}))
        add(name, "init", input_gradient_norms(model, the_task, batch, seed, loss_steps))
    per_model: dict[str, int] = {}
    for run in trained:
        per_model[run.model] = per_model.get(run.model, 0) + 1
    for run in trained:
        keras.utils.set_random_seed(seed)
        model = build_model(the_task, run.model, units=run.units, layers=run.layers,
                            **run.model_params)
        model.load_weights(run.weights)
        state = "trained" if per_model[run.model] == 1 else f"trained:{run.run_id[:8]}"
        add(run.model, state, input_gradient_norms(model, the_task, batch, seed, loss_steps))
    return pd.DataFrame(rows, columns=CSV_COLUMNS)


def write_gradflow(
    task: str,
    models: Sequence[str],
    length: int,
    out: str | Path,
    runs: Iterable[str | Path] = (),
    units: int = 64,
    batch: int = 32,
    seed: int = 0,
    loss_steps: str = "metric",
    root: str | Path | None = None,
    keep=None,
    draw=None,
) -> dict[str, Path]:
    """Check that ``out`` can be written, compute, then write ``out/gradflow.csv`` and, with
    ``draw`` (``(df, path, title) -> [png, svg]``: the report's ``plot_gradflow``), the figure
    ``out/gradflow.png`` and ``.svg`` (an ``OutputError`` in one line when they cannot be).
    ``root``: the results folder ``out`` was derived from; no folder between it and ``out`` may
    be a symbolic link (a link the user names as ``out`` is theirs). ``keep``: rows of other
    models (a DataFrame of this CSV's columns) written and drawn before the computed ones."""
    from memorybench.errors import OutputError, os_error_line
    from memorybench.run import store

    out = Path(out)
    if root is not None:  # never through a link below the results folder
        store.check_folder_inside(root, out, "the gradient flow")
    check_writable(out)  # before the seconds of computing
    df = gradient_flow(task, models, length, runs=runs, units=units, batch=batch, seed=seed,
                       loss_steps=loss_steps)
    if keep is not None:
        import pandas as pd

        df = pd.concat([keep[list(df.columns)], df], ignore_index=True)
    try:
        out.mkdir(parents=True, exist_ok=True)
        csv = out / "gradflow.csv"
        store.write_text(csv, store.frame_csv(df))  # names from a plugin: no formulas
        files = {"csv": csv}
        if draw is not None:
            files["png"], files["svg"] = draw(
                df, out / "gradflow.png",
                f"Gradient flow: {task}, length {length}, batch {batch}, seed {seed}"
                + (", loss on metric steps" if loss_steps == "metric" else ", full training loss"),
            )
    except OSError as exc:
        if isinstance(exc, OutputError):
            raise
        raise OutputError(os_error_line(exc, f"write the gradient flow into {out}")) from exc
    return files



def check_writable(out: Path) -> None:
    """OutputError unless ``out`` is a folder, or can be made one, that this process may write
    in (nothing is created here)."""
    import os

    from memorybench.errors import OutputError

    probe = Path(out)
    while not probe.exists() and not probe.is_symlink() and probe.parent != probe:
        probe = probe.parent
    if not probe.is_dir():
        raise OutputError(f"cannot write the gradient flow into {str(out)!r}: {str(probe)!r} is "
                          f"not a folder; give a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write the gradient flow into {str(out)!r}: {str(probe)!r} "
                          f"is not writable (permission denied); give another folder")
