"""Run configuration: frozen dataclasses, their checks and their canonical JSON.

A run is one ``RunConfig`` (task, model, training settings, seed). ``models/resolve.py`` fills
every default (``resolve``; fitting units to a parameter budget builds models) and hashes the
result into the run id (``run_id``), so that the id does not depend on how the run was asked
for. Profiles, studies and the settings key space that produce run configs live in
``memorybench.settings``. Nothing here imports Keras, the registries or the builder.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from memorybench.errors import ConfigError, check_int

PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
OPTIMIZERS = ("adam", "adamw", "rmsprop", "sgd")
DEFAULT_UNITS = 64  # units when neither units nor a param_budget is given (the builder too)
AUTO = "auto"  # train.jit / train.steps_per_execution: the training path is chosen (``path``)
# the concrete type of each training setting that may be "auto" (how ``--set`` parses it)
AUTO_FIELDS: dict[str, Any] = {"jit": False, "steps_per_execution": 1}


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
    # XLA on the training step. "auto" (``resolve``, ``jit_off_reason``): on, except for a model
    # that declares it unsupported or measured slower, or a cuDNN-eligible LSTM / GRU on a GPU
    # (cuDNN is not XLA-compilable); at the study's shape XLA made a step 1.5-2x faster on the
    # CPU (``memorybench bench``, study_shape)
    jit: bool | str = AUTO
    early_stop: bool = True  # stop when the validation metric reaches the solved threshold
    # stop only once validation beats the threshold by this fraction of the way to perfect
    # (0.5: MSE <= solved_at / 2, accuracy >= solved_at + (1 - solved_at) / 2): stopping right
    # at the threshold leaves the test metric on it, so "solved" on test becomes a coin flip
    early_stop_margin: float = 0.0
    # training steps per call of the compiled program. "auto": ``eval_every`` (one call per
    # evaluation interval, so evaluation, early stopping and the history keep their steps)
    steps_per_execution: int | str = AUTO
    # wall-clock limit of one run in seconds (0: none). A run past it is ended by the sweep
    # (its worker process is killed) and recorded as failed. Not part of the run id: it decides
    # whether a run may finish, not what it computes
    timeout_s: float = 0.0


# TrainConfig fields that do not change what a run computes: left out of the run id, so that
# setting them does not re-run complete runs (and adding them kept every earlier id)
NOT_HASHED = ("timeout_s",)


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
        "task": {"name": cfg.task.name, "params": jsonable(dict(cfg.task.params))},
        "model": {
            "name": cfg.model.name, "units": cfg.model.units, "layers": cfg.model.layers,
            "param_budget": cfg.model.param_budget, "params": jsonable(dict(cfg.model.params)),
        },
        "train": _train_dict(cfg.train),
        "seed": cfg.seed,
        "code": dict(cfg.code),
    }


def _train_dict(train: TrainConfig) -> dict[str, Any]:
    """The training settings; a field of ``NOT_HASHED`` only when set (so a run without a time
    limit writes the ``config.json`` it wrote before the field existed)."""
    d = dataclasses.asdict(train)
    for name in NOT_HASHED:
        if not d[name]:
            del d[name]
    return d


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
    d = to_dict(cfg)
    for name in NOT_HASHED:
        d["train"].pop(name, None)
    return json.dumps(d, sort_keys=True, separators=(",", ":"))


INT_TRAIN_FIELDS = ("steps", "batch_size", "eval_every", "n_train", "n_val", "n_test",
                    "eval_batch_size", "steps_per_execution")


def check_train_field(name: str, v: Any, key: str | None = None) -> None:
    """Raise ConfigError when the ``TrainConfig`` field ``name`` cannot take ``v`` on its own
    (the checks that need no other field), naming ``key`` (default ``train.NAME``): a value is
    checked where it is given, also when a more specific key overrides it."""
    key = key or f"train.{name}"
    if name in INT_TRAIN_FIELDS:
        if name not in AUTO_FIELDS:
            check_int(key, v, 1)
        elif v != AUTO:
            try:
                check_int(key, v, 1)
            except ConfigError as exc:
                raise ConfigError(f"{exc} (or auto)") from None
    elif name in ("lr", "clipnorm"):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or (
            v <= 0 if name == "lr" else v < 0
        ):
            allowed = "> 0" if name == "lr" else ">= 0 (0: no clipping)"
            raise ConfigError(f"{key}={v!r} is not allowed; allowed: a number {allowed}")
    elif name in ("optimizer", "precision"):
        choices = OPTIMIZERS if name == "optimizer" else PRECISIONS
        if v not in choices:
            raise ConfigError(f"unknown {key} {v!r}; known: {', '.join(choices)}")
    elif name == "timeout_s":
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
            raise ConfigError(f"{key}={v!r} is not allowed; allowed: a number of seconds "
                              f">= 0 (0: no limit)")
    elif name == "early_stop_margin":
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v < 1:
            raise ConfigError(f"{key}={v!r} is not allowed; allowed: a number in [0, 1)")
    elif name in ("jit", "early_stop"):
        if not isinstance(v, bool) and (v != AUTO or name not in AUTO_FIELDS):
            allowed = "true, false or auto" if name in AUTO_FIELDS else "true or false"
            raise ConfigError(f"{key} must be {allowed}, got {v!r}")


def check_train(t: TrainConfig) -> None:
    """Raise ConfigError naming the setting, the value and what is allowed."""
    for f in (*INT_TRAIN_FIELDS, "lr", "clipnorm", "optimizer", "precision"):
        check_train_field(f, getattr(t, f))
    if t.steps % t.eval_every:
        raise ConfigError(
            f"train.steps={t.steps} must be a multiple of train.eval_every={t.eval_every}"
        )
    if t.steps_per_execution != AUTO and t.eval_every % t.steps_per_execution:
        raise ConfigError(
            f"train.eval_every={t.eval_every} must be a multiple of "
            f"train.steps_per_execution={t.steps_per_execution}"
        )
    if t.batch_size > t.n_train:
        raise ConfigError(
            f"train.batch_size={t.batch_size} is larger than train.n_train={t.n_train} (the "
            f"training sequences); allowed: <= {t.n_train}"
        )
    for f in ("timeout_s", "early_stop_margin", "jit", "early_stop"):
        check_train_field(f, getattr(t, f))


def jsonable(obj: Any) -> Any:
    """``obj`` with what JSON cannot hold made plain: numpy scalars, tuples, paths, keys."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if hasattr(obj, "item") and callable(obj.item):  # numpy scalars
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    return obj
