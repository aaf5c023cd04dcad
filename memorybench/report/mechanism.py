"""The Findings' mechanistic sections, read from the diagnostics a study writes under
``gradflow/``: the memory path's Jacobian (``diagnostics/jacobian.py``: ||dc_T/dc_0||,
||dh_T/dh_0|| per model, at init and trained, across seeds) and the gradient flow
(``diagnostics/gradflow.py``: ||dL/dx_first|| / ||dL/dx_last||). Each gives (lines, headline);
``report/findings.py`` places them. Files are read as regular files only
(``store.read_regular``)."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from memorybench.errors import MemorybenchError
from memorybench.report.format import fmt, md_table
from memorybench.report.format import md_text as e
from memorybench.run import store


def gradflow_ratios(results: str | Path) -> list[dict[str, Any]]:
    """Per gradflow.csv under ``results/gradflow/`` and model: ||dL/dx_first|| / ||dL/dx_last||
    at init and trained."""
    rows = []
    for csv_path in sorted((Path(results) / store.DIAGNOSTICS).glob("*/gradflow.csv")):
        if store.link_below(results, csv_path) is not None:
            continue
        try:  # a regular file only: a FIFO named gradflow.csv never hangs the report
            text = store.read_regular(csv_path).decode("utf-8")
            data = list(csv.DictReader(io.StringIO(text, newline="")))
        except (OSError, UnicodeDecodeError, MemorybenchError):
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


def memory_path(results: str | Path, warn=None) -> list[dict[str, Any]] | None:
    """The memory-path Jacobian's summaries (``report.jacobian.jacobian_summary``) of every
    ``gradflow/jacobian_*/jacobian.csv`` (or ``.csv.gz``, as the shipped results keep it) under
    ``results``, each with ``where`` (its folder); None when there is none."""
    from memorybench.report.jacobian import jacobian_summary

    rows, found = [], False
    folders = sorted((Path(results) / store.DIAGNOSTICS).glob("jacobian_*"))
    for csv_path in [next((p for p in (d / "jacobian.csv", d / "jacobian.csv.gz")
                           if p.is_file()), d / "jacobian.csv") for d in folders]:
        if store.link_below(results, csv_path) is not None:
            continue
        found = True
        try:
            summary = jacobian_summary(csv_path)
        except Exception as exc:  # a broken file: say so, read the others
            if warn is not None:
                warn(f"not read: {csv_path}: {exc}")
            continue
        rows += [{"where": csv_path.parent.name, **r} for r in summary]
    return rows if found else None


def _norm_range(r: dict[str, Any], p: str) -> str:
    med = r.get(f"{p}_last_median")
    if med is None:
        return "-"
    lo, hi = r.get(f"{p}_last_min"), r.get(f"{p}_last_max")
    return f"{med:.3g} ({lo:.3g}-{hi:.3g})" if r.get("seeds", 1) > 1 else f"{med:.3g}"


def memory_path_section(rows: list[dict[str, Any]], quoted: list[str],
                        models: list[str]) -> tuple[list[str], list[str]]:
    """(lines, headline) of the memory path's Jacobian: per model, at init and trained, the
    spectral norm of dc_{T-1}/dc_0 and dh_{T-1}/dh_0 (median over seeds, min-max) and the lag at
    which the median curve first halves."""
    lines = ["## The memory path", "",
             "How much of a perturbation of the state at the first step reaches the last: the "
             "spectral norm of dc_{T-1}/dc_0 along the memory (cells with one) and of "
             "dh_{T-1}/dh_0 along the hidden state, each the mean over a batch of test "
             "sequences, then the median over seeds (min-max across seeds); half-life: the first "
             "lag at which the median curve falls below half its lag-1 value (- : it never "
             "does). 1 means nothing is lost; below 1e-6 the path has vanished; far above 1 it "
             "explodes. Figure: the `jacobian_*` figure beside the gradient flow.", ""]
    order = {m: i for i, m in enumerate(models)}
    rows = sorted(rows, key=lambda r: (r["where"], order.get(r["model"], len(order)),
                                       r["state"]))
    table = [[r["where"], r["model"], r["state"], str(r.get("seeds") or "-"),
              _norm_range(r, "c"), fmt(r.get("c_half_life")), _norm_range(r, "h"),
              fmt(r.get("h_half_life"))] if not r.get("note") else
             [r["where"], r["model"], r["state"], "-", r["note"], "-", "-", "-"]
             for r in rows]
    lines += [md_table(["where", "model", "state", "seeds", "‖dc_T/dc_0‖", "c half-life",
                        "‖dh_T/dh_0‖", "h half-life"], table), ""]
    head = []
    for r in rows:
        if r["state"] == "trained" and not r.get("note") and r["model"] in quoted:
            mem = (f"memory ‖dc_T/dc_0‖ {_norm_range(r, 'c')}, "
                   if r.get("c_last_median") is not None else "")
            head.append(f"memory path ({e(r['where'])}, lag {r['lag']}): trained "
                        f"{e(r['model'])} keeps {mem}hidden ‖dh_T/dh_0‖ "
                        f"{_norm_range(r, 'h')} (median over {r['seeds']} seeds, min-max).")
    return lines, head


def _ratio(v: float | None) -> str:
    if v is None:
        return "not measured"
    return "0 (vanished: below float32 resolution)" if v == 0 else f"{v:.3g}"


def gradient_flow(gradflow: list[dict[str, Any]],
                  quoted: list[str]) -> tuple[list[str], list[str]]:
    lines = ["## Gradient flow", "",
             "`||dL/dx_first|| / ||dL/dx_last||`: how much of the loss gradient reaches the "
             "first input compared with the last (1: none lost; 1e-6: vanished), mean over "
             "a batch, at initialisation and after training (the run at the chosen rate, "
             "seed 0). It mixes memory with how much each input matters to the loss.", ""]
    if not gradflow:
        return lines + ["Not measured: no gradflow.csv in this results folder.", ""], []
    lines += [md_table(["where", "model", "at init", "trained"],
                       [[g["where"], g["model"], _ratio(g["init"]), _ratio(g["trained"])]
                        for g in gradflow]), ""]
    head = [f"gradient flow ({e(g['where'])}): trained {e(g['model'])} passes "
            f"{_ratio(g['trained'])} of the last step's gradient to the first step."
            for g in gradflow
            if g["trained"] is not None and g["model"] in quoted]
    return lines, head
