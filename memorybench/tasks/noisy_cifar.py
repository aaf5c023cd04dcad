"""Noise-padded CIFAR-10: classify an image read row by row, then hundreds of steps of noise.

Chang, Chen, Haber & Chi 2019, "AntisymmetricRNN: A Dynamical System View on Recurrent Neural
Networks" (ICLR 2019, Section 5.3, noise padded CIFAR-10): each 32x32 colour image is fed one row
a step (32 pixels x 3 channels = 96 values), and after the 32 image rows the sequence goes on
with independent standard Gaussian noise up to 1,000 steps; the class is predicted after the
last step. The model must keep what it saw in the first 32 steps through 968 steps of noise.

Worked example (``length=1000``, the default; values are pixel / 255 for the image rows)::

    step 0:    row 0 of the image, pixels left to right, each (R, G, B): x[0] (96,)
    step 31:   row 31
    step 32..999: N(0, 1) noise, 96 values a step
    target:    the class 0..9 (airplane .. truck), at the last step; loss cross-entropy

Metric: accuracy; chance 0.1; no solved level (report accuracy, as for MNIST). ``length`` is
the total number of steps (>= 32; the image rows and ``length - 32`` noise steps). Shapes:
x (n, length, 96) float32, y (n,) int32.

The noise is drawn afresh for every sequence, from the split's seed stream (``data(split, n,
seed)`` is deterministic; train, val and test draw from disjoint streams). Per sequence and not
one fixed pattern because a fixed pattern is a constant input a model can learn to cancel, so it
would test nothing; the paper's "independent" noise is drawn per step and per sequence. The
paper does not state its pixel scaling: we use pixel / 255 (as the MNIST tasks).

Splits: train = the first 45,000 official training images, val = the last 5,000, test = the
official 10,000. ``data(split)`` with ``n=None`` is the whole split. Memory: 384 KB a sequence
at length 1,000 (20,000 training sequences: 7.7 GB), so set ``train.n_train`` to what the
machine holds.

Data (``source`` parameter, else ``$MEMORYBENCH_CIFAR10``, else a prepared TFDS ``cifar10``, the
Keras cache or a Keras download when the host answers): the official ``cifar-10-batches-py``
(pickled batches) or ``cifar-10-batches-bin`` folder. Without any, a one-line error names the
ways to provide it. Details: ``memorybench.tasks.cifar_sources``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from memorybench.errors import ConfigError
from memorybench.tasks import register_task
from memorybench.tasks.base import Task, TaskSpec, check_n, split_seed
from memorybench.tasks.cifar_sources import CHANNELS, SIDE, find_source, splits

ROW = SIDE * CHANNELS  # 96 values a step
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
           "truck")


@register_task("noisy_cifar")
@dataclass(frozen=True)
class NoisyCifar(Task):
    """Noise-padded CIFAR-10; ``length`` is the total steps (32 image rows, then noise)."""

    min_length = SIDE
    length: int = 1000
    source: str | None = None  # a CIFAR-10 folder; None: $MEMORYBENCH_CIFAR10, TFDS, Keras

    def __post_init__(self) -> None:
        super().__post_init__()
        src = self.source
        if isinstance(src, os.PathLike):
            src = os.fspath(src)
        if src is not None and not isinstance(src, str):
            raise ConfigError(f"{self.name}: source must be a folder path or None, got {src!r}")
        object.__setattr__(self, "source", src or None)

    @property
    def dataset(self) -> str:
        return find_source(self.source).dataset

    @property
    def spec(self) -> TaskSpec:
        return TaskSpec(
            name=self.name, input_dim=ROW, output="last", n_classes=10,
            loss="sparse_categorical_crossentropy", metric="accuracy", higher_is_better=True,
            chance=0.1, solved_at=None, steps=self.length, length=self.length,
            dataset=self.dataset,
        )

    def data(self, split: str = "train", n: int | None = None, seed: int = 0):
        """The whole ``split`` (``n=None``) or ``n`` images of it drawn without replacement,
        each followed by noise drawn from the split's seed stream."""
        rng = np.random.default_rng(split_seed(split, seed))
        images, labels = splits(find_source(self.source))[split]
        if n is not None:
            n = check_n(n)
            if n > len(labels):
                raise ConfigError(f"{self.name}: n={n} is larger than the {split} split "
                                  f"({len(labels)} images); allowed: 1..{len(labels)}, or None")
            idx = rng.choice(len(labels), size=n, replace=False)
            images, labels = images[idx], labels[idx]
        return self.encode(images, rng), np.array(labels, np.int32)

    def sample(self, rng: np.random.Generator, n: int):
        images, labels = splits(find_source(self.source))["train"]
        idx = rng.choice(len(labels), size=check_n(n), replace=False)
        return self.encode(images[idx], rng), np.array(labels[idx], np.int32)

    def encode(self, images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """uint8 (n, 32, 32, 3) -> float32 (n, length, 96): rows / 255, then N(0, 1) noise."""
        n = len(images)
        x = np.empty((n, self.length, ROW), np.float32)
        np.divide(images.reshape(n, SIDE, ROW), np.float32(255), out=x[:, :SIDE])
        x[:, SIDE:] = rng.standard_normal((n, self.length - SIDE, ROW), dtype=np.float32)
        return x

    def render(self, x: np.ndarray, y: np.ndarray, width: int = 60) -> str:
        """The image's brightness as 32 lines of text, then a line about the noise."""
        img = np.asarray(x[:SIDE], np.float32).reshape(SIDE, SIDE, CHANNELS).mean(-1)
        shades = " .:-=+*#"
        rows = ["".join(shades[min(int(v * len(shades)), len(shades) - 1)] * 2 for v in r)
                for r in img]
        label = int(np.asarray(y).reshape(-1)[0])
        noise = np.asarray(x[SIDE:])
        return "\n".join(rows + [
            f"steps {SIDE}..{len(x) - 1}: noise (mean {noise.mean():+.3f}, std {noise.std():.3f})",
            f"label: {label} ({CLASSES[label]})"])
