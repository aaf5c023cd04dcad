"""One training run: data -> model -> fit with periodic evaluation -> artifacts on disk.

``run(cfg)`` never raises for a problem inside the run: a NaN / inf loss ends it as
``diverged`` with the reason, any exception as ``failed`` with the traceback stored in
``summary.json`` (so a sweep goes on). Only a config that does not resolve raises
``ConfigError``, before anything is written.

Training is fed from one ``tf.data`` pipeline built once from pre-generated numpy (the arrays
are held as tensors and batches gathered by shuffled index, repeated forever) and ``fit`` runs
``steps / eval_every`` epochs of ``steps_per_epoch = eval_every``: passing numpy to ``fit``
rebuilds the input pipeline every epoch and stalls. The only Python hook is an epoch-end
callback, i.e. one evaluation every ``eval_every`` steps; no per-step callbacks.

GPU path (written to the TensorFlow / Keras documentation; tests inspect it on the CPU):
memory growth is enabled for every visible GPU (``tf.config.experimental.set_memory_growth``)
so runs in one process share the card; ``precision`` sets the global Keras dtype policy
(``float32`` | ``mixed_float16`` | ``mixed_bfloat16``) for the run and restores the previous one
afterwards; the head stays float32 (``models.build.head``) and Keras wraps the optimizer in a
``LossScaleOptimizer`` under ``mixed_float16``; ``jit`` is ``model.compile(jit_compile=...)``
(XLA). The built-in LSTM / GRU keep cuDNN-eligible settings; ``cudnn_eligible`` is recorded.

The training path (``jit``, ``steps_per_execution``) arrives concrete from ``resolve``
("auto" chosen there); the compiled model of the previous run of the same shape is taken over
when there is one (``run.programs``), and the summary's ``training_path`` says which.
"""

from __future__ import annotations

import math
import os
import platform
import stat
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from memorybench.config import RunConfig, to_dict
from memorybench.errors import MemorybenchError, one_line
from memorybench.models.resolve import resolve, run_id
from memorybench.run import programs, store

EvalHook = Callable[[dict[str, Any]], None]


@dataclass
class _Progress:
    """Everything a run learns, filled as it goes; the summary is made from it at the end."""

    status: str = "completed"
    reason: str | None = None
    traceback: str | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    steps_trained: int = 0
    train_seconds: float = 0.0
    first_interval_seconds: float | None = None  # includes tracing / compilation
    steps_to_solve: int | None = None
    seconds_to_solve: float | None = None
    params: int | None = None
    cudnn_eligible: bool | None = None
    test: dict[str, Any] = field(default_factory=dict)
    spec: Any = None
    gpus: list[str] = field(default_factory=list)
    n_used: dict[str, int] = field(default_factory=dict)
    by_length: dict[str, Any] = field(default_factory=dict)  # spec.eval_lengths -> test scores
    path: dict[str, Any] | None = None  # the training path taken (``programs.taken_path``)

    def diverge(self, reason: str) -> None:
        self.status, self.reason = "diverged", reason


def run(
    cfg: RunConfig,
    out_dir: str | Path = store.DEFAULT_RESULTS,
    *,
    tensorboard: bool = False,
    save_weights: bool = False,
    on_eval: EvalHook | None = None,
    callbacks: tuple | list = (),
) -> store.RunResult:
    """Train and evaluate one run; artifacts go to ``out_dir/runs/<run_id>/``.

    ``on_eval`` is called after each evaluation with ``{"run_id", "step", "steps", "metric",
    "val_metric", "val_score"}`` (progress display); ``callbacks`` are extra Keras callbacks.
    """
    started = _now()
    t0 = time.perf_counter()
    cfg = resolve(cfg)
    rid = run_id(cfg)

    from memorybench.registry import loaded_plugins

    plugins = loaded_plugins()
    try:
        folder = run_folder(out_dir, rid)
    except UnsafeRunFolder as exc:  # nothing is written through a link: failed, in memory only
        rec = _Progress(status="failed", reason=str(exc))
        summary = summarize(cfg, rid, rec, plugins, started, time.perf_counter() - t0)
        return store.result_of(store.run_dir(out_dir, rid), store.clean(summary))
    store.clear_run(folder)
    _write_config(folder, cfg, plugins)
    rec = _Progress()
    try:
        _train(cfg, folder, rec, rid, tensorboard, save_weights, on_eval, list(callbacks))
    except (Exception, SystemExit) as exc:  # anything inside the run (a plugin's sys.exit too):
        programs.drop()  # the held program may be half-way through a step
        rec.status = "failed"  # record it, never raise out of a sweep
        rec.reason = failure_reason(exc)
        rec.traceback = traceback.format_exc()
    store.write_csv(folder / store.HISTORY, rec.history)
    return _write_summary(folder, cfg, rid, rec, plugins, started, time.perf_counter() - t0)


class UnsafeRunFolder(MemorybenchError):
    """``runs/`` or ``runs/<run_id>`` is a symbolic link (or not a folder): not written."""


def run_folder(out_dir: str | Path, rid: str) -> Path:
    """``out_dir/runs/<rid>``, made if missing; UnsafeRunFolder when ``runs`` or the run folder
    is a symbolic link or not a folder, so that a run never deletes or writes files at a link's
    target. Links inside the run folder are removed (the link, never its target)."""
    runs = store.runs_dir(out_dir)
    folder = runs / rid
    for path, parents in ((runs, True), (folder, False)):
        try:
            path.mkdir(parents=parents)
        except FileExistsError:
            pass
        mode = os.lstat(path).st_mode
        if stat.S_ISLNK(mode):
            raise UnsafeRunFolder(
                f"{path} is a symbolic link; runs are never written through links (remove it "
                f"or choose another --out)"
            )
        if not stat.S_ISDIR(mode):
            raise UnsafeRunFolder(f"{path} is not a folder; remove it or choose another --out")
    for entry in folder.iterdir():
        if entry.is_symlink():
            entry.unlink()
    return folder


class HardExit(SystemExit):
    """``os._exit`` called inside a run that runs in the sweep's own process (one worker):
    raised instead of ending the process (``run.executors.hard_exit_raises``), so the run is
    recorded as failed and the sweep goes on, as a worker process's death is with several."""


def failure_reason(exc: BaseException) -> str:
    """The one-line reason of a failed run; ``sys.exit`` and ``os._exit`` inside a run are
    named as such."""
    if isinstance(exc, HardExit):
        return f"os._exit({exc.code!r}) was called inside the run"
    if isinstance(exc, SystemExit):
        return f"SystemExit: sys.exit({exc.code!r}) was called inside the run"
    return one_line(exc)


def write_failed_summary(
    out_dir: str | Path,
    cfg: RunConfig,
    reason: str,
    traceback_text: str | None = None,
    *,
    started: str | None = None,
    wall: float = 0.0,
    device: str | None = None,
) -> store.RunResult:
    """Write ``cfg``'s run as ``failed`` with ``reason`` when the run could not record itself
    (``run`` raised, or its worker died); return its ``RunResult``.

    The one place outside ``run`` that writes a failed run: the summary has every key of the
    schema (``memorybench/run/store.py``), built as ``run`` builds it, and ``config.json`` is
    written when the run did not get that far. ``device`` replaces the device when it is not
    this process's (a remote worker). A summary that cannot be written (the disk is full, the
    folder is not writable) is still returned, so the sweep reports the run.
    """
    from memorybench.registry import loaded_plugins

    rid = run_id(cfg)
    folder = store.run_dir(out_dir, rid)
    plugins = loaded_plugins()
    rec = _Progress(status="failed", reason=reason[:1000], traceback=traceback_text)
    try:
        folder = run_folder(out_dir, rid)
        if not (folder / store.CONFIG).exists():
            _write_config(folder, cfg, plugins)
        return _write_summary(folder, cfg, rid, rec, plugins, started or _now(), wall, device)
    except (OSError, UnsafeRunFolder):  # cannot record it on disk: the sweep still reports it
        summary = summarize(cfg, rid, rec, plugins, started or _now(), wall, device)
        return store.result_of(folder, store.clean(summary))


def _write_config(folder: Path, cfg: RunConfig, plugins: dict[str, str]) -> None:
    from memorybench import __version__

    store.write_json(
        folder / store.CONFIG,
        {**to_dict(cfg), "plugins": plugins, "memorybench_version": __version__},
    )


def _write_summary(folder, cfg, rid, rec, plugins, started, wall, device=None) -> store.RunResult:
    summary = summarize(cfg, rid, rec, plugins, started, wall, device)
    store.write_json(folder / store.SUMMARY, summary)  # last: marks the run complete
    return store.result_of(folder, store.clean(summary))


# -- the run ---------------------------------------------------------------------------------
def _train(cfg, folder, rec, rid, tensorboard, save_weights, on_eval, extra_callbacks):
    import keras

    from memorybench.models.build import build_model, cudnn_eligible, loss_for
    from memorybench.tasks import get_task

    rec.gpus = configure_gpus()
    before = keras.config.dtype_policy()
    held = programs.take(cfg)
    if held is None:
        keras.backend.clear_session()  # forget earlier runs' graphs and layer names in a sweep
    keras.config.set_dtype_policy(cfg.train.precision)
    try:
        tc = cfg.train
        keras.utils.set_random_seed(cfg.seed)
        task = get_task(cfg.task.name, **cfg.task.params)
        spec = rec.spec = task.spec
        x_tr, y_tr = split_data(task, "train", tc.n_train, cfg.seed)
        x_va, y_va = split_data(task, "val", tc.n_val, cfg.seed)
        x_te, y_te = split_data(task, "test", tc.n_test, cfg.seed)
        rec.n_used = {"n_train": len(x_tr), "n_val": len(x_va), "n_test": len(x_te)}
        if len(x_tr) < tc.batch_size:
            from memorybench.errors import ConfigError

            raise ConfigError(
                f"train.batch_size={tc.batch_size} is larger than the {len(x_tr)} training "
                f"sequences; allowed: <= {len(x_tr)}"
            )

        m = cfg.model
        model = build_model(task, m.name, units=m.units, layers=m.layers, **m.params)
        if held is not None:  # the same program: this run's initial weights, a reset optimizer
            programs.reset(held, model, tc.lr)
            model = held
        else:
            model.compile(
                optimizer=make_optimizer(tc),
                loss=loss_for(spec),
                jit_compile=tc.jit,
                steps_per_execution=tc.steps_per_execution,
            )
            optimizer_state = programs.prepare(model)
        rec.params = int(model.count_params())
        rec.cudnn_eligible = cudnn_eligible(model)
        rec.path = programs.taken_path(cfg, task, model, reused=held is not None)
        train_ds = train_dataset(x_tr, y_tr, tc.batch_size, cfg.seed)
        val_ds = eval_dataset(x_va, tc.eval_batch_size)

        monitor = _monitor(task, y_va, val_ds, tc, rec, rid, on_eval)
        cbs = [monitor]
        if tensorboard:
            cbs.append(keras.callbacks.TensorBoard(
                log_dir=str(folder / store.TENSORBOARD), write_graph=False, profile_batch=0,
            ))
        model.fit(
            train_ds, epochs=tc.steps // tc.eval_every, steps_per_epoch=tc.eval_every,
            callbacks=cbs + extra_callbacks, verbose=0, shuffle=False,  # the pipeline shuffles
        )
        if rec.status == "diverged":
            return
        if held is None:
            programs.hold(cfg, model, optimizer_state)
        pred = model.predict(eval_dataset(x_te, tc.eval_batch_size), verbose=0)
        if not np.all(np.isfinite(pred)):
            rec.diverge(f"test predictions are not finite after {rec.steps_trained} steps")
            return
        rec.test = task.evaluate(y_te, pred)
        rec.by_length = eval_lengths(task, model, cfg)
        if save_weights:
            save_model_weights(model, folder / store.WEIGHTS)
    finally:
        keras.config.set_dtype_policy(before)


def _monitor(task, y_val, val_ds, tc, rec: _Progress, rid: str, on_eval):
    """Epoch-end hook (every ``eval_every`` steps): divergence check, validation, early stop.

    The class is made here so that importing this module does not import Keras.
    """
    import keras

    class Monitor(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.t = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            interval = time.perf_counter() - self.t
            rec.train_seconds += interval
            if rec.first_interval_seconds is None:
                rec.first_interval_seconds = interval
            step = (epoch + 1) * tc.eval_every
            rec.steps_trained = step
            loss = float((logs or {}).get("loss", math.nan))
            if not math.isfinite(loss):
                rec.diverge(f"training loss became {loss} by step {step}")
                self.model.stop_training = True
                return
            pred = self.model.predict(val_ds, verbose=0)
            if not np.all(np.isfinite(pred)):
                rec.diverge(f"validation predictions became non-finite by step {step}")
                self.model.stop_training = True
                return
            ev = task.evaluate(y_val, pred)
            rec.history.append({
                "step": step, "seconds": rec.train_seconds, "train_loss": loss,
                "val_loss": ev.get("loss"), "val_metric": ev["metric"], "val_score": ev["score"],
            })
            if ev["solved"] and rec.steps_to_solve is None:
                rec.steps_to_solve, rec.seconds_to_solve = step, rec.train_seconds
            if ev["solved"] and tc.early_stop and beyond_margin(task.spec, ev["metric"],
                                                                tc.early_stop_margin):
                self.model.stop_training = True
            if on_eval is not None:
                on_eval({
                    "run_id": rid, "step": step, "steps": tc.steps, "metric": task.spec.metric,
                    "val_metric": ev["metric"], "val_score": ev["score"], "solved": ev["solved"],
                })
            self.t = time.perf_counter()  # evaluation time is not training time

    return Monitor()


def eval_lengths(task, model, cfg: RunConfig) -> dict[str, Any]:
    """The trained ``model`` scored at each of ``task.spec.eval_lengths`` (induction heads: the
    Mamba paper's test beyond the training length) on ``train.n_test`` fresh test sequences of
    that length: {str(length): {"metric", "score", "solved"}}; {} for other tasks.

    The model for a length is the training model's architecture reading that many steps
    (``build_for_steps``: cells see the training spec) with the trained weights. A length the
    model cannot read is recorded as {"error": one line}, and the other lengths still count.
    """
    lengths = getattr(task.spec, "eval_lengths", ()) or ()
    if not lengths:
        return {}
    import dataclasses
    import logging

    from memorybench.models.build import build_for_steps

    m, tc = cfg.model, cfg.train
    weights = model.get_weights()
    out: dict[str, Any] = {}
    tf_log = logging.getLogger("tensorflow")
    level = tf_log.level
    tf_log.setLevel(logging.ERROR)  # one predict function per length: TF's retracing warning
    try:
        for length in lengths:
            try:
                at = dataclasses.replace(task, length=int(length))
                x, y = at.data("test", n=tc.n_test, seed=cfg.seed)
                other = build_for_steps(task, m.name, int(length), m.units, m.layers, **m.params)
                other.set_weights(weights)
                pred = other.predict(eval_dataset(x, tc.eval_batch_size), verbose=0)
                ev = at.evaluate(y, pred)
                out[str(length)] = {k: ev[k] for k in ("metric", "score", "solved")}
            except Exception as exc:  # noqa: BLE001 - one length's problem is recorded
                out[str(length)] = {"error": one_line(exc)}
    finally:
        tf_log.setLevel(level)
    return out


def beyond_margin(spec, metric: float, margin: float) -> bool:
    """Whether a solved validation ``metric`` is ``margin`` of the way from the threshold to
    perfect (0 for a loss, 1 for an accuracy): when early stopping may stop."""
    if not margin:
        return True
    if spec.higher_is_better:
        return metric >= spec.solved_at + (1.0 - spec.solved_at) * margin
    return metric <= spec.solved_at * (1.0 - margin)


# -- pieces (public: the benchmarks and tests use them) --------------------------------------
def split_data(task, split: str, n: int, seed: int):
    """``n`` sequences of ``split``; a finite dataset (MNIST) gives at most its split size."""
    if task.spec.dataset == "synthetic":
        return task.data(split, n=n, seed=seed)
    x, y = task.data(split, n=None, seed=seed)
    if n < len(x):
        x, y = task.data(split, n=n, seed=seed)
    return x, y


def train_dataset(x: np.ndarray, y: np.ndarray, batch_size: int, seed: int):
    """Batches drawn without replacement, reshuffled each pass, repeated forever.

    The arrays become tensors once; the pipeline shuffles indices and gathers whole batches,
    which is cheaper than shuffling and batching sequence by sequence.
    """
    import tensorflow as tf

    with tf.device("/CPU:0"):
        xt, yt = tf.constant(x), tf.constant(y)
    n = len(x)
    idx = (
        tf.data.Dataset.range(n)
        .cache()
        .shuffle(n, seed=seed, reshuffle_each_iteration=True)
        .repeat()
        .batch(batch_size, drop_remainder=True)
    )
    ds = idx.map(lambda i: (tf.gather(xt, i), tf.gather(yt, i)))
    # A fixed prefetch and no tf.data autotuning: gathering a batch takes ~0.25 ms against
    # >= 10 ms a training step, so two batches ahead hide it; the autotuner's thread made the
    # iterator's teardown at the end of ``fit`` stall ~1.4 s in 7 of 10 fits of 300 steps
    # (each 3.7 s otherwise) on 2 cores (benchmarks/pipeline.py measures both).
    return ds.prefetch(2).with_options(_no_autotune())


def eval_dataset(x: np.ndarray, batch_size: int):
    import tensorflow as tf

    # no autotuning here either: it stalled 2 of 8 predicts of 8,000 sequences by 150-200 ms
    return tf.data.Dataset.from_tensor_slices(x).batch(batch_size).cache().with_options(
        _no_autotune()
    )


def _no_autotune():
    import tensorflow as tf

    options = tf.data.Options()
    options.autotune.enabled = False
    return options


def make_optimizer(tc):
    import keras

    classes = {
        "adam": keras.optimizers.Adam, "adamw": keras.optimizers.AdamW,
        "rmsprop": keras.optimizers.RMSprop, "sgd": keras.optimizers.SGD,
    }
    kwargs: dict[str, Any] = {"learning_rate": tc.lr}
    if tc.clipnorm > 0:
        kwargs["clipnorm"] = tc.clipnorm
    return classes[tc.optimizer](**kwargs)


def configure_gpus() -> list[str]:
    """Enable memory growth on every visible GPU; return their names (empty on a CPU)."""
    import tensorflow as tf

    names = []
    for gpu in tf.config.list_physical_devices("GPU"):
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:  # already initialised by an earlier run: the setting holds
            pass
        try:
            details = tf.config.experimental.get_device_details(gpu) or {}
        except Exception:  # details are informational only
            details = {}
        names.append(str(details.get("device_name", gpu.name)))
    return names


def save_model_weights(model, path: Path) -> None:
    """``model.save_weights`` to a temporary ``.weights.h5`` name, then rename (atomic)."""
    tmp = path.with_name(f".tmp-{os.getpid()}.weights.h5")
    try:
        model.save_weights(str(tmp))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


# -- the summary -----------------------------------------------------------------------------
def summarize(
    cfg: RunConfig, rid: str, rec: _Progress, plugins: dict[str, str], started: str, wall: float,
    device: str | None = None,
) -> dict[str, Any]:
    """The ``summary.json`` of a run from what it recorded: every key of the artifact schema
    (``memorybench/run/store.py``), ``None`` where the run did not get that far."""
    spec = rec.spec
    if spec is None:  # failed before the task was made: ask again, cheaply
        try:
            from memorybench.tasks import get_task

            spec = get_task(cfg.task.name, **cfg.task.params).spec
        except Exception:
            spec = None
    tc = cfg.train
    test = rec.test
    throughput = _throughput(rec, tc)
    return {
        "run_id": rid,
        "status": rec.status,
        "reason": rec.reason,
        "traceback": rec.traceback,
        "task": cfg.task.name,
        "length": getattr(spec, "length", cfg.task.params.get("length")),
        "task_params": dict(cfg.task.params),
        "dataset": getattr(spec, "dataset", None),
        "model": cfg.model.name,
        "units": cfg.model.units,
        "layers": cfg.model.layers,
        "param_budget": cfg.model.param_budget,
        "seed": cfg.seed,
        "metric": getattr(spec, "metric", None),
        "higher_is_better": getattr(spec, "higher_is_better", None),
        "chance": getattr(spec, "chance", None),
        "solved_at": getattr(spec, "solved_at", None),
        "test_metric": test.get("metric"),
        "test_loss": test.get("loss"),
        "paper_metrics": dict(test.get("paper_metrics") or {}),  # e.g. ce_all_steps (Bai 2018)
        "eval_lengths": dict(rec.by_length),  # induction_heads: {length: metric, score, solved}
        "score": test.get("score"),
        "solved": bool(test.get("solved", False)),
        "val_metric": rec.history[-1]["val_metric"] if rec.history else None,
        "steps": tc.steps,
        "batch_size": tc.batch_size,
        "lr": tc.lr,
        "steps_trained": rec.steps_trained,
        "steps_to_solve": rec.steps_to_solve,
        "seconds_to_solve": rec.seconds_to_solve,
        "params": rec.params,
        "throughput": throughput,
        "train_seconds": rec.train_seconds,
        "wall_seconds": wall,
        **{k: rec.n_used.get(k) for k in ("n_train", "n_val", "n_test")},
        "device": device or device_name(rec.gpus),
        "gpus": rec.gpus,
        "precision": tc.precision,
        # XLA as compiled; a run that failed before it compiled: as configured ("auto": unknown)
        "jit": rec.path["jit"] if rec.path else tc.jit if isinstance(tc.jit, bool) else None,
        "training_path": rec.path,
        "cudnn_eligible": rec.cudnn_eligible,
        "versions": versions(),
        "plugins": plugins,
        "started_at": started,
        "finished_at": _now(),
    }


def _throughput(rec: _Progress, tc) -> float | None:
    """Training sequences per second, in the steady state: the first evaluation interval
    (graph tracing, XLA compilation) is left out when there is a later one."""
    steps, secs = rec.steps_trained, rec.train_seconds
    if rec.first_interval_seconds is not None and steps > tc.eval_every:
        steps, secs = steps - tc.eval_every, secs - rec.first_interval_seconds
    return steps * tc.batch_size / secs if steps > 0 and secs > 0 else None


def device_name(gpus: list[str]) -> str:
    if gpus:
        return "GPU: " + ", ".join(gpus)
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(
                (ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), cpu
            )
    except OSError:
        pass
    return f"CPU: {cpu} ({os.cpu_count()} cores)"


def versions() -> dict[str, str | None]:
    import sys

    from memorybench import __version__

    out: dict[str, str | None] = {
        "python": platform.python_version(), "memorybench": __version__,
        "numpy": np.__version__,
    }
    keras = sys.modules.get("keras")
    tf = sys.modules.get("tensorflow")
    out["keras"] = getattr(keras, "__version__", None)
    out["tensorflow"] = getattr(tf, "__version__", None)
    out["backend"] = keras.config.backend() if keras is not None else None
    return out


def _now() -> str:
    return datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")
