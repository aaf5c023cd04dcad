"""Selective copying: find the data tokens scattered among noise and replay them in order.

Gu & Dao 2023, "Mamba: Linear-Time Sequence Modeling with Selective State Spaces" (Section 3.1,
Figure 2; Appendix E.1): the copying task of Arjovsky et al. 2016 with the data tokens at random
positions, so a model must select them by content, not by time. The generator is the state-spaces
(S4) repository's ``torch_copying_data`` with ``variable=True``: a vocabulary of ``vocab_size``
ids, 0 the noise ("white") token, ``vocab_size - 1`` the marker, the data tokens drawn uniformly
from ``1..vocab_size - 2``; ``n_tokens`` (M) data tokens at distinct uniformly random positions,
in order, among the first T - M steps, the rest noise; then M markers. ``length`` is the total
length T (the Mamba paper: "sequences of length 4096"). Defaults are the paper's: vocabulary 16
(noise and marker included), 16 data tokens, T = 4096.

Worked example, ``length=12, n_tokens=4`` (vocabulary 16: noise 0, data 1..14, marker 15;
``.``: no target)::

    t       0  1  2  3  4  5  6  7  8  9 10 11
    input   0  7  0  0  3 12  0  9 15 15 15 15     x: (T,) token ids
    target  .  .  .  .  .  .  .  .  7  3 12  9     y: the data tokens, on the marker steps

The loss (cross-entropy over the ``vocab_size`` ids) and the metric (per-token accuracy) count
only the M answer steps (label -1 elsewhere, Keras' ``ignore_class``). The trivial predictor
answers uniformly over the ``vocab_size - 2`` data tokens: accuracy 1/14 (cross-entropy ln 14)
with the defaults. Solved: per-token accuracy >= 0.99. Inputs are tokens (``spec.input_kind``),
so the model builder puts an ``Embedding`` in front. Shapes: x (n, T), y (n, T), integers of
the smallest type that holds the ids (int8 for up to 127 ids, then int16, int32).
The paper trains 2-layer models of width 64 for 400K steps, batch 64, learning rate 1e-4.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from memorybench.tasks import register_task
from memorybench.tasks.base import (
    Task,
    TaskSpec,
    sorted_subsets,
    token_dtype,
    token_lines,
    token_row,
)

NO_LOSS = -1
NOISE = 0


@register_task("selective_copy")
@dataclass(frozen=True)
class SelectiveCopy(Task):
    """Selective copying; ``length`` is the total length T (M data tokens and M markers in it)."""

    min_length = 2
    length: int = 4096
    n_tokens: int = 16  # M, the data tokens to copy
    vocab_size: int = 16  # noise 0, data 1..vocab_size-2, marker vocab_size-1

    def __post_init__(self) -> None:
        self._check_int("n_tokens", self.n_tokens, 1)
        self._check_int("vocab_size", self.vocab_size, 3)
        self._check_int("length", self.length, 2 * self.n_tokens)

    @property
    def marker(self) -> int:
        return self.vocab_size - 1

    @property
    def spec(self) -> TaskSpec:
        return TaskSpec(
            name=self.name, input_dim=1, output="every_step", n_classes=self.vocab_size,
            loss="sparse_categorical_crossentropy", metric="accuracy", higher_is_better=True,
            chance=1.0 / (self.vocab_size - 2), solved_at=0.99, steps=self.length,
            length=self.length, ignore_class=NO_LOSS, input_kind="tokens",
            vocab_size=self.vocab_size,
        )

    def sample(self, rng: np.random.Generator, n: int):
        T, M = self.length, self.n_tokens
        dt = token_dtype(self.vocab_size)
        tokens = rng.integers(1, self.vocab_size - 1, (n, M)).astype(dt)
        # M distinct positions among the first T - M steps, ascending: the data keep their order
        pos = sorted_subsets(rng, n, M, T - M)
        x = np.zeros((n, T), dt)
        x.reshape(-1)[(np.arange(n) * T)[:, None] + pos] = tokens  # one flat scatter
        x[:, T - M :] = self.marker
        y = np.full((n, T), NO_LOSS, dt)
        y[:, T - M :] = tokens
        return x, y

    def render(self, x: np.ndarray, y: np.ndarray, width: int = 60) -> str:
        lines, pad = token_lines(x, self.vocab_size, width)
        return (f"{lines}"
                f"target  {token_row(y, width, {NO_LOSS: '.'}, pad=pad)}\n"
                f"(noise {NOISE}, marker {self.marker}, '.': no target)")

