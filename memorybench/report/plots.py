"""Report plots from run artifacts (matplotlib / seaborn on the Agg backend; PNG and SVG):
``all_plots`` writes every figure of a report; learning curves, horizon curves, the score
heatmap and cost against score are here, the horizon chart in ``horizon_chart.py``, time to
solve in ``time_to_solve.py`` and what they share (styles, layout, saving) in ``plot_style.py``.

Every figure of a report names a model the same way (``labels.identities``: the name, plus
its configured parameters where they differ; units and parameter counts are not identity) and
draws it in one colour and marker, chosen by its family (``plot_style.FAMILIES``), so that
twenty models stay apart. Learning curves, scores and the heatmap use each model's runs at its
chosen learning rate (``leaderboard.aggregate``'s ``chosen``); they never train.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: no display, works headless and in CI

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402
from matplotlib.ticker import MaxNLocator, NullFormatter  # noqa: E402

from memorybench.errors import OutputError  # noqa: E402
from memorybench.report.horizon_chart import horizon_chart  # noqa: E402
from memorybench.report.load import read_history  # noqa: E402
from memorybench.report.plot_data import entries, runs_frame  # noqa: E402
from memorybench.report.plot_style import (  # noqa: E402
    RC,
    Figure,
    Style,
    base_label,
    figure_legend,
    figure_title,
    grid,
    legend_height,
    ordered,
    save,
    series_lines,
    slug,
    solved_score,
    styles,
    title_lines,
    wrapped,
)
from memorybench.report.time_to_solve import time_to_solve_figures  # noqa: E402


def learning_curves(df: pd.DataFrame, out: Path, style: dict[str, Style]) -> list[Figure]:
    """Validation metric against training step, one figure per task block, a panel per length;
    mean over seeds at the chosen rate with a band of one standard deviation; chance and solved
    lines drawn."""
    figures = []
    for block, bdf in df[df["chosen"]].groupby("block", sort=True):
        frames = []
        for r in bdf.itertuples():
            hist = read_history(r.run_dir) if r.run_dir else None
            if hist is None or hist.empty:
                continue
            frames.append(hist.assign(series=r.series, length=r.length, seed=r.seed,
                                      run=r.run_dir, status=r.status))
        if not frames:
            continue
        hist = _carry_forward(pd.concat(frames, ignore_index=True))
        lengths = sorted(hist["length"].unique())
        n = hist["series"].nunique()
        fig, axes = grid(len(lengths), w=4.0, h=3.1, min_h=legend_height(n + 2))
        first = bdf.iloc[0]
        higher = bool(first.higher_is_better)
        for ax, length in zip(axes, lengths, strict=True):
            sub = hist[hist["length"] == length]
            series_lines(ax, sub, "step", "val_metric", style)
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
        figure_legend(fig, axes, ordered(hist["series"], style))
        figure_title(fig, f"Learning curves: {block}")
        figures.append(save(
            fig, out, f"learning_curves_{slug(block)}", f"Learning curves: {block}",
            f"Validation {first.metric} against training step at each model's chosen learning "
            f"rate; line: mean over seeds, band: ±1 std; dotted: chance, dashed: solved "
            f"threshold. A run stopped early because it solved the task is carried at its last "
            f"value."))
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


def horizon_curves(df: pd.DataFrame, out: Path, style: dict[str, Style]) -> Figure | None:
    """Normalised test score against length (log x), one line per model at its chosen rate, ±1
    std band over seeds; a panel per task block."""
    sub = df[df["score"].notna() & df["chosen"]]
    if sub.empty:
        return None
    blocks = sorted(sub["block"].unique())
    n = sub["series"].nunique()
    title_h = 0.2 * (title_lines(blocks, 4.6) - 1)
    fig, axes = grid(len(blocks), ncols_max=3, w=4.6, h=3.5 + title_h,
                      min_h=legend_height(n + 2))
    for ax, block in zip(axes, blocks, strict=True):
        b = sub[sub["block"] == block]
        series_lines(ax, b, "length", "score", style)
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
        ax.set_title(wrapped(block, 4.6))
        ax.set_xlabel("length (log scale)")
        ax.set_ylabel("normalised test score")
    figure_legend(fig, axes, ordered(sub["series"], style))
    figure_title(fig, "Memory horizon: score against length")
    return save(fig, out, "horizon_curves", "Memory horizon curves",
                 "Normalised test score (0 = trivial predictor, 1 = perfect) against length on a "
                 "log axis, at each model's chosen learning rate; line: mean over seeds, band: "
                 "±1 std; dashed: solved threshold.")



def score_heatmap(runs: list[dict[str, Any]], out: Path,
                  style: dict[str, Style]) -> Figure | None:
    """Per task block a heatmap of the mean normalised test score, models x lengths, at each
    model's chosen rate; solved cells (majority of seeds) outlined."""
    ent = entries(runs)
    if ent.empty or ent["score_mean"].notna().sum() == 0:
        return None
    blocks = sorted(ent["block"].unique())
    series = ordered(ent["series"], style)
    tables, solved = {}, {}
    for block in blocks:
        b = ent[ent["block"] == block]
        tables[block] = b.pivot_table(index="series", columns="length", values="score_mean",
                                      aggfunc="mean").reindex(series)
        solved[block] = b.pivot_table(index="series", columns="length", values="solved_frac",
                                      aggfunc="max").reindex(series)
    widths = [max(3, t.shape[1]) for t in tables.values()]
    cell_w, cell_h = 0.62, 0.3
    fig_w = cell_w * sum(widths) + 2.4 + 0.9 * len(blocks)
    titles = {b: wrapped(b, cell_w * w + 0.5, per_inch=12) for b, w in zip(blocks, widths,
                                                                              strict=True)}
    fig_h = cell_h * len(series) + 1.7 + 0.17 * max(t.count("\n") for t in titles.values())
    fig, axes = plt.subplots(1, len(blocks), figsize=(fig_w, fig_h), squeeze=False,
                             sharey=True, layout="constrained",
                             gridspec_kw={"width_ratios": widths})
    axes = list(axes.flat)
    vmin = min(0.0, float(np.nanmin(ent["score_mean"].to_numpy(dtype=float))))
    mesh = None
    small = len(series) > 15 or max(widths) > 8
    for ax, block in zip(axes, blocks, strict=True):
        t = tables[block]
        ax.set_facecolor("#f2f2f2")  # not run: blank, light grey
        ax.grid(False)
        sns.heatmap(t, ax=ax, annot=True, fmt=".2f", cmap="viridis", vmin=vmin, vmax=1.0,
                    cbar=False, linewidths=0.5, linecolor="white",
                    annot_kws={"size": 6.5 if small else 8})
        mesh = ax.collections[0]
        s = solved[block]
        for i, name in enumerate(t.index):
            for j, length in enumerate(t.columns):
                v = s.loc[name, length] if length in s.columns else np.nan
                if pd.notna(v) and v > 0.5:
                    ax.add_patch(Rectangle((j + 0.04, i + 0.04), 0.92, 0.92, fill=False,
                                           edgecolor="#d62728", lw=1.4))
        ax.set_title(titles[block], fontsize="medium")
        ax.set_xlabel("length")
        ax.set_ylabel("")
        ax.tick_params(axis="x", rotation=0)
        ax.tick_params(axis="y", rotation=0)
    if mesh is not None:
        fig.colorbar(mesh, ax=axes, label="normalised score", shrink=0.8,
                     aspect=max(10, 2 * len(series)))
    fig.suptitle("Normalised test score (mean over seeds) at each model's chosen learning rate")
    return save(fig, out, "score_heatmap", "Score heatmap",
                 "Mean normalised test score over seeds (0 = trivial predictor, 1 = perfect) per "
                 "task, model x length, at each model's chosen learning rate; red outline: "
                 "solved by a majority of seeds; grey: not run at that length (a horizon search "
                 "stops at the first length a model fails).")


def cost_vs_score(df: pd.DataFrame, out: Path, style: dict[str, Style]) -> Figure | None:
    """Parameters and training seconds against score: one point per (model, length), a column
    of panels per task block."""
    sub = df[df["score"].notna() & df["chosen"]]
    if sub.empty:
        return None
    agg = (sub.groupby(["series", "block", "length"], as_index=False)
           .agg(score=("score", "mean"), params=("params", "median"),
                seconds=("wall_seconds", "mean")))
    blocks = sorted(agg["block"].unique())
    n = agg["series"].nunique()
    title_h = 0.17 * (title_lines(blocks, 3.6, per_inch=12) - 1)
    fig, grid = plt.subplots(2, len(blocks), figsize=(3.6 * len(blocks) + 0.5,
                                                      max(6.0 + title_h, legend_height(n))),
                             squeeze=False, sharey=True, layout="constrained")
    axes = list(grid.flat)
    for col, block in enumerate(blocks):
        for row, (x, xlabel) in enumerate((("params", "trainable parameters"),
                                           ("seconds", "wall seconds per run"))):
            ax = grid[row][col]
            data = agg[(agg["block"] == block) & agg[x].notna() & (agg[x] > 0)]
            if data.empty:
                ax.text(0.5, 0.5, f"no {x} recorded", ha="center", va="center",
                        transform=ax.transAxes)
                continue
            for series in ordered(data["series"], style):
                d = data[data["series"] == series]
                st = style[base_label(series)]
                ax.scatter(d[x], d["score"], color=st.colour, marker=st.marker, s=36,
                           label=series, edgecolor="white", lw=0.4)
            if data[x].max() / data[x].min() >= 10:
                ax.set_xscale("log")
                ax.xaxis.set_minor_formatter(NullFormatter())  # no crowded minor labels
                xlabel += " (log scale)"
            else:  # --match-params: sizes within a few per cent, a log axis would only clutter
                ax.xaxis.set_major_locator(MaxNLocator(4))
            ax.set_xlabel(xlabel, fontsize="small")
            ax.axhline(0.0, color="0.4", ls=":", lw=1.0)
            if row == 0:
                ax.set_title(wrapped(block, 3.6, per_inch=12), fontsize="medium")
            if col == 0:
                ax.set_ylabel("normalised test score")
    figure_legend(fig, axes, ordered(agg["series"], style))
    figure_title(fig, "Cost against score")
    return save(fig, out, "cost_vs_score", "Cost against score",
                 "Mean normalised score of each (model, length) at the chosen learning rate "
                 "against its parameter count (top) and its mean training wall time (bottom), a "
                 "column per task.")



def all_plots(runs: list[dict[str, Any]], out: Path,
              searches: Iterable[dict[str, Any]] = ()) -> list[Figure]:
    """Every report plot for ``runs``, written under ``out``; returns them in report order."""
    if Path(out).is_symlink():  # never write through a link out of the results folder
        raise OutputError(f"the plots folder {str(out)!r} is a symbolic link; remove it (the "
                          f"report writes only inside the results folder)")
    runs = list(runs)
    df = runs_frame(runs)
    if df.empty:
        return []
    style = styles(zip(df["label"], df["model"], strict=True))
    figures: list[Figure] = []
    with sns.axes_style("whitegrid"), plt.rc_context(RC):
        for fig in (horizon_chart(runs, searches, out, style),
                    score_heatmap(runs, out, style),
                    horizon_curves(df, out, style)):
            if fig is not None:
                figures.append(fig)
        figures += learning_curves(df, out, style)
        fig = cost_vs_score(df, out, style)
        if fig is not None:
            figures.append(fig)
        figures += time_to_solve_figures(runs, out, style)
    return figures
