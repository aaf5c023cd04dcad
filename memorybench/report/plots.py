"""Report plots from run artifacts (seaborn on the Agg backend; PNG and SVG; never trains)."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: no display, works headless and in CI

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from memorybench.report.leaderboard import _num, read_history, variant_of  # noqa: E402

DPI = 110


@dataclass(frozen=True)
class Figure:
    """A written plot: its PNG and SVG paths and a caption for the report."""

    title: str
    png: Path
    svg: Path
    caption: str


# -- data --------------------------------------------------------------------------------------
def runs_frame(runs: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """One row per run with the columns the plots need, plus ``block`` (task, variant, dataset)
    and ``label`` (model name; with units / layers / params when one name has several sizes)."""
    rows = []
    for r in runs:
        rows.append(dict(
            run_dir=r.get("run_dir"), status=r.get("status"), task=r["task"],
            variant=variant_of(r.get("task_params")), dataset=r.get("dataset") or "synthetic",
            train=r.get("train", ""), length=int(r["length"]), model=str(r["model"]),
            units=r.get("units"), layers=r.get("layers"), model_params=r.get("model_params", ""),
            seed=r.get("seed"), metric=r.get("metric"), higher_is_better=r.get("higher_is_better"),
            chance=_num(r.get("chance")), solved_at=_num(r.get("solved_at")),
            test_metric=_num(r.get("test_metric")), score=_num(r.get("score")),
            solved=r.get("solved") is True, params=_num(r.get("params")),
            wall_seconds=_num(r.get("wall_seconds")),
        ))
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    multi_train = df["train"].nunique() > 1
    df["block"] = [
        _block_label(t, v, d, tr if multi_train else "")
        for t, v, d, tr in zip(df.task, df.variant, df.dataset, df.train, strict=True)
    ]
    sizes = df.groupby("model")[["units", "layers", "model_params"]].apply(
        lambda g: len(g.astype(str).drop_duplicates())
    )
    df["label"] = [
        m if sizes[m] == 1 else f"{m} ({_size(u, la, mp)})"
        for m, u, la, mp in zip(df.model, df.units, df.layers, df.model_params, strict=True)
    ]
    # names are user input (plugins): a '$' pair would switch matplotlib into mathtext
    df["label"] = df["label"].map(text)
    df["block"] = df["block"].map(text)
    return df


def text(s: str) -> str:
    """``s`` as literal matplotlib text."""
    return str(s).replace("$", r"\$")


def _size(units, layers, model_params) -> str:
    parts = [f"{units}u"]
    if layers not in (None, 1):
        parts.append(f"{layers}L")
    if model_params not in (None, "", "{}"):
        parts.append(str(model_params))
    return ", ".join(parts)


def _block_label(task: str, variant: str, dataset: str, train: str = "") -> str:
    label = task + (f" ({variant})" if variant else "")
    if dataset != "synthetic":
        label += f" [{dataset}]"
    if train:
        label += f" train {train}"
    return label


def solved_score(chance: float | None, solved_at: float | None, higher: bool | None):
    """The solved threshold expressed as a normalised score (None if the task has none)."""
    if any(v is None or v != v for v in (chance, solved_at, higher)):  # None, or NaN from pandas
        return None
    if higher:
        return (solved_at - chance) / (1.0 - chance) if chance != 1.0 else None
    return 1.0 - solved_at / chance if chance else None


def palette(labels: Iterable[str]) -> dict[str, Any]:
    """One colour per model label, stable across all plots of a report."""
    labels = sorted(set(labels))
    colours = sns.color_palette("tab10" if len(labels) <= 10 else "husl", len(labels))
    return dict(zip(labels, colours, strict=True))


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower() or "x"


def _save(fig, out: Path, name: str, title: str, caption: str) -> Figure:
    out.mkdir(parents=True, exist_ok=True)
    png, svg = out / f"{name}.png", out / f"{name}.svg"
    fig.savefig(png, dpi=DPI, bbox_inches="tight")
    fig.savefig(svg, bbox_inches="tight")
    plt.close(fig)
    return Figure(title, png, svg, caption)


def _grid(n: int, ncols_max: int = 4, w: float = 4.2, h: float = 3.3):
    ncols = min(n, ncols_max)
    nrows = math.ceil(n / ncols)
    # constrained layout keeps long panel titles clear of the x labels of the row above
    fig, axes = plt.subplots(nrows, ncols, figsize=(w * ncols, h * nrows), squeeze=False,
                             layout="constrained")
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:n])


def _legend(fig, axes) -> None:
    """One legend for the whole figure, built from every panel's handles."""
    seen: dict[str, Any] = {}
    for ax in axes:
        handles, labels = ax.get_legend_handles_labels()
        for h, lab in zip(handles, labels, strict=True):
            seen.setdefault(lab, h)
        if ax.get_legend() is not None:
            ax.get_legend().remove()
    if seen:
        # below the panels, placed by the constrained layout: never over a title or a curve
        fig.legend(seen.values(), seen.keys(), loc="outside lower center", frameon=False,
                   ncols=min(len(seen), 4))


# -- plots -------------------------------------------------------------------------------------
def learning_curves(df: pd.DataFrame, out: Path, colours: dict) -> list[Figure]:
    """Validation metric against training step, one figure per task block, a panel per length;
    mean over seeds with a band of one standard deviation; chance and solved lines drawn."""
    figures = []
    for block, bdf in df.groupby("block", sort=True):
        frames = []
        for r in bdf.itertuples():
            hist = read_history(r.run_dir) if r.run_dir else None
            if hist is None or hist.empty:
                continue
            frames.append(hist.assign(label=r.label, length=r.length, seed=r.seed,
                                      run=r.run_dir, status=r.status))
        if not frames:
            continue
        hist = _carry_forward(pd.concat(frames, ignore_index=True))
        lengths = sorted(hist["length"].unique())
        fig, axes = _grid(len(lengths))
        first = bdf.iloc[0]
        higher = bool(first.higher_is_better)
        for ax, length in zip(axes, lengths, strict=True):
            sub = hist[hist["length"] == length]
            sns.lineplot(data=sub, x="step", y="val_metric", hue="label", palette=colours,
                         errorbar="sd", ax=ax, hue_order=sorted(sub["label"].unique()))
            if first.chance is not None:
                ax.axhline(first.chance, color="0.4", ls=":", lw=1.2, label="chance")
            if pd.notna(first.solved_at):  # None becomes NaN in a float column
                ax.axhline(first.solved_at, color="tab:green", ls="--", lw=1.2, label="solved")
            if not higher and (sub["val_metric"] > 0).all():
                ax.set_yscale("log")  # MSE spans orders of magnitude down to the threshold
            if higher and sub["val_metric"].max() <= 1.0:
                ax.set_ylim(top=1.03)  # an accuracy is at most 1, whatever the band says
            ax.set_title(f"length {length}")
            ax.set_xlabel("training step")
            ax.set_ylabel(f"validation {first.metric}")
        _legend(fig, axes)
        fig.suptitle(f"Learning curves: {block}")
        figures.append(_save(
            fig, out, f"learning_curves_{slug(block)}", f"Learning curves: {block}",
            f"Validation {first.metric} against training step; line: mean over seeds, band: "
            f"±1 std; dotted: chance, dashed: solved threshold. A run stopped early because it "
            f"solved the task is carried at its last value."))
    return figures


def _carry_forward(hist: pd.DataFrame) -> pd.DataFrame:
    """Extend each completed run that stopped early (the runner stops once the validation
    metric reaches the solved level) at its last value to the last step of its panel, so the
    mean over seeds does not jump when a solved seed leaves."""
    extra = []
    for _, panel in hist.groupby("length"):
        steps = np.sort(panel["step"].unique())
        for _, run in panel.groupby("run"):
            last = run.loc[run["step"].idxmax()]
            if last["status"] != "completed":
                continue
            later = steps[steps > last["step"]]
            if len(later):
                extra.append(pd.DataFrame([last] * len(later)).assign(step=later))
    return pd.concat([hist, *extra], ignore_index=True) if extra else hist


def horizon_curves(df: pd.DataFrame, out: Path, colours: dict) -> Figure | None:
    """Normalised test score against length (log x), one line per model, ±1 std band over seeds;
    a panel per task block."""
    sub = df[df["score"].notna()]
    if sub.empty:
        return None
    blocks = sorted(sub["block"].unique())
    fig, axes = _grid(len(blocks), ncols_max=3, w=4.8, h=3.6)
    for ax, block in zip(axes, blocks, strict=True):
        b = sub[sub["block"] == block]
        sns.lineplot(data=b, x="length", y="score", hue="label", palette=colours, errorbar="sd",
                     marker="o", ax=ax, hue_order=sorted(b["label"].unique()))
        first = b.iloc[0]
        thr = solved_score(first.chance, first.solved_at, first.higher_is_better)
        if thr is not None:
            ax.axhline(thr, color="tab:green", ls="--", lw=1.2, label="solved")
        ax.axhline(0.0, color="0.4", ls=":", lw=1.2, label="chance")
        if b["score"].max() <= 1.0:  # a score is at most 1: do not stretch the axis for a band
            ax.set_ylim(top=1.05)
        ax.set_xscale("log")
        lengths = sorted(b["length"].unique())
        ax.set_xticks(lengths, [str(v) for v in lengths])
        ax.minorticks_off()
        ax.set_title(block)
        ax.set_xlabel("length (log scale)")
        ax.set_ylabel("normalised test score")
    _legend(fig, axes)
    fig.suptitle("Memory horizon: score against length")
    return _save(fig, out, "horizon_curves", "Memory horizon curves",
                 "Normalised test score (0 = trivial predictor, 1 = perfect) against length on a "
                 "log axis; line: mean over seeds, band: ±1 std; dashed: solved threshold.")


def common_length(bdf: pd.DataFrame) -> int:
    """The block's longest length that every model was run at (if none is common to all, the
    longest of those run by the most models)."""
    per_len = bdf.groupby("length")["label"].nunique()
    best = per_len.max()
    return int(max(per_len[per_len == best].index))


def score_heatmap(df: pd.DataFrame, out: Path) -> Figure | None:
    """Model x task heatmap of the mean normalised score at each task block's longest length
    common to its models."""
    sub = df[df["score"].notna()]
    if sub.empty:
        return None
    cols = {}
    for block, bdf in sub.groupby("block", sort=True):
        length = common_length(bdf)
        at = bdf[bdf["length"] == length]
        cols[_wrap(block) + f"\nL={length}"] = at.groupby("label")["score"].mean()
    table = pd.DataFrame(cols)
    table = table.loc[table.mean(axis=1).sort_values(ascending=False).index]
    fig, ax = plt.subplots(figsize=(2.3 * table.shape[1] + 2.5, 0.5 * table.shape[0] + 2.2))
    vmin = min(0.0, float(np.nanmin(table.to_numpy())))
    sns.heatmap(table, annot=True, fmt=".2f", cmap="viridis", vmin=vmin, vmax=1.0, ax=ax,
                cbar_kws={"label": "normalised score"}, linewidths=0.5, linecolor="white")
    ax.set_xlabel("")
    ax.set_ylabel("")
    ax.tick_params(axis="x", rotation=0)
    title = "Normalised test score (mean over seeds) at each task's longest common length"
    ax.set_title(title)
    return _save(fig, out, "score_heatmap", "Score heatmap",
                 "Mean normalised test score over seeds, model x task, at each task's longest "
                 "length common to its models (L in the column label); blank: not run.")


def _wrap(label: str, width: int = 18) -> str:
    """A column label on several short lines: the task, then its parameters."""
    import textwrap

    head, _, rest = label.partition(" ")
    if not rest:
        return head
    return head + "\n" + "\n".join(textwrap.wrap(rest.replace(",", ", "), width))


def cost_vs_score(df: pd.DataFrame, out: Path, colours: dict) -> Figure | None:
    """Parameters and training seconds against score: one point per (model, task, length)."""
    sub = df[df["score"].notna()]
    if sub.empty:
        return None
    agg = (sub.groupby(["label", "block", "length"], as_index=False)
           .agg(score=("score", "mean"), params=("params", "median"),
                seconds=("wall_seconds", "mean")))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True, layout="constrained")
    for ax, x, xlabel in ((axes[0], "params", "trainable parameters"),
                          (axes[1], "seconds", "wall seconds per run")):
        data = agg[agg[x].notna() & (agg[x] > 0)]
        if data.empty:
            ax.text(0.5, 0.5, f"no {x} recorded", ha="center", va="center",
                    transform=ax.transAxes)
            continue
        data = data.rename(columns={"label": "model", "block": "task"})  # legend titles
        sns.scatterplot(data=data, x=x, y="score", hue="model", style="task", palette=colours,
                        s=60, ax=ax, hue_order=sorted(data["model"].unique()))
        ax.set_xscale("log")
        ax.set_xlabel(f"{xlabel} (log scale)")
        ax.set_ylabel("normalised test score")
        ax.axhline(0.0, color="0.4", ls=":", lw=1.0)
    _legend(fig, axes)
    fig.suptitle("Cost against score")
    return _save(fig, out, "cost_vs_score", "Cost against score",
                 "Mean normalised score of each (model, task, length) against its parameter count "
                 "and its mean training wall time; colour: model, marker: task.")


def all_plots(runs: list[dict[str, Any]], out: Path) -> list[Figure]:
    """Every report plot for ``runs``, written under ``out``; returns them in report order."""
    df = runs_frame(runs)
    if df.empty:
        return []
    colours = palette(df["label"])
    with sns.axes_style("whitegrid"):
        figures = list(learning_curves(df, out, colours))
        for make in (horizon_curves, cost_vs_score):
            fig = make(df, out, colours)
            if fig is not None:
                figures.append(fig)
        fig = score_heatmap(df, out)
        if fig is not None:
            figures.append(fig)
    return figures
