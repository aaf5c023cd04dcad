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
be solved too: that is how docs/tasks.md defines it, and a length that fails in the middle
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from memorybench.errors import ConfigError, DataError, printable
from memorybench.run import store
from memorybench.run.selection import choose_rate, finite

STATUSES = store.STATUSES

BLOCK_KEY = ("dataset", "task", "variant", "length", "train")
ENTRY_KEY = (*BLOCK_KEY, "model", "units", "layers", "model_params", "lr")

LEADERBOARD_COLUMNS = [
    "dataset", "task", "variant", "length", "rank", "model", "units", "layers", "model_params",
    "params", "metric", "higher_is_better", "metric_mean", "metric_std", "score_mean",
    "solved_frac", "steps_to_solve_median", "seconds_to_solve_median", "throughput", "n_seeds",
    "n_failed", "n_diverged", "lr", "lr_at_edge", "lrs", "val_metric_mean", "train",
    # a scaled reproduction run: the scale in words (SCALED RUN, NOT A REPRODUCTION); empty else
    "scaled",
    # published numbers beside ours (memorybench.references.compare; '; ' between several)
    "published", "published_metric", "ours_in_paper_units", "ratio", "reference", "match",
    "differences",
]
ALL_RATES_COLUMNS = [*LEADERBOARD_COLUMNS, "chosen"]
HORIZON_COLUMNS = [
    "dataset", "task", "variant", "model", "units", "layers", "model_params", "params",
    "horizon", "smallest_failed", "hit_max", "not_measured", "lengths", "solved_lengths",
    "lrs_chosen", "n_seeds", "train",
]


# -- loading (through the store's reader, ``store.iter_summaries``) -------------------------
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
        summary["model_params"] = _canon(mparams) if mparams else ""
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
_num = finite  # a finite float, or None (run.selection)


def entry_key(run: dict[str, Any]) -> tuple:
    return (
        run.get("dataset") or "synthetic", run["task"], variant_of(run.get("task_params")),
        int(run["length"]), run.get("train", ""), run["model"], run.get("units"),
        run.get("layers"), run.get("model_params", ""), _num(run.get("lr")),
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
            val_metric_mean=statistics.fmean(vals) if (vals := [
                v for v in (_num(r.get("val_metric")) for r in rs) if v is not None]) else None,
            # for the published numbers beside ours (references.compare), not columns
            task_params=dict(first.get("task_params") or {}),
            train_settings=dict(first.get("train_settings") or {}),
            paper_metrics_mean=_paper_metrics_mean(rs),
            reproduces=first.get("reproduces"), scale=first.get("scale"),
        )
        rows.append((row, rs))
    return _select_rates(rows)


def _paper_metrics_mean(rs: list[dict]) -> dict[str, float]:
    """Mean of each ``paper_metrics`` value over the runs that report it finite."""
    values: dict[str, list[float]] = {}
    for r in rs:
        pm = r.get("paper_metrics")
        for k, v in (pm.items() if isinstance(pm, dict) else ()):
            if (fv := _num(v)) is not None:
                values.setdefault(str(k), []).append(fv)
    return {k: statistics.fmean(v) for k, v in values.items()}


def _select_rates(rows: list[tuple[dict, list[dict]]]) -> list[dict[str, Any]]:
    """Mark each entry ``chosen`` when its rate is the one its model would pick on validation
    among the entries that differ only in the rate (``run.selection``); every entry gets the
    group's grid (``lrs``) and whether the choice is at its edge."""
    groups: dict[tuple, list[tuple[dict, list[dict]]]] = {}
    for row, rs in rows:
        groups.setdefault(tuple(row[k] for k in ENTRY_KEY if k != "lr"), []).append((row, rs))
    out = []
    for members in groups.values():
        by_rate = {row["lr"]: rs for row, rs in members}
        higher = bool(members[0][0]["higher_is_better"])
        if None in by_rate:  # runs that do not say their rate (older stores): nothing to choose
            best, edge = None, False
        else:
            best, edge = choose_rate(by_rate, higher)
        grid = ",".join(fmt(lr) for lr in sorted(r for r in by_rate if r is not None))
        for row, _ in members:
            row.update(chosen=(row["lr"] == best) or best is None, lr_at_edge=edge, lrs=grid)
            out.append(row)
    return out


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


def leaderboard(runs: Iterable[dict[str, Any]], all_rates: bool = False):
    """The ranked leaderboard as a DataFrame with ``LEADERBOARD_COLUMNS``: one row per model at
    its chosen learning rate (``all_rates``: every rate, ``ALL_RATES_COLUMNS``, ranked among
    themselves)."""
    import pandas as pd

    runs = list(runs)
    rows = [r for r in aggregate(runs) if all_rates or r["chosen"]]
    published = _published(rows)
    df = pd.DataFrame(rank(rows), columns=ALL_RATES_COLUMNS if all_rates else
                      LEADERBOARD_COLUMNS)
    df.attrs["train_settings"] = train_settings(runs)  # titles in words (``display_blocks``)
    df.attrs["published"] = published  # (matched, unmatched): report tables and HTML
    df.attrs["scale"] = next((r["scale"] for r in rows if r.get("scale")), None)
    return df


def _published(rows: list[dict[str, Any]]) -> tuple[list[dict], list[dict]]:
    """Match every row with the reference table (``references.compare``) and fill the
    published columns; returns ``(matched, unmatched)``."""
    from memorybench import references

    try:
        refs = references.load()
    except DataError:  # a broken reference table must not cost the leaderboard
        return [], []
    for row in rows:
        row["scaled"] = row.get("scale") or ""
        matched, _ = references.compare([row], refs)
        if matched:
            row.update(
                published="; ".join(fmt(m["published"]) for m in matched),
                published_metric="; ".join(
                    m["metric"] + (f" ({m['unit']})" if m["unit"] else "") for m in matched),
                ours_in_paper_units="; ".join(fmt(m["ours"]) for m in matched),
                ratio="; ".join(fmt(m["ratio"], 3) for m in matched),
                reference="; ".join(f"{m['source']}, {m['where']}" for m in matched),
                match="; ".join(m["match"] for m in matched),
                differences=" | ".join(m["differences"] for m in matched),
            )
    return references.compare(rows, refs) if rows else ([], [])


def horizons(runs: Iterable[dict[str, Any]], searches: Iterable[dict[str, Any]] = ()):
    """Each entry's memory horizon per task (see the module docstring) as a DataFrame.

    A length counts at the model's chosen rate for that length. ``smallest_failed`` is the
    smallest length above the horizon that is not solved (the bracket's upper end; with no
    length solved, the smallest length run); ``hit_max`` is true where a horizon search
    (``searches``: records from ``<results>/searches/``) stopped at its maximum length while
    still solving, so the horizon is only a lower bound. ``not_measured`` ("L=50: 2 of 5 seeds
    failed at lr 0.01"): no measured failure lies above the horizon, and the first length above
    it where a run failed (any rate) or seeds diverged at the chosen rate ends the bracket there;
    such a length never counts as not solved.
    """
    import pandas as pd

    runs = list(runs)
    every = aggregate(runs)
    rows = [r for r in every if r["chosen"]]
    at_max = {(x.get("task"), x.get("model")): bool(x.get("hit_max")) for x in searches}
    hkey = ("dataset", "task", "variant", "train", "model", "units", "layers", "model_params")
    broken: dict[tuple, str] = {}  # (group, length) -> why it is not a measurement
    for r in every:
        k = (tuple(r[c] for c in hkey), r["length"])
        if r["n_failed"]:
            broken[k] = (f"{r['n_failed']} of {r['n_seeds']} seeds failed at lr {fmt(r['lr'])}"
                         + ("; " + broken[k] if k in broken else ""))
        elif r["chosen"] and r["n_diverged"]:
            broken.setdefault(k, f"{r['n_diverged']} of {r['n_seeds']} seeds diverged at the "
                                 f"chosen lr {fmt(r['lr'])}")
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        key = (r["dataset"], r["task"], r["variant"], r["train"], r["model"], r["units"],
               r["layers"], r["model_params"])
        groups.setdefault(key, []).append(r)
    out = []
    for key, rs in groups.items():
        rs.sort(key=lambda r: r["length"])
        bad = {r["length"] for r in rs if (key, r["length"]) in broken}
        # majority: more than half of the seeds run at that length solved it; a length that is
        # not a measurement (a run failed at any rate, or seeds diverged at the chosen rate)
        # counts neither as solved nor as failed
        solved = [r["length"] for r in rs if r["solved_frac"] > 0.5 and r["length"] not in bad]
        horizon = max(solved) if solved else None
        above = [r["length"] for r in rs if r["length"] not in solved and r["length"] not in bad
                 and (horizon is None or r["length"] > horizon)]
        # with no measured failure above the horizon, the first broken length above it is
        # where the bracket ends: "not measured", never "not solved"
        problem = None if above else min(
            (L for L in bad if horizon is None or L > horizon), default=None)
        params = [r["params"] for r in rs if r["params"] is not None]
        out.append(dict(
            dataset=key[0], task=key[1], variant=key[2], train=key[3], model=key[4],
            units=key[5], layers=key[6], model_params=key[7],
            params=params[0] if params else None,
            horizon=horizon, smallest_failed=min(above) if above else None,
            hit_max=at_max.get((key[1], key[4]), False) and not above and problem is None,
            not_measured=(f"L={problem}: {broken[(key, problem)]}"
                          if problem is not None else None),
            lengths=",".join(str(r["length"]) for r in rs),
            solved_lengths=",".join(map(str, solved)),
            lrs_chosen=",".join(f"{r['length']}:{fmt(r['lr'])}" for r in rs
                                if r["lr"] is not None),
            n_seeds=max(r["n_seeds"] for r in rs),
        ))
    df = pd.DataFrame(out, columns=HORIZON_COLUMNS)
    if len(df):
        df["_h"] = df["horizon"].fillna(-1)
        df["_f"] = df["smallest_failed"].fillna(10**12)
        df = df.sort_values(
            ["dataset", "task", "variant", "train", "_h", "_f", "params", "model"],
            ascending=[True, True, True, True, False, False, True, True], na_position="last",
        ).drop(columns=["_h", "_f"]).reset_index(drop=True)
        for c in ("horizon", "smallest_failed"):
            df[c] = df[c].astype("Int64")
    df.attrs["train_settings"] = train_settings(runs)
    return df


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


def missing(v) -> bool:
    """Whether ``v`` is no number: None, pandas' NA or NaN (a horizon not found, an empty cell)."""
    try:
        import pandas as pd

        return v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v))
    except ImportError:  # pragma: no cover
        return v is None




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


# -- identity and training settings in words ------------------------------------------------
def _str(v) -> str:
    return "" if missing(v) else str(v)


def _layers(v) -> int | None:
    n = _num(v)
    return None if n is None else int(n)


def _params_dict(model_params: str) -> dict[str, Any]:
    try:
        d = json.loads(model_params) if model_params else {}
    except ValueError:
        return {"params": model_params}
    return d if isinstance(d, dict) else {"params": model_params}


def _value(v: Any) -> str:
    if isinstance(v, (list, dict)):
        return _canon(v)
    return fmt(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else str(v)


def config_key(r: dict[str, Any]) -> tuple[str, str, int | None]:
    """What makes a model the same model across a report: (name, configured params, layers)."""
    return str(r["model"]), _str(r.get("model_params")), _layers(r.get("layers"))


def identities(records: Iterable[dict[str, Any]]) -> dict[tuple, str]:
    """``config_key`` -> the model's label in every table and plot of a report: its name, plus
    the configured parameters (and the layer count) in which its runs differ, ``lmu(theta=50)``.

    Units and parameter counts are not part of it: ``--match-params`` gives one model different
    units on tasks with different input sizes, and they are columns of their own."""
    configs: dict[str, set] = {}
    for r in records:
        key = config_key(r)
        configs.setdefault(key[0], set()).add(key)
    out: dict[tuple, str] = {}
    missing = object()
    for model, keys in configs.items():
        dicts = {k: {**_params_dict(k[1]), "layers": k[2]} for k in keys}
        names = sorted({n for d in dicts.values() for n in d})
        differ = [n for n in names
                  if len({_canon(d.get(n, missing)) if n in d else "" for d in dicts.values()})
                  > 1]
        for k, d in dicts.items():
            shown = [f"{n}={_value(d[n])}" for n in differ if n in d and d[n] is not None]
            out[k] = model + (f"({', '.join(shown)})" if shown else "")
    return out


TRAIN_ORDER = ("steps", "batch_size", "lr", "optimizer", "clipnorm", "eval_every", "n_train",
               "n_val", "n_test", "eval_batch_size", "precision", "jit", "early_stop",
               "early_stop_margin", "steps_per_execution")


def _train_word(key: str, v: Any) -> str:
    if key == "steps":
        return f"{_value(v)} steps"
    if key == "batch_size":
        return f"batch {_value(v)}"
    if key == "lr":
        return f"lr {v:g}" if isinstance(v, (int, float)) else f"lr {v}"
    if key == "optimizer":
        return str(v)
    if key == "clipnorm":
        return "no gradient clipping" if not v else f"clipnorm {_value(v)}"
    if key == "eval_every":
        return f"evaluated every {_value(v)} steps"
    if key == "n_train":
        return f"{_value(v)} training sequences"
    if key in ("n_val", "n_test"):
        return f"{_value(v)} {key[2:]} sequences"
    if key == "eval_batch_size":
        return f"eval batch {_value(v)}"
    if key == "jit":
        return "XLA" if v else "no XLA"
    if key == "early_stop":
        return "early stop" if v else "no early stop"
    if key == "early_stop_margin":
        return f"early-stop margin {_value(v)}"
    if key == "steps_per_execution":
        return f"{_value(v)} steps per execution"
    return f"{key} {_value(v)}"


def train_words(train: dict[str, Any] | None, keys: Iterable[str] | None = None) -> str:
    """Training settings in words, ``2000 steps, batch 64, adam, ...`` (``keys``: only those)."""
    train = train or {}
    keys = list(train) if keys is None else list(keys)
    order = [k for k in TRAIN_ORDER if k in keys] + sorted(k for k in keys if k not in TRAIN_ORDER)
    return ", ".join(_train_word(k, train[k]) for k in order if k in train)


def train_settings(runs: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """``train`` hash -> the training settings it stands for (from ``load_runs``)."""
    return {r.get("train", ""): dict(r.get("train_settings") or {}) for r in runs
            if r.get("train")}


def train_differences(settings: dict[str, dict[str, Any]]) -> tuple[str, dict[str, str]]:
    """(the settings every ``train`` hash shares, in words; per hash, those in which it differs
    from the others, in words). With one setting the second is empty for it."""
    if not settings:
        return "", {}
    keys = sorted({k for s in settings.values() for k in s})
    missing = object()
    differ = [k for k in keys
              if len({_canon(s.get(k, missing)) if k in s else "?" for s in settings.values()})
              > 1]
    first = next(iter(settings.values()))
    common = train_words(first, [k for k in keys if k not in differ])
    return common, {h: train_words(s, differ) or f"train {h}" for h, s in settings.items()}


# -- display -----------------------------------------------------------------------------------
@dataclass
class Block:
    """One table of a report: its title, header and rows of strings, and the ``train`` hash of
    its runs with the words that tell it apart from the other blocks (empty when the report has
    one training setting)."""

    title: str
    header: list[str]
    rows: list[list[str]] = field(default_factory=list)
    train: str = ""
    train_words: str = ""


def _labels(records: list[dict], block_of: Callable[[dict], tuple],
            ids: dict[tuple, str]) -> list[str]:
    """Each record's model label: its identity, plus its units where one block holds two sizes
    of one model (never averaged together: units are part of the entry)."""
    sizes: dict[tuple, set] = {}
    for r in records:
        sizes.setdefault((block_of(r), ids[config_key(r)]), set()).add(fmt(r.get("units")))
    out = []
    for r in records:
        label = ids[config_key(r)]
        if len(sizes[(block_of(r), label)]) > 1 and _num(r.get("units")) is not None:
            label += f" [{fmt(r['units'])}u]"
        out.append(label)
    return out


def display_blocks(df, kind: str = "leaderboard",
                   settings: dict[str, dict] | None = None) -> list[Block]:
    """The tables of a report (Markdown, HTML and ``show`` share them).

    ``settings`` (``train`` hash -> settings; default ``df.attrs["train_settings"]``, which
    ``leaderboard`` and ``horizons`` set): when the frame holds several training settings, each
    title names the ones that differ, in words."""
    records = df.to_dict("records")
    if settings is None:
        settings = getattr(df, "attrs", {}).get("train_settings", {})
    trains = sorted({_str(r["train"]) for r in records})
    words = train_differences({t: settings.get(t, {}) for t in trains})[1] if len(trains) > 1 \
        else {}
    ids = identities(records)
    blocks: list[Block] = []
    if kind == "leaderboard":
        key_cols: tuple = BLOCK_KEY
        header = ["rank", "model", "params", "units", "lr", "test {metric}", "± std", "score",
                  "solved", "steps to solve", "s to solve", "seq/s", "seeds", "failed",
                  "diverged"]
    elif kind == "horizon":
        key_cols = ("dataset", "task", "variant", "train")
        header = ["model", "params", "units", "horizon", "bracket", "lengths run",
                  "lengths solved", "chosen lr", "seeds"]
    else:
        raise ConfigError(f"unknown table kind {kind!r}; known: leaderboard, horizon")

    def key_of(r: dict) -> tuple:
        return tuple(r[c] for c in key_cols)

    labels = _labels(records, key_of, ids)
    cur = None
    for r, label in zip(records, labels, strict=True):
        key = key_of(r)
        if key != cur:
            cur = key
            title = r["task"] + (f" ({r['variant']})" if _str(r["variant"]) else "")
            if kind == "leaderboard":
                title += f", length {r['length']}"
            title += f", dataset {r['dataset']}"
            tw = words.get(_str(r["train"]), "")
            if tw:
                title += f", {tw}"
            blocks.append(Block(title, [h.format(metric=r.get("metric")) for h in header],
                                train=_str(r["train"]), train_words=tw))
        if kind == "leaderboard":
            row = [
                fmt(r["rank"]), label, fmt(r["params"]), fmt(r["units"]),
                fmt(r["lr"]) + (" (edge)" if r["lr_at_edge"] is True else ""),
                fmt(r["metric_mean"]), fmt(r["metric_std"], 2), fmt(r["score_mean"], 3),
                fmt(r["solved_frac"], 3),
                fmt(r["steps_to_solve_median"]), fmt(r["seconds_to_solve_median"], 3),
                fmt(r["throughput"], 3), fmt(r["n_seeds"]), fmt(r["n_failed"]),
                fmt(r["n_diverged"]),
            ]
        else:
            row = [
                label, fmt(r["params"]), fmt(r["units"]), fmt(r["horizon"]), bracket_of(r),
                r["lengths"] or "-", r["solved_lengths"] or "-", r["lrs_chosen"] or "-",
                fmt(r["n_seeds"]),
            ]
        blocks[-1].rows.append(row)
    return blocks


def display_rows(df, kind: str = "leaderboard",
                 settings: dict[str, dict] | None = None
                 ) -> tuple[str, list[tuple[str, list[str], list]]]:
    """``display_blocks`` as ``(kind, [(title, header, rows)])``."""
    return kind, [(b.title, b.header, b.rows) for b in display_blocks(df, kind, settings)]


SCALED_WARNING = ("SCALED RUN, NOT A REPRODUCTION: these runs are a reproduction profile scaled "
                  "down ({scale}); their numbers check the pipeline, they do not reproduce the "
                  "papers.")


def published_blocks(df) -> list[Block]:
    """The published numbers beside ours and the references no run matched (from
    ``leaderboard``'s ``df.attrs``): Markdown and HTML share them. Empty when neither has rows."""
    matched, unmatched = getattr(df, "attrs", {}).get("published", ([], []))
    blocks = []
    if matched:
        title = "Published numbers beside ours"
        if df.attrs.get("scale"):
            title += " (SCALED RUN)"
        header = ["task", "variant", "T", "model", "params", "seeds", "metric", "ours",
                  "published", "ours / published", "match", "source", "differences"]
        rows = [[_str(m["task"]), _str(m["variant"]) or "-", fmt(m["length"]),
                 _str(m["model"]), fmt(m["params"]), fmt(m["n_seeds"]),
                 m["metric"] + (f" ({m['unit']})" if m["unit"] else ""), fmt(m["ours"]),
                 fmt(m["published"]), fmt(m["ratio"], 3), m["match"],
                 f"{m['source']}, {m['where']}", m["differences"]] for m in matched]
        blocks.append(Block(title, header, rows))
    if unmatched:
        header = ["task", "variant", "T", "model", "params", "metric", "published", "source"]
        rows = [[_str(u["task"]), _str(u["variant"]) or "-", fmt(u["length"]), _str(u["model"]),
                 _str(u["params"]), u["metric"] + (f" ({u['unit']})" if u.get("unit") else ""),
                 fmt(u["value"]), f"{u['source']}, {u['where']}"] for u in unmatched]
        blocks.append(Block("Published numbers with no matching run", header, rows))
    return blocks


PUBLISHED_NOTE = (
    "A run matches a published number when task, variant, length and model are the paper's and "
    "it measures the paper's metric (`memorybench references`). 'same': parameter count within "
    "10 % of the published one; 'approximate': not, or other data; 'scaled': a scaled-down run. "
    "The differences, the training budget always, are spelled out. References with no matching "
    "run are listed for the tasks these runs have.")


def published_markdown(df) -> str:
    """``published_blocks`` as Markdown sections ('' when there are none)."""
    blocks = published_blocks(df)
    if not blocks:
        return ""
    parts = []
    if df.attrs.get("scale"):
        parts += [f"**{md_text(SCALED_WARNING.format(scale=df.attrs['scale']))}**", ""]
    parts += [PUBLISHED_NOTE, ""]
    for b in blocks:
        parts += [f"## {md_text(b.title)}", "", md_table(b.header, b.rows), ""]
    return "\n".join(parts)


def _isnan(v) -> bool:
    return isinstance(v, float) and math.isnan(v)


def to_markdown(df, kind: str, title: str, settings: dict[str, dict] | None = None) -> str:
    blocks = display_blocks(df, kind, settings)
    if settings is None:
        settings = getattr(df, "attrs", {}).get("train_settings", {})
    parts = [f"# {title}", ""]
    if kind == "leaderboard":
        parts += ["Per task, variant, length and dataset: test metric mean and std over seeds, "
                  "normalised score mean (0 trivial, 1 perfect), fraction of seeds solved, "
                  "median steps and seconds to solve (solved seeds), training sequences/s. "
                  "Each model at the learning rate it scores best with on the validation split "
                  "('edge': the smallest or largest of the grid; every rate is in "
                  "leaderboard_all_rates.csv). Ranked by score, ties by fewer parameters.", ""]
    else:
        parts += ["Memory horizon: the largest length solved by the majority of seeds at the "
                  "model's learning rate chosen on validation ('-': no length solved); bracket "
                  "[largest solved, smallest failed); 'max': the search stopped at its maximum "
                  "length still solving.", ""]
    used = {_str(t) for t in df["train"]} if len(df) else set()
    common, _ = train_differences({t: settings[t] for t in sorted(used) if t in settings})
    if common:
        parts += [f"Training (every table): {md_text(common)}.", ""]
    if kind == "leaderboard" and getattr(df, "attrs", {}).get("scale"):
        parts += [f"**{md_text(SCALED_WARNING.format(scale=df.attrs['scale']))}**", ""]
    if not blocks:
        parts.append("_no completed runs_")
    for b in blocks:
        parts += [f"## {md_text(b.title)}", "", md_table(b.header, b.rows), ""]
    if kind == "leaderboard":
        parts.append(published_markdown(df))
    return "\n".join(parts).rstrip() + "\n"


# -- scores at other lengths (a task's spec.eval_lengths: induction_heads) ---------------------
EVAL_LENGTH_COLUMNS = [
    "dataset", "task", "variant", "length", "model", "units", "layers", "model_params", "lr",
    "train", "eval_length", "metric", "metric_mean", "score_mean", "solved_frac", "n_seeds",
    "n_errors",
]


def eval_length_table(runs: Iterable[dict[str, Any]]):
    """One row per leaderboard entry (trained at ``length``) and evaluation length, from the
    summaries' ``eval_lengths`` ({length: {metric, score, solved} or {error}}): the mean test
    metric and score over the entry's seeds at that length, the fraction of seeds solving it, and
    how many seeds could not be scored there (``n_errors``). Empty when no run has such scores."""
    import pandas as pd

    groups: dict[tuple, list[dict]] = {}
    for r in runs:
        by_len = r.get("eval_lengths")
        if isinstance(by_len, dict) and by_len:
            groups.setdefault(entry_key(r), []).append(r)
    out = []
    for key, rs in groups.items():
        base = dict(zip(ENTRY_KEY, key, strict=True))
        lengths = sorted({int(k) for r in rs for k in r["eval_lengths"] if str(k).isdigit()})
        for L in lengths:
            got = [r["eval_lengths"].get(str(L)) for r in rs]
            ok = [g for g in got if isinstance(g, dict) and "error" not in g]
            metrics = [m for m in (_num(g.get("metric")) for g in ok) if m is not None]
            scores = [s for s in (_num(g.get("score")) for g in ok) if s is not None]
            out.append({
                **base, "eval_length": L, "metric": rs[0].get("metric"),
                "metric_mean": statistics.fmean(metrics) if metrics else None,
                "score_mean": statistics.fmean(scores) if scores else None,
                "solved_frac": sum(g.get("solved") is True for g in ok) / len(rs),
                "n_seeds": len(rs), "n_errors": sum(isinstance(g, dict) and "error" in g
                                                    for g in got),
            })
    df = pd.DataFrame(out, columns=EVAL_LENGTH_COLUMNS)
    return df.sort_values(["task", "variant", "length", "model", "lr", "eval_length"],
                          kind="stable").reset_index(drop=True) if len(df) else df


def eval_length_markdown(df) -> str:
    """``eval_length_table`` as Markdown: one table per task, model rows, a column per length."""
    parts = ["# Scores at other lengths", "",
             "Models trained at `length`, then scored on fresh test sequences of each evaluation "
             "length (the task's `eval_lengths`): mean test metric over seeds (`solved` "
             "fraction in brackets; `err`: the model could not read that length).", ""]
    if not len(df):
        return "\n".join(parts + ["_no runs with evaluation lengths_"]) + "\n"
    for (task, variant, length), block in df.groupby(["task", "variant", "length"], sort=False):
        lengths = sorted(block["eval_length"].unique())
        header = ["model", "units", "lr", *[str(L) for L in lengths]]
        rows = []
        for (model, units, lr), g in block.groupby(["model", "units", "lr"], sort=False,
                                                   dropna=False):
            cells = {int(r.eval_length): (
                "err" if r.n_errors == r.n_seeds else f"{fmt(r.metric_mean)} ({r.solved_frac:.2g})")
                for r in g.itertuples()}
            rows.append([str(model), fmt(units), fmt(lr),
                         *[cells.get(int(L), "-") for L in lengths]])
        parts += [f"## {md_text(f'{task} ({variant}), trained at length {length}')}", "",
                  md_table(header, rows), ""]
    return "\n".join(parts).rstrip() + "\n"
