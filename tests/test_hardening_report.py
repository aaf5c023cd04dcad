"""Issue 11, the reading side: reports never follow symbolic links out of the results folder,
results never decide what is imported, bad results and unwritable outputs give one line, and
names read from results are neither terminal escapes nor raw Markdown / HTML.

No test here trains: run folders are written by hand (``_fake_run``), and the one sweep that
starts (disk full) fails at its first write.
"""

from __future__ import annotations

import base64
import errno
import json
import os
import sys
from pathlib import Path

import pytest
from summaries import SUMMARY as BASE_SUMMARY

from memorybench import cli
from memorybench.errors import ConfigError, OutputError, printable
from memorybench.run import store

SUMMARY = dict(BASE_SUMMARY)


def _fake_run(results: Path, rid: str, config: dict | None = None, **fields) -> Path:
    """A complete run folder written by hand: summary, config and a two-row history."""
    folder = results / "runs" / rid
    folder.mkdir(parents=True)
    summary = {**SUMMARY, "run_id": rid, **fields}
    (folder / "summary.json").write_text(json.dumps(summary))
    cfg = config or {
        "task": {"name": summary["task"], "params": summary["task_params"]},
        "model": {"name": summary["model"], "units": 4, "layers": 1, "params": {}},
        "train": {"steps": 10, "lr": 0.01}, "seed": 0, "plugins": {}, "code": {},
    }
    (folder / "config.json").write_text(json.dumps(cfg))
    (folder / "history.csv").write_text(
        "step,seconds,train_loss,val_loss,val_metric,val_score\n5,0.5,0.2,0.2,0.2,-0.2\n"
        "10,1.0,0.1,0.08,0.08,0.5\n")
    return folder


def _cli(capsys, *args) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        cli.main(list(args))
    out, err = capsys.readouterr()
    return exc.value.code, out, err


def _one_line_error(err: str) -> str:
    lines = [x for x in err.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    return lines[0]


# -- 1. symbolic links out of the results folder ----------------------------------------------
@pytest.mark.parametrize("linked", ["report", "report/plots"])
def test_report_never_writes_or_deletes_through_a_linked_folder(tmp_path, capsys, linked):
    results = tmp_path / "results"
    _fake_run(results, "a" * 16)
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.png").write_bytes(b"not a plot")
    (victim / "keep.svg").write_text("<svg/>")
    link = results / linked
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(victim, target_is_directory=True)
    code, _, err = _cli(capsys, "report", "--out", str(results))
    assert code == 2
    line = _one_line_error(err)
    assert "symbolic link" in line and str(link) in line
    assert sorted(p.name for p in victim.iterdir()) == ["keep.png", "keep.svg"]
    assert (victim / "keep.png").read_bytes() == b"not a plot"


def test_report_embeds_no_linked_file_and_reads_no_linked_run(tmp_path, monkeypatch):
    from memorybench.report import plots

    # the report's own plots take seconds and are not the point here (the last test draws them)
    monkeypatch.setattr(plots, "all_plots", lambda runs, out, searches=(): [])
    results = tmp_path / "results"
    _fake_run(results, "a" * 16)
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"TOP-SECRET-CONTENT-0123456789")
    grad = results / "gradflow" / "adding_L10"
    grad.mkdir(parents=True)
    (grad / "gradflow.png").symlink_to(secret)
    # a real gradient-flow picture beside it is still embedded (a PNG from matplotlib)
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(1, 1))
    (results / "gradflow" / "copy_L5").mkdir()
    fig.savefig(results / "gradflow" / "copy_L5" / "gradflow.png")
    plt.close(fig)
    # a run folder that is a link, and one whose summary is a link, are not read
    elsewhere = _fake_run(tmp_path / "other", "b" * 16, model="gru")
    (results / "runs" / ("b" * 16)).symlink_to(elsewhere, target_is_directory=True)
    c = _fake_run(results, "c" * 16, model="simple_rnn")
    (c / "summary.json").unlink()
    (c / "summary.json").symlink_to(elsewhere / "summary.json")
    (results / "study.json").symlink_to(secret)

    from memorybench.report.html import make_report

    warnings: list[str] = []
    index = make_report(results, warn=warnings.append)
    page = index.read_text()
    assert base64.b64encode(secret.read_bytes()).decode() not in page
    assert page.count("data:image/png;base64,") == 1  # copy_L5's
    assert base64.b64encode((results / "gradflow" / "copy_L5" / "gradflow.png").read_bytes()
                            ).decode() in page
    joined = "\n".join(warnings)
    assert f"not embedded: {grad / 'gradflow.png'}" in joined
    assert str(results / "runs" / ("b" * 16)) in joined and str(c / "summary.json") in joined
    assert str(results / "study.json") in joined
    board = (results / "report" / "leaderboard.csv").read_text()
    assert "lstm" in board and "gru" not in board and "simple_rnn" not in board


def test_plots_replace_a_linked_file_instead_of_writing_through_it(tmp_path):
    import matplotlib.pyplot as plt

    from memorybench.report.plot_style import save_figure

    target = tmp_path / "target.png"
    target.write_bytes(b"keep me")
    path = tmp_path / "plot.png"
    path.symlink_to(target)
    fig = plt.figure(figsize=(1, 1))
    save_figure(fig, path, "png")
    plt.close(fig)
    assert target.read_bytes() == b"keep me"
    assert not path.is_symlink() and path.read_bytes().startswith(b"\x89PNG")


# -- 3. results never decide what is imported ------------------------------------------------
def _gradflow_run(tmp_path: Path, model: str, **cfg_extra) -> Path:
    folder = _fake_run(tmp_path / "results", "d" * 16, config={
        "task": {"name": "adding", "params": {"length": 10}},
        "model": {"name": model, "units": 4, "layers": 1, "params": {}},
        "train": {"steps": 10}, "seed": 0, "plugins": {}, "code": {}, **cfg_extra})
    (folder / "model.weights.h5").write_bytes(b"")
    return folder


def test_gradflow_run_never_imports_the_module_its_config_names(tmp_path, monkeypatch, capsys):
    marker = tmp_path / "imported"
    (tmp_path / "h1_results_payload.py").write_text(
        f"open({str(marker)!r}, 'w').write('ran')\nclass Cell:\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    folder = _gradflow_run(tmp_path, "h1_results_payload:Cell")
    code, _, err = _cli(capsys, "gradflow", "--task", "adding", "--length", "10",
                        "--run", str(folder), "--out", str(tmp_path / "g"))
    assert code == 2
    line = _one_line_error(err)
    assert "h1_results_payload:Cell" in line and "--models" in line
    assert not marker.exists() and "h1_results_payload" not in sys.modules
    # the same reference, named by the user, is theirs to import
    from memorybench.diagnostics.gradflow import read_run

    with pytest.raises(ConfigError, match="model.weights.h5|no model"):
        (folder / "model.weights.h5").unlink()
        read_run(folder, named=["h1_results_payload:Cell"])
    assert not marker.exists()  # read_run itself never imports


def test_gradflow_run_of_a_plugin_model_names_the_plugin_to_pass(tmp_path):
    from memorybench.diagnostics.gradflow import read_run

    folder = _gradflow_run(tmp_path, "h1_unknown_cell", plugins={"/p/my_cell.py": "ab12"},
                           code={"model": "ab12"})
    with pytest.raises(ConfigError, match=r"--plugin /p/my_cell\.py"):
        read_run(folder)
    ok = _gradflow_run(tmp_path / "x", "lstm")  # built-in names are fine
    assert read_run(ok).model == "lstm"


# -- 5. one line instead of a traceback ------------------------------------------------------
def test_task_show_with_a_huge_length_is_one_line(capsys):
    code, _, err = _cli(capsys, "task", "show", "adding", "--length", "1000000000000")
    assert code == 2
    line = _one_line_error(err)
    assert "GiB" in line and "at most 256 MiB" in line and "length <=" in line


@pytest.mark.parametrize("case", ["file", "read-only"])
def test_gradflow_out_is_checked_before_computing(tmp_path, monkeypatch, capsys, case):
    from memorybench.diagnostics import gradflow as diag
    from memorybench.report import gradflow

    def never(*a, **k):  # computing must not start
        raise AssertionError("gradient_flow ran before --out was checked")

    monkeypatch.setattr(diag, "gradient_flow", never)
    out = tmp_path / "out"
    if case == "file":
        out.write_text("x")
    else:
        out.mkdir()
        real = os.access
        monkeypatch.setattr(os, "access", lambda p, m, **k: False if Path(p) == out and (
            m & os.W_OK) else real(p, m, **k))  # as root, chmod would not stop a write
    code, _, err = _cli(capsys, "gradflow", "--task", "adding", "--models", "lstm",
                        "--length", "10", "--out", str(out))
    assert code == 2
    line = _one_line_error(err)
    assert str(out) in line and ("not a folder" in line if case == "file"
                                 else "not writable" in line)
    with pytest.raises(OutputError):  # the library call checks too (the study uses it)
        gradflow.run_gradflow("adding", ["lstm"], 10, out)


def test_gradflow_never_writes_through_a_linked_folder_below_the_results(tmp_path):
    from memorybench.report.gradflow import run_gradflow

    victim = tmp_path / "victim"
    victim.mkdir()
    (tmp_path / "results" / "gradflow").mkdir(parents=True)
    (tmp_path / "results" / "gradflow" / "adding_L10").symlink_to(victim)
    with pytest.raises(OutputError, match="symbolic link"):
        run_gradflow("adding", ["lstm"], 10, tmp_path / "results" / "gradflow" / "adding_L10",
                     root=tmp_path / "results")
    assert not list(victim.iterdir())


def test_report_into_a_full_disk_or_read_only_folder_is_one_line(tmp_path, monkeypatch, capsys):
    full_disk = tmp_path / "full"
    _fake_run(full_disk, "a" * 16)

    def full(path, data):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    with monkeypatch.context() as m:
        m.setattr(store, "write_bytes", full)
        code, _, err = _cli(capsys, "report", "--out", str(full_disk))
    assert code == 2
    line = _one_line_error(err)
    assert "no space left on device (ENOSPC)" in line and str(full_disk / "report") in line
    results = tmp_path / "results"
    _fake_run(results, "a" * 16)
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, m, **k: False if Path(p) == results and (
        m & os.W_OK) else real(p, m, **k))
    code, _, err = _cli(capsys, "report", "--out", str(results))
    assert code == 2
    assert "not writable" in _one_line_error(err)
    assert not (results / "report").exists()


def test_toml_profile_must_be_a_name(tmp_path, capsys):
    cfg = tmp_path / "sweep.toml"
    cfg.write_text('profile = ["smoke"]\n')
    code, _, err = _cli(capsys, "run", "--config", str(cfg), "--dry-run")
    assert code == 2
    assert "profile must be one name" in _one_line_error(err)


@pytest.mark.parametrize("field,value", [("length", "abc"), ("length", None),
                                         ("task", ["adding"]), ("units", [4]),
                                         ("score", "high"), ("solved", 1)])
def test_summaries_of_the_wrong_type_are_skipped_naming_file_and_key(tmp_path, field, value):
    results = tmp_path / "results"
    _fake_run(results, "a" * 16)
    bad = _fake_run(results, "b" * 16, model="gru", **{field: value})
    warnings: list[str] = []
    runs = list(store.iter_summaries(results, warn=warnings.append))
    assert [r["model"] for r in runs] == ["lstm"]
    assert len(warnings) == 1
    assert str(bad / "summary.json") in warnings[0] and repr(field) in warnings[0]


def test_search_and_study_records_of_the_wrong_shape_are_skipped_with_a_message(tmp_path):

    results = tmp_path / "results"
    (results / "searches").mkdir(parents=True)
    good = {"task": "adding", "model": "lstm", "largest_solved": 10, "smallest_failed": None,
            "hit_max": True, "probes": {}}
    (results / "searches" / "a.json").write_text(json.dumps(good))
    (results / "searches" / "b.json").write_text(json.dumps({"task": ["adding"], "model": "x"}))
    (results / "searches" / "c.json").write_text(json.dumps({**good, "probes": [1]}))
    (results / "study.json").write_text(json.dumps({"name": "why-lstm", "tasks": 5}))
    notes: list[str] = []
    assert store.load_searches(results, warn=notes.append) == [good]
    assert store.load_study(results, warn=notes.append) is None
    assert len(notes) == 3
    assert "b.json: 'task' must be str" in notes[0] and "c.json: 'probes'" in notes[1]
    assert "study.json: 'tasks' must be list" in notes[2]


def test_report_and_show_work_beside_bad_summaries_and_escape_hostile_names(tmp_path, capsys,
                                                                           monkeypatch):
    from memorybench.report import plots

    monkeypatch.setattr(plots, "all_plots", lambda runs, out, searches=(): [])  # seconds
    results = tmp_path / "results"
    _fake_run(results, "a" * 16)
    _fake_run(results, "b" * 16, model="<script>alert(1)</script>", seed=1)
    _fake_run(results, "c" * 16, model="\x1b]8;;http://evil\x07ansi\x1b[31mred\x1b[0m")
    _fake_run(results, "d" * 16, model="[click](http://evil)", task_params={
        "length": 10, "variant": "*bold*"})
    _fake_run(results, "e" * 16, length="abc")
    _fake_run(results, "f" * 16, task=["adding"])
    _fake_run(results, "g" * 16, units=[4], model="gru")
    code, out, err = _cli(capsys, "show", "--out", str(results))
    assert code == 0
    assert "\x1b" not in out and "\x07" not in out and "\x1b" not in err
    assert "ansired" in out and "<script>alert" in out  # shown, as text
    for rid, key in (("e", "length"), ("f", "task"), ("g", "units")):
        assert f"{rid * 16}/summary.json: {key!r}" in err
    code, out, err = _cli(capsys, "report", "--out", str(results))
    assert code == 0, err
    md = (results / "report" / "leaderboard.md").read_text()
    assert "<script>" not in md and "&lt;script&gt;alert(1)&lt;/script&gt;" in md
    assert "](http" not in md and "\x1b" not in md and "\\*bold\\*" in md
    page = (results / "report" / "index.html").read_text()
    assert "<script>alert" not in page


# -- 6. results that cannot be written -------------------------------------------------------
def test_run_into_a_folder_whose_runs_is_a_file_is_one_line(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "runs").write_text("not a folder")
    code, _, err = _cli(capsys, "run", "--profile", "smoke", "--tasks", "adding", "--models",
                        "lstm", "--out", str(out))
    assert code == 2
    line = _one_line_error(err)
    assert str(out / "runs") in line and "not a folder" in line


def test_run_on_a_full_disk_says_what_and_where(tmp_path, monkeypatch, capsys):
    def full(path, data):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(store, "write_bytes", full)
    out = tmp_path / "out"
    code, stdout, err = _cli(capsys, "run", "--profile", "smoke", "--tasks", "adding",
                             "--models", "lstm", "--out", str(out))
    assert code == 1
    text = printable(stdout)
    assert "traceback in their summary.json" not in text
    assert "could not be recorded" in text and "No space left on device" in text
    assert str(out / "runs") in text
    assert not list((out / "runs").glob("*/summary.json"))


def test_run_lines_strip_escapes_from_what_results_hold():
    from memorybench.run.progress import run_line

    hostile = {"task": "adding\x1b[2J", "length": 10, "model": "m\x1b]8;;http://x\x07y",
               "seed": 0, "status": "failed", "reason": "boom \x1b[31mred\x1b[0m\x07 end"}
    for skipped in (False, True):
        line = run_line(hostile, skipped=skipped)
        assert "\x1b" not in line and "\x07" not in line, repr(line)
        assert "adding" in line and "my" in line
    assert "boom red end" in run_line(hostile)
