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

Variant ``hochreiter1997`` (Hochreiter & Schmidhuber 1997, "Long Short-Term Memory", Section 5.4,
Experiment 4): values U[-1, 1]; one marker (1.0) on one of the first 10 steps (X1), the other on
one of the first T/2 - 1 still unmarked steps (X2); the marker channel is -1 on the first and the
last step where they are not marked, 0 elsewhere; where the first step is marked its value is 0
(the paper: "we set X1 to zero"). Target 0.5 + (X1 + X2) / 4 in [0, 1]; loss MSE. Metric
``fraction_correct``: the fraction of sequences whose absolute error is below 0.04 (the paper's
"processed correctly"). Needs T >= 20 (the first 10 steps inside the first half). Worked
example, T=20 (steps 6..18 not shown: value ~ U[-1, 1], marker 0)::

    t       0     1     2     3     4     5    ...  19
    value   0.40 -0.61  0.05  0.93 -0.27  0.18  ... 0.77
    marker  -1    0     0     1     0     1    ...  -1     X1 = 0.93 (t=3), X2 = 0.18 (t=5)
    target  0.5 + (0.93 + 0.18) / 4 = 0.7775

The trivial predictor answers 0.5 (the best constant: X1 + X2 has a triangular density peaked
at 0): correct when |X1 + X2| < 0.16, probability 0.16 - 0.16**2/4 = 0.1536, or 0.16 where the
first step is marked (X1 = 0; probability p0 = 1/10 + 9/10 / (T/2 - 1)), so chance =
0.1536 + 0.0064 p0 (0.15488 at T=20, 0.15436 at T=100). Solved: fraction correct >= 0.99 (the
paper's LSTM: 0 to 1 wrong of 2560 test sequences). Deviation from the paper: a fixed length T
where the paper draws each sequence's length from T..T+T/10: every sequence has the paper's
minimal length, and the minimal lag stays T/2.
``evaluate`` reports ``paper_metrics = {"fraction_correct": ...}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from memorybench.errors import ConfigError
from memorybench.tasks import register_task
from memorybench.tasks.base import Task, TaskSpec, is_solved, normalised_score

VARIANTS = ("half", "anywhere", "hochreiter1997")
TRIVIAL_MSE = 1.0 / 6.0
HS_TOLERANCE = 0.04  # Hochreiter & Schmidhuber 1997: correct when |error| < 0.04
HS_FIRST = 10  # the first marker lies on one of the first 10 steps
HS_MIN_LENGTH = 2 * HS_FIRST


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
        if self.variant == "hochreiter1997" and self.length < HS_MIN_LENGTH:
            raise ConfigError(
                f"{self.name}: variant hochreiter1997 needs length >= {HS_MIN_LENGTH} (its first "
                f"marker lies on the first {HS_FIRST} steps, inside the first half); "
                f"got {self.length}"
            )

    @property
    def spec(self) -> TaskSpec:
        if self.variant == "hochreiter1997":
            return TaskSpec(
                name=self.name, input_dim=2, output="regression", n_classes=0, loss="mse",
                metric="fraction_correct", higher_is_better=True, chance=hs_chance(self.length),
                solved_at=0.99, steps=self.length, length=self.length,
            )
        return TaskSpec(
            name=self.name, input_dim=2, output="regression", n_classes=0, loss="mse",
            metric="mse", higher_is_better=False, chance=TRIVIAL_MSE, solved_at=0.01,
            steps=self.length, length=self.length,
        )

    def evaluate(self, y_true, y_pred) -> dict[str, Any]:
        """As ``Task.evaluate``; variant ``hochreiter1997`` scores the fraction of sequences with
        absolute error below 0.04 (``loss`` stays the MSE) and reports it in ``paper_metrics``."""
        if self.variant != "hochreiter1997":
            return super().evaluate(y_true, y_pred)
        y_true = np.asarray(y_true)
        y_pred = np.asarray(y_pred)
        if y_pred.size != y_true.size:
            raise ConfigError(f"{self.name}: y_pred has {y_pred.size} values, y_true {y_true.size}")
        err = y_pred.reshape(y_true.shape).astype(np.float64) - y_true
        metric = fraction_correct(y_true, y_pred)
        spec = self.spec
        return {
            "loss": float(np.mean(err**2)), "metric": metric,
            "score": normalised_score(spec, metric), "solved": is_solved(spec, metric),
            "paper_metrics": {"fraction_correct": metric},
        }

    def sample(self, rng: np.random.Generator, n: int):
        if self.variant == "hochreiter1997":
            return self._sample_hs(rng, n)
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

    def _sample_hs(self, rng: np.random.Generator, n: int):
        """Hochreiter & Schmidhuber 1997, Experiment 4, at a fixed length T."""
        T = self.length
        x = np.zeros((n, T, 2), np.float32)
        block = max(1, (1 << 16) // T)
        for s in range(0, n, block):
            m = min(block, n - s)
            x[s : s + block, :, 0] = rng.random((m, T), dtype=np.float32) * 2 - 1  # U[-1, 1)
        h = T // 2
        i = rng.integers(0, HS_FIRST, n)  # one of the first 10 steps
        j = rng.integers(0, h - 1, n)  # one of the other T/2 - 1 steps of the first T/2
        j = j + (j >= i)
        r = np.arange(n)
        x[:, 0, 1] = -1.0  # first and last step carry -1 unless marked
        x[:, -1, 1] = -1.0
        x[r, i, 1] = 1.0
        x[r, j, 1] = 1.0
        x[:, 0, 0] = np.where(x[:, 0, 1] == 1.0, np.float32(0), x[:, 0, 0])  # marked first: 0
        y = (np.float32(0.5) + (x[r, i, 0] + x[r, j, 0]) / np.float32(4))[:, None]
        return x, y.astype(np.float32)


def fraction_correct(y_true, y_pred, tolerance: float = HS_TOLERANCE) -> float:
    """Fraction of sequences whose absolute error is below ``tolerance`` (Hochreiter &
    Schmidhuber 1997: "processed correctly")."""
    y_true = np.asarray(y_true, np.float64)
    err = np.asarray(y_pred, np.float64).reshape(y_true.shape) - y_true
    return float(np.mean(np.abs(err) < tolerance))


def hs_chance(length: int) -> float:
    """Fraction correct of the constant 0.5 on variant ``hochreiter1997`` (see the card).

    |pred - target| < 0.04 <=> |X1 + X2| < 0.16. With X1, X2 ~ U[-1, 1] the sum has density
    (2 - |s|)/4 on [-2, 2]: P = a - a**2/4 at a = 0.16. Where the first step is marked
    (probability p0) one of the two is 0 and P(|U| < 0.16) = 0.16.
    """
    a = 4 * HS_TOLERANCE
    both = a - a * a / 4
    p0 = 1 / HS_FIRST + (1 - 1 / HS_FIRST) / (length // 2 - 1)
    return float((1 - p0) * both + p0 * a)
