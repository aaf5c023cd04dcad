"""``memorybench bench --gpu-check``: confirm the default training path on a GPU (minutes).

The path "auto" chooses (``memorybench.models.resolve.training_path``) is written to the libraries'
documentation: on a GPU, Keras' LSTM / GRU take the fused cuDNN kernel when their settings
allow it (TensorFlow's guide "Recurrent Neural Networks (RNN) with Keras", "Using CuDNN
kernels when available"), and Keras itself turns XLA off for such a layer (``LSTM.supports_jit``
is False there: cuDNN ops are not XLA-compilable); every other model is compiled with XLA. This
check runs on the machine with the GPU and confirms, with short runs of the why-LSTM study's
size:

1. ``lstm`` and ``gru`` resolve to no XLA with the cuDNN reason, train with cuDNN-eligible
   settings, and a cuDNN step is faster than the same model forced through XLA
   (``use_cudnn=False``, the generic loop compiled);
2. ``lstm_full`` (a Python cell through ``keras.layers.RNN``) resolves to XLA and an XLA step is
   faster than without.

Each comparison is the median of interleaved rounds. Without a GPU it says so and checks
nothing.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

LENGTH, BUDGET, ROUNDS, STEPS = 100, 5000, 3, 300


def _cfg(model: str, **train):
    import memorybench as mb

    return mb.RunConfig(mb.TaskConfig("adding", {"length": LENGTH}),
                        mb.ModelConfig(model, param_budget=BUDGET,
                                       params=train.pop("params", {})),
                        mb.TrainConfig(steps=STEPS, eval_every=100, batch_size=64, n_train=6400,
                                       n_val=256, n_test=512, eval_batch_size=256,
                                       early_stop=False, **train))


def _ms_step(cfg, out: Path) -> tuple[float, dict]:
    import memorybench as mb
    from memorybench.run import programs

    programs.drop()
    s = mb.run(cfg, out).summary
    if s["status"] != "completed":
        raise RuntimeError(f"{cfg.model.name}: {s['status']}: {s['reason']}")
    return 1e3 * cfg.train.batch_size / s["throughput"], s


def check() -> dict[str, Any]:
    """{"gpu": bool, "checks": [{"model", "expected", "chosen", "ok", "ms": {...}}]}."""
    from memorybench.models.resolve import gpu_visible, resolve

    if not gpu_visible():
        return {"gpu": False, "checks": [], "note": "no GPU visible: nothing to check"}
    cases = [  # model, the path auto should choose, the alternative it should beat
        ("lstm", "cudnn", _cfg("lstm", jit=True, params={"use_cudnn": False})),
        ("gru", "cudnn", _cfg("gru", jit=True, params={"use_cudnn": False})),
        ("lstm_full", "xla", _cfg("lstm_full", jit=False)),
    ]
    checks = []
    with tempfile.TemporaryDirectory(prefix="mb-gpu-check-") as tmp:
        for model, expected, alternative in cases:
            auto = _cfg(model)
            resolved = resolve(auto)
            chosen = "xla" if resolved.train.jit else "cudnn"
            times: dict[str, list[float]] = {"auto": [], "alternative": []}
            for r in range(ROUNDS):
                for which in (("auto", "alternative") if r % 2 == 0 else
                              ("alternative", "auto")):
                    cfg = auto if which == "auto" else alternative
                    ms, summary = _ms_step(cfg, Path(tmp) / f"{model}-{which}-{r}")
                    times[which].append(ms)
                    if which == "auto":
                        path, eligible = summary["training_path"], summary["cudnn_eligible"]
            ms = {k: statistics.median(v) for k, v in times.items()}
            ok = chosen == expected and ms["auto"] <= ms["alternative"] and (
                expected != "cudnn" or eligible)
            checks.append({"model": model, "expected": expected, "chosen": chosen, "ok": ok,
                           "ms": ms, "training_path": path, "cudnn_eligible": eligible})
    return {"gpu": True, "checks": checks}


def text(res: dict[str, Any]) -> str:
    if not res["gpu"]:
        return res["note"]
    lines = [f"GPU check ({LENGTH} steps, ~{BUDGET:,} parameters, batch 64, median of "
             f"{ROUNDS} rounds):"]
    for c in res["checks"]:
        lines.append(f"  {c['model']:<10} auto chose {c['chosen']:<5} (expected "
                     f"{c['expected']}): {c['ms']['auto']:.2f} ms a step against "
                     f"{c['ms']['alternative']:.2f} ms for the other path: "
                     f"{'confirmed' if c['ok'] else 'NOT confirmed'}")
    return "\n".join(lines)


def main() -> int:
    t0 = time.perf_counter()
    res = check()
    print(text(res))
    print(f"({time.perf_counter() - t0:.0f} s)")
    return 0 if all(c["ok"] for c in res["checks"]) else 1
