"""Run configuration: frozen dataclasses, run ids, profiles (as data) and the settings key space.

A run is one ``RunConfig`` (task, model, training settings, seed). ``resolve`` fills every task
default so that the run id, a hash of the resolved config, does not depend on how the run was
asked for.

Settings of a sweep come from four layers, later ones win: the profile, the ``--config`` TOML
file, the command-line options (``--tasks``, ``--precision`` ...) and ``--set key=value``. All
four use one key space of dotted keys (``--set`` values are strings coerced to the field's type;
TOML and profile values are typed already):

=========================  ================================================================
``tasks``, ``models``      names (TOML list, or comma-separated in ``--set``)
``lengths``                lengths swept for every task (replaces per-task lengths)
``seeds``                  number of seeds: runs use seeds 0 .. N-1
``match_params``           the same parameter budget for every model (units chosen to fit)
``train.FIELD``            a ``TrainConfig`` field, e.g. ``train.lr=0.003``
``model.units``            also ``model.layers``, ``model.param_budget``
``model.params.NAME``      a keyword argument of the cell / model constructor
``task.FIELD``             a task parameter for every task of the sweep that has it
``TASK.FIELD``             a parameter of one task, e.g. ``adding.variant=anywhere``
``TASK.lengths``           the lengths of one task
``TASK.train.FIELD``       a training setting for one task
=========================  ================================================================

The TOML file uses the same keys as tables: ``seeds = 2``, ``[train] lr = 0.003``,
``[adding] variant = "anywhere"``, ``[copy_memory.train] steps = 4000``; it may also name its
base ``profile = "smoke"`` (``--profile`` wins). Without a profile the base is ``quick``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from memorybench.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    tomllib = None

PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
OPTIMIZERS = ("adam", "adamw", "rmsprop", "sgd")
DEFAULT_UNITS = 64  # the builder's default (memorybench.models.build.DEFAULT_UNITS)


# -- the dataclasses -------------------------------------------------------------------------
@dataclass(frozen=True)
class TaskConfig:
    """A task name and its parameters (after ``resolve``: every dataclass field of the task)."""

    name: str
    params: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ModelConfig:
    """A cell or model name, its size and constructor keyword arguments."""

    name: str
    units: int | None = None  # None: DEFAULT_UNITS, or fitted to param_budget
    layers: int = 1
    param_budget: int | None = None
    params: dict = field(default_factory=dict)


@dataclass(frozen=True)
class TrainConfig:
    """Training settings. ``steps`` is the step budget; evaluation every ``eval_every`` steps."""

    steps: int = 2000
    batch_size: int = 64
    eval_every: int = 100
    lr: float = 1e-3
    optimizer: str = "adam"
    clipnorm: float = 1.0  # 0: no gradient clipping
    n_train: int = 20_000  # pre-generated training sequences (a finite dataset caps it)
    n_val: int = 1000
    n_test: int = 2000
    eval_batch_size: int = 500
    precision: str = "float32"
    jit: bool = False  # XLA; no steady gain on CPU but seconds of compile (DESIGN.md)
    early_stop: bool = True  # stop when the validation metric reaches the solved threshold
    steps_per_execution: int = 1


@dataclass(frozen=True)
class RunConfig:
    """One run: task, model, training settings, seed.

    ``code`` maps "task" / "model" to the sha256 of the plugin file that provides it, so that
    editing a plugin changes the run id (and a sweep re-runs it); ``resolve`` fills it.
    """

    task: TaskConfig
    model: ModelConfig
    train: TrainConfig = field(default_factory=TrainConfig)
    seed: int = 0
    code: dict = field(default_factory=dict)


# -- dict round trip and run ids -------------------------------------------------------------
def to_dict(cfg: RunConfig) -> dict[str, Any]:
    """Plain JSON-able dict of ``cfg`` (the ``config.json`` layout, without provenance keys)."""
    return {
        "task": {"name": cfg.task.name, "params": _jsonable(dict(cfg.task.params))},
        "model": {
            "name": cfg.model.name, "units": cfg.model.units, "layers": cfg.model.layers,
            "param_budget": cfg.model.param_budget, "params": _jsonable(dict(cfg.model.params)),
        },
        "train": dataclasses.asdict(cfg.train),
        "seed": cfg.seed,
        "code": dict(cfg.code),
    }


def from_dict(d: dict[str, Any]) -> RunConfig:
    """Inverse of ``to_dict``; extra top-level keys of ``config.json`` (plugins, version) are
    ignored, missing training fields take their defaults."""
    try:
        t, m = d["task"], d["model"]
        train = d.get("train", {})
        known = {f.name for f in dataclasses.fields(TrainConfig)}
        bad = sorted(set(train) - known)
        if bad:
            raise ConfigError(
                f"unknown training setting {bad[0]!r}; known: {', '.join(sorted(known))}"
            )
        return RunConfig(
            task=TaskConfig(t["name"], dict(t.get("params", {}))),
            model=ModelConfig(
                m["name"], m.get("units"), m.get("layers", 1), m.get("param_budget"),
                dict(m.get("params", {})),
            ),
            train=TrainConfig(**train),
            seed=d.get("seed", 0),
            code=dict(d.get("code", {})),
        )
    except (KeyError, TypeError) as exc:
        raise ConfigError(f"not a run config: missing or malformed {exc}") from None


def canonical_json(cfg: RunConfig) -> str:
    return json.dumps(to_dict(cfg), sort_keys=True, separators=(",", ":"))


def run_id(cfg: RunConfig) -> str:
    """First 16 hex digits of the sha256 of the resolved config's canonical JSON."""
    return hashlib.sha256(canonical_json(resolve(cfg)).encode()).hexdigest()[:16]


def resolve(cfg: RunConfig) -> RunConfig:
    """Validate ``cfg`` and fill defaults: every task field, the model's units (fitted to
    ``param_budget`` when given; that builds models, so imports Keras), plugin hashes.

    Idempotent: resolving a resolved config returns an equal one.
    """
    from memorybench.models import CELLS, MODELS, model_names
    from memorybench.registry import unknown
    from memorybench.tasks import TASKS, get_task

    task = get_task(cfg.task.name, **dict(cfg.task.params))
    name = cfg.model.name
    if not isinstance(name, str) or not (name in CELLS or name in MODELS or ":" in name):
        raise ConfigError(unknown("model", str(name), model_names()))
    m = cfg.model
    _check_int("model.layers", m.layers, 1)
    if m.param_budget is not None:
        _check_int("model.param_budget", m.param_budget, 1)
    units = m.units
    if units is None:
        if m.param_budget is not None:
            from memorybench.models.build import units_for_budget

            units = units_for_budget(task, name, m.param_budget, layers=m.layers, **m.params)
        else:
            units = DEFAULT_UNITS
    _check_int("model.units", units, 1)
    check_train(cfg.train)
    _check_int("seed", cfg.seed, 0)
    code = {}
    for kind, reg, n in (("task", TASKS, cfg.task.name), ("model", CELLS, name),
                         ("model", MODELS, name)):
        digest = _plugin_digest(reg, n)
        if digest:
            code[kind] = digest
    return RunConfig(
        task=TaskConfig(cfg.task.name, _jsonable(task.params())),
        model=ModelConfig(name, int(units), m.layers, m.param_budget, _jsonable(dict(m.params))),
        train=cfg.train,
        seed=int(cfg.seed),
        code=code,
    )


def _plugin_digest(registry, name: str) -> str | None:
    """sha256 of the plugin file that registered ``name``, without importing anything."""
    from memorybench.registry import loaded_plugins

    if name not in registry:
        return None
    entry = registry._entries.get(name)  # the entry's source, not .entry(): that would import
    return loaded_plugins().get(getattr(entry, "source", None))


def check_train(t: TrainConfig) -> None:
    """Raise ConfigError naming the setting, the value and what is allowed."""
    for f in ("steps", "batch_size", "eval_every", "n_train", "n_val", "n_test",
              "eval_batch_size", "steps_per_execution"):
        _check_int(f"train.{f}", getattr(t, f), 1)
    if t.steps % t.eval_every:
        raise ConfigError(
            f"train.steps={t.steps} must be a multiple of train.eval_every={t.eval_every}"
        )
    if t.eval_every % t.steps_per_execution:
        raise ConfigError(
            f"train.eval_every={t.eval_every} must be a multiple of "
            f"train.steps_per_execution={t.steps_per_execution}"
        )
    for f, lo in (("lr", 0.0), ("clipnorm", -1.0)):
        v = getattr(t, f)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or (
            v <= lo if f == "lr" else v < 0
        ):
            allowed = "> 0" if f == "lr" else ">= 0 (0: no clipping)"
            raise ConfigError(f"train.{f}={v!r} is not allowed; allowed: a number {allowed}")
    for f, choices in (("optimizer", OPTIMIZERS), ("precision", PRECISIONS)):
        if getattr(t, f) not in choices:
            raise ConfigError(
                f"unknown train.{f} {getattr(t, f)!r}; known: {', '.join(choices)}"
            )
    for f in ("jit", "early_stop"):
        if not isinstance(getattr(t, f), bool):
            raise ConfigError(f"train.{f} must be true or false, got {getattr(t, f)!r}")


def _check_int(name: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {value!r}")


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if hasattr(obj, "item") and callable(obj.item):  # numpy scalars
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    return obj


# -- profiles (data) -------------------------------------------------------------------------
# Each profile is a dict in the settings key space (see the module docstring).
PROFILES: dict[str, dict[str, Any]] = {
    "smoke": {
        "description": "every seed task x simple_rnn, lstm, gru at length 10, one seed; "
        "checks the whole pipeline in about 30 s on an idle 2-core CPU",
        "tasks": ["adding", "copy_memory", "delayed_xor", "sequential_mnist"],
        "models": ["simple_rnn", "lstm", "gru"],
        "lengths": [10],
        "seeds": 1,
        "model.units": 32,
        "train.steps": 200,
        "train.eval_every": 50,
        "train.batch_size": 32,
        "train.lr": 3e-3,
        "train.n_train": 2048,
        "train.n_val": 256,
        "train.n_test": 512,
        "train.eval_batch_size": 256,
        # 28 steps of 28 pixels (one row a step): pixel-by-pixel (784 steps) is for `paper`
        "sequential_mnist.pixels_per_step": 28,
    },
    "quick": {
        "description": "adding (L=50), copy_memory (L=20), delayed_xor (L=15) x simple_rnn, "
        "lstm, gru, one seed: lengths where the simple RNN stays at chance and the LSTM "
        "learns; 3.5 minutes on an idle 2-core CPU (up to 3x that on a busy one)",
        "tasks": ["adding", "copy_memory", "delayed_xor"],
        "models": ["simple_rnn", "lstm", "gru"],
        "seeds": 1,
        "adding.lengths": [50],
        "copy_memory.lengths": [20],
        "delayed_xor.lengths": [15],
        "model.units": 64,
        "train.steps": 2000,
        "train.eval_every": 100,
        "train.batch_size": 64,
        "train.lr": 3e-3,
        "train.n_train": 20_000,
        "train.n_val": 500,
        "train.n_test": 2000,
        # the LSTM leaves the copy task's plateau late: more steps and a larger step size
        "copy_memory.train.steps": 3000,
        "copy_memory.train.lr": 1e-2,
    },
    "paper": {
        "description": "published settings (Arjovsky et al. 2016; Le et al. 2015; Bai et al. "
        "2018): long lengths, 128 units, 3 seeds, every built-in model; for a GPU",
        "tasks": ["adding", "copy_memory", "delayed_xor", "sequential_mnist", "permuted_mnist"],
        "models": "all",
        "seeds": 3,
        "adding.lengths": [100, 200, 400, 750],
        "copy_memory.lengths": [100, 200, 300, 500],
        "delayed_xor.lengths": [100, 200, 400],
        "model.units": 128,
        "train.steps": 20_000,
        "train.eval_every": 500,
        "train.batch_size": 128,
        "train.lr": 1e-3,
        "train.clipnorm": 1.0,
        "train.n_train": 100_000,
        "copy_memory.train.n_train": 50_000,  # one-hot sequences of up to 520 steps: 1 GB
        "train.n_val": 2000,
        "train.n_test": 10_000,
        "train.eval_batch_size": 1000,
    },
}
DEFAULT_PROFILE = "quick"  # the base when no --profile is given


def profile(name: str) -> dict[str, Any]:
    if name not in PROFILES:
        raise ConfigError(f"unknown profile {name!r}; known: {', '.join(PROFILES)}")
    return {k: v for k, v in PROFILES[name].items() if k != "description"}


# -- the settings key space ------------------------------------------------------------------
SWEEP_KEYS = ("tasks", "models", "lengths", "seeds", "match_params")
MODEL_KEYS = ("units", "layers", "param_budget")
_TRAIN_DEFAULTS = {f.name: f.default for f in dataclasses.fields(TrainConfig)}


def known_keys() -> list[str]:
    """The key patterns ``--set`` and ``--config`` accept (for error messages)."""
    return [
        *SWEEP_KEYS,
        *(f"train.{f}" for f in _TRAIN_DEFAULTS),
        *(f"model.{f}" for f in MODEL_KEYS),
        "model.params.NAME", "task.FIELD", "TASK.FIELD", "TASK.lengths", "TASK.train.FIELD",
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
    else:
        ok = isinstance(value, type(like))
    if not ok:
        raise ConfigError(f"{key}={value!r} is not a valid {type(like).__name__}")
    return value


def parse_sets(items: list[str], cls) -> dict:
    """``key=value`` strings -> kwargs coerced to the dataclass field types of ``cls``."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    out = {}
    for key, raw in parse_set_items(items).items():
        if key not in fields:
            raise ConfigError(f"unknown key {key!r}; known: {', '.join(sorted(fields))}")
        out[key] = coerce(raw, fields[key].default, key)
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
