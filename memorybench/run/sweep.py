"""Sweeps: expand settings into a grid of runs, skip the complete ones, run the rest.

``expand(settings)`` validates every key and name and resolves every run before anything is
written, so bad input fails with one ``ConfigError`` and leaves no folder behind. ``sweep``
resumes: a run whose ``summary.json`` is complete is not run again (failed / diverged ones only
with ``retry_failed``). Runs go through an *executor*, a small interface with one method,
``map(fn, configs)`` yielding each result as it finishes, so a distributed executor (``ray``,
``run/executors.py``) plugs in beside ``LocalExecutor``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from memorybench.config import (
    MODEL_KEYS,
    SWEEP_KEYS,
    ModelConfig,
    RunConfig,
    TaskConfig,
    TrainConfig,
    int_list,
    known_keys,
    name_list,
    resolve,
    run_id,
    typed,
)
from memorybench.errors import ConfigError
from memorybench.run import store

_TRAIN_DEFAULTS = {f.name: f.default for f in dataclasses.fields(TrainConfig)}


# -- the grid --------------------------------------------------------------------------------
@dataclass
class Plan:
    """The runs of a sweep, in order, and notes for the user (e.g. ignored lengths)."""

    configs: list[RunConfig]
    notes: list[str] = field(default_factory=list)


def expand(settings: dict[str, Any]) -> Plan:
    """Settings (merged layers of the key space in ``memorybench.config``) -> resolved runs.

    Order: task, length, model, seed. Raises ConfigError for any bad key, name or value.
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
    all_tasks = task_names()

    def bad_key(key: str) -> ConfigError:
        return ConfigError(f"unknown key {key!r}; known: {', '.join(known_keys())}")

    # 1. sort every key into its place (types are checked where the field's type is known)
    for key, value in s.items():
        head, _, rest = key.partition(".")
        if key in SWEEP_KEYS:
            continue
        if head == "train":
            if rest not in _TRAIN_DEFAULTS:
                raise bad_key(key)
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
    grid: list[tuple[str, dict, TrainConfig]] = []
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
        for L in tlen:
            p = dict(params) if L is None else {**params, "length": L}
            get_task(t, **p)  # validates the length (e.g. adding needs >= 2)
            grid.append((t, p, train))
    unused = sorted(set(global_task) - used_global)
    if unused:
        raise ConfigError(
            f"no task of this sweep ({', '.join(tasks)}) has parameter {unused[0]!r}"
        )

    # 5. runs, resolved (units fitted to the budget once per task instance and model)
    configs: list[RunConfig] = []
    seen: set[str] = set()
    for t, p, train in grid:
        for m in models:
            first = resolve(RunConfig(
                TaskConfig(t, p), ModelConfig(m, params=dict(model_params), **model_kw),
                train, 0,
            ))
            for seed in range(seeds):
                cfg = dataclasses.replace(first, seed=seed)
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


# -- executors -------------------------------------------------------------------------------
class Executor(Protocol):
    """Runs ``fn`` over ``configs``; yields each result as soon as it is available."""

    name: str

    def map(self, fn: Callable[[RunConfig], Any], configs: Iterable[RunConfig]) -> Iterator[Any]:
        ...


class LocalExecutor:
    """One run after another in this process (live progress works here)."""

    name = "local"

    def map(self, fn, configs):
        for cfg in configs:
            yield fn(cfg)


def _ray_executor(**options) -> Executor:
    """``RayExecutor`` (``run/executors.py``), imported only when asked for: Ray is optional."""
    from memorybench.run.executors import RayExecutor

    return RayExecutor(**options)


EXECUTORS: dict[str, Callable[..., Executor] | None] = {
    "local": LocalExecutor,
    "ray": _ray_executor,  # options: address, gpus_per_run
}


def get_executor(name: str, **options) -> Executor:
    """The executor ``name``; ``options`` (e.g. Ray's ``address``) go to its constructor."""
    if name not in EXECUTORS:
        raise ConfigError(f"unknown executor {name!r}; known: {', '.join(EXECUTORS)}")
    make = EXECUTORS[name]
    if make is None:
        available = ", ".join(k for k, v in EXECUTORS.items() if v is not None)
        raise ConfigError(f"executor {name!r} is not available yet; available: {available}")
    options = {k: v for k, v in options.items() if v is not None}
    if options and name == "local":
        raise ConfigError(
            f"{', '.join('--' + k.replace('_', '-') for k in options)} needs --executor ray"
        )
    return make(**options)


# -- the sweep -------------------------------------------------------------------------------
@dataclass
class SweepResult:
    """Every run of the grid: the ones run now and the complete ones found (``skipped``)."""

    out_dir: Path
    results: list[Any]  # RunResult

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.results)

    @property
    def ran(self) -> list[Any]:
        return [r for r in self.results if not r.skipped]

    @property
    def failed(self) -> bool:
        return any(r.status == "failed" for r in self.results)


class Reporter:
    """Progress hooks of a sweep; this base class says nothing (see ``progress.py``)."""

    def start(self, todo: list[RunConfig], skipped: list[Any]) -> None: ...
    def run_started(self, cfg: RunConfig) -> None: ...
    def on_eval(self, event: dict[str, Any]) -> None: ...
    def run_finished(self, result: Any) -> None: ...
    def close(self, result: SweepResult) -> None: ...
    def stop(self) -> None: ...


@dataclass
class RunJob:
    """What an executor maps over the configs: one run, never raising (a run that cannot even
    record itself becomes a failed result in memory).

    ``reporter`` is a local progress hook; a remote executor ships ``job.remote()``, the same
    job without it, and reports only finished runs.
    """

    out_dir: Path
    tensorboard: bool = False
    save_weights: bool = False
    reporter: Reporter | None = None

    def remote(self) -> RunJob:
        return dataclasses.replace(self, reporter=None)

    def __call__(self, cfg: RunConfig) -> Any:
        import traceback

        from memorybench.run.train import RunResult, one_line_reason, run

        if self.reporter is not None:
            self.reporter.run_started(cfg)
        try:
            return run(cfg, self.out_dir, tensorboard=self.tensorboard,
                       save_weights=self.save_weights,
                       on_eval=self.reporter.on_eval if self.reporter is not None else None)
        except Exception as exc:
            rid = run_id(cfg)
            summary = {"run_id": rid, "status": "failed", "reason": one_line_reason(exc),
                       "traceback": traceback.format_exc(), "task": cfg.task.name,
                       "length": cfg.task.params.get("length"), "model": cfg.model.name,
                       "seed": cfg.seed}
            return RunResult(rid, store.run_dir(self.out_dir, rid), "failed", summary)


def plan_status(configs: list[RunConfig], out_dir, retry_failed: bool = False):
    """Split the grid into runs to do and complete runs to skip (with their summaries)."""
    from memorybench.run.train import RunResult

    todo, skipped = [], []
    for cfg in configs:
        rid = run_id(cfg)
        folder = store.run_dir(out_dir, rid)
        try:
            s = store.load_summary(folder)
        except Exception:
            todo.append(cfg)
            continue
        if s["status"] != "completed" and retry_failed:
            todo.append(cfg)
        else:
            skipped.append(RunResult(rid, folder, s["status"], s, skipped=True))
    return todo, skipped


def sweep(
    configs: list[RunConfig],
    out_dir: str | Path = "results",
    *,
    executor: Executor | str = "local",
    retry_failed: bool = False,
    tensorboard: bool = False,
    save_weights: bool = False,
    reporter: Reporter | None = None,
) -> SweepResult:
    """Run every config not complete in ``out_dir``; a failing run never stops the sweep."""
    ex = get_executor(executor) if isinstance(executor, str) else executor
    out = Path(out_dir)
    todo, skipped = plan_status(configs, out, retry_failed)
    reporter = reporter or Reporter()
    reporter.start(todo, skipped)
    job = RunJob(out, tensorboard, save_weights, reporter)
    done = []
    try:
        for result in ex.map(job, todo):
            done.append(result)
            reporter.run_finished(result)
    except BaseException:  # Ctrl-C: leave the terminal clean; the unfinished run re-runs later
        reporter.stop()
        raise
    by_id = {r.run_id: r for r in [*skipped, *done]}
    ordered = [by_id[run_id(c)] for c in configs if run_id(c) in by_id]
    result = SweepResult(out, ordered)
    reporter.close(result)
    return result
