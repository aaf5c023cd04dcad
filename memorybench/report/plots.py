"""Report plots from run artifacts (matplotlib / seaborn on the Agg backend; PNG and SVG).

Every figure of a report names a model the same way (``leaderboard.identities``: the name, plus
its configured parameters where they differ; units and parameter counts are not identity) and
draws it in one colour and marker, chosen by its family (``FAMILIES``), so that twenty models
stay apart. Learning curves, scores and the heatmap use each model's runs at its chosen learning
rate (``leaderboard.aggregate``'s ``chosen``); they never train.
"""

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
import seaborn as sns  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402
from matplotlib.ticker import MaxNLocator, NullFormatter  # noqa: E402

from memorybench.errors import OutputError  # noqa: E402
from memorybench.report import leaderboard as lb  # noqa: E402
from memorybench.report.leaderboard import read_history, variant_of  # noqa: E402
from memorybench.report.survival import times as survival_times  # noqa: E402
from memorybench.run import store  # noqa: E402
from memorybench.run.selection import finite as _num  # noqa: E402

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
    return sorted(set(labels), key=lambda x: style[_base(x)].order if _base(x) in style
                  else (len(FAMILIES), 0, 0, x))


def _base(series: str) -> str:
    """The model label of a series label (``gru [68u]`` -> ``gru``)."""
    return re.sub(r" \[[^\]]*u\]$", "", series)


@dataclass(frozen=True)
class Figure:
    """A written plot: its PNG and SVG paths and a caption for the report."""

    title: str
    png: Path
    svg: Path
    caption: str


# -- data --------------------------------------------------------------------------------------
def runs_frame(runs: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """One row per run with the columns the plots need: ``label`` (the model's identity),
    ``series`` (the label, with the units where one panel holds two sizes of one model),
    ``block`` (task, variant, dataset; the training settings in words where they differ) and
    ``chosen`` (the run is at its model's chosen learning rate)."""
    runs = list(runs)
    chosen = {tuple(r[k] for k in lb.ENTRY_KEY) for r in lb.aggregate(runs) if r["chosen"]}
    ids = lb.identities(runs)
    _, words = lb.train_differences(lb.train_settings(runs))
    rows = []
    for r in runs:
        rows.append(dict(
            run_dir=r.get("run_dir"), status=r.get("status"), task=r["task"],
            variant=variant_of(r.get("task_params")), dataset=r.get("dataset") or "synthetic",
            train=r.get("train", ""), length=int(r["length"]), model=str(r["model"]),
            label=text(ids[lb.config_key(r)]),
            units=r.get("units"), layers=r.get("layers"), model_params=r.get("model_params", ""),
            seed=r.get("seed"), lr=_num(r.get("lr")), chosen=lb.entry_key(r) in chosen,
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
    df["series"] = [f"{lab} [{lb.fmt(u)}u]" if n > 1 else lab
                    for lab, u, n in zip(df.label, df.units, n_sizes, strict=True)]
    return df


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


def _wrapped(block: str, inches: float, per_inch: float = 8.0) -> str:
    """A task block's title wrapped to its panel's width: a block names its training settings in
    words, and unwrapped, the titles of neighbouring panels run into each other."""
    spaced = re.sub(r",(?=\S)", ", ", block)  # "(a=1,b=2)" may break after a comma
    return textwrap.fill(spaced, max(16, int(inches * per_inch)), break_on_hyphens=False)


def _title_lines(blocks: Iterable[str], inches: float, per_inch: float = 8.0) -> int:
    """The most lines any of ``blocks``' titles takes at that width (for the figure's height)."""
    return max((_wrapped(b, inches, per_inch).count("\n") + 1 for b in blocks), default=1)


def _legend_height(n: int) -> float:
    """Inches a right-hand legend of ``n`` entries needs (its columns: ``_legend``)."""
    return 0.22 * math.ceil(n / _legend_cols(n)) + 0.4


def _legend_cols(n: int) -> int:
    return 1 if n <= 14 else 2 if n <= 30 else 3


def _legend(fig, axes, order: list[str]) -> None:
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


def _title(fig, text: str):
    """The figure's title over its panels, wrapped to their width: centred over the whole
    figure, a long title would run into a legend right of the panels (``_legend``). Returns
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


def _series_lines(ax, data: pd.DataFrame, x: str, y: str, style: dict[str, Style]) -> None:
    """Mean over seeds of ``y`` against ``x`` per series, ±1 std band."""
    sizes: dict[str, int] = {}
    for series in ordered(data["series"], style):
        s = data[data["series"] == series]
        agg = s.groupby(x)[y].agg(["mean", "std"]).reset_index()
        base = _base(series)
        k = sizes.get(base, 0)
        sizes[base] = k + 1
        _line(ax, agg[x], agg["mean"], agg["std"], series, style[base], dashed=k > 0)


# -- plots -------------------------------------------------------------------------------------
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
        fig, axes = grid(len(lengths), w=4.0, h=3.1, min_h=_legend_height(n + 2))
        first = bdf.iloc[0]
        higher = bool(first.higher_is_better)
        for ax, length in zip(axes, lengths, strict=True):
            sub = hist[hist["length"] == length]
            _series_lines(ax, sub, "step", "val_metric", style)
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
        _legend(fig, axes, ordered(hist["series"], style))
        _title(fig, f"Learning curves: {block}")
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
    title_h = 0.2 * (_title_lines(blocks, 4.6) - 1)
    fig, axes = grid(len(blocks), ncols_max=3, w=4.6, h=3.5 + title_h,
                      min_h=_legend_height(n + 2))
    for ax, block in zip(axes, blocks, strict=True):
        b = sub[sub["block"] == block]
        _series_lines(ax, b, "length", "score", style)
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
        ax.set_title(_wrapped(block, 4.6))
        ax.set_xlabel("length (log scale)")
        ax.set_ylabel("normalised test score")
    _legend(fig, axes, ordered(sub["series"], style))
    _title(fig, "Memory horizon: score against length")
    return save(fig, out, "horizon_curves", "Memory horizon curves",
                 "Normalised test score (0 = trivial predictor, 1 = perfect) against length on a "
                 "log axis, at each model's chosen learning rate; line: mean over seeds, band: "
                 "±1 std; dashed: solved threshold.")


def _decorate(frame: pd.DataFrame, runs: list[dict[str, Any]]) -> pd.DataFrame:
    """``label``, ``block`` and ``series`` (as in ``runs_frame``) for a frame of entries or
    horizons (one row per model size and block)."""
    records = frame.to_dict("records")
    ids = lb.identities(records)
    _, words = lb.train_differences(lb.train_settings(runs))
    multi = frame["train"].nunique() > 1
    frame = frame.assign(
        label=[text(ids[lb.config_key(r)]) for r in records],
        block=[text(block_label(r["task"], r["variant"], r["dataset"],
                                words.get(r["train"], "") if multi else "")) for r in records])
    n_sizes = frame.groupby(["block", "label"])["units"].transform(
        lambda u: u.astype(str).nunique())
    frame["series"] = [f"{lab} [{lb.fmt(u)}u]" if n > 1 else lab
                       for lab, u, n in zip(frame.label, frame.units, n_sizes, strict=True)]
    return frame


def _entries(runs: list[dict[str, Any]]) -> pd.DataFrame:
    """The chosen-rate entries (``leaderboard.aggregate``) with ``label``, ``block``,
    ``series``."""
    ent = pd.DataFrame([r for r in lb.aggregate(runs) if r["chosen"]])
    return ent if ent.empty else _decorate(ent, runs)


def horizon_chart(runs: list[dict[str, Any]], searches: Iterable[dict[str, Any]], out: Path,
                  style: dict[str, Style]) -> Figure | None:
    """Models x tasks: each model's horizon bracket [largest solved, smallest failed) on a log
    length axis, the lengths it was run at, and the seeds that solved the horizon length."""
    hor = lb.horizons(runs, list(searches))
    ent = _entries(runs)
    if hor.empty or ent.empty:
        return None
    seeds = {(r.block, r.series, r.length): f"{round(r.solved_frac * r.n_seeds)}/{r.n_seeds}"
             for r in ent.itertuples()}
    with_threshold = {r.block for r in ent.itertuples() if _num(r.solved_at) is not None}
    data = _decorate(hor, runs)
    data = data[data["block"].isin(with_threshold)]  # no solved threshold (MNIST): no horizon
    if data.empty:
        return None
    blocks = sorted(data["block"].unique())
    series = ordered(data["series"], style)
    ypos = {s: i for i, s in enumerate(series)}
    ncols = min(len(blocks), 3)
    h = 0.3 * len(series) + 1.4 + 0.2 * (_title_lines(blocks, 4.3) - 1)
    fig, axes = grid(len(blocks), ncols_max=ncols, w=4.3, h=h, sharey=True)
    for ax, block in zip(axes, blocks, strict=True):
        b = data[data["block"] == block]
        lengths = sorted({int(x) for s in b["lengths"] for x in str(s).split(",") if x})
        lo, hi = min(lengths) / 1.5, max(lengths) * 2.2
        for r in b.to_dict("records"):
            y = ypos[r["series"]]
            st = style[_base(r["series"])]
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
                if not lb.missing(h_):
                    h = float(h_)
                    ax.plot([h, gap], [y, y], color=st.colour, lw=1.2, ls=":")
                    ax.scatter([h], [y], marker=st.marker, s=50, color=st.colour, zorder=4,
                               edgecolor="black", lw=0.4)
                ax.text(gap, y, "?", va="center", ha="center", fontsize=9, color=st.colour,
                        fontweight="bold", zorder=5)
                note, x_note = "not measured (a run failed)", gap
            elif lb.missing(h_):  # not even the smallest length: [-, f)
                f = float(f_)
                ax.plot([lo, f], [y, y], color=st.colour, lw=5, alpha=0.25, solid_capstyle="butt")
                ax.scatter([f], [y], marker=st.marker, s=46, facecolor="white",
                           edgecolor=st.colour, lw=1.4, zorder=4)
                note, x_note = seeds.get((block, r["series"], int(f)), ""), f
            else:
                h = float(h_)
                f = hi if (lb.missing(f_) or at_max) else float(f_)
                ax.plot([h, f], [y, y], color=st.colour, lw=5, alpha=0.3, solid_capstyle="butt")
                ax.scatter([h], [y], marker=st.marker, s=50, color=st.colour, zorder=4,
                           edgecolor="black", lw=0.4)
                if at_max or lb.missing(f_):
                    ax.annotate("", (hi, y), (h, y), arrowprops=dict(
                        arrowstyle="->", color=st.colour, lw=1.2))
                else:
                    ax.plot([f, f], [y - 0.28, y + 0.28], color=st.colour, lw=1.6)
                note, x_note = seeds.get((block, r["series"], int(h)), ""), f
            if note:
                ax.text(min(x_note, hi) * 1.07, y, note, va="center", ha="left", fontsize=7,
                        color="0.25")
        ax.set_xscale("log")
        ax.set_xlim(lo, hi * 1.6)
        ax.set_xticks(lengths, [str(v) for v in lengths])
        ax.minorticks_off()
        ax.tick_params(axis="x", labelsize=8)
        ax.grid(axis="y", visible=False)
        for i in range(1, len(series)):  # a rule between families
            if style[_base(series[i])].family != style[_base(series[i - 1])].family:
                ax.axhline(i - 0.5, color="0.75", lw=0.8)
        ax.set_title(_wrapped(block, 4.3))
        ax.set_xlabel("length (log scale)")
    axes[0].set_yticks(range(len(series)), series)
    axes[0].set_ylim(len(series) - 0.5, -0.5)
    key = [Line2D([], [], color="0.3", marker="o", ls="", label="horizon: largest solved"),
           Line2D([], [], color="0.3", lw=5, alpha=0.3, label="bracket to smallest failed |"),
           Line2D([], [], color="0.3", marker="o", mfc="white", ls="",
                  label="none solved: smallest tried"),
           Line2D([], [], color="0.3", marker="$\\rightarrow$", ls="",
                  label="still solving at the search's maximum"),
           Line2D([], [], color="0.3", marker=".", ls="", label="a length run (hollow: failed)")]
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


def score_heatmap(runs: list[dict[str, Any]], out: Path,
                  style: dict[str, Style]) -> Figure | None:
    """Per task block a heatmap of the mean normalised test score, models x lengths, at each
    model's chosen rate; solved cells (majority of seeds) outlined."""
    ent = _entries(runs)
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
    titles = {b: _wrapped(b, cell_w * w + 0.5, per_inch=12) for b, w in zip(blocks, widths,
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
    title_h = 0.17 * (_title_lines(blocks, 3.6, per_inch=12) - 1)
    fig, grid = plt.subplots(2, len(blocks), figsize=(3.6 * len(blocks) + 0.5,
                                                      max(6.0 + title_h, _legend_height(n))),
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
                st = style[_base(series)]
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
                ax.set_title(_wrapped(block, 3.6, per_inch=12), fontsize="medium")
            if col == 0:
                ax.set_ylabel("normalised test score")
    _legend(fig, axes, ordered(agg["series"], style))
    _title(fig, "Cost against score")
    return save(fig, out, "cost_vs_score", "Cost against score",
                 "Mean normalised score of each (model, length) at the chosen learning rate "
                 "against its parameter count (top) and its mean training wall time (bottom), a "
                 "column per task.")


def _not_measured_length(why) -> float | None:
    """The length in a horizons row's ``not_measured`` ("L=50: ..."), or None."""
    if not isinstance(why, str) or not why.startswith("L="):
        return None
    try:
        return float(why[2:].split(":", 1)[0])
    except ValueError:
        return None


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


def time_to_solve_figures(runs: Iterable[dict[str, Any]], out: Path, style) -> list:
    """One Kaplan-Meier figure per task (``Figure``), one panel per probed length that has runs
    of at least two models: the fraction of runs not yet solved against training steps, one
    line per model in its report style (``style``: ``styles``); the numbers are
    ``report/survival.py``'s."""
    table = survival_times(runs)
    figures = []
    for task in sorted({t for t, _, _ in table}):
        lengths = sorted({L for t, _, L in table if t == task})
        lengths = [L for L in lengths if sum(1 for t, _, x in table if t == task and x == L) > 1]
        if not lengths:
            continue
        models = sorted({m for t, m, _ in table if t == task},
                        key=lambda m: (style[m].order if m in style else (99,), m))
        fig, axes = grid(len(lengths), ncols_max=3, w=4.0, h=3.0, sharey=True)
        budget = max([*(x for t in table.values() for x in t.censored_at), 1])
        for ax, L in zip(axes, lengths, strict=True):
            for i, m in enumerate(models):
                t = table.get((task, m, L))
                if t is None or not t.n:
                    continue
                steps, frac = t.curve()
                colour = style[m].colour if m in style else None
                ax.step([*steps, budget], [*frac, frac[-1]], where="post", color=colour,
                        linestyle=("-", "--", ":", "-.")[i % 4], linewidth=1.5, label=m)
            ax.set_title(f"{task}, L = {L}")
            ax.set_xlabel("training steps")
            ax.set_ylim(-0.03, 1.03)
        axes[0].set_ylabel("fraction of runs not yet solved")
        handles: dict[str, Any] = {}
        for ax in axes:
            for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
                handles.setdefault(lab, h)
        fig.legend(list(handles.values()), list(handles), loc="outside right center",
                   frameon=False, fontsize=8)
        title = f"Time to solve: {task}"
        fig.suptitle(f"{title} (Kaplan-Meier, runs at the chosen rate, censored at the budget)")
        figures.append(save(fig, out, f"time_to_solve_{task}", title,
                                  "Fraction of runs that have not yet reached the solved "
                                  "threshold on validation, against training steps; a run that "
                                  "never reaches it is censored at its budget. Curves that fall "
                                  "earlier solve faster; the log-rank p against the reference is "
                                  "in the Findings."))
    return figures
