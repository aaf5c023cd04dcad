"""The bench's ``study_shape`` section: whole runs at the why-LSTM study's size, per path.

    python -m memorybench.bench.study_shape [--level quick|full|tiny]   # JSON on stdout

The study trains ~5,000-parameter models at batch 64 for 1,000 steps, where a step spends its
time dispatching small ops, and a run's fixed costs (build, trace, XLA compile, evaluation)
weigh as much as its steps. So this section times what a study runs: ``memorybench.run()`` of
a study-size run (the CPU study's training settings, early stopping off, 1,000 steps) on each
training path, one TensorFlow thread (one core, as a sweep's worker has), the paths of one
model and length interleaved in rotating order and repeated:

- ``today``: no XLA, one step per call (the defaults before the training path was chosen);
- ``steps_per_call``: no XLA, ``eval_every`` steps per call;
- ``xla``: XLA, one step per call;
- ``default``: the path ``train.jit`` / ``train.steps_per_execution`` "auto" chooses (XLA,
  ``eval_every`` steps per call), the program compiled by the run;
- ``default_reused``: the same run right after it, taking over its compiled program, as the
  runs of one shape after the first do in a sweep (``memorybench.run.programs``).

The quick level times only ``today`` and the default (the headline's two), to stay in its
time; the full and tiny levels time every path.

Per row: the run's wall seconds (fixed costs included), the steady ms a step (the runner's
throughput, first evaluation interval left out), runs per core-hour (3,600 / wall), and the
arithmetic limit: the step's matmul FLOPs (``bench.flops``) over the small-GEMM rate
measured here (numpy, one thread, the recurrent matmul's shape: batch x units @ units x
4 units, batched so that call overhead does not count).

``study_shape_speedup`` is runs per core-hour of the default path as the CPU study runs it over
today's, for the study's reference model at the longest length: of a shape's R runs (seeds x
rates of the CPU study) the first compiles and the rest reuse, so its wall is
(compiled + (R - 1) x reused) / R; the median over rounds. ``study_shape_speedup_compiled`` is
the same when every run compiles.

``floor`` (``memorybench.bench.step_floor``) times the reference's step as the default path
runs it and other ways (TensorFlow's fused LSTM kernel, K models as one program, its matmuls
alone) and states the whole training step that ``study_shape_speedup`` 3 needs: what stands
between the default path and the limit.

It runs in a process of its own (``run_section``) so that TensorFlow starts with one thread.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PATHS: dict[str, dict[str, Any]] = {  # path: TrainConfig settings (reuse: see the docstring)
    "today": {"jit": False, "steps_per_execution": 1},
    "steps_per_call": {"jit": False, "steps_per_execution": "auto"},
    "xla": {"jit": True, "steps_per_execution": 1},
    "default": {"jit": "auto", "steps_per_execution": "auto"},
}
REUSED = "default_reused"

LEVELS: dict[str, dict[str, Any]] = {
    "full": dict(models=("simple_rnn", "ungated", "lstm", "gru"), lengths=(25, 100), rounds=2,
                 steps=1000, budget=5000),
    "quick": dict(models=("lstm",), lengths=(25, 100), rounds=1, steps=1000, budget=5000,
                  paths=("today", "default")),  # the headline's two; full has every path
    "tiny": dict(models=("simple_rnn",), lengths=(5,), rounds=1, steps=20, budget=300,
                 train={"eval_every": 10, "batch_size": 8, "n_train": 64, "n_val": 16,
                        "n_test": 16, "eval_batch_size": 16}),
}


def _config(model: str, length: int, path: dict, lv: dict):
    import memorybench as mb
    from memorybench.settings.catalogue import study

    s = study("why-lstm", "cpu")["settings"]
    train = {k[len("train."):]: v for k, v in s.items()
             if k.startswith("train.") and k != "train.lrs"}
    train.update(lv.get("train", {}), steps=lv["steps"], early_stop=False, lr=1e-2, **path)
    return mb.RunConfig(mb.TaskConfig("adding", {"length": length}),
                        mb.ModelConfig(model, param_budget=lv["budget"]),
                        mb.TrainConfig(**train), seed=0)


def _timed_run(cfg, out: Path, reuse: bool) -> dict[str, Any]:
    import memorybench as mb
    from memorybench.run import programs

    if not reuse:
        programs.drop()
    s = mb.run(cfg, out).summary
    if s["status"] != "completed":
        raise RuntimeError(f"{cfg.model.name} {s['status']}: {s['reason']}")
    return {"wall_s": s["wall_seconds"], "ms_step": 1e3 * cfg.train.batch_size / s["throughput"],
            "path": s["training_path"]}


def gemm_gflops(batch: int, units: int, n: int = 2000) -> float:
    """The small-GEMM rate: ``n`` matmuls (batch x units) @ (units x 4 units), batched."""
    import numpy as np

    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, batch, units), dtype=np.float32)
    b = rng.standard_normal((n, units, 4 * units), dtype=np.float32)
    best = min(_seconds(lambda: np.matmul(a, b)) for _ in range(5))
    return 2.0 * n * batch * units * 4 * units / best / 1e9


def _seconds(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _time_paths(lv: dict, paths: dict[str, dict], reused: str | None):
    """{(model, length): {path: [timed runs]}} over ``lv``'s rounds, paths in rotating order;
    ``reused``: the name of the rerun of the "default" path on its held program."""
    times: dict[tuple, dict[str, list]] = {}
    with tempfile.TemporaryDirectory(prefix="mb-study-shape-") as tmp:
        # one-time costs of the process (kernels, tf.data, the first trace) for no path
        warm = {**lv, "steps": lv.get("train", {}).get("eval_every", 100)}
        for path in paths.values():
            _timed_run(_config(lv["models"][0], lv["lengths"][0], path, warm),
                       Path(tmp) / "warm", reuse=False)
        names = list(paths)
        for r in range(lv["rounds"]):
            for length in lv["lengths"]:
                for model in lv["models"]:
                    t = times.setdefault((model, length), {n: [] for n in names + [reused]})
                    for name in names[r % len(names):] + names[: r % len(names)]:
                        cfg = _config(model, length, paths[name], lv)
                        t[name].append(_timed_run(cfg, Path(tmp) / f"{name}-{r}", reuse=False))
                        if paths[name] == PATHS["default"]:  # again, on the held program
                            t[reused].append(_timed_run(cfg, Path(tmp) / f"re-{r}", reuse=True))
    return times


def _rows(times, info, rate) -> list[dict[str, Any]]:
    rows = []
    for (model, length), t in times.items():
        i = info[(model, length)]
        limit_ms = 1e3 * i["flops"] / (rate * 1e9)
        for path, runs in t.items():
            ms = statistics.median(x["ms_step"] for x in runs)
            wall = statistics.median(x["wall_s"] for x in runs)
            rows.append({"model": model, "length": length, "path": path, "wall_s": wall,
                         "ms_step": ms, "runs_per_core_hour": 3600.0 / wall,
                         "training_path": runs[-1]["path"], "limit_ms_step": limit_ms,
                         "over_limit": ms / limit_ms, "units": i["units"],
                         "params": i["params"], "mflop_step": i["flops"] / 1e6})
    return rows


def _info(lv: dict) -> dict[tuple, dict[str, Any]]:
    """Units, parameters and matmul FLOPs a step of each model and length."""
    import memorybench as mb
    from memorybench.bench.flops import flops_per_step
    from memorybench.models.resolve import resolve

    out = {}
    for model in lv["models"]:
        for length in lv["lengths"]:
            resolved = resolve(_config(model, length, PATHS["default"], lv))
            task = mb.get_task("adding", length=length)
            built = mb.build_model(task, model, units=resolved.model.units)
            out[(model, length)] = {
                "units": resolved.model.units, "params": int(built.count_params()),
                "batch": resolved.train.batch_size, "input_dim": task.spec.input_dim,
                "flops": flops_per_step(built, task.spec, resolved.train.batch_size)}
    return out


def measure(level: str) -> dict[str, Any]:
    """The section's rows and headline figures (see the module docstring). On the JAX backend
    of Keras (``KERAS_BACKEND=jax``) only the default path, as rows ``jax`` and
    ``jax_reused``."""
    import keras

    from memorybench.settings.catalogue import study

    lv = LEVELS[level]
    if keras.config.backend() == "jax":
        times = _time_paths(lv, {"jax": PATHS["default"]}, "jax_reused")
    else:
        times = _time_paths(lv, {k: v for k, v in PATHS.items() if k in lv.get("paths", PATHS)},
                            REUSED)
    info = _info(lv)
    rate = gemm_gflops(max(i["batch"] for i in info.values()),
                       max(i["units"] for i in info.values()))
    rows = _rows(times, info, rate)
    out = {"study_shape": {"rows": rows, "gemm_gflops": rate, "rounds": lv["rounds"],
                           "steps": lv["steps"], "budget": lv["budget"], "threads": 1}}
    if keras.config.backend() == "jax":
        return out
    settings = study("why-lstm", "cpu")
    runs_a_shape = settings["settings"]["seeds"] * len(settings["settings"]["train.lrs"])
    ref = settings.get("reference", "lstm")
    ref = ref if ref in lv["models"] else lv["models"][0]
    t = times[(ref, max(lv["lengths"]))]
    mixed = [(c["wall_s"] + (runs_a_shape - 1) * u["wall_s"]) / runs_a_shape
             for c, u in zip(t["default"], t[REUSED], strict=True)]
    today = [x["wall_s"] for x in t["today"]]
    out["study_shape"].update(reference=ref, runs_a_shape=runs_a_shape,
                              floor=_floor(info[(ref, max(lv["lengths"]))], max(lv["lengths"]),
                                           rate, today, mixed, t["default"], lv["steps"]))
    return {
        "study_shape_speedup": statistics.median(a / b for a, b in zip(today, mixed,
                                                                        strict=True)),
        "study_shape_speedup_compiled": statistics.median(
            a / b["wall_s"] for a, b in zip(today, t["default"], strict=True)),
        **out,
    }


def _floor(i: dict, length: int, rate: float, today: list, mixed: list, default: list,
           steps: int) -> dict[str, Any]:
    """``step_floor`` at the reference's shape, and the whole training step (ms) that would make
    ``study_shape_speedup`` 3 with today's fixed costs of a run (wall less steps)."""
    from memorybench.bench import step_floor

    stepping = statistics.median(x["ms_step"] for x in default) * steps / 1e3
    fixed = statistics.median(mixed) - stepping
    needed = 1e3 * (statistics.median(today) / 3.0 - fixed) / steps
    return {**step_floor.measure(i["units"], i["batch"], length, i["input_dim"], rate),
            "needed_ms_step": needed}


def run_section(level: str, timeout: float = 3600.0) -> dict[str, Any]:
    """``measure(level)`` in a fresh process with one TensorFlow (and BLAS) thread; then, when
    JAX is installed, the default path on Keras' JAX backend in another (its rows added: a
    process per backend, so those are not interleaved with the others)."""
    res = _section_process(level, {}, timeout)
    import importlib.util

    if importlib.util.find_spec("jax") is None:
        res["study_shape"]["jax"] = "not measured: JAX is not installed (pip install jax)"
        return res
    try:
        jax = _section_process(level, {"KERAS_BACKEND": "jax",  # one thread, as TF's
                                       "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false"},
                               timeout)
    except RuntimeError as exc:
        res["study_shape"]["jax"] = f"failed: {exc}"
        return res
    res["study_shape"]["rows"] += jax["study_shape"]["rows"]
    res["study_shape"]["jax"] = "measured in a process of its own, after the others"
    return res


def _section_process(level: str, env: dict, timeout: float) -> dict[str, Any]:
    env = {**os.environ, "TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1",
           "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "TF_CPP_MIN_LOG_LEVEL": "3", **env}
    proc = subprocess.run([sys.executable, "-m", "memorybench.bench.study_shape", "--level",
                           level], capture_output=True, text=True, env=env, timeout=timeout)
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"the study_shape section failed: {tail}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def note(res: dict[str, Any]) -> list[str]:
    """The section as text lines."""
    s = res.get("study_shape")
    if not s:
        return []
    out = [f"study shape (adding, ~{s['budget']:,} parameters, {s['steps']:,} steps a run, one "
           f"thread; small-GEMM rate {s['gemm_gflops']:.0f} GFLOP/s):",
           f"{'model':<12}{'L':>5}  {'path':<16}{'wall s':>8}{'ms/step':>9}{'runs/core-h':>12}"
           f"{'limit ms':>10}{'x limit':>9}"]
    for r in s["rows"]:
        out.append(f"{r['model']:<12}{r['length']:>5}  {r['path']:<16}{r['wall_s']:>8.2f}"
                   f"{r['ms_step']:>9.2f}{r['runs_per_core_hour']:>12.0f}"
                   f"{r['limit_ms_step']:>10.2f}{r['over_limit']:>9.1f}")
    if "jax" in s:
        out.append(f"JAX backend (rows jax, jax_reused): {s['jax']}")
    if "floor" in s:
        from memorybench.bench import step_floor

        out += step_floor.note(s["floor"], s["floor"]["needed_ms_step"])
    out.append(f"study_shape_speedup {res['study_shape_speedup']:.2f} ({s['reference']}, "
               f"L={max(r['length'] for r in s['rows'])}, {s['runs_a_shape']} runs a shape: "
               f"one compiles, the rest reuse); every run compiling: "
               f"{res['study_shape_speedup_compiled']:.2f}")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--level", choices=sorted(LEVELS), default="full")
    args = ap.parse_args(argv)
    from memorybench.quiet import quiet_tensorflow

    quiet_tensorflow(verbose=False)
    print(json.dumps(measure(args.level)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
