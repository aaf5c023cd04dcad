"""The memory-path Jacobian's figure and its summary for the Findings, from ``jacobian.csv``;
``run_jacobians``: the diagnostic computed (``diagnostics/jacobian.py``) and drawn."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from memorybench.diagnostics.jacobian import CSV_COLUMNS, PATHS, write_jacobians
from memorybench.errors import ConfigError

# -- figure ------------------------------------------------------------------------------------
PANEL_TITLES = {
    "h": r"$\|\partial h_{T-1} / \partial h_{T-1-k}\|_2$",
    "c": r"memory $\|\partial c_{T-1} / \partial c_{T-1-k}\|_2$",
    "x_marked": r"marked input $\|\partial L / \partial x_{T-1-k}\|$",
}


def _positive(v) -> np.ndarray:
    """Values for a log axis: zeros and negatives (none expected) left out, not drawn at -inf."""
    v = np.asarray(v, dtype=float)
    return np.where(v > 0, v, np.nan)


def plot_jacobians(df, path: Path, title: str) -> list[Path]:
    """Norm against lag, log y: rows init / trained, columns h, c, x_marked (those present);
    per model its median across seeds as a line (report colour and marker) and a band from the
    minimum to the maximum across seeds. PNG and SVG."""
    import matplotlib

    matplotlib.use("Agg")  # files only
    import matplotlib.pyplot as plt
    import seaborn as sns

    from memorybench.report.plot_style import RC, save_pair, styles

    data = df[df["path"].isin(PATHS) & df["norm"].notna()]
    models = list(dict.fromkeys(df["model"]))
    look = styles((m, m) for m in models)
    models.sort(key=lambda m: look[m].order)
    paths = [p for p in PATHS if (data["path"] == p).any()] or ["h"]
    states = [s for s in ("init", "trained") if (df["state"] == s).any()] or ["init"]
    with sns.axes_style("whitegrid"), matplotlib.rc_context(RC):
        fig, axes = plt.subplots(len(states), len(paths),
                                 figsize=(4.6 * len(paths) + 2.4, 3.6 * len(states) + 0.6),
                                 squeeze=False, sharex=True)
        for r, state in enumerate(states):
            for c, p in enumerate(paths):
                ax = axes[r][c]
                for model in models:
                    g = data[(data["model"] == model) & (data["state"] == state)
                             & (data["path"] == p)]
                    if g.empty:
                        continue
                    stat = g.groupby("lag")["norm"].agg(["median", "min", "max"])
                    lag = stat.index.to_numpy(dtype=float)
                    ax.fill_between(lag, _positive(stat["min"]), _positive(stat["max"]),
                                    color=look[model].colour, alpha=0.15, lw=0)
                    ax.plot(lag, _positive(stat["median"]), lw=1.6,
                            color=look[model].colour, marker=look[model].marker,
                            markevery=max(1, len(lag) // 6), ms=4,
                            label=model.replace("$", r"\$"))
                ax.set_yscale("log")
                ax.set_title(f"{PANEL_TITLES[p]}, {state}", fontsize=10)
                if r == len(states) - 1:
                    ax.set_xlabel("lag k (steps back from the last)")
            axes[r][0].set_ylabel(f"{state}: norm (log)")
        handles, labels = {}, {}
        for ax in axes.flat:
            for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
                handles.setdefault(lab, h)
                labels[lab] = lab
        fig.legend(list(handles.values()), list(labels), loc="upper left",
                   bbox_to_anchor=(1.0, 0.92), frameon=False,
                   ncol=1 if len(labels) <= 14 else 2, title="model (median, band: min-max "
                   "over seeds)", title_fontsize=9)
        fig.suptitle(title)
        fig.tight_layout()
        return save_pair(fig, path)


def run_jacobians(task: str, length: int, runs: Sequence[str | Path], out: str | Path,
                  **options) -> dict[str, Any]:
    """``diagnostics.jacobian.write_jacobians`` with the figure: ``out/jacobian.csv``,
    ``jacobian.png`` and ``.svg``; ``options`` are its (``root``, ``batch``, ``keep``)."""
    return write_jacobians(task, length, runs, out, draw=plot_jacobians, **options)


# -- summary for the Findings ------------------------------------------------------------------
def half_life(median: Sequence[float]) -> int | None:
    """The first lag whose norm is below half the lag-1 norm (``median`` indexed by lag from
    0); None if it never drops that far (or there is no lag 1)."""
    v = np.asarray(median, dtype=float)
    if v.size < 2 or not np.isfinite(v[1]):
        return None
    below = np.nonzero(v[1:] < 0.5 * v[1])[0]
    return int(below[0]) + 1 if below.size else None


def jacobian_summary(csv_path: str | Path) -> list[dict[str, Any]]:
    """Per model and state (init / trained), from ``jacobian.csv``: ``seeds`` (how many runs),
    ``lag`` (the largest lag, T-1), and for the paths ``h`` and ``c``: ``<p>_last_median`` /
    ``_min`` / ``_max`` (across seeds) of the batch-mean norm at that lag, i.e. ||dh_{T-1}/dh_0||
    and ||dc_{T-1}/dc_0||, and ``<p>_half_life``: the first lag where the median across seeds
    first drops below half its lag-1 value (None if never). Paths a model lacks are None.
    ``note``: "not measured: ..." when no run of the model could be measured, else ""."""
    import io

    import pandas as pd

    from memorybench.run import store

    # a regular file only (a FIFO named jacobian.csv never hangs the report), .gz as shipped
    raw = store.read_regular(csv_path, limit=64 * 2**20)
    df = pd.read_csv(io.BytesIO(raw), keep_default_na=False, na_values=[""],
                     compression="gzip" if str(csv_path).endswith(".gz") else None)
    missing = [c for c in CSV_COLUMNS if c not in df.columns]
    if missing:
        raise ConfigError(f"{csv_path}: not a jacobian.csv (no column {missing[0]!r}); expected "
                          f"columns {', '.join(CSV_COLUMNS)}")
    out = []
    for (model, state), g in df.groupby(["model", "state"], sort=False):
        rec: dict[str, Any] = {"model": model, "state": state,
                               "seeds": int(g["run_id"].nunique()), "lag": None}
        notes = sorted(set(g["note"].dropna()) - {""})
        measured = g[g["path"].isin(["h", "c"]) & g["norm"].notna()]
        rec["note"] = notes[0] if measured.empty and notes else ""
        if not measured.empty:
            rec["lag"] = int(measured["lag"].max())
        for p in ("h", "c"):
            m = measured[measured["path"] == p]
            keys = [f"{p}_last_median", f"{p}_last_min", f"{p}_last_max", f"{p}_half_life"]
            if m.empty:
                rec.update(dict.fromkeys(keys))
                continue
            last = m[m["lag"] == m["lag"].max()]["norm"]
            curve = m.groupby("lag")["norm"].median().sort_index()
            rec.update({keys[0]: float(last.median()), keys[1]: float(last.min()),
                        keys[2]: float(last.max()),
                        keys[3]: half_life(curve.reindex(range(int(curve.index.max()) + 1))
                                           .to_numpy())})
        out.append(rec)
    return out
