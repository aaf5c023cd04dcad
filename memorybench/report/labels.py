"""What a report calls things: a model's identity (``identities``: the label of every table
and plot), training settings in words (``train_words``, ``train_differences``) and the tables'
blocks (``display_blocks``), shared by Markdown, HTML, ``show`` and the plots."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from memorybench.errors import ConfigError
from memorybench.report.format import bracket_of, canon, fmt, text
from memorybench.report.load import BLOCK_KEY
from memorybench.run.selection import finite


def _layers(v) -> int | None:
    n = finite(v)
    return None if n is None else int(n)


def _params_dict(model_params: str) -> dict[str, Any]:
    try:
        d = json.loads(model_params) if model_params else {}
    except ValueError:
        return {"params": model_params}
    return d if isinstance(d, dict) else {"params": model_params}


def _value(v: Any) -> str:
    if isinstance(v, (list, dict)):
        return canon(v)
    return fmt(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else str(v)


def config_key(r: dict[str, Any]) -> tuple[str, str, int | None]:
    """What makes a model the same model across a report: (name, configured params, layers)."""
    return str(r["model"]), text(r.get("model_params")), _layers(r.get("layers"))


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
                  if len({canon(d.get(n, missing)) if n in d else "" for d in dicts.values()})
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


def train_differences(settings: dict[str, dict[str, Any]]) -> tuple[str, dict[str, str]]:
    """(the settings every ``train`` hash shares, in words; per hash, those in which it differs
    from the others, in words). With one setting the second is empty for it."""
    if not settings:
        return "", {}
    keys = sorted({k for s in settings.values() for k in s})
    missing = object()
    differ = [k for k in keys
              if len({canon(s.get(k, missing)) if k in s else "?" for s in settings.values()})
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
        if len(sizes[(block_of(r), label)]) > 1 and finite(r.get("units")) is not None:
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
    trains = sorted({text(r["train"]) for r in records})
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
            title = r["task"] + (f" ({r['variant']})" if text(r["variant"]) else "")
            if kind == "leaderboard":
                title += f", length {r['length']}"
            title += f", dataset {r['dataset']}"
            tw = words.get(text(r["train"]), "")
            if tw:
                title += f", {tw}"
            blocks.append(Block(title, [h.format(metric=r.get("metric")) for h in header],
                                train=text(r["train"]), train_words=tw))
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
