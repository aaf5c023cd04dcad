"""memorybench: a Keras 3 benchmark suite of long-memory sequence tasks.

The public API is imported lazily so that ``import memorybench`` (and commands such as
``memorybench list``) never import TensorFlow unless a model is needed.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_API = {
    # tasks (numpy only)
    "Task": "memorybench.tasks",
    "TaskSpec": "memorybench.tasks",
    "get_task": "memorybench.tasks",
    "task_names": "memorybench.tasks",
    "register_task": "memorybench.tasks",
    # registry and plugins (no TensorFlow)
    "load_plugin": "memorybench.registry",
    "model_names": "memorybench.models",
    "register_cell": "memorybench.models",
    "register_model": "memorybench.models",
    # models (TensorFlow)
    "build_model": "memorybench.models.build",
    "load_model": "memorybench.models.build",
    # runs
    "RunConfig": "memorybench.config",
    "TaskConfig": "memorybench.config",
    "ModelConfig": "memorybench.config",
    "TrainConfig": "memorybench.config",
    "RunResult": "memorybench.run.store",
    "run": "memorybench",  # the callable package memorybench.run (see its docstring)
    "plan": "memorybench.settings.grid",
    "sweep": "memorybench.run.sweep",
    "study": "memorybench.api",
    "results": "memorybench.report.frame",
    # errors
    "MemorybenchError": "memorybench.errors",
    "ConfigError": "memorybench.errors",
    "PluginError": "memorybench.errors",
    "DataError": "memorybench.errors",
    "OutputError": "memorybench.errors",
}

__all__ = sorted(_API)


def __getattr__(name: str):
    if name == "run":
        return importlib.import_module("memorybench.run")
    if name in _API:
        value = getattr(importlib.import_module(_API[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'memorybench' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + __all__)
