"""Hardening of the running side (issue 11): symlinks, bad input caught before anything is
written, run claims between concurrent sweeps, per-run time limits, grid size, and worker
processes giving the same numbers as one run after another."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from memorybench import settings as S
from memorybench.cli import main
from memorybench.errors import ConfigError
from memorybench.models.resolve import run_id
from memorybench.run import store

SETS = ["model.units=4", "train.steps=20", "train.eval_every=10", "train.batch_size=16",
        "train.n_train=64", "train.n_val=32", "train.n_test=32", "train.eval_batch_size=32"]
TINY = ["--profile", "smoke", "--tasks", "adding", "--lengths", "5",
        *[arg for item in SETS for arg in ("--set", item)]]

PLUGIN = '''
import os, sys, time
import keras
from keras import ops
import memorybench as mb


class _Base(keras.layers.Layer):
    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = units
        self.output_size = units

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units), name="w")

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@mb.register_cell("h2_hang")
class HangCell(_Base):
    def call(self, inputs, states, training=False):
        if training:
            time.sleep(3600)  # a cell that never returns
        h = ops.matmul(inputs, self.w)
        return h, [h]


@mb.register_cell("h2_exit")
class ExitCell(_Base):
    def call(self, inputs, states, training=False):
        if training:
            sys.exit(3)
        h = ops.matmul(inputs, self.w)
        return h, [h]


@mb.register_model("h2_count")
def count(spec, units, return_sequences, **params):
    """keras SimpleRNN; appends a line to $H2_COUNT each time a run builds it. The first build
    of a process waits until $H2_READY holds two processes (both sweeps are at their first run).
    The build of the planning probe ($MEMORYBENCH_PROBE=1) trains nothing: not counted."""
    log = os.environ.get("H2_COUNT")
    if log and os.environ.get("MEMORYBENCH_PROBE") != "1":
        ready = os.environ["H2_READY"]
        with open(ready, "a") as f:
            f.write(f"{os.getpid()}\\n")
        deadline = time.time() + 120
        while len(set(open(ready).read().split())) < 2 and time.time() < deadline:
            time.sleep(0.05)
        with open(log, "a") as f:
            f.write(f"{os.getpid()} {spec.length}\\n")
    return keras.layers.SimpleRNN(units, return_sequences=return_sequences, **params)
'''


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("MEMORYBENCH_OFFLINE", "1")


@pytest.fixture
def plugin(tmp_path) -> Path:
    f = tmp_path / "h2_plugin.py"
    f.write_text(PLUGIN)
    return f


def cli(args, command="run") -> int:
    with pytest.raises(SystemExit) as exc:
        main([command, *map(str, args)])
    return exc.value.code


def one_line_error(capsys, message: str) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and message in err, err
    return err


def tree(path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*"))
            if p.is_file()}


def ids(models: str, **options) -> list[str]:
    plan = S.plan("smoke", sets=SETS, tasks="adding", lengths="5", models=models, **options)
    return [run_id(c) for c in plan.configs]


# -- item 2: never through a symbolic link ----------------------------------------------------
def test_a_symlinked_run_folder_fails_that_run_and_leaves_its_target_alone(tmp_path, capsys):
    out = tmp_path / "res"
    target = tmp_path / "elsewhere"
    target.mkdir()
    (target / "summary.json").write_text('{"status": "completed", "precious": true}')
    (target / "keep.png").write_bytes(b"not ours")
    before = tree(target)
    linked, plain = ids("gru,simple_rnn")
    (out / "runs").mkdir(parents=True)
    (out / "runs" / linked).symlink_to(target, target_is_directory=True)

    assert cli([*TINY, "--models", "gru,simple_rnn", "--workers", "1", "--out", out]) == 1
    assert tree(target) == before  # nothing deleted, nothing written there
    text = capsys.readouterr().out
    assert "symbolic link" in text
    assert store.load_summary(out / "runs" / plain)["status"] == "completed"
    assert (out / "runs" / linked).is_symlink()


def test_a_symlinked_runs_folder_is_refused_before_anything_runs(tmp_path, capsys):
    out = tmp_path / "res"
    target = tmp_path / "elsewhere"
    target.mkdir()
    out.mkdir()
    (out / "runs").symlink_to(target, target_is_directory=True)
    assert cli([*TINY, "--models", "gru", "--workers", "1", "--out", out]) == 2
    one_line_error(capsys, "is a symbolic link")
    assert list(target.iterdir()) == []


# -- item 4: bad input caught before anything is written ----------------------------------------
@pytest.mark.parametrize("extra, message", [
    (["--set", "model.params.bogus=1"],
     "'gru' (GRU) has no parameter 'bogus'; known: activation, recurrent_activation"),
    (["--set", "train.batch_size=100000"],
     "train.batch_size=100000 is larger than train.n_train=64"),
    (["--lengths", "1000000000000"], "with 1000000000000 steps would need about 2.05 PB"),
    (["--set", "model.units=1000000"], "and 1000000 units would need about"),
    (["--models", "_under", "--plugin", "UNDER"], "cell name '_under' is not allowed"),
])
def test_bad_input_exits_2_before_anything_is_written(tmp_path, capsys, monkeypatch, extra,
                                                      message):
    (tmp_path / "under.py").write_text(
        "import keras\nimport memorybench as mb\n\n@mb.register_cell('_under')\n"
        "class U(keras.layers.Layer):\n    pass\n")
    extra = [str(tmp_path / "under.py") if e == "UNDER" else e for e in extra]
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "res"
    assert cli([*TINY, "--models", "gru", "--out", out, *extra]) == 2
    err = one_line_error(capsys, message)
    if "memory" in message:  # the limit is in the message, with how to change it
        assert "more than the limit" in err and "MEMORYBENCH_MAX_RUN_GB" in err
    assert not out.exists()


def test_the_python_api_gets_the_same_checks(tmp_path):
    import memorybench as mb

    cfg = mb.RunConfig(mb.TaskConfig("adding", {"length": 5}),
                       mb.ModelConfig("lstm", units=4, params={"bogus": 1}),
                       mb.TrainConfig(steps=20, eval_every=10, batch_size=16, n_train=64))
    with pytest.raises(ConfigError, match="'lstm' .*has no parameter 'bogus'; known: "):
        mb.run(cfg, out_dir=tmp_path)
    with pytest.raises(ConfigError, match="the grid has 10,002 runs"):
        S.plan("smoke", tasks="adding", models="lstm,gru", seeds=5001)
    assert list(tmp_path.iterdir()) == []


def test_the_memory_limit_is_the_machines_or_the_environments(monkeypatch):
    from memorybench.models.resolve import MEMORY_ENV, memory_limit

    monkeypatch.delenv(MEMORY_ENV, raising=False)
    total, source = memory_limit()
    assert total == os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    monkeypatch.setenv(MEMORY_ENV, "0.0001")  # 100 KB: the smoke settings need more
    assert memory_limit() == (10**5, f"{MEMORY_ENV}=0.0001")
    with pytest.raises(ConfigError, match=r"more than the limit 100 KB \(MEMORYBENCH_MAX_RUN_GB"):
        S.plan("smoke", tasks="adding", models="lstm")


# -- item 7: a run is claimed before it is trained ------------------------------------------------
def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_claims_stale_locks_and_release(tmp_path):
    from memorybench.run.lock import LOCK, STALE_AFTER_S, claim

    folder = tmp_path / "run"
    folder.mkdir()
    lock_file = folder / LOCK

    def write(pid, host, age=0.0):
        lock_file.write_text(json.dumps({"pid": pid, "host": host, "token": "t"}))
        t = time.time() - age
        os.utime(lock_file, (t, t))

    host = socket.gethostname()
    write(os.getpid(), host)  # a live owner here
    lock, owner = claim(folder)
    assert lock is None and owner["pid"] == os.getpid()
    write(12345, "other-host")  # a live-looking owner elsewhere, refreshed just now
    assert claim(folder)[0] is None
    write(12345, "other-host", age=STALE_AFTER_S + 5)  # not refreshed: stale
    lock, _ = claim(folder)
    assert lock is not None and json.loads(lock_file.read_text())["pid"] == os.getpid()
    lock.release()
    assert not lock_file.exists()

    write(_dead_pid(), host)  # its owner died: taken over at once
    lock, _ = claim(folder)
    assert lock is not None
    write(os.getpid(), host)  # someone took it over from us: release leaves theirs alone
    lock.release()
    assert lock_file.exists()


def test_two_sweeps_on_one_folder_train_every_run_exactly_once(tmp_path, plugin):
    out = tmp_path / "res"
    log, ready = tmp_path / "count.log", tmp_path / "ready"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "MEMORYBENCH_OFFLINE": "1",
           "H2_COUNT": str(log), "H2_READY": str(ready)}
    args = [sys.executable, "-m", "memorybench.cli", "run", "--profile", "smoke", "--tasks",
            "adding", "--lengths", "5,6,7,8", "--models", "h2_count", "--plugin", str(plugin),
            *[a for item in SETS for a in ("--set", item)], "--workers", "1", "--out", str(out)]
    procs = [subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                              text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    lines = log.read_text().split()
    pids, lengths = lines[0::2], sorted(lines[1::2])
    assert lengths == ["5", "6", "7", "8"], lines  # each run trained once
    assert len(set(pids)) == 2  # and the two sweeps shared the work
    summaries = list(store.iter_summaries(out))
    assert sorted(s["status"] for s in summaries) == ["completed"] * 4
    assert not list(out.rglob(".lock*"))  # released
    assert all("4 runs (4 completed" in o for o in outputs), outputs


# -- item 8: per-run time limit; sys.exit ---------------------------------------------------------
def run_cli(args, timeout: float) -> subprocess.CompletedProcess:
    """``memorybench ARGS`` in a process of its own, killed after ``timeout`` seconds (a test of
    something that used to hang fails instead of hanging)."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "MEMORYBENCH_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "memorybench.cli", *map(str, args)],
                          capture_output=True, text=True, env=env, timeout=timeout)


def test_a_hanging_run_ends_at_its_time_limit_and_sys_exit_is_a_failed_run(tmp_path, plugin):
    import dataclasses

    from memorybench.registry import load_plugin
    from memorybench.run.executors import LocalExecutor
    from memorybench.run.sweep import sweep

    load_plugin(plugin)
    plan = S.plan("smoke", sets=SETS, tasks="adding", lengths="5", models="h2_hang,h2_exit,gru")
    limited = [dataclasses.replace(c, train=dataclasses.replace(c.train, timeout_s=3.0))
               if c.model.name == "h2_hang" else c for c in plan.configs]
    out = tmp_path / "res"
    res = sweep(limited, out, executor=LocalExecutor(1))  # a limit: a worker process, even one
    runs = {r.summary["model"]: r.summary for r in res.results}
    assert runs["h2_hang"]["status"] == "failed"
    assert "train.timeout_s=3 s" in runs["h2_hang"]["reason"]
    assert runs["h2_exit"]["status"] == "failed"  # the sweep went on after the kill
    assert "sys.exit(3)" in runs["h2_exit"]["reason"]
    assert runs["gru"]["status"] == "completed"
    assert {s["run_id"]: s["status"] for s in store.iter_summaries(out)} == {
        r.run_id: r.status for r in res.results}
    assert not list(out.rglob(".lock*"))
    # the limit is not part of the run id
    assert [run_id(c) for c in limited] == [run_id(c) for c in plan.configs]


def test_a_plugin_calling_sys_exit_on_import_is_a_one_line_error(tmp_path, capsys):
    f = tmp_path / "exits.py"
    f.write_text("import sys\nsys.exit(0)\n")
    assert cli(["models", "--plugin", f], command="list") == 2
    one_line_error(capsys, "exits.py raised on import (line 2): SystemExit(0)")


def test_timeout_s_is_checked():
    with pytest.raises(ConfigError, match=r"train.timeout_s=-1.0 is not allowed"):
        S.plan("smoke", tasks="adding", models="lstm", sets={"train.timeout_s": "-1"})


# -- item 10: the grid's size ----------------------------------------------------------------------
def test_a_huge_grid_is_refused_at_once_unless_confirmed(tmp_path, capsys):
    out = tmp_path / "res"
    proc = run_cli(["run", "--profile", "smoke", "--seeds", "1000000000", "--out", out],
                   timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.splitlines()[-1].startswith("error: the grid has")
    assert cli(["--profile", "smoke", "--seeds", "1000000000", "--out", out]) == 2
    one_line_error(capsys, "the grid has 12,000,000,000 runs (4 task x length, 3 model(s), 1 "
                   "rate(s), 1000000000 seed(s)), more than 10,000; allowed: at most 10,000, or "
                   "confirm with --allow-large-grid")
    assert not out.exists()
    sizes = []
    plan = S.expand(S.layered("smoke", None, {"seeds": 2, "allow_large_grid": True}),
                    on_size=lambda n, how: sizes.append(n))
    assert sizes == [len(plan.configs)] == [24]


# -- parallel local runs -------------------------------------------------------------------------
def test_the_default_local_executor_uses_a_worker_per_physical_core(monkeypatch):
    from memorybench.run import executors as sw

    ex = sw.get_executor("local")
    assert isinstance(ex, sw.LocalExecutor) and ex.workers is None
    usable = len(os.sched_getaffinity(0))
    assert 1 <= sw.physical_cores() <= usable
    used = []
    monkeypatch.delenv(sw.WORKERS_ENV, raising=False)  # the test session sets it to 1
    monkeypatch.setattr(sw, "physical_cores", lambda: 2)
    monkeypatch.setattr(sw, "_pool_executor", lambda n: used.append(n) or sw.LocalExecutor(1))
    plan = S.plan("smoke", sets=SETS, tasks="adding", lengths="5", models="gru,lstm,simple_rnn")
    assert len(list(ex.map(lambda cfg: cfg, plan.configs))) == 3
    assert used == [2]  # two cores: two workers
    assert list(ex.map(lambda cfg: cfg, plan.configs[:1])) == plan.configs[:1]
    assert used == [2]  # one run: in this process
    # $MEMORYBENCH_WORKERS is the machine's default when --workers is not given
    monkeypatch.setenv(sw.WORKERS_ENV, "3")
    assert len(list(ex.map(lambda cfg: cfg, plan.configs))) == 3
    assert used == [2, 3]
    monkeypatch.setenv(sw.WORKERS_ENV, "1")
    assert len(list(ex.map(lambda cfg: cfg, plan.configs))) == 3
    assert used == [2, 3]  # one worker: in this process
    monkeypatch.setenv(sw.WORKERS_ENV, "two")
    with pytest.raises(ConfigError, match=r"MEMORYBENCH_WORKERS='two' is not allowed"):
        list(ex.map(lambda cfg: cfg, plan.configs))


METRICS = ("status", "test_metric", "test_loss", "score", "val_metric", "solved",
           "steps_to_solve", "steps_trained", "params", "paper_metrics", "n_train", "n_val",
           "n_test")


def test_the_smoke_grid_gives_the_same_numbers_with_one_and_two_workers(tmp_path):
    from memorybench.run.executors import LocalExecutor
    from memorybench.run.sweep import sweep

    plan = S.plan("smoke", sets=SETS)
    # one run of each task of the smoke grid (each head, the MNIST data), with different models
    # so that every worker sees different cells; the whole grid costs minutes, not seconds
    models = sorted({c.model.name for c in plan.configs})
    tasks = sorted({c.task.name for c in plan.configs})
    wanted = {(t, models[i % len(models)]) for i, t in enumerate(tasks)}
    configs = [c for c in plan.configs if (c.task.name, c.model.name) in wanted]
    assert len(configs) == len(tasks) >= 4 and len({c.model.name for c in configs}) == 3
    results = {}
    for workers in (1, 2):
        out = tmp_path / f"w{workers}"
        res = sweep(configs, out, executor=LocalExecutor(workers))
        assert res.count("completed") == len(configs)
        results[workers] = {s["run_id"]: ({k: s[k] for k in METRICS},
                                          store.load_history(s["run_dir"]))
                            for s in store.iter_summaries(out)}
    for rid in results[1]:  # every metric and every history value, to the last digit
        (m1, h1), (m2, h2) = results[1][rid], results[2][rid]
        assert m1 == m2
        assert [{k: v for k, v in r.items() if k != "seconds"} for r in h1] == \
               [{k: v for k, v in r.items() if k != "seconds"} for r in h2]
