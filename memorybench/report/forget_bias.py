"""The Findings' section on the forget gate's bias: the LSTM's horizon against the gate's time
constant at initialisation.

A forget gate f = sigmoid(b_f + ...) keeps a fraction f of the memory each step; at
initialisation (weights small, so f is about sigmoid(b_f)) the memory decays with the time
constant 1 / (1 - sigmoid(b_f)) steps: 2 at b_f = 0, 3.7 at 1 (Keras' default, after
Jozefowicz et al. 2015), 21 at 3. Chrono initialisation (Tallec & Ollivier 2018) draws
b_f = log(U[1, T - 1]) per unit, spreading the time constants over [2, T] for T steps. The
study's ``forget_bias`` maps each model of the sweep to its b_f ("chrono" for chrono); models
outside the study's own list are added with ``memorybench study --with lstm_fb0,lstm_fb3``. Each
horizon is the median of the seeds' horizons with its interval, and each model is tested against
the study's reference (b_f = 1) by the same Mann-Whitney test as every contrast of the Findings.
The section appears once a model of the sweep beyond the study's own has been measured.
"""

from __future__ import annotations

import math
from typing import Any

from memorybench.report import verdict as vd
from memorybench.report.format import md_table
from memorybench.report.format import md_text as e

CHRONO = "chrono"


def time_constant(bias: float | str) -> str:
    """The forget gate's time constant at initialisation, 1 / (1 - sigmoid(b_f)), in words."""
    if bias == CHRONO:
        return "spread over [2, T]"
    return f"{1.0 + math.exp(float(bias)):.3g}"  # 1 / (1 - sigmoid(b)) = 1 + e^b


def _number(bias: float | str) -> float:
    return 0.0 if bias == CHRONO else float(bias)


def forget_bias_section(study: dict[str, Any] | None, tasks: list[str],
                        seeds: dict[tuple[str, str], vd.SeedHorizons]
                        ) -> tuple[list[str], list[str]]:
    """(lines, headline) of the forget-bias sweep; ([], []) until a model of the sweep that is
    not one of the study's models has seeds."""
    sweep = (study or {}).get("forget_bias")
    if not isinstance(sweep, dict) or not sweep:
        return [], []
    own = set((study or {}).get("models") or []) - {a.get("model") for a in
                                                     (study or {}).get("added") or []
                                                     if isinstance(a, dict)}
    extra = [m for m in sweep if m not in own]
    if not any(seeds.get((t, m)) and seeds[(t, m)].values for t in tasks for m in extra):
        return [], []
    reference = (study or {}).get("reference", "lstm")
    # by time constant: the biases in increasing order, chrono (a spread) last (a record's keys
    # come back sorted by name)
    sweep = dict(sorted(sweep.items(), key=lambda kv: (kv[1] == CHRONO, _number(kv[1]))))
    rows, head = [], []
    for task in tasks:
        ref = seeds.get((task, reference))
        measured = [m for m in sweep if seeds.get((task, m)) and seeds[(task, m)].values]
        if len(measured) < 2:
            continue
        parts = []
        for model in sweep:
            sh = seeds.get((task, model))
            c = vd.contrast(sh, ref) if model != reference else None
            rows.append([model, task, f"{sweep[model]}", time_constant(sweep[model]),
                         vd.summary(sh), vd.per_seed(sh), c.words() if c else "(reference)"])
            if sh is not None and sh.values:
                parts.append(f"{e(model)} (b_f {sweep[model]}) {vd.fmt_length(sh.median)}"
                             + (f", {c.words()}" if c else ""))
        head.append(f"{e(task)}: forget-gate bias against {e(reference)} (b_f 1), median "
                    f"horizon: " + "; ".join(parts) + ".")
    if not rows:
        return [], []
    lines = ["## Forget-gate bias", "",
             f"The LSTM with its forget gate's bias b_f set at initialisation; the gate's time "
             f"constant there is 1 / (1 - sigmoid(b_f)) steps (chrono: b_f = log U[1, T - 1] per "
             f"unit, T the sequence's steps). Each model against {e(reference)} (b_f = 1): "
             f"Mann-Whitney on the seeds' horizons, two-sided, gained or lost only where "
             f"p < {vd.ALPHA}.", "",
             md_table(["model", "task", "b_f", "time constant at init (steps)",
                       "median horizon (interval, coverage)", "per-seed horizons",
                       f"against {reference}"], rows), ""]
    return lines, head
