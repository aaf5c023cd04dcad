"""The runner's input pipeline against the same pipeline with tf.data autotuning (what it was).

    python -m memorybench.bench.pipeline [--rounds 10] [--steps 300]

Each round trains the same model for ``--steps`` steps (3 epochs, as ``run()`` does between
evaluations) on a fresh pipeline of each kind, in alternating order, and times the whole
``fit`` call including the iterator's teardown. With autotuning (``num_parallel_calls`` and
``prefetch`` set to ``AUTOTUNE``) the teardown at the end of ``fit`` stalled for about 1.4 s in
most rounds on a 2-core CPU; ``run.train.train_dataset`` now uses a fixed ``prefetch(2)``
with autotuning off. Also prints the time to pull one batch from each pipeline alone.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def autotuned(x, y, batch_size: int, seed: int):
    """``train_dataset`` as it was: parallel map and prefetch left to tf.data's autotuner."""
    import tensorflow as tf

    with tf.device("/CPU:0"):
        xt, yt = tf.constant(x), tf.constant(y)
    n = len(x)
    idx = (tf.data.Dataset.range(n).cache().shuffle(n, seed=seed, reshuffle_each_iteration=True)
           .repeat().batch(batch_size, drop_remainder=True))
    ds = idx.map(lambda i: (tf.gather(xt, i), tf.gather(yt, i)),
                 num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--steps", type=int, default=300, help="steps per fit (3 epochs)")
    ap.add_argument("--length", type=int, default=50, help="adding task length")
    ap.add_argument("--units", type=int, default=64)
    ap.add_argument("--batch", type=int, default=64)
    args = ap.parse_args(argv)

    import tensorflow as tf

    import memorybench as mb
    from memorybench.models.build import loss_for
    from memorybench.run.train import train_dataset

    tf.get_logger().setLevel("ERROR")
    task = mb.get_task("adding", length=args.length)
    x, y = task.data("train", n=10_000, seed=0)
    model = mb.build_model(task, "lstm", units=args.units)
    model.compile(optimizer="adam", loss=loss_for(task.spec))
    kinds = {"runner (fixed prefetch)": train_dataset, "autotuned": autotuned}
    for make in kinds.values():  # trace the train step once
        model.fit(make(x, y, args.batch, 0), epochs=1, steps_per_epoch=3, verbose=0,
                  shuffle=False)
    per_epoch = max(1, args.steps // 3)
    times: dict[str, list[float]] = {k: [] for k in kinds}
    for r in range(args.rounds):
        for k in list(kinds)[:: 1 if r % 2 == 0 else -1]:
            t0 = time.perf_counter()
            model.fit(kinds[k](x, y, args.batch, r), epochs=3, steps_per_epoch=per_epoch,
                      verbose=0, shuffle=False)
            times[k].append(time.perf_counter() - t0)
    print(f"# adding L={args.length}, lstm {args.units} units, batch {args.batch}: "
          f"{args.rounds} rounds of fit({3 * per_epoch} steps), alternating order")
    for k, v in times.items():
        print(f"{k:<24} median {statistics.median(v):6.2f} s  max {max(v):6.2f} s  "
              f"all {' '.join(f'{t:.2f}' for t in v)}")
    for k, make in kinds.items():
        it = iter(make(x, y, args.batch, 0))
        next(it)
        t0 = time.perf_counter()
        for _ in range(300):
            next(it)
        print(f"{k:<24} {1e3 * (time.perf_counter() - t0) / 300:.3f} ms a batch alone")
    return 0


if __name__ == "__main__":
    sys.exit(main())
