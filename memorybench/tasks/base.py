"""The Task contract: a frozen dataclass of parameters that samples data and scores predictions."""

from __future__ import annotations

import dataclasses
import numbers
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from memorybench.errors import ConfigError, check_int

SPLITS = ("train", "val", "test")
OUTPUT_KINDS = ("regression", "last", "every_step")
INPUT_KINDS = ("float", "tokens")


@dataclass(frozen=True)
class TaskSpec:
    """What a model builder and a runner need to know about a task instance.

    ``output`` picks the head: ``regression`` (one value at the last step), ``last`` (a class
    at the last step) or ``every_step`` (a class at every step). Class targets are integer
    labels; ``ignore_class`` marks steps that carry no loss. ``loss`` is the Keras loss name for
    those targets (binary tasks use two classes: softmax cross-entropy over two classes is the
    binary cross-entropy of the logit difference).

    ``input_kind`` is ``float`` (x: (n, steps, input_dim) float32; the seed tasks, one-hot
    where the input is symbolic) or ``tokens`` (x: (n, steps) int32 ids in
    ``[0, vocab_size)``; ``input_dim`` is 1, and the model builder puts a Keras ``Embedding``
    in front of the sequence layers). ``eval_lengths``: lengths beyond (or below) the training
    length at which the runner also scores the trained model, one result per length.
    """

    name: str
    input_dim: int
    output: str
    n_classes: int  # 0 for regression
    loss: str  # "mse" | "sparse_categorical_crossentropy"
    metric: str  # name of the reported metric, e.g. "mse", "accuracy", "recall_accuracy"
    higher_is_better: bool
    chance: float  # the trivial predictor's metric
    solved_at: float | None  # threshold on the metric; None: report only
    steps: int  # time steps per sequence
    length: int  # the memory lag the instance demands
    out_dim: int = 1  # regression outputs
    ignore_class: int | None = None
    dataset: str = "synthetic"
    input_kind: str = "float"  # "float" | "tokens"
    vocab_size: int = 0  # tokens: ids are 0..vocab_size-1; 0 for float inputs
    eval_lengths: tuple = ()  # extra test lengths, scored per length (induction_heads)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Task:
    """Base class. Subclasses are frozen dataclasses whose fields are their parameters.

    Subclasses implement ``sample(rng, n)`` and ``spec``; they may override ``metric_mask`` (which
    steps the metric counts) and ``render``.
    """

    name: ClassVar[str] = "task"
    min_length: ClassVar[int] = 1
    # the parameter that sets the length instead of ``--lengths`` (MNIST: pixels_per_step), or
    # None where the lengths of a sweep set it
    length_set_by: ClassVar[str | None] = None
    # bumped when the data a seed gives changes (a fix to the generator): a version above 1 is
    # part of the run id (models.resolve), so runs of the old generator are never reused
    generator_version: ClassVar[int] = 1
    length: int = 100

    # -- validation helpers ----------------------------------------------------------------
    def __post_init__(self) -> None:
        self._check_int("length", self.length, self.min_length)

    def _check_int(self, field: str, value: Any, minimum: int) -> None:
        if not isinstance(value, bool) and isinstance(value, numbers.Integral) and value < minimum:
            raise ConfigError(f"{self.name}: {field}={value} is too small; allowed: >= {minimum}")
        check_int(field, value, minimum, owner=self.name)  # not an integer

    def _check_choice(self, field: str, value: Any, choices: tuple) -> None:
        if value not in choices:
            raise ConfigError(
                f"{self.name}: unknown {field} {value!r}; known: {', '.join(map(str, choices))}"
            )

    # -- data ------------------------------------------------------------------------------
    @property
    def spec(self) -> TaskSpec:
        raise NotImplementedError

    def sample(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        """``n`` fresh samples drawn from ``rng`` only (never the global RNG)."""
        raise NotImplementedError

    def data(self, split: str = "train", n: int | None = None, seed: int = 0):
        """``n`` samples of ``split``; train / val / test use disjoint seed streams."""
        rng = np.random.default_rng(split_seed(split, seed))
        if n is None:
            raise ConfigError(f"{self.name}: n is required (a synthetic task has no fixed size)")
        return self.sample(rng, check_n(n))

    def params(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    # -- scoring ---------------------------------------------------------------------------
    def metric_mask(self, y_true: np.ndarray) -> np.ndarray | None:
        """Boolean mask of the target entries the metric counts; None: all."""
        ignore = self.spec.ignore_class
        return None if ignore is None else y_true != ignore

    def evaluate(self, y_true, y_pred) -> dict[str, Any]:
        """Score predictions: ``metric``, normalised ``score`` (0 trivial, 1 perfect), ``solved``
        and, where the predictions allow it, ``loss`` (the training loss of the task).

        Class predictions may be probabilities (one more axis than ``y_true``) or labels.
        """
        spec = self.spec
        y_true = np.asarray(y_true)
        y_pred = np.asarray(y_pred)
        out: dict[str, Any] = {}
        if spec.output == "regression":
            if y_pred.size != y_true.size:
                raise ConfigError(
                    f"{self.name}: y_pred has {y_pred.size} values, y_true {y_true.size}"
                )
            err = y_pred.reshape(y_true.shape).astype(np.float64) - y_true
            metric = float(np.mean(err**2))
            out["loss"] = metric
        else:
            if spec.output == "last":  # targets (n,) or (n, 1); labels likewise
                y_true = y_true.reshape(len(y_true))
                if y_pred.ndim == 2 and y_pred.shape[1] == 1:
                    y_pred = y_pred[:, 0]
            probs = y_pred.ndim == y_true.ndim + 1
            if (y_pred.shape[:-1] if probs else y_pred.shape) != y_true.shape:
                raise ConfigError(
                    f"{self.name}: y_pred shape {y_pred.shape} does not fit y_true {y_true.shape}"
                )
            labels = np.argmax(y_pred, axis=-1) if probs else y_pred
            mask = self.metric_mask(y_true)
            hits = labels == y_true
            metric = float(np.mean(hits if mask is None else hits[mask]))
            if probs:
                out["loss"] = cross_entropy(y_true, y_pred, spec.ignore_class)
        out["metric"] = metric
        out["score"] = normalised_score(spec, metric)
        out["solved"] = is_solved(spec, metric)
        return out

    # -- display ---------------------------------------------------------------------------
    def render(self, x: np.ndarray, y: np.ndarray, width: int = 60) -> str:
        """A readable picture of one sample (x: (T, d), y: its target)."""
        rows = [f"{'t':>4} " + " ".join(f"x{i}" for i in range(x.shape[-1]))]
        steps = list(range(x.shape[0]))
        if len(steps) > width:
            steps = steps[: width // 2] + [-1] + steps[-width // 2 :]
        for t in steps:
            if t < 0:
                rows.append("   …")
                continue
            vals = " ".join(f"{v:.2f}" for v in x[t])
            tgt = f"  -> {y[t]}" if y.ndim == 1 and y.shape[0] == x.shape[0] else ""
            rows.append(f"{t:>4} {vals}{tgt}")
        if not (y.ndim == 1 and y.shape[0] == x.shape[0]):
            rows.append(f"target: {np.array2string(np.asarray(y), precision=3)}")
        return "\n".join(rows)


def split_seed(split: str, seed: int) -> np.random.SeedSequence:
    """Seed sequence of one split: disjoint streams for train / val / test."""
    if split not in SPLITS:
        raise ConfigError(f"unknown split {split!r}; known: {', '.join(SPLITS)}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
    return np.random.SeedSequence([int(seed), SPLITS.index(split)])


def check_n(n: Any) -> int:
    """``n`` (how many sequences to sample) as an int >= 1; ConfigError otherwise."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ConfigError(f"n must be a positive integer, got {n!r}")
    return int(n)


def cross_entropy(y_true: np.ndarray, probs: np.ndarray, ignore_class: int | None) -> float:
    """Mean categorical cross-entropy over the target entries that carry loss."""
    y = y_true.astype(np.int64)
    keep = np.ones(y.shape, bool) if ignore_class is None else y != ignore_class
    p = np.take_along_axis(probs, np.where(keep, y, 0)[..., None], axis=-1)[..., 0]
    nll = -np.log(np.clip(p.astype(np.float64), 1e-12, 1.0))
    return float(np.mean(nll[keep]))


def normalised_score(spec: TaskSpec, metric: float) -> float:
    """0 at the trivial predictor, 1 at perfect."""
    if spec.higher_is_better:
        return float((metric - spec.chance) / (1.0 - spec.chance))
    return float(1.0 - metric / spec.chance)


def is_solved(spec: TaskSpec, metric: float) -> bool:
    if spec.solved_at is None:
        return False
    return bool(metric >= spec.solved_at if spec.higher_is_better else metric <= spec.solved_at)


# -- helpers of the token tasks ------------------------------------------------------------------
def distinct_ints(rng: np.random.Generator, n: int, k: int, high: int) -> np.ndarray:
    """(n, k) int64: each row k distinct integers of ``[0, high)``, a uniformly random ordered
    k-subset (the order of drawing), vectorised over rows.

    Draw i picks uniformly among the ``high - i`` values not yet taken: a draw j in
    ``[0, high - i)`` becomes the j-th untaken value u, the least fixed point of
    u = j + #(taken <= u), reached by iterating from u = j (a few passes when ``high`` >> k). No
    (n, high) temporary, so it stays cheap for a large ``high`` (MQAR's 4,095 keys) and for long
    sequences (selective copying's positions).
    """
    if k > high:
        raise ConfigError(f"cannot draw {k} distinct values from {high}")
    out = np.empty((n, k), np.int64)
    for i in range(k):
        j = rng.integers(0, high - i, n)
        u = j
        while i:
            nxt = j + np.count_nonzero(out[:, :i] <= u[:, None], axis=1)
            if np.array_equal(nxt, u):
                break
            u = nxt
        out[:, i] = u
    return out


def sorted_subsets(rng: np.random.Generator, n: int, k: int, high: int) -> np.ndarray:
    """(n, k) int64: each row a uniformly random k-subset of ``[0, high)``, ascending.

    Where k*k <= high, k draws with replacement are sorted and the rows with a repeat are drawn
    again (conditioned on being distinct, iid draws are a uniform ordered subset; a row repeats
    with probability about 1 - exp(-k^2 / 2 high) <= 0.4, so a few rounds); otherwise
    ``distinct_ints``, sorted. The rejection path is ~3x faster for selective copying's 16
    positions among hundreds.
    """
    if k * k > high:
        return np.sort(distinct_ints(rng, n, k, high), axis=1)
    out = np.sort(rng.integers(0, high, (n, k)), axis=1)
    redo = _repeats(out)
    while redo.size:
        out[redo] = np.sort(rng.integers(0, high, (redo.size, k)), axis=1)
        redo = redo[_repeats(out[redo])]
    return out


def _repeats(rows: np.ndarray) -> np.ndarray:
    """Indices of the sorted ``rows`` that hold a value twice."""
    return np.unique(np.flatnonzero(rows[:, 1:] == rows[:, :-1]) // (rows.shape[1] - 1))


def token_dtype(vocab_size: int) -> np.dtype:
    """The smallest signed integer type for ids 0..vocab_size-1 and the no-target label -1:
    token sequences of 4,096 steps take a quarter of the memory of int32 (Keras' ``Embedding``
    and sparse cross-entropy take any integer type)."""
    for dt in (np.int8, np.int16, np.int32):
        if vocab_size - 1 <= np.iinfo(dt).max:
            return np.dtype(dt)
    return np.dtype(np.int64)


def token_row(v, width: int = 60, symbols: dict | None = None, pad: int = 2) -> str:
    """Tokens as one line of ``pad``-wide columns, the middle elided past ``width`` tokens;
    ``symbols`` maps ids to what to print (e.g. ``{-1: "."}`` for steps without a target)."""
    symbols = symbols or {}
    s = [symbols.get(int(a), str(int(a))).rjust(pad) for a in np.asarray(v).reshape(-1)]
    if len(s) > width:
        s = s[: width // 2] + ["…".rjust(pad)] + s[-width // 2 :]
    return " ".join(s)


def token_lines(x, vocab_size: int, width: int = 60) -> tuple[str, int]:
    """The ``t`` and ``input`` lines of a token task's ``render`` (columns wide enough for the
    largest id and step), and that column width for the target line."""
    pad = max(len(str(vocab_size - 1)), len(str(len(x) - 1)))
    return (f"t       {token_row(np.arange(len(x)), width, pad=pad)}\n"
            f"input   {token_row(x, width, pad=pad)}\n"), pad
