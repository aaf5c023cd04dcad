"""Resolving a run: every default filled, the run id, the training path, the memory a run needs.

``resolve(cfg)`` validates a ``RunConfig`` against the registries and fills every default (the
task's fields, the model's units, fitted to ``param_budget`` by building models, the plugin
files' hashes, the training path "auto" chooses), so that ``run_id``, the hash of the resolved
config, does not depend on how a run was asked for. Importing this module does not import
Keras; fitting units, checking constructor arguments and asking for a GPU do.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import math

from memorybench.config import (
    AUTO,
    DEFAULT_UNITS,
    ModelConfig,
    RunConfig,
    TaskConfig,
    TrainConfig,
    canonical_json,
    check_train,
    jsonable,
)
from memorybench.errors import ConfigError, check_int
from memorybench.registry import check_name


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
    if ":" not in name:  # an entry point is registered without the decorator's check
        check_name("model", name)
    check_name("task", cfg.task.name)
    m = cfg.model
    check_int("model.layers", m.layers, 1)
    if m.param_budget is not None:
        check_int("model.param_budget", m.param_budget, 1)
    check_train(cfg.train)
    spec = task.spec
    check_memory(spec, None, m.layers, cfg.train)  # the data alone, before units are fitted
    units = m.units
    if units is None:
        if m.param_budget is not None:
            from memorybench.models.build import units_for_budget

            units = units_for_budget(task, name, m.param_budget, layers=m.layers, **m.params)
        else:
            units = DEFAULT_UNITS
    check_int("model.units", units, 1)
    check_memory(spec, int(units), m.layers, cfg.train)
    if m.params:  # constructor arguments: checked against the cell's / factory's signature
        from memorybench.models.build import check_params

        check_params(task, name, int(units), m.layers, dict(m.params))
    check_int("seed", cfg.seed, 0)
    train = training_path(cfg.train, task, name, int(units), m.layers, dict(m.params))
    # a cell class / model factory may declare ``unsupported_modes = {mode: why}`` (modes: jit,
    # mixed_float16, mixed_bfloat16): refused here when asked for, not as a failed run ("auto"
    # has already chosen no XLA for such a model)
    modes = ["jit"] * bool(train.jit) + [train.precision] * (train.precision != "float32")
    declared = declared_unsupported(name) if modes else {}
    for mode in (mode for mode in modes if mode in declared):
        raise ConfigError(f"model {name!r} does not support {mode}: {declared[mode]}")
    code = {}
    for kind, reg, n in (("task", TASKS, cfg.task.name), ("model", CELLS, name),
                         ("model", MODELS, name)):
        digest = _plugin_digest(reg, n)
        if digest:
            code[kind] = digest
    version = getattr(TASKS.get(cfg.task.name), "generator_version", 1)
    if "task" not in code and isinstance(version, int) and version != 1:
        code["task"] = f"generator v{version}"  # a fixed generator: new run ids
    return RunConfig(
        task=TaskConfig(cfg.task.name, jsonable(task.params())),
        model=ModelConfig(name, int(units), m.layers, m.param_budget, jsonable(dict(m.params))),
        train=train,
        seed=int(cfg.seed),
        code=code,
    )


def training_path(train: TrainConfig, task, name: str, units: int, layers: int,
                  params: dict) -> TrainConfig:
    """``train`` with its "auto" settings made concrete, so that the run id says which path a
    run trains on: ``steps_per_execution`` becomes ``eval_every``; ``jit`` becomes True unless
    ``jit_off_reason`` gives a reason (recorded in the run's summary)."""
    jit, spe = train.jit, train.steps_per_execution
    if spe == AUTO:
        spe = train.eval_every
    if jit == AUTO:
        jit = jit_off_reason(task, name, units, layers, params) is None
    if jit == train.jit and spe == train.steps_per_execution:
        return train
    return dataclasses.replace(train, jit=jit, steps_per_execution=spe)


def jit_off_reason(task, name: str, units: int, layers: int, params: dict) -> str | None:
    """Why the automatic training path runs ``name`` without XLA, or None: the model declares
    XLA unsupported (``unsupported_modes``), or slower (``xla_off_by_default = "why"``, from a
    bench measurement), or it is a cuDNN-eligible LSTM / GRU and a GPU is visible (Keras takes
    the fused cuDNN kernel there, which XLA cannot compile; TensorFlow's guide: use cuDNN)."""
    declared = declared_unsupported(name).get("jit")
    if declared:
        return f"model {name!r} declares XLA unsupported: {declared}"
    from memorybench.models import model_entry

    slower = getattr(model_entry(name)[1].obj, "xla_off_by_default", None)
    if slower:
        return f"model {name!r} trains faster without XLA: {slower}"
    if gpu_visible():
        from memorybench.models.build import build_model, cudnn_eligible

        if cudnn_eligible(build_model(task, name, units=units, layers=layers, **params)):
            return "cuDNN on the GPU: the fused LSTM / GRU kernel, which XLA cannot compile"
    return None


def declared_unsupported(name: str) -> dict[str, str]:
    """The ``unsupported_modes`` a cell class or model factory declares ({} when none)."""
    from memorybench.models import model_entry

    return dict(getattr(model_entry(name)[1].obj, "unsupported_modes", None) or {})


@functools.cache
def gpu_visible() -> bool:
    """Whether TensorFlow sees a GPU in this process (imports TensorFlow; asked once)."""
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


def _plugin_digest(registry, name: str) -> str | None:
    """sha256 of the plugin file that registered ``name``, without importing anything."""
    from memorybench.registry import loaded_plugins

    if name not in registry:
        return None
    entry = registry.peek(name)  # the entry's source, not .entry(): that would import
    return loaded_plugins().get(getattr(entry, "source", None))


# -- the memory a run needs (an estimate) -------------------------------------------------------
MEMORY_ENV = "MEMORYBENCH_MAX_RUN_GB"  # overrides the limit (GB); default: the machine's memory
_BYTES_PER_UNIT_STEP = 4 * 8  # float32 x ~8 values a unit a step kept for backprop (LSTM: 4
# gates, cell, hidden, tanh of the cell)
_FINITE_CAP = 70_000  # a finite dataset (MNIST: 70,000 digits) caps the sequences it gives


def memory_limit() -> tuple[int, str]:
    """(bytes, where the number comes from): ``$MEMORYBENCH_MAX_RUN_GB`` or the physical memory
    of this machine."""
    import os

    raw = os.environ.get(MEMORY_ENV, "").strip()
    if raw:
        try:
            gb = float(raw)
            if not math.isfinite(gb) or gb <= 0:
                raise ValueError
        except ValueError:
            raise ConfigError(f"{MEMORY_ENV}={raw!r} is not allowed; allowed: a number of "
                              f"gigabytes > 0") from None
        return int(gb * 1e9), f"{MEMORY_ENV}={raw}"
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not POSIX: no limit known
        return 1 << 62, "no limit known"
    return int(total), "this machine's memory"


def estimate_memory(spec, units: int | None, layers: int, train: TrainConfig) -> dict[str, int]:
    """Bytes a run needs, roughly: the data (its three splits, held twice while the training
    split becomes tensors), the predictions of an evaluation split (kept whole: n x steps x
    classes for a per-step task), the activations kept for backpropagation through time (a
    training batch, the per-step class probabilities included), the weights with their
    gradients and Adam's two moments (the token embedding, vocab_size x units, and the output
    layer over the classes included), and the largest extra test length (``eval_lengths``: its
    test split, predictions and a forward pass). ``units`` None: what does not depend on the
    model. An estimate to refuse impossible runs before they start, not a measurement."""
    steps, dim = int(spec.steps), int(spec.input_dim)
    tokens = getattr(spec, "input_kind", "float") == "tokens"
    per_step = spec.output == "every_step"
    x_step = 4 * (1 if tokens else dim)  # bytes of one step's input
    y_step = 8 if per_step else 0
    y_last = 0 if per_step else 8 * max(1, int(spec.out_dim))
    width = max(1, int(spec.n_classes or spec.out_dim))  # the model's outputs a step
    n = [train.n_train, train.n_val, train.n_test]
    if spec.dataset != "synthetic":
        n = [min(k, _FINITE_CAP) for k in n]
    out = {"data": 2 * sum(n) * (steps * (x_step + y_step) + y_last),
           "predictions": max(n[1], n[2]) * 4 * width * (steps if per_step else 1)}
    longest = max((int(v) for v in getattr(spec, "eval_lengths", ()) or ()), default=0)
    if longest:
        out["eval lengths"] = n[2] * longest * (x_step + y_step + 4 * width)
    if units is not None:
        out["activations"] = train.batch_size * steps * (
            layers * units * _BYTES_PER_UNIT_STEP + (3 * 4 * width if per_step else 0))
        params = layers * 4 * (units * (units + max(dim, units)) + units)
        params += units * width + width  # the output layer
        if tokens:
            params += int(spec.vocab_size) * units  # the embedding
        out["parameters"] = 4 * 4 * params  # weights, gradients, two Adam moments (float32)
        if longest:
            out["eval lengths"] += min(train.eval_batch_size, n[2]) * longest * layers * units * 4
    return out


def check_memory(spec, units: int | None, layers: int, train: TrainConfig) -> None:
    """ConfigError when ``estimate_memory`` exceeds ``memory_limit``, with both numbers."""
    parts = estimate_memory(spec, units, layers, train)
    need = sum(parts.values())
    limit, source = memory_limit()
    if need <= limit:
        return
    what = ", ".join(f"{k} {_size(v)}" for k, v in parts.items())
    extra = (", vocab_size" if getattr(spec, "input_kind", "float") == "tokens" else "") + (
        ", eval_lengths" if getattr(spec, "eval_lengths", ()) else "")
    raise ConfigError(
        f"a run of {spec.name} with {spec.steps} steps"
        + (f" and {units} units" if units is not None else "")
        + f" would need about {_size(need)} of memory ({what}), more than the limit "
        f"{_size(limit)} ({source}; set {MEMORY_ENV} to change it); allowed: smaller lengths"
        f"{extra}, model.units, train.n_train / n_val / n_test or train.batch_size"
    )


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if n < 1000 or unit == "PB":
            return f"{n:.3g} {unit}"
        n /= 1000
    return f"{n:.3g} PB"  # pragma: no cover
