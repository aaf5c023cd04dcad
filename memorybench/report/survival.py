"""Time to solve, the study's second measure: steps to the threshold per run, censored at the
budget; Kaplan-Meier curves per model and length, and a log-rank test against the reference.

A horizon says how far a model reaches within the budget; it cannot tell apart models that all
reach the search's maximum. How fast they get there can: at L=100 of the adding task the GRU and
the coupled-gate LSTM solve in a few hundred steps where the LSTM needs most of the budget.

**The data.** For each run at its length's chosen learning rate (``report.verdict.chosen_runs``):
the event is the first evaluation whose validation metric reaches the task's threshold (the
summary's ``steps_to_solve``, measured every ``eval_every`` steps); a run that never reaches it
(or diverged, or stopped early without reaching it) is right-censored at its budget, the
summary's ``steps``: it did not solve *within the budget*, which is all the data says. Failed
runs (an exception, no measurement) are left out and counted.

**The statistics** are scipy's: ``scipy.stats.ecdf`` on ``CensoredData`` for the Kaplan-Meier
estimate of the fraction not yet solved after s steps, and ``scipy.stats.logrank`` (two-sided)
for a model against the reference at one length. The log-rank test is undefined when no run of
either side solves; it is then reported as "no run solved".
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from memorybench.report.verdict import GROUP, chosen_runs


@dataclass(frozen=True)
class Times:
    """Steps to solve of one (task, model, length): events and censoring times."""

    task: str
    model: str
    length: int
    solved_at: tuple[int, ...]  # steps of the runs that reached the threshold
    censored_at: tuple[int, ...]  # budgets of the runs that did not
    failed: int = 0

    @property
    def n(self) -> int:
        return len(self.solved_at) + len(self.censored_at)

    def data(self):
        from scipy.stats import CensoredData

        return CensoredData(uncensored=list(self.solved_at), right=list(self.censored_at))

    def curve(self) -> tuple[list[float], list[float]]:
        """Kaplan-Meier: (steps, fraction not yet solved), starting at (0, 1)."""
        if not self.solved_at:
            return [0.0], [1.0]
        from scipy.stats import ecdf

        sf = ecdf(self.data()).sf
        return [0.0, *map(float, sf.quantiles)], [1.0, *map(float, sf.probabilities)]

    def median(self) -> float | None:
        """The KM median steps to solve (None: under half the runs solve within the budget)."""
        steps, frac = self.curve()
        for s, f in zip(steps, frac, strict=True):
            if f <= 0.5:
                return s
        return None


def times(runs: Iterable[dict[str, Any]]) -> dict[tuple[str, str, int], Times]:
    """{(task, model, length): Times} at each length's chosen rate."""
    out: dict[tuple[str, str, int], Times] = {}
    for group, by_length in chosen_runs(runs).items():
        g = dict(zip(GROUP, group, strict=True))
        for length, rs in sorted(by_length.items()):
            key = (g["task"], g["model"], length)
            if key in out:
                continue
            if all(r.get("solved_at") is None for r in rs):
                continue  # no threshold (MNIST): nothing to reach
            solved, censored, failed = [], [], 0
            for r in rs:
                if r.get("status") == "failed":
                    failed += 1
                    continue
                step, budget = _int(r.get("steps_to_solve")), _int(r.get("steps"))
                if step is not None:
                    solved.append(step)
                elif budget is not None:
                    censored.append(budget)
            out[key] = Times(g["task"], g["model"], length, tuple(sorted(solved)),
                             tuple(sorted(censored)), failed)
    return out


def _int(v: Any) -> int | None:
    if isinstance(v, bool) or v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return int(f) if math.isfinite(f) and f >= 0 else None


def logrank_p(a: Times, b: Times) -> float | None:
    """Two-sided log-rank p of ``a`` against ``b``; None when no run of either solves or a side
    is empty."""
    if not a.n or not b.n or not (a.solved_at or b.solved_at):
        return None
    from scipy.stats import logrank

    p = float(logrank(a.data(), b.data()).pvalue)
    return None if math.isnan(p) else p
