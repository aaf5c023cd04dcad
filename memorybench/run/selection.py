"""Learning-rate selection on the validation split, and the "solved by a majority" rule.

One concept, one place: the leaderboard, the horizon tables, the findings and the horizon search
all decide through these functions, from run summaries alone (no TensorFlow).

Rule. The runs of one (task, length, model, other settings) that differ only in their learning
rate form a *rate group*. Each rate's runs are scored by the mean of their final validation
metric (``val_metric`` of the summary: the last evaluation, i.e. the weights the test split is
scored with) over seeds. A rate with a failed or diverged seed (or one without a validation
metric) ranks below every rate whose seeds all finished, whatever its mean: a rate that
sometimes blows up is not a rate one would choose. Among the rest the best mean wins (lowest for
MSE, highest for accuracy); ties go to the smaller rate, the cautious choice. The test split is
never looked at. The chosen rate is *at the edge* when the grid has more than one rate and the
choice is its smallest or largest: the best rate may lie outside the grid.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from typing import Any


def finite(v: Any) -> float | None:
    """``v`` as a finite float, or None (missing, non-numeric, NaN, inf, a bool)."""
    if v is None or isinstance(v, bool):
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def rate_of(run: dict[str, Any]) -> float | None:
    """A run's learning rate: the summary's ``lr`` (added key), else its config's."""
    lr = finite(run.get("lr"))
    if lr is None:
        lr = finite(((run.get("config") or {}).get("train") or {}).get("lr"))
    return lr


def validation_rank(runs: list[dict[str, Any]], higher_is_better: bool) -> tuple:
    """Sort key of one rate's runs (smaller is better): (incomplete?, -mean or mean)."""
    vals = [finite(r.get("val_metric")) for r in runs]
    complete = bool(runs) and all(r.get("status") == "completed" for r in runs) and all(
        v is not None for v in vals)
    good = [v for v in vals if v is not None]
    if not good:
        return (2, math.inf)
    mean = statistics.fmean(good)
    return (0 if complete else 1, -mean if higher_is_better else mean)


def choose_rate(by_rate: dict[float, list[dict[str, Any]]],
                higher_is_better: bool) -> tuple[float, bool]:
    """The chosen rate of a rate group (``{lr: runs}``) and whether it is at the grid's edge."""
    if not by_rate:
        raise ValueError("no rates to choose from")
    rates = sorted(by_rate)
    best = min(rates, key=lambda lr: (validation_rank(by_rate[lr], higher_is_better), lr))
    edge = len(rates) > 1 and best in (rates[0], rates[-1])
    return best, edge


def majority_solved(runs: Iterable[dict[str, Any]]) -> bool:
    """More than half of the runs (seeds) solved; failed and diverged runs count as not solved."""
    runs = list(runs)
    return bool(runs) and sum(r.get("solved") is True for r in runs) * 2 > len(runs)
