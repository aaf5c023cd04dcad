"""The time-to-solve figures of a report: Kaplan-Meier curves per task (the numbers are
``report/survival.py``'s)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from memorybench.report.plot_style import grid, save
from memorybench.report.survival import times as survival_times


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
