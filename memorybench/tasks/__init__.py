"""Task registry: built-in tasks, ``memorybench.tasks`` entry points and plugin tasks."""

from __future__ import annotations

import dataclasses
from typing import Any

from memorybench.errors import ConfigError
from memorybench.registry import Registry
from memorybench.tasks.base import SPLITS, Task, TaskSpec

__all__ = ["SPLITS", "TASKS", "Task", "TaskSpec", "get_task", "register_task", "task_names"]

_BUILTIN = {
    "adding": "memorybench.tasks.adding:Adding",
    "copy_memory": "memorybench.tasks.copy_memory:CopyMemory",
    "delayed_xor": "memorybench.tasks.delayed_xor:DelayedXor",
    "sequential_mnist": "memorybench.tasks.mnist:SequentialMnist",
    "permuted_mnist": "memorybench.tasks.mnist:PermutedMnist",
    "selective_copy": "memorybench.tasks.selective_copy:SelectiveCopy",
    "mqar": "memorybench.tasks.mqar:Mqar",
    "induction_heads": "memorybench.tasks.induction_heads:InductionHeads",
    "temporal_order": "memorybench.tasks.temporal_order:TemporalOrder",
    "noisy_cifar": "memorybench.tasks.noisy_cifar:NoisyCifar",
}

TASKS = Registry("task", "memorybench.tasks", builtins=lambda: dict(_BUILTIN))


def register_task(name: str):
    """Class decorator: register a ``Task`` subclass under ``name``."""

    def deco(cls):
        if not (isinstance(cls, type) and issubclass(cls, Task)):
            raise ConfigError(f"register_task({name!r}) expects a Task subclass, got {cls!r}")
        cls.name = name
        return TASKS.register(name, cls)

    return deco


def task_names() -> list[str]:
    return TASKS.names()


def get_task(name: str | Task, **params: Any) -> Task:
    """The task ``name`` with ``params`` (its dataclass fields), e.g. ``length=100``."""
    if isinstance(name, Task):
        return dataclasses.replace(name, **params) if params else name
    cls = TASKS.get(name)
    fields = {f.name for f in dataclasses.fields(cls)}
    bad = sorted(set(params) - fields)
    if bad:
        raise ConfigError(
            f"task {name!r} has no parameter {bad[0]!r}; known: {', '.join(sorted(fields))}"
        )
    return cls(**params)
