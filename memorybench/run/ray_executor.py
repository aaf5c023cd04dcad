"""The Ray executor: each run of a sweep as one Ray task, on a local or a remote cluster
(``--executor ray``; ``executors.get_executor`` makes it).

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

import dataclasses
import logging
import os
import time
import traceback
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from memorybench.config import RunConfig
from memorybench.errors import ConfigError, one_line
from memorybench.models.resolve import run_id
from memorybench.run import store

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
                        result = write_crash(out_dir, cfg, exc, time.time() - t0[ref])
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


def write_crash(out_dir: Path, cfg: RunConfig, exc: BaseException, wall: float):
    """A run whose Ray task did not come back: write it as ``failed`` (unless the run wrote its
    own summary before the crash) and return its ``RunResult``."""
    from memorybench.run.train import write_failed_summary

    rid = run_id(cfg)
    folder = store.run_dir(out_dir, rid)
    try:
        return store.load_result(folder)
    except Exception:
        pass
    cause = getattr(exc, "cause", None)  # RayTaskError: the exception raised in the worker
    if isinstance(cause, BaseException):
        reason = f"raised in the Ray worker: {one_line(cause)}"
    else:  # WorkerCrashedError, OutOfMemoryError, ...: the process is gone
        reason = f"the Ray task did not come back: {one_line(exc)}"
    return write_failed_summary(
        out_dir, cfg, reason, "".join(traceback.format_exception(exc)), wall=wall,
        device="unknown (the Ray worker did not report)",
    )
