"""The memory horizon chart of a report: models x tasks, each model's bracket [largest solved,
smallest failed) on a log length axis (``leaderboard.horizons``)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: no display, works headless and in CI

from matplotlib.lines import Line2D  # noqa: E402

from memorybench.report.format import missing  # noqa: E402
from memorybench.report.leaderboard import horizons  # noqa: E402
from memorybench.report.plot_data import decorate, entries  # noqa: E402
from memorybench.report.plot_style import (  # noqa: E402
    Figure,
    Style,
    base_label,
    grid,
    ordered,
    save,
    title_lines,
    wrapped,
)
from memorybench.run.selection import finite as _num  # noqa: E402


def horizon_chart(runs: list[dict[str, Any]], searches: Iterable[dict[str, Any]], out: Path,
                  style: dict[str, Style]) -> Figure | None:
    """Models x tasks: each model's horizon bracket [largest solved, smallest failed) on a log
    length axis, the lengths it was run at, and the seeds that solved the horizon length."""
    hor = horizons(runs, list(searches))
    ent = entries(runs)
    if hor.empty or ent.empty:
        return None
    seeds = {(r.block, r.series, r.length): f"{round(r.solved_frac * r.n_seeds)}/{r.n_seeds}"
             for r in ent.itertuples()}
    with_threshold = {r.block for r in ent.itertuples() if _num(r.solved_at) is not None}
    data = decorate(hor, runs)
    data = data[data["block"].isin(with_threshold)]  # no solved threshold (MNIST): no horizon
    if data.empty:
        return None
    blocks = sorted(data["block"].unique())
    series = ordered(data["series"], style)
    ypos = {s: i for i, s in enumerate(series)}
    ncols = min(len(blocks), 3)
    h = 0.3 * len(series) + 1.4 + 0.2 * (title_lines(blocks, 4.3) - 1)
    fig, axes = grid(len(blocks), ncols_max=ncols, w=4.3, h=h, sharey=True)
    for ax, block in zip(axes, blocks, strict=True):
        b = data[data["block"] == block]
        lengths = sorted({int(x) for s in b["lengths"] for x in str(s).split(",") if x})
        lo, hi = min(lengths) / 1.5, max(lengths) * 2.2
        for r in b.to_dict("records"):
            _draw_row(ax, r, ypos[r["series"]], style[base_label(r["series"])], lo, hi,
                      seeds, block)
        _finish_axis(ax, block, lengths, lo, hi, series, style)
    axes[0].set_yticks(range(len(series)), series)
    axes[0].set_ylim(len(series) - 0.5, -0.5)
    key = _key()
    fig.legend(handles=key, loc="outside lower center", ncols=3 if ncols > 1 else 2,
               frameon=False, fontsize="small")
    fig.suptitle("Memory horizon per model and task")
    return save(fig, out, "horizon_chart", "Memory horizon chart",
                 "Each model's memory horizon per task at its chosen learning rate: the marker is "
                 "the largest length a majority of seeds solve, the bar runs to the smallest "
                 "length above it that they do not ([largest solved, smallest failed)); an arrow: "
                 "still solving at the search's maximum; a hollow marker: not even the smallest "
                 "length tried. Small dots: every length run (hollow: not solved). k/n: seeds "
                 "that solved the horizon length (or the smallest length, when none).")


def _draw_row(ax, r: dict[str, Any], y: int, st: Style, lo: float, hi: float,
              seeds: dict[tuple, str], block: str) -> None:
    """One model's row of one task's panel: the lengths run, the bracket, the seeds note."""
    solved = {int(x) for x in str(r["solved_lengths"]).split(",") if x}
    run = [int(x) for x in str(r["lengths"]).split(",") if x]
    ax.scatter([x for x in run if x in solved], [y] * len(solved & set(run)), s=14,
               color=st.colour, zorder=3, lw=0)
    nm = r.get("not_measured")
    gap = _not_measured_length(nm)  # a failed length: neither solved nor not
    unsolved = [x for x in run if x not in solved and x != gap]
    ax.scatter(unsolved, [y] * len(unsolved), s=14, facecolor="white",
               edgecolor=st.colour, zorder=3, lw=0.9)
    h_, f_ = r["horizon"], r["smallest_failed"]
    at_max = r["hit_max"] is True
    if gap is not None:  # the bracket ends where a length was not measured
        if not missing(h_):
            h = float(h_)
            ax.plot([h, gap], [y, y], color=st.colour, lw=1.2, ls=":")
            ax.scatter([h], [y], marker=st.marker, s=50, color=st.colour, zorder=4,
                       edgecolor="black", lw=0.4)
        ax.text(gap, y, "?", va="center", ha="center", fontsize=9, color=st.colour,
                fontweight="bold", zorder=5)
        note, x_note = "not measured (a run failed)", gap
    elif missing(h_):  # not even the smallest length: [-, f)
        f = float(f_)
        ax.plot([lo, f], [y, y], color=st.colour, lw=5, alpha=0.25, solid_capstyle="butt")
        ax.scatter([f], [y], marker=st.marker, s=46, facecolor="white",
                   edgecolor=st.colour, lw=1.4, zorder=4)
        note, x_note = seeds.get((block, r["series"], int(f)), ""), f
    else:
        h = float(h_)
        f = hi if (missing(f_) or at_max) else float(f_)
        ax.plot([h, f], [y, y], color=st.colour, lw=5, alpha=0.3, solid_capstyle="butt")
        ax.scatter([h], [y], marker=st.marker, s=50, color=st.colour, zorder=4,
                   edgecolor="black", lw=0.4)
        if at_max or missing(f_):
            ax.annotate("", (hi, y), (h, y), arrowprops=dict(
                arrowstyle="->", color=st.colour, lw=1.2))
        else:
            ax.plot([f, f], [y - 0.28, y + 0.28], color=st.colour, lw=1.6)
        note, x_note = seeds.get((block, r["series"], int(h)), ""), f
    if note:
        ax.text(min(x_note, hi) * 1.07, y, note, va="center", ha="left", fontsize=7,
                color="0.25")


def _finish_axis(ax, block: str, lengths: list[int], lo: float, hi: float, series: list[str],
                 style: dict[str, Style]) -> None:
    """A panel's log length axis, its ticks, the rules between families, title and label."""
    ax.set_xscale("log")
    ax.set_xlim(lo, hi * 1.6)
    labelled, last = set(), None  # a tick per length run; labels only where they do not touch
    for v in lengths:
        if last is None or v / last >= 1.2:
            labelled.add(v)
            last = v
    ax.set_xticks(lengths, [str(v) if v in labelled else "" for v in lengths])
    ax.minorticks_off()
    ax.tick_params(axis="x", labelsize=8)
    ax.grid(axis="y", visible=False)
    for i in range(1, len(series)):  # a rule between families
        if style[base_label(series[i])].family != style[base_label(series[i - 1])].family:
            ax.axhline(i - 0.5, color="0.75", lw=0.8)
    ax.set_title(wrapped(block, 4.3))
    ax.set_xlabel("length (log scale)")


def _key() -> list[Line2D]:
    """The legend's entries."""
    return [Line2D([], [], color="0.3", marker="o", ls="", label="horizon: largest solved"),
           Line2D([], [], color="0.3", lw=5, alpha=0.3, label="bracket to smallest failed |"),
           Line2D([], [], color="0.3", marker="o", mfc="white", ls="",
                  label="none solved: smallest tried"),
           Line2D([], [], color="0.3", marker="$\\rightarrow$", ls="",
                  label="still solving at the search's maximum"),
           Line2D([], [], color="0.3", marker=".", ls="", label="a length run (hollow: failed)")]


def _not_measured_length(why) -> float | None:
    """The length in a horizons row's ``not_measured`` ("L=50: ..."), or None."""
    if not isinstance(why, str) or not why.startswith("L="):
        return None
    try:
        return float(why[2:].split(":", 1)[0])
    except ValueError:
        return None

