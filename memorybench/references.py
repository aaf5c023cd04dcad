"""Published numbers beside ours: the reference table shipped as ``references.csv``.

One row per published number: where it was published (``source``, ``year``, ``where``: table
or section), the setting (``task``, ``variant``, ``length``, ``model``, ``params``,
``training_budget``), the number (``metric`` named as in the paper, ``metric_definition``,
``value``, ``unit``, ``higher_is_better``), the memorybench metric it compares with
(``our_metric``: a summary key; ``paper_metrics.NAME`` is a key of the summary's
``paper_metrics``; empty where the suite has no such task), how the published setting differs
from ours (``note``) and where the number was read (``verified_from``). Every number was read in
its source; none is carried over from memory.

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
