"""Scores at other lengths than the trained one (a task's ``spec.eval_lengths``:
induction_heads): a table per entry and evaluation length, and its Markdown."""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from typing import Any

from memorybench.report.format import fmt, md_table, md_text
from memorybench.report.load import ENTRY_KEY, entry_key
from memorybench.run.selection import finite

EVAL_LENGTH_COLUMNS = [
    "dataset", "task", "variant", "length", "model", "units", "layers", "model_params", "lr",
    "train", "eval_length", "metric", "metric_mean", "score_mean", "solved_frac", "n_seeds",
    "n_errors",
]


def eval_length_table(runs: Iterable[dict[str, Any]]):
    """One row per leaderboard entry (trained at ``length``) and evaluation length, from the
    summaries' ``eval_lengths`` ({length: {metric, score, solved} or {error}}): the mean test
    metric and score over the entry's seeds at that length, the fraction of seeds solving it, and
    how many seeds could not be scored there (``n_errors``). Empty when no run has such scores."""
    import pandas as pd

    groups: dict[tuple, list[dict]] = {}
    for r in runs:
        by_len = r.get("eval_lengths")
        if isinstance(by_len, dict) and by_len:
            groups.setdefault(entry_key(r), []).append(r)
    out = []
    for key, rs in groups.items():
        base = dict(zip(ENTRY_KEY, key, strict=True))
        lengths = sorted({int(k) for r in rs for k in r["eval_lengths"] if str(k).isdigit()})
        for L in lengths:
            got = [r["eval_lengths"].get(str(L)) for r in rs]
            ok = [g for g in got if isinstance(g, dict) and "error" not in g]
            metrics = [m for m in (finite(g.get("metric")) for g in ok) if m is not None]
            scores = [s for s in (finite(g.get("score")) for g in ok) if s is not None]
            out.append({
                **base, "eval_length": L, "metric": rs[0].get("metric"),
                "metric_mean": statistics.fmean(metrics) if metrics else None,
                "score_mean": statistics.fmean(scores) if scores else None,
                "solved_frac": sum(g.get("solved") is True for g in ok) / len(rs),
                "n_seeds": len(rs), "n_errors": sum(isinstance(g, dict) and "error" in g
                                                    for g in got),
            })
    df = pd.DataFrame(out, columns=EVAL_LENGTH_COLUMNS)
    return df.sort_values(["task", "variant", "length", "model", "lr", "eval_length"],
                          kind="stable").reset_index(drop=True) if len(df) else df


def eval_length_markdown(df) -> str:
    """``eval_length_table`` as Markdown: one table per task, model rows, a column per length."""
    parts = ["# Scores at other lengths", "",
             "Models trained at `length`, then scored on fresh test sequences of each evaluation "
             "length (the task's `eval_lengths`): mean test metric over seeds (`solved` "
             "fraction in brackets; `err`: the model could not read that length).", ""]
    if not len(df):
        return "\n".join(parts + ["_no runs with evaluation lengths_"]) + "\n"
    for (task, variant, length), block in df.groupby(["task", "variant", "length"], sort=False):
        lengths = sorted(block["eval_length"].unique())
        header = ["model", "units", "lr", *[str(L) for L in lengths]]
        rows = []
        for (model, units, lr), g in block.groupby(["model", "units", "lr"], sort=False,
                                                   dropna=False):
            cells = {int(r.eval_length): (
                "err" if r.n_errors == r.n_seeds else f"{fmt(r.metric_mean)} ({r.solved_frac:.2g})")
                for r in g.itertuples()}
            rows.append([str(model), fmt(units), fmt(lr),
                         *[cells.get(int(L), "-") for L in lengths]])
        parts += [f"## {md_text(f'{task} ({variant}), trained at length {length}')}", "",
                  md_table(header, rows), ""]
    return "\n".join(parts).rstrip() + "\n"
