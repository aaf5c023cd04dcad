"""The study's statistics on horizons: each seed's bracket, the median with an exact interval, and
a stated test for "lost", "gained" or "not distinguishable".

Reads run summaries only (no TensorFlow). At each probed length the runs at the model's chosen
learning rate count (``run.selection``, the rule the search and the leaderboard use); the
other rates' runs were only there to choose it.

**A seed's bracket.** For one seed, over the lengths probed: ``hi`` is the smallest length it
does not solve (None: it solves every length probed, so its horizon is right-censored at the
largest) and ``lo`` the largest length below ``hi`` that it solves (0: none; the seed fails the
shortest length probed). Its horizon value is ``lo``, the lower end: a censored seed counts at
the longest length the search reached, which the search's ``hit_max`` flag says.

**Median and interval.** The median of the seeds' values, with the distribution-free interval
for a median from order statistics: ``[x_(j), x_(n+1-j)]`` covers the population median with
probability ``P(j <= B < n+1-j)``, ``B ~ Binomial(n, 1/2)``; ``j`` is the largest for which that
is at least ``CONFIDENCE`` (with 5 seeds only ``[min, max]``, 93.75 %), and the coverage
achieved is reported with it (below ``CONFIDENCE`` when there are too few seeds for it).

**The test.** Two models' seed values are compared with the two-sided Mann-Whitney U test, its
p-value exact by enumerating the permutations of the pooled values (``scipy.stats.mannwhitneyu``
with ``PermutationMethod``; exact with ties, which censoring makes common). A model "lost" or
"gained" horizon only where ``p < ALPHA``; otherwise it is "not distinguishable at this budget",
with its p. "Kept" is never said: a difference test cannot show that two horizons are equal.
With 5 seeds a side the smallest possible p is 2/252 = 0.0079; with 2, 1/3.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

ALPHA = 0.05
CONFIDENCE = 0.90
GROUP = ("dataset", "task", "variant", "train", "model", "units", "layers", "model_params")


@dataclass
class SeedHorizons:
    """Per-seed brackets of one (task, model) entry and their summary."""

    task: str
    model: str
    brackets: dict[int, tuple[int, int | None]] = field(default_factory=dict)  # seed -> lo, hi
    lengths: list[int] = field(default_factory=list)  # probed lengths (chosen rate present)

    @property
    def values(self) -> list[int]:
        return sorted(lo for lo, _ in self.brackets.values())

    @property
    def censored(self) -> int:
        """Seeds that solve every length probed (their horizon is only a lower bound)."""
        return sum(hi is None for _, hi in self.brackets.values())

    @property
    def median(self) -> float | None:
        v = self.values
        if not v:
            return None
        n = len(v)
        return float(v[n // 2]) if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2

    def interval(self) -> tuple[int, int, float] | None:
        """(low, high, coverage): the order-statistic interval of the median."""
        v = self.values
        return median_interval(v) if v else None


def median_interval(values: list[float], confidence: float = CONFIDENCE) -> tuple:
    """``(x_(j), x_(n+1-j), coverage)`` for sorted-able ``values`` (see the module docstring)."""
    v = sorted(values)
    n = len(v)
    if n == 0:
        raise ValueError("no values")
    best = 1
    for j in range(1, (n + 1) // 2 + 1):
        k = n + 1 - j
        if k < j:
            break
        if coverage(n, j) >= confidence:
            best = j
    return v[best - 1], v[n - best], coverage(n, best)


def coverage(n: int, j: int) -> float:
    """P(x_(j) <= median <= x_(n+1-j)) for n draws of a continuous variable: P(j <= B <= n-j)."""
    from scipy.stats import binom

    return float(binom.cdf(n - j, n, 0.5) - binom.cdf(j - 1, n, 0.5))


def chosen_runs(runs: Iterable[dict[str, Any]]) -> dict[tuple, dict[int, list[dict]]]:
    """{entry group (``GROUP``): {length: the runs at that length's chosen rate}}."""
    from memorybench.report.leaderboard import aggregate
    from memorybench.report.load import ENTRY_KEY, entry_key

    runs = list(runs)
    chosen = {tuple(r[k] for k in ENTRY_KEY) for r in aggregate(runs) if r["chosen"]}
    out: dict[tuple, dict[int, list[dict]]] = {}
    idx = {k: i for i, k in enumerate(ENTRY_KEY)}
    for r in runs:
        key = entry_key(r)
        if key not in chosen:
            continue
        group = tuple(key[idx[k]] for k in GROUP)
        out.setdefault(group, {}).setdefault(int(r["length"]), []).append(r)
    return out


def seed_horizons(runs: Iterable[dict[str, Any]]) -> dict[tuple[str, str], SeedHorizons]:
    """{(task, model): SeedHorizons} from run summaries (one entry per task and model: a results
    folder with several settings of one model keeps the first group met)."""
    out: dict[tuple[str, str], SeedHorizons] = {}
    for group, by_length in chosen_runs(runs).items():
        g = dict(zip(GROUP, group, strict=True))
        key = (g["task"], g["model"])
        if key in out:
            continue
        sh = SeedHorizons(g["task"], g["model"], lengths=sorted(by_length))
        solved: dict[int, dict[int, bool]] = {}
        for length, rs in by_length.items():
            for r in rs:
                seed = r.get("seed")
                if isinstance(seed, bool) or not isinstance(seed, int):
                    continue
                solved.setdefault(seed, {})[length] = r.get("solved") is True
        for seed, at in sorted(solved.items()):
            failed = [L for L, ok in at.items() if not ok]
            hi = min(failed) if failed else None
            below = [L for L, ok in at.items() if ok and (hi is None or L < hi)]
            sh.brackets[seed] = (max(below) if below else 0, hi)
        out[key] = sh
    return out


@dataclass(frozen=True)
class Contrast:
    """One model's horizon against the reference's, with the test's outcome."""

    model: str
    reference: str
    p: float | None  # None: not testable (a side without seeds)
    difference: float | None  # median(model) - median(reference)
    verdict: str  # "lost", "gained", "not distinguishable", "not measured"

    def words(self) -> str:
        if self.verdict == "not measured":
            return "not measured"
        if self.verdict in ("lost", "gained"):
            return f"{self.verdict} (p = {fmt_p(self.p)})"
        return f"not distinguishable at this budget (p = {fmt_p(self.p)})"


def mann_whitney_p(a: list[float], b: list[float]) -> float:
    """Two-sided Mann-Whitney U p-value, exact over permutations (ties allowed)."""
    from scipy import stats

    if len(set(a) | set(b)) == 1:  # all values equal: no evidence of any difference
        return 1.0
    res = stats.mannwhitneyu(a, b, alternative="two-sided",
                             method=stats.PermutationMethod(n_resamples=100_000))
    return float(min(1.0, res.pvalue))


def contrast(model: SeedHorizons | None, reference: SeedHorizons | None,
             alpha: float = ALPHA) -> Contrast:
    name = model.model if model else "?"
    ref = reference.model if reference else "?"
    if model is None or reference is None or not model.values or not reference.values:
        return Contrast(name, ref, None, None, "not measured")
    p = mann_whitney_p(model.values, reference.values)
    diff = model.median - reference.median
    if p < alpha and diff != 0:
        verdict = "lost" if diff < 0 else "gained"
    elif p < alpha:  # equal medians, different distributions: say which way the ranks lean
        verdict = "lost" if _mean_rank_lower(model.values, reference.values) else "gained"
    else:
        verdict = "not distinguishable"
    return Contrast(name, ref, p, diff, verdict)


def _mean_rank_lower(a: list[float], b: list[float]) -> bool:
    from scipy.stats import rankdata

    ranks = rankdata(a + b)
    return sum(ranks[: len(a)]) / len(a) < sum(ranks[len(a):]) / len(b)


def fmt_p(p: float | None) -> str:
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "-"
    return f"{p:.2g}" if p >= 0.001 else "< 0.001"


def fmt_length(v: float | None) -> str:
    """A horizon value: 0 is "none" (no length probed solved)."""
    if v is None:
        return "-"
    if v == 0:
        return "none"
    return f"{v:g}"


def summary(sh: SeedHorizons | None) -> str:
    """'25 (5-50, 94 %; 2 of 5 censored)': the median, its interval, the coverage."""
    if sh is None or not sh.values:
        return "not measured"
    lo, hi, cov = sh.interval()
    text = f"{fmt_length(sh.median)} ({fmt_length(lo)}-{fmt_length(hi)}, {cov:.0%})"
    if sh.censored:
        text += f"; {sh.censored} of {len(sh.values)} at the longest probed"
    return text


def per_seed(sh: SeedHorizons | None) -> str:
    """'5, 25, 25, 50, 50+' : each seed's horizon value, + where censored."""
    if sh is None or not sh.brackets:
        return "-"
    items = sorted(sh.brackets.values(), key=lambda b: b[0])
    return ", ".join(fmt_length(lo) + ("+" if hi is None else "") for lo, hi in items)
