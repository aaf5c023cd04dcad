"""The shapes of what a results folder holds, checked when it is read (``run/store.py``): the
type and range of every summary key, and the typed keys of the search and study records.
``docs/results-schema.md`` is the contract in words."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from memorybench.errors import DataError

SUMMARY = "summary.json"
STATUSES = ("completed", "diverged", "failed")

_NUM = (int, float)
# the type each summary key must have where present (None: null allowed); bool is not a number
SUMMARY_TYPES: dict[str, tuple[tuple[type, ...], bool]] = {
    **{k: ((str,), False) for k in ("task", "model")},
    "length": ((int,), False),
    **{k: ((str,), True) for k in ("run_id", "reason", "traceback", "dataset", "metric", "device",
                                   "precision", "started_at", "finished_at")},
    **{k: ((int,), True) for k in ("units", "layers", "param_budget", "seed", "steps",
                                   "batch_size", "steps_trained", "steps_to_solve", "params",
                                   "n_train", "n_val", "n_test")},
    **{k: (_NUM, True) for k in ("chance", "solved_at", "test_metric", "test_loss", "score",
                                 "val_metric", "lr", "seconds_to_solve", "throughput",
                                 "train_seconds", "wall_seconds")},
    **{k: ((bool,), True) for k in ("solved", "higher_is_better", "jit", "cudnn_eligible")},
    **{k: ((dict,), True) for k in ("task_params", "paper_metrics", "versions", "plugins",
                                    "training_path")},
    "gpus": ((list,), True),
}
MAX_INT = 2**53  # integers beyond it lose digits as floats (pandas, plots) or overflow int64
# the range of each integer key that has one (a run cannot have more: a length of 10**30 is no
# run, and crashed the report's arithmetic); keys not named: within +-MAX_INT
SUMMARY_RANGES: dict[str, tuple[int, int]] = {
    "length": (1, 10**9), "seed": (0, MAX_INT), "steps": (0, 10**12),
    "steps_trained": (0, 10**12), "steps_to_solve": (0, 10**12),
    **{k: (0, MAX_INT) for k in ("units", "layers", "param_budget", "batch_size", "params",
                                 "n_train", "n_val", "n_test")},
}


# the records beside the runs (``run/horizon.py``'s searches, ``run/study.py``'s study): the
# keys the reports use, typed; lists of names are checked item by item
SEARCH_TYPES: dict[str, tuple[tuple[type, ...], bool]] = {
    "task": ((str,), False), "model": ((str,), False),
    **{k: ((int,), True) for k in ("base", "max_length", "bisect", "largest_solved",
                                   "smallest_failed", "floor")},
    "hit_max": ((bool,), True), "probes": ((dict,), True), "not_measured": ((str,), True),
}
STUDY_TYPES: dict[str, tuple[tuple[type, ...], bool]] = {
    **{k: ((str,), True) for k in ("name", "scale", "description", "reference",
                                   "settings_in_words", "command", "gradflow_csv",
                                   "jacobian_csv", "copied_from")},
    # "steps", "claims" and "added" (lists of objects) are read item by item by
    # report/findings.py and report/added.py
    "tasks": ((list,), True), "models": ((list,), True), "baselines": ((list,), True),
    "added_against": ((list,), True),
    **{k: ((dict,), True) for k in ("settings", "gradflow", "not_searched", "factors",
                                    "jacobian", "not_measured", "forget_bias")},
}


def record_problem(record: Any, types: dict[str, tuple[tuple[type, ...], bool]],
                   required: tuple[str, ...] = ()) -> str | None:
    """What is wrong with a JSON ``record`` read from results (not an object, a key of
    ``required`` missing, a value not of its type in ``types``), or None when nothing is."""
    if not isinstance(record, dict):
        return f"not a JSON object but {type(record).__name__}"
    for key in required:
        if key not in record:
            return f"lacks the key {key!r}"
    for key, (want, nullable) in types.items():
        if key not in record:
            continue
        value = record[key]
        ok = type_ok(value, want, nullable)
        if ok and isinstance(value, list):  # lists of names: name the element, not the list
            for i, v in enumerate(value):
                if not isinstance(v, str):
                    return (f"{key!r} must be a list of strings, got {type(v).__name__} "
                            f"{str(v)[:80]!r} at index {i}")
        if not ok:
            return (f"{key!r} must be " + " or ".join(t.__name__ for t in want)
                    + (" or null" if nullable else "") + f", got {str(value)[:80]!r}")
    return None


def type_ok(value: Any, types: tuple[type, ...], nullable: bool) -> bool:
    if value is None:
        return nullable
    if isinstance(value, bool):
        return bool in types
    return isinstance(value, types)


def check_summary(path: Path, summary: dict[str, Any]) -> dict[str, Any]:
    """``summary`` if it fits the schema (``SUMMARY_TYPES``); DataError naming the file and
    the first key that does not."""
    f = path / SUMMARY
    if summary.get("status") not in STATUSES:
        raise DataError(f"{f}: status {str(summary.get('status'))[:80]!r} is not one of "
                        f"{', '.join(STATUSES)}")
    for key in ("task", "model", "length"):
        if key not in summary:
            raise DataError(f"{f}: summary lacks the key {key!r}")
    for key, (types, nullable) in SUMMARY_TYPES.items():
        if key in summary and not type_ok(summary[key], types, nullable):
            want = " or ".join(t.__name__ for t in types) + (" or null" if nullable else "")
            raise DataError(f"{f}: {key!r} must be {want}, got {str(summary[key])[:80]!r}")
    for key, (lo, hi) in SUMMARY_RANGES.items():
        v = summary.get(key)
        if isinstance(v, int) and not isinstance(v, bool) and not lo <= v <= hi:
            bound = f">= {lo}" if v < lo else f"<= {hi:,}"
            raise DataError(f"{f}: {key!r} must be {bound}, got {str(v)[:40]}")
    for key in SUMMARY_TYPES:  # any other integer: exact as a float
        v = summary.get(key)
        if (isinstance(v, int) and not isinstance(v, bool) and key not in SUMMARY_RANGES
                and abs(v) > MAX_INT):
            raise DataError(f"{f}: {key!r} must be at most {MAX_INT:,} in size, got "
                            f"{str(v)[:40]}")
    return summary
