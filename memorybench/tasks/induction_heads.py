"""Induction heads: after a trigger token, recall the token that followed the trigger earlier.

Gu & Dao 2023, "Mamba: Linear-Time Sequence Modeling with Selective State Spaces" (Section 4.1.2,
Table 2; Appendix E.1), after Olsson et al. 2022, "In-context Learning and Induction Heads", and
the induction-head synthetic of Fu, Dao et al. 2023 ("Hungry Hungry Hippos"): random tokens with
one special trigger token placed once at a uniformly random position followed by an ordinary
token, and the trigger again at the last step; the model must answer, at the last step, the token
that followed the first trigger. The generator follows the H3 / Mamba reference,
``generate_induction_head`` and ``ICLDataModule`` in HazyResearch/safari
``src/dataloaders/synthetics.py`` (commit 42f326e4ab3769d27b9f57d33c51f22ab4329168), with its
defaults ``induction_len=1``, ``induction_num_triggers=1``:

- ``vocab_size`` counts the two special tokens, as the reference's ``vocab_size`` does (its
  ``Vocab(vocab_size - 2, special_vocabs={"copy_prefix", "noop"})``): ids 1..vocab_size-2 are
  the ordinary tokens, vocab_size-1 is the trigger (the reference's copy prefix ``=>``) and 0 the
  no-op token, which the task never emits. The Mamba setting, the default here, vocabulary 16:
  14 ordinary tokens 1..14, the trigger 15.
- Layout: the reference draws ``input_seq_len`` = T - 1 ordinary tokens, puts the trigger at a
  position p uniform over 0..T-4 (``rng.integers(input_seq_len - 2)``), then appends the trigger
  and the copied token; the model reads the first T tokens. So the trigger occurs exactly twice
  (at p and at T-1) and the copied token, at p+1 <= T-3, never sits right before the final
  trigger.
- Loss: next-token cross-entropy over every position (the reference's training labels are the
  input shifted by one, nothing masked): y[t] = x[t+1] for t < T-1 and y[T-1] = the answer.
  Metric: accuracy at the last step only (the reference's test labels are -100 except the
  last), through ``metric_mask``.

Worked example, ``length=10`` (trigger 15)::

    t       0  1  2  3  4  5  6  7  8  9
    input   3 11 15  6  1  9  6 12  4 15     x: (T,) token ids; trigger at t=2 and at T-1
    target 11 15  6  1  9  6 12  4 15  6     y: (T,), the next token; the metric reads y[T-1]

``length`` is T, the number of tokens the model reads; the reference's ``input_seq_len`` is
T - 1 (its Mamba setting, 256, is T = 257 here; our default, T = 256, is its 255). Metric:
accuracy at the last step; the trivial predictor answers uniformly over the 14 ordinary tokens:
accuracy 1/14 = 1/(vocab_size - 2) (cross-entropy ln 14 at that step). Solved: accuracy >= 0.99
at the training length. The loss over every position stays near ln 14 (the random tokens
cannot be predicted); the reported ``loss`` is that training loss. Published numbers (Mamba's
Table 2; H3's induction-head results) come from this reference generator, which is the default
here: there is no other variant.

``eval_lengths`` (default 64, 128, ..., 4096; at most the CPU-friendly 2^12 of the paper's 2^20:
on a GPU set e.g. ``--set induction_heads.eval_lengths=64,256,1024,16384,65536``): after
training, the runner scores the trained model on ``train.n_test`` fresh test sequences of each
length (a model with the same weights reading longer inputs) and writes one result per length to
``summary.json`` (``eval_lengths``: metric, score, solved per length). Inputs are tokens
(``spec.input_kind``): the model builder embeds them. Shapes: x (n, T), y (n, T), integers of
the smallest type that holds the ids (int8 for the default 16). Memory: predictions are
n x T x ``vocab_size`` floats (0.5 GB for the default 2,000 test sequences at length 4,096).
The paper trains 2-layer models of width 64 with batch 8 on freshly drawn sequences, 8,192
steps an epoch, learning rate 1e-3.

Before issue 26 the task drew 15 ordinary tokens (chance 1/15), let the copied token sit right
before the final trigger and trained on the last step only: results made with that version are
not comparable with these.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from memorybench.errors import ConfigError
from memorybench.tasks import register_task
from memorybench.tasks.base import Task, TaskSpec, token_dtype, token_lines, token_row

DEFAULT_EVAL_LENGTHS = (64, 128, 256, 512, 1024, 2048, 4096)


@register_task("induction_heads")
@dataclass(frozen=True)
class InductionHeads(Task):
    """Induction heads; ``length`` is the training length T (the trigger is at T-1)."""

    min_length = 4  # the reference's input_seq_len >= 3: the first trigger in 0..T-4
    generator_version = 2  # 2: the H3 / Mamba reference's layout (special tokens, trigger)
    length: int = 256
    vocab_size: int = 16  # no-op 0, ordinary tokens 1..vocab_size-2, the trigger vocab_size-1
    eval_lengths: tuple = DEFAULT_EVAL_LENGTHS

    def __post_init__(self) -> None:
        super().__post_init__()
        self._check_int("vocab_size", self.vocab_size, 4)
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
            if (isinstance(iv, bool) or not isinstance(iv, (int, np.integer))
                    or iv < self.min_length):
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
            name=self.name, input_dim=1, output="every_step", n_classes=self.vocab_size,
            loss="sparse_categorical_crossentropy", metric="accuracy", higher_is_better=True,
            chance=1.0 / (self.vocab_size - 2), solved_at=0.99, steps=self.length,
            length=self.length, input_kind="tokens", vocab_size=self.vocab_size,
            eval_lengths=self.eval_lengths,
        )

    def metric_mask(self, y_true: np.ndarray) -> np.ndarray:
        """The last step only: the answer (the loss counts every step)."""
        mask = np.zeros(np.shape(y_true), bool)
        mask[..., -1] = True
        return mask

    def sample(self, rng: np.random.Generator, n: int):
        T, V = self.length, self.vocab_size
        dt = token_dtype(V)
        x = rng.integers(1, V - 1, (n, T), dtype=dt)  # ordinary tokens 1..V-2
        first = rng.integers(0, T - 3, n)  # 0..T-4: the copied token is never at T-2
        r = np.arange(n)
        x[r, first] = self.trigger
        x[:, T - 1] = self.trigger
        y = np.empty((n, T), dt)
        y[:, :-1] = x[:, 1:]  # next token at every step
        y[:, -1] = x[r, first + 1]  # the answer
        return x, y

    def render(self, x: np.ndarray, y: np.ndarray, width: int = 60) -> str:
        lines, pad = token_lines(x, self.vocab_size, width)
        return (f"{lines}"
                f"target  {token_row(y, width, pad=pad)}\n"
                f"(the next token at every step; scored: the last, "
                f"{int(np.asarray(y).reshape(-1)[-1])}, the token after the first trigger "
                f"{self.trigger})")
