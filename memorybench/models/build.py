"""Task-aware model builder: input -> recurrent stack -> the head the task spec asks for."""

from __future__ import annotations

from typing import Any

import keras

from memorybench.errors import ConfigError
from memorybench.models import resolve
from memorybench.tasks import Task, get_task
from memorybench.tasks.base import TaskSpec

DEFAULT_UNITS = 64


def build_model(
    task: Task | str,
    name: str,
    units: int | None = None,
    layers: int = 1,
    param_budget: int | None = None,
    **params: Any,
) -> keras.Model:
    """A ``keras.Model`` for ``task`` with the recurrent cell or model ``name``.

    ``param_budget`` picks ``units`` so the parameter count lands within 5% of the budget.
    """
    task = get_task(task) if isinstance(task, str) else task
    spec = task.spec
    _check_positive("layers", layers)
    if param_budget is not None:
        if units is not None:
            raise ConfigError("give units or param_budget, not both")
        units = units_for_budget(task, name, param_budget, layers=layers, **params)
    units = DEFAULT_UNITS if units is None else units
    _check_positive("units", units)
    kind, entry = resolve(name)
    kwargs = {**entry.meta.get("defaults", {}), **params}

    inputs = keras.Input(shape=(spec.steps, spec.input_dim), name="x")
    h = inputs
    for i in range(layers):
        last_layer = i == layers - 1
        seq = not last_layer or spec.output == "every_step"
        h = _sequence_layer(kind, entry, spec, units, seq, kwargs, f"{_safe(name)}_{i}")(h)
    outputs = head(spec)(h)
    return keras.Model(inputs, outputs, name=f"{_safe(name)}_{_safe(spec.name)}")


def _sequence_layer(kind, entry, spec: TaskSpec, units, return_sequences, kwargs, layer_name):
    if kind == "cell":
        cls = entry.obj
        make = getattr(cls, "from_task", None)
        cell = make(spec, units, **kwargs) if make else cls(units, **kwargs)
        return keras.layers.RNN(cell, return_sequences=return_sequences, name=layer_name)
    layer = entry.obj(spec, units, return_sequences, **kwargs)
    if not isinstance(layer, keras.layers.Layer):
        raise ConfigError(
            f"model {entry.name!r} returned {type(layer).__name__}, expected a keras Layer"
        )
    return layer


def head(spec: TaskSpec) -> keras.layers.Layer:
    """Output layer: linear for regression, softmax over classes otherwise (float32 always)."""
    if spec.output == "regression":
        return keras.layers.Dense(spec.out_dim, dtype="float32", name="head")
    return keras.layers.Dense(spec.n_classes, activation="softmax", dtype="float32", name="head")


def loss_for(spec: TaskSpec) -> keras.losses.Loss:
    if spec.loss == "mse":
        return keras.losses.MeanSquaredError()
    return keras.losses.SparseCategoricalCrossentropy(ignore_class=spec.ignore_class)


def units_for_budget(task: Task, name: str, budget: int, layers: int = 1, **params) -> int:
    """The units whose parameter count is nearest ``budget``; error if not within 5%."""
    _check_positive("param_budget", budget)

    def count(u: int) -> int:
        return build_model(task, name, units=u, layers=layers, **params).count_params()

    lo, hi = 1, 1
    while count(hi) < budget:
        lo, hi = hi, hi * 2
        if hi > 1 << 16:
            raise ConfigError(f"param_budget={budget} is out of reach for {name!r}")
    while hi - lo > 1:  # count grows with units: bisect
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if count(mid) < budget else (lo, mid)
    best = min((lo, hi), key=lambda u: abs(count(u) - budget))
    got = count(best)
    if abs(got - budget) > 0.05 * budget:
        raise ConfigError(
            f"param_budget={budget} is too small for {name!r} on {task.name}: the nearest is "
            f"{got} parameters at {best} units; allowed: budgets of at least {count(1)}"
        )
    return best


def _check_positive(field: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{field} must be a positive integer, got {value!r}")


def _safe(s: str) -> str:
    return "".join(c if c.isalnum() or c == "_" else "_" for c in s)
