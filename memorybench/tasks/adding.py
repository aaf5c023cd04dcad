"""The adding problem: sum the two marked values of a long sequence.

Variant ``half`` (default; Le, Jaitly & Hinton 2015, "A Simple Way to Initialize Recurrent
Networks of Rectified Linear Units"; Arjovsky, Shah & Bengio 2016, "Unitary Evolution Recurrent
Neural Networks"): exactly one marker in each half of the sequence. Variant ``anywhere`` (Bai,
Kolter & Koltun 2018, "An Empirical Evaluation of Generic Convolutional and Recurrent Networks
for Sequence Modeling", their TCN code): two distinct marker positions drawn uniformly over the
whole sequence.

Worked example, ``length=6`` (T=6), variant ``half``::

    t       0     1     2     3     4     5
    value   0.31  0.72  0.05  0.90  0.44  0.18     x[:, 0] ~ U[0, 1]
    marker  0     1     0     0     1     0        x[:, 1]: one 1 in t<3, one in t>=3
    target  0.72 + 0.44 = 1.16                     y: (1,), MSE loss

The trivial predictor always answers 1.0 (the mean of the target): MSE = Var(U+U) = 1/6. Solved:
test MSE <= 0.01. Shapes: x (n, T, 2) float32, y (n, 1) float32.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from memorybench.tasks import register_task
from memorybench.tasks.base import Task, TaskSpec

VARIANTS = ("half", "anywhere")
TRIVIAL_MSE = 1.0 / 6.0


@register_task("adding")
@dataclass(frozen=True)
class Adding(Task):
    """Adding problem; ``length`` is the sequence length T."""

    min_length = 2  # one marker in each half needs two steps
    length: int = 100
    variant: str = "half"

    def __post_init__(self) -> None:
        super().__post_init__()
        self._check_choice("variant", self.variant, VARIANTS)

    @property
    def spec(self) -> TaskSpec:
        return TaskSpec(
            name=self.name, input_dim=2, output="regression", n_classes=0, loss="mse",
            metric="mse", higher_is_better=False, chance=TRIVIAL_MSE, solved_at=0.01,
            steps=self.length, length=self.length,
        )

    def sample(self, rng: np.random.Generator, n: int):
        T = self.length
        x = np.zeros((n, T, 2), np.float32)
        # fill the value channel in cache-sized blocks of rows: one pass over memory
        block = max(1, (1 << 16) // T)
        for s in range(0, n, block):
            x[s : s + block, :, 0] = rng.random((min(block, n - s), T), dtype=np.float32)
        if self.variant == "half":
            h = T // 2
            i = rng.integers(0, h, n)
            j = rng.integers(h, T, n)
        else:
            i = rng.integers(0, T, n)
            j = rng.integers(0, T - 1, n)
            j = j + (j >= i)  # distinct from i, still uniform over the other T-1 positions
        r = np.arange(n)
        x[r, i, 1] = 1.0
        x[r, j, 1] = 1.0
        y = (x[r, i, 0] + x[r, j, 0])[:, None]
        return x, y
