"""What every report figure shares: how a model looks (``styles``: one colour and marker per
model, chosen by its family, ``FAMILIES``, so that twenty models stay apart), the panel grid,
titles and legends, and writing a figure as PNG and SVG (matplotlib on the Agg backend)."""

from __future__ import annotations

import colorsys
import io
import math
import re
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: no display, works headless and in CI

import matplotlib.colors as mcolors  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from memorybench.run import store  # noqa: E402

DPI = 110
# SVG text stays text (searchable, selectable, small); PNG rendering is unaffected
RC = {"svg.fonttype": "none"}

# -- who looks like whom -------------------------------------------------------------------------
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "p", "h", "*")
FAMILIES: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    # (family, its known members in a fixed order, colours: greys / browns, blues, warm,
    # greens, purples); a member keeps its colour and marker whoever else is in the report
    ("baselines", ("simple_rnn", "ungated", "irnn", "indrnn", "tcn"),
     ("#7f7f7f", "#1a1a1a", "#b0b0b0", "#8c564b", "#c49c94", "#5d4037")),
    ("LSTM ablations", ("lstm_nfg", "lstm_nig", "lstm_nog", "lstm_noaf", "lstm_niaf",
                        "lstm_cifg", "lstm_peephole", "lstm_chrono", "lstm_full", "cec",
                        "lstm_fb0", "lstm_fb3"),
     ("#1f77b4", "#17becf", "#08306b", "#6baed6", "#3949ab", "#00838f", "#7986cb",
      "#01579b", "#4fc3f7", "#5c6bc0", "#9ecae1", "#0d47a1")),
    ("gated cells", ("lstm", "gru", "slstm", "mlstm", "cornn", "lem", "antisymmetric"),
     ("#d62728", "#ff7f0e", "#8b0000", "#bf360c", "#c9a100", "#ffb300", "#ff9e80")),
    ("linear recurrences", ("mingru", "minlstm", "lmu", "lru", "s4d", "mamba"),
     ("#2ca02c", "#1b5e20", "#8bc34a", "#00796b", "#66bb6a", "#004d40")),
    ("plugins", (),
     ("#9467bd", "#e377c2", "#6a1b9a", "#c2185b", "#ba68c8", "#f48fb1", "#4a148c", "#ad1457",
      "#ce93d8")),
)


@dataclass(frozen=True)
class Style:
    """How one model looks in every figure of a report."""

    colour: Any
    marker: str
    family: str
    order: tuple  # sort key: family, then position in it


def family_of(model: str) -> int:
    """Index into ``FAMILIES``: listed names first, then any ``lstm_*`` is an ablation, anything
    unknown is a plugin."""
    for i, (_, members, _) in enumerate(FAMILIES):
        if model in members:
            return i
    return 1 if model.startswith("lstm_") else len(FAMILIES) - 1


def styles(models: Iterable[tuple[str, str]]) -> dict[str, Style]:
    """``(label, model name)`` pairs -> each label's ``Style``: colour from its family, a marker
    that differs from its neighbours in the family. Several labels of one name (``lmu(theta=50)``,
    ``lmu(theta=100)``) share its hue in lighter shades and take other markers."""
    names: dict[str, list[str]] = {}
    for label, model in sorted(set(models)):
        names.setdefault(model, []).append(label)
    unknown: dict[int, list[str]] = {}
    for model in sorted(names):
        fi = family_of(model)
        if model not in FAMILIES[fi][1]:
            unknown.setdefault(fi, []).append(model)
    out: dict[str, Style] = {}
    for model, labels in names.items():
        fi = family_of(model)
        family, members, colours = FAMILIES[fi]
        idx = members.index(model) if model in members else len(members) + unknown[fi].index(
            model)
        base = mcolors.to_rgb(colours[idx % len(colours)])
        if idx >= len(colours):  # more members than colours: shift the shade
            h, light, s = colorsys.rgb_to_hls(*base)
            base = colorsys.hls_to_rgb(h, min(0.85, light + 0.15 * (idx // len(colours))), s)
        for k, label in enumerate(labels):
            colour = tuple(c + (1 - c) * min(0.6, 0.3 * k) for c in base)
            out[label] = Style(colour, MARKERS[(idx + 5 * k) % len(MARKERS)], family,
                               (fi, idx, k, label))
    return out


def ordered(labels: Iterable[str], style: dict[str, Style]) -> list[str]:
    """Labels in family order (the order of every legend, row and column)."""
    return sorted(set(labels), key=lambda x: style[base_label(x)].order if base_label(x) in style
                  else (len(FAMILIES), 0, 0, x))


def base_label(series: str) -> str:
    """The model label of a series label (``gru [68u]`` -> ``gru``)."""
    return re.sub(r" \[[^\]]*u\]$", "", series)


@dataclass(frozen=True)
class Figure:
    """A written plot: its PNG and SVG paths and a caption for the report."""

    title: str
    png: Path
    svg: Path
    caption: str



def text(s: str) -> str:
    """``s`` as literal matplotlib text (names are user input: a '$' pair would be mathtext)."""
    return str(s).replace("$", r"\$")


def block_label(task: str, variant: str, dataset: str, train: str = "") -> str:
    label = task + (f" ({variant})" if variant else "")
    if dataset != "synthetic":
        label += f" [{dataset}]"
    if train:
        label += f", {train}"
    return label


def solved_score(chance: float | None, solved_at: float | None, higher: bool | None):
    """The solved threshold expressed as a normalised score (None if the task has none)."""
    if any(v is None or v != v for v in (chance, solved_at, higher)):  # None, or NaN from pandas
        return None
    if higher:
        return (solved_at - chance) / (1.0 - chance) if chance != 1.0 else None
    return 1.0 - solved_at / chance if chance else None


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower() or "x"


def save_figure(fig, path: Path, fmt: str, **kw) -> None:
    """``fig`` as ``fmt`` written atomically to ``path`` (``store.write_bytes``): a symbolic link
    at ``path`` is replaced, never written through, and a failed write leaves no partial file."""
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, **kw)
    store.write_bytes(path, buf.getvalue())


def save_pair(fig, path: Path) -> list[Path]:
    """``fig`` as ``path``'s PNG and SVG (atomic, like every figure of the report), then closed;
    returns the two paths. For the diagnostics that write beside their CSV (gradient flow, the
    memory path's Jacobian)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    out = [path.with_suffix(".png"), path.with_suffix(".svg")]
    try:  # atomic writes: a link at the path is replaced, never written through
        save_figure(fig, out[0], "png", dpi=DPI, bbox_inches="tight")
        save_figure(fig, out[1], "svg", bbox_inches="tight")
    finally:
        plt.close(fig)
    return out


def save(fig, out: Path, name: str, title: str, caption: str) -> Figure:
    out.mkdir(parents=True, exist_ok=True)
    png, svg = out / f"{name}.png", out / f"{name}.svg"
    try:
        with plt.rc_context(RC):
            save_figure(fig, png, "png", dpi=DPI, bbox_inches="tight")
            save_figure(fig, svg, "svg", bbox_inches="tight")
    finally:
        plt.close(fig)
    return Figure(title, png, svg, caption)


def grid(n: int, ncols_max: int = 4, w: float = 4.2, h: float = 3.3, min_h: float = 0.0,
          **kw):
    ncols = min(n, ncols_max)
    nrows = math.ceil(n / ncols)
    # constrained layout keeps long panel titles clear of the x labels of the row above
    fig, axes = plt.subplots(nrows, ncols, figsize=(w * ncols, max(h * nrows, min_h)),
                             squeeze=False, layout="constrained", **kw)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:n])


def wrapped(block: str, inches: float, per_inch: float = 8.0) -> str:
    """A task block's title wrapped to its panel's width: a block names its training settings in
    words, and unwrapped, the titles of neighbouring panels run into each other."""
    spaced = re.sub(r",(?=\S)", ", ", block)  # "(a=1,b=2)" may break after a comma
    return textwrap.fill(spaced, max(16, int(inches * per_inch)), break_on_hyphens=False)


def title_lines(blocks: Iterable[str], inches: float, per_inch: float = 8.0) -> int:
    """The most lines any of ``blocks``' titles takes at that width (for the figure's height)."""
    return max((wrapped(b, inches, per_inch).count("\n") + 1 for b in blocks), default=1)


def legend_height(n: int) -> float:
    """Inches a right-hand legend of ``n`` entries needs (its columns: ``figure_legend``)."""
    return 0.22 * math.ceil(n / _legend_cols(n)) + 0.4


def _legend_cols(n: int) -> int:
    return 1 if n <= 14 else 2 if n <= 30 else 3


def figure_legend(fig, axes, order: list[str]) -> None:
    """One legend for the whole figure, right of the panels (placed by the constrained layout:
    never over a curve), models in family order, then the reference lines."""
    seen: dict[str, Any] = {}
    for ax in axes:
        handles, labels = ax.get_legend_handles_labels()
        for h, lab in zip(handles, labels, strict=True):
            seen.setdefault(lab, h)
        if ax.get_legend() is not None:
            ax.get_legend().remove()
    if not seen:
        return
    keys = [k for k in order if k in seen] + [k for k in seen if k not in order]
    fig.legend([seen[k] for k in keys], keys, loc="outside right upper", frameon=False,
               ncols=_legend_cols(len(keys)), fontsize="small" if len(keys) > 8 else None)


def figure_title(fig, text: str):
    """The figure's title over its panels, wrapped to their width: centred over the whole
    figure, a long title would run into a legend right of the panels (``figure_legend``). Returns
    the title's ``Text``."""
    fig.canvas.draw()  # the constrained layout places the panels and the legend
    boxes = [ax.get_position() for ax in fig.axes if ax.get_visible() and ax.has_data()]
    if not boxes or not fig.legends:
        return fig.suptitle(text)
    x0, x1 = min(b.x0 for b in boxes), max(b.x1 for b in boxes)
    title = fig.suptitle(text, x=(x0 + x1) / 2, ha="center")
    renderer = fig.canvas.get_renderer()
    room = (x1 - x0) * fig.bbox.width
    width = title.get_window_extent(renderer).width
    if width > room:  # wrap at the characters that fit, never below 16 a line
        title.set_text(textwrap.fill(text, max(16, int(len(text) * room / width))))
    return title


def _line(ax, x, mean, sd, series: str, style: Style, dashed: bool = False,
          n_markers: int = 8) -> None:
    x, mean, sd = (np.asarray(v, dtype=float) for v in (x, mean, sd))
    every = max(1, len(x) // n_markers)
    ax.plot(x, mean, color=style.colour, marker=style.marker, markevery=every, ms=5,
            lw=1.6, ls="--" if dashed else "-", label=series)
    band = np.nan_to_num(sd)
    if band.any():
        ax.fill_between(x, mean - band, mean + band, color=style.colour, alpha=0.12, lw=0)


def series_lines(ax, data: pd.DataFrame, x: str, y: str, style: dict[str, Style]) -> None:
    """Mean over seeds of ``y`` against ``x`` per series, ±1 std band."""
    sizes: dict[str, int] = {}
    for series in ordered(data["series"], style):
        s = data[data["series"] == series]
        agg = s.groupby(x)[y].agg(["mean", "std"]).reset_index()
        base = base_label(series)
        k = sizes.get(base, 0)
        sizes[base] = k + 1
        _line(ax, agg[x], agg["mean"], agg["std"], series, style[base], dashed=k > 0)

