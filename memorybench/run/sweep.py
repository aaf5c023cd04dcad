"""Sweeps: run a grid of resolved runs (``memorybench.settings.plan``), skipping complete ones.

``sweep`` resumes: a run whose ``summary.json`` is complete is not run again (failed / diverged
ones only with ``retry_failed``). Runs go through an *executor*, a small interface with one method,
``map(fn, configs)`` yielding each result as it finishes, so a distributed executor (``ray``,
``run/executors.py``) and a local process pool (``--workers N``) plug in beside
``LocalExecutor``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import socket
import threading
import time
import warnings
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
    """Runs on this machine: ``workers`` at once in worker processes (``PoolExecutor``), or one
    after another in this process when one worker is enough (live progress works there).

    ``workers=None`` (the default): one worker per physical core, at most one per run. Runs go
    to worker processes also with one worker when a run has a time limit (``train.timeout_s``:
    a worker can be stopped at the deadline, this process cannot), and stay in this process when
    a name of the grid is registered only here (not from a plugin file, an entry point or a
    module), which a worker process could not see. In this process, a run's ``os._exit`` fails
    that run, not the sweep (``hard_exit_raises``).
    """

    name = "local"

    def __init__(self, workers: int | None = None):
        if workers is not None:
            check_workers(workers)
        else:
            default_workers()  # $MEMORYBENCH_WORKERS checked now, before anything runs
        self.workers = workers

    def map(self, fn, configs):
        configs = list(configs)
        n = min(self.workers or default_workers(), max(1, len(configs)))
        timed = any(cfg.train.timeout_s > 0 for cfg in configs)
        local_only = _registered_here(configs)
        if local_only and timed:
            raise ConfigError(
                f"train.timeout_s needs runs in worker processes, but {local_only!r} is "
                f"registered in this process only; register it in a plugin file (--plugin) or "
                f"set train.timeout_s=0"
            )
        if (n > 1 or timed) and not local_only and configs:
            yield from _pool_executor(n).map(fn, configs)
            return
        for cfg in configs:
            with hard_exit_raises():  # a run's os._exit fails that run, not the sweep
                result = fn(cfg)
            yield result


@contextlib.contextmanager
def hard_exit_raises():
    """While a run runs in this process, ``os._exit(code)`` called from this thread raises
    ``HardExit`` (a ``SystemExit``: ``RunJob`` records the run as failed, releases its lock and
    the sweep goes on, as when a worker process dies) instead of ending the sweep without a
    word. Other threads and forked children keep the real ``os._exit``."""
    from memorybench.run.train import HardExit

    real, pid, thread = os._exit, os.getpid(), threading.get_ident()

    def _exit(code: int) -> None:
        if os.getpid() == pid and threading.get_ident() == thread:
            raise HardExit(code)
        real(code)

    os._exit = _exit
    try:
        yield
    finally:
        os._exit = real


WORKERS_ENV = "MEMORYBENCH_WORKERS"


def default_workers() -> int:
    """Workers of a local sweep when ``--workers`` is not given: ``$MEMORYBENCH_WORKERS`` if set
    (a machine's own default, e.g. 1 where runs must stay in the calling process), else one per
    physical core."""
    value = os.environ.get(WORKERS_ENV, "").strip()
    if not value:
        return physical_cores()
    return check_workers(value, f"${WORKERS_ENV}", "(or unset: one worker per physical core)")


def check_workers(value: Any, name: str = "--workers", more: str = "") -> int:
    """``value`` as a number of workers: an integer >= 1 (a string such as an environment
    variable's as ``click``'s INT reads an option); ConfigError, one line, otherwise. The one
    check of ``--workers`` and ``$MEMORYBENCH_WORKERS``."""
    n = value
    if isinstance(value, str):
        try:
            n = int(value.strip(), 10)
        except ValueError:  # "abc", "1.5", or digits int() does not take ("²")
            n = None
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        shown = f"={value!r}" if name.startswith("$") else f" {value!r}"
        raise ConfigError(f"{name}{shown} is not allowed; allowed: an integer >= 1"
                          + (f" {more}" if more else ""))
    return n


def physical_cores() -> int:
    """Physical cores this process may use (hyper-threads are not cores: two runs on the two
    threads of one core gain little), at least 1."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
        os.cpu_count() or 1)
    cores = None
    try:
        import psutil  # optional: present in most environments

        cores = psutil.cpu_count(logical=False)
    except Exception:
        try:
            with open("/proc/cpuinfo") as f:
                ids, phys = set(), "0"
                for line in f:
                    key, _, value = line.partition(":")
                    if key.strip() == "physical id":
                        phys = value.strip()
                    elif key.strip() == "core id":
                        ids.add((phys, value.strip()))
                cores = len(ids) or None
        except OSError:
            cores = None
    return max(1, min(cores or usable, usable))


def _registered_here(configs: list[RunConfig]) -> str | None:
    """The first model or task name of ``configs`` that a fresh worker process cannot resolve:
    one registered by code running in this process, not by a plugin file (workers load those),
    an entry point, a built-in catalog entry or a ``module:Class`` string."""
    from memorybench.models import CELLS, MODELS
    from memorybench.registry import loaded_plugins
    from memorybench.tasks import TASKS

    files = set(loaded_plugins())
    for cfg in configs:
        for reg, name in ((CELLS, cfg.model.name), (MODELS, cfg.model.name),
                          (TASKS, cfg.task.name)):
            entry = reg._entries.get(name)  # read without importing anything
            if entry is None or entry.target is not None or entry.source in files:
                continue
            if entry.source == "builtin" or entry.source.startswith("entry point"):
                continue
            return name
    return None


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
    if name == "local" and not options:
        return LocalExecutor(workers)  # None: one worker per physical core, up to the grid
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
    def note(self, message: str) -> None: ...
    def close(self, result: SweepResult) -> None: ...
    def stop(self) -> None: ...


# -- claiming a run: one lock file a run, so concurrent sweeps never train a run twice ----------
LOCK = ".lock"  # runs/<run_id>/.lock while a process trains the run
STALE_AFTER_S = 600.0  # a lock not refreshed for this long is stale (its owner is gone or hung)
HEARTBEAT_S = 30.0  # how often the owner refreshes its lock's modification time
HOST = socket.gethostname()


class RunLock:
    """A claimed run: the lock file ``runs/<run_id>/.lock``, made with ``O_CREAT | O_EXCL`` (atomic,
    also on NFS v3+ and most shared file systems) and holding the owner's pid, host and a token.

    The owner refreshes its modification time every ``HEARTBEAT_S`` seconds from a thread. A
    lock is *stale*, and is taken over, when its owner is on this host and its pid is dead, or
    when it has not been refreshed for ``STALE_AFTER_S`` seconds (any host; a host cannot see
    another's processes). ``release`` removes it only while it is still this owner's.
    """

    def __init__(self, path: Path, token: str):
        self.path, self.token = path, token
        self._stop = threading.Event()
        self._beat = threading.Thread(target=self._heartbeat, daemon=True,
                                      name="memorybench-lock-heartbeat")
        self._beat.start()

    def _heartbeat(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            try:
                os.utime(self.path)
            except OSError:
                return

    def release(self) -> None:
        self._stop.set()
        info = read_lock(self.path)[1]
        if info is not None and info.get("token") == self.token:
            try:
                self.path.unlink()
            except FileNotFoundError:
                pass


def read_lock(path: Path) -> tuple[str | None, dict | None]:
    """(the lock file's text, its fields) — (None, None) when there is no lock; fields None when
    it does not parse (being written, or damaged)."""
    import json

    try:  # a regular file only: a FIFO named .lock would hang the sweep (then it reads as
        # unparsable, and is taken over once stale)
        text = store.read_regular(path, limit=4096).decode("utf-8", "replace")
    except FileNotFoundError:
        return None, None
    except OSError:  # DataError too
        return "", None
    try:
        info = json.loads(text)
    except (ValueError, RecursionError):  # 4 KB of "[" nest deeper than json can parse
        return text, None
    return text, info if isinstance(info, dict) else None


def lock_is_stale(path: Path, info: dict | None, now: float | None = None) -> bool:
    """Whether the lock at ``path`` (fields ``info``) may be taken over."""
    try:
        age = (now or time.time()) - path.stat().st_mtime
    except FileNotFoundError:
        return True
    if info is None:  # unparsable: a writer died between create and write (microseconds)
        return age > HEARTBEAT_S
    if age > STALE_AFTER_S:
        return True
    if info.get("host") == HOST:
        return not _pid_alive(info.get("pid"))
    return False


def _pid_alive(pid: Any) -> bool:
    if isinstance(pid, bool) or not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    return True


def claim(folder: Path) -> tuple[RunLock | None, dict | None]:
    """Claim the run in ``folder``: (the lock, None), or (None, the owner's fields) when another
    live process holds it. A stale lock is taken over (one process wins: see ``_take_over``)."""
    import json
    import uuid

    path = folder / LOCK
    owner: dict | None = None
    for _ in range(5):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0),
                         0o644)
        except FileExistsError:
            text, owner = read_lock(path)
            if text is None:
                continue  # released meanwhile: try again
            if lock_is_stale(path, owner) and _take_over(path, text):
                continue
            return None, owner or {"pid": None, "host": "?"}
        token = uuid.uuid4().hex
        info = {"pid": os.getpid(), "host": HOST, "token": token,
                "since": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        with os.fdopen(fd, "w") as f:
            f.write(json.dumps(info))
        return RunLock(path, token), None
    return None, owner or {"pid": None, "host": "?"}


def _take_over(path: Path, seen: str) -> bool:
    """Remove the stale lock ``path`` if it still holds ``seen``; True when removed (or gone).

    Takeovers are serialised by a second lock (``.lock.takeover``, also ``O_EXCL``): without it
    two processes that both judged a lock stale could each remove one, the second removing the
    fresh lock the first had just made."""
    guard = path.with_name(path.name + ".takeover")
    try:
        os.close(os.open(guard, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
    except FileExistsError:
        try:  # a takeover takes microseconds: a guard a minute old was left by a dead process
            if time.time() - guard.stat().st_mtime > 60:
                guard.unlink()
        except FileNotFoundError:
            pass
        return False
    try:
        text, _ = read_lock(path)
        if text is None:
            return True
        if text != seen:
            return False  # someone made a fresh lock meanwhile
        path.unlink()
        return True
    finally:
        guard.unlink(missing_ok=True)


def break_lock(folder: Path, pid: int) -> None:
    """Remove the lock of ``folder`` when process ``pid`` of this host holds it (the sweep
    stopped that worker: at its time limit, or it died)."""
    path = folder / LOCK
    _, info = read_lock(path)
    if info is not None and info.get("pid") == pid and info.get("host") == HOST:
        path.unlink(missing_ok=True)


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
    record itself is written as failed by ``record_failed_run``, or kept in memory as failed
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
            RunResult,
            UnsafeRunFolder,
            record_failed_run,
            run,
            run_folder,
        )

        rid = run_id(cfg)
        try:
            folder = run_folder(self.out_dir, rid)
        except UnsafeRunFolder:
            return run(cfg, self.out_dir)  # refuses it: failed, nothing written
        lock, owner = claim(folder)
        if lock is None:
            where = f"pid {owner.get('pid')} on {owner.get('host')}"
            return RunResult(rid, folder, BUSY, {"run_id": rid, "reason": where})
        try:
            if self.seen is not None and rid in self.seen and _stamp(folder) != self.seen[rid]:
                s = store.load_summary(folder)  # another process ran it meanwhile
                return RunResult(rid, folder, s["status"], s, skipped=True)
            if self.reporter is not None:
                self.reporter.run_started(cfg)
            t0 = time.perf_counter()
            try:
                return run(cfg, self.out_dir, tensorboard=self.tensorboard,
                           save_weights=self.save_weights,
                           on_eval=self.reporter.on_eval if self.reporter is not None else None)
            except (Exception, SystemExit) as exc:
                from memorybench.run.train import failure_reason

                return record_failed_run(self.out_dir, cfg, failure_reason(exc),
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
    from memorybench.run.train import RunResult

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
    from memorybench.run.train import RunResult

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
                s = store.load_summary(folder)
                result = RunResult(rid, folder, s["status"], s, skipped=True)
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
