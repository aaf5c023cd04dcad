"""Sweeps through the CLI: bad input, failures that do not stop a sweep, resume after SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from memorybench.cli import main
from memorybench.run import store

SETS = ["model.units=8", "train.steps=40", "train.eval_every=20", "train.batch_size=16",
        "train.n_train=256", "train.n_val=64", "train.n_test=64"]
TINY = ["--profile", "smoke", "--tasks", "adding", "--lengths", "5",
        *[arg for item in SETS for arg in ("--set", item)]]

PLUGIN = Path(__file__).parent / "plugins" / "faulty.py"


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("MEMORYBENCH_OFFLINE", "1")


def cli(args) -> int:
    with pytest.raises(SystemExit) as exc:
        main(["run", *map(str, args)])
    return exc.value.code


def summaries(out: Path) -> dict[str, dict]:
    return {s["run_id"]: s for s in store.iter_summaries(out)}


@pytest.mark.parametrize("extra, message", [
    (["--tasks", "addng"], "unknown task 'addng'; known: adding, copy_memory"),
    (["--models", "lstm,lstmm"], "unknown model 'lstmm'; known: "),
    (["--lengths", "10,0"], "lengths: '0' is not allowed; allowed: integers >= 1"),
    (["--lengths", "ten"], "lengths: 'ten' is not allowed"),
    (["--seeds", "-1"], "seeds=-1 is not allowed; allowed: an integer >= 1"),
    (["--profile", "nope"], "unknown profile 'nope'; known: smoke, quick, bai2018, "
                            "arjovsky2016"),
    (["--set", "train.lrr=1"], "unknown key 'train.lrr'; known: tasks, models"),
    (["--set", "train.steps=30"], "must be a multiple of train.eval_every"),
    (["--address", "auto"], "--address needs --executor ray"),  # Ray: tests/test_ray.py
    (["--executor", "dask"], "unknown executor 'dask'; known: local, ray"),
    (["--config", "missing.toml"], "config file 'missing.toml' does not exist"),
    (["--plugin", "missing.py"], "plugin file 'missing.py' does not exist"),
    (["--precision", "fp8"], "Invalid value for '--precision'"),
    (["--match-params", "5"], "param_budget=5 is too small"),
    (["--out", "FILE/results"], "is not a folder"),
])
def test_bad_input_exits_2_with_one_line_and_writes_nothing(
    tmp_path, capsys, monkeypatch, extra, message
):
    out = tmp_path / "results"
    (tmp_path / "FILE").write_text("a file, not a folder")
    extra = [str(tmp_path / "FILE/results") if e == "FILE/results" else e for e in extra]
    monkeypatch.chdir(tmp_path)  # relative names in the messages
    assert cli([*TINY, "--models", "gru", "--out", out, *extra]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and message in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["FILE"]  # nothing written


def test_a_failing_run_does_not_stop_the_sweep_and_is_retried_on_request(tmp_path, capsys):
    out = tmp_path / "res"
    args = [*TINY, "--models", "test_raise,gru", "--plugin", PLUGIN, "--out", out]
    assert cli(args) == 1
    text = capsys.readouterr().out
    first = summaries(out)
    status = {s["model"]: s["status"] for s in first.values()}
    assert status == {"test_raise": "failed", "gru": "completed"}
    failed = next(s for s in first.values() if s["status"] == "failed")
    assert "boom from the test cell" in failed["reason"] and "RuntimeError" in failed["traceback"]
    assert "boom from the test cell" in text and "completed" in text
    assert f"memorybench report --out {out}" in text

    # resume: complete runs (failed ones too) are not run again ...
    assert cli(args) == 1
    assert "0 to run" in capsys.readouterr().out
    assert {k: s["started_at"] for k, s in summaries(out).items()} == {
        k: s["started_at"] for k, s in first.items()}
    # ... unless asked: only the failed one runs again
    mtimes = {k: (out / "runs" / k / "summary.json").stat().st_mtime_ns for k in first}
    assert cli([*args, "--retry-failed"]) == 1
    assert "1 to run" in capsys.readouterr().out
    after = {k: (out / "runs" / k / "summary.json").stat().st_mtime_ns for k in first}
    redone = {k for k in first if after[k] != mtimes[k]}
    assert redone == {failed["run_id"]}


def test_resume_after_sigkill_gives_the_same_runs_and_redoes_none(tmp_path, capsys):
    sweep = [*TINY, "--models", "simple_rnn,gru", "--seeds", "2",
             "--set", "train.steps=100", "--set", "train.eval_every=50"]
    killed = tmp_path / "killed"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "MEMORYBENCH_OFFLINE": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "memorybench.cli", "run", *sweep, "--out", str(killed)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )
    deadline = time.monotonic() + 180
    try:
        while not summaries(killed) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    before = summaries(killed)
    assert 1 <= len(before) < 4, "the sweep should be killed after its first run"
    stamps = {k: ((killed / "runs" / k / "summary.json").stat().st_mtime_ns, s["started_at"])
              for k, s in before.items()}

    assert cli([*sweep, "--out", killed]) == 0
    assert f"{len(before)} already complete, {4 - len(before)} to run" in capsys.readouterr().out
    resumed = summaries(killed)
    for k, (mtime, started) in stamps.items():  # no finished run was redone
        assert (killed / "runs" / k / "summary.json").stat().st_mtime_ns == mtime
        assert resumed[k]["started_at"] == started

    clean = tmp_path / "clean"
    assert cli([*sweep, "--out", clean]) == 0
    expected = {k: s["status"] for k, s in summaries(clean).items()}
    assert len(expected) == 4
    assert {k: s["status"] for k, s in resumed.items()} == expected
    # the killed run's folder was completed, not left half-written
    assert sorted(p.name for p in (killed / "runs").iterdir()) == sorted(expected)


@pytest.mark.parametrize("toml, message", [
    ('profile = "nope"\n', "unknown profile 'nope'; known: smoke, quick, bai2018, "
                           "arjovsky2016"),
    ("[train]\nlrr = 0.1\n", "unknown key 'train.lrr'"),
    ("seeds = 'two'\n", "seeds='two' is not a valid int"),
])
def test_bad_config_files_exit_2(tmp_path, capsys, toml, message):
    f = tmp_path / "sweep.toml"
    f.write_text(toml)
    out = tmp_path / "results"
    assert cli(["--config", f, "--tasks", "adding", "--out", out]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
    assert not out.exists()


def test_an_executor_is_a_small_plug_in(tmp_path):
    from memorybench import settings as S
    from memorybench.run.sweep import sweep
    from memorybench.settings import expand

    class Recording:
        """What a remote executor does: ship the job without its local progress hook."""

        name = "recording"
        seen: list = []

        def map(self, fn, configs):
            for cfg in configs:
                job = fn.remote()
                assert job.reporter is None
                self.seen.append(cfg)
                yield job(cfg)

    settings = S.merge_layers(S.profile("smoke"), S.parse_set_items(SETS),
                              {"tasks": "adding", "lengths": "5", "models": "gru"})
    plan = expand(settings)
    ex = Recording()
    result = sweep(plan.configs, tmp_path, executor=ex)
    assert [r.status for r in result.results] == ["completed"]
    assert ex.seen == plan.configs
    assert store.is_complete(tmp_path / "runs" / result.results[0].run_id)
