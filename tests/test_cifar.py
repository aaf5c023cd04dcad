"""noisy_cifar and its source chain, on files of the official CIFAR-10 formats written here.

The python batches (pickled dicts, ``data`` (n, 3072) channel-major uint8, ``labels``) and the
binary batches (records of 1 label byte + 3,072 pixel bytes) are written by the tests with a
few images each; nothing is downloaded (the session is offline, see conftest.py).
"""

import json
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

import memorybench as mb
from memorybench.errors import DataError
from memorybench.tasks import cifar_sources as cs

NAMES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
PER_BATCH = 8  # images per batch file: 40 training, 8 test


def _images(seed=0):
    rng = np.random.default_rng(seed)
    return [(rng.integers(0, 256, (PER_BATCH, 3072), dtype=np.uint8),
             rng.integers(0, 10, PER_BATCH)) for _ in NAMES]


def write_py(folder, batches):
    folder.mkdir(parents=True, exist_ok=True)
    for name, (data, labels) in zip(NAMES, batches, strict=True):
        with open(folder / name, "wb") as f:
            pickle.dump({b"batch_label": name.encode(), b"labels": labels.tolist(),
                         b"data": data, b"filenames": [b"x.png"] * len(labels)}, f, protocol=2)
    return folder


def write_bin(folder, batches):
    folder.mkdir(parents=True, exist_ok=True)
    for name, (data, labels) in zip(NAMES, batches, strict=True):
        np.concatenate([labels[:, None].astype(np.uint8), data], 1).tofile(folder / f"{name}.bin")
    return folder


@pytest.fixture(autouse=True)
def _fresh():
    cs.clear_cache()
    yield
    cs.clear_cache()


def test_python_and_binary_batches_give_the_same_images(tmp_path):
    batches = _images()
    py = write_py(tmp_path / "cifar-10-batches-py", batches)
    bn = write_bin(tmp_path / "cifar-10-batches-bin", batches)
    a, b = cs.splits(cs.find_source(py)), cs.splits(cs.find_source(bn))
    for split in ("train", "val", "test"):
        assert np.array_equal(a[split][0], b[split][0]) and np.array_equal(a[split][1],
                                                                           b[split][1])
    # sizes: val = the last 1/10 of the 40 training images, test = the test batch
    assert [len(a[s][1]) for s in ("train", "val", "test")] == [36, 4, 8]
    assert cs.find_source(py).dataset == "cifar10-custom-40-8"
    # channel-major rows -> height x width x channel: pixel (r, c) of channel ch
    data, labels = batches[0]
    img = a["train"][0][3]
    for r, c, ch in ((0, 0, 0), (5, 17, 1), (31, 31, 2)):
        assert img[r, c, ch] == data[3, ch * 1024 + r * 32 + c]
    assert a["train"][1][3] == labels[3]
    assert np.array_equal(a["test"][1], batches[-1][1])


def test_noisy_cifar_rows_then_gaussian_noise(tmp_path):
    folder = write_py(tmp_path / "c", _images())
    task = mb.get_task("noisy_cifar", length=60, source=str(folder))
    spec = task.spec
    assert (spec.input_dim, spec.steps, spec.n_classes, spec.chance) == (96, 60, 10, 0.1)
    assert spec.solved_at is None and spec.metric == "accuracy" and spec.output == "last"
    x, y = task.data("test", n=None)
    images, labels = cs.splits(cs.find_source(str(folder)))["test"]
    assert x.shape == (8, 60, 96) and x.dtype == np.float32 and np.array_equal(y, labels)
    np.testing.assert_allclose(x[:, :32], images.reshape(8, 32, 96) / np.float32(255))
    big = mb.get_task("noisy_cifar", length=1000, source=str(folder)).data("train", n=36)[0]
    noise = big[:, 32:]
    assert abs(noise.mean()) < 0.01 and abs(noise.std() - 1) < 0.01  # N(0, 1)
    assert not np.array_equal(noise[0], noise[1])  # drawn per sequence, not one fixed pattern


def test_noisy_cifar_is_deterministic_with_disjoint_split_streams(tmp_path):
    folder = str(write_bin(tmp_path / "c", _images()))
    task = mb.get_task("noisy_cifar", length=40, source=folder)
    a, b = task.data("train", n=10, seed=1), task.data("train", n=10, seed=1)
    assert all(np.array_equal(u, v) for u, v in zip(a, b, strict=True))
    assert not np.array_equal(a[0], task.data("train", n=10, seed=2)[0])
    whole = [task.data(s, n=None, seed=1)[0][:, 32:] for s in ("train", "val")]
    assert not np.array_equal(whole[0][:4], whole[1])  # the noise streams differ by split
    with pytest.raises(Exception, match=r"n=37 is larger than the train split \(36 images\)"):
        task.data("train", n=37)


def test_oracles(tmp_path):
    task = mb.get_task("noisy_cifar", length=40, source=str(write_py(tmp_path / "c", _images())))
    _, y = task.data("train", n=None)
    perfect = task.evaluate(y, np.eye(10, dtype=np.float32)[y])
    assert perfect["metric"] == 1.0 and perfect["score"] == pytest.approx(1.0)
    constant = [task.evaluate(y, np.full_like(y, c))["metric"] for c in range(10)]
    assert np.mean(constant) == pytest.approx(0.1, abs=1e-12)  # the trivial predictor: 0.1


def test_source_chain_env_parent_folder_keras_cache_and_tfds(tmp_path, monkeypatch):
    py = write_py(tmp_path / "data" / "cifar-10-batches-py", _images())
    monkeypatch.setenv(cs.ENV_SOURCE, str(tmp_path / "data"))  # a folder holding the batches
    src = cs.find_source()
    assert (src.kind, src.where, src.origin) == ("py", str(py), f"${cs.ENV_SOURCE}")
    monkeypatch.delenv(cs.ENV_SOURCE)
    cache = tmp_path / "keras"
    monkeypatch.setenv("KERAS_HOME", str(cache))
    write_bin(cache / "datasets" / "cifar-10-batches-py-target_extracted" / "cifar-10-batches-py",
              _images())  # Keras 3's place (here with binary batches: both formats are read)
    assert cs.find_source().origin == "Keras cache"
    tfds = tmp_path / "tfds" / "cifar10" / "3.0.2"
    tfds.mkdir(parents=True)
    (tfds / "dataset_info.json").write_text(json.dumps({"splits": [
        {"name": "train", "shardLengths": ["50000"]}, {"name": "test", "shardLengths": ["10000"]}
    ]}))
    for name in ("cifar10-train.tfrecord-00000-of-00001", "cifar10-test.tfrecord-00000-of-00001"):
        (tfds / name).touch()
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path / "tfds"))
    cs.clear_cache()
    src = cs.find_source()  # TFDS comes before the Keras cache; checked without loading
    assert (src.kind, src.dataset, src.origin) == ("tfds", "cifar10", "TFDS cifar10:3.0.2")


def test_no_source_is_one_line_naming_the_ways(tmp_path, monkeypatch):
    with pytest.raises(DataError) as err:
        _ = mb.get_task("noisy_cifar").spec
    msg = str(err.value)
    assert "\n" not in msg and "no CIFAR-10 source" in msg
    for way in ("noisy_cifar.source=PATH", cs.ENV_SOURCE, "cifar-10-batches-bin", "TFDS",
                "KERAS_HOME", "offline"):
        assert way in msg
    code = "from memorybench.cli import main; main()"
    proc = subprocess.run([sys.executable, "-c", code, "task", "show", "noisy_cifar"],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "MEMORYBENCH_OFFLINE": "1"})
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "no CIFAR-10 source" in lines[0]


def test_bad_files_are_errors_never_fallbacks(tmp_path):
    with pytest.raises(DataError, match="is not a folder"):
        cs.find_source(tmp_path / "nothing")
    with pytest.raises(DataError, match="holds neither the python batches"):
        cs.find_source(tmp_path)
    bn = write_bin(tmp_path / "bin", _images())
    with open(bn / "test_batch.bin", "ab") as f:
        f.write(b"\0" * 10)
    with pytest.raises(DataError, match="not a whole number of CIFAR-10 records"):
        cs.find_source(bn)
    py = write_py(tmp_path / "py", _images())

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo hacked",))

    with open(py / "data_batch_3", "wb") as f:
        pickle.dump({b"data": Evil(), b"labels": []}, f, protocol=2)
    with pytest.raises(DataError, match=r"data_batch_3: not a CIFAR-10 python batch .*refusing"):
        cs.find_source(py)
