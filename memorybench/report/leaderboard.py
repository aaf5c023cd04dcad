"""Leaderboards and memory horizons aggregated from run artifacts (reads files, never trains).

Grouping. One leaderboard row is one *entry*: (dataset, task, variant, length, model, units,
layers, model params, training settings), aggregated over its seeds. ``variant`` is the task's
parameters other than ``length`` (``variant=half``); ``dataset`` is part of the key so full
MNIST and the offline ``mnist-5k`` subset are never ranked together. Runs of one entry that
differ in their training settings (two profiles in one results folder) would not be comparable,
so ``train`` (a short hash of the run's ``train`` config) is part of the key too.

Aggregates per entry:

- ``metric_mean`` / ``metric_std``, ``score_mean``: over the runs with a finite test metric
  (``std`` is the sample standard deviation, ddof=1; empty with a single seed);
- ``solved_frac``: solved runs / all runs of the entry (failed and diverged runs count as not
  solved);
- ``steps_to_solve_median`` / ``seconds_to_solve_median``: medians over the solved runs;
- ``throughput``: mean training sequences per second over the runs that report it;
- ``n_seeds`` (all runs of the entry), ``n_failed``, ``n_diverged``.

Ranking: within each (dataset, task, variant, length, train) block by ``score_mean`` descending
(entries without a score last), ties broken by parameter count ascending, then model name.

Memory horizon: the largest length in the sweep that the majority of the entry's seeds solve
(solved runs > half of the runs at that length). It does not require every shorter length to
be solved too: that is how the design document defines it, and a length that fails in the middle
of a solved range is visible in the ``solved_lengths`` column. No length solved, or a task with
no solved threshold: empty in CSV, ``-`` in Markdown.
"""

from __future__ import annotations

import hashlib
import json
import math
import statistics
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from memorybench.errors import ConfigError, DataError
from memorybench.run import store

STATUSES = store.STATUSES

BLOCK_KEY = ("dataset", "task", "variant", "length", "train")
ENTRY_KEY = (*BLOCK_KEY, "model", "units", "layers", "model_params")

LEADERBOARD_COLUMNS = [
    "dataset", "task", "variant", "length", "rank", "model", "units", "layers", "model_params",
    "params", "metric", "higher_is_better", "metric_mean", "metric_std", "score_mean",
    "solved_frac", "steps_to_solve_median", "seconds_to_solve_median", "throughput", "n_seeds",
    "n_failed", "n_diverged", "train",
]
HORIZON_COLUMNS = [
    "dataset", "task", "variant", "model", "units", "layers", "model_params", "params",
    "horizon", "lengths", "solved_lengths", "n_seeds", "train",
]


# -- loading (the store's readers; validation and warnings for the reports) ------------------
def read_summary(run_dir: Path) -> dict[str, Any] | None:
    """The run's summary, None while the run has none; ``DataError`` if it is corrupt, half
    written or lacks the keys a leaderboard needs."""
    path = Path(run_dir) / store.SUMMARY
    if not path.exists():
        return None
    data = store.load_summary(run_dir)
    if data.get("status") not in STATUSES:
        raise DataError(f"{path}: status {data.get('status')!r} is not one of "
                        f"{', '.join(STATUSES)}")
    for key in ("task", "model", "length"):
        if key not in data:
            raise DataError(f"{path}: summary lacks the key {key!r}")
    return data


def load_runs(
    results: str | Path, warn: Callable[[str], None] | None = None
) -> list[dict[str, Any]]:
    """Every complete run under ``results``: its summary plus ``run_dir``, ``train`` and
    ``model_params`` (from ``config.json``). Folders without a summary (running, or killed before
    the end) are left out; a corrupt or half-written summary is skipped with a warning that names
    the file."""
    warn = warn or (lambda msg: warnings.warn(msg, UserWarning, stacklevel=3))
    runs = []
    for d in store.list_runs(results):
        try:
            summary = read_summary(d)
        except DataError as exc:
            warn(f"skipping run {d.name}: {exc}")
            continue
        if summary is None:
            continue
        try:
            config = store.load_config(d)
        except DataError:
            config = {}
        config = config if isinstance(config, dict) else {}
        summary = dict(summary)
        summary["run_dir"] = str(d)
        summary["train"] = train_id(config.get("train"))
        mparams = (config.get("model") or {}).get("params") or {}
        summary["model_params"] = _canon(mparams) if mparams else ""
        runs.append(summary)
    return runs


def train_id(train: dict | None) -> str:
    """Short hash of a run's training settings ('' when unknown)."""
    if not train:
        return ""
    return hashlib.sha256(_canon(train).encode()).hexdigest()[:8]


def _canon(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


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


# -- aggregation -----------------------------------------------------------------------------
def _num(v: Any) -> float | None:
    """A finite float, or None."""
    if v is None or isinstance(v, bool):
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def entry_key(run: dict[str, Any]) -> tuple:
    return (
        run.get("dataset") or "synthetic", run["task"], variant_of(run.get("task_params")),
        int(run["length"]), run.get("train", ""), run["model"], run.get("units"),
        run.get("layers"), run.get("model_params", ""),
    )


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def aggregate(runs: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per entry (unranked); see the module docstring for the definitions."""
    groups: dict[tuple, list[dict]] = {}
    for r in runs:
        groups.setdefault(entry_key(r), []).append(r)
    rows = []
    for key, rs in groups.items():
        row = dict(zip(ENTRY_KEY, key, strict=True))
        metrics = [m for m in (_num(r.get("test_metric")) for r in rs) if m is not None]
        scores = [s for s in (_num(r.get("score")) for r in rs) if s is not None]
        solved = [r for r in rs if r.get("solved") is True]
        params = [p for p in (_num(r.get("params")) for r in rs) if p is not None]
        thr = [t for t in (_num(r.get("throughput")) for r in rs) if t is not None]
        first = rs[0]
        row.update(
            params=int(statistics.median(params)) if params else None,
            metric=first.get("metric"),
            higher_is_better=first.get("higher_is_better"),
            metric_mean=statistics.fmean(metrics) if metrics else None,
            metric_std=statistics.stdev(metrics) if len(metrics) > 1 else None,
            score_mean=statistics.fmean(scores) if scores else None,
            solved_frac=len(solved) / len(rs),
            steps_to_solve_median=_median(
                [v for v in (_num(r.get("steps_to_solve")) for r in solved) if v is not None]
            ),
            seconds_to_solve_median=_median(
                [v for v in (_num(r.get("seconds_to_solve")) for r in solved) if v is not None]
            ),
            throughput=statistics.fmean(thr) if thr else None,
            n_seeds=len(rs),
            n_failed=sum(r.get("status") == "failed" for r in rs),
            n_diverged=sum(r.get("status") == "diverged" for r in rs),
            solved_at=_num(first.get("solved_at")),
            chance=_num(first.get("chance")),
        )
        rows.append(row)
    return rows


def rank(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows sorted by block, then by score desc / params asc / model; ``rank`` set per block."""

    def block(r):
        return tuple(str(r[k]) if k != "length" else r[k] for k in BLOCK_KEY)

    def order(r):
        s = r["score_mean"]
        p = r["params"]
        return (s is None, -(s or 0.0), p is None, p or 0, r["model"], str(r["units"]))

    out = sorted(rows, key=lambda r: (block(r), order(r)))
    prev, n = None, 0
    for r in out:
        b = block(r)
        n = n + 1 if b == prev else 1
        prev = b
        r["rank"] = n
    return out


def leaderboard(runs: Iterable[dict[str, Any]]):
    """The ranked leaderboard as a DataFrame with ``LEADERBOARD_COLUMNS``."""
    import pandas as pd

    rows = rank(aggregate(runs))
    return pd.DataFrame(rows, columns=LEADERBOARD_COLUMNS)


def horizons(runs: Iterable[dict[str, Any]]):
    """Each entry's memory horizon per task (see the module docstring) as a DataFrame."""
    import pandas as pd

    rows = aggregate(runs)
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        key = (r["dataset"], r["task"], r["variant"], r["train"], r["model"], r["units"],
               r["layers"], r["model_params"])
        groups.setdefault(key, []).append(r)
    out = []
    for key, rs in groups.items():
        rs.sort(key=lambda r: r["length"])
        # majority: more than half of the seeds run at that length solved it
        solved = [r["length"] for r in rs if r["solved_frac"] > 0.5]
        params = [r["params"] for r in rs if r["params"] is not None]
        out.append(dict(
            dataset=key[0], task=key[1], variant=key[2], train=key[3], model=key[4],
            units=key[5], layers=key[6], model_params=key[7],
            params=params[0] if params else None,
            horizon=max(solved) if solved else None,
            lengths=",".join(str(r["length"]) for r in rs),
            solved_lengths=",".join(map(str, solved)),
            n_seeds=max(r["n_seeds"] for r in rs),
        ))
    df = pd.DataFrame(out, columns=HORIZON_COLUMNS)
    if len(df):
        df["_h"] = df["horizon"].fillna(-1)
        df = df.sort_values(
            ["dataset", "task", "variant", "train", "_h", "params", "model"],
            ascending=[True, True, True, True, False, True, True], na_position="last",
        ).drop(columns="_h").reset_index(drop=True)
        df["horizon"] = df["horizon"].astype("Int64")
    return df


# -- Markdown ----------------------------------------------------------------------------------
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


def _md_cell(s: str) -> str:
    # a '|' would split the cell; a newline would end the row
    return s.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(_md_cell(h) for h in header) + " |",
             "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def display_rows(df, kind: str = "leaderboard") -> tuple[str, list[tuple[str, list[str], list]]]:
    """Blocks of display rows: ``[(title, header, rows)]`` shared by Markdown, HTML and ``show``.

    The ``train`` column appears only when a block mixes training settings (it never does within
    one block, but titles then name the setting).
    """
    records = df.to_dict("records")
    multi_train = len({r["train"] for r in records}) > 1
    # the size goes into the model label only where one model name comes in several sizes
    sizes: dict[str, set] = {}
    for r in records:
        sizes.setdefault(r["model"], set()).add(_size_key(r))
    many = {m for m, s in sizes.items() if len(s) > 1}
    blocks: list[tuple[str, list[str], list]] = []
    if kind == "leaderboard":
        cur = None
        for r in records:
            key = (r["dataset"], r["task"], r["variant"], r["length"], r["train"])
            if key != cur:
                cur = key
                title = f"{r['task']}"
                if r["variant"]:
                    title += f" ({r['variant']})"
                title += f", length {r['length']}, dataset {r['dataset']}"
                if multi_train:
                    title += f", train {r['train']}"
                header = ["rank", "model", "params", f"test {r['metric']}", "± std", "score",
                          "solved", "steps to solve", "s to solve", "seq/s", "seeds", "failed",
                          "diverged"]
                blocks.append((title, header, []))
            blocks[-1][2].append([
                fmt(r["rank"]), _model_label(r, r["model"] in many), fmt(r["params"]),
                fmt(r["metric_mean"]), fmt(r["metric_std"], 2), fmt(r["score_mean"], 3),
                fmt(r["solved_frac"], 3),
                fmt(r["steps_to_solve_median"]), fmt(r["seconds_to_solve_median"], 3),
                fmt(r["throughput"], 3), fmt(r["n_seeds"]), fmt(r["n_failed"]),
                fmt(r["n_diverged"]),
            ])
    elif kind == "horizon":
        header = ["model", "params", "horizon", "lengths run", "lengths solved", "seeds"]
        cur = None
        for r in records:
            key = (r["dataset"], r["task"], r["variant"], r["train"])
            if key != cur:
                cur = key
                title = r["task"] + (f" ({r['variant']})" if r["variant"] else "")
                title += f", dataset {r['dataset']}"
                if multi_train:
                    title += f", train {r['train']}"
                blocks.append((title, header, []))
            blocks[-1][2].append([
                _model_label(r, r["model"] in many), fmt(r["params"]), fmt(r["horizon"]),
                r["lengths"] or "-", r["solved_lengths"] or "-", fmt(r["n_seeds"]),
            ])
    else:
        raise ConfigError(f"unknown table kind {kind!r}; known: leaderboard, horizon")
    return kind, blocks


def _isnan(v) -> bool:
    return isinstance(v, float) and math.isnan(v)


def _size_key(r: dict) -> tuple:
    return (fmt(r.get("units")), fmt(r.get("layers")), str(r.get("model_params") or ""))


def _model_label(r: dict, with_size: bool) -> str:
    label = str(r["model"])
    if not with_size:
        return label
    extra = []
    if r.get("units") is not None and not _isnan(r.get("units")):
        extra.append(f"{fmt(r['units'])}u")
    if r.get("layers") not in (None, 1) and not _isnan(r.get("layers")):
        extra.append(f"{fmt(r['layers'])}L")
    if r.get("model_params") not in (None, "", "{}"):
        extra.append(str(r["model_params"]))
    return label + (f" [{', '.join(extra)}]" if extra else "")


def to_markdown(df, kind: str, title: str) -> str:
    _, blocks = display_rows(df, kind)
    parts = [f"# {title}", ""]
    if kind == "leaderboard":
        parts += ["Per task, variant, length and dataset: test metric mean and std over seeds, "
                  "normalised score mean (0 trivial, 1 perfect), fraction of seeds solved, "
                  "median steps and seconds to solve (solved seeds), training sequences/s. "
                  "Ranked by score, ties by fewer parameters.", ""]
    else:
        parts += ["Memory horizon: the largest length solved by the majority of seeds "
                  "('-': no length solved).", ""]
    if not blocks:
        parts.append("_no completed runs_")
    for block_title, header, rows in blocks:
        parts += [f"## {block_title}", "", md_table(header, rows), ""]
    return "\n".join(parts).rstrip() + "\n"
