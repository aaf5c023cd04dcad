"""The compiled training program a process keeps between runs of one shape.

Tracing a run's training step and compiling it with XLA is a fixed cost of every run: about 3 s
at the why-LSTM study's shape on one core, more than its 1,000 steps take at L=25. Runs that
differ only in seed and learning rate (a study's seeds and rates, a sweep's ``--seeds``) train
the same program, so a process keeps the compiled model of its last run and the next run of the
same key takes it over:

- the weights are those of a model freshly built for the new run's seed (``set_weights`` from
  it: the same initial weights as a run that compiles its own program);
- the optimizer's state goes back to what it was before the first step (its variables right
  after ``optimizer.build``) and the learning rate is set to the new run's.

A run's numbers do not depend on it: the histories, metrics and weights of a run that reuses a
program equal, to the last digit, those of the same run compiled afresh
(``tests/test_programs.py``). The summary records which it was (``training_path.program``).

One program is held at a time (the last one): a run of another key drops it and clears the
Keras session first, as every run did before. Mixed precision compiles every run afresh (its
loss scale has state of its own). The pool executor hands a worker the runs of the key it
holds first (``PoolExecutor``), so a study's runs of one shape meet their program.
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

from memorybench.config import NOT_HASHED, RunConfig, canonical_json

# TrainConfig fields that do not change the compiled program: set per run on the held one
PER_RUN = ("lr",)


def program_key(cfg: RunConfig) -> str:
    """What the compiled program of ``cfg`` depends on: the config without its seed, learning
    rate and the fields that are not hashed (a resolved config; a hash)."""
    train = dataclasses.replace(cfg.train, **{k: 0.0 for k in PER_RUN + NOT_HASHED})
    text = canonical_json(dataclasses.replace(cfg, seed=0, train=train))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def reusable(cfg: RunConfig) -> bool:
    """Whether a run of ``cfg`` may take over or leave a held program (float32 only)."""
    return cfg.train.precision == "float32"


@dataclasses.dataclass
class _Held:
    key: str
    model: Any  # a compiled keras.Model
    optimizer_state: list  # the optimizer's variables before its first step


_held: _Held | None = None


def take(cfg: RunConfig):
    """The held compiled model when it is ``cfg``'s program, else None (and the held one, if
    any, is dropped). The caller resets it with ``reset``."""
    global _held
    if _held is not None and reusable(cfg) and _held.key == program_key(cfg):
        return _held.model
    _held = None
    return None


def reset(model, fresh, lr: float) -> None:
    """Give the held ``model`` the initial weights of ``fresh`` (the same architecture, built
    for the new run's seed) and its optimizer's state before the first step, at rate ``lr``."""
    if _held is None or _held.model is not model:
        raise RuntimeError("reset() is for the model take() returned")
    model.set_weights(fresh.get_weights())
    model.optimizer.set_weights(_held.optimizer_state)
    model.optimizer.learning_rate = lr


def prepare(model) -> list:
    """Build the optimizer of a freshly compiled ``model`` and return its state before the
    first step (what ``hold`` keeps to reset it)."""
    model.optimizer.build(model.trainable_variables)
    return [v.numpy() for v in model.optimizer.variables]


def hold(cfg: RunConfig, model, optimizer_state: list) -> None:
    """Keep ``model`` (compiled and trained by a run of ``cfg`` that ended normally) for the
    next run of the same key."""
    global _held
    _held = _Held(program_key(cfg), model, optimizer_state) if reusable(cfg) else None


def drop() -> None:
    """Forget the held program (a run that raised may have left it half-way)."""
    global _held
    _held = None


def taken_path(cfg: RunConfig, task, model, reused: bool) -> dict[str, Any]:
    """The path a run trains on, for its summary: XLA as compiled (Keras turns it off for a
    layer it deems unfit, and says so only in a warning), steps per call, whether the compiled
    program was reused from the process's previous run, and why XLA is off
    when it is."""
    from memorybench.models.resolve import jit_off_reason

    tc, m = cfg.train, cfg.model
    note = None
    if not model.jit_compile:
        note = (jit_off_reason(task, m.name, m.units, m.layers, m.params) or
                ("Keras turned XLA off: a layer of the model does not support it" if tc.jit
                 else "train.jit=false"))
    return {"jit": bool(model.jit_compile), "steps_per_execution": tc.steps_per_execution,
            "program": "reused" if reused else "compiled", "note": note}
