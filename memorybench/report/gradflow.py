"""The gradient flow's figure, and ``run_gradflow``: the diagnostic computed
(``diagnostics/gradflow.py``) and drawn, as ``memorybench gradflow`` and the study write it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from memorybench.diagnostics.gradflow import write_gradflow


def plot_gradflow(df, path: Path, title: str) -> list[Path]:
    """||dL/dx_t|| against t, log y: one panel at initialisation and one trained (when there are
    trained runs), one line per model in its report colour (``plot_style.styles``: by family, so a
    dozen models stay apart); several trained runs of one model: solid, dash-dot, dotted.
    Writes PNG and SVG (text stays text)."""
    import matplotlib

    matplotlib.use("Agg")  # files only
    import matplotlib.pyplot as plt
    import seaborn as sns

    from memorybench.report.plot_style import RC, save_pair, styles

    models = list(dict.fromkeys(df["model"]))
    look = styles((m, m) for m in models)
    models.sort(key=lambda m: look[m].order)
    trained = [s for s in dict.fromkeys(df["state"]) if s != "init"]
    panels = [("at initialisation", ["init"])] + ([("trained", trained)] if trained else [])
    with sns.axes_style("whitegrid"), matplotlib.rc_context(RC):
        fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels) + 2.2, 4.6),
                                 sharey=True, squeeze=False)
        for ax, (name, states) in zip(axes[0], panels, strict=True):
            for model in models:
                for i, state in enumerate(states):
                    g = df[(df["model"] == model) & (df["state"] == state)]
                    if g.empty:
                        continue
                    y = g["grad_norm"].to_numpy()
                    ax.plot(g["t"], np.where(y > 0, y, np.nan), lw=1.6,
                            ls=["-", "-.", ":"][i % 3], color=look[model].colour,
                            marker=look[model].marker, markevery=max(1, len(y) // 6), ms=4,
                            label=(model if state in ("init", "trained") else
                                   f"{model} ({state})").replace("$", r"\$"))  # no mathtext
            ax.set_yscale("log")
            ax.set_xlabel("time step t")
            ax.set_title(name)
        axes[0][0].set_ylabel(r"$\|\partial L / \partial x_t\|$ (mean over batch)")
        handles, labels = axes[0][-1].get_legend_handles_labels()
        fig.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.0, 0.93),
                   frameon=False, ncol=1 if len(labels) <= 14 else 2)
        fig.suptitle(title)
        fig.tight_layout()
        return save_pair(fig, path)


def run_gradflow(task: str, models, length: int, out: str | Path, **options) -> dict[str, Path]:
    """``diagnostics.gradflow.write_gradflow`` with the figure: ``out/gradflow.csv``,
    ``gradflow.png`` and ``.svg``; ``options`` are its (``runs``, ``units``, ``batch``, ``seed``,
    ``loss_steps``, ``root``, ``keep``)."""
    return write_gradflow(task, models, length, out, draw=plot_gradflow, **options)
