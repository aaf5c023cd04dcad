"""Executors, where a sweep's runs run (``get_executor`` picks one by name): ``LocalExecutor``
runs them on this machine, one after another in this process or ``--workers N`` at once in
worker processes (``PoolExecutor``); ``--executor ray`` hands each run to Ray (``RayExecutor``,
in ``ray_executor.py``, imported only when it is chosen: Ray is optional).

A pool worker is a fresh interpreter started with ``subprocess`` (``python -c``), talking to the
driver over a pipe; not ``multiprocessing``'s spawn, which would import the caller's main script
again in the worker, and never a fork (TensorFlow is not fork-safe). Workers are reused between
runs and handed the runs of the compiled program they hold first (``pick_run``). A run whose
worker dies, or that passes its time limit (``train.timeout_s``; its worker is killed), is
recorded as ``failed`` with the reason, and the sweep goes on.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, Protocol

from memorybench.config import RunConfig
from memorybench.errors import ConfigError, one_line
from memorybench.models.resolve import run_id
from memorybench.run import store
from memorybench.run.lock import break_lock
from memorybench.run.programs import program_key


# -- several runs at once on one machine, without Ray --------------------------------------------
def _pool_worker_init(plugins: list[str], threads: int) -> None:
    """Each pool process: quiet TensorFlow, pin its threads (the pool shares the cores), load the
    driver's plugin files before any name is resolved."""
    from memorybench.quiet import VERBOSE_ENV, quiet_tensorflow

    quiet_tensorflow(verbose=os.environ.get(VERBOSE_ENV, "") not in ("", "0"))
    os.environ["TF_NUM_INTRAOP_THREADS"] = str(threads)
    os.environ["TF_NUM_INTEROP_THREADS"] = str(threads)
    from memorybench.registry import load_plugin

    for path in plugins:
        load_plugin(path)
    _exit_with_parent(os.getppid())


def _exit_with_parent(parent: int) -> None:
    """A pool process whose sweep was killed (SIGKILL / SIGTERM) would wait for work forever:
    it leaves as soon as its parent is gone."""
    import threading

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="memorybench-parent-watch").start()


def _pool_main(fd: int) -> None:
    """Entry point of a worker process (``python -c``): the driver's end of the pipe is ``fd``;
    the first message is the driver's ``sys.path``, its plugin files and the thread count."""
    from multiprocessing.connection import Connection

    conn = Connection(fd)
    path, plugins, threads = conn.recv()
    sys.path[:] = [p for p in path if p] + [p for p in sys.path if p not in path]
    _pool_worker(conn, plugins, threads)


def _pool_worker(conn, plugins: list[str], threads: int) -> None:
    """A worker process: set up, then run ``(job, cfg)`` messages until ``None``.

    It says ``("started", run_id)`` when a run begins (its time limit counts from there, not
    from the worker's start-up) and ``("done", result)`` when it ends; anything raised outside a
    run is sent back as ``("error", one line)``. Set-up failing is ``("error", ...)`` too."""
    try:
        _pool_worker_init(plugins, threads)
    except BaseException as exc:  # a plugin that raises or exits in this process
        conn.send(("error", f"worker set-up failed: {one_line(exc)}"))
        return
    conn.send(("ready", os.getpid()))
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg is None:
            return
        job, cfg = msg
        conn.send(("started", run_id(cfg)))
        try:
            result = job(cfg)
        except BaseException as exc:  # noqa: BLE001 - reported to the driver, which records it
            conn.send(("error", one_line(exc)))
            continue
        conn.send(("done", result))


class _Worker:
    """One worker process of ``PoolExecutor`` and the run it holds.

    A fresh interpreter (``python -c``), not ``multiprocessing``'s spawn: that would import the
    caller's main script again in the worker, which breaks scripts without an ``if __name__ ==
    "__main__"`` guard and code read from stdin. TensorFlow is not fork-safe, so no fork."""

    def __init__(self, plugins: list[str], threads: int):
        import subprocess
        from multiprocessing import Pipe

        self.conn, child = Pipe()  # a socket pair: the worker gets its end by number
        fd = child.fileno()
        code = ("import sys; from memorybench.run.executors import _pool_main; "
                "_pool_main(int(sys.argv[1]))")
        self.proc = subprocess.Popen([sys.executable, "-c", code, str(fd)], pass_fds=(fd,),
                                     stdin=subprocess.DEVNULL)
        child.close()
        self.conn.send((list(sys.path), plugins, threads))
        self.cfg: RunConfig | None = None
        self.submitted = 0.0
        self.started: float | None = None  # when the current run began in the worker
        self.key: str | None = None  # the compiled program it holds (``run.programs``)

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, kill: bool = False) -> None:
        import subprocess

        if self.alive and not kill:
            try:
                self.conn.send(None)
                self.proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                pass
        if self.alive:
            self.proc.kill()
        self.proc.wait()
        self.conn.close()


def pick_run(queue: list[tuple[str, RunConfig]], w: _Worker, workers: list[_Worker]) -> int:
    """The index in ``queue`` (program key, config) of the run to give worker ``w``: the first
    of the program it holds (``run.programs``: no tracing or compiling), else the first of a
    program no other worker holds, else the first."""
    others = {o.key for o in workers if o is not w}
    mine = next((i for i, (key, _) in enumerate(queue) if key == w.key), None)
    if mine is not None:
        return mine
    return next((i for i, (key, _) in enumerate(queue) if key not in others), 0)


def release_lock_of(out_dir: Path, cfg: RunConfig, pid: int) -> None:
    """Remove the lock of ``cfg``'s run that worker process ``pid`` held when the sweep stopped
    it (Ctrl-C, an error in the driver): a killed worker cannot release it itself, and the run
    is left incomplete, to be run again, as with one worker in this process."""
    try:
        break_lock(store.run_dir(out_dir, run_id(cfg)), pid)
    except OSError:
        pass


class PoolExecutor:
    """``workers`` runs at once in worker processes of this machine (``--workers N``; the
    default local executor uses one per physical core).

    Two runs with one thread each beat one run with two threads on a 2-core CPU (the smoke
    sweep: 18 s against 26 s), and each run's numbers do not depend on the executor. Worker
    processes are fresh interpreters (``_Worker``: ``python -c``, never a fork; TensorFlow is
    not fork-safe) reused between runs, and a worker is handed the runs of the compiled program
    it holds first (``pick_run``); each gets ``threads_per_worker`` TensorFlow threads (the
    usable CPUs over the workers).

    A run whose worker dies is recorded as ``failed`` with the reason (``_failed``) and a
    run past its time limit (``train.timeout_s``, counted from when the run starts in its
    worker) is ended by killing its worker and recorded as ``failed``; a fresh worker takes the
    next run and the sweep goes on. Progress is reported per finished run.
    """

    name = "pool"

    def __init__(self, workers: int = 2, threads_per_worker: int | None = None):
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ConfigError(f"--workers {workers!r} is not allowed; allowed: an integer >= 1")
        self.workers = workers
        self.threads = threads_per_worker or max(1, usable_cpus() // workers)

    def map(self, fn, configs: Iterable[RunConfig]) -> Iterator[Any]:
        from multiprocessing.connection import wait

        from memorybench.registry import loaded_plugins

        remote = fn.remote() if hasattr(fn, "remote") else fn
        out_dir = Path(fn.out_dir)  # a RunJob
        queue = [(program_key(cfg), cfg) for cfg in configs]
        if not queue:
            return
        plugins = list(loaded_plugins())
        workers: list[_Worker] = []
        try:
            while queue or any(w.cfg is not None for w in workers):
                while queue and len(workers) < self.workers:
                    workers.append(_Worker(plugins, self.threads))
                for w in workers:  # hand out runs
                    if w.cfg is None and queue and not w.conn.closed:
                        w.key, w.cfg = queue.pop(pick_run(queue, w, workers))
                        w.submitted, w.started = time.time(), None
                        try:
                            w.conn.send((remote, w.cfg))
                        except OSError:  # it has just died: the run goes to another worker
                            queue.insert(0, (w.key, w.cfg))
                            w.cfg = None
                            w.stop(kill=True)
                ready = wait([w.conn for w in workers], timeout=self._next_deadline(workers))
                for w in list(workers):
                    result = self._check(w, ready, out_dir)
                    if result is not None:
                        yield result
                    if w.conn.closed or not w.alive:
                        w.stop(kill=True)
                        workers.remove(w)
        finally:
            for w in workers:  # Ctrl-C, an error in the driver, or the end: stop every worker
                held = w.cfg
                w.stop(kill=held is not None)
                if held is not None:  # killed mid-run: its lock goes, as with one worker
                    release_lock_of(out_dir, held, w.proc.pid)

    @staticmethod
    def _next_deadline(workers: list[_Worker]) -> float | None:
        """Seconds until the first running run's time limit (None: no limit)."""
        left = [w.started + w.cfg.train.timeout_s - time.time() for w in workers
                if w.cfg is not None and w.started is not None and w.cfg.train.timeout_s > 0]
        return max(0.0, min(left)) if left else None

    def _check(self, w: _Worker, ready, out_dir: Path):
        """The finished result of worker ``w``, if any (its own, a crash or a time-out)."""
        cfg = w.cfg
        if w.conn in ready:
            try:
                kind, payload = w.conn.recv()
            except (EOFError, OSError):  # the worker is gone: let it be reaped
                kind, payload = "dead", None
                try:
                    w.proc.wait(timeout=5)
                except Exception:
                    w.proc.kill()
                    w.proc.wait()
            if kind == "started":
                w.started = time.time()
            elif kind == "done":
                w.cfg = None
                if dataclasses.is_dataclass(payload) and hasattr(payload, "run_id"):
                    return dataclasses.replace(
                        payload, run_dir=store.run_dir(out_dir, payload.run_id))
                return payload
            elif kind == "error" and cfg is not None:
                w.cfg = None
                return self._failed(w, out_dir, cfg, f"the worker process raised outside the "
                                    f"run: {payload}")
            elif kind == "error":  # set-up failed: the next run goes to a fresh worker
                w.stop(kill=True)
        if cfg is not None and w.cfg is not None and not w.alive:
            w.cfg = None
            code = w.proc.returncode
            return self._failed(w, out_dir, cfg, f"the worker process died (exit code {code}) "
                                f"during the run", crashed=True)
        limit = cfg.train.timeout_s if cfg is not None else 0
        if (w.cfg is not None and limit > 0 and w.started is not None
                and time.time() - w.started >= limit):
            w.stop(kill=True)
            w.cfg = None
            return self._failed(w, out_dir, cfg, f"timed out: the run took longer than "
                                f"train.timeout_s={limit:g} s; its worker process was stopped",
                                crashed=True)
        return None

    @staticmethod
    def _failed(w: _Worker, out_dir: Path, cfg: RunConfig, reason: str, crashed=False):
        from memorybench.run.train import write_failed_summary

        rid = run_id(cfg)
        folder = store.run_dir(out_dir, rid)
        if crashed:
            break_lock(folder, w.proc.pid)
            try:  # the run may have written its own summary just before
                if (folder / store.SUMMARY).stat().st_mtime >= (w.started or w.submitted):
                    return store.load_result(folder)
            except Exception:
                pass
        wall = time.time() - (w.started or w.submitted)
        return write_failed_summary(out_dir, cfg, reason, None, wall=wall)


# -- choosing an executor --------------------------------------------------------------------------
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


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one), at least 1."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
        os.cpu_count() or 1)


def physical_cores() -> int:
    """Physical cores this process may use (hyper-threads are not cores: two runs on the two
    threads of one core gain little), at least 1."""
    usable = usable_cpus()
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
            entry = reg.peek(name)  # read without importing anything
            if entry is None or entry.target is not None or entry.source in files:
                continue
            if entry.source == "builtin" or entry.source.startswith("entry point"):
                continue
            return name
    return None


def _ray_executor(**options) -> Executor:
    """``RayExecutor`` (``ray_executor.py``, imported only here; Ray itself only when it starts:
    Ray is optional)."""
    from memorybench.run.ray_executor import RayExecutor

    return RayExecutor(**options)


def _pool_executor(workers: int = 2) -> Executor:
    """``PoolExecutor``: several runs at once in local processes."""
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
