"""The frames the report figures draw: one row per run (``runs_frame``) or per chosen-rate entry
(``entries``), each with the model's label (``labels.identities``), its series and its task
block."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from memorybench.report.format import fmt
from memorybench.report.labels import config_key, identities, train_differences
from memorybench.report.leaderboard import aggregate
from memorybench.report.load import ENTRY_KEY, entry_key, train_settings, variant_of
from memorybench.report.plot_style import block_label, text
from memorybench.run.selection import finite as _num


def runs_frame(runs: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """One row per run with the columns the plots need: ``label`` (the model's identity),
    ``series`` (the label, with the units where one panel holds two sizes of one model),
    ``block`` (task, variant, dataset; the training settings in words where they differ) and
    ``chosen`` (the run is at its model's chosen learning rate)."""
    runs = list(runs)
    chosen = {tuple(r[k] for k in ENTRY_KEY) for r in aggregate(runs) if r["chosen"]}
    ids = identities(runs)
    _, words = train_differences(train_settings(runs))
    rows = []
    for r in runs:
        rows.append(dict(
            run_dir=r.get("run_dir"), status=r.get("status"), task=r["task"],
            variant=variant_of(r.get("task_params")), dataset=r.get("dataset") or "synthetic",
            train=r.get("train", ""), length=int(r["length"]), model=str(r["model"]),
            label=text(ids[config_key(r)]),
            units=r.get("units"), layers=r.get("layers"), model_params=r.get("model_params", ""),
            seed=r.get("seed"), lr=_num(r.get("lr")), chosen=entry_key(r) in chosen,
            metric=r.get("metric"), higher_is_better=r.get("higher_is_better"),
            chance=_num(r.get("chance")), solved_at=_num(r.get("solved_at")),
            test_metric=_num(r.get("test_metric")), score=_num(r.get("score")),
            solved=r.get("solved") is True, params=_num(r.get("params")),
            wall_seconds=_num(r.get("wall_seconds")),
        ))
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    multi = df["train"].nunique() > 1
    df["block"] = [text(block_label(t, v, d, words.get(tr, "") if multi else ""))
                   for t, v, d, tr in zip(df.task, df.variant, df.dataset, df.train,
                                          strict=True)]
    # a size only where one panel (block, length) holds two sizes of one model
    n_sizes = df.groupby(["block", "length", "label"])["units"].transform(
        lambda u: u.astype(str).nunique())
    df["series"] = [f"{lab} [{fmt(u)}u]" if n > 1 else lab
                    for lab, u, n in zip(df.label, df.units, n_sizes, strict=True)]
    return df



def decorate(frame: pd.DataFrame, runs: list[dict[str, Any]]) -> pd.DataFrame:
    """``label``, ``block`` and ``series`` (as in ``runs_frame``) for a frame of entries or
    horizons (one row per model size and block)."""
    records = frame.to_dict("records")
    ids = identities(records)
    _, words = train_differences(train_settings(runs))
    multi = frame["train"].nunique() > 1
    frame = frame.assign(
        label=[text(ids[config_key(r)]) for r in records],
        block=[text(block_label(r["task"], r["variant"], r["dataset"],
                                words.get(r["train"], "") if multi else "")) for r in records])
    n_sizes = frame.groupby(["block", "label"])["units"].transform(
        lambda u: u.astype(str).nunique())
    frame["series"] = [f"{lab} [{fmt(u)}u]" if n > 1 else lab
                       for lab, u, n in zip(frame.label, frame.units, n_sizes, strict=True)]
    return frame


def entries(runs: list[dict[str, Any]]) -> pd.DataFrame:
    """The chosen-rate entries (``leaderboard.aggregate``) with ``label``, ``block``,
    ``series``."""
    ent = pd.DataFrame([r for r in aggregate(runs) if r["chosen"]])
    return ent if ent.empty else decorate(ent, runs)

