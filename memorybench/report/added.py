"""The Findings' section on models added beside a study (``memorybench study --with``).

Each added model's horizon on each task (the median of its seeds' horizons with the interval,
and the majority bracket), and its contrast with each of the study's ``added_against`` models
(the LSTM and the GRU for why-lstm): the same two-sided Mann-Whitney test on the seeds' horizons
as every other contrast of the Findings, "gained" or "lost" only where p < ``verdict.ALPHA``.
"""

from __future__ import annotations

from typing import Any

from memorybench.report import verdict as vd
from memorybench.report.format import bracket_of, md_table
from memorybench.report.format import md_text as e


def added_models(study: dict[str, Any] | None) -> list[tuple[str, str]]:
    """(model, where it was registered) of the study record's ``added`` items; [] without."""
    items = (study or {}).get("added")
    if not isinstance(items, list):
        return []
    return [(str(x["model"]), str(x.get("source", "?"))) for x in items
            if isinstance(x, dict) and isinstance(x.get("model"), str)]


def added_section(study: dict[str, Any] | None, tasks: list[str],
                  by_task: dict[str, dict[str, dict]], failed_only: set,
                  seeds: dict[tuple[str, str], vd.SeedHorizons]) -> tuple[list[str], list[str]]:
    """(lines, headline) of the added models against the study's ``added_against`` models."""
    added = added_models(study)
    if not added:
        return [], []
    against = [m for m in (study or {}).get("added_against") or [] if isinstance(m, str)]
    rows, head = [], []
    for model, _ in added:
        for task in tasks:
            r = by_task.get(task, {}).get(model)
            sh = seeds.get((task, model))
            if r is None or (task, model) in failed_only:
                rows.append([model, task, "not measured", "-", *["-"] * len(against)])
                head.append(f"{e(task)}: {e(model)} (added) not measured.")
                continue
            words = []
            for ref in against:
                c = vd.contrast(sh, seeds.get((task, ref)))
                words.append(c.words())
            rows.append([model, task, vd.summary(sh), bracket_of(r), *words])
            head.append(f"{e(task)}: {e(model)} (added) median horizon "
                        f"{vd.fmt_length(sh.median if sh else None)}; "
                        + "; ".join(f"against {e(ref)}: {w}"
                                    for ref, w in zip(against, words, strict=True))
                        + ".")
    sources = "; ".join(f"{e(m)}: {e(src)}" for m, src in added)
    lines = ["## Added models", "",
             f"Models put beside the study's (`memorybench study --with`; registered by "
             f"{sources}), trained with the study's settings, seeds, learning-rate grid and "
             f"parameter budget. Against "
             + (", ".join(e(m) for m in against) or "no model")
             + f": Mann-Whitney on the seeds' horizons, two-sided, gained or lost only where "
             f"p < {vd.ALPHA}.", "",
             md_table(["model", "task", "median horizon (interval, coverage)", "bracket",
                       *[f"against {m}" for m in against]], rows), ""]
    return lines, head
