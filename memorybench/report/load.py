"""Loading runs from a results folder (through the store's reader, ``store.iter_summaries``)
and the keys that group them into leaderboard entries and blocks (reads files, never trains)."""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from memorybench.errors import DataError
from memorybench.report.format import canon
from memorybench.run import store
from memorybench.run.selection import finite

BLOCK_KEY = ("dataset", "task", "variant", "length", "train")
ENTRY_KEY = (*BLOCK_KEY, "model", "units", "layers", "model_params", "lr")


def load_runs(
    results: str | Path, warn: Callable[[str], None] | None = None
) -> list[dict[str, Any]]:
    """Every complete run under ``results``: its summary plus ``run_dir``, ``train`` and
    ``model_params`` (from ``config.json``). Folders without a summary (running, or killed before
    the end) are left out; a corrupt or half-written summary is skipped with a warning that names
    the file."""
    warn = warn or (lambda msg: warnings.warn(msg, UserWarning, stacklevel=4))
    runs = []
    for summary in store.iter_summaries(results, warn=warn):
        try:
            config = store.load_config(summary["run_dir"])
        except DataError:
            config = {}
        config = config if isinstance(config, dict) else {}
        for part in ("train", "model"):  # a config.json of the wrong shape: no settings
            if not isinstance(config.get(part) or {}, dict):
                config[part] = {}
        if not isinstance((config.get("model") or {}).get("params") or {}, dict):
            config["model"]["params"] = {}
        train = dict(config.get("train") or {})
        summary.setdefault("lr", train.get("lr"))
        train.pop("lr", None)  # the rate is its own column: runs differing in it are compared
        summary["train"] = train_id(train)
        summary["train_settings"] = train  # for titles in words (``train_words``)
        mparams = (config.get("model") or {}).get("params") or {}
        summary["model_params"] = canon(mparams) if mparams else ""
        runs.append(summary)
    _attach_reproduction(results, runs, warn)
    return runs


def _attach_reproduction(results, runs: list[dict[str, Any]], warn) -> None:
    """Runs of ``memorybench reproduce`` (``reproduce.json``): each gets ``reproduces`` (the
    profile's setting it stands for) and ``scale`` (None at the full scale)."""
    from memorybench.run.store import load_reproduction

    try:
        record = load_reproduction(results)
    except DataError as exc:
        warn(str(exc))
        return
    if not record:
        return
    scale = None if record.get("scale") == "full" else record.get("scale_words") or \
        record.get("scale")
    for r in runs:
        stands = record["runs"].get(r.get("run_id"))
        if stands:
            r["reproduces"], r["scale"] = stands, scale


def train_id(train: dict | None) -> str:
    """Short hash of a run's training settings ('' when unknown)."""
    if not train:
        return ""
    return hashlib.sha256(canon(train).encode()).hexdigest()[:8]


def variant_of(task_params: dict | None) -> str:
    """The task parameters other than ``length`` that are set (not None): ``k=v`` joined with
    commas, sorted by key."""
    items = sorted(
        (k, v) for k, v in (task_params or {}).items() if k != "length" and v is not None
    )
    return ",".join(f"{k}={v}" for k, v in items)


def read_history(run_dir: str | Path):
    """A run's ``history.csv`` as a DataFrame (None when missing, unreadable or empty)."""
    import pandas as pd

    try:
        rows = store.load_history(run_dir)
    except (OSError, ValueError):
        return None
    df = pd.DataFrame(rows)
    return df if not df.empty and {"step", "val_metric"} <= set(df.columns) else None



def entry_key(run: dict[str, Any]) -> tuple:
    return (
        run.get("dataset") or "synthetic", run["task"], variant_of(run.get("task_params")),
        int(run["length"]), run.get("train", ""), run["model"], run.get("units"),
        run.get("layers"), run.get("model_params", ""), finite(run.get("lr")),
    )


def train_settings(runs: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """``train`` hash -> the training settings it stands for (from ``load_runs``)."""
    return {r.get("train", ""): dict(r.get("train_settings") or {}) for r in runs
            if r.get("train")}
