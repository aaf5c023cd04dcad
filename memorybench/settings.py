"""Settings: profiles and studies as data, layering, the dotted key space, and the grid.

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
=========================  ================================================================

The TOML file uses the same keys as tables: ``seeds = 2``, ``[train] lr = 0.003``,
``[adding] variant = "anywhere"``, ``[copy_memory.train] steps = 4000``; it may also name its
base ``profile = "smoke"`` (``--profile`` wins). Without a profile the base is ``quick``.

``plan(...)`` is the one entry point, used by the CLI and by Python: it layers the settings and
expands them into resolved ``RunConfig``s (``expand``), validating every key, name and value
before anything is written, so bad input fails with one ``ConfigError``.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from memorybench.config import (
    ModelConfig,
    RunConfig,
    TaskConfig,
    TrainConfig,
    resolve,
    run_id,
)
from memorybench.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    tomllib = None


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


# -- studies (data) -----------------------------------------------------------------------------
# A study is a question answered by horizon searches at one parameter budget, plus the gradient
# flow of every model at one length, at two scales. ``settings`` are in the key space above;
# ``base`` / ``max_length`` are the search's per-task lengths; ``gradflow`` names the task and
# length (a base length, so every model has a run there) of the gradient-flow figure.
WHY_LSTM_MODELS = [
    "simple_rnn", "ungated", "lstm_nfg", "lstm_nig", "lstm_nog", "lstm_noaf", "lstm_niaf",
    "lstm_cifg", "lstm_peephole", "lstm", "lstm_chrono", "gru",
]
_CPU_TRAINING = {  # the why-LSTM study's training at CPU scale (and its demo slice)
    "train.steps": 1000,
    "train.eval_every": 100,
    "train.batch_size": 64,
    "train.n_train": 6400,
    "train.n_val": 256,
    "train.n_test": 512,
    "train.eval_batch_size": 256,
    "train.early_stop_margin": 0.5,  # see TrainConfig: no coin flips at the threshold
}
STUDIES: dict[str, dict[str, Any]] = {
    "why-lstm": {
        "description": "why does the LSTM's gated, additive memory hold information over long "
        "spans, and would a simpler cell do? Memory horizons of the LSTM, its ablations (Greff "
        "et al. 2017), an ungated cell with a separate memory, the simple RNN and the GRU at one "
        "parameter budget, with the learning rate chosen per model on validation, and gradient "
        "flow at init and after training",
        "tasks": ["adding", "delayed_xor", "copy_memory"],
        "models": WHY_LSTM_MODELS,
        "reference": "lstm",  # ablations are compared with this model's horizon
        "scales": {
            "cpu": {
                "description": "at most 30 minutes on an idle 2-core CPU (two runs at once)",
                "tasks": ["adding", "delayed_xor"],
                # measured: at L=5 with 1,500 steps none of 48 copy-memory runs (12 models x 2
                # rates x 2 seeds) reached 0.99 recall, and they took half the study's time
                "not_searched": {"copy_memory": "no model leaves the copy task's plateau within "
                                 "a CPU budget (a trial: 0 of 48 runs solved L=5 in 1,500 "
                                 "steps); it is searched at the gpu scale"},
                "workers": 2,
                "base": {"adding": 25, "delayed_xor": 12},
                "max_length": {"adding": 100, "delayed_xor": 48},
                "bisect": 0,
                "gradflow": {"task": "adding", "length": 25, "batch": 32},
                "settings": {
                    "seeds": 2,
                    "match_params": 5000,
                    # Greff et al. 2017: the learning rate is the hyperparameter that matters
                    # most for LSTM variants; two rates a model here, three at GPU scale
                    "train.lrs": [3e-3, 1e-2],
                    **_CPU_TRAINING,
                },
            },
            "demo": {
                "description": "the slice `make demo` runs (about a minute or two on 2 cores): "
                "adding at L=50, simple_rnn, ungated and lstm, one seed, one rate",
                "tasks": ["adding"],
                "models": ["simple_rnn", "ungated", "lstm"],
                "workers": 2,
                "base": {"adding": 50},
                "max_length": {"adding": 50},
                "bisect": 0,
                "gradflow": {"task": "adding", "length": 50, "batch": 32},
                "settings": {
                    "seeds": 1,
                    "match_params": 5000,
                    "train.lr": 1e-2,
                    **_CPU_TRAINING,
                },
            },
            "gpu": {
                "description": "for a GPU: more seeds, longer lengths and training, three rates",
                "workers": 1,
                "base": {"adding": 50, "delayed_xor": 25, "copy_memory": 25},
                "max_length": {"adding": 1600, "delayed_xor": 800, "copy_memory": 800},
                "bisect": 2,
                "gradflow": {"task": "adding", "length": 50, "batch": 64},
                "settings": {
                    "seeds": 5,
                    "match_params": 20000,
                    "train.lrs": [1e-3, 3e-3, 1e-2],
                    "train.steps": 10000,
                    "train.eval_every": 250,
                    "train.batch_size": 128,
                    "train.n_train": 50_000,
                    "train.n_val": 1000,
                    "train.n_test": 4000,
                    "train.eval_batch_size": 1000,
                    "train.early_stop_margin": 0.5,
                },
            },
        },
    },
}


def study(name: str, scale: str) -> dict[str, Any]:
    """A study at one scale: ``{"tasks", "models", "reference", "settings", "base",
    "max_length", "bisect", "gradflow", "workers"}`` (a copy)."""
    import copy

    if name not in STUDIES:
        raise ConfigError(f"unknown study {name!r}; known: {', '.join(STUDIES)}")
    st = STUDIES[name]
    if scale not in st["scales"]:
        raise ConfigError(f"unknown scale {scale!r} of study {name!r}; known: "
                          f"{', '.join(st['scales'])}")
    sc = copy.deepcopy(st["scales"][scale])
    tasks = sc.pop("tasks", None) or list(st["tasks"])  # a scale may take a slice
    models = sc.pop("models", None) or list(st["models"])
    sc["settings"] = {"tasks": tasks, "models": models, **sc["settings"]}
    return {"name": name, "scale": scale, "tasks": tasks, "models": models,
            "reference": st["reference"], **sc}


# -- the settings key space ------------------------------------------------------------------
SWEEP_KEYS = ("tasks", "models", "lengths", "seeds", "match_params")
MODEL_KEYS = ("units", "layers", "param_budget")
_TRAIN_DEFAULTS = {f.name: f.default for f in dataclasses.fields(TrainConfig)}


def known_keys() -> list[str]:
    """The key patterns ``--set`` and ``--config`` accept (for error messages)."""
    return [
        *SWEEP_KEYS,
        *(f"train.{f}" for f in _TRAIN_DEFAULTS), "train.lrs",
        *(f"model.{f}" for f in MODEL_KEYS),
        "model.params.NAME", "task.FIELD", "FIELD", "TASK.FIELD", "TASK.lengths",
        "TASK.train.FIELD",
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
        out[rest] = typed(key, raw, _default(fields[rest]))
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


# -- the grid --------------------------------------------------------------------------------
@dataclass
class Plan:
    """The runs of a sweep, in order, and notes for the user (e.g. ignored lengths)."""

    configs: list[RunConfig]
    notes: list[str] = field(default_factory=list)


def expand(settings: dict[str, Any]) -> Plan:
    """Merged settings (the key space above) -> resolved runs.

    Order: task, length, model, learning rate, seed. Raises ConfigError for any bad key, name
    or value.
    """
    from memorybench.models import CELLS, MODELS, model_names
    from memorybench.registry import unknown
    from memorybench.tasks import TASKS, get_task, task_names

    s = dict(settings)
    notes: list[str] = []
    train_kw: dict[str, Any] = {}
    per_task_train: dict[str, dict[str, Any]] = {}
    model_kw: dict[str, Any] = {}
    model_params: dict[str, Any] = {}
    global_task: dict[str, Any] = {}
    per_task: dict[str, dict[str, Any]] = {}
    per_task_lengths: dict[str, list[int]] = {}
    per_task_lrs: dict[str, list[float]] = {}
    lr_grid: list[float] | None = None
    bare: set[str] = set()
    all_tasks = task_names()

    def bad_key(key: str) -> ConfigError:
        return ConfigError(f"unknown key {key!r}; known: {', '.join(known_keys())}")

    # 1. sort every key into its place (types are checked where the field's type is known)
    for key, value in s.items():
        head, _, rest = key.partition(".")
        if key in SWEEP_KEYS:
            continue
        if head == "train":
            if rest == "lrs":
                lr_grid = float_list(key, value)
            elif rest not in _TRAIN_DEFAULTS:
                raise bad_key(key)
            else:
                train_kw[rest] = typed(key, value, _TRAIN_DEFAULTS[rest])
        elif head == "model":
            if rest.startswith("params.") and len(rest) > len("params."):
                model_params[rest[len("params."):]] = typed(key, value, None)
            elif rest in MODEL_KEYS:
                model_kw[rest] = typed(key, value, 1 if rest != "param_budget" else None)
            else:
                raise bad_key(key)
        elif head == "task" and rest:
            if rest == "length" or rest == "lengths":
                raise ConfigError(f"{key}: set lengths with --lengths or the 'lengths' key")
            global_task[rest] = value
        elif head in all_tasks and rest:
            sub, _, leaf = rest.partition(".")
            if rest == "lengths":
                per_task_lengths[head] = int_list(key, value)
            elif sub == "train" and leaf == "lrs":
                per_task_lrs[head] = float_list(key, value)
            elif sub == "train" and leaf:
                if leaf not in _TRAIN_DEFAULTS:
                    raise bad_key(key)
                per_task_train.setdefault(head, {})[leaf] = typed(
                    key, value, _TRAIN_DEFAULTS[leaf]
                )
            elif "." in rest:
                raise bad_key(key)
            elif rest == "length":
                raise ConfigError(f"{key}: set lengths with --lengths or {head}.lengths")
            else:
                per_task.setdefault(head, {})[rest] = value
        elif not rest and key not in all_tasks:  # a bare FIELD: task.FIELD
            global_task[key] = value
            bare.add(key)
        else:
            raise bad_key(key)

    # 2. names
    if "tasks" not in s:
        raise ConfigError("no tasks given; use --tasks or a profile")
    tasks = name_list("tasks", s["tasks"])
    for t in tasks:
        if t not in TASKS:
            raise ConfigError(unknown("task", t, all_tasks))
    raw_models = s.get("models")
    if raw_models is None:
        raise ConfigError("no models given; use --models or a profile")
    models = model_names() if raw_models == "all" else name_list("models", raw_models)
    for m in models:
        if not (m in CELLS or m in MODELS or ":" in m):
            raise ConfigError(unknown("model", m, model_names()))
    seeds = typed("seeds", s.get("seeds", 1), 1)
    if seeds < 1:
        raise ConfigError(f"seeds={seeds} is not allowed; allowed: an integer >= 1")
    lengths = int_list("lengths", s["lengths"]) if "lengths" in s else None

    # 3. model size: --match-params gives every model one parameter budget
    budget = typed("match_params", s.get("match_params"), None)
    if budget is None:
        budget = model_kw.get("param_budget")
    if budget is not None:
        if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
            raise ConfigError(f"match_params={budget!r} is not allowed; allowed: an integer >= 1")
        model_kw["param_budget"], model_kw["units"] = budget, None
    model_kw.setdefault("units", None)

    # 4. task parameters, lengths, per-task training
    used_global: set[str] = set()
    grid: list[tuple[str, dict, list[TrainConfig]]] = []
    for t in tasks:
        cls = TASKS.get(t)
        fields = {f.name: f for f in dataclasses.fields(cls)}
        params: dict[str, Any] = {}
        for k, v in global_task.items():
            if k in fields:
                params[k] = typed(f"task.{k}", v, _default(fields[k]))
                used_global.add(k)
        for k, v in per_task.get(t, {}).items():
            if k not in fields or k == "length":
                known = sorted(n for n in fields if n != "length")
                raise ConfigError(
                    f"task {t!r} has no parameter {k!r}; known: {', '.join(known)}"
                )
            params[k] = typed(f"{t}.{k}", v, _default(fields[k]))
        base = get_task(t, **params)
        fixed = "length" not in fields or base.spec.dataset != "synthetic"
        tlen = per_task_lengths.get(t, lengths)
        if fixed:
            if tlen is not None:
                notes.append(
                    f"lengths are ignored for {t}: its length is fixed "
                    f"({base.spec.steps} steps)"
                )
            tlen = [None]
        elif tlen is None:
            tlen = [base.length]
            notes.append(f"no lengths given for {t}: using its default length {base.length}")
        try:
            train = TrainConfig(**{**train_kw, **per_task_train.get(t, {})})
        except TypeError as exc:  # pragma: no cover - keys were checked above
            raise ConfigError(str(exc)) from None
        rates = per_task_lrs.get(t, lr_grid)
        trains = [train] if rates is None else [dataclasses.replace(train, lr=r) for r in rates]
        for L in tlen:
            p = dict(params) if L is None else {**params, "length": L}
            get_task(t, **p)  # validates the length (e.g. adding needs >= 2)
            grid.append((t, p, trains))
    unused = sorted(set(global_task) - used_global)
    if unused and unused[0] in bare:
        raise ConfigError(f"unknown key {unused[0]!r} (no task of this sweep has a parameter of "
                          f"that name); known: {', '.join(known_keys())}")
    if unused:
        raise ConfigError(
            f"no task of this sweep ({', '.join(tasks)}) has parameter {unused[0]!r}"
        )

    # 5. runs, resolved (units fitted to the budget once per task instance and model)
    configs: list[RunConfig] = []
    seen: set[str] = set()
    for t, p, trains in grid:
        for m in models:
            first = resolve(RunConfig(
                TaskConfig(t, p), ModelConfig(m, params=dict(model_params), **model_kw),
                trains[0], 0,
            ))
            for train in trains:
                for seed in range(seeds):
                    cfg = dataclasses.replace(first, train=train, seed=seed)
                    rid = run_id(cfg)
                    if rid not in seen:
                        seen.add(rid)
                        configs.append(cfg)
    return Plan(configs, list(dict.fromkeys(notes)))


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        return f.default_factory()  # type: ignore[misc]
    return None


# -- layering and the one entry point ----------------------------------------------------------
# command-line options (and ``plan`` keywords) -> their key in the key space
OPTION_KEYS = {
    "tasks": "tasks", "models": "models", "lengths": "lengths", "seeds": "seeds",
    "match_params": "match_params", "lrs": "train.lrs", "precision": "train.precision",
    "jit": "train.jit",
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
    return merge_layers(profile(name), file_layer, opts, set_layer)


def plan(
    profile_name: str | None = None,
    *,
    config_file: str | Path | None = None,
    sets: dict[str, Any] | list[str] | None = None,
    **options: Any,
) -> Plan:
    """A profile (plus a TOML file, options and ``--set`` items) expanded into resolved runs.

    >>> p = plan("quick", models="lstm,gru", lrs=[1e-3, 3e-3], sets={"train.steps": 500})
    >>> len(p.configs)  # 3 tasks x 2 models x 2 rates
    12
    """
    return expand(layered(profile_name, config_file, options, sets))
