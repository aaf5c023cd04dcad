"""Executors, where a sweep's runs run: this process or a local pool (``LocalExecutor``,
``PoolExecutor``) or a Ray cluster (``RayExecutor``); ``get_executor`` picks one by name.

The Ray executor runs each run of a sweep as one Ray task, on a local or a remote cluster.

``RayExecutor.map(job, configs)`` submits every config as a ``@ray.remote`` task and yields the
results as they finish, so the sweep prints one progress line per finished run, as with the
local executor. The sweep has already skipped the complete runs (resume), so only the rest are
submitted. Resources per task: ``num_gpus=gpus_per_run`` (1 by default; a fraction such as 0.5
shares a card, which works because the runner enables TensorFlow's memory growth) when the
cluster has GPUs, plus ``num_cpus=1``; TensorFlow in the worker is limited to the CPUs Ray gave
the task, so concurrent runs do not fight over the cores.

Workers write into the same results folder (a shared file system on a multi-machine cluster):
each run owns its ``runs/<run_id>/`` folder and every file is written atomically, so runs never
collide. Plugin files loaded by the driver are loaded again in the worker before any name is
resolved (their paths must exist on every node). A task that does not come back (the worker
process died, ran out of memory, or raised outside the run) is recorded by the driver as a
``failed`` run with the reason, and the sweep goes on; tasks are not retried
(``max_retries=0``): a run that crashed a worker once would most likely crash it again.

Without ``address`` a local cluster is started (``num_cpus=os.cpu_count()``, no dashboard) and
shut down after the sweep; with it, ``ray.init(address=...)`` connects to a running cluster
(``auto``, ``ray://host:10001``, ``host:6379``). Ray is optional: ``pip install
'memorybench[ray]'``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, Protocol

from memorybench.config import RunConfig
from memorybench.errors import ConfigError, one_line
from memorybench.models.resolve import run_id
from memorybench.run import store
from memorybench.run.lock import break_lock
from memorybench.run.programs import program_key

INSTALL_HINT = "pip install 'memorybench[ray]'"


def import_ray():
    """The ``ray`` module, or ConfigError with the install command."""
    try:
        import ray
    except ImportError:
        raise ConfigError(f"--executor ray needs Ray, which is not installed: {INSTALL_HINT}"
                          ) from None
    return ray


def task_options(cluster: dict[str, float], gpus_per_run: float | None = None) -> dict[str, Any]:
    """Ray resources of one run, given the cluster's resources (``ray.cluster_resources()``).

    One GPU per run (or ``gpus_per_run``) where the cluster has GPUs, else none; one CPU each.
    """
    opts: dict[str, Any] = {"num_cpus": 1, "max_retries": 0}
    if cluster.get("GPU", 0) > 0:
        opts["num_gpus"] = 1 if gpus_per_run is None else gpus_per_run
    return opts


def check_gpus_per_run(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 64:
        raise ConfigError(
            f"--gpus-per-run {value!r} is not allowed; allowed: a number > 0 (a fraction such as "
            f"0.5 shares a GPU between runs; above 1 only in whole GPUs)"
        )
    if value > 1 and value != int(value):
        raise ConfigError(
            f"--gpus-per-run {value!r} is not allowed; allowed: a fraction <= 1 or a whole "
            f"number of GPUs (Ray's rule)"
        )
    return float(value)


def run_in_worker(job, cfg: RunConfig, plugins: list[str]):
    """What a Ray task runs: load the plugin files, pin TensorFlow's threads, run the job."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from memorybench.registry import load_plugin

    for path in plugins:
        load_plugin(path)  # a no-op when this worker process has loaded it already
    _limit_threads()
    return job(cfg)


def _limit_threads() -> None:
    """Give TensorFlow as many threads as the task has CPUs (Ray runs several tasks a node)."""
    try:
        import ray

        cpus = ray.get_runtime_context().get_assigned_resources().get("CPU")
    except Exception:  # not inside a Ray task (tests call run_in_worker directly)
        return
    if not cpus:
        return
    import tensorflow as tf

    n = max(1, int(cpus))
    try:
        tf.config.threading.set_intra_op_parallelism_threads(n)
        tf.config.threading.set_inter_op_parallelism_threads(n)
    except RuntimeError:  # this worker initialised TensorFlow in an earlier task: already set
        pass


class RayExecutor:
    """Runs each config as a Ray task; yields each ``RunResult`` as soon as it finishes."""

    name = "ray"

    def __init__(self, address: str | None = None, gpus_per_run: float | None = None,
                 num_cpus: int | None = None):
        self.ray = import_ray()
        self.address = address
        self.gpus_per_run = check_gpus_per_run(gpus_per_run)
        self.num_cpus = num_cpus or os.cpu_count()
        self.options: dict[str, Any] | None = None  # the last sweep's task options

    def _connect(self) -> bool:
        """Start or join a cluster; True when this call started it (and so shuts it down)."""
        ray = self.ray
        if ray.is_initialized():
            return False
        kw: dict[str, Any] = {"logging_level": logging.WARNING, "log_to_driver": False}
        if self.address:
            ray.init(address=self.address, **kw)
        else:
            ray.init(num_cpus=self.num_cpus, include_dashboard=False, **kw)
        return True

    def map(self, fn, configs: Iterable[RunConfig]) -> Iterator[Any]:
        configs = list(configs)
        if not configs:
            return
        if any(cfg.train.timeout_s > 0 for cfg in configs):
            raise ConfigError("train.timeout_s is enforced by the local executor only (it stops "
                              "a run's worker process); with --executor ray, leave it 0")
        ray = self.ray
        # workers may start in another folder (or on another machine): absolute paths
        out_dir = Path(getattr(fn, "out_dir", store.DEFAULT_RESULTS))
        job = fn.remote() if hasattr(fn, "remote") else fn
        if dataclasses.is_dataclass(job) and hasattr(job, "out_dir"):
            job = dataclasses.replace(job, out_dir=out_dir.resolve())
        from memorybench.registry import loaded_plugins

        plugins = sorted(loaded_plugins())
        started = self._connect()
        pending: dict[Any, RunConfig] = {}
        try:
            self.options = task_options(ray.cluster_resources(), self.gpus_per_run)
            remote = ray.remote(run_in_worker).options(**self.options)
            job_ref = ray.put(job)
            t0 = {}
            for cfg in configs:
                ref = remote.remote(job_ref, cfg, plugins)
                pending[ref] = cfg
                t0[ref] = time.time()
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1)
                for ref in ready:
                    cfg = pending.pop(ref)
                    try:
                        result = ray.get(ref)
                    except Exception as exc:  # the worker died or raised outside the run
                        result = record_crash(out_dir, cfg, exc, time.time() - t0[ref])
                    else:
                        result = dataclasses.replace(
                            result, run_dir=store.run_dir(out_dir, result.run_id)
                        )
                    yield result
        finally:
            for ref in pending:  # Ctrl-C or an error in the driver: stop what is still queued
                try:
                    ray.cancel(ref, force=True)
                except Exception:
                    pass
            if started:
                ray.shutdown()


def record_crash(out_dir: Path, cfg: RunConfig, exc: BaseException, wall: float):
    """A run whose Ray task did not come back: write it as ``failed`` (unless the run wrote its
    own summary before the crash) and return its ``RunResult``."""
    from memorybench.run.train import RunResult, record_failed_run

    rid = run_id(cfg)
    folder = store.run_dir(out_dir, rid)
    try:
        s = store.load_summary(folder)
        return RunResult(rid, folder, s["status"], s)
    except Exception:
        pass
    cause = getattr(exc, "cause", None)  # RayTaskError: the exception raised in the worker
    if isinstance(cause, BaseException):
        reason = f"raised in the Ray worker: {one_line(cause)}"
    else:  # WorkerCrashedError, OutOfMemoryError, ...: the process is gone
        reason = f"the Ray task did not come back: {one_line(exc)}"
    return record_failed_run(
        out_dir, cfg, reason, "".join(traceback.format_exception(exc)), wall=wall,
        device="unknown (the Ray worker did not report)",
    )


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
    processes are fresh interpreters (TensorFlow is not fork-safe) reused between runs, and a
    worker is handed the runs of the compiled program it holds first (``pick_run``); each gets
    ``threads_per_worker`` TensorFlow threads (the usable CPUs over the workers).

    A run whose worker dies is recorded as ``failed`` with the reason (``record_crash``) and a
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
        from memorybench.run.train import RunResult, record_failed_run

        rid = run_id(cfg)
        folder = store.run_dir(out_dir, rid)
        if crashed:
            break_lock(folder, w.proc.pid)
            try:  # the run may have written its own summary just before
                if (folder / store.SUMMARY).stat().st_mtime >= (w.started or w.submitted):
                    s = store.load_summary(folder)
                    return RunResult(rid, folder, s["status"], s)
            except Exception:
                pass
        wall = time.time() - (w.started or w.submitted)
        return record_failed_run(out_dir, cfg, reason, None, wall=wall)


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
    """``RayExecutor``: Ray itself is imported only when it starts (Ray is optional)."""
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
