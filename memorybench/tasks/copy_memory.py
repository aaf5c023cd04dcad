"""Copy memory: remember 10 symbols over a delay of T blanks and replay them after a delimiter.

Arjovsky, Shah & Bengio 2016, "Unitary Evolution Recurrent Neural Networks" (after Hochreiter &
Schmidhuber 1997). ``length`` is the blank delay T; a sequence has T+20 steps.


Worked example, ``length=3`` (T=3, 23 steps; 0 blank, 1..8 symbols, 9 delimiter)::

    input   3 1 8 8 2 5 7 1 4 6  0 0  9  0 0 0 0 0 0 0 0 0 0
    target  0 0 0 0 0 0 0 0 0 0  0 0  0  3 1 8 8 2 5 7 1 4 6

i.e. 10 symbols drawn uniformly from 1..8, T-1 blanks, the delimiter, 10 blanks; the target is
T+10 blanks and then the 10 symbols. Loss: cross-entropy over all T+20 steps (9 output classes,
0..8). The trivial predictor (blank, then uniform over the 8 symbols for the last 10 steps)
scores cross-entropy 10 ln 8 / (T+20) and recall accuracy 1/8. Metric: recall accuracy on the
last 10 steps; solved at >= 0.99. Beside it, ``evaluate`` reports the metric of Bai, Kolter &
Koltun 2018 (Table 1, "Copy memory (loss)"): ``paper_metrics = {"ce_all_steps": ...}``, the mean
cross-entropy (nats) over all T+20 output steps, given class probabilities (the trivial
predictor's 10 ln 8 / (T+20): 0.0204 at T=1000). Their code differs from this card: one scalar
digit a step (0-9, not divided by 9), the delimiter followed by 10 more 9s instead of blanks, and
10 output classes instead of 9.

Encodings: ``onehot`` (default) x (n, T+20, 10) float32; ``scalar`` x (n, T+20, 1) float32 =
symbol / 9. Targets y (n, T+20) int32.

Variants: ``n_copy`` K symbols to copy (default 10) and ``alphabet`` A (default 8; the defaults
are the paper's task). The same layout with K symbols drawn from 1..A, the delimiter A+1 and
T+2K steps: A+2 input channels (scalar: symbol / (A+1)), A+1 classes, recall accuracy on the
last K steps (each copied symbol scored on its own), chance 1/A, and the trivial predictor's
cross-entropy K ln A / (T+2K). Example, K=2, A=4, ``length=3`` (7 steps, delimiter 5)::

    input   4 3  0 0  5  0 0
    target  0 0  0 0  0  4 3

The why-LSTM study's CPU scale copies K=2 of A=4: with the paper's 10 of 8 no model of 5,000
parameters left the plateau in a CPU budget (0 of 48 runs solved T=5 in 1,500 steps), while
the LSTM solves K=2 of 4 at T=10 in 600-800 steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from memorybench.tasks import register_task
from memorybench.tasks.base import Task, TaskSpec

ENCODINGS = ("onehot", "scalar")
BLANK = 0


@register_task("copy_memory")
@dataclass(frozen=True)
class CopyMemory(Task):
    """Copy memory; ``length`` is the delay T between the symbols and the delimiter."""

    min_length = 1
    length: int = 100
    encoding: str = "onehot"
    n_copy: int = 10  # K: symbols to copy
    alphabet: int = 8  # A: symbols 1..A; the delimiter is A+1

    def __post_init__(self) -> None:
        super().__post_init__()
        self._check_choice("encoding", self.encoding, ENCODINGS)
        self._check_int("n_copy", self.n_copy, 1)
        self._check_int("alphabet", self.alphabet, 2)

    @property
    def delimiter(self) -> int:
        return self.alphabet + 1

    @property
    def spec(self) -> TaskSpec:
        k, a = self.n_copy, self.alphabet
        return TaskSpec(
            name=self.name, input_dim=a + 2 if self.encoding == "onehot" else 1,
            output="every_step", n_classes=a + 1, loss="sparse_categorical_crossentropy",
            metric="recall_accuracy", higher_is_better=True, chance=1.0 / a, solved_at=0.99,
            steps=self.length + 2 * k, length=self.length,
        )

    def sample(self, rng: np.random.Generator, n: int):
        T, k = self.length, self.n_copy
        symbols = rng.integers(1, self.alphabet + 1, (n, k), dtype=np.int32)
        y = np.zeros((n, T + 2 * k), np.int32)
        y[:, T + k :] = symbols
        if self.encoding == "scalar":
            seq = np.zeros((n, T + 2 * k), np.int32)
            seq[:, :k] = symbols
            seq[:, T + k - 1] = self.delimiter
            x = (seq[..., None] / np.float32(self.delimiter)).astype(np.float32)
        else:
            # Write the fixed layout with slices and scatter only the K symbols: the array is
            # written about once (it is memory-bound: A+2 floats a step), ~2x faster than
            # scattering every step's one (which was ~3x faster than gathering eye() rows).
            x = np.zeros((n, T + 2 * k, self.alphabet + 2), np.float32)
            x[:, :, BLANK] = 1  # blanks everywhere, then the symbols and the delimiter
            x[:, :k, BLANK] = 0
            x[:, T + k - 1, BLANK] = 0
            x[:, T + k - 1, self.delimiter] = 1
            np.put_along_axis(x[:, :k], symbols[..., None], np.float32(1), axis=-1)
        return x, y

    def evaluate(self, y_true, y_pred) -> dict[str, Any]:
        """As ``Task.evaluate``, plus ``paper_metrics``: ``ce_all_steps`` (Bai et al. 2018), the
        cross-entropy over all T+20 steps, where ``y_pred`` holds probabilities."""
        out = super().evaluate(y_true, y_pred)
        out["paper_metrics"] = {"ce_all_steps": out["loss"]} if "loss" in out else {}
        return out

    def metric_mask(self, y_true: np.ndarray) -> np.ndarray:
        mask = np.zeros(y_true.shape, bool)
        mask[..., -self.n_copy:] = True
        return mask

    def render(self, x: np.ndarray, y: np.ndarray, width: int = 60) -> str:
        seq = (np.argmax(x, -1) if x.shape[-1] > 1
               else np.rint(x[:, 0] * self.delimiter).astype(int))
        return f"input  {_row(seq, width)}\ntarget {_row(y, width)}"


def _row(v: np.ndarray, width: int) -> str:
    s = [str(int(a)) for a in v]
    if len(s) > width:
        s = s[: width // 2] + ["…"] + s[-width // 2 :]
    return " ".join(s)
