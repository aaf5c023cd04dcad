"""Findings: the answer of a study, written from the numbers of a results folder, never by hand.

``findings(runs, searches, study, gradflow)`` returns Markdown (``report/findings.md``; the HTML
report renders the same lines). Every sentence cites its numbers: the horizon as a bracket
``[largest solved, smallest failed)``, the seeds solved at the horizon and the chosen learning
rate. A model or task with no run, or whose runs all failed, is reported as "not measured",
never left out silently.

Sections: per task, the models ranked by horizon (ties share a rank); for each LSTM ablation,
the horizon kept, lost or gained against the full LSTM (the study's ``reference`` model); the
trained gradient-flow ratio ||dL/dx_first|| / ||dL/dx_last|| per model; and headline lines (the
first lines of the page, printed by ``make demo``).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from memorybench.report.leaderboard import _missing, bracket, fmt, horizons, md_table
from memorybench.run import store

FINDINGS = "findings.md"
STUDY_RECORD = "study.json"

ABLATIONS = {  # Greff et al. 2017's variants, and chrono initialisation (Tallec & Ollivier 2018)
    "lstm_nig": "no input gate",
    "lstm_nfg": "no forget gate",
    "lstm_nog": "no output gate",
    "lstm_niaf": "no input activation",
    "lstm_noaf": "no output activation",
    "lstm_cifg": "coupled input and forget gate",
    "lstm_peephole": "peephole connections",
    "lstm_chrono": "chrono initialisation",
    "lstm_full": "every part (our cell)",
    "cec": "every gate fixed open (the bare constant error carousel)",
}


def load_searches(results: str | Path, warn=None) -> list[dict[str, Any]]:
    """The horizon searches' records under ``results/searches/`` (unreadable ones skipped; those
    of the wrong shape, ``store.SEARCH_TYPES``, with a message to ``warn``)."""
    out = []
    for p in sorted((Path(results) / "searches").glob("*.json")):
        if store.link_below(results, p) is not None:  # a link leads out of the results
            continue
        try:
            rec = json.loads(p.read_text())
        except (OSError, ValueError):
            continue
        problem = store.record_problem(rec, store.SEARCH_TYPES, ("task", "model"))
        if problem is None:
            out.append(rec)
        elif warn is not None:
            warn(f"skipping search record {p}: {problem}")
    return out


def load_study(results: str | Path, warn=None) -> dict[str, Any] | None:
    """The study record (``study.json``), or None (absent, unreadable, or of the wrong shape,
    ``store.STUDY_TYPES``, then with a message to ``warn``)."""
    p = Path(results) / STUDY_RECORD
    if store.link_below(results, p) is not None:
        return None
    try:
        rec = json.loads(p.read_text())
    except (OSError, ValueError):
        return None
    problem = store.record_problem(rec, store.STUDY_TYPES)
    if problem is not None and warn is not None:
        warn(f"not read: {p}: {problem}")
    return rec if problem is None else None


def gradflow_ratios(results: str | Path) -> list[dict[str, Any]]:
    """Per gradflow.csv under ``results/gradflow/`` and model: ||dL/dx_first|| / ||dL/dx_last||
    at init and trained."""
    rows = []
    for csv_path in sorted((Path(results) / "gradflow").glob("*/gradflow.csv")):
        if store.link_below(results, csv_path) is not None:
            continue
        try:
            with open(csv_path, newline="") as f:
                data = list(csv.DictReader(f))
        except OSError:
            continue
        series: dict[tuple[str, str], dict[int, float]] = {}
        for r in data:
            try:
                series.setdefault((r["model"], r["state"]), {})[int(r["t"])] = float(
                    r["grad_norm"])
            except (KeyError, ValueError):
                continue
        models = list(dict.fromkeys(m for m, _ in series))
        for m in models:
            row = {"where": csv_path.parent.name, "model": m}
            for state in ("init", "trained"):
                s = series.get((m, state))
                row[state] = (s[min(s)] / s[max(s)]) if s and s[max(s)] > 0 else None
            rows.append(row)
    return rows


def _ratio(v: float | None) -> str:
    if v is None:
        return "not measured"
    return "0 (vanished: below float32 resolution)" if v == 0 else f"{v:.3g}"


def _horizon_phrase(r: dict[str, Any]) -> str:
    """'holds L=100, not L=200 (2/2 seeds at lr 0.01)' from a horizons() row."""
    h, f = r["horizon"], r["smallest_failed"]
    lrs = dict(x.split(":") for x in (r.get("lrs_chosen") or "").split(",") if ":" in x)
    seeds = r.get("seeds_at_horizon")
    if _missing(h):
        lr = lrs.get(str(f))
        return (f"solves no length tried (fails at L={fmt(f)}"
                + (f", best lr {lr}" if lr else "") + ")")
    text = f"solves L={fmt(h)}"
    if r.get("hit_max") is True:
        text += " (the search's maximum: the horizon may be longer)"
    elif not _missing(f):
        text += f", not L={fmt(f)}"
    extra = []
    if seeds:
        extra.append(f"{seeds} seeds")
    if lrs.get(str(h)):
        extra.append(f"lr {lrs[str(h)]}")
    return text + (f" ({', '.join(extra)} at L={fmt(h)})" if extra else "")


def _horizon_value(r: dict[str, Any] | None) -> float | None:
    if r is None:
        return None
    return 0.0 if _missing(r["horizon"]) else float(r["horizon"])


def factor_table(factors: Any, models: list[str], tasks: list[str],
                 by_task: dict[str, dict[str, dict]], failed_only: set) -> list[str]:
    """The answer's skeleton: one row per model, what it has of the LSTM's argument (the
    study's ``factors``: columns and a value per model and column) and its horizon bracket on
    each task. [] when the study declares no factors or they are not of that shape."""
    try:
        columns = [str(c) for c in factors["columns"]]
        table_of = {str(m): [str(v) for v in row] for m, row in factors["models"].items()}
    except (TypeError, KeyError, AttributeError):
        return []
    rows = []
    for m in models:
        values = table_of.get(m, [])
        values = (values + ["?"] * len(columns))[:len(columns)]
        cells = []
        for task in tasks:
            r = by_task.get(task, {}).get(m)
            if r is None or (task, m) in failed_only:
                cells.append("not measured")
                continue
            seeds = f" ({r['seeds_at_horizon']} seeds)" if r.get("seeds_at_horizon") else ""
            cells.append(bracket(r["horizon"], r["smallest_failed"], r["hit_max"] is True)
                         + seeds)
        rows.append([m, *values, *cells])
    return ["## The argument, step by step", "",
            "What each model has of the LSTM's design (Hochreiter & Schmidhuber 1997: the unit "
            "self-loop, the constant error carousel, then input and output gates; Gers et al. "
            "2000: the forget gate), and its horizon bracket [largest solved, smallest failed) "
            "on each task.", "",
            md_table(["model", *columns, *[f"{t} horizon" for t in tasks]], rows), ""]


def findings(
    runs: list[dict[str, Any]],
    searches: Iterable[dict[str, Any]] = (),
    study: dict[str, Any] | None = None,
    gradflow: list[dict[str, Any]] | None = None,
) -> tuple[str, list[str]]:
    """(Markdown of the Findings section, its headline lines)."""
    searches = list(searches)
    hor = horizons(runs, searches)
    recs = hor.to_dict("records")
    # seeds solved at the horizon, from the chosen-rate entries
    from memorybench.report.leaderboard import aggregate

    chosen = {(r["task"], r["model"], r["length"]): r for r in aggregate(runs) if r["chosen"]}
    for r in recs:
        e = None if _missing(r["horizon"]) else chosen.get((r["task"], r["model"],
                                                             int(r["horizon"])))
        r["seeds_at_horizon"] = (f"{round(e['solved_frac'] * e['n_seeds'])}/{e['n_seeds']}"
                                 if e else None)
    failed_only = {(r["task"], r["model"]) for r in runs} - {
        (r["task"], r["model"]) for r in runs if r.get("status") == "completed"}

    tasks = list(study["tasks"]) if study else sorted({r["task"] for r in recs})
    models = list(study["models"]) if study else sorted({r["model"] for r in recs})
    reference = (study or {}).get("reference", "lstm")
    lines = ["# Findings", ""]
    if study:
        lines += [f"Study `{study.get('name')}` at scale `{study.get('scale')}`: "
                  f"{study.get('description', '')}.", ""]
        if study.get("settings_in_words"):
            lines += [f"Settings: {study['settings_in_words']}.", ""]
    lines += ["Every line is computed from the runs in this folder. Horizon: the largest length "
              "a majority of seeds solve at the model's learning rate chosen on validation; "
              "bracket [largest solved, smallest failed).", ""]

    headline: list[str] = []
    by_task: dict[str, dict[str, dict]] = {}
    for r in recs:
        by_task.setdefault(r["task"], {})[r["model"]] = r
    lines += factor_table((study or {}).get("factors"), models, tasks, by_task, failed_only)
    # a task without a solved threshold (MNIST) has no horizon: say so, never "no model solves"
    thresholded = {r["task"] for r in runs if r.get("solved_at") is not None}
    for task in tasks:
        rows = by_task.get(task, {})
        lines += [f"## {task}", ""]
        if task not in thresholded and any(r.get("task") == task for r in runs):
            lines += [f"{task} has no solved threshold, so no memory horizon: its models are "
                      "ranked by test score in the leaderboard.", ""]
            headline.append(f"{task}: no solved threshold (no horizon); see the leaderboard.")
            continue
        measured = [m for m in models if m in rows and (task, m) not in failed_only]
        order = sorted(measured, key=lambda m: -(_horizon_value(rows[m]) or 0.0))
        table, rank, prev = [], 0, None
        for i, m in enumerate(order):
            v = _horizon_value(rows[m])
            if v != prev:
                rank, prev = i + 1, v
            r = rows[m]
            table.append([str(rank), m, bracket(r["horizon"], r["smallest_failed"],
                                                 r["hit_max"] is True),
                          r["seeds_at_horizon"] or "-", r["lrs_chosen"] or "-",
                          fmt(r["params"])])
        for m in models:
            if m not in measured:
                why = "every run failed" if (task, m) in failed_only else "no run"
                table.append(["-", m, "not measured", "-", "-", f"({why})"])
        lines += [md_table(["rank", "model", "horizon bracket", "seeds solved at horizon",
                            "chosen lr per length", "params"], table), ""]
        if order:
            best_v = _horizon_value(rows[order[0]])
            best = [m for m in order if _horizon_value(rows[m]) == best_v]
            if best_v:
                headline.append(f"{task}: longest horizon {', '.join(best)}, "
                                f"{_horizon_phrase(rows[best[0]])}.")
            else:
                headline.append(f"{task}: no model solves the shortest length tried.")
            for m in ("simple_rnn", "ungated", reference):
                if m in rows and m not in best and (task, m) not in failed_only:
                    headline.append(f"{task}: {m} {_horizon_phrase(rows[m])}.")
        else:
            headline.append(f"{task}: not measured.")
        ablations = [m for m in models if m in ABLATIONS]
        if ablations:
            ref = rows.get(reference) if (task, reference) not in failed_only else None
            lines += [f"Ablations against `{reference}` "
                      + (f"({_horizon_phrase(ref)}):" if ref else "(not measured):"), ""]
            for m in ablations:
                r = rows.get(m) if (task, m) not in failed_only else None
                if r is None or ref is None:
                    lines.append(f"- `{m}` ({ABLATIONS[m]}): not measured"
                                 + ("" if r else f" (no completed run of {m})") + ".")
                    continue
                a, b = _horizon_value(r), _horizon_value(ref)
                verdict = ("kept" if a == b else "lost" if a < b else "gained")
                lines.append(f"- `{m}` ({ABLATIONS[m]}): horizon {verdict}: "
                             f"{bracket(r['horizon'], r['smallest_failed'], r['hit_max'] is True)}"
                             f" against {bracket(ref['horizon'], ref['smallest_failed'])}; "
                             f"{_horizon_phrase(r)}.")
            lines.append("")

    for task, why in ((study or {}).get("not_searched") or {}).items():
        lines += [f"## {task}", "", f"Not measured at this scale: {why}.", ""]
        headline.append(f"{task}: not measured at this scale.")
    if gradflow is not None:
        lines += ["## Gradient flow", "",
                  "`||dL/dx_first|| / ||dL/dx_last||`: how much of the loss gradient reaches the "
                  "first input compared with the last (1: none lost; 1e-6: vanished), mean over "
                  "a batch, at initialisation and after training (the run at the chosen rate, "
                  "seed 0).", ""]
        if gradflow:
            lines += [md_table(["where", "model", "at init", "trained"],
                               [[g["where"], g["model"], _ratio(g["init"]),
                                 _ratio(g["trained"])] for g in gradflow]), ""]
            for g in gradflow:
                if g["trained"] is not None and g["model"] in ("simple_rnn", "ungated",
                                                               reference):
                    headline.append(f"gradient flow ({g['where']}): trained {g['model']} passes "
                                    f"{_ratio(g['trained'])} of the last step's gradient to "
                                    f"the first step.")
        else:
            lines += ["Not measured: no gradflow.csv in this results folder.", ""]
    body = "\n".join(lines).rstrip() + "\n"
    head = ["## Headline", "", *[f"- {h}" for h in headline], ""]
    i = body.index("Every line is computed")
    j = body.index("\n\n", i) + 2
    return body[:j] + "\n".join(head) + "\n" + body[j:], headline
