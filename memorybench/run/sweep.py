"""Sweeps: run a grid of resolved runs (``memorybench.settings.plan``), skipping complete ones.

``sweep`` resumes: a run whose ``summary.json`` is complete is not run again (failed / diverged
ones only with ``retry_failed``). Runs go through an *executor*, a small interface with one method,
``map(fn, configs)`` yielding each result as it finishes, so a distributed executor (``ray``,
``run/executors.py``) and a local process pool (``--workers N``) plug in beside
``LocalExecutor``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from memorybench.config import RunConfig, run_id
from memorybench.errors import ConfigError
from memorybench.run import store


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


def _pool_executor(workers: int = 2) -> Executor:
    """``PoolExecutor`` (``run/executors.py``): several runs at once in local processes."""
    from memorybench.run.executors import PoolExecutor

    return PoolExecutor(workers)


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
    workers = options.pop("workers", None)
    if workers is not None and name == "local" and not options:
        return LocalExecutor() if workers == 1 else _pool_executor(workers)
    if workers is not None:
        raise ConfigError("--workers is for the local executor; with --executor ray, Ray "
                          "places the runs")
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
    record itself is written as failed by ``record_failed_run``, or kept in memory as failed
    when even that cannot write).

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
        import time
        import traceback

        from memorybench.errors import one_line
        from memorybench.run.train import record_failed_run, run

        if self.reporter is not None:
            self.reporter.run_started(cfg)
        t0 = time.perf_counter()
        try:
            return run(cfg, self.out_dir, tensorboard=self.tensorboard,
                       save_weights=self.save_weights,
                       on_eval=self.reporter.on_eval if self.reporter is not None else None)
        except Exception as exc:
            return record_failed_run(self.out_dir, cfg, one_line(exc), traceback.format_exc(),
                                     wall=time.perf_counter() - t0)


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
    out_dir: str | Path = store.DEFAULT_RESULTS,
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
