"""Our numbers beside the published ones (after `memorybench reproduce`): rows and distance."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from memorybench.report import leaderboard as lb
from memorybench.report.load import load_runs


def comparison_rows(results: str | Path) -> tuple[str | None, list[dict[str, Any]]]:
    """(the scale in words or None, the published numbers beside ours) of a results folder."""
    board = lb.leaderboard(load_runs(results, warn=lambda m: None))
    return board.attrs.get("scale"), board.attrs.get("published", ([], []))[0]


def distance(row: dict[str, Any]) -> str:
    """How far ours is from the published number: the ratio, and the difference in the
    paper's unit (``+12.3``)."""
    ours, pub = row.get("ours"), row.get("published")
    if ours is None or pub is None or not math.isfinite(ours):
        return "-"
    return f"{ours - pub:+.4g}"
