"""The settings key space: its grammar, typed values, layering, and keys sorted by place.

Settings of a sweep come from four layers, later ones win: the profile, the ``--config`` TOML
file, the command-line options (``--tasks``, ``--lrs``, ``--precision`` ...) and ``--set
key=value``. All four use one key space of dotted keys (``--set`` values are strings coerced to
the field's type; TOML and profile values are typed already). ``task show --set`` uses the same
grammar.

=========================  ================================================================
``tasks``, ``models``      names (TOML list, or comma-separated in ``--set``)
``lengths``                lengths swept for every task (replaces per-task lengths)
``seeds``                  number of seeds: runs use seeds 0 .. N-1
``match_params``           the same parameter budget for every model (units chosen to fit)
``train.FIELD``            a ``TrainConfig`` field, e.g. ``train.lr=0.003``
``train.lrs``              a learning-rate grid (``--lrs``): every rate is run, and reports
                           select each model's rate on the validation split
``model.units``            also ``model.layers``, ``model.param_budget``
``model.params.NAME``      a keyword argument of the cell / model constructor
``task.FIELD``             a task parameter for every task of the sweep that has it
``FIELD``                  (no dot, not a key above) the same as ``task.FIELD``
``TASK.FIELD``             a parameter of one task, e.g. ``adding.variant=anywhere``
``TASK.lengths``           the lengths of one task
``TASK.train.FIELD``       a training setting for one task (``TASK.train.lrs`` too)
``MODEL.KEY``              ``train.FIELD``, ``model.units`` / ``layers`` / ``param_budget`` or
                           ``model.params.NAME`` for one model, e.g. ``tcn.train.lr=0.002``
``TASK.MODEL.KEY``         the same for one model on one task (wins over ``MODEL.KEY``), e.g.
                           ``adding.lstm.model.units=130``; the reproduction profiles tune
                           per model this way. A scope naming a model the sweep does not run
                           is left unused (``--models`` may take a slice of a profile)
=========================  ================================================================

The TOML file uses the same keys as tables: ``seeds = 2``, ``[train] lr = 0.003``,
``[adding] variant = "anywhere"``, ``[copy_memory.train] steps = 4000``; it may also name its
base ``profile = "smoke"`` (``--profile`` wins). Without a profile the base is ``quick``.

``layered(...)`` merges the four layers into one dict (``Layered``, which remembers the
profile's own keys); ``sort_keys`` sorts merged settings into their places (``Keys``), checking
every key and the type of every value whose field is known, for ``memorybench.settings.grid``.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from memorybench.config import AUTO, AUTO_FIELDS, TrainConfig, check_train_field
from memorybench.errors import ConfigError
from memorybench.settings.catalogue import DEFAULT_PROFILE, profile

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    tomllib = None


# -- the settings key space ------------------------------------------------------------------
SWEEP_KEYS = ("tasks", "models", "lengths", "seeds", "match_params", "allow_large_grid")
MODEL_KEYS = ("units", "layers", "param_budget")
_TRAIN_DEFAULTS = {f.name: f.default for f in dataclasses.fields(TrainConfig)}


def known_keys() -> list[str]:
    """The key patterns ``--set`` and ``--config`` accept (for error messages)."""
    return [
        *SWEEP_KEYS,
        *(f"train.{f}" for f in _TRAIN_DEFAULTS), "train.lrs",
        *(f"model.{f}" for f in MODEL_KEYS),
        "model.params.NAME", "task.FIELD", "FIELD", "TASK.FIELD", "TASK.lengths",
        "TASK.train.FIELD", "MODEL.train.FIELD", "MODEL.model.FIELD", "TASK.MODEL.train.FIELD",
        "TASK.MODEL.model.FIELD",
    ]


def parse_set_items(items) -> dict[str, str]:
    """``["a.b=1", ...]`` -> ``{"a.b": "1"}`` (values stay strings until ``normalise``)."""
    out: dict[str, str] = {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--set expects key=value, got {item!r}")
        out[key] = raw.strip()
    return out


def load_config_file(path: str | Path) -> dict[str, Any]:
    """A TOML file -> flat dotted keys (tables nest: ``[train] lr = 0.01`` -> ``train.lr``)."""
    p = Path(path)
    if tomllib is None:  # pragma: no cover
        raise ConfigError("--config needs Python >= 3.11 (tomllib)")
    try:
        data = tomllib.loads(p.read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file {str(path)!r} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {str(path)!r}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {str(path)!r} is not valid TOML: {exc}") from None
    flat: dict[str, Any] = {}

    def walk(prefix: str, d: dict) -> None:
        for k, v in d.items():
            key = f"{prefix}{k}"
            if isinstance(v, dict):
                walk(key + ".", v)
            else:
                flat[key] = v

    walk("", data)
    return flat


def merge_layers(*layers: dict[str, Any]) -> dict[str, Any]:
    """Later layers win; a layer that sets ``lengths`` drops the earlier per-task lengths."""
    merged: dict[str, Any] = {}
    for layer in layers:
        if not layer:
            continue
        if "lengths" in layer:
            for k in [k for k in merged if k.endswith(".lengths")]:
                del merged[k]
        merged.update(layer)
    return merged


def coerce(raw: str, like, key: str = "value"):
    """Parse ``raw`` as the type of the default ``like`` (bool, int, float, str, None)."""
    try:
        if isinstance(like, bool):
            if raw.lower() in ("1", "true", "yes", "on"):
                return True
            if raw.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if isinstance(like, int):
            return int(raw)
        if isinstance(like, float):
            return float(raw)
    except ValueError:
        raise ConfigError(
            f"{key}={raw!r} is not a valid {type(like).__name__}"
        ) from None
    if like is None:
        for conv in (int, float):
            try:
                return conv(raw)
            except ValueError:
                pass
        if raw.lower() in ("true", "false"):
            return raw.lower() == "true"
        return None if raw.lower() == "none" else raw
    return raw


def train_typed(key: str, value: Any, name: str) -> Any:
    """``typed`` for the ``TrainConfig`` field ``name``: a field that may be "auto" (jit,
    steps_per_execution) takes "auto" or a value of its concrete type."""
    if name in AUTO_FIELDS and isinstance(value, str) and value.strip().lower() == AUTO:
        return AUTO
    value = typed(key, value, AUTO_FIELDS.get(name, _TRAIN_DEFAULTS[name]))
    check_train_field(name, value, key)  # where it is given, even if a narrower key wins
    return value


def typed(key: str, value: Any, like: Any) -> Any:
    """``value`` as the type of ``like``: strings (from ``--set``) are parsed, typed values
    (TOML, profiles) are checked; an int is fine where a float is expected."""
    if isinstance(value, str) and not isinstance(like, str):
        return coerce(value, like, key)
    if like is None:
        return value
    if isinstance(like, bool):
        ok = isinstance(value, bool)
    elif isinstance(like, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(like, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif isinstance(like, tuple):  # a list-valued task field (induction_heads.eval_lengths)
        ok = isinstance(value, (list, tuple))  # the task checks the items
    else:
        ok = isinstance(value, type(like))
    if not ok:
        raise ConfigError(f"{key}={value!r} is not a valid {type(like).__name__}")
    return value


def task_params_from_sets(task: str, items) -> dict[str, Any]:
    """``task show --set`` items -> the task's parameters, in the grammar of ``run --set``:
    ``FIELD``, ``task.FIELD`` or ``TASK.FIELD`` (the same key a sweep takes)."""
    from memorybench.tasks import TASKS

    cls = TASKS.get(task)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    out = {}
    for key, raw in parse_set_items(items).items():
        head, _, rest = key.rpartition(".")
        if head not in ("", "task", task) or rest not in fields:
            known = ", ".join(sorted(fields))
            raise ConfigError(f"unknown key {key!r} for task {task!r}; known: {known} "
                              f"(also as task.FIELD or {task}.FIELD)")
        out[rest] = typed(key, raw, field_default(fields[rest]))
    return out


def name_list(key: str, value: Any) -> list[str]:
    """A list of names from a TOML list or a comma-separated string."""
    if isinstance(value, str):
        items = [v.strip() for v in value.split(",")]
    elif isinstance(value, (list, tuple)):
        items = [str(v).strip() for v in value]
    else:
        raise ConfigError(f"{key} must be a list of names, got {value!r}")
    items = [v for v in items if v]
    if not items:
        raise ConfigError(f"{key} is empty; give at least one name")
    return list(dict.fromkeys(items))  # keep order, drop repeats


def float_list(key: str, value: Any) -> list[float]:
    """Positive finite numbers (learning rates) from a TOML list or a comma-separated string."""
    raw = value.split(",") if isinstance(value, str) else value
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        raw = [raw]
    if not isinstance(raw, (list, tuple)) or not raw:
        raise ConfigError(f"{key} must be a list of numbers > 0, got {value!r}")
    out = []
    for v in raw:
        try:
            fv = float(v.strip()) if isinstance(v, str) else v
        except ValueError:
            fv = None
        if isinstance(fv, bool) or not isinstance(fv, (int, float)) or not math.isfinite(fv) \
                or fv <= 0:
            raise ConfigError(f"{key}: {str(v).strip()!r} is not allowed; allowed: numbers > 0")
        out.append(float(fv))
    return sorted(dict.fromkeys(out))


def int_list(key: str, value: Any, minimum: int = 1) -> list[int]:
    """Positive integers from a TOML list or a comma-separated string."""
    raw = value.split(",") if isinstance(value, str) else value
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = [raw]
    if not isinstance(raw, (list, tuple)) or not raw:
        raise ConfigError(f"{key} must be a list of integers >= {minimum}, got {value!r}")
    out = []
    for v in raw:
        try:
            iv = int(v.strip()) if isinstance(v, str) else v
        except ValueError:
            iv = None
        if isinstance(iv, bool) or not isinstance(iv, int) or iv < minimum:
            raise ConfigError(
                f"{key}: {str(v).strip()!r} is not allowed; allowed: integers >= {minimum}"
            )
        out.append(iv)
    return list(dict.fromkeys(out))


# -- keys sorted by place ---------------------------------------------------------------------
@dataclass
class Keys:
    """The settings sorted by what they set (``sort_keys``)."""

    train_kw: dict[str, Any] = field(default_factory=dict)  # train.FIELD
    per_task_train: dict[str, dict[str, Any]] = field(default_factory=dict)  # TASK.train.FIELD
    model_kw: dict[str, Any] = field(default_factory=dict)  # model.units / layers / budget
    model_params: dict[str, Any] = field(default_factory=dict)  # model.params.NAME
    global_task: dict[str, Any] = field(default_factory=dict)  # task.FIELD and bare FIELD
    per_task: dict[str, dict[str, Any]] = field(default_factory=dict)  # TASK.FIELD
    per_task_lengths: dict[str, list[int]] = field(default_factory=dict)  # TASK.lengths
    per_task_lrs: dict[str, list[float]] = field(default_factory=dict)  # TASK.train.lrs
    lr_grid: list[float] | None = None  # train.lrs
    bare: set[str] = field(default_factory=set)  # the bare FIELD keys among global_task
    # (task or None, model) -> {"train": {...}, "model": {...}, "params": {...}}: MODEL.KEY and
    # TASK.MODEL.KEY, the per-model settings of the reproduction profiles
    scoped: dict[tuple[str | None, str], dict[str, dict[str, Any]]] = field(
        default_factory=dict)


def _bad_key(key: str) -> ConfigError:
    return ConfigError(f"unknown key {key!r}; known: {', '.join(known_keys())}")


def _is_model(name: str) -> bool:
    from memorybench.models import CELLS, MODELS

    return name in CELLS or name in MODELS


def sort_keys(s: dict[str, Any]) -> Keys:
    """Step 1 of ``grid.expand``: sort every key into its place (types are checked where the
    field's type is known); ConfigError for a key of no place."""
    from memorybench.tasks import task_names

    keys = Keys()
    all_tasks = task_names()
    for key, value in s.items():
        head, _, rest = key.partition(".")
        if key in SWEEP_KEYS:
            continue
        if head == "train":
            if rest == "lrs":
                keys.lr_grid = float_list(key, value)
            elif rest not in _TRAIN_DEFAULTS:
                raise _bad_key(key)
            else:
                keys.train_kw[rest] = train_typed(key, value, rest)
        elif head == "model":
            if rest.startswith("params.") and len(rest) > len("params."):
                keys.model_params[rest[len("params."):]] = typed(key, value, None)
            elif rest in MODEL_KEYS:
                keys.model_kw[rest] = typed(key, value, 1 if rest != "param_budget" else None)
            else:
                raise _bad_key(key)
        elif head == "task" and rest:
            if rest == "length" or rest == "lengths":
                raise ConfigError(f"{key}: set lengths with --lengths or the 'lengths' key")
            keys.global_task[rest] = value
        elif head in all_tasks and rest:
            _sort_task_key(keys, key, head, rest, value)
        elif not rest and key not in all_tasks:  # a bare FIELD: task.FIELD
            keys.global_task[key] = value
            keys.bare.add(key)
        elif _is_model(head) and rest.partition(".")[0] in ("train", "model"):
            _add_scoped(keys, key, (None, head), rest, value)  # MODEL.KEY
        else:
            raise _bad_key(key)
    return keys


def _sort_task_key(keys: Keys, key: str, task: str, rest: str, value: Any) -> None:
    """``TASK.REST``: lengths, training, a model's settings on the task, or a parameter."""
    from memorybench.tasks import TASKS

    sub, _, leaf = rest.partition(".")
    if rest == "lengths":
        keys.per_task_lengths[task] = int_list(key, value)
    elif sub == "train" and leaf == "lrs":
        keys.per_task_lrs[task] = float_list(key, value)
    elif sub == "train" and leaf:
        if leaf not in _TRAIN_DEFAULTS:
            raise _bad_key(key)
        keys.per_task_train.setdefault(task, {})[leaf] = train_typed(key, value, leaf)
    elif _is_model(sub) and leaf.partition(".")[0] in ("train", "model"):
        _add_scoped(keys, key, (task, sub), leaf, value)  # TASK.MODEL.KEY
    elif "." in rest:
        raise _bad_key(key)
    elif rest == "length" and getattr(TASKS.get(task), "length_set_by", None):
        raise ConfigError(f"{key}: the length of {task} is set by "
                          f"{task}.{TASKS.get(task).length_set_by}, not by a length")
    elif rest == "length":
        raise ConfigError(f"{key}: set lengths with --lengths or {task}.lengths")
    else:
        keys.per_task.setdefault(task, {})[rest] = value


def _add_scoped(keys: Keys, key: str, scope: tuple[str | None, str], inner: str,
                value: Any) -> None:
    """``inner`` (``train.FIELD``, ``model.units`` ...) of ``MODEL.`` / ``TASK.MODEL.``."""
    kind, _, leaf = inner.partition(".")
    slot = keys.scoped.setdefault(scope, {"train": {}, "model": {}, "params": {}})
    if kind == "train" and leaf in _TRAIN_DEFAULTS:
        slot["train"][leaf] = train_typed(key, value, leaf)
    elif kind == "model" and leaf in MODEL_KEYS:
        slot["model"][leaf] = typed(key, value, 1 if leaf != "param_budget" else None)
    elif kind == "model" and leaf.startswith("params.") and len(leaf) > len("params."):
        slot["params"][leaf[len("params."):]] = typed(key, value, None)
    else:
        raise _bad_key(key)


def field_default(f: dataclasses.Field) -> Any:
    """A dataclass field's default (its factory called), None where it has none."""
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        return f.default_factory()  # type: ignore[misc]
    return None


# -- layering ----------------------------------------------------------------------------------
# command-line options (and ``plan`` keywords) -> their key in the key space
OPTION_KEYS = {
    "tasks": "tasks", "models": "models", "lengths": "lengths", "seeds": "seeds",
    "match_params": "match_params", "lrs": "train.lrs", "precision": "train.precision",
    "jit": "train.jit", "allow_large_grid": "allow_large_grid",
}


def layered(
    profile_name: str | None = None,
    config_file: str | Path | None = None,
    options: dict[str, Any] | None = None,
    sets: dict[str, Any] | list[str] | tuple | None = None,
) -> dict[str, Any]:
    """Merge the four layers: profile -> ``--config`` file -> options -> ``--set`` (later wins).

    ``options`` are keyed as in ``OPTION_KEYS`` (None values are left out); ``sets`` are
    ``key=value`` strings or a dict in the key space.
    """
    file_layer = load_config_file(config_file) if config_file else {}
    name = profile_name or file_layer.pop("profile", None) or DEFAULT_PROFILE
    file_layer.pop("profile", None)
    opts: dict[str, Any] = {}
    for key, value in (options or {}).items():
        if key not in OPTION_KEYS:
            raise ConfigError(f"unknown option {key!r}; known: {', '.join(OPTION_KEYS)}")
        if value is not None:
            opts[OPTION_KEYS[key]] = value
    set_layer = dict(sets) if isinstance(sets, dict) else parse_set_items(sets)
    base = profile(name)
    merged = Layered(merge_layers(base, file_layer, opts, set_layer))
    given = set(file_layer) | set(opts) | set(set_layer)
    merged.profile_keys = frozenset(k for k in base if k not in given)
    return merged


class Layered(dict):
    """Merged settings that remember which keys hold the profile's own values
    (``profile_keys``): ``expand`` notes a value that a narrower key overrides only when the
    user gave it, not where a profile overrides its own default (``quick``'s copy_memory).
    ``with_(more)``: these settings and ``more``, still layered."""

    profile_keys: frozenset = frozenset()

    def with_(self, more: dict[str, Any]) -> Layered:
        out = Layered({**self, **more})
        out.profile_keys = self.profile_keys - set(more)
        return out
