"""Task-aware model builder: input -> recurrent stack -> the head the task spec asks for."""

from __future__ import annotations

import inspect
from typing import Any

import keras

from memorybench.config import DEFAULT_UNITS
from memorybench.errors import (
    ConfigError,
    MemorybenchError,
    PluginError,
    check_positive,
    one_line,
)
from memorybench.models import CELLS, MODELS, model_entry
from memorybench.registry import Entry, load_plugin, safe_name
from memorybench.tasks import Task, get_task
from memorybench.tasks.base import TaskSpec

__all__ = [
    "DEFAULT_UNITS", "build_for_steps", "build_model", "count_params", "cudnn_eligible", "head",
    "loss_for", "units_for_budget",
]

BUDGET_TOLERANCE = 0.05  # a param_budget is met within 5%
MAX_UNITS = 1 << 16


def build_model(
    task: Task | str,
    name: str,
    units: int | None = None,
    layers: int = 1,
    param_budget: int | None = None,
    **params: Any,
) -> keras.Model:
    """A ``keras.Model`` for ``task`` with the recurrent cell or model ``name``.

    ``name`` is a registered name or a ``module:Class`` string. ``params`` are constructor
    arguments of the cell (or the model factory) on top of the defaults the name implies.
    ``param_budget`` picks ``units`` so the parameter count lands within 5% of the budget.
    A cell is checked before it is used: it needs a ``state_size`` and a step must return an
    output of ``output_size`` and one new state per ``state_size`` entry.
    """
    task = _task(task)
    check_positive("layers", layers)
    if param_budget is not None:
        if units is not None:
            raise ConfigError("give units or param_budget, not both")
        units = units_for_budget(task, name, param_budget, layers=layers, **params)
    units = DEFAULT_UNITS if units is None else units
    check_positive("units", units)
    kind, entry = model_entry(name)
    return _build(task.spec, kind, entry, units, layers, params)


def count_params(task: Task | str, name: str, units: int, layers: int = 1, **params) -> int:
    """Parameter count of ``build_model(task, name, units, layers, **params)``."""
    return build_model(task, name, units=units, layers=layers, **params).count_params()


def _build(spec: TaskSpec, kind: str, entry: Entry, units: int, layers: int, params,
           steps: int | None = None) -> keras.Model:
    kwargs = {**entry.meta.get("defaults", {}), **params}
    label = safe_name(entry.name)
    steps = spec.steps if steps is None else steps  # the input's length; cells see the spec
    inputs, h = _inputs(spec, steps, units)
    for i in range(layers):
        seq = i < layers - 1 or spec.output == "every_step"
        layer_name = f"{label}_{i}"
        if kind == "cell":
            cell = _make_cell(entry, spec, units, kwargs)
            _check_cell(cell, entry.name, int(h.shape[-1]))
            layer = keras.layers.RNN(cell, return_sequences=seq, name=layer_name)
        else:
            layer = _make_layer(entry, spec, units, seq, kwargs)
        h = _apply(layer, h, entry.name, seq, steps)
    outputs = head(spec)(h)
    return keras.Model(inputs, outputs, name=f"{label}_{safe_name(spec.name)}")


def _inputs(spec: TaskSpec, steps: int, units: int):
    """The model input and what the sequence layers read: float features as they are; token ids
    (``spec.input_kind == "tokens"``) through a Keras ``Embedding`` of width ``units`` (the
    model width, as in Zoology and Mamba), the same for every cell and model."""
    if getattr(spec, "input_kind", "float") != "tokens":
        x = keras.Input(shape=(steps, spec.input_dim), name="x")
        return x, x
    x = keras.Input(shape=(steps,), dtype="int32", name="x")
    return x, keras.layers.Embedding(spec.vocab_size, units, name="embedding")(x)


def build_for_steps(task: Task | str, name: str, steps: int, units: int, layers: int = 1,
                    **params: Any) -> keras.Model:
    """The model ``build_model(task, name, units, layers, **params)`` makes, reading sequences
    of ``steps`` steps: cells and model factories still see the task's own spec (its training
    length), only the input is longer or shorter, so a trained model's weights load into it
    (``set_weights``). The runner scores ``eval_lengths`` with it."""
    task = _task(task)
    check_positive("steps", steps)
    kind, entry = model_entry(name)
    return _build(task.spec, kind, entry, units, layers, params, steps=steps)


# -- construction and checks ------------------------------------------------------------------
def _make_cell(entry: Entry, spec: TaskSpec, units: int, kwargs: dict) -> keras.layers.Layer:
    cls = entry.obj
    if not (isinstance(cls, type) and issubclass(cls, keras.layers.Layer)):
        raise PluginError(f"cell {entry.name!r} is {cls!r}, not a keras.layers.Layer subclass")
    _check_kwargs(entry.name, cls.__name__, cls.__init__, kwargs, base=keras.layers.Layer.__init__)
    make = getattr(cls, "from_task", None)
    try:
        return make(spec, units, **kwargs) if make else cls(units, **kwargs)
    except MemorybenchError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"cell {entry.name!r} ({cls.__name__}): {one_line(exc)}; a cell is constructed as "
            f"{cls.__name__}(units, **params)"
        ) from exc


def _make_layer(entry: Entry, spec, units, seq, kwargs) -> keras.layers.Layer:
    fn = entry.obj
    if not callable(fn):
        raise PluginError(f"model {entry.name!r} is {fn!r}, not a callable factory")
    _check_kwargs(entry.name, getattr(fn, "__name__", repr(fn)), fn, kwargs)
    try:
        layer = fn(spec, units, seq, **kwargs)
    except MemorybenchError:
        raise
    except (TypeError, ValueError) as exc:
        _check_passed_on(entry, fn, spec, units, seq, kwargs)  # names the accepted ones
        raise ConfigError(f"model {entry.name!r}: {one_line(exc)}") from exc
    if not isinstance(layer, keras.layers.Layer):
        raise PluginError(
            f"model {entry.name!r} returned {type(layer).__name__}; a model factory "
            f"(spec, units, return_sequences, **params) must return a keras.layers.Layer"
        )
    return layer


def _check_passed_on(entry: Entry, fn, spec, units, seq, kwargs: dict) -> None:
    """A factory that passes ``**params`` on (to ``keras.layers.LSTM``, say) failed on them:
    check them against the class of the layer it makes without them, naming its arguments."""
    defaults = entry.meta.get("defaults", {})
    try:
        plain = fn(spec, units, seq, **defaults)
    except Exception:  # it fails without the user's params too: the caller reports the error
        return
    cls = type(plain)
    _check_kwargs(entry.name, cls.__name__, cls.__init__, kwargs, base=keras.layers.Layer.__init__)


def check_params(task: Task | str, name: str, units: int, layers: int, params: dict) -> None:
    """Construct the cell or sequence layer ``name`` with ``params`` (no weights are made), so
    that an unknown or bad constructor argument is a ConfigError naming the accepted ones before
    a run starts (``resolve`` calls it). Remembered per name, task, units and params."""
    task = _task(task)
    key = (name, task.name, repr(sorted(task.params().items())), units, layers,
           repr(sorted(params.items())))
    if key in _PARAMS_CHECKED:
        return
    kind, entry = model_entry(name)
    spec = task.spec
    kwargs = {**entry.meta.get("defaults", {}), **params}
    if kind == "cell":
        _make_cell(entry, spec, units, kwargs)
    else:
        _make_layer(entry, spec, units, layers > 1 or spec.output == "every_step", kwargs)
    _PARAMS_CHECKED.add(key)


_PARAMS_CHECKED: set[tuple] = set()


def _check_kwargs(name: str, owner: str, fn, kwargs: dict, base=None) -> None:
    """Unknown constructor arguments -> one line that lists the known ones."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):  # builtins without a signature: let the call decide
        return
    own = [p.name for p in sig.parameters.values()
           if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
           and p.name not in ("self", "units", "spec", "return_sequences")]
    has_var_kw = any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values())
    if has_var_kw and base is None:
        return  # a factory that passes **params on (e.g. to keras.layers.LSTM) checks them there
    allowed = set(own)
    if has_var_kw:  # a Layer subclass: **kwargs go to keras.layers.Layer
        allowed |= set(inspect.signature(base).parameters) - {"self", "kwargs"}
    bad = sorted(set(kwargs) - allowed)
    if bad:
        raise ConfigError(
            f"{name!r} ({owner}) has no parameter {bad[0]!r}; known: {', '.join(own) or '(none)'}"
        )


def _check_cell(cell: keras.layers.Layer, name: str, input_dim: int) -> None:
    """Probe one symbolic step so a broken cell fails here, in one line, not deep in a loop."""
    cls = type(cell).__name__
    state_size = getattr(cell, "state_size", None)
    if state_size is None:
        raise PluginError(
            f"cell {cls} ({name!r}) has no state_size; set self.state_size = units (or a list "
            f"with one size per state, e.g. [units, units]) in __init__"
        )
    sizes = [state_size] if isinstance(state_size, int) else state_size
    if not (
        isinstance(sizes, (list, tuple)) and sizes
        and all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in sizes)
    ):
        raise PluginError(
            f"cell {cls} ({name!r}) has state_size={state_size!r}; it must be a positive int or "
            f"a list of positive ints, one per state"
        )
    out_size = getattr(cell, "output_size", None) or sizes[0]
    dtype = cell.compute_dtype
    x = keras.KerasTensor((None, input_dim), dtype=dtype)
    states = [keras.KerasTensor((None, s), dtype=dtype) for s in sizes]
    try:
        result = cell(x, states)
    except MemorybenchError:
        raise
    except Exception as exc:  # the cell's own code: report it in one line with the fix
        raise PluginError(
            f"cell {cls} ({name!r}) failed on one step with input (batch, {input_dim}) and "
            f"states {[(None, s) for s in sizes]}: {one_line(exc)}; fix its call(inputs, states)"
        ) from exc
    fix = (f"call(inputs, states) must return (output, new_states) with output (batch, "
           f"{out_size}) and one new state (batch, n) for each n in state_size={list(sizes)}")
    if not (isinstance(result, (list, tuple)) and len(result) == 2):
        raise PluginError(f"cell {cls} ({name!r}) returned {type(result).__name__}; {fix}")
    out, new = result
    new = list(new) if isinstance(new, (list, tuple)) else [new]
    got_out = tuple(getattr(out, "shape", ()))
    got_new = [tuple(getattr(s, "shape", ())) for s in new]
    want_new = [(None, s) for s in sizes]
    if got_out != (None, out_size) or got_new != want_new:
        raise PluginError(
            f"cell {cls} ({name!r}) returned output {got_out} and states {got_new}, expected "
            f"{(None, out_size)} and {want_new}; {fix}"
        )


def _apply(layer: keras.layers.Layer, h, name: str, seq: bool, steps: int):
    try:
        out = layer(h)
    except MemorybenchError:
        raise
    except Exception as exc:
        raise PluginError(
            f"{name!r} ({type(layer).__name__}) failed on input {tuple(h.shape)}: {one_line(exc)}"
        ) from exc
    want = (None, steps, None) if seq else (None, None)
    shape = tuple(out.shape)
    if len(shape) != len(want) or (seq and shape[1] != steps):
        what = f"(batch, {steps}, features)" if seq else "(batch, features)"
        raise PluginError(
            f"{name!r} ({type(layer).__name__}) returned shape {shape}, expected {what} for "
            f"return_sequences={seq}; fix its layer so it maps (batch, T, d) to {what}"
        )
    return out


# -- heads and losses -------------------------------------------------------------------------
def head(spec: TaskSpec) -> keras.layers.Layer:
    """Output layer: linear for regression, softmax over classes otherwise (float32 always)."""
    if spec.output == "regression":
        return keras.layers.Dense(spec.out_dim, dtype="float32", name="head")
    return keras.layers.Dense(spec.n_classes, activation="softmax", dtype="float32", name="head")


def loss_for(spec: TaskSpec) -> keras.losses.Loss:
    if spec.loss == "mse":
        return keras.losses.MeanSquaredError()
    return keras.losses.SparseCategoricalCrossentropy(ignore_class=spec.ignore_class)


# -- parameter budgets ------------------------------------------------------------------------
def units_for_budget(task: Task | str, name: str, budget: int, layers: int = 1, **params) -> int:
    """The units whose parameter count is nearest ``budget``; error if not within 5%.

    Parameter counts grow with units (quadratically for a recurrent layer), so a quadratic
    through the counts at 1, 2 and 3 units guesses the answer and a bisection around the guess
    confirms it: a handful of builds instead of one per candidate.
    """
    task = _task(task)
    check_positive("param_budget", budget)
    check_positive("layers", layers)
    key = (task.name, repr(sorted(task.params().items())), name, budget, layers,
           repr(sorted(params.items())))
    if key not in _UNITS_MEMO:  # a sweep asks once per run; the horizon search once per round
        _UNITS_MEMO[key] = _fit_units(task, name, budget, layers, params)
    return _UNITS_MEMO[key]


_UNITS_MEMO: dict[tuple, int] = {}


def _fit_units(task: Task, name: str, budget: int, layers: int, params: dict) -> int:
    kind, entry = model_entry(name)
    memo: dict[int, int] = {}

    def count(u: int) -> int:
        if u not in memo:
            memo[u] = _build(task.spec, kind, entry, u, layers, params).count_params()
        return memo[u]

    smallest = count(1)
    if budget < smallest * (1 - BUDGET_TOLERANCE):
        raise ConfigError(
            f"param_budget={budget} is too small for {name!r} on {task.name}: the smallest "
            f"model has {smallest} parameters (1 unit); allowed: param_budget >= {smallest}"
        )
    lo, hi = _bracket(count, budget, _quadratic_guess(count, budget))
    while hi - lo > 1:  # count(lo) < budget <= count(hi)
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if count(mid) < budget else (lo, mid)
    candidates = [u for u in (lo, hi) if u >= 1]
    best = min(candidates, key=lambda u: (abs(count(u) - budget), u))
    if abs(count(best) - budget) > BUDGET_TOLERANCE * budget:
        near = " and ".join(f"{count(u)} parameters at {u} units" for u in candidates)
        raise ConfigError(
            f"param_budget={budget} cannot be met within 5% for {name!r} on {task.name}: the "
            f"nearest are {near}; the smallest budget is {smallest}"
        )
    return best


def _quadratic_guess(count, budget: int) -> int:
    c1, c2, c3 = count(1), count(2), count(3)
    a = (c3 - 2 * c2 + c1) / 2
    b = (c2 - c1) - 3 * a
    c = c1 - a - b
    if a > 0:
        disc = b * b - 4 * a * (c - budget)
        guess = (-b + disc**0.5) / (2 * a) if disc >= 0 else 1
    elif b > 0:
        guess = (budget - c) / b
    else:
        guess = 1
    return int(min(max(round(guess), 1), MAX_UNITS))


def _bracket(count, budget: int, guess: int) -> tuple[int, int]:
    """(lo, hi) with count(lo) < budget <= count(hi); lo = 0 when count(1) >= budget."""
    if count(guess) < budget:
        lo, step = guess, 1
        while count(lo + step) < budget:
            lo, step = lo + step, step * 2
            if lo + step > MAX_UNITS:
                raise ConfigError(
                    f"param_budget={budget} is out of reach: {count(lo)} parameters at {lo} units"
                )
        return lo, lo + step
    hi, step = guess, 1
    while hi > 1:
        lo = max(hi - step, 1)
        if count(lo) < budget:
            return lo, hi
        hi, step = lo, step * 2
    return 0, 1


# -- cuDNN ------------------------------------------------------------------------------------
def load_model(path, plugins=()) -> keras.Model:
    """``keras.saving.load_model`` in any process: imports every built-in and entry-point cell or
    model module first (and the given plugin files), so the saved class names resolve without
    ``custom_objects``. A registered module that fails to import is left out, not fatal: the
    load fails later only if the file needs it.
    """
    for p in plugins:
        load_plugin(p)
    for registry in (CELLS, MODELS):
        for name in registry.names():
            try:
                registry.entry(name)
            except MemorybenchError:
                pass
    return keras.saving.load_model(path)


def cudnn_eligible(model: keras.Model) -> bool:
    """Whether every fused LSTM / GRU layer of ``model`` can take the cuDNN kernel on a GPU.

    The configuration TensorFlow's Keras backend requires: activation tanh, recurrent_activation
    sigmoid, recurrent_dropout 0, unroll False, use_bias True, ``use_cudnn`` not False, and for
    the GRU reset_after True. A model without a fused LSTM / GRU layer (custom cells run through
    ``keras.layers.RNN``, which has no cuDNN path) is not eligible.
    """
    fused = [layer for layer in _walk(model) if isinstance(layer, (keras.layers.LSTM,
                                                                    keras.layers.GRU))]
    return bool(fused) and all(not _cudnn_problems(layer) for layer in fused)


def _cudnn_problems(layer) -> list[str]:
    cfg = layer.get_config()
    want = {"activation": "tanh", "recurrent_activation": "sigmoid", "recurrent_dropout": 0.0,
            "unroll": False, "use_bias": True}
    if isinstance(layer, keras.layers.GRU):
        want["reset_after"] = True
    problems = [f"{k}={cfg.get(k)!r}" for k, v in want.items() if cfg.get(k) != v]
    if getattr(layer, "use_cudnn", "auto") is False:
        problems.append("use_cudnn=False")
    return problems


def _walk(layer):
    for sub in getattr(layer, "layers", []) or []:
        yield sub
        yield from _walk(sub)
    for attr in ("forward_layer", "backward_layer", "layer"):  # Bidirectional, wrappers
        sub = getattr(layer, attr, None)
        if isinstance(sub, keras.layers.Layer) and sub is not layer:
            yield sub
            yield from _walk(sub)


# -- helpers ----------------------------------------------------------------------------------
def _task(task: Task | str) -> Task:
    if isinstance(task, Task):
        return task
    if isinstance(task, str):
        return get_task(task)
    raise ConfigError(f"task must be a task name or a Task, got {task!r}")
