"""Formatting shared by every table of a report: cells (``fmt``, ``missing``, ``text``),
Markdown (``md_text``, ``md_table``), horizon brackets and canonical JSON (``canon``)."""

from __future__ import annotations

import json
import math
from typing import Any

from memorybench.errors import printable


def canon(obj: Any) -> str:
    """``obj`` as compact JSON with sorted keys (anything else as its ``str``): a setting's
    canonical form, for hashing and comparing."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def missing(v) -> bool:
    """Whether ``v`` is no number: None, pandas' NA or NaN (a horizon not found, an empty cell)."""
    try:
        import pandas as pd

        return v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v))
    except ImportError:  # pragma: no cover
        return v is None



def text(v) -> str:
    """A cell's text: '' for a missing value, else ``str(v)``."""
    return "" if missing(v) else str(v)


def fmt(v: Any, digits: int = 4) -> str:
    """A table cell: ``-`` for missing, compact floats."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    try:
        import pandas as pd

        if v is pd.NA:
            return "-"
    except ImportError:  # pragma: no cover - pandas is a dependency
        pass
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        if v == int(v) and abs(v) < 1e15:
            return str(int(v))
        if abs(v) >= 10**digits:  # no exponent for large values such as throughput
            return f"{v:.0f}"
        return f"{v:.{digits}g}"
    return str(v)


def md_text(s: str) -> str:
    """A table cell's text as Markdown that shows it literally: names come from results (a
    plugin, a results folder from someone else), so no raw HTML (``<script>``), no link, image
    or emphasis, no escape sequence. A '|' would split the cell; a newline would end the row."""
    s = printable(s).replace("\\", "\\\\").replace("|", "\\|")
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    s = s.replace("`", "\\`").replace("*", "\\*")
    return s.replace("](", "]\\(").replace("][", "]\\[")  # [text](url), [text][ref]


def md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(md_text(h) for h in header) + " |",
             "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(md_text(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)



def bracket(horizon, smallest_failed, hit_max: bool = False) -> str:
    """``[25, 50)``: solved at 25, not at 50; ``[-, 25)``: not even at 25; ``[200, -)``."""
    lo = "-" if missing(horizon) else fmt(horizon)
    hi = "-" if missing(smallest_failed) else fmt(smallest_failed)
    return f"[{lo}, {hi})" + (" max" if hit_max else "")


def bracket_of(row: dict[str, Any]) -> str:
    """A ``horizons`` row's bracket; where it ends at a length that is not a measurement,
    ``[25, ?) not measured at L=50: 2 of 5 seeds failed at lr 0.01``."""
    why = row.get("not_measured")
    if isinstance(why, str) and why:
        lo = "-" if missing(row["horizon"]) else fmt(row["horizon"])
        return f"[{lo}, ?) not measured at {why}"
    return bracket(row["horizon"], row["smallest_failed"], row["hit_max"] is True)
