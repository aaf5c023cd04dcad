"""Unit tests of the run store, the sweep's resume split and the run id (no training; fast).

What a user relies on: files written atomically and readable by any tool, every file strict
JSON, a run complete exactly when its summary says so, the store's reader skipping (and naming)
what it cannot read, a resumed sweep redoing only what it must, and run ids that are the
documented hash of the canonical config. These also keep ``make mutate`` honest
(docs/mutation.md).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import stat
import warnings
from pathlib import Path

import numpy as np
import pytest

from memorybench import config as C
from memorybench.config import ModelConfig, RunConfig, TaskConfig, TrainConfig
from memorybench.errors import DataError
from memorybench.models import resolve as R
from memorybench.models.resolve import run_id
from memorybench.run import schema, store
from memorybench.run.sweep import plan_status


# -- folders ---------------------------------------------------------------------------------
def test_run_folders_are_results_runs_id(tmp_path):
    assert store.runs_dir(tmp_path) == tmp_path / "runs"
    assert store.runs_dir(str(tmp_path)) == tmp_path / "runs"
    assert store.run_dir(str(tmp_path), "abc") == tmp_path / "runs" / "abc"


# -- atomic writes ---------------------------------------------------------------------------
def test_writes_replace_the_file_leave_no_temporary_and_honour_the_umask(tmp_path):
    f = tmp_path / "a.txt"
    store.write_text(f, "first é")
    store.write_text(f, "second é")
    assert f.read_bytes() == "second é".encode()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]
    # shared like any file the user writes (mkstemp alone would make it 0600)
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(f.stat().st_mode) == 0o666 & ~umask


def test_a_failed_write_keeps_the_old_file_and_removes_its_hidden_temporary(tmp_path,
                                                                            monkeypatch):
    f = tmp_path / "summary.json"
    f.write_text("old")
    seen = []

    def broken_replace(src, dst):
        seen.append(Path(src))
        assert Path(src).read_bytes() == b"new"  # complete before it is moved into place
        raise OSError("disk full")

    monkeypatch.setattr(store.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        store.write_bytes(f, b"new")
    assert f.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summary.json"]
    # the temporary sat beside the target (same file system: os.replace is atomic), hidden, so
    # no reader of the folder takes it for an artifact
    (tmp,) = seen
    assert tmp.parent == tmp_path
    assert tmp.name.startswith(".summary.json.") and tmp.name.endswith(".tmp")


def test_json_is_strict_sorted_indented_and_ends_with_a_newline(tmp_path):
    f = tmp_path / "s.json"
    store.write_json(f, {"b": float("nan"), "a": (1, np.float32(0.5)), "c": float("-inf"),
                         "p": Path("x/y"), 3: np.int64(7)})
    text = f.read_text()
    assert text == ('{\n  "3": 7,\n  "a": [\n    1,\n    0.5\n  ],\n  "b": null,\n'
                    '  "c": null,\n  "p": "x/y"\n}\n')
    assert json.loads(text) == {"3": 7, "a": [1, 0.5], "b": None, "c": None, "p": "x/y"}


def test_clean_makes_numpy_and_non_finite_values_json(tmp_path):
    out = store.clean({"x": [np.float64(np.inf), np.int32(3), (np.bool_(True), "s", b"b")]})
    assert out == {"x": [None, 3, [True, "s", b"b"]]}
    assert type(out["x"][1]) is int and type(out["x"][2][0]) is bool
    assert store.clean(2.5) == 2.5 and store.clean(None) is None


def test_history_csv_has_the_schema_header_and_empty_cells_for_missing(tmp_path):
    f = tmp_path / store.HISTORY
    store.write_csv(f, [
        {"step": 10, "seconds": 1.5, "train_loss": 0.25, "val_loss": None,
         "val_metric": float("nan"), "val_score": np.float32(0.5), "extra": "dropped"},
        {"step": 20, "seconds": 3.0},
    ])
    assert f.read_bytes() == (b"step,seconds,train_loss,val_loss,val_metric,val_score\n"
                              b"10,1.5,0.25,,,0.5\n20,3.0,,,,\n")  # plain \n line ends
    assert store.load_history(tmp_path) == [
        {"step": 10.0, "seconds": 1.5, "train_loss": 0.25, "val_loss": None,
         "val_metric": None, "val_score": 0.5},
        {"step": 20.0, "seconds": 3.0, "train_loss": None, "val_loss": None,
         "val_metric": None, "val_score": None},
    ]
    assert store.load_history(tmp_path / "nowhere") == []
    # a short row (a history written by another tool): the missing cells are None too
    f.write_text("step,seconds,train_loss,val_loss,val_metric,val_score\n10,2\n")
    assert store.load_history(tmp_path) == [
        {"step": 10.0, "seconds": 2.0, "train_loss": None, "val_loss": None, "val_metric": None,
         "val_score": None}]


def test_custom_csv_fields(tmp_path):
    f = tmp_path / "t.csv"
    store.write_csv(f, [{"a": 1, "b": 2}], fields=("b", "a"))
    assert f.read_bytes() == b"b,a\n2,1\n"


# -- complete or not -------------------------------------------------------------------------
def _summary(run: Path, **data) -> Path:
    run.mkdir(parents=True, exist_ok=True)
    (run / store.SUMMARY).write_text(json.dumps(data))
    return run


def test_clear_run_removes_the_attempt_summary_first_and_keeps_the_config(tmp_path,
                                                                          monkeypatch):
    run = _summary(tmp_path / "r", status="completed")
    for name in (store.CONFIG, store.HISTORY, store.WEIGHTS):
        (run / name).write_text("x")
    order = []
    unlink = Path.unlink
    monkeypatch.setattr(Path, "unlink",
                        lambda self, missing_ok=False: (order.append(self.name),
                                                        unlink(self, missing_ok=missing_ok)))
    store.clear_run(str(run))
    assert order[0] == store.SUMMARY  # a crash midway leaves the run incomplete, not stale
    assert sorted(p.name for p in run.iterdir()) == [store.CONFIG]
    store.clear_run(run)  # nothing left to remove: fine
    assert not store.is_complete(run)


@pytest.mark.parametrize("content, says", [
    (None, "no summary (the run is incomplete)"),
    ('{"status": "compl', "unreadable summary"),
    (b"\xff\xfe{}", "unreadable summary"),
    ("[1, 2]", "summary has no 'status' (the run is incomplete)"),
    ('{"task": "adding"}', "summary has no 'status' (the run is incomplete)"),
])
def test_a_run_without_a_readable_summary_with_a_status_is_incomplete(tmp_path, content, says):
    run = tmp_path / "r"
    run.mkdir()
    if isinstance(content, bytes):
        (run / store.SUMMARY).write_bytes(content)
    elif content is not None:
        (run / store.SUMMARY).write_text(content)
    assert store.is_complete(run) is False
    with pytest.raises(DataError) as exc:
        store.load_summary(run)
    assert str(exc.value).startswith(f"{run / store.SUMMARY}: {says}")


def test_a_summary_with_a_status_is_complete(tmp_path):
    run = _summary(tmp_path / "r", **{**GOOD, "status": "failed", "reason": "boom"})
    assert store.is_complete(str(run)) is True
    assert store.load_summary(run) == {**GOOD, "status": "failed", "reason": "boom"}


def test_a_summary_the_reports_skip_is_not_complete(tmp_path):
    # the one type-checked reader: the sweep's resume reads what the reports read (issue 26)
    for bad in ({"status": "failed", "reason": "boom"}, {**GOOD, "solved": "yes"},
                {**GOOD, "length": 10**30}):
        run = _summary(tmp_path / "r", **bad)
        assert store.is_complete(run) is False
        with pytest.raises(DataError):
            store.load_summary(run)


def test_load_config_reads_json_and_names_the_file_when_it_cannot(tmp_path):
    (tmp_path / store.CONFIG).write_text('{"seed": 3}')
    assert store.load_config(tmp_path) == {"seed": 3}
    (tmp_path / store.CONFIG).write_text("{")
    with pytest.raises(DataError, match=r"config\.json: unreadable config: "):
        store.load_config(tmp_path)
    with pytest.raises(DataError, match="unreadable config"):
        store.load_config(tmp_path / "missing")


# -- the store's reader ----------------------------------------------------------------------
GOOD = {"status": "completed", "task": "adding", "model": "lstm", "length": 5}


def test_list_runs_is_every_visible_run_folder_sorted(tmp_path):
    assert store.list_runs(tmp_path) == []  # no runs/ yet
    runs = tmp_path / "runs"
    for name in ("b", "a", ".hidden"):
        (runs / name).mkdir(parents=True)
    (runs / "c.txt").write_text("not a run")
    assert store.list_runs(str(tmp_path)) == [runs / "a", runs / "b"]


def test_reader_yields_complete_runs_and_names_each_bad_summary(tmp_path):
    runs = tmp_path / "runs"
    _summary(runs / "a", **GOOD, seed=0)
    (runs / "b").mkdir()  # in progress: no summary, no message
    (runs / "b" / store.CONFIG).write_text("{}")
    _summary(runs / "c", **{**GOOD, "status": "running"})
    _summary(runs / "d", **{k: v for k, v in GOOD.items() if k != "length"})
    (runs / "e").mkdir()
    (runs / "e" / store.SUMMARY).write_text('{"stat')
    _summary(runs / "f", **{**GOOD, "status": "diverged"})
    _summary(runs / "g", **{k: v for k, v in GOOD.items() if k != "task"})
    _summary(runs / "h", **{k: v for k, v in GOOD.items() if k != "model"})

    msgs: list[str] = []
    got = store.load_summaries(tmp_path, warn=msgs.append)
    assert [(s["run_dir"], s["status"]) for s in got] == [
        (str(runs / "a"), "completed"), (str(runs / "f"), "diverged")]
    assert got[0]["seed"] == 0
    assert len(msgs) == 5
    assert msgs[0].startswith(f"skipping run c: {runs / 'c' / store.SUMMARY}: status 'running' "
                              "is not one of completed, diverged, failed")
    assert msgs[1] == f"skipping run d: {runs / 'd' / store.SUMMARY}: summary lacks the key " \
                      "'length'"
    assert msgs[2].startswith(f"skipping run e: {runs / 'e' / store.SUMMARY}: unreadable")
    assert msgs[3].endswith("summary lacks the key 'task'")
    assert msgs[4].endswith("summary lacks the key 'model'")


def test_reader_warns_by_default_and_is_silent_when_asked(tmp_path):
    _summary(tmp_path / "runs" / "x", status="nope")
    _summary(tmp_path / "runs" / "y", **GOOD)
    with pytest.warns(UserWarning, match="skipping run x: ") as record:
        assert len(list(store.iter_summaries(tmp_path))) == 1
    assert len(record) == 1
    assert not record[0].filename.endswith("store.py")  # points at the reader's caller
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert [s["task"] for s in store.iter_summaries(tmp_path, warn=False)] == ["adding"]


def test_load_summaries_warns_by_default(tmp_path):
    _summary(tmp_path / "runs" / "x", status="nope")
    with pytest.warns(UserWarning, match="skipping run x: .*status 'nope' is not one of"):
        assert store.load_summaries(tmp_path) == []


# -- the sweep's resume split ----------------------------------------------------------------
def _cfg(seed: int) -> RunConfig:
    return RunConfig(TaskConfig("adding", {"length": 5}), ModelConfig("gru", units=4),
                     TrainConfig(steps=10, eval_every=10), seed=seed)


@pytest.mark.parametrize("retry_failed", [False, True])
def test_resume_skips_complete_runs_and_redoes_failed_ones_only_on_request(tmp_path,
                                                                          retry_failed):
    cfgs = [_cfg(s) for s in range(6)]
    ids = [run_id(c) for c in cfgs]
    states = ["completed", "failed", "diverged", None, "corrupt", "no-status"]
    for rid, state in zip(ids, states, strict=True):
        d = store.run_dir(tmp_path, rid)
        if state == "corrupt":
            d.mkdir(parents=True)
            (d / store.SUMMARY).write_text("{")
        elif state == "no-status":
            _summary(d, task="adding")
        elif state is not None:
            _summary(d, **{**GOOD, "status": state, "run_id": rid})
    todo, skipped = plan_status(cfgs, str(tmp_path), retry_failed=retry_failed)
    redo = [1, 2] if retry_failed else []
    assert todo == [cfgs[i] for i in sorted([3, 4, 5, *redo])]
    kept = [i for i in range(3) if i not in redo]
    assert [(r.run_id, r.run_dir, r.status, r.skipped) for r in skipped] == [
        (ids[i], store.run_dir(tmp_path, ids[i]), states[i], True) for i in kept]
    assert [r.summary for r in skipped] == [{**GOOD, "status": states[i], "run_id": ids[i]}
                                            for i in kept]


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symbolic links")
def test_resume_never_reads_a_linked_run_folder(tmp_path):
    cfg, done = _cfg(0), _cfg(1)
    elsewhere = _summary(tmp_path / "elsewhere", **GOOD)
    store.runs_dir(tmp_path).mkdir()
    store.run_dir(tmp_path, run_id(cfg)).symlink_to(elsewhere)
    _summary(store.run_dir(tmp_path, run_id(done)), **GOOD)
    todo, skipped = plan_status([cfg, done, _cfg(2)], tmp_path)
    assert todo == [cfg, _cfg(2)] and [r.run_id for r in skipped] == [run_id(done)]


def test_resume_keeps_failed_runs_by_default(tmp_path):
    cfg = _cfg(0)
    _summary(store.run_dir(tmp_path, run_id(cfg)), **{**GOOD, "status": "failed"})
    todo, skipped = plan_status([cfg], tmp_path)
    assert todo == [] and [r.status for r in skipped] == ["failed"]


# -- the run id ------------------------------------------------------------------------------
def test_canonical_json_is_compact_sorted_and_round_trips():
    # every setting that does not change what a run computes (NOT_HASHED) set: left out
    train = TrainConfig(**{name: 60 for name in C.NOT_HASHED})
    cfg = RunConfig(TaskConfig("adding", {"length": 5, "variant": "half"}),
                    ModelConfig("lstm", units=8, params={"z": 1, "a": 2}), train, seed=1)
    text = C.canonical_json(cfg)
    want = C.to_dict(cfg)
    for name in C.NOT_HASHED:
        assert want["train"].pop(name) == 60
    assert json.loads(text) == want
    assert text == json.dumps(want, sort_keys=True, separators=(",", ":"))
    assert " " not in text and text.startswith('{"code":{},"model":{"layers":1,"name":"lstm"')
    assert '"params":{"a":2,"z":1}' in text
    assert C.canonical_json(dataclasses.replace(cfg, train=TrainConfig())) == text


def test_run_id_is_16_hex_of_the_sha256_of_the_resolved_canonical_json():
    cfg = _cfg(3)
    rid = run_id(cfg)
    assert rid == hashlib.sha256(C.canonical_json(R.resolve(cfg)).encode()).hexdigest()[:16]
    assert len(rid) == 16 and int(rid, 16) >= 0
    assert run_id(cfg) != run_id(_cfg(4))


# -- what the reader refuses: wrong types, symbolic links ----------------------------------
@pytest.mark.parametrize("key, value, says", [
    ("length", "abc", "'length' must be int, got 'abc'"),
    ("length", True, "'length' must be int, got 'True'"),
    ("length", None, "'length' must be int, got 'None'"),
    ("length", 0, "'length' must be >= 1, got 0"),
    ("units", [8], "'units' must be int or null, got '[8]'"),
    ("score", "0.5", "'score' must be int or float or null, got '0.5'"),
    ("solved", 1, "'solved' must be bool or null, got '1'"),
    ("task", None, "'task' must be str, got 'None'"),
    ("dataset", ["x" * 200], f"'dataset' must be str or null, got {str(['x' * 200])[:80]!r}"),
])
def test_a_summary_value_of_the_wrong_type_is_skipped_naming_file_and_key(tmp_path, key, value,
                                                                         says):
    _summary(tmp_path / "runs" / "r", **{**GOOD, key: value})
    msgs: list[str] = []
    got = store.load_summaries(tmp_path, warn=msgs.append)
    assert got == [] and msgs == [
        f"skipping run r: {tmp_path / 'runs' / 'r' / store.SUMMARY}: {says}"]


def test_right_types_and_nulls_where_allowed_are_read():
    ok = {**GOOD, "length": 1, "units": None, "score": 1, "test_metric": 0.5, "solved": False,
          "task_params": {"length": 5}, "gpus": [], "run_id": None}
    assert schema.check_summary(Path("r"), dict(ok)) == ok
    with pytest.raises(DataError, match=r"status 'x{80}' is not one of"):
        schema.check_summary(Path("r"), {**GOOD, "status": "x" * 200})


def test_record_problem_names_the_first_problem():
    types = {"n": ((int,), True), "names": ((list,), False), "flag": ((bool,), False)}
    assert schema.record_problem({"n": None, "names": ["a"], "flag": True}, types) is None
    assert schema.record_problem({}, types) is None
    assert schema.record_problem([1], types) == "not a JSON object but list"
    assert schema.record_problem({"a": 1}, types, required=("a", "b")) == "lacks the key 'b'"
    assert schema.record_problem({"n": 2.5}, types) == "'n' must be int or null, got '2.5'"
    assert schema.record_problem({"n": True}, types) == "'n' must be int or null, got 'True'"
    assert schema.record_problem({"names": ["a", 2]}, types) == \
        "'names' must be a list of strings, got int '2' at index 1"  # the element, not the list
    assert schema.record_problem({"names": None}, types) == "'names' must be list, got 'None'"
    assert schema.record_problem({"flag": 0}, types) == "'flag' must be bool, got '0'"
    assert schema.record_problem({"x": "1"}, {"x": ((int, float), False)}) == \
        "'x' must be int or float, got '1'"
    assert schema.record_problem({"n": "y" * 100}, types) == f"'n' must be int or null, got " \
                                                            f"{'y' * 80!r}"


needs_links = pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symbolic links")


@needs_links
def test_linked_and_link_below_find_the_first_link(tmp_path):
    outside = tmp_path / "outside"
    (outside / "deep").mkdir(parents=True)
    (outside / "s.json").write_text("{}")
    root = tmp_path / "results"
    (root / "runs" / "a").mkdir(parents=True)
    (root / "runs" / "a" / "summary.json").symlink_to(outside / "s.json")
    (root / "runs" / "b").symlink_to(outside)
    assert store.linked(root / "runs" / "a") is None
    assert store.linked(str(root / "runs" / "a"), ("config.json", "summary.json")) == \
        root / "runs" / "a" / "summary.json"
    assert store.linked(root / "runs" / "b", ("summary.json",)) == root / "runs" / "b"
    assert store.link_below(root, root / "runs" / "b" / "deep") == root / "runs" / "b"
    assert store.link_below(str(root), str(root / "runs" / "a")) is None
    assert store.link_below(root, root / "runs" / "a" / "summary.json") == \
        root / "runs" / "a" / "summary.json"
    # a path outside root: only itself is looked at
    assert store.link_below(root / "runs" / "a", root / "runs" / "b") == root / "runs" / "b"
    assert store.link_below(root / "runs" / "a", outside) is None


@needs_links
def test_the_reader_skips_linked_runs_and_a_linked_runs_folder_naming_the_link(tmp_path):
    outside = tmp_path / "elsewhere"
    _summary(outside / "x", **GOOD)
    root = tmp_path / "results"
    _summary(root / "runs" / "a", **GOOD)
    (root / "runs" / "b").symlink_to(outside / "x")
    _summary(root / "runs" / "c", **GOOD)
    (root / "runs" / "c" / store.CONFIG).symlink_to(outside / "x" / store.SUMMARY)
    msgs: list[str] = []
    got = store.load_summaries(root, warn=msgs.append)
    assert [Path(s["run_dir"]).name for s in got] == ["a"]
    tail = " is a symbolic link (results are read only from files inside the results folder)"
    assert msgs == [f"skipping run b: {root / 'runs' / 'b'}{tail}",
                    f"skipping run c: {root / 'runs' / 'c' / store.CONFIG}{tail}"]
    linked_root = tmp_path / "linked"
    (linked_root).mkdir()
    (linked_root / "runs").symlink_to(outside)
    msgs.clear()
    assert store.load_summaries(linked_root, warn=msgs.append) == []
    assert msgs == [f"skipping every run: {linked_root / 'runs'}{tail}"]
    assert store.load_summaries(tmp_path / "empty", warn=msgs.append) == [] and len(msgs) == 1
