"""The measurements of ``memorybench bench`` (``suite.py`` runs them at a level's sizes and
writes the report): generators, harness overhead, the data pipeline's share of a step, step
times of the custom LSTM, every model, against T and per scan, PyTorch's LSTM as a peer, and
the matmul peak. Each returns its numbers as a dict (or rows); each compares within one run,
interleaved."""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from memorybench.bench import generators
from memorybench.bench.flops import flops_per_step

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _median_ratio(a: list[float], b: list[float]) -> float:
    return statistics.median(x / y for x, y in zip(a, b, strict=True))


# -- 1. generators ---------------------------------------------------------------------------
def bench_generators(length, n, loop_n, repeats) -> dict[str, Any]:
    rows = generators.measure(length=length, n=n, loop_n=loop_n, repeats=repeats)
    worst = min(rows, key=lambda r: r["speedup_vs_loop"])
    return {"generator_speedup_vs_loop": worst["speedup_vs_loop"], "generators": rows}


# -- 2. harness overhead ---------------------------------------------------------------------
def _run_config(h: dict):
    import memorybench as mb

    return mb.RunConfig(
        mb.TaskConfig(h["task"], {"length": h["length"]}),
        mb.ModelConfig(h["model"], units=h["units"]),
        mb.TrainConfig(steps=h["steps"], eval_every=h["eval_every"], batch_size=h["batch"],
                       lr=1e-3, n_train=h["n_train"], n_val=h["n_val"], n_test=h["n_test"],
                       eval_batch_size=h["eval_batch"], early_stop=False),
        seed=0,
    )


def _bare_fit(h: dict, pipeline: str = "runner") -> dict[str, Any]:
    """The same run by hand: data, model, ``fit`` with validation every ``eval_every`` steps,
    test score, on the training path the run resolves to (XLA, steps per call).
    ``pipeline="runner"`` feeds it the runner's own input pipeline (so the ratio is the harness
    alone); ``"naive"`` the textbook ``from_tensor_slices().shuffle().batch()``."""
    import keras
    import tensorflow as tf

    import memorybench as mb
    from memorybench.models.build import loss_for
    from memorybench.models.resolve import resolve
    from memorybench.run.train import eval_dataset, make_optimizer, train_dataset

    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    task = mb.get_task(h["task"], length=h["length"])
    x_tr, y_tr = task.data("train", n=h["n_train"], seed=0)
    x_va, y_va = task.data("val", n=h["n_val"], seed=0)
    x_te, y_te = task.data("test", n=h["n_test"], seed=0)
    model = mb.build_model(task, h["model"], units=h["units"])
    tc = resolve(_run_config(h)).train
    model.compile(optimizer=make_optimizer(tc), loss=loss_for(task.spec), jit_compile=tc.jit,
                  steps_per_execution=tc.steps_per_execution)
    if pipeline == "runner":
        ds = train_dataset(x_tr, y_tr, h["batch"], 0)
    else:
        ds = (tf.data.Dataset.from_tensor_slices((x_tr, y_tr)).shuffle(len(x_tr), seed=0)
              .repeat().batch(h["batch"], drop_remainder=True).prefetch(tf.data.AUTOTUNE))
    val = tf.data.Dataset.from_tensor_slices((x_va, y_va)).batch(h["eval_batch"]).cache()
    model.fit(ds, epochs=h["steps"] // h["eval_every"], steps_per_epoch=h["eval_every"],
              validation_data=val, verbose=0, shuffle=False)
    pred = model.predict(eval_dataset(x_te, h["eval_batch"]), verbose=0)
    return task.evaluate(y_te, pred)


def _harness_run(h: dict, out: Path) -> Any:
    import memorybench as mb
    from memorybench.run import programs

    programs.drop()  # the run compiles its program, as the hand-written one does
    result = mb.run(_run_config(h), out)
    if result.status != "completed":
        raise RuntimeError(f"harness run {result.status}: {result.reason}")
    return result


def bench_harness(h: dict, warm: bool = True, naive: bool = False) -> dict[str, Any]:
    """``run()`` against the same run by hand (``_bare_fit``), interleaved, ``repeats`` times."""
    tiny = {**h, "steps": h["eval_every"] * 2, "n_train": 4 * h["batch"]}
    kinds = ["run", "bare"] + (["naive"] if naive else [])
    t: dict[str, list[float]] = {k: [] for k in kinds}
    with tempfile.TemporaryDirectory(prefix="mb-bench-") as tmp:
        if warm:  # one-time costs of the process (kernels, tf.data, the first trace) for neither
            _harness_run(tiny, Path(tmp) / "warm")
            _bare_fit(tiny)
        for r in range(h["repeats"]):
            for which in kinds[r % len(kinds):] + kinds[: r % len(kinds)]:
                t0 = time.perf_counter()
                if which == "run":
                    _harness_run(h, Path(tmp) / f"r{r}")
                else:
                    _bare_fit(h, "runner" if which == "bare" else "naive")
                t[which].append(time.perf_counter() - t0)
    out = {
        "harness_overhead_ratio": _median_ratio(t["run"], t["bare"]),
        "harness": {"run_seconds": t["run"], "bare_seconds": t["bare"],
                    "settings": {k: v for k, v in h.items() if k != "repeats"},
                    "repeats": h["repeats"]},
    }
    if naive:
        out["harness"]["naive_seconds"] = t["naive"]
        out["harness_vs_naive_fit_ratio"] = _median_ratio(t["run"], t["naive"])
    return out


# -- 3. data pipeline fraction ---------------------------------------------------------------
def bench_data_fraction(h: dict, batches: int) -> dict[str, Any]:
    """Batches pulled from ``train_dataset`` alone vs training steps fed by it (same N)."""
    import keras

    import memorybench as mb
    from memorybench.models.build import loss_for
    from memorybench.run.train import make_optimizer, train_dataset

    cfg = _run_config(h)
    task = mb.get_task(h["task"], length=h["length"])
    x, y = task.data("train", n=h["n_train"], seed=0)
    keras.backend.clear_session()
    model = mb.build_model(task, h["model"], units=h["units"])
    model.compile(optimizer=make_optimizer(cfg.train), loss=loss_for(task.spec))
    ds = train_dataset(x, y, h["batch"], 0)
    model.fit(ds, epochs=1, steps_per_epoch=3, verbose=0, shuffle=False)  # trace the train step
    t_data, t_train = [], []
    for r in range(3):
        it = iter(train_dataset(x, y, h["batch"], r))
        next(it)  # the pipeline's start-up is not per-batch cost
        t0 = time.perf_counter()
        for _ in range(batches):
            next(it)
        t_data.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        model.fit(ds, epochs=1, steps_per_epoch=batches, verbose=0, shuffle=False)
        t_train.append(time.perf_counter() - t0)
    return {
        "data_fraction_of_step": _median_ratio(t_data, t_train),
        "data": {"batch_ms": 1e3 * statistics.median(t_data) / batches,
                 "step_ms": 1e3 * statistics.median(t_train) / batches, "batches": batches},
    }


# -- 4. step times: custom LSTM, every model, T sweep ----------------------------------------
class Stepper:
    """A compiled model and a fixed batch: ``step()`` is one training step."""

    def __init__(self, name: str, task, units: int, batch: int, jit: bool = False,
                 warmup: int = 1, **params):
        import keras
        import tensorflow as tf

        import memorybench as mb
        from memorybench.models.build import loss_for

        keras.utils.set_random_seed(0)
        self.name, self.task = name, task
        self.model = mb.build_model(task, name, units=units, **params)
        self.model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=loss_for(task.spec),
                           jit_compile=jit)
        x, y = task.data("train", n=batch, seed=0)
        self.x, self.y = tf.constant(x), tf.constant(y)
        self.batch = batch
        t0 = time.perf_counter()
        for _ in range(max(1, warmup)):  # the first step traces the graph
            self.step()
        self.compile_seconds = time.perf_counter() - t0
        self.flops = flops_per_step(self.model, task.spec, batch)

    def step(self) -> float:
        t0 = time.perf_counter()
        self.model.train_on_batch(self.x, self.y)
        return time.perf_counter() - t0

    def time(self, steps: int) -> float:
        return statistics.median(self.step() for _ in range(steps))


def _interleaved(steppers: dict[str, Stepper], rounds: int, steps: int) -> dict[str, list]:
    times: dict[str, list[float]] = {k: [] for k in steppers}
    order = list(steppers)
    # one untimed step each first: a model's first step after other models were built is
    # slow (up to 10x here: 146 ms instead of 15 ms for indrnn), even after its own warm-up
    for k in order:
        steppers[k].step()
    for r in range(rounds):
        for k in order[r % len(order):] + order[: r % len(order)]:
            times[k].append(steppers[k].time(steps))
    return times


def bench_custom_lstm(units, T, batch, rounds, steps) -> dict[str, Any]:
    import keras

    import memorybench as mb

    task = mb.get_task("adding", length=T)
    out: dict[str, Any] = {}
    detail = {}
    for jit in (False, True):
        keras.backend.clear_session()
        s = {n: Stepper(n, task, units, batch, jit=jit) for n in ("lstm", "lstm_full")}
        t = _interleaved(s, rounds, steps)
        key = "custom_vs_builtin_lstm_ratio" + ("_jit" if jit else "")
        out[key] = _median_ratio(t["lstm_full"], t["lstm"])
        detail["jit" if jit else "no_jit"] = {
            n: {"step_ms": 1e3 * statistics.median(v), "compile_s": s[n].compile_seconds}
            for n, v in t.items()
        }
    out["custom_lstm"] = {"units": units, "T": T, "batch": batch, **detail}
    return out


def _error(exc: Exception) -> str:
    return f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:100]}"


def bench_cells(units, T, batch, rounds, steps, models=None) -> list[dict[str, Any]]:
    """Every model's training step with XLA off, and on: ``xla_ratio`` is the median over
    rounds of the XLA step time over the plain one, the two timed next to each other."""
    import keras

    import memorybench as mb

    names = list(models or mb.model_names())
    task = mb.get_task("adding", length=T)
    rows = []
    keras.backend.clear_session()
    steppers, failed = {}, {}
    for n in names:
        for key, jit in ((n, False), (f"{n} xla", True)):
            try:
                steppers[key] = Stepper(n, task, units, batch, jit=jit)
            except Exception as exc:  # one broken model must not hide the others
                failed[key] = _error(exc)
    times = _interleaved(steppers, rounds, steps)
    for n in names:
        if n in failed:
            rows.append({"model": n, "error": failed[n]})
            continue
        s, t = steppers[n], statistics.median(times[n])
        row = {"model": n, "params": int(s.model.count_params()), "step_ms": 1e3 * t,
               "seq_per_s": batch / t, "gflop_per_step": s.flops / 1e9,
               "gflops": s.flops / t / 1e9, "compile_s": s.compile_seconds}
        if f"{n} xla" in failed:
            row["xla_error"] = failed[f"{n} xla"]
        else:
            x = times[f"{n} xla"]
            row.update(xla_step_ms=1e3 * statistics.median(x), xla_ratio=_median_ratio(x, times[n]),
                       xla_compile_s=steppers[f"{n} xla"].compile_seconds)
        rows.append(row)
    return rows


def bench_t_sweep(units, batch, Ts, rounds, steps) -> list[dict[str, Any]]:
    import keras

    import memorybench as mb

    rows = []
    for T in Ts:
        keras.backend.clear_session()
        task = mb.get_task("adding", length=T)
        # mingru's parallel scan, and the same model with the sequential loop for reference
        s = {"lstm": Stepper("lstm", task, units, batch),
             "mingru": Stepper("mingru", task, units, batch, scan="parallel"),
             "mingru_seq": Stepper("mingru", task, units, batch, scan="sequential")}
        t = _interleaved(s, rounds, steps)
        for n, v in t.items():
            rows.append({"model": n, "T": T, "step_ms": 1e3 * statistics.median(v),
                         "seq_per_s": batch / statistics.median(v)})
    return rows


# models with a choice of scan, and the scan each uses by default (their constructors' default)
SCAN_MODELS = ("mingru", "minlstm", "lru", "s4d", "mamba")


def bench_scans(units, Ts, batch, rounds, steps, models=None) -> dict[str, Any]:
    """Sequential loop against parallel scan, per model and length T, interleaved in the same
    rounds; ``parallel_over_sequential`` is the median of the per-round step-time ratios."""
    return {"scans": [row for T in Ts for row in _scans_at(units, T, batch, rounds, steps,
                                                           models)]}


def _scans_at(units, T, batch, rounds, steps, models) -> list[dict[str, Any]]:
    import inspect

    import keras

    import memorybench as mb

    task = mb.get_task("adding", length=T)
    rows = []
    for name in models or SCAN_MODELS:
        keras.backend.clear_session()
        row: dict[str, Any] = {"model": name, "T": T, "units": units, "batch": batch}
        try:
            probe = mb.build_model(task, name, units=units).layers[1]
            forms = getattr(probe, "scans", ("sequential", "parallel"))  # S4D: its convolution
            s = {form: Stepper(name, task, units, batch, scan=form) for form in forms}
        except Exception as exc:  # one broken model must not hide the others
            rows.append({**row, "error": _error(exc)})
            continue
        t = _interleaved(s, rounds, steps)
        default = inspect.signature(type(probe).__init__).parameters["scan"].default
        ratio = _median_ratio(t["parallel"], t["sequential"])
        ms = {form: 1e3 * statistics.median(t[form]) for form in forms}
        row.update(default=default, **{f"{form}_ms": v for form, v in ms.items()},
                   parallel_over_sequential=ratio, faster=min(ms, key=ms.get))
        rows.append(row)
    return rows


def _torch_lstm_stepper(units, T, batch, x, y):
    """One ``nn.LSTM`` + linear head training step (Adam, MSE), as a callable; None without
    PyTorch."""
    try:
        import torch
    except ImportError:
        return None, None
    torch.manual_seed(0)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = torch.nn.LSTM(x.shape[-1], units, batch_first=True)
            self.head = torch.nn.Linear(units, y.shape[-1])

        def forward(self, inp):
            out, _ = self.lstm(inp)
            return self.head(out[:, -1])

    net = Net()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    loss_fn = torch.nn.MSELoss()

    def step():
        opt.zero_grad()
        loss = loss_fn(net(tx), ty)
        loss.backward()
        opt.step()
        return float(loss.detach())

    # torch's intra-op threads spin-wait: on a CPU shared with other work, 2 threads took
    # 3.3-5.4 s a step here against 0.8 s with 1 (load ~6 on 2 cores); recorded with the figure
    return step, f"{torch.__version__}, {torch.get_num_threads()} threads"


class _FnStepper:
    def __init__(self, fn):
        self.fn = fn

    def step(self) -> float:
        t0 = time.perf_counter()
        self.fn()
        return time.perf_counter() - t0

    def time(self, steps: int) -> float:
        return statistics.median(self.step() for _ in range(steps))


def bench_peer(units, T, batch, rounds, steps) -> dict[str, Any]:
    """Keras ``lstm`` against PyTorch ``nn.LSTM``, the same training step, interleaved."""
    import keras

    import memorybench as mb

    task = mb.get_task("adding", length=T)
    x, y = task.data("train", n=batch, seed=0)
    fn, version = _torch_lstm_stepper(units, T, batch, x, y)
    info: dict[str, Any] = {"units": units, "T": T, "batch": batch}
    if fn is None:
        return {"peer": {**info, "skipped": "PyTorch is not installed (pip install "
                                            "'memorybench[peer]')"}}
    keras.backend.clear_session()
    fn()  # warm up
    s = {"keras_lstm": Stepper("lstm", task, units, batch), "torch_lstm": _FnStepper(fn)}
    t = _interleaved(s, rounds, steps)
    return {"keras_over_torch_lstm": _median_ratio(t["keras_lstm"], t["torch_lstm"]),
            "peer": {**info, "torch": version,
                     "keras_ms": 1e3 * statistics.median(t["keras_lstm"]),
                     "torch_ms": 1e3 * statistics.median(t["torch_lstm"])}}


def matmul_peak(size: int, repeats: int) -> dict[str, float]:
    """Best-of-``repeats`` float32 GFLOP/s of a size x size matmul, numpy and TensorFlow."""
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size), dtype=np.float32)
    b = rng.standard_normal((size, size), dtype=np.float32)
    flops = 2.0 * size**3
    best_np = min(_timed(np.matmul, a, b) for _ in range(repeats))
    ta, tb = tf.constant(a), tf.constant(b)
    tf.matmul(ta, tb).numpy()  # warm up
    best_tf = min(_timed(lambda: tf.matmul(ta, tb).numpy()) for _ in range(repeats))
    return {"numpy_gflops": flops / best_np / 1e9, "tf_gflops": flops / best_tf / 1e9,
            "size": size}


def _timed(fn, *args) -> float:
    t0 = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t0
