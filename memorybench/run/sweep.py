"""Sweeps: run a grid of resolved runs (``memorybench.settings.plan``), skipping complete ones.

``sweep`` resumes: a run whose ``summary.json`` is complete is not run again (failed / diverged
ones only with ``retry_failed``). Runs go through an *executor*, a small interface with one method,
``map(fn, configs)`` yielding each result as it finishes (``run/executors.py``: this process or
a local process pool with ``--workers N``; ``run/ray_executor.py``: Ray); each run is claimed
first (``run/lock.py``).
"""

from __future__ import annotations

import dataclasses
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from memorybench.config import RunConfig
from memorybench.errors import ConfigError
from memorybench.models.resolve import run_id
from memorybench.run import store
from memorybench.run.executors import Executor, get_executor
from memorybench.run.lock import LOCK, claim, lock_is_stale, read_lock


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
    def note(self, message: str) -> None: ...
    def close(self, result: SweepResult) -> None: ...
    def stop(self) -> None: ...


def _stamp(folder: Path) -> str | None:
    """What identifies the summary in ``folder`` now (None: no complete summary)."""
    try:
        s = store.load_summary(folder)
    except Exception:
        return None
    return f"{s.get('status')}|{s.get('started_at')}|{s.get('finished_at')}"


@dataclass
class RunJob:
    """What an executor maps over the configs: one run, never raising (a run that cannot even
    record itself is written as failed by ``write_failed_summary``, or kept in memory as failed
    when even that cannot write).

    The run is claimed first (``claim``): when another process holds it, the job returns a
    ``busy`` result and trains nothing; when another process finished it since the sweep looked
    (``seen``: run id -> the summary's stamp then), it returns that run as complete.

    ``reporter`` is a local progress hook; a remote executor ships ``job.remote()``, the same
    job without it, and reports only finished runs.
    """

    out_dir: Path
    tensorboard: bool = False
    save_weights: bool = False
    reporter: Reporter | None = None
    seen: dict[str, str | None] | None = None

    def remote(self) -> RunJob:
        return dataclasses.replace(self, reporter=None)

    def __call__(self, cfg: RunConfig) -> Any:
        import traceback

        from memorybench.run.train import (
            UnsafeRunFolder,
            run,
            run_folder,
            write_failed_summary,
        )

        rid = run_id(cfg)
        try:
            folder = run_folder(self.out_dir, rid)
        except UnsafeRunFolder:
            return run(cfg, self.out_dir)  # refuses it: failed, nothing written
        lock, owner = claim(folder)
        if lock is None:
            where = f"pid {owner.get('pid')} on {owner.get('host')}"
            return store.RunResult(rid, folder, BUSY, {"run_id": rid, "reason": where})
        try:
            if self.seen is not None and rid in self.seen and _stamp(folder) != self.seen[rid]:
                return store.load_result(folder, skipped=True)  # another process ran it
            if self.reporter is not None:
                self.reporter.run_started(cfg)
            t0 = time.perf_counter()
            try:
                return run(cfg, self.out_dir, tensorboard=self.tensorboard,
                           save_weights=self.save_weights,
                           on_eval=self.reporter.on_eval if self.reporter is not None else None)
            except (Exception, SystemExit) as exc:
                from memorybench.run.train import failure_reason

                return write_failed_summary(self.out_dir, cfg, failure_reason(exc),
                                         traceback.format_exc(), wall=time.perf_counter() - t0)
        finally:
            lock.release()


BUSY = "busy"  # a RunJob's status for a run another process is training (never on disk)
WAIT_POLL_S = 1.0


def plan_status(configs: list[RunConfig], out_dir, retry_failed: bool = False,
                warn: Callable[[str], None] | None = None):
    """Split the grid into runs to do and complete runs to skip (with their summaries).

    A run folder that is a symbolic link is never read: its run is to do (and then refused).
    A summary that ``store.load_summary`` rejects (corrupt, not a regular file, of the wrong
    type: the one check the reports use) makes its run one to do, with a message to ``warn``."""
    todo, skipped = [], []
    for cfg in configs:
        rid = run_id(cfg)
        folder = store.run_dir(out_dir, rid)
        if folder.is_symlink():
            todo.append(cfg)
            continue
        try:
            s = store.load_summary(folder)
        except Exception as exc:
            todo.append(cfg)
            if warn is not None and os.path.lexists(folder / store.SUMMARY):
                warn(f"running {rid} again: {exc}")
            continue
        if s["status"] != "completed" and retry_failed:
            todo.append(cfg)
        else:
            skipped.append(store.result_of(folder, s, skipped=True))
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
    """Run every config not complete in ``out_dir``; a failing run never stops the sweep.

    Several sweeps may share ``out_dir`` (processes on one machine, or machines on a shared file
    system): each run is claimed before it is trained, a run another sweep is training is waited
    for (and taken over if that sweep dies), so every run is trained once.
    """
    ex = get_executor(executor) if isinstance(executor, str) else executor
    out = Path(out_dir)
    if store.runs_dir(out).is_symlink():
        raise ConfigError(f"{store.runs_dir(out)} is a symbolic link; runs are never written "
                          f"through links (remove it or choose another --out)")
    problems: list[str] = []
    todo, skipped = plan_status(configs, out, retry_failed, warn=problems.append)
    reporter = reporter or Reporter()
    note = getattr(reporter, "note", None)  # a reporter of one's own may lack it
    if getattr(type(reporter), "note", None) is Reporter.note:
        note = None  # the silent base class: a UserWarning instead
    for msg in problems:
        if note is not None:
            from memorybench.errors import printable

            note(f"warning: {printable(msg)}")
        else:
            warnings.warn(msg, UserWarning, stacklevel=2)
    reporter.start(todo, skipped)
    seen = {run_id(c): _stamp(store.run_dir(out, run_id(c))) for c in todo}
    job = RunJob(out, tensorboard, save_weights, reporter, seen)
    by_cfg = {run_id(c): c for c in todo}
    done = []
    try:
        pending = todo
        while pending:
            busy = []
            for result in ex.map(job, pending):
                if result.status == BUSY:
                    busy.append(by_cfg[result.run_id])
                    continue
                done.append(result)
                reporter.run_finished(result)
            pending = _wait_for(busy, out, seen, reporter, done) if busy else []
    except BaseException:  # Ctrl-C: leave the terminal clean; the unfinished run re-runs later
        reporter.stop()
        raise
    by_id = {r.run_id: r for r in [*skipped, *done]}
    ordered = [by_id[run_id(c)] for c in configs if run_id(c) in by_id]
    result = SweepResult(out, ordered)
    reporter.close(result)
    return result


def _wait_for(busy: list[RunConfig], out: Path, seen, reporter, done: list) -> list[RunConfig]:
    """Wait while other processes train the ``busy`` runs; each one they finish goes to
    ``done``. Returns the runs to claim again: their lock is gone or stale while they are still
    not complete (the other sweep stopped or died)."""
    note = getattr(reporter, "note", None)  # a reporter of one's own may lack it
    if note is not None:
        note(f"waiting for {len(busy)} run(s) that another process is training")
    busy = list(busy)
    while True:
        again = []
        for cfg in list(busy):
            rid = run_id(cfg)
            folder = store.run_dir(out, rid)
            stamp = _stamp(folder)
            if stamp is not None and stamp != seen.get(rid):
                result = store.load_result(folder, skipped=True)
                done.append(result)
                reporter.run_finished(result)
                busy.remove(cfg)
                continue
            text, info = read_lock(folder / LOCK)
            if text is None or lock_is_stale(folder / LOCK, info):
                again.append(cfg)
                busy.remove(cfg)
        if again or not busy:
            return again
        time.sleep(WAIT_POLL_S)
