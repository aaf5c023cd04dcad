"""Published numbers beside ours: the reference table shipped as ``references.csv``.

One row per published number: where it was published (``source``, ``year``, ``where``: table
or section), the setting (``task``, ``variant``, ``length``, ``model``, ``params``,
``training_budget``), the number (``metric`` named as in the paper, ``metric_definition``,
``value``, ``unit``, ``higher_is_better``), the memorybench metric it compares with
(``our_metric``: a summary key; ``paper_metrics.NAME`` is a key of the summary's
``paper_metrics``; empty where the suite has no such task), how the published setting differs
from ours (``note``) and where the number was read (``verified_from``). Every number was read in
its source; none is carried over from memory. ``verified_from`` cites what a reader can look up:
the paper with its table (arXiv id, with the version where known, or DOI), or the repository,
file and full commit.

Plain ``csv`` only: no TensorFlow, no pandas, so ``memorybench references`` answers at once.
"""

from __future__ import annotations

import csv
import io
import math
from importlib import resources
from typing import Any

from memorybench.errors import ConfigError, DataError

DATA_FILE = "references.csv"
COLUMNS = (
    "source", "year", "where", "task", "variant", "length", "model", "params",
    "training_budget", "metric", "metric_definition", "value", "unit", "higher_is_better",
    "our_metric", "note", "verified_from",
)
# columns that may be empty: not every setting has a variant, a unit, a note or a counterpart
OPTIONAL = frozenset({"variant", "unit", "our_metric", "note"})
INT_COLUMNS = ("year", "length")
FLOAT_COLUMNS = ("value",)
BOOL_VALUES = {"true": True, "false": False}


def read_text() -> str:
    """The raw CSV text shipped in the package."""
    return resources.files("memorybench").joinpath(DATA_FILE).read_text(encoding="utf-8")


def parse(text: str, origin: str = DATA_FILE) -> list[dict[str, Any]]:
    """Rows of a reference CSV, checked and typed (``year``/``length`` int, ``value`` float,
    ``higher_is_better`` bool). A malformed table is a DataError naming the row and column."""
    reader = csv.DictReader(io.StringIO(text))
    header = tuple(reader.fieldnames or ())
    if header != COLUMNS:
        missing = [c for c in COLUMNS if c not in header]
        extra = [c for c in header if c not in COLUMNS]
        raise DataError(
            f"{origin}: columns must be {', '.join(COLUMNS)}"
            + (f"; missing: {', '.join(missing)}" if missing else "")
            + (f"; unexpected: {', '.join(extra)}" if extra else "")
        )
    rows = []
    for line, raw in enumerate(reader, start=2):  # line 1 is the header
        if None in raw or any(v is None for v in raw.values()):
            raise DataError(f"{origin} line {line}: expected {len(COLUMNS)} fields")
        row: dict[str, Any] = {k: v.strip() for k, v in raw.items()}
        for col in COLUMNS:
            if col not in OPTIONAL and not row[col]:
                raise DataError(f"{origin} line {line}: column {col!r} is empty")
        for col in INT_COLUMNS:
            try:
                row[col] = int(row[col])
            except ValueError:
                raise DataError(
                    f"{origin} line {line}: {col} must be an integer, got {row[col]!r}"
                ) from None
        for col in FLOAT_COLUMNS:
            try:
                row[col] = float(row[col])
            except ValueError:
                raise DataError(
                    f"{origin} line {line}: {col} must be a number, got {row[col]!r}"
                ) from None
            if not math.isfinite(row[col]):
                raise DataError(f"{origin} line {line}: {col} must be finite, got {row[col]}")
        hib = row["higher_is_better"].lower()
        if hib not in BOOL_VALUES:
            raise DataError(
                f"{origin} line {line}: higher_is_better must be true or false, "
                f"got {row['higher_is_better']!r}"
            )
        row["higher_is_better"] = BOOL_VALUES[hib]
        rows.append(row)
    if not rows:
        raise DataError(f"{origin}: no rows")
    return rows


def load(task: str | None = None) -> list[dict[str, Any]]:
    """Every reference row, or those of ``task``; an unknown task is a ConfigError listing the
    tasks the table has."""
    rows = parse(read_text())
    if task is None:
        return rows
    known = tasks(rows)
    if task not in known:
        raise ConfigError(f"no published numbers for task {task!r}; known: {', '.join(known)}")
    return [r for r in rows if r["task"] == task]


def tasks(rows: list[dict[str, Any]] | None = None) -> list[str]:
    """Task names in the table, in order of first appearance."""
    rows = parse(read_text()) if rows is None else rows
    return list(dict.fromkeys(r["task"] for r in rows))


def format_value(v: float) -> str:
    """A published number as it is printed in papers: ``5.3e-05``, ``0.0204``, ``87.2``."""
    return f"{v:.4g}"


def format_table(rows: list[dict[str, Any]], full: bool = False) -> str:
    """Plain text: a compact table, then each source's metric definitions and notes
    (``full``: every field of every row)."""
    if full:
        blocks = []
        for r in rows:
            blocks.append("\n".join(f"{c:<17} {_cell(r[c])}" for c in COLUMNS))
        return "\n\n".join(blocks)
    head = ("task", "variant", "T", "model", "params", "metric", "value", "source")
    body = [
        (r["task"], r["variant"] or "-", str(r["length"]), r["model"], _short(r["params"]),
         r["metric"] + (" (%)" if r["unit"] == "percent" else ""), format_value(r["value"]),
         f"{r['source']} {r['year']}, {r['where']}")
        for r in rows
    ]
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(head)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(b, widths, strict=True)).rstrip() for b in body]
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for r in rows:  # one paragraph per (source, task, variant, metric): rows of a table share it
        key = (r["source"], r["year"], r["task"], r["variant"], r["metric"])
        groups.setdefault(key, []).append(r)
    for (source, year, task, variant, metric), group in groups.items():
        r = group[0]
        lines += ["", f"{source} {year} - {task}{f' ({variant})' if variant else ''}, {metric}:",
                  f"  metric:   {r['metric_definition']}"]
        if len({g["training_budget"] for g in group}) == 1:
            lines.append(f"  budget:   {r['training_budget']}")
        else:
            lines += [f"  budget:   T={g['length']} {g['model']}: {g['training_budget']}"
                      for g in group]
        if r["our_metric"]:
            lines.append(f"  compare:  {r['our_metric']}")
        if r["note"]:
            lines.append(f"  differs:  {r['note']}")
        lines.append(f"  read in:  {r['verified_from']}")
    return "\n".join(lines)


def _short(params: str) -> str:
    return params.split(" (", 1)[0]


def _cell(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return format_value(v)
    return str(v) if v != "" else "-"


# -- published numbers beside ours ------------------------------------------------------------
# The reference table names models as the papers do; these are the suite's names for them.
MODEL_NAMES = {"LSTM": "lstm", "GRU": "gru", "RNN": "simple_rnn", "TCN": "tcn", "coRNN": "cornn",
               "IRNN": "irnn", "IndRNN": "indrnn", "LMU": "lmu"}
# parameter counts within this fraction of the published one count as the same model size
PARAMS_TOLERANCE = 0.10
MATCH_COLUMNS = (
    "dataset", "task", "variant", "length", "ran_length", "model", "units", "params", "n_seeds",
    "metric",
    "ours", "published", "unit", "ratio", "match", "differences", "source", "where",
)
UNMATCHED_COLUMNS = ("task", "variant", "length", "model", "params", "metric", "value", "unit",
                     "source", "where")


def our_model(paper_model: str) -> str:
    """The suite's name for a model as a paper names it (``RNN`` -> ``simple_rnn``)."""
    return MODEL_NAMES.get(paper_model, paper_model.lower())


def variant_matches(ref_variant: str, task_params: dict[str, Any]) -> bool:
    """Whether a run's task parameters are the row's variant: ``k=v`` parts must be equal, a bare
    ``v`` (``anywhere``, ``scalar``) must be the value of one of the parameters."""
    values = {str(v) for v in task_params.values()}
    for part in filter(None, (p.strip() for p in (ref_variant or "").split(","))):
        key, eq, value = part.partition("=")
        if eq and str(task_params.get(key.strip())) != value.strip():
            return False
        if not eq and part not in values:
            return False
    return True


def parse_count(text: str) -> float | None:
    """A published parameter count: ``~70K (...)`` -> 70000, ``93 weights`` -> 93; None where the
    row gives none (``256 hidden units``)."""
    import re

    m = re.match(r"^\s*~?\s*([\d][\d,]*\.?\d*)\s*([KkMm])?\b\s*(\S*)", text or "")
    if not m or m.group(3).lower() in ("hidden", "units", "unit"):
        return None
    value = float(m.group(1).replace(",", ""))
    return value * {"k": 1e3, "m": 1e6}.get((m.group(2) or "").lower(), 1.0)


def in_paper_units(ref: dict[str, Any], metric: str | None, metric_mean: float | None,
                   paper_metrics: dict[str, float] | None) -> float | None:
    """Our number in the row's metric and unit (``our_metric``): a summary metric, ``NAME
    (x100)`` for percent, ``paper_metrics.NAME``; the count of wrong test sequences from a
    fraction correct. None where the run does not measure it."""
    spec = (ref.get("our_metric") or "").strip()
    if not spec:
        return None
    name, _, scale = spec.partition(" (x")
    if name.startswith("paper_metrics."):
        value = (paper_metrics or {}).get(name[len("paper_metrics."):])
    elif name == metric:
        value = metric_mean
    else:
        return None
    if value is None or not math.isfinite(value):
        return None
    if scale:
        value *= float(scale.rstrip(")"))
    if ref["metric"] == "wrong_predictions":  # H&S 1997: wrong sequences of N test sequences
        total = parse_count((ref.get("unit") or "").rsplit(" ", 1)[-1])
        value = (1.0 - value) * total if total else None
    return value


def compare(entries: list[dict[str, Any]], rows: list[dict[str, Any]] | None = None):
    """Published numbers beside ours: ``(matched, unmatched)``.

    ``entries`` are leaderboard entries (dicts with ``dataset``, ``task``, ``task_params``,
    ``length``, ``model``, ``units``, ``params``, ``metric``, ``metric_mean``,
    ``paper_metrics_mean``, ``n_seeds``, ``train_settings`` and, for a scaled run of a
    reproduction profile, ``reproduces``: the setting it stands for, and ``scale``). An entry
    matches a reference row when task, variant, length and model are the row's and the run
    measures the row's metric (``in_paper_units``). Each match is ``MATCH_COLUMNS``: ours in the
    paper's unit, the published value, their ratio (ours / published), ``match``: ``same``
    (parameter count within ``PARAMS_TOLERANCE`` of the published one, same data),
    ``approximate`` (otherwise) or ``scaled`` (a scaled-down run), and the differences spelled
    out, the training budget always. ``unmatched``: the rows of the tasks the entries have that
    no entry matched (``UNMATCHED_COLUMNS``)."""
    rows = load() if rows is None else rows
    matched, hit = [], set()
    for e in entries:
        setting = e.get("reproduces") or e
        params = dict(setting.get("task_params") or {})
        length = setting.get("length")
        for i, ref in enumerate(rows):
            if (ref["task"] != setting.get("task") or ref["length"] != length
                    or our_model(ref["model"]) != setting.get("model")
                    or not variant_matches(ref["variant"], params)):
                continue
            ours = in_paper_units(ref, e.get("metric"), e.get("metric_mean"),
                                  e.get("paper_metrics_mean"))
            if ours is None:
                continue
            hit.add(i)
            kind, differences = _differences(e, ref)
            matched.append({
                "dataset": e.get("dataset"), "task": setting.get("task"),
                "variant": ref["variant"], "length": length, "ran_length": e.get("length"),
                "model": e.get("model"),
                "units": e.get("units"), "params": e.get("params"), "n_seeds": e.get("n_seeds"),
                "metric": ref["metric"], "ours": ours, "published": ref["value"],
                "unit": ref["unit"], "ratio": ours / ref["value"] if ref["value"] else None,
                "match": kind, "differences": differences,
                "source": f"{ref['source']} {ref['year']}", "where": ref["where"], "_row": i,
            })
    matched.sort(key=lambda m: m.pop("_row"))  # the reference table's order (the papers')
    tasks_seen = {(e.get("reproduces") or e).get("task") for e in entries}
    unmatched = [{**{c: r[c] for c in UNMATCHED_COLUMNS if c in r},
                  "source": f"{r['source']} {r['year']}"}
                 for i, r in enumerate(rows) if i not in hit and r["task"] in tasks_seen]
    return matched, unmatched


def _differences(entry: dict[str, Any], ref: dict[str, Any]) -> tuple[str, str]:
    """(``same`` | ``approximate`` | ``scaled``, the differences in words)."""
    words, approximate = [], False
    scale = entry.get("scale")
    setting = entry.get("reproduces") or {}
    if scale and setting:
        ran = entry.get("train_settings") or {}
        parts = []
        if entry.get("length") != setting.get("length"):
            parts.append(f"length {entry.get('length')} instead of {setting.get('length')}")
        for key, label in (("steps", "steps"), ("n_train", "training sequences")):
            if ran.get(key) is not None and ran.get(key) != setting.get(key):
                parts.append(f"{ran.get(key):,} {label} instead of {setting.get(key):,}")
        words.append(f"SCALED run ({scale}): " + (", ".join(parts) or "smaller"))
    count = parse_count(ref["params"])
    ours = entry.get("params")
    if ours is None:
        words.append(f"parameters: ours unknown, published {ref['params']}")
        approximate = True
    elif count is None:
        words.append(f"parameters: ours {int(ours):,}, published {ref['params']}")
        approximate = True
    else:
        rel = ours / count - 1.0
        if abs(rel) > PARAMS_TOLERANCE:
            approximate = True
        words.append(f"parameters: ours {int(ours):,}, published {ref['params']} "
                     f"({rel:+.0%})")
    dataset = entry.get("dataset")
    if dataset and dataset not in ("synthetic", "mnist"):
        words.append(f"data: ours {dataset}, published the full dataset")
        approximate = True
    ran = entry.get("train_settings") or {}
    if ran.get("steps"):
        budget = f"{ran['steps']:,} steps of batch {ran.get('batch_size', '?')}"
        lr = entry.get("lr")
        if ran.get("optimizer"):
            budget += f", {ran['optimizer']}" + (
                f" lr {lr:g}" if isinstance(lr, (int, float)) else "")
        words.append(f"budget: ours {budget}; published {ref['training_budget']}")
    else:
        words.append(f"budget: published {ref['training_budget']}")
    kind = "scaled" if scale else ("approximate" if approximate else "same")
    return kind, "; ".join(words)
