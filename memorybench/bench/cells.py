"""Parameter count and training-step time of every registered model, relative to ``lstm``.

    python -m memorybench.bench.cells                  # 128 units, adding, T=100, batch 128, CPU
    python -m memorybench.bench.cells --models lstm,lstm_full --rounds 9

Timings drift 20-25% between runs minutes apart on a shared CPU, so the models are measured
interleaved in one process: each round times ``--steps`` training steps of every model in turn
(a rotating order), and a model's figure is the median over rounds of its per-step time; the
ratio to ``lstm`` is taken round by round, then its median. Each model is compiled once
(``jit_compile=False``: at these sizes XLA gave no steady gain on the CPU; the suite's
every-model section times both) and warmed up (graph tracing)
before the first round.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")  # CPU figures, even where a GPU exists


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="", help="comma-separated names (default: all)")
    ap.add_argument("--task", default="adding")
    ap.add_argument("--units", type=int, default=128)
    ap.add_argument("--length", type=int, default=100)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds (median over them)")
    ap.add_argument("--steps", type=int, default=3, help="timed steps per model per round")
    ap.add_argument("--warmup", type=int, default=2, help="untimed steps after compiling")
    ap.add_argument("--plugin", action="append", default=[], help="plugin file (repeatable)")
    args = ap.parse_args(argv)

    import keras
    import tensorflow as tf

    import memorybench as mb
    from memorybench.models.build import build_model, loss_for

    for path in args.plugin:
        mb.load_plugin(path)
    names = [n for n in args.models.split(",") if n] or mb.model_names()
    if "lstm" not in names:
        names = ["lstm", *names]
    task = mb.get_task(args.task, length=args.length)
    x, y = task.data("train", n=args.batch, seed=0)
    x, y = tf.constant(x), tf.constant(y)

    print(f"# {' '.join([os.path.basename(sys.argv[0]), *sys.argv[1:]])}")
    print(f"# keras {keras.__version__}, tensorflow {tf.__version__}, python "
          f"{platform.python_version()}, {os.cpu_count()} CPUs, devices "
          f"{[d.device_type for d in tf.config.list_logical_devices()]}")
    print(f"# task {args.task} length {args.length} ({task.spec.steps} steps), units "
          f"{args.units}, batch {args.batch}; {args.rounds} rounds x {args.steps} steps, "
          f"median per-step time")

    models, params, failed = {}, {}, {}
    for name in names:
        try:
            keras.utils.set_random_seed(0)
            model = build_model(task, name, units=args.units)
            model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=loss_for(task.spec),
                          jit_compile=False)
            t0 = time.perf_counter()
            for _ in range(max(args.warmup, 1)):
                model.train_on_batch(x, y)
            print(f"#   {name}: compiled and warmed up in {time.perf_counter() - t0:.1f} s",
                  flush=True)
            models[name], params[name] = model, model.count_params()
        except Exception as exc:  # report and go on: one broken model must not hide the rest
            failed[name] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}"
            print(f"#   {name}: FAILED {failed[name]}", flush=True)

    times: dict[str, list[float]] = {n: [] for n in models}
    order = list(models)
    for r in range(args.rounds):
        rotated = order[r % len(order):] + order[: r % len(order)]
        for name in rotated:
            model = models[name]
            t0 = time.perf_counter()
            for _ in range(args.steps):
                model.train_on_batch(x, y)
            times[name].append((time.perf_counter() - t0) / args.steps)

    ref = times.get("lstm")
    print()
    print(f"{'model':<16}{'params':>10}{'step ms':>10}{'x lstm':>9}{'seq/s':>9}")
    for name in names:
        if name in failed:
            print(f"{name:<16}{'-':>10}  failed: {failed[name]}")
            continue
        med = statistics.median(times[name])
        rel = (statistics.median(t / r for t, r in zip(times[name], ref, strict=True))
               if ref else float("nan"))
        print(f"{name:<16}{params[name]:>10,}{med * 1e3:>10.1f}{rel:>9.2f}"
              f"{args.batch / med:>9.0f}")
    spread = {n: (max(t) - min(t)) / statistics.median(t) for n, t in times.items()}
    worst = max(spread, key=spread.get)
    print(f"\n# largest round-to-round spread: {worst} {spread[worst]:.0%} of its median")
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main())
