"""Leaderboards and memory horizons aggregated from run artifacts (reads files, never trains).

Grouping. One leaderboard row is one *entry*: (dataset, task, variant, length, model, units,
layers, model params, training settings), aggregated over its seeds. ``variant`` is the task's
parameters other than ``length`` (``variant=half``); ``dataset`` is part of the key so full
MNIST and the offline ``mnist-5k`` subset are never ranked together. Runs of one entry that
differ in their training settings (two profiles in one results folder) would not be comparable,
so ``train`` (a short hash of the run's ``train`` config) is part of the key too.

Aggregates per entry:

- ``metric_mean`` / ``metric_std``, ``score_mean``: over the runs with a finite test metric
  (``std`` is the sample standard deviation, ddof=1; empty with a single seed);
- ``solved_frac``: solved runs / all runs of the entry (failed and diverged runs count as not
  solved);
- ``steps_to_solve_median`` / ``seconds_to_solve_median``: medians over the solved runs;
- ``throughput``: mean training sequences per second over the runs that report it;
- ``n_seeds`` (all runs of the entry), ``n_failed``, ``n_diverged``.

Ranking: within each (dataset, task, variant, length, train) block by ``score_mean`` descending
(entries without a score last), ties broken by parameter count ascending, then model name.

Memory horizon: the largest length in the sweep that the majority of the entry's seeds solve
(solved runs > half of the runs at that length). It does not require every shorter length to
be solved too: that is how docs/tasks.md defines it, and a length that fails in the middle
of a solved range is visible in the ``solved_lengths`` column. No length solved, or a task with
no solved threshold: empty in CSV, ``-`` in Markdown.
"""

import math
import statistics
from collections.abc import Iterable
from typing import Any

from memorybench.report.format import fmt, md_table, md_text, text
from memorybench.report.labels import display_blocks, train_differences
from memorybench.report.load import BLOCK_KEY, ENTRY_KEY, entry_key, train_settings
from memorybench.report.published import SCALED_WARNING, attach_published, published_markdown
from memorybench.run import schema
from memorybench.run.selection import choose_rate, finite

STATUSES = schema.STATUSES

LEADERBOARD_COLUMNS = [
    "dataset", "task", "variant", "length", "rank", "model", "units", "layers", "model_params",
    "params", "metric", "higher_is_better", "metric_mean", "metric_std", "score_mean",
    "solved_frac", "steps_to_solve_median", "seconds_to_solve_median", "throughput", "n_seeds",
    "n_failed", "n_diverged", "lr", "lr_at_edge", "lrs", "val_metric_mean", "train",
    # a scaled reproduction run: the scale in words (SCALED RUN, NOT A REPRODUCTION); empty else
    "scaled",
    # published numbers beside ours (memorybench.references.compare; '; ' between several)
    "published", "published_metric", "ours_in_paper_units", "ratio", "reference", "match",
    "differences",
]
ALL_RATES_COLUMNS = [*LEADERBOARD_COLUMNS, "chosen"]
HORIZON_COLUMNS = [
    "dataset", "task", "variant", "model", "units", "layers", "model_params", "params",
    "horizon", "smallest_failed", "hit_max", "not_measured", "lengths", "solved_lengths",
    "lrs_chosen", "n_seeds", "train",
]



# -- aggregation -----------------------------------------------------------------------------
_num = finite  # a finite float, or None (run.selection)


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def aggregate(runs: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per entry (unranked); see the module docstring for the definitions."""
    groups: dict[tuple, list[dict]] = {}
    for r in runs:
        groups.setdefault(entry_key(r), []).append(r)
    rows = []
    for key, rs in groups.items():
        row = dict(zip(ENTRY_KEY, key, strict=True))
        metrics = [m for m in (_num(r.get("test_metric")) for r in rs) if m is not None]
        scores = [s for s in (_num(r.get("score")) for r in rs) if s is not None]
        solved = [r for r in rs if r.get("solved") is True]
        params = [p for p in (_num(r.get("params")) for r in rs) if p is not None]
        thr = [t for t in (_num(r.get("throughput")) for r in rs) if t is not None]
        first = rs[0]
        row.update(
            params=int(statistics.median(params)) if params else None,
            metric=first.get("metric"),
            higher_is_better=first.get("higher_is_better"),
            metric_mean=statistics.fmean(metrics) if metrics else None,
            metric_std=statistics.stdev(metrics) if len(metrics) > 1 else None,
            score_mean=statistics.fmean(scores) if scores else None,
            solved_frac=len(solved) / len(rs),
            steps_to_solve_median=_median(
                [v for v in (_num(r.get("steps_to_solve")) for r in solved) if v is not None]
            ),
            seconds_to_solve_median=_median(
                [v for v in (_num(r.get("seconds_to_solve")) for r in solved) if v is not None]
            ),
            throughput=statistics.fmean(thr) if thr else None,
            n_seeds=len(rs),
            n_failed=sum(r.get("status") == "failed" for r in rs),
            n_diverged=sum(r.get("status") == "diverged" for r in rs),
            solved_at=_num(first.get("solved_at")),
            chance=_num(first.get("chance")),
            val_metric_mean=statistics.fmean(vals) if (vals := [
                v for v in (_num(r.get("val_metric")) for r in rs) if v is not None]) else None,
            # for the published numbers beside ours (references.compare), not columns
            task_params=dict(first.get("task_params") or {}),
            train_settings=dict(first.get("train_settings") or {}),
            paper_metrics_mean=_paper_metrics_mean(rs),
            reproduces=first.get("reproduces"), scale=first.get("scale"),
        )
        rows.append((row, rs))
    return _select_rates(rows)


def _paper_metrics_mean(rs: list[dict]) -> dict[str, float]:
    """Mean of each ``paper_metrics`` value over the runs that report it finite."""
    values: dict[str, list[float]] = {}
    for r in rs:
        pm = r.get("paper_metrics")
        for k, v in (pm.items() if isinstance(pm, dict) else ()):
            if (fv := _num(v)) is not None:
                values.setdefault(str(k), []).append(fv)
    return {k: statistics.fmean(v) for k, v in values.items()}


def _select_rates(rows: list[tuple[dict, list[dict]]]) -> list[dict[str, Any]]:
    """Mark each entry ``chosen`` when its rate is the one its model would pick on validation
    among the entries that differ only in the rate (``run.selection``); every entry gets the
    group's grid (``lrs``) and whether the choice is at its edge."""
    groups: dict[tuple, list[tuple[dict, list[dict]]]] = {}
    for row, rs in rows:
        groups.setdefault(tuple(row[k] for k in ENTRY_KEY if k != "lr"), []).append((row, rs))
    out = []
    for members in groups.values():
        by_rate = {row["lr"]: rs for row, rs in members}
        higher = bool(members[0][0]["higher_is_better"])
        if None in by_rate:  # runs that do not say their rate (older stores): nothing to choose
            best, edge = None, False
        else:
            best, edge = choose_rate(by_rate, higher)
        grid = ",".join(fmt(lr) for lr in sorted(r for r in by_rate if r is not None))
        for row, _ in members:
            row.update(chosen=(row["lr"] == best) or best is None, lr_at_edge=edge, lrs=grid)
            out.append(row)
    return out


def rank(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows sorted by block, then by score desc / params asc / model; ``rank`` set per block."""

    def block(r):
        return tuple(str(r[k]) if k != "length" else r[k] for k in BLOCK_KEY)

    def order(r):
        s = r["score_mean"]
        p = r["params"]
        return (s is None, -(s or 0.0), p is None, p or 0, r["model"], str(r["units"]))

    out = sorted(rows, key=lambda r: (block(r), order(r)))
    prev, n = None, 0
    for r in out:
        b = block(r)
        n = n + 1 if b == prev else 1
        prev = b
        r["rank"] = n
    return out


def leaderboard(runs: Iterable[dict[str, Any]], all_rates: bool = False):
    """The ranked leaderboard as a DataFrame with ``LEADERBOARD_COLUMNS``: one row per model at
    its chosen learning rate (``all_rates``: every rate, ``ALL_RATES_COLUMNS``, ranked among
    themselves)."""
    import pandas as pd

    runs = list(runs)
    rows = [r for r in aggregate(runs) if all_rates or r["chosen"]]
    published = attach_published(rows)
    df = pd.DataFrame(rank(rows), columns=ALL_RATES_COLUMNS if all_rates else
                      LEADERBOARD_COLUMNS)
    df.attrs["train_settings"] = train_settings(runs)  # titles in words (``display_blocks``)
    df.attrs["published"] = published  # (matched, unmatched): report tables and HTML
    df.attrs["scale"] = next((r["scale"] for r in rows if r.get("scale")), None)
    return df


def horizons(runs: Iterable[dict[str, Any]], searches: Iterable[dict[str, Any]] = ()):
    """Each entry's memory horizon per task (see the module docstring) as a DataFrame.

    A length counts at the model's chosen rate for that length. ``smallest_failed`` is the
    smallest length above the horizon that is not solved (the bracket's upper end; with no
    length solved, the smallest length run); ``hit_max`` is true where a horizon search
    (``searches``: records from ``<results>/searches/``) stopped at its maximum length while
    still solving, so the horizon is only a lower bound. ``not_measured`` ("L=50: 2 of 5 seeds
    failed at lr 0.01"): no measured failure lies above the horizon, and the first length above
    it where a run failed (any rate) or seeds diverged at the chosen rate ends the bracket there;
    such a length never counts as not solved.
    """
    import pandas as pd

    runs = list(runs)
    every = aggregate(runs)
    rows = [r for r in every if r["chosen"]]
    at_max = {(x.get("task"), x.get("model")): bool(x.get("hit_max")) for x in searches}
    hkey = ("dataset", "task", "variant", "train", "model", "units", "layers", "model_params")
    broken: dict[tuple, str] = {}  # (group, length) -> why it is not a measurement
    for r in every:
        k = (tuple(r[c] for c in hkey), r["length"])
        if r["n_failed"]:
            broken[k] = (f"{r['n_failed']} of {r['n_seeds']} seeds failed at lr {fmt(r['lr'])}"
                         + ("; " + broken[k] if k in broken else ""))
        elif r["chosen"] and r["n_diverged"]:
            broken.setdefault(k, f"{r['n_diverged']} of {r['n_seeds']} seeds diverged at the "
                                 f"chosen lr {fmt(r['lr'])}")
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        key = (r["dataset"], r["task"], r["variant"], r["train"], r["model"], r["units"],
               r["layers"], r["model_params"])
        groups.setdefault(key, []).append(r)
    out = []
    for key, rs in groups.items():
        rs.sort(key=lambda r: r["length"])
        bad = {r["length"] for r in rs if (key, r["length"]) in broken}
        # majority: more than half of the seeds run at that length solved it; a length that is
        # not a measurement (a run failed at any rate, or seeds diverged at the chosen rate)
        # counts neither as solved nor as failed
        solved = [r["length"] for r in rs if r["solved_frac"] > 0.5 and r["length"] not in bad]
        horizon = max(solved) if solved else None
        above = [r["length"] for r in rs if r["length"] not in solved and r["length"] not in bad
                 and (horizon is None or r["length"] > horizon)]
        # with no measured failure above the horizon, the first broken length above it is
        # where the bracket ends: "not measured", never "not solved"
        problem = None if above else min(
            (L for L in bad if horizon is None or L > horizon), default=None)
        params = [r["params"] for r in rs if r["params"] is not None]
        out.append(dict(
            dataset=key[0], task=key[1], variant=key[2], train=key[3], model=key[4],
            units=key[5], layers=key[6], model_params=key[7],
            params=params[0] if params else None,
            horizon=horizon, smallest_failed=min(above) if above else None,
            hit_max=at_max.get((key[1], key[4]), False) and not above and problem is None,
            not_measured=(f"L={problem}: {broken[(key, problem)]}"
                          if problem is not None else None),
            lengths=",".join(str(r["length"]) for r in rs),
            solved_lengths=",".join(map(str, solved)),
            lrs_chosen=",".join(f"{r['length']}:{fmt(r['lr'])}" for r in rs
                                if r["lr"] is not None),
            n_seeds=max(r["n_seeds"] for r in rs),
        ))
    df = pd.DataFrame(out, columns=HORIZON_COLUMNS)
    if len(df):
        df["_h"] = df["horizon"].fillna(-1)
        df["_f"] = df["smallest_failed"].fillna(10**12)
        df = df.sort_values(
            ["dataset", "task", "variant", "train", "_h", "_f", "params", "model"],
            ascending=[True, True, True, True, False, False, True, True], na_position="last",
        ).drop(columns=["_h", "_f"]).reset_index(drop=True)
        for c in ("horizon", "smallest_failed"):
            df[c] = df[c].astype("Int64")
    df.attrs["train_settings"] = train_settings(runs)
    return df


def _isnan(v) -> bool:
    return isinstance(v, float) and math.isnan(v)


def to_markdown(df, kind: str, title: str, settings: dict[str, dict] | None = None) -> str:
    blocks = display_blocks(df, kind, settings)
    if settings is None:
        settings = getattr(df, "attrs", {}).get("train_settings", {})
    parts = [f"# {title}", ""]
    if kind == "leaderboard":
        parts += ["Per task, variant, length and dataset: test metric mean and std over seeds, "
                  "normalised score mean (0 trivial, 1 perfect), fraction of seeds solved, "
                  "median steps and seconds to solve (solved seeds), training sequences/s. "
                  "Each model at the learning rate it scores best with on the validation split "
                  "('edge': the smallest or largest of the grid; every rate is in "
                  "leaderboard_all_rates.csv). Ranked by score, ties by fewer parameters.", ""]
    else:
        parts += ["Memory horizon: the largest length solved by the majority of seeds at the "
                  "model's learning rate chosen on validation ('-': no length solved); bracket "
                  "[largest solved, smallest failed); 'max': the search stopped at its maximum "
                  "length still solving.", ""]
    used = {text(t) for t in df["train"]} if len(df) else set()
    common, _ = train_differences({t: settings[t] for t in sorted(used) if t in settings})
    if common:
        parts += [f"Training (every table): {md_text(common)}.", ""]
    if kind == "leaderboard" and getattr(df, "attrs", {}).get("scale"):
        parts += [f"**{md_text(SCALED_WARNING.format(scale=df.attrs['scale']))}**", ""]
    if not blocks:
        parts.append("_no completed runs_")
    for b in blocks:
        parts += [f"## {md_text(b.title)}", "", md_table(b.header, b.rows), ""]
    if kind == "leaderboard":
        parts.append(published_markdown(df))
    return "\n".join(parts).rstrip() + "\n"
