"""memorybench merge: the union of results folders by run id, from fixture folders (no training)."""

from __future__ import annotations

import json
import shutil

import pytest
from test_report import write_study_runs

from memorybench.errors import ConfigError
from memorybench.report.html import report_tables
from memorybench.run.merge import merge

TABLES = ("leaderboard.csv", "leaderboard_all_rates.csv", "horizon.csv", "findings.md")


def split(tmp_path):
    """One folder of three models' runs and its two halves: A (simple_rnn, lstm, the search
    record), B (gru); both hold the same study.json."""
    whole = write_study_runs(tmp_path / "all", ["simple_rnn", "lstm", "gru"])
    (whole / "searches").mkdir()
    (whole / "searches" / "adding__lstm__x.json").write_text(json.dumps(
        {"task": "adding", "model": "lstm", "hit_max": True}))
    (whole / "study.json").write_text(json.dumps({"name": "s", "scale": "t"}))
    a, b = tmp_path / "a", tmp_path / "b"
    for d in (a, b):
        (d / "runs").mkdir(parents=True)
        shutil.copy(whole / "study.json", d / "study.json")
    shutil.copytree(whole / "searches", a / "searches")
    for run in (whole / "runs").iterdir():
        model = json.loads((run / "summary.json").read_text())["model"]
        shutil.copytree(run, (b if model == "gru" else a) / "runs" / run.name)
    return whole, a, b


def test_a_merge_of_disjoint_folders_reports_as_the_one_folder(tmp_path):
    whole, a, b = split(tmp_path)
    got = merge([a, b], tmp_path / "c")
    assert got.runs == len(list((whole / "runs").iterdir())) and got.duplicates == 1  # study
    mine, theirs = report_tables(tmp_path / "c"), report_tables(whole)
    for name in TABLES:
        assert mine[name] == theirs[name], name


def test_identical_duplicates_are_kept_once_and_conflicts_refused_unless_preferred(tmp_path,
                                                                                   capsys):
    from memorybench.cli import main

    _, a, b = split(tmp_path)
    run = next((a / "runs").iterdir())
    shutil.copytree(run, b / "runs" / run.name)  # the same run in both: identical
    got = merge([a, b], tmp_path / "c")
    assert got.duplicates == 2 and (tmp_path / "c" / "runs" / run.name).is_dir()

    summary = json.loads((b / "runs" / run.name / "summary.json").read_text())
    (b / "runs" / run.name / "summary.json").write_text(json.dumps(
        {**summary, "test_metric": 0.123}))
    with pytest.raises(ConfigError, match=f"1 conflict.*run {run.name}.*--prefer"):
        merge([a, b], tmp_path / "d")
    assert not (tmp_path / "d").exists()  # nothing written
    with pytest.raises(SystemExit) as exc:
        main(["merge", str(a), str(b), "--out", str(tmp_path / "d")])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.count("\n") == 1 and run.name in err
    # --prefer 2: b's version wins, a's is left out
    main_ok = merge([a, b], tmp_path / "e", prefer=1)
    assert main_ok.overridden == 1
    kept = json.loads((tmp_path / "e" / "runs" / run.name / "summary.json").read_text())
    assert kept["test_metric"] == 0.123


def test_merge_refuses_what_it_would_overwrite_or_cannot_read(tmp_path):
    _, a, b = split(tmp_path)
    with pytest.raises(ConfigError, match="is one of the sources"):
        merge([a, b], a)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(ConfigError, match="exists and is not empty"):
        merge([a, b], tmp_path / "full")
    with pytest.raises(ConfigError, match="not a results folder"):
        merge([a, tmp_path / "nothing"], tmp_path / "c")
    with pytest.raises(ConfigError, match="--prefer 3 is not allowed; allowed: 1 to 2"):
        merge([a, b], tmp_path / "c", prefer=2)
    # a run folder linked out of a source is not followed
    (b / "runs" / "linked").symlink_to(next((a / "runs").iterdir()))
    got = merge([a, b], tmp_path / "c")
    assert any("symbolic link" in s for s in got.skipped)
    assert not (tmp_path / "c" / "runs" / "linked").exists()
