"""A study end to end at a tiny scale: searches, gradient flow, the memory path's Jacobian of every
seed, the study record, and Findings that quote the memory path (seconds of training)."""

from __future__ import annotations

import json

import pytest

from memorybench import settings as S
from memorybench.report import mechanism as mech


def test_a_study_measures_the_memory_path_of_every_seed(tmp_path, tiny_study):
    from memorybench.report.html import make_report
    from memorybench.report.jacobian import plot_jacobians
    from memorybench.run.study import run_study

    record = run_study("tiny", "t", tmp_path, figures={"jacobian": plot_jacobians})
    assert record["jacobian_csv"] == "gradflow/jacobian_adding_L4_T6/jacobian.csv"
    assert record["steps"] == S.WHY_LSTM_STEPS[:1] and record["extend_rates"] == 0
    csv = (tmp_path / record["jacobian_csv"]).read_text().splitlines()
    rows = [dict(zip(csv[0].split(","), r.split(","), strict=True)) for r in csv[1:]]
    # every model, both seeds (at the chosen rate), at init and trained, lags 0..5
    assert {(r["model"], r["seed"], r["state"]) for r in rows} == {
        (m, s, st) for m in ("simple_rnn", "lstm") for s in ("0", "1")
        for st in ("init", "trained")}
    assert {r["path"] for r in rows if r["model"] == "lstm"} == {"h", "c", "x_marked"}
    assert {r["path"] for r in rows if r["model"] == "simple_rnn"} == {"h", "x_marked"}
    assert max(int(r["lag"]) for r in rows if r["path"] == "h") == 5
    assert (tmp_path / "gradflow" / "jacobian_adding_L4_T6" / "jacobian.png").is_file()
    assert json.loads((tmp_path / "study.json").read_text())["jacobian"]["length"] == 6

    make_report(tmp_path, warn=pytest.fail)
    md = (tmp_path / "report" / "findings.md").read_text()
    section = md.split("## The memory path", 1)[1].split("\n## ", 1)[0]
    assert "| jacobian_adding_L4_T6 | lstm | trained | 2 |" in section
    assert "| jacobian_adding_L4_T6 | simple_rnn | init | 2 | - | - |" in section  # no memory
    head = md.split("## Headline", 1)[1].split("\n## ", 1)[0]
    assert "memory path (jacobian_adding_L4_T6, lag 5): trained lstm keeps memory" in head
    assert "gradient flow (" not in head  # the memory path replaces it in the headline
    assert "## Gradient flow" in md  # which stays in the body
    page = (tmp_path / "report" / "index.html").read_text()
    assert "jacobian_adding_L4_T6" in page


def test_a_broken_jacobian_table_is_reported_and_skipped(tmp_path):
    d = tmp_path / "gradflow" / "jacobian_adding_L4_T6"
    d.mkdir(parents=True)
    (d / "jacobian.csv").write_text("not,a,jacobian\n1,2,3\n")
    said = []
    assert mech.memory_path(tmp_path, warn=said.append) == []
    assert len(said) == 1 and "not a jacobian.csv" in said[0]
    assert mech.memory_path(tmp_path / "nothing") is None


def test_a_fifo_named_jacobian_csv_is_skipped_not_waited_on(tmp_path):
    import os

    d = tmp_path / "gradflow" / "jacobian_adding_L4_T6"
    d.mkdir(parents=True)
    os.mkfifo(d / "jacobian.csv")
    said = []
    assert mech.memory_path(tmp_path, warn=said.append) == []  # returns: nothing blocks on it
    assert len(said) == 1 and "not a regular file" in said[0]
