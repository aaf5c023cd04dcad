"""Induction heads: after a trigger token, recall the token that followed the trigger earlier.

Gu & Dao 2023, "Mamba: Linear-Time Sequence Modeling with Selective State Spaces" (Section 4.1.2,
Table 2; Appendix E.1), after Olsson et al. 2022, "In-context Learning and Induction Heads", and
the induction-head synthetic of Fu, Dao et al. 2023 ("Hungry Hungry Hippos"): random tokens with
one special trigger token placed once at a uniformly random position followed by an ordinary
token, and the trigger again at the last step; the model must answer, at the last step, the token
that followed the first trigger. The Mamba setting, the defaults here: vocabulary 16 (15
ordinary tokens 0..14 and the trigger 15), training length 256, and evaluation of the trained
model at other lengths (the paper: 2^6 = 64 up to 2^20, trained at 2^8 = 256).

Worked example, ``length=10`` (trigger 15)::

    t       0  1  2  3  4  5  6  7  8  9
    input   3 11 15  6  0  9  6 12  4 15     x: (T,) token ids; trigger at t=2 and at T-1
    target  6                                y: (1,), the token after the first trigger

The first trigger's position is uniform over 0..T-3 (the token after it comes before the final
trigger); every other token is uniform over the 15 ordinary ones, so the trigger occurs exactly
twice. Loss: cross-entropy over the 15 ordinary tokens at the last step. Metric: accuracy; the
trivial predictor answers uniformly over the 15 tokens: accuracy 1/15 (cross-entropy ln 15).
Solved: accuracy >= 0.99 at the training length.

``eval_lengths`` (default 64, 128, ..., 4096; at most the CPU-friendly 2^12 of the paper's 2^20:
on a GPU set e.g. ``--set induction_heads.eval_lengths=64,256,1024,16384,65536``): after
training, the runner scores the trained model on ``train.n_test`` fresh test sequences of each
length (a model with the same weights reading longer inputs) and writes one result per length to
``summary.json`` (``eval_lengths``: metric, score, solved per length). Inputs are tokens
(``spec.input_kind``): the model builder embeds them. Shapes: x (n, T), y (n, 1), integers of
the smallest type that holds the ids (int8 for the default 16).
The paper trains 2-layer models of width 64 with batch 8 on freshly drawn sequences, 8,192
steps an epoch, learning rate 1e-3.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from memorybench.errors import ConfigError
from memorybench.tasks import register_task
from memorybench.tasks.base import Task, TaskSpec, token_dtype, token_lines

DEFAULT_EVAL_LENGTHS = (64, 128, 256, 512, 1024, 2048, 4096)


@register_task("induction_heads")
@dataclass(frozen=True)
class InductionHeads(Task):
    """Induction heads; ``length`` is the training length T (the trigger is at T-1)."""

    min_length = 3
    length: int = 256
    vocab_size: int = 16  # ordinary tokens 0..vocab_size-2, the trigger vocab_size-1
    eval_lengths: tuple = DEFAULT_EVAL_LENGTHS

    def __post_init__(self) -> None:
        super().__post_init__()
        self._check_int("vocab_size", self.vocab_size, 3)
        object.__setattr__(self, "eval_lengths", self._lengths(self.eval_lengths))

    def _lengths(self, raw) -> tuple:
        """A comma-separated string (``--set``), a list (TOML, JSON) or a tuple -> sorted ints."""
        if isinstance(raw, str) and not raw.strip():
            return ()
        items = raw.split(",") if isinstance(raw, str) else raw
        if not isinstance(items, (list, tuple)):
            items = None
        out = []
        for v in items or []:
            try:
                iv = int(v.strip()) if isinstance(v, str) else v
            except ValueError:
                iv = None
            if isinstance(iv, bool) or not isinstance(iv, (int, np.integer)) or iv < 3:
                items = None
                break
            out.append(int(iv))
        if items is None:
            raise ConfigError(
                f"{self.name}: eval_lengths={raw!r} is not allowed; allowed: a list of lengths "
                f">= {self.min_length} (e.g. 64,128,256), or empty for none"
            )
        return tuple(sorted(set(out)))

    @property
    def trigger(self) -> int:
        return self.vocab_size - 1

    @property
    def spec(self) -> TaskSpec:
        return TaskSpec(
            name=self.name, input_dim=1, output="last", n_classes=self.vocab_size - 1,
            loss="sparse_categorical_crossentropy", metric="accuracy", higher_is_better=True,
            chance=1.0 / (self.vocab_size - 1), solved_at=0.99, steps=self.length,
            length=self.length, input_kind="tokens", vocab_size=self.vocab_size,
            eval_lengths=self.eval_lengths,
        )

    def sample(self, rng: np.random.Generator, n: int):
        T = self.length
        x = rng.integers(0, self.vocab_size - 1, (n, T), dtype=token_dtype(self.vocab_size))
        first = rng.integers(0, T - 2, n)  # 0..T-3: the token after it is not the last step
        r = np.arange(n)
        x[r, first] = self.trigger
        x[:, T - 1] = self.trigger
        y = x[r, first + 1][:, None].copy()
        return x, y

    def render(self, x: np.ndarray, y: np.ndarray, width: int = 60) -> str:
        lines, pad = token_lines(x, self.vocab_size, width)
        return (f"{lines}"
                f"target  {int(np.asarray(y).reshape(-1)[0])} (the token after the first "
                f"trigger {self.trigger})")
