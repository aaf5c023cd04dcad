"""Run configuration: frozen dataclasses, run ids and ``resolve``.

A run is one ``RunConfig`` (task, model, training settings, seed). ``resolve`` fills every task
default so that the run id, a hash of the resolved config, does not depend on how the run was
asked for. Profiles, studies and the settings key space that produce run configs live in
``memorybench.settings``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from memorybench.errors import ConfigError, check_int

PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
OPTIMIZERS = ("adam", "adamw", "rmsprop", "sgd")
DEFAULT_UNITS = 64  # units when neither units nor a param_budget is given (the builder too)


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
    jit: bool = False  # XLA; no steady gain on CPU but seconds of compile (docs/architecture.md)
    early_stop: bool = True  # stop when the validation metric reaches the solved threshold
    # stop only once validation beats the threshold by this fraction of the way to perfect
    # (0.5: MSE <= solved_at / 2, accuracy >= solved_at + (1 - solved_at) / 2): stopping right
    # at the threshold leaves the test metric on it, so "solved" on test becomes a coin flip
    early_stop_margin: float = 0.0
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
    check_int("model.layers", m.layers, 1)
    if m.param_budget is not None:
        check_int("model.param_budget", m.param_budget, 1)
    units = m.units
    if units is None:
        if m.param_budget is not None:
            from memorybench.models.build import units_for_budget

            units = units_for_budget(task, name, m.param_budget, layers=m.layers, **m.params)
        else:
            units = DEFAULT_UNITS
    check_int("model.units", units, 1)
    check_train(cfg.train)
    check_int("seed", cfg.seed, 0)
    # a cell class / model factory may declare ``unsupported_modes = {mode: why}`` (modes: jit,
    # mixed_float16, mixed_bfloat16): refused here, not as a failed run. Read only when a mode
    # is on, as it imports the model's module (Keras)
    modes = ["jit"] * bool(cfg.train.jit) + [cfg.train.precision] * (
        cfg.train.precision != "float32")
    if modes:
        from memorybench.models import model_entry

        declared = getattr(model_entry(name)[1].obj, "unsupported_modes", None) or {}
        for mode in (mode for mode in modes if mode in declared):
            raise ConfigError(f"model {name!r} does not support {mode}: {declared[mode]}")
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
        check_int(f"train.{f}", getattr(t, f), 1)
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
    m = t.early_stop_margin
    if isinstance(m, bool) or not isinstance(m, (int, float)) or not 0 <= m < 1:
        raise ConfigError(f"train.early_stop_margin={m!r} is not allowed; allowed: a number in "
                          f"[0, 1)")
    for f in ("jit", "early_stop"):
        if not isinstance(getattr(t, f), bool):
            raise ConfigError(f"train.{f} must be true or false, got {getattr(t, f)!r}")


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
