"""The performance suite behind ``memorybench bench``: ratios, each measured within one run.

    memorybench bench [--quick] [--out results/bench.json]
    python -m memorybench.bench.suite [--quick] [--out FILE]

Timings on a shared CPU drift 20-25% between runs minutes apart (docs/architecture.md), so
every target is a *ratio* of two things measured in the same process, interleaved (A B, B A,
...) and repeated; the figure is the median of the per-round ratios.

- ``generator_speedup_vs_loop``: vectorised task generation over the per-sample Python loop,
  the smallest over the synthetic tasks (``memorybench.bench.generators``). Target >= 50.
- ``harness_overhead_ratio``: wall time of ``memorybench.run()`` over the same work written by
  hand: generate the data, build and compile the same model, ``model.fit`` on a ``tf.data``
  pipeline with validation after every ``eval_every`` steps, predict and score the test set.
  Both include data generation, graph tracing and the evaluations, on the same training path,
  at the why-LSTM study's shape (34-unit LSTM, L=25, 1,000 steps), where the harness weighs most;
  the run compiles its own program (no reuse). Target <= 1.05.
- ``custom_vs_builtin_lstm_ratio`` (``_jit``): training-step time of the ablation cell with
  everything on (``lstm_full``, a Python cell in ``keras.layers.RNN``) over ``keras.layers.LSTM``
  (``lstm``), same sizes, XLA off (the CPU default) and on. Target <= 1.3 on the CPU.
- ``data_fraction_of_step``: time to pull N batches from the runner's own input pipeline
  (``run.train.train_dataset``) alone, over the time of N training steps fed by it.
  Target <= 0.05.
- Per model: sequences/s and GFLOP/s of training at 128 units, T=200, batch 128, against the
  machine's float32 matmul peak, and ``xla_ratio``: its step time with XLA over without (both
  timed in the same rounds; ``xla_compile_s`` is the first, compiling step); and step time
  against T for ``lstm`` and ``mingru``'s parallel
  scan (``mingru_seq``: the same model with the sequential loop, for reference).
- Scans: every model with a choice of scan (``SCAN_MODELS``: the linear recurrences) trained
  with the sequential loop and with the parallel (associative) scan, interleaved, at 128
  units and T = 50 and 200 (batch 32: the scans' state is batch x T x units x states); the
  closing note says which each uses by default on the CPU and the measured
  ratio behind it.
- ``study_shape_speedup``: whole runs at the why-LSTM study's size (about 5,000 parameters,
  batch 64, adding L = 25 and 100, 1,000 steps, one thread) on today's path (no XLA, one step
  per call) and on each candidate path, interleaved: runs per core-hour of the default path as
  the CPU study runs it over today's, at L=100 (``memorybench.bench.study_shape``). Target >= 3.
- Peer: the same LSTM training step (128 units, T=200, batch 128, Adam, MSE on the adding
  problem) in PyTorch's ``nn.LSTM`` when PyTorch is installed (``pip install
  'memorybench[peer]'``), interleaved with Keras' ``lstm``: ``keras_over_torch_lstm`` is the
  median of the per-round ratios. Without PyTorch the section says so and is skipped.

FLOPs are counted analytically from the matmuls: a weight matrix entry costs 2 FLOPs (multiply,
add) per use in the forward pass and 4 in the backward pass (the gradient with respect to the
weight and to the input), so a training step costs ``6 * batch * uses * entries`` summed over
the model's weight matrices (every weight with 2 or more axes: kernels, recurrent kernels,
convolution kernels); recurrent and convolution weights are used once per time step, the head
once (or every step on every-step tasks). Elementwise work (gates, activations, the scan's
products) is not counted, so GFLOP/s is a lower bound of the work done.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from memorybench.bench import study_shape
from memorybench.bench.sections import (
    bench_cells,
    bench_custom_lstm,
    bench_data_fraction,
    bench_generators,
    bench_harness,
    bench_peer,
    bench_scans,
    bench_t_sweep,
    matmul_peak,
)
from memorybench.run.store import DEFAULT_RESULTS

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

TARGETS = {  # key: (comparison, bound)
    "generator_speedup_vs_loop": (">=", 50.0),
    "harness_overhead_ratio": ("<=", 1.05),
    "custom_vs_builtin_lstm_ratio": ("<=", 1.3),
    "custom_vs_builtin_lstm_ratio_jit": ("<=", 1.3),
    "data_fraction_of_step": ("<=", 0.05),
    "study_shape_speedup": (">=", 3.0),
}

# Sizes per level. "tiny" is for tests (seconds); "quick" samples the models (aim: under 5
# minutes on 2 cores); "full" times every model.
LEVELS: dict[str, dict[str, Any]] = {
    "full": dict(
        gen=dict(length=1000, n=10_000, loop_n=1_000, repeats=3),
        harness=dict(task="adding", length=25, model="lstm", units=34, steps=1000,
                     eval_every=100, batch=64, n_train=6400, n_val=256, n_test=512,
                     eval_batch=256, repeats=5),
        data=dict(batches=400),
        lstm=dict(units=128, T=200, batch=128, rounds=7, steps=3),
        cells=dict(units=128, T=200, batch=128, rounds=3, steps=2, models=None),
        sweep=dict(units=128, batch=128, Ts=(50, 100, 200, 400, 800), rounds=3, steps=2),
        peak=dict(size=2048, repeats=5),
        # batch 32: at 128 a step of s4d's parallel scan took ~2 min on 2 shared cores
        scans=dict(units=128, Ts=(50, 200), batch=32, rounds=3, steps=2, models=None),
        peer=dict(units=128, T=200, batch=128, rounds=3, steps=5),
    ),
    "quick": dict(
        gen=dict(length=500, n=10_000, loop_n=300, repeats=3),
        harness=dict(task="adding", length=25, model="lstm", units=34, steps=1000,
                     eval_every=100, batch=64, n_train=6400, n_val=256, n_test=512,
                     eval_batch=256, repeats=2),
        data=dict(batches=200),
        lstm=dict(units=128, T=200, batch=128, rounds=3, steps=2),
        # a sample of the models (every one: the full level): the built-ins, a Python cell, and
        # the fast forms of the slow ones
        cells=dict(units=128, T=200, batch=128, rounds=2, steps=1,
                   models=("lstm", "gru", "lstm_full", "ungated", "mingru", "s4d", "mlstm")),
        sweep=dict(units=128, batch=128, Ts=(50, 200, 800), rounds=2, steps=1),
        peak=dict(size=2048, repeats=3),
        scans=dict(units=128, Ts=(200,), batch=16, rounds=2, steps=1, models=("mingru", "s4d")),
        peer=dict(units=128, T=200, batch=128, rounds=3, steps=3),
    ),
    "tiny": dict(
        gen=dict(length=20, n=400, loop_n=20, repeats=1),
        harness=dict(task="adding", length=5, model="simple_rnn", units=4, steps=20,
                     eval_every=10, batch=8, n_train=64, n_val=16, n_test=16, eval_batch=16,
                     repeats=1),
        data=dict(batches=10),
        lstm=dict(units=8, T=10, batch=8, rounds=1, steps=1),
        cells=dict(units=8, T=10, batch=8, rounds=1, steps=1,
                   models=("simple_rnn", "lstm_full", "mingru")),
        sweep=dict(units=8, batch=8, Ts=(5, 10), rounds=1, steps=1),
        peak=dict(size=128, repeats=1),
        scans=dict(units=8, Ts=(10,), batch=8, rounds=1, steps=1, models=("s4d",)),
        peer=dict(units=8, T=10, batch=8, rounds=1, steps=1),
    ),
}


# -- the suite -------------------------------------------------------------------------------
def machine() -> dict[str, Any]:
    import keras
    import numpy as np
    import tensorflow as tf

    from memorybench.run.train import device_name

    gpus = [d.name for d in tf.config.list_physical_devices("GPU")]
    return {"device": device_name(gpus), "cpus": os.cpu_count(),
            "python": platform.python_version(), "keras": keras.__version__,
            "tensorflow": tf.__version__, "numpy": np.__version__}


def run_suite(level: str = "full", out: str | Path | None = None, echo=print) -> dict[str, Any]:
    """Run every measurement at ``level`` (full | quick | tiny); write JSON to ``out``."""
    if level not in LEVELS:
        raise ValueError(f"unknown level {level!r}; known: {', '.join(LEVELS)}")
    L = LEVELS[level]
    t_start = time.perf_counter()
    import tensorflow as tf

    # new models are traced on purpose here; TensorFlow's "retracing" warning is noise
    tf.get_logger().setLevel("ERROR")
    res: dict[str, Any] = {"level": level, "targets": {k: f"{c} {b}" for k, (c, b) in
                                                        TARGETS.items()}}
    steps = [
        ("generators", lambda: bench_generators(**L["gen"])),
        ("harness", lambda: bench_harness(L["harness"], warm=level != "tiny",
                                          naive=level == "full")),
        ("data pipeline", lambda: bench_data_fraction(L["harness"], **L["data"])),
        ("custom vs built-in LSTM", lambda: bench_custom_lstm(**L["lstm"])),
        ("matmul peak", lambda: {"matmul_peak": matmul_peak(**L["peak"])}),
        ("every model", lambda: {"cells": bench_cells(**L["cells"]), "cells_settings": {
            k: L["cells"][k] for k in ("units", "T", "batch")}}),
        ("step time vs T", lambda: {"step_time_vs_T": bench_t_sweep(**L["sweep"])}),
        ("scans", lambda: bench_scans(**L["scans"])),
        ("peer: PyTorch nn.LSTM", lambda: bench_peer(**L["peer"])),
        ("study shape", lambda: study_shape.run_section(level)),
    ]
    timings = {}
    for label, fn in steps:
        t0 = time.perf_counter()
        echo(f"# measuring {label} ...")
        res.update(fn())
        timings[label] = time.perf_counter() - t0
    res["machine"] = machine()
    peak = max(res["matmul_peak"]["numpy_gflops"], res["matmul_peak"]["tf_gflops"])
    res["matmul_peak_gflops"] = peak
    for row in res["cells"]:
        if "gflops" in row:
            row["fraction_of_peak"] = row["gflops"] / peak
    res["section_seconds"] = timings
    res["seconds"] = time.perf_counter() - t_start
    res["met"] = {k: _met(res.get(k), c, b) for k, (c, b) in TARGETS.items()}
    if out is not None:
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.tmp")
        tmp.write_text(json.dumps(res, indent=2, sort_keys=True) + "\n")
        os.replace(tmp, out)
    return res


def _met(value, comparison: str, bound: float) -> bool | None:
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return value >= bound if comparison == ">=" else value <= bound


def table(res: dict[str, Any]) -> str:
    """The results as plain text."""
    m = res["machine"]
    lines = [f"memorybench bench ({res['level']}), {m['device']}, keras {m['keras']}, "
             f"tensorflow {m['tensorflow']}; {res['seconds']:.0f} s", ""]
    lines.append(f"{'target':<36}{'measured':>10}  {'goal':<9}{'met':>4}")
    for k, (c, b) in TARGETS.items():
        v = res.get(k)
        met = {True: "yes", False: "NO", None: "-"}[res["met"][k]]
        shown = "-" if v is None else f"{v:.0f}" if v >= 100 else f"{v:.3f}"
        lines.append(f"{k:<36}{shown:>10}  {c + ' ' + format(b, 'g'):<9}{met:>4}")
    h = res["harness"]
    lines.append(f"  harness: run() {statistics.median(h['run_seconds']):.2f} s vs hand-written "
                 f"{statistics.median(h['bare_seconds']):.2f} s (medians of {h['repeats']})")
    d = res["data"]
    lines.append(f"  data: {d['batch_ms']:.3f} ms a batch vs {d['step_ms']:.1f} ms a step")
    c = res["custom_lstm"]
    for mode in ("no_jit", "jit"):
        lines.append(f"  {mode:<6} lstm {c[mode]['lstm']['step_ms']:.0f} ms, lstm_full "
                     f"{c[mode]['lstm_full']['step_ms']:.0f} ms a step (units {c['units']}, "
                     f"T {c['T']}, batch {c['batch']})")
    p = res["matmul_peak"]
    lines += ["", f"float32 matmul peak ({p['size']}x{p['size']}): numpy {p['numpy_gflops']:.1f}"
                  f", tensorflow {p['tf_gflops']:.1f} GFLOP/s", ""]
    cs = res["cells_settings"]
    lines.append(f"training step of every model: units {cs['units']}, adding T={cs['T']}, "
                 f"batch {cs['batch']}; XLA off, and on (XLA/off: median of step-time ratios)")
    lines.append(f"{'model':<16}{'params':>9}{'step ms':>9}{'seq/s':>8}{'GFLOP/s':>9}"
                 f"{'% peak':>8}{'XLA ms':>8}{'XLA/off':>8}{'XLA compile s':>14}")
    for r in res["cells"]:
        if "error" in r:
            lines.append(f"{r['model']:<16}  failed: {r['error']}")
            continue
        xla = (f"  XLA failed: {r['xla_error']}" if "xla_error" in r else
               f"{r['xla_step_ms']:>8.0f}{r['xla_ratio']:>8.2f}{r['xla_compile_s']:>14.1f}")
        lines.append(f"{r['model']:<16}{r['params']:>9,}{r['step_ms']:>9.0f}{r['seq_per_s']:>8.0f}"
                     f"{r['gflops']:>9.1f}{100 * r['fraction_of_peak']:>7.0f}%{xla}")
    lines += ["", f"{'step ms':<13}" + "".join(
        f"{'T=' + str(t):>9}" for t in sorted({r["T"] for r in res["step_time_vs_T"]}))]
    for name in ("lstm", "mingru", "mingru_seq"):
        rs = sorted((r for r in res["step_time_vs_T"] if r["model"] == name),
                    key=lambda r: r["T"])
        lines.append(f"{name:<13}" + "".join(f"{r['step_ms']:>9.0f}" for r in rs))
    lines += ["", *scan_note(res.get("scans", [])), "", *peer_note(res), "",
              *study_shape.note(res)]
    return "\n".join(lines)


def scan_note(rows) -> list[str]:
    """The closing note on scans: each model's default on the CPU and the measurement."""
    if not rows:
        return []
    r0 = next((r for r in rows if "error" not in r), rows[0])
    out = [f"scans (units {r0['units']}, adding, batch {r0['batch']}; sequential loop vs "
           f"parallel associative scan, interleaved):"]
    for r in rows:
        if "error" in r:
            out.append(f"  {r['model']:<8} T={r['T']:<4} failed: {r['error']}")
            continue
        agree = "the faster one" if r["default"] == r["faster"] else "not the faster one here"
        conv = f", convolution {r['conv_ms']:.0f} ms" if "conv_ms" in r else ""
        out.append(f"  {r['model']:<8} T={r['T']:<4} sequential {r['sequential_ms']:.0f} ms, "
                   f"parallel {r['parallel_ms']:.0f} ms{conv} a step (parallel/sequential "
                   f"{r['parallel_over_sequential']:.2f}); default {r['default']}: {agree}")
    return out


def peer_note(res) -> list[str]:
    p = res.get("peer")
    if not p:
        return []
    head = f"peer: the LSTM step (units {p['units']}, T={p['T']}, batch {p['batch']})"
    if "skipped" in p:
        return [f"{head}: skipped, {p['skipped']}"]
    return [f"{head}: Keras {p['keras_ms']:.0f} ms, PyTorch {p['torch']} nn.LSTM "
            f"{p['torch_ms']:.0f} ms; keras/torch {res['keras_over_torch_lstm']:.2f} "
            f"(median of per-round ratios)"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes: under 5 min on 2 cores")
    ap.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--out", default=f"{DEFAULT_RESULTS}/bench.json")
    args = ap.parse_args(argv)
    level = "tiny" if args.tiny else "quick" if args.quick else "full"
    res = run_suite(level, args.out, echo=lambda s: print(s, file=sys.stderr, flush=True))
    print(table(res))
    print(f"\njson: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
