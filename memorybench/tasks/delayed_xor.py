"""Delayed XOR: combine two bits that lie far apart.

Variant ``marked`` (default; the XOR problem of Martens & Sutskever 2011, "Learning Recurrent
Neural Networks with Hessian-Free Optimization", in the adding layout): a random bit at every step
and exactly two markers, one in each half; the target, at the last step, is the XOR of the two
marked bits. ``length`` is the sequence length T. x (n, T, 2) float32, y (n, 1) int32.

Worked example, ``marked``, ``length=6``::

    t       0  1  2  3  4  5
    bit     1  0  1  1  0  0     x[:, 0]
    marker  0  0  1  0  1  0     x[:, 1]: one in t<3, one in t>=3
    target  1 XOR 0 = 1          y: (1,)

Variant ``stream`` (Bertschinger & Natschlaeger 2004, "Real-Time Computation at the Edge of Chaos
in Recurrent Neural Networks"): random bits x (n, T, 1); at every step t > d the target is
x[t-d] XOR x[t-d-1] with delay d = ``length``; steps t <= d carry no loss (label -1).
T = d + 1 + ``scored_steps``; y (n, T) int32. Worked example, d=1, scored_steps=4 (T=6)::

    t       0   1   2  3  4  5
    x       1   0   0  1  1  0
    target -1  -1   1  0  1  0     y[t] = x[t-1] XOR x[t-2]

Both: binary cross-entropy (a two-class softmax), trivial predictor accuracy 0.5 (CE ln 2),
solved at accuracy >= 0.99 (per step for ``stream``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from memorybench.tasks import register_task
from memorybench.tasks.base import Task, TaskSpec

VARIANTS = ("marked", "stream")
NO_LOSS = -1


@register_task("delayed_xor")
@dataclass(frozen=True)
class DelayedXor(Task):
    """Delayed XOR; ``length`` is T (``marked``) or the delay d (``stream``)."""

    min_length = 1
    length: int = 100
    variant: str = "marked"
    scored_steps: int = 32  # stream only: steps that carry a label

    def __post_init__(self) -> None:
        self._check_choice("variant", self.variant, VARIANTS)
        # marked needs one step in each half; stream needs a delay of at least one step
        self._check_int("length", self.length, 2 if self.variant == "marked" else 1)
        self._check_int("scored_steps", self.scored_steps, 1)

    @property
    def steps(self) -> int:
        return self.length if self.variant == "marked" else self.length + 1 + self.scored_steps

    @property
    def spec(self) -> TaskSpec:
        marked = self.variant == "marked"
        return TaskSpec(
            name=self.name, input_dim=2 if marked else 1,
            output="last" if marked else "every_step", n_classes=2,
            loss="sparse_categorical_crossentropy", metric="accuracy", higher_is_better=True,
            chance=0.5, solved_at=0.99, steps=self.steps, length=self.length,
            ignore_class=None if marked else NO_LOSS,
        )

    def sample(self, rng: np.random.Generator, n: int):
        T = self.steps
        bits = rng.integers(0, 2, (n, T), dtype=np.int32)
        if self.variant == "stream":
            d = self.length
            y = np.full((n, T), NO_LOSS, np.int32)
            y[:, d + 1 :] = bits[:, 1 : T - d] ^ bits[:, : T - d - 1]
            return bits[..., None].astype(np.float32), y
        h = T // 2
        i = rng.integers(0, h, n)
        j = rng.integers(h, T, n)
        r = np.arange(n)
        x = np.zeros((n, T, 2), np.float32)
        x[..., 0] = bits
        x[r, i, 1] = 1.0
        x[r, j, 1] = 1.0
        y = (bits[r, i] ^ bits[r, j])[:, None].astype(np.int32)
        return x, y
