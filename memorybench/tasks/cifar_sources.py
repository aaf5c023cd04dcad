"""Where the CIFAR-10 images come from: the official python or binary batches, TFDS, Keras.

``find_source(source)`` answers cheaply which source will be used (file names and sizes only,
cached per process); ``splits(src)`` loads the arrays once per process and cuts them into
train / val / test. Order, first that works:

1. ``source`` (the task parameter) or else ``$MEMORYBENCH_CIFAR10``: a folder holding the
   official python batches (``cifar-10-batches-py``: ``data_batch_1`` .. ``data_batch_5``,
   ``test_batch``, pickled dicts with ``data`` (10000, 3072) uint8 and ``labels``) or the
   official binary batches (``cifar-10-batches-bin``: ``data_batch_1.bin`` .. ``data_batch_5.bin``,
   ``test_batch.bin``, records of 1 label byte and 3,072 pixel bytes), or a folder that contains
   one of those folders. A given source must work: a missing or corrupt file is a
   ``DataError``, never a silent fallback. The pickles are read with an unpickler that admits
   only numpy arrays and plain containers (a pickle can run code otherwise).
2. TensorFlow Datasets ``cifar10``, only if already prepared under ``$TFDS_DATA_DIR`` (never
   downloads).
3. The Keras cache: ``$KERAS_HOME/datasets/cifar-10-batches-py-target_extracted/
   cifar-10-batches-py`` (Keras 3) or ``.../datasets/cifar-10-batches-py`` (older Keras).
4. ``keras.datasets.cifar10.load_data()`` (a download), only if its host answers a 1 s connect
   probe; ``MEMORYBENCH_OFFLINE=1`` skips it.
5. Otherwise a one-line ``DataError`` naming these ways. There is no offline subset.

Splits: train = the first 45,000 of the 50,000 official training images, val = the last
5,000, test = the official 10,000 (a source of other sizes keeps val = the last 1/10 of the
training images and is labelled ``cifar10-custom-<train>-<test>``). Images are uint8
(n, 32, 32, 3), height x width x channel.

The way through the sources is ``memorybench.tasks.sources``', shared with MNIST; this module
holds CIFAR-10's formats and sizes.
"""

from __future__ import annotations

import io
import os
import pickle
from pathlib import Path

import numpy as np

from memorybench.errors import DataError, one_line
from memorybench.tasks import sources
from memorybench.tasks.sources import Source

ENV_SOURCE = "MEMORYBENCH_CIFAR10"
DOWNLOAD_HOST = ("www.cs.toronto.edu", 443)  # keras.datasets.cifar10's origin
OFFICIAL_SIZES = (50_000, 10_000)
VAL_FRACTION = 0.1  # 5,000 of 50,000
SIDE, CHANNELS = 32, 3
PIXELS = SIDE * SIDE * CHANNELS
PY_FILES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
BIN_FILES = [f"{f}.bin" for f in PY_FILES]
WAYS = (
    f"give a CIFAR-10 folder with --set noisy_cifar.source=PATH or ${ENV_SOURCE} (the official "
    "cifar-10-batches-py or cifar-10-batches-bin folder, from "
    "https://www.cs.toronto.edu/~kriz/cifar.html), prepare TFDS cifar10 in $TFDS_DATA_DIR, put "
    "Keras' cifar-10-batches-py in $KERAS_HOME/datasets, or go online for a Keras download"
)
CIFAR10 = sources.Dataset("cifar10", ENV_SOURCE, DOWNLOAD_HOST, OFFICIAL_SIZES, VAL_FRACTION)

_CACHE = sources.Cache()


def clear_cache() -> None:
    """Forget resolved sources, loaded arrays and the network probe (tests use this)."""
    sources.clear_caches()


# -- resolution ------------------------------------------------------------------------------
def find_source(source: str | os.PathLike | None = None) -> Source:
    """The source ``splits`` will load; cheap (file names and sizes) and cached."""
    return sources.find(source, CIFAR10, _CACHE, _resolve_path, _resolve_default)


def _batches(folder: Path) -> tuple[str, Path] | None:
    """("py" | "bin", folder) of the official batches in ``folder`` or a child folder."""
    for f in (folder, folder / "cifar-10-batches-py", folder / "cifar-10-batches-bin"):
        if all((f / n).is_file() for n in PY_FILES):
            return "py", f
        if all((f / n).is_file() for n in BIN_FILES):
            return "bin", f
    return None


def _resolve_path(raw, origin: str) -> Source:
    path = Path(raw).expanduser()
    if not path.is_dir():
        raise DataError(f"CIFAR-10 source {str(path)!r} ({origin}) is not a folder; {WAYS}")
    found = _batches(path)
    if found is None:
        raise DataError(
            f"CIFAR-10 source {str(path)!r} ({origin}) holds neither the python batches "
            f"({', '.join(PY_FILES)}) nor the binary ones (*.bin); {WAYS}"
        )
    kind, folder = found
    files = [folder / n for n in (PY_FILES if kind == "py" else BIN_FILES)]
    stamp = tuple(sources.stat(f) for f in files)
    key = (kind, str(folder.resolve()), stamp)
    if key not in _CACHE.resolved:
        arrays = None
        if kind == "bin":  # sizes from the file sizes, without reading
            counts = [_read_bin(f, header_only=True) for f in files]
            n_train, n_test = int(sum(counts[:-1])), int(counts[-1])
        else:  # a pickle has no header: read it once, keep the arrays
            arrays = _load_files(Source(kind, str(folder), origin, "", 0, 0))
            n_train, n_test = len(arrays["y_train"]), len(arrays["y_test"])
        src = Source(kind, str(folder), origin, sources.label(CIFAR10, n_train, n_test), n_train,
                     n_test, stamp)
        if arrays is not None:
            _CACHE.arrays[src] = sources.frozen(sources.official_splits(CIFAR10, arrays))
        _CACHE.resolved[key] = src
    return _CACHE.resolved[key]


def _resolve_default() -> Source:
    return sources.resolve_default(
        CIFAR10, from_tfds=_from_tfds, from_keras_cache=_from_keras_cache, reachable=_reachable,
        download=_download, last_resort=_no_source,
    )


def _from_tfds(data_dir: str, version: str, n_train: int, n_test: int) -> Source:
    return Source("tfds", data_dir, f"TFDS cifar10:{version}",
                  sources.label(CIFAR10, n_train, n_test), n_train, n_test, (version,))


def _from_keras_cache(tried: list[str]) -> Source | None:
    for folder in _keras_candidates():
        if _batches(folder) is not None:
            return _resolve_path(folder, "Keras cache")
    tried.append("no Keras cache")
    return None


def _keras_candidates() -> list[Path]:
    """Keras 3's extracted folder, then older Keras' place, in each Keras dataset folder."""
    return [p for base in sources.keras_dataset_dirs()
            for p in (base / "cifar-10-batches-py-target_extracted" / "cifar-10-batches-py",
                      base / "cifar-10-batches-py")]


def _reachable() -> bool:
    return sources.network_reachable(DOWNLOAD_HOST)


def _no_source(tried: list[str]) -> Source:
    raise DataError("no CIFAR-10 source (" + "; ".join(tried) + "): " + WAYS)


# -- reading the official formats ------------------------------------------------------------
class _ArraysOnly(pickle.Unpickler):
    """Unpickles the CIFAR-10 batches (dicts of bytes, lists and numpy arrays) and nothing
    else: any other global is refused, so a crafted file cannot run code."""

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray",
               "_reconstruct"), ("numpy", "ndarray"), ("numpy", "dtype"),
               ("_codecs", "encode")}  # protocol 2 from Python 3 writes bytes through it

    def find_class(self, module, name):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing {module}.{name}")


def _read_py(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        with open(path, "rb") as f:
            d = _ArraysOnly(io.BytesIO(f.read()), encoding="bytes").load()
        data = np.asarray(d[b"data"] if b"data" in d else d["data"], np.uint8)
        labels = np.asarray(d[b"labels"] if b"labels" in d else d["labels"])
    except (OSError, pickle.UnpicklingError, EOFError, KeyError, TypeError, ValueError) as exc:
        raise DataError(f"{path}: not a CIFAR-10 python batch ({one_line(exc)})") from None
    if data.ndim != 2 or data.shape[1] != PIXELS or len(labels) != len(data):
        raise DataError(f"{path}: data {data.shape} and {len(labels)} labels; expected (n, 3072) "
                        "and n labels")
    return _hwc(data), _labels(labels, path)


def _read_bin(path: Path, header_only: bool = False):
    size = path.stat().st_size
    if size == 0 or size % (PIXELS + 1):
        raise DataError(f"{path}: {size} bytes is not a whole number of CIFAR-10 records "
                        f"(1 label byte + 3072 pixel bytes each)")
    if header_only:  # the count, and the label bytes checked (not the pixels: no copy made)
        _labels(np.memmap(path, np.uint8, "r").reshape(-1, PIXELS + 1)[:, 0], path)
        return size // (PIXELS + 1)
    raw = np.fromfile(path, np.uint8).reshape(-1, PIXELS + 1)
    return _hwc(raw[:, 1:]), _labels(raw[:, 0], path)


def _hwc(data: np.ndarray) -> np.ndarray:
    """(n, 3072) channel-major rows (1024 red, 1024 green, 1024 blue) -> (n, 32, 32, 3)."""
    return np.ascontiguousarray(data.reshape(-1, CHANNELS, SIDE, SIDE).transpose(0, 2, 3, 1))


def _labels(labels, path) -> np.ndarray:
    labels = np.asarray(labels).astype(np.int64)
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise DataError(f"{path}: labels {labels.min()}..{labels.max()}; expected 0..9")
    return labels.astype(np.int32)


def _load_files(src: Source) -> dict[str, np.ndarray]:
    names = PY_FILES if src.kind == "py" else BIN_FILES
    read = _read_py if src.kind == "py" else _read_bin
    parts = [read(Path(src.where) / n) for n in names]
    return {"x_train": np.concatenate([p[0] for p in parts[:-1]]),
            "y_train": np.concatenate([p[1] for p in parts[:-1]]),
            "x_test": parts[-1][0], "y_test": parts[-1][1]}


def _load_tfds(src: Source) -> dict[str, np.ndarray]:
    arrays = sources.tfds_arrays(CIFAR10, src)
    return {"x_train": np.asarray(arrays["x_train"], np.uint8),
            "y_train": _labels(arrays["y_train"], src.origin),
            "x_test": np.asarray(arrays["x_test"], np.uint8),
            "y_test": _labels(arrays["y_test"], src.origin)}


def _download() -> Source:
    raw = sources.keras_download(CIFAR10)
    where = "keras.datasets.cifar10"
    arrays = {"x_train": np.asarray(raw["x_train"], np.uint8),
              "y_train": _labels(np.ravel(raw["y_train"]), where),
              "x_test": np.asarray(raw["x_test"], np.uint8),
              "y_test": _labels(np.ravel(raw["y_test"]), where)}
    n_train, n_test = len(arrays["y_train"]), len(arrays["y_test"])
    src = Source("download", "", "keras.datasets.cifar10 download",
                 sources.label(CIFAR10, n_train, n_test), n_train, n_test)
    _CACHE.arrays[src] = sources.frozen(sources.official_splits(CIFAR10, arrays))
    return src


def splits(src: Source) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """split -> (uint8 images (n, 32, 32, 3), int32 labels (n,)); loaded once per process."""
    return sources.splits(src, _CACHE, _load, find_source)


def _load(src: Source) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    if src.kind in ("py", "bin"):
        return sources.official_splits(CIFAR10, _load_files(src))
    if src.kind == "tfds":
        return sources.official_splits(CIFAR10, _load_tfds(src))
    raise ValueError(f"unknown CIFAR-10 source kind {src.kind!r}")
