"""A results folder's runs as one pandas DataFrame, for notebooks (``mb.results(DIR)``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from memorybench.errors import ConfigError
from memorybench.run import schema, store

NOT_FLATTENED = ("plugins",)  # keyed by file path, not by field: one dict a cell


def results(folder: str | Path = store.DEFAULT_RESULTS,
            warn: bool | Callable[[str], None] = True):
    """The complete runs under ``folder`` as a ``pandas.DataFrame``: one row a run (in run id
    order), the summary's keys as columns (``results-schema.md``) plus ``run_dir``.

    Nested objects are flattened into dotted columns (``task_params.length``,
    ``training_path.jit``, ``versions.keras``, ``paper_metrics.ce_all_steps``); ``plugins``
    (file path -> sha256) stays one dict a cell. A null where other runs have an object leaves
    that run's dotted columns empty. Runs are read by ``store.iter_summaries``, as the reports
    read them: folders without a summary are left out, and a corrupt summary is skipped with a
    ``UserWarning`` naming the file (``warn``: a callable hears the message instead, False
    drops it). A folder that does not exist or has no ``runs/`` is a ConfigError; one with no
    complete run gives an empty frame.

    >>> import memorybench as mb
    >>> df = mb.results("results")                                     # doctest: +SKIP
    >>> df.groupby(["task", "model"])["score"].median()                # doctest: +SKIP
    """
    import pandas as pd

    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError(f"results folder {str(folder)!r} does not exist")
    if not store.runs_dir(folder).is_dir():
        raise ConfigError(f"{str(folder)!r} is not a results folder: it has no runs/ folder; "
                          f"run `memorybench run --out {folder}` first")
    rows = [flat(s) for s in store.iter_summaries(folder, warn=warn)]
    return pd.DataFrame(rows)


def flat(summary: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``summary`` with its nested objects spread into ``outer.inner`` keys (depth-first, in
    order); ``NOT_FLATTENED`` keys and lists are kept whole; a null object adds no key."""
    out: dict[str, Any] = {}
    for key, value in summary.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and name not in NOT_FLATTENED:
            out.update(flat(value, f"{name}."))
        elif value is None and schema.SUMMARY_TYPES.get(name, ((),))[0] == (dict,):
            continue
        else:
            out[name] = value
    return out
