"""The grid: merged settings expanded into resolved runs, and ``plan``, the one entry point.

``plan(...)`` is the one entry point, used by the CLI and by Python: it layers the settings
(``memorybench.settings.keys.layered``) and expands them into resolved ``RunConfig``s
(``expand``), validating every key, name and value before anything is written, so bad input
fails with one ``ConfigError``. ``expand`` works in named steps: keys sorted into their places
(``keys.sort_keys``), the names, the model size, the task grid, its size against ``MAX_GRID``,
and the resolved runs (a plugin's model probed once per configuration).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from memorybench.config import ModelConfig, RunConfig, TaskConfig, TrainConfig
from memorybench.errors import ConfigError
from memorybench.models.resolve import resolve, run_id
from memorybench.settings.keys import (
    Keys,
    Layered,
    field_default,
    int_list,
    known_keys,
    layered,
    name_list,
    sort_keys,
    typed,
)

MAX_GRID = 10_000  # runs in one grid; more only with allow_large_grid (--allow-large-grid)


@dataclass
class Plan:
    """The runs of a sweep, in order, and notes for the user (e.g. ignored lengths)."""

    configs: list[RunConfig]
    notes: list[str] = field(default_factory=list)


def expand(settings: dict[str, Any], on_size=None) -> Plan:
    """Merged settings (the key space of ``memorybench.settings.keys``) -> resolved runs.

    Order: task, length, model, learning rate, seed. Raises ConfigError for any bad key, name
    or value, and for a grid of more than ``MAX_GRID`` runs unless ``allow_large_grid`` is true
    (counted before a run is made); ``on_size(n, how)`` hears the count first.
    """
    s = dict(settings)
    keys = sort_keys(s)  # 1. every key into its place
    tasks, models, seeds, lengths = _names(s)  # 2. names
    _model_size(s, keys.model_kw)  # 3. model size
    notes: list[str] = []
    grid = _task_grid(tasks, lengths, keys, notes)  # 4. task parameters, lengths, training
    if isinstance(settings, Layered):  # where the layers are known (not a study's own grid)
        notes += _override_notes(tasks, models, keys.train_kw, keys.per_task_train,
                                 keys.scoped, keys.lr_grid, keys.per_task_lrs,
                                 settings.profile_keys)
    _check_size(s, grid, models, seeds, on_size)
    configs = _resolved_runs(grid, models, seeds, keys)  # 5. runs
    return Plan(configs, list(dict.fromkeys(notes)))


def _names(s: dict[str, Any]) -> tuple[list[str], list[str], int, list[int] | None]:
    """Step 2: the tasks, models, number of seeds and lengths of the sweep, checked."""
    from memorybench.models import CELLS, MODELS, model_names
    from memorybench.registry import unknown
    from memorybench.tasks import TASKS, task_names

    if "tasks" not in s:
        raise ConfigError("no tasks given; use --tasks or a profile")
    tasks = name_list("tasks", s["tasks"])
    for t in tasks:
        if t not in TASKS:
            raise ConfigError(unknown("task", t, task_names()))
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
    return tasks, models, seeds, lengths


def _model_size(s: dict[str, Any], model_kw: dict[str, Any]) -> None:
    """Step 3: --match-params gives every model one parameter budget (in ``model_kw``)."""
    budget = typed("match_params", s.get("match_params"), None)
    if budget is None:
        budget = model_kw.get("param_budget")
    if budget is not None:
        if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
            raise ConfigError(f"match_params={budget!r} is not allowed; allowed: an integer >= 1")
        model_kw["param_budget"], model_kw["units"] = budget, None
    model_kw.setdefault("units", None)


def _task_grid(tasks: list[str], lengths: list[int] | None, keys: Keys,
               notes: list[str]) -> list[tuple[str, dict, list[TrainConfig]]]:
    """Step 4: (task, parameters with the length, training runs) for each task and length;
    a note for lengths a task ignores or takes by default. ConfigError for a task parameter
    that no task of the sweep has."""
    from memorybench.tasks import get_task

    used_global: set[str] = set()
    grid: list[tuple[str, dict, list[TrainConfig]]] = []
    for t in tasks:
        params = _task_params(t, keys, used_global)
        tlen = _task_lengths(t, params, keys.per_task_lengths.get(t, lengths), notes)
        trains = _task_trains(t, keys)
        for L in tlen:
            p = dict(params) if L is None else {**params, "length": L}
            get_task(t, **p)  # validates the length (e.g. adding needs >= 2)
            grid.append((t, p, trains))
    unused = sorted(set(keys.global_task) - used_global)
    if unused and unused[0] in keys.bare:
        raise ConfigError(f"unknown key {unused[0]!r} (no task of this sweep has a parameter of "
                          f"that name); known: {', '.join(known_keys())}")
    if unused:
        raise ConfigError(
            f"no task of this sweep ({', '.join(tasks)}) has parameter {unused[0]!r}"
        )
    return grid


def _task_params(t: str, keys: Keys, used_global: set[str]) -> dict[str, Any]:
    """Task ``t``'s parameters: the global ``task.FIELD``s it has, then ``t.FIELD``."""
    from memorybench.tasks import TASKS

    fields = {f.name: f for f in dataclasses.fields(TASKS.get(t))}
    params: dict[str, Any] = {}
    for k, v in keys.global_task.items():
        if k in fields:
            params[k] = typed(f"task.{k}", v, field_default(fields[k]))
            used_global.add(k)
    for k, v in keys.per_task.get(t, {}).items():
        if k not in fields or k == "length":
            known = sorted(n for n in fields if n != "length")
            raise ConfigError(
                f"task {t!r} has no parameter {k!r}; known: {', '.join(known)}"
            )
        params[k] = typed(f"{t}.{k}", v, field_default(fields[k]))
    return params


def _task_lengths(t: str, params: dict[str, Any], tlen: list[int] | None,
                  notes: list[str]) -> list[int | None]:
    """Task ``t``'s lengths: ``tlen``, else its default length, or [None] where its length is
    fixed or set by another parameter; a note where lengths are ignored or defaulted."""
    from memorybench.tasks import TASKS, get_task

    cls = TASKS.get(t)
    base = get_task(t, **params)
    set_by = getattr(cls, "length_set_by", None)
    fields = {f.name for f in dataclasses.fields(cls)}
    fixed = "length" not in fields or set_by is not None  # noisy_cifar: any length >= 32
    if fixed:
        if tlen is not None:
            notes.append(
                f"lengths are ignored for {t}: its length is "
                + (f"set by {t}.{set_by} " if set_by else "fixed ")
                + f"({base.spec.steps} steps)"
            )
        return [None]
    if tlen is None:
        notes.append(f"no lengths given for {t}: using its default length {base.length}")
        return [base.length]
    return tlen


def _task_trains(t: str, keys: Keys) -> list[TrainConfig]:
    """Task ``t``'s training settings, one per learning rate of its grid."""
    try:
        train = TrainConfig(**{**keys.train_kw, **keys.per_task_train.get(t, {})})
    except TypeError as exc:  # pragma: no cover - keys were checked above
        raise ConfigError(str(exc)) from None
    rates = keys.per_task_lrs.get(t, keys.lr_grid)
    return [train] if rates is None else [dataclasses.replace(train, lr=r) for r in rates]


def _check_size(s: dict[str, Any], grid, models: list[str], seeds: int, on_size) -> None:
    """The grid's size, before a run is made (a typo such as --seeds 1000000000 would
    otherwise resolve runs for hours): ConfigError above ``MAX_GRID`` unless allowed."""
    n_runs = sum(len(trains) for _, _, trains in grid) * len(models) * seeds
    how = (f"{len(grid)} task x length, {len(models)} model(s), "
           f"{max(len(tr) for _, _, tr in grid)} rate(s), {seeds} seed(s)")
    if n_runs > MAX_GRID and typed("allow_large_grid", s.get("allow_large_grid", False),
                                   False) is not True:
        raise ConfigError(
            f"the grid has {n_runs:,} runs ({how}), more than {MAX_GRID:,}; allowed: at most "
            f"{MAX_GRID:,}, or confirm with --allow-large-grid (key allow_large_grid=true)"
        )
    if on_size is not None:
        on_size(n_runs, how)


def _resolved_runs(grid, models: list[str], seeds: int, keys: Keys) -> list[RunConfig]:
    """Step 5: the runs, resolved (units fitted to the budget once per task instance and
    model), each run id once."""
    configs: list[RunConfig] = []
    seen: set[str] = set()
    probed: set[str] = set()
    for t, p, trains in grid:
        for m in models:
            m_kw, m_params, m_trains = _scoped_settings(
                keys.scoped, t, m, keys.model_kw, keys.model_params, trains)
            first = resolve(RunConfig(
                TaskConfig(t, p), ModelConfig(m, params=m_params, **m_kw), m_trains[0], 0,
            ))
            _probe_model(first, probed)
            for train in m_trains:
                for seed in range(seeds):
                    cfg = dataclasses.replace(first, train=train, seed=seed)
                    rid = run_id(cfg)
                    if rid not in seen:
                        seen.add(rid)
                        configs.append(cfg)
    return configs


PROBE_ENV = "MEMORYBENCH_PROBE"  # "1" while a plugin's model is built by the planning probe


class _ProbeExit(Exception):
    """A plugin called ``os._exit`` while it was probed."""


def _probe_model(cfg: RunConfig, probed: set[str]) -> None:
    """Build a plugin's model once per configuration (name, layers, parameters), on the first
    run that uses it, as ``model show`` does: a cell with the wrong state shape or a factory
    that returns no layer is refused here (PluginError, exit 2), before any run is written,
    not recorded as a failed run. The built-in models are checked by the contract tests.

    Only the contract's own refusals (PluginError, ConfigError) refuse. A plugin that raises
    anything else, or ends the process (``sys.exit``, ``os._exit``, intercepted here), is left
    to its run, which records it as failed without stopping the sweep. ``$MEMORYBENCH_PROBE``
    is "1" while the probe builds, for a plugin that counts its builds."""
    import json
    import os

    from memorybench.errors import MemorybenchError
    from memorybench.models import model_entry

    m = cfg.model
    key = json.dumps([m.name, m.layers, m.params], sort_keys=True, default=str)
    if key in probed:
        return
    probed.add(key)
    source = model_entry(m.name)[1].source
    if source == "builtin" or source.startswith("memorybench."):
        return
    from memorybench.models.build import build_model
    from memorybench.tasks import get_task

    task = get_task(cfg.task.name, **dict(cfg.task.params))

    def no_exit(code=0):
        raise _ProbeExit(code)

    real_exit, before = os._exit, os.environ.get(PROBE_ENV)
    os._exit, os.environ[PROBE_ENV] = no_exit, "1"
    try:
        build_model(task, m.name, units=m.units, layers=m.layers, **dict(m.params))
    except MemorybenchError as exc:
        cause = exc.__cause__ or exc.__context__
        while cause is not None and not isinstance(cause, _ProbeExit):
            cause = cause.__cause__ or cause.__context__
        if cause is None:
            raise
    except (Exception, SystemExit):  # noqa: BLE001 - the plugin's own failure: its run's
        return
    finally:
        os._exit = real_exit
        if before is None:
            os.environ.pop(PROBE_ENV, None)
        else:
            os.environ[PROBE_ENV] = before


def _override_notes(tasks, models, train_kw, per_task_train, scoped, lr_grid, per_task_lrs,
                    profile_keys) -> list[str]:
    """One line for each training value a narrower key overrides in some run of the grid
    (``train.steps`` under ``adding.train.steps``, ``train.lr`` under a rate grid): where, and
    by what; "used by no run" when it is overridden everywhere. A profile's own values are not
    noted."""
    levels: dict[str, tuple[Any, list, list]] = {}  # key -> (value, runs it applies to, by)
    for t in tasks:
        for m in models:
            given = [(f"train.{k}", k, v) for k, v in train_kw.items()]
            given += [(f"{t}.train.{k}", k, v) for k, v in per_task_train.get(t, {}).items()]
            for scope, name in (((None, m), m), ((t, m), f"{t}.{m}")):
                given += [(f"{name}.train.{k}", k, v)
                          for k, v in scoped.get(scope, {}).get("train", {}).items()]
            rates = ((f"{t}.train.lrs", per_task_lrs[t]) if t in per_task_lrs else
                     ("train.lrs", lr_grid) if lr_grid is not None else None)
            for i, (key, field_name, value) in enumerate(given):
                later = [(k2, v2) for k2, f2, v2 in given[i + 1:] if f2 == field_name]
                scoped_lr = any(k2 not in (f"{t}.train.lr",) for k2, _ in later)
                if field_name == "lr" and rates is not None and not scoped_lr \
                        and key in ("train.lr", f"{t}.train.lr"):
                    later = [(rates[0], ",".join(f"{r:g}" for r in rates[1]))]  # the grid wins
                _, runs, by = levels.setdefault(key, (value, [], []))
                runs.append((t, m))
                if later:
                    k2, v2 = later[-1]
                    by.append(((t, m), f"{k2}={v2}"))
    notes = []
    for key, (value, runs, by) in levels.items():
        if not by or key in profile_keys:
            continue
        winners = ", ".join(dict.fromkeys(w for _, w in by))
        if len(by) == len(runs):
            notes.append(f"{key}={value} is used by no run of this sweep: overridden by "
                         f"{winners}")
        else:
            hit = [tm for tm, _ in by]
            where = ", ".join(dict.fromkeys(
                t if all((t, m2) in hit for m2 in models) else f"{t}/{m}" for t, m in hit))
            notes.append(f"{key}={value} is overridden for {where} by {winners}")
    return notes


def _scoped_settings(scoped, task: str, model: str, model_kw: dict, model_params: dict,
                     trains: list[TrainConfig]):
    """The model size, constructor arguments and training runs of ``model`` on ``task``: the
    sweep's, then ``MODEL.KEY``, then ``TASK.MODEL.KEY`` (later wins). A scoped ``lr`` replaces
    a learning-rate grid; scoped ``units`` replace a parameter budget and vice versa."""
    kw, params, train_kw = dict(model_kw), dict(model_params), {}
    for scope in ((None, model), (task, model)):
        slot = scoped.get(scope)
        if not slot:
            continue
        size = slot["model"]
        if "units" in size:
            kw["param_budget"] = None
        if size.get("param_budget") is not None:
            kw["units"] = None
        kw.update(size)
        params.update(slot["params"])
        train_kw.update(slot["train"])
    if not train_kw:
        return kw, params, trains
    if "lr" in train_kw:
        trains = trains[:1]
    try:
        return kw, params, [dataclasses.replace(tr, **train_kw) for tr in trains]
    except TypeError as exc:  # pragma: no cover - keys were checked when sorted
        raise ConfigError(str(exc)) from None


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
