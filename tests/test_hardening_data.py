"""Issue 26, results data: never written through a linked ``searches/``, never trusted by one
reader and rejected by another, never a hang, a crash or a formula.

No test here trains: run folders are written by hand, sweeps get an executor that returns
results without training, and a lock is held by a worker that only sleeps.
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest
from summaries import SUMMARY as BASE_SUMMARY

from memorybench import cli
from memorybench import settings as S
from memorybench.errors import ConfigError, DataError, OutputError
from memorybench.models.resolve import run_id
from memorybench.run import store

SUMMARY = dict(BASE_SUMMARY)
SETS = ["train.steps=20", "train.eval_every=10", "train.batch_size=32", "model.units=8",
        "train.n_train=256", "train.n_val=64", "train.n_test=64"]
NESTED = "[" * 200_000 + "]" * 200_000  # deeper than json.loads can recurse


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("MEMORYBENCH_OFFLINE", "1")
    monkeypatch.delenv("MEMORYBENCH_WORKERS", raising=False)


def _fake_run(results: Path, rid: str, **fields) -> Path:
    """A complete run folder written by hand: summary, config and a two-row history."""
    folder = results / "runs" / rid
    folder.mkdir(parents=True)
    summary = {**SUMMARY, "run_id": rid, **fields}
    (folder / "summary.json").write_text(json.dumps(summary))
    (folder / "config.json").write_text(json.dumps({
        "task": {"name": summary["task"], "params": summary["task_params"]},
        "model": {"name": summary["model"], "units": 4, "layers": 1, "params": {}},
        "train": {"steps": 10, "lr": 0.01}, "seed": 0, "plugins": {}, "code": {}}))
    (folder / "history.csv").write_text(
        "step,seconds,train_loss,val_loss,val_metric,val_score\n5,0.5,0.2,0.2,0.2,-0.2\n"
        "10,1.0,0.1,0.08,0.08,0.5\n")
    return folder


def _settings(**extra):
    return S.merge_layers(S.profile("smoke"), S.parse_set_items(SETS),
                          {"tasks": "adding", "models": "lstm", "seeds": 1, **extra})


class Solving:
    """An executor that trains nothing: every run it is given comes back completed and
    solved (its summary is not written), and the run ids it was given are kept."""

    name = "solving"

    def __init__(self):
        self.seen: list[str] = []

    def map(self, fn, configs):
        from memorybench.run.store import RunResult

        for cfg in configs:
            rid = run_id(cfg)
            self.seen.append(rid)
            yield RunResult(rid, Path(fn.out_dir) / "runs" / rid, "completed", {
                **SUMMARY, "run_id": rid, "solved": True, "lr": cfg.train.lr,
                "length": cfg.task.params["length"]})


def _within(seconds: float, fn, unblock=()):
    """``fn()``'s result, or a test failure when it takes longer than ``seconds`` (a reader
    blocked on a FIFO); ``unblock``: FIFOs opened for writing afterwards, so that a blocked
    reader thread ends."""
    box: dict = {}

    def target():
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            box["error"] = exc

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(seconds)
    hung = t.is_alive()
    for fifo in unblock:
        try:
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            pass
    assert not hung, f"still reading after {seconds} s (a FIFO hangs the reader)"
    if "error" in box:
        raise box["error"]
    return box.get("value")


# -- 1. no search record through a linked searches/ -----------------------------------------
def test_horizon_never_writes_a_search_record_through_a_linked_searches_folder(tmp_path):
    from memorybench.run.horizon import horizon_search

    results, victim = tmp_path / "results", tmp_path / "victim"
    results.mkdir()
    victim.mkdir()
    (results / "searches").symlink_to(victim, target_is_directory=True)
    ex = Solving()
    with pytest.raises(OutputError, match="searches is a symbolic link"):
        horizon_search(_settings(), base=5, max_length=5, out_dir=results, executor=ex)
    assert list(victim.iterdir()) == []
    assert ex.seen == []  # refused before the first round


def test_horizon_cli_refuses_a_linked_searches_folder_in_one_line(tmp_path, capsys):
    results, victim = tmp_path / "results", tmp_path / "victim"
    results.mkdir()
    victim.mkdir()
    (results / "searches").symlink_to(victim, target_is_directory=True)
    with pytest.raises(SystemExit) as exc:
        cli.main(["horizon", "--tasks", "adding", "--models", "lstm", "--profile", "smoke",
                  "--base-length", "5", "--max-length", "5", "--seeds", "1", "--workers", "1",
                  "--out", str(results), *[a for s in SETS for a in ("--set", s)]])
    err = capsys.readouterr().err
    assert exc.value.code == 2
    lines = [x for x in err.splitlines() if x.strip()]
    assert len(lines) == 1 and "symbolic link" in lines[0], err
    assert list(victim.iterdir()) == [] and not (results / "runs").exists()


# -- 3. one type-checked reader of summaries ---------------------------------------------------
def test_a_summary_the_report_rejects_is_run_again_by_the_sweep_with_a_warning(tmp_path):
    from memorybench.run.sweep import plan_status

    plan = S.expand({**_settings(), "lengths": [5]})
    rid = run_id(plan.configs[0])
    _fake_run(tmp_path, rid, solved="yes", length=5)
    notes: list[str] = []
    todo, skipped = plan_status(plan.configs, tmp_path, warn=notes.append)
    assert todo == plan.configs and skipped == []
    assert len(notes) == 1 and rid in notes[0] and "'solved'" in notes[0]
    assert not store.is_complete(tmp_path / "runs" / rid)
    with pytest.raises(DataError, match="'solved' must be bool"):
        store.load_summary(tmp_path / "runs" / rid)
    assert list(store.iter_summaries(tmp_path, warn=False)) == []  # the report agrees


def test_the_horizon_search_reruns_a_summary_the_report_rejects(tmp_path):
    from memorybench.run.horizon import horizon_search

    plan = S.expand({**_settings(), "lengths": [5]})
    rid = run_id(plan.configs[0])
    _fake_run(tmp_path, rid, solved="yes", length=5, lr=plan.configs[0].train.lr)
    ex = Solving()
    with pytest.warns(UserWarning, match=f"running {rid} again: .*'solved' must be bool"):
        (x,) = horizon_search(_settings(), base=5, max_length=5, out_dir=tmp_path, executor=ex)
    assert ex.seen == [rid]  # run again, not counted as complete and unsolved
    assert (x.lo, x.hi, x.hit_max) == (5, None, True)


def test_run_dry_run_warns_about_a_summary_it_will_run_again(tmp_path, capsys):
    plan = S.expand({**_settings(), "lengths": [5]})
    rid = run_id(plan.configs[0])
    _fake_run(tmp_path, rid, solved="yes", length=5)
    with pytest.raises(SystemExit) as exc:
        cli.main(["run", "--profile", "smoke", "--tasks", "adding", "--lengths", "5",
                  "--models", "lstm", "--seeds", "1", "--out", str(tmp_path), "--dry-run",
                  *[a for s in SETS for a in ("--set", s)]])
    out, err = capsys.readouterr()
    assert exc.value.code == 0
    assert f"{rid}" in out and "to run" in out and "1 to run, 0 complete" in out
    assert f"warning: running {rid} again" in err and "'solved'" in err


# -- 4. a truncated search record or study.json is said, not dropped ------------------------
def test_truncated_search_record_and_study_json_are_skipped_with_a_message(tmp_path):

    (tmp_path / "searches").mkdir()
    (tmp_path / "searches" / "a.json").write_text('{"task": "adding", "model": "ls')
    (tmp_path / "study.json").write_text('{"name": "why-lstm", "tas')
    notes: list[str] = []
    assert store.load_searches(tmp_path, warn=notes.append) == []
    assert store.load_study(tmp_path, warn=notes.append) is None
    assert len(notes) == 2, notes
    assert "a.json" in notes[0] and "not valid JSON" in notes[0]
    assert "study.json" in notes[1] and "not valid JSON" in notes[1]


# -- 7. no formulas in the report's CSVs -------------------------------------------------------
@pytest.mark.parametrize("value, written", [
    ("=HYPERLINK(\"http://evil\",\"x\")", "'=HYPERLINK(\"http://evil\",\"x\")"),
    ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"), ("-2+3+cmd", "'-2+3+cmd"),
    ("@SUM(A1)", "'@SUM(A1)"), ("\t=1", "'\t=1"), ("\r=1", "'\r=1"),
    ("-0.5", "-0.5"), ("+3", "+3"), (-0.5, -0.5), (3, 3), (None, None), ("lstm", "lstm"),
    ("", ""),
])
def test_csv_cells_that_start_a_formula_are_quoted_and_numbers_kept(value, written):
    assert store.csv_cell(value) == written


def test_every_csv_of_the_report_neutralises_formulas(tmp_path):
    from memorybench.report.html import report_tables

    names = ["=HYPERLINK(\"http://evil\",\"x\")", "@SUM(A1)", "+x", "-x", "\t=cmd"]
    _fake_run(tmp_path, "a" * 16)
    for i, name in enumerate(names):
        _fake_run(tmp_path, f"{i}" * 16, model=name, score=-0.5, test_metric=-0.25)
    tables = report_tables(tmp_path)
    csvs = {k: v for k, v in tables.items() if k.endswith(".csv")}
    assert {"leaderboard.csv", "horizon.csv", "leaderboard_all_rates.csv"} <= set(csvs)
    for name, text in csvs.items():
        cells = [c for row in csv.reader(io.StringIO(text)) for c in row]
        for c in cells:
            if c[:1] in ("=", "+", "-", "@", "\t", "\r"):
                float(c)  # only numbers may start so: ValueError otherwise
        if name.startswith("leaderboard"):
            assert "'=HYPERLINK(\"http://evil\",\"x\")" in cells and "'@SUM(A1)" in cells
            assert "-0.5" in cells  # a negative number stays a number


# -- 8, 9, 10. no hang, crash or overflow on results data ---------------------------------------
@pytest.mark.parametrize("where", ["runs/r/summary.json", "runs/r/config.json",
                                   "searches/a.json", "study.json"])
def test_a_fifo_named_like_a_results_file_is_skipped_without_waiting(tmp_path, where):

    if where.startswith("runs/r/config"):
        _fake_run(tmp_path, "r")
        (tmp_path / where).unlink()
    fifo = tmp_path / where
    fifo.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(fifo)
    notes: list[str] = []

    def read():
        if where.startswith("runs/r/summary"):
            return list(store.iter_summaries(tmp_path, warn=notes.append))
        if where.startswith("runs/r/config"):
            return store.load_config(tmp_path / "runs" / "r")
        if where.startswith("searches"):
            return store.load_searches(tmp_path, warn=notes.append)
        return store.load_study(tmp_path, warn=notes.append)

    if where.startswith("runs/r/config"):
        with pytest.raises(DataError, match="not a regular file"):
            _within(20, read, unblock=[fifo])
        return
    assert _within(20, read, unblock=[fifo]) in ([], None)
    assert len(notes) == 1 and "not a regular file" in notes[0] and str(fifo) in notes[0]


def test_read_json_refuses_a_file_larger_than_the_cap(tmp_path, monkeypatch):
    f = tmp_path / "big.json"
    f.write_text(json.dumps({"pad": "x" * 200}))
    monkeypatch.setattr(store, "MAX_JSON_BYTES", 100)
    with pytest.raises(DataError, match="more than the"):
        store.read_regular(f, limit=100)
    assert store.MAX_JSON_BYTES == 100 and store.read_regular(f, limit=10_000)


@pytest.mark.parametrize("where", ["summary", "search", "study"])
def test_deeply_nested_json_is_skipped_with_a_message(tmp_path, where):

    notes: list[str] = []
    if where == "summary":
        _fake_run(tmp_path, "a" * 16)
        _fake_run(tmp_path, "b" * 16)
        (tmp_path / "runs" / ("b" * 16) / "summary.json").write_text(NESTED)
        assert [s["run_id"] for s in store.iter_summaries(tmp_path, warn=notes.append)] == [
            "a" * 16]
    elif where == "search":
        (tmp_path / "searches").mkdir()
        (tmp_path / "searches" / "a.json").write_text(NESTED)
        assert store.load_searches(tmp_path, warn=notes.append) == []
    else:
        (tmp_path / "study.json").write_text(NESTED)
        assert store.load_study(tmp_path, warn=notes.append) is None
    assert len(notes) == 1 and "nested too deeply" in notes[0]


@pytest.mark.parametrize("key, value", [("length", 10**30), ("seed", 10**30), ("steps", 10**30),
                                        ("seed", -1), ("units", 10**30), ("score", 10**30)])
def test_integers_out_of_range_are_skipped_and_the_report_does_not_overflow(tmp_path, key,
                                                                            value):
    from memorybench.report.html import report_tables

    _fake_run(tmp_path, "a" * 16)
    _fake_run(tmp_path, "b" * 16, model="gru", **{key: value})
    notes: list[str] = []
    runs = list(store.iter_summaries(tmp_path, warn=notes.append))
    assert [r["model"] for r in runs] == ["lstm"]
    assert len(notes) == 1 and repr(key) in notes[0] and "b" * 16 in notes[0]
    tables = report_tables(tmp_path, warn=notes.append)  # what crashed with an OverflowError
    assert "gru" not in tables["horizon.csv"]


# -- 11. environment variables are checked as options are ---------------------------------------
@pytest.mark.parametrize("value", ["²", "0", "-1", "1.5", "two", "٣x"])
def test_a_bad_workers_variable_is_one_line_also_on_dry_run(tmp_path, capsys, monkeypatch,
                                                           value):
    from memorybench.run.executors import default_workers

    monkeypatch.setenv("MEMORYBENCH_WORKERS", value)
    with pytest.raises(ConfigError, match="MEMORYBENCH_WORKERS="):
        default_workers()
    with pytest.raises(SystemExit) as exc:
        cli.main(["run", "--profile", "smoke", "--tasks", "adding", "--lengths", "5",
                  "--models", "lstm", "--seeds", "1", "--out", str(tmp_path), "--dry-run"])
    err = capsys.readouterr().err
    assert exc.value.code == 2
    lines = [x for x in err.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: $MEMORYBENCH_WORKERS="), err
    assert "Traceback" not in err


def test_a_good_workers_variable_is_read(monkeypatch):
    from memorybench.run.executors import default_workers

    monkeypatch.setenv("MEMORYBENCH_WORKERS", " 3 ")
    assert default_workers() == 3


# -- 13. Ctrl-C with several workers leaves no lock -------------------------------------------
class HoldLock:
    """A job for ``PoolExecutor``: claims its run's lock in the worker process, then sleeps
    (a run in progress) until the worker is stopped."""

    def __init__(self, out_dir: Path):
        self.out_dir = out_dir

    def __call__(self, cfg):
        from memorybench.run.lock import claim

        folder = store.run_dir(self.out_dir, run_id(cfg))
        folder.mkdir(parents=True, exist_ok=True)
        claim(folder)
        time.sleep(600)


def test_ctrl_c_with_two_workers_removes_the_locks_of_the_runs_in_progress(tmp_path):
    """The driver's side of Ctrl-C (SIGINT to this process while two worker processes hold a
    run each): the workers are stopped and their runs' locks removed. A subprocess sweep
    with real training would take minutes here; this checks the same cleanup path."""
    from memorybench.run.executors import PoolExecutor

    configs = S.expand({**_settings(), "lengths": [5], "seeds": 2}).configs
    locks = [store.run_dir(tmp_path, run_id(c)) / ".lock" for c in configs]

    def interrupt_when_locked():
        deadline = time.time() + 120
        while time.time() < deadline and not all(p.exists() for p in locks):
            time.sleep(0.1)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt_when_locked, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        list(PoolExecutor(2, threads_per_worker=1).map(HoldLock(tmp_path), configs))
    assert all(p.parent.is_dir() for p in locks)
    assert [p for p in locks if p.exists()] == []


# -- 12. a run that hard-exits fails that run, not the sweep, also with one worker -------------
def test_a_run_that_calls_os_exit_with_one_worker_is_recorded_failed_and_the_sweep_goes_on(
        tmp_path):
    import subprocess
    import sys

    out = tmp_path / "res"
    plugin = Path(__file__).parent / "plugins" / "hard_exit.py"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "MEMORYBENCH_OFFLINE": "1"}
    env.pop("MEMORYBENCH_WORKERS", None)
    proc = subprocess.run(
        [sys.executable, "-m", "memorybench.cli", "run", "--profile", "smoke", "--tasks",
         "adding", "--lengths", "5", "--models", "test_hard_exit,gru", "--seeds", "1",
         "--plugin", str(plugin), *[a for s in SETS for a in ("--set", s)], "--workers", "1",
         "--out", str(out)], capture_output=True, text=True, env=env, timeout=600,
        cwd=tmp_path)  # the installed package (or $PYTHONPATH), not the working folder's
    assert proc.returncode == 1, proc.stdout + proc.stderr  # a run failed; not 7
    runs = {s["model"]: s for s in store.iter_summaries(out)}
    assert runs["test_hard_exit"]["status"] == "failed"
    assert "os._exit(7)" in runs["test_hard_exit"]["reason"]
    assert runs["gru"]["status"] == "completed"  # the sweep went on
    assert list(out.glob("runs/*/.lock")) == []


# -- 3 (links). a linked summary is read by no reader ------------------------------------------
def test_a_linked_summary_is_run_again_by_the_sweep_as_the_report_skips_it(tmp_path):
    from memorybench.run.sweep import plan_status

    plan = S.expand({**_settings(), "lengths": [5]})
    rid = run_id(plan.configs[0])
    folder = _fake_run(tmp_path, rid, length=5)
    elsewhere = tmp_path / "elsewhere.json"
    (folder / "summary.json").rename(elsewhere)
    (folder / "summary.json").symlink_to(elsewhere)
    with pytest.raises(DataError, match="symbolic link"):
        store.load_summary(folder)
    notes: list[str] = []
    todo, _ = plan_status(plan.configs, tmp_path, warn=notes.append)
    assert todo == plan.configs and len(notes) == 1 and "symbolic link" in notes[0]
    assert list(store.iter_summaries(tmp_path, warn=False)) == []


# -- 8 (locks). a FIFO named .lock does not hang a sweep -----------------------------------------
def test_a_fifo_named_lock_is_taken_over_once_stale_without_waiting(tmp_path):
    from memorybench.run.lock import HEARTBEAT_S, claim, read_lock

    folder = tmp_path / "runs" / "r"
    folder.mkdir(parents=True)
    fifo = folder / ".lock"
    os.mkfifo(fifo)
    old = time.time() - 2 * HEARTBEAT_S
    os.utime(fifo, (old, old))
    assert _within(20, lambda: read_lock(fifo), unblock=[fifo]) == ("", None)
    lock, owner = _within(20, lambda: claim(folder), unblock=[fifo])
    assert lock is not None and owner is None and fifo.is_file()  # a lock file of ours now
    lock.release()
    assert not fifo.exists()


# -- 8 (figures). a FIFO named like a gradient-flow figure is not embedded ---------------------
def test_a_fifo_named_like_a_figure_is_not_embedded_and_does_not_hang_the_report(tmp_path,
                                                                                monkeypatch):
    from memorybench.report import plots
    from memorybench.report.html import make_report

    monkeypatch.setattr(plots, "all_plots", lambda runs, out, searches=(): [])  # seconds
    _fake_run(tmp_path, "a" * 16)
    (tmp_path / "gradflow" / "adding_L10").mkdir(parents=True)
    fifo = tmp_path / "gradflow" / "adding_L10" / "gradflow.png"
    os.mkfifo(fifo)
    notes: list[str] = []
    index = _within(60, lambda: make_report(tmp_path, warn=notes.append), unblock=[fifo])
    assert index.is_file()
    assert any("not a regular file" in n and str(fifo) in n for n in notes), notes


# -- 9 (reproduce.json). a deeply nested reproduction record is a warning ---------------------
def test_a_deeply_nested_reproduction_record_is_a_warning_not_a_crash(tmp_path):
    from memorybench.report import load

    _fake_run(tmp_path, "a" * 16)
    (tmp_path / "reproduce.json").write_text(NESTED)
    notes: list[str] = []
    assert [r["model"] for r in load.load_runs(tmp_path, warn=notes.append)] == ["lstm"]
    assert len(notes) == 1 and "reproduce.json" in notes[0] and "nested too deeply" in notes[0]


def test_a_deeply_nested_lock_reads_as_unparsable(tmp_path):
    from memorybench.run.lock import read_lock

    lock = tmp_path / ".lock"
    lock.write_text("[" * 4000)
    assert read_lock(lock) == ("[" * 4000, None)
