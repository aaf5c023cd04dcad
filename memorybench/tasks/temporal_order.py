"""Temporal order: classify a long sequence by the order of two (three) widely separated symbols.

Hochreiter & Schmidhuber 1997, "Long Short-Term Memory", Section 5.6, Experiment 6. Symbols are
one-hot over the alphabet a, b, c, d, B, E, X, Y (8 input units, ids 0..7 in that order). A
sequence starts with E, ends with B (the trigger) and otherwise holds random distractors a..d,
except for the relevant positions, which hold X or Y:

- variant ``6a`` (default; "two relevant, widely separated symbols"): t1 in [10, 20], t2 in
  [50, 60]; 4 classes by the order: XX -> 0 (the paper's Q), XY -> 1 (R), YX -> 2 (S),
  YY -> 3 (U).
- variant ``6b`` ("three relevant symbols"): t1 in [10, 20], t2 in [33, 43], t3 in [66, 76];
  8 classes: XXX -> 0 (Q), XXY -> 1 (R), XYX -> 2 (S), XYY -> 3 (U), YXX -> 4 (V), YXY -> 5
  (A), YYX -> 6 (B), YYY -> 7 (C), i.e. the bits (Y = 1) read first to last.

Positions count from 1, as the paper's do: E is at position 1, B at position T, and the
teacher signal comes with B, so the paper's minimal lag (its Table 10, column "lag": 40 for
``6a``, 24 for ``6b`` at T = 100) is T minus the last relevant position; the arrays index from 0,
so the symbol at position p is ``x[:, p - 1]``. ``length`` is the sequence length T; the paper's
ranges are for T = 100 (the default) and scale with it: an interval [a, b] of the paper becomes
positions [max(2, a*T // 100), b*T // 100] (T = 100 gives the paper's exactly; below T = 20 the
first interval starts right after E; T >= 10 keeps the intervals apart, inside the sequence).
Positions and symbols are uniform and independent. Deviation from the paper: a fixed length T
where the paper draws each sequence's length from 100..110 (as ``adding``'s ``hochreiter1997``
variant: every sequence has the paper's minimal length, so the minimal lag is the paper's).

Worked example, variant ``6a``, ``length=20`` (t1 in [2, 4], t2 in [10, 12]: array indices
1..3 and 9..11; minimal lag 20 - 12 = 8)::

    position  1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20
    index t   0 1 2 3 4 5 6 7 8  9 10 11 12 13 14 15 16 17 18 19
    symbol    E c a Y d b b a c  d  c  X  a  b  d  a  c  c  b  B
    target    YX -> class 2 (S), at the last step

Loss: cross-entropy at the last step. Metric: accuracy; the trivial predictor answers uniformly:
accuracy 1/4 (``6a``) or 1/8 (``6b``). Solved: accuracy >= 0.99. The paper counts a sequence as
classified correctly when the final error of every output unit is below 0.3 (its LSTM then
misclassified at most a few of 2,560 test sequences); given class probabilities, ``evaluate``
reports that count as ``paper_metrics = {"fraction_correct": ...}`` (|p - one-hot| < 0.3 on
every class). Shapes: x (n, T, 8) float32 one-hot, y (n, 1) int32.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from memorybench.tasks import register_task
from memorybench.tasks.base import Task, TaskSpec

ALPHABET = "abcdBEXY"
B_TRIGGER, E_START, X = 4, 5, 6  # ids; Y = X + 1
VARIANTS = ("6a", "6b")
# the paper's intervals of the relevant positions, for T = 100
INTERVALS = {"6a": ((10, 20), (50, 60)), "6b": ((10, 20), (33, 43), (66, 76))}
PAPER_TOLERANCE = 0.3  # "classified correctly if the final error of all output units is < 0.3"


@register_task("temporal_order")
@dataclass(frozen=True)
class TemporalOrder(Task):
    """Temporal order; ``length`` is the sequence length T (the paper's T = 100)."""

    min_length = 10
    generator_version = 2  # 2: positions counted from 1, as the paper does
    length: int = 100
    variant: str = "6a"

    def __post_init__(self) -> None:
        super().__post_init__()
        self._check_choice("variant", self.variant, VARIANTS)

    @property
    def positions(self) -> tuple[tuple[int, int], ...]:
        """Inclusive [lo, hi] of each relevant position at this length, counted from 1 as the
        paper counts (E at 1, B at T); at T = 100 the paper's intervals."""
        T = self.length
        return tuple((max(2, a * T // 100), b * T // 100) for a, b in INTERVALS[self.variant])

    @property
    def intervals(self) -> tuple[tuple[int, int], ...]:
        """Inclusive [lo, hi] array indices (from 0) of each relevant position: ``positions``
        minus one."""
        return tuple((lo - 1, hi - 1) for lo, hi in self.positions)

    @property
    def min_lag(self) -> int:
        """The paper's minimal lag (Table 10, "lag"): steps from the last relevant position to
        the teacher signal at position T (40 for 6a, 24 for 6b at T = 100)."""
        return self.length - self.positions[-1][1]

    @property
    def n_classes(self) -> int:
        return 2 ** len(INTERVALS[self.variant])

    @property
    def spec(self) -> TaskSpec:
        return TaskSpec(
            name=self.name, input_dim=len(ALPHABET), output="last", n_classes=self.n_classes,
            loss="sparse_categorical_crossentropy", metric="accuracy", higher_is_better=True,
            chance=1.0 / self.n_classes, solved_at=0.99, steps=self.length, length=self.length,
        )

    def sample(self, rng: np.random.Generator, n: int):
        T = self.length
        ids = rng.integers(0, 4, (n, T), dtype=np.int8)  # distractors a..d
        ids[:, 0] = E_START
        ids[:, T - 1] = B_TRIGGER
        r = np.arange(n)
        y = np.zeros(n, np.int32)
        for lo, hi in self.intervals:
            pos = rng.integers(lo, hi + 1, n)
            bit = rng.integers(0, 2, n, dtype=np.int8)
            ids[r, pos] = X + bit
            y = 2 * y + bit
        # one flat scatter of the n*T ones: ~2x faster than put_along_axis's (n, T, 1) indices
        x = np.zeros((n, T, len(ALPHABET)), np.float32)
        x.reshape(-1)[np.arange(n * T) * len(ALPHABET) + ids.reshape(-1)] = 1
        return x, y[:, None]

    def evaluate(self, y_true, y_pred) -> dict[str, Any]:
        """As ``Task.evaluate``; given class probabilities, also the paper's count:
        ``paper_metrics = {"fraction_correct": ...}`` (every output within 0.3 of one-hot)."""
        out = super().evaluate(y_true, y_pred)
        y_pred = np.asarray(y_pred)
        labels = np.asarray(y_true).reshape(-1)
        if y_pred.ndim == 2 and y_pred.shape[1] == self.n_classes:
            target = np.eye(self.n_classes)[labels]
            ok = np.all(np.abs(y_pred.astype(np.float64) - target) < PAPER_TOLERANCE, axis=1)
            out["paper_metrics"] = {"fraction_correct": float(np.mean(ok))}
        else:
            out["paper_metrics"] = {}
        return out

    def render(self, x: np.ndarray, y: np.ndarray, width: int = 60) -> str:
        ids = np.argmax(np.asarray(x), axis=-1)
        s = [ALPHABET[i] for i in ids]
        if len(s) > width:
            s = s[: width // 2] + ["…"] + s[-width // 2 :]
        label = int(np.asarray(y).reshape(-1)[0])
        k = len(INTERVALS[self.variant])
        order = "".join("XY"[(label >> (k - 1 - i)) & 1] for i in range(k))
        spans = ", ".join(f"[{lo}, {hi}]" for lo, hi in self.positions)
        return (f"symbols {' '.join(s)}\ntarget  {order} -> class {label}\n"
                f"(relevant positions, counted from 1, in {spans}; E start, B trigger)")

