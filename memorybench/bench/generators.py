"""Generator throughput: vectorised task sampling against a per-sample Python loop.

Run: ``python -m memorybench.bench.generators [--length 1000] [--n 100000] [--loop-n 10000]``.
For each synthetic task it prints samples/s, MB/s of float32 input produced, and the speed-up
over two per-sample loops (measured on ``--loop-n`` samples, compared per sample): the
straightforward transcription of the task card (one sample, one step at a time in Python) and a
stronger loop that uses numpy within each sample. Runs are interleaved and repeated; medians.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np

import memorybench as mb

CASES = [
    ("adding", {"variant": "half"}),
    ("adding", {"variant": "anywhere"}),
    ("copy_memory", {"encoding": "onehot"}),
    ("copy_memory", {"encoding": "scalar"}),
    ("delayed_xor", {"variant": "marked"}),
    ("delayed_xor", {"variant": "stream"}),
    ("selective_copy", {}),
    ("mqar", {}),
    ("induction_heads", {}),
    ("temporal_order", {"variant": "6a"}),
    ("temporal_order", {"variant": "6b"}),
]


# -- baselines ------------------------------------------------------------------------------
# "loop": the straightforward transcription of the task card, one sample and one step at a time
# in Python. "loop_np": one sample at a time, numpy within the sample (a stronger baseline).
def loop_adding(task, rng, n):
    T, h = task.length, task.length // 2
    xs, ys = [], []
    for _ in range(n):
        if task.variant == "half":
            i, j = rng.randrange(h), rng.randrange(h, T)
        else:
            i, j = rng.sample(range(T), 2)
        seq = []
        for t in range(T):
            seq.append([rng.random(), 1.0 if t in (i, j) else 0.0])
        xs.append(seq)
        ys.append([seq[i][0] + seq[j][0]])
    return np.array(xs, np.float32), np.array(ys, np.float32)


def loop_copy(task, rng, n):
    T = task.length
    xs, ys = [], []
    for _ in range(n):
        symbols = [rng.randint(1, 8) for _ in range(10)]
        seq = symbols + [0] * (T - 1) + [9] + [0] * 10
        if task.encoding == "onehot":
            xs.append([[1.0 if k == s else 0.0 for k in range(10)] for s in seq])
        else:
            xs.append([[s / 9] for s in seq])
        ys.append([0] * (T + 10) + symbols)
    return np.array(xs, np.float32), np.array(ys, np.int32)


def loop_xor(task, rng, n):
    xs, ys = [], []
    T = task.steps
    for _ in range(n):
        bits = [rng.getrandbits(1) for _ in range(T)]
        if task.variant == "stream":
            d = task.length
            ys.append([-1 if t <= d else bits[t - d] ^ bits[t - d - 1] for t in range(T)])
            xs.append([[float(b)] for b in bits])
            continue
        i, j = rng.randrange(T // 2), rng.randrange(T // 2, T)
        xs.append([[float(b), 1.0 if t in (i, j) else 0.0] for t, b in enumerate(bits)])
        ys.append([bits[i] ^ bits[j]])
    return np.array(xs, np.float32), np.array(ys, np.int32)


def np_loop_adding(task, rng, n):
    T = task.length
    xs, ys = [], []
    for _ in range(n):
        values = rng.random(T, dtype=np.float32)
        markers = np.zeros(T, np.float32)
        if task.variant == "half":
            i, j = rng.integers(0, T // 2), rng.integers(T // 2, T)
        else:
            i, j = rng.choice(T, size=2, replace=False)
        markers[i] = markers[j] = 1.0
        xs.append(np.stack([values, markers], axis=-1))
        ys.append([values[i] + values[j]])
    return np.array(xs), np.array(ys, np.float32)


def np_loop_copy(task, rng, n):
    T = task.length
    xs, ys = [], []
    eye = np.eye(10, dtype=np.float32)
    for _ in range(n):
        symbols = rng.integers(1, 9, 10)
        seq = np.concatenate([symbols, np.zeros(T - 1, int), [9], np.zeros(10, int)])
        xs.append(eye[seq] if task.encoding == "onehot" else (seq / 9).astype(np.float32)[:, None])
        ys.append(np.concatenate([np.zeros(T + 10, int), symbols]))
    return np.array(xs), np.array(ys, np.int32)


def np_loop_xor(task, rng, n):
    xs, ys = [], []
    T = task.steps
    for _ in range(n):
        bits = rng.integers(0, 2, T)
        if task.variant == "stream":
            d = task.length
            y = np.full(T, -1)
            y[d + 1 :] = bits[1 : T - d] ^ bits[: T - d - 1]
            xs.append(bits.astype(np.float32)[:, None])
            ys.append(y)
            continue
        markers = np.zeros(T, np.float32)
        i, j = rng.integers(0, T // 2), rng.integers(T // 2, T)
        markers[i] = markers[j] = 1.0
        xs.append(np.stack([bits.astype(np.float32), markers], axis=-1))
        ys.append([bits[i] ^ bits[j]])
    return np.array(xs), np.array(ys, np.int32)


# -- the token tasks and temporal order ------------------------------------------------------
def loop_selective_copy(task, rng, n):
    T, M, V = task.length, task.n_tokens, task.vocab_size
    xs, ys = [], []
    for _ in range(n):
        tokens = [rng.randint(1, V - 2) for _ in range(M)]
        seq = [0] * (T - M)
        for p, tok in zip(sorted(rng.sample(range(T - M), M)), tokens, strict=True):
            seq[p] = tok
        xs.append(seq + [V - 1] * M)
        ys.append([-1] * (T - M) + tokens)
    return np.array(xs, np.int32), np.array(ys, np.int32)


def loop_mqar(task, rng, n):
    T, K, V = task.length, task.n_pairs, task.vocab_size
    weights = task.gap_probabilities().tolist()
    xs, ys = [], []
    for _ in range(n):
        keys = rng.sample(range(1, V // 2), K)
        values = rng.sample(range(V // 2, V), K)
        gaps, left = [], list(range(len(weights)))  # weighted draws without replacement
        for _ in range(K):
            g = rng.choices(left, weights=[weights[i] for i in left])[0]
            gaps.append(g)
            left.remove(g)
        seq = [k_or_v for kv in zip(keys, values, strict=True) for k_or_v in kv]
        seq += [rng.randrange(V) if task.random_non_queries else 0 for _ in range(T - 2 * K)]
        y = [-1] * T
        for k, v, g in zip(keys, values, gaps, strict=True):
            seq[2 * K + 2 * g] = k
            y[2 * K + 2 * g] = v
        xs.append(seq)
        ys.append(y)
    return np.array(xs, np.int32), np.array(ys, np.int32)


def loop_induction(task, rng, n):
    T, trigger = task.length, task.vocab_size - 1
    xs, ys = [], []
    for _ in range(n):
        seq = [rng.randrange(1, trigger) for _ in range(T)]  # ordinary tokens 1..V-2
        p = rng.randrange(T - 3)  # the copied token never right before the final trigger
        seq[p] = seq[T - 1] = trigger
        xs.append(seq)
        ys.append(seq[1:] + [seq[p + 1]])  # next token at every step, the answer last
    return np.array(xs, np.int32), np.array(ys, np.int32)


def loop_temporal(task, rng, n):
    T = task.length
    xs, ys = [], []
    for _ in range(n):
        ids = [5] + [rng.randrange(4) for _ in range(T - 2)] + [4]  # E, distractors, B
        label = 0
        for lo, hi in task.intervals:
            bit = rng.getrandbits(1)
            ids[rng.randint(lo, hi)] = 6 + bit
            label = 2 * label + bit
        xs.append([[1.0 if k == i else 0.0 for k in range(8)] for i in ids])
        ys.append([label])
    return np.array(xs, np.float32), np.array(ys, np.int32)


def np_loop_selective_copy(task, rng, n):
    T, M, V = task.length, task.n_tokens, task.vocab_size
    xs, ys = [], []
    for _ in range(n):
        tokens = rng.integers(1, V - 1, M)
        x = np.zeros(T, np.int32)
        x[np.sort(rng.choice(T - M, M, replace=False))] = tokens
        x[T - M :] = V - 1
        y = np.full(T, -1, np.int32)
        y[T - M :] = tokens
        xs.append(x)
        ys.append(y)
    return np.array(xs), np.array(ys)


def np_loop_mqar(task, rng, n):
    T, K, V = task.length, task.n_pairs, task.vocab_size
    p = task.gap_probabilities()
    xs, ys = [], []
    for _ in range(n):  # Zoology's own calls, one row at a time
        keys = rng.choice(np.arange(1, V // 2), K, replace=False)
        values = rng.choice(np.arange(V // 2, V), K, replace=False)
        gaps = rng.choice(len(p), K, replace=False, p=p)
        x = rng.integers(0, V, T) if task.random_non_queries else np.zeros(T, np.int64)
        x[0 : 2 * K : 2], x[1 : 2 * K : 2] = keys, values
        x[2 * K + 2 * gaps] = keys
        y = np.full(T, -1)
        y[2 * K + 2 * gaps] = values
        xs.append(x)
        ys.append(y)
    return np.array(xs, np.int32), np.array(ys, np.int32)


def np_loop_induction(task, rng, n):
    T, trigger = task.length, task.vocab_size - 1
    xs, ys = [], []
    for _ in range(n):
        x = rng.integers(1, trigger, T)
        p = rng.integers(0, T - 3)
        x[p] = x[T - 1] = trigger
        xs.append(x)
        ys.append(np.append(x[1:], x[p + 1]))
    return np.array(xs, np.int32), np.array(ys, np.int32)


def np_loop_temporal(task, rng, n):
    T = task.length
    eye = np.eye(8, dtype=np.float32)
    xs, ys = [], []
    for _ in range(n):
        ids = rng.integers(0, 4, T)
        ids[0], ids[T - 1] = 5, 4
        label = 0
        for lo, hi in task.intervals:
            bit = int(rng.integers(0, 2))
            ids[rng.integers(lo, hi + 1)] = 6 + bit
            label = 2 * label + bit
        xs.append(eye[ids])
        ys.append([label])
    return np.array(xs), np.array(ys, np.int32)


LOOPS = {"adding": loop_adding, "copy_memory": loop_copy, "delayed_xor": loop_xor,
         "selective_copy": loop_selective_copy, "mqar": loop_mqar,
         "induction_heads": loop_induction, "temporal_order": loop_temporal}
NP_LOOPS = {"adding": np_loop_adding, "copy_memory": np_loop_copy, "delayed_xor": np_loop_xor,
            "selective_copy": np_loop_selective_copy, "mqar": np_loop_mqar,
            "induction_heads": np_loop_induction, "temporal_order": np_loop_temporal}


def _time(fn, *args) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t0, out


def measure(length=1000, n=100_000, loop_n=1_000, repeats=3, cases=CASES):
    """One row per case: vectorised and loop samples/s, MB/s, and their ratios (medians)."""
    import random

    rows = []
    for name, params in cases:
        if name == "selective_copy":  # M data tokens and M markers must fit in the length
            params = {**params, "n_tokens": min(16, length // 2)}
        if name == "mqar":  # 4 positions a pair (key, value, query, answer) must fit too
            params = {**params, "n_pairs": min(4, max(1, length // 4))}
        task = mb.get_task(name, length=length, **params)
        times: dict[str, list[float]] = {"vec": [], "loop": [], "loop_np": []}
        nbytes = 0
        for r in range(repeats):  # interleave: the machine drifts between minutes
            t, (x, y) = _time(task.sample, np.random.default_rng(r), n)
            nbytes = x.nbytes
            times["vec"].append(t)
            del x, y
            t, _ = _time(LOOPS[name], task, random.Random(r), loop_n)
            times["loop"].append(t)
            t, _ = _time(NP_LOOPS[name], task, np.random.default_rng(r), loop_n)
            times["loop_np"].append(t)
        vec, lp, lnp = (statistics.median(times[k]) for k in ("vec", "loop", "loop_np"))
        rows.append({
            "task": name, **params, "length": length, "n": n,
            "samples_per_s": n / vec, "mb_per_s": nbytes / vec / 1e6,
            "loop_samples_per_s": loop_n / lp, "speedup_vs_loop": (n / vec) / (loop_n / lp),
            "speedup_vs_numpy_loop": (n / vec) / (loop_n / lnp),
        })
    return rows


def main(argv=None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--length", type=int, default=1000)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--loop-n", type=int, default=1_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", help="also write the rows to this file")
    args = ap.parse_args(argv)
    rows = measure(args.length, args.n, args.loop_n, args.repeats)
    head = (f"{'task':<16} {'option':<9} {'samples/s':>11} {'MB/s':>8} {'loop/s':>9} "
            f"{'vs loop':>9} {'vs np loop':>10}")
    print(f"length {args.length}, n {args.n} (loop: {args.loop_n}), median of {args.repeats}")
    print(head)
    for r in rows:
        opt = r.get("variant", r.get("encoding", ""))
        print(f"{r['task']:<16} {opt:<9} {r['samples_per_s']:>11,.0f} {r['mb_per_s']:>8,.0f} "
              f"{r['loop_samples_per_s']:>9,.0f} {r['speedup_vs_loop']:>8.0f}x "
              f"{r['speedup_vs_numpy_loop']:>9.1f}x")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)
    return rows


if __name__ == "__main__":
    main()
