"""The shipped why-LSTM results cannot drift from their data: the tables under
docs/results/why-lstm/report/ are re-rendered from the results the package ships
(memorybench/shipped/why-lstm-cpu/: run summaries, search records, study record, diagnostics)
and must be equal; the README quotes the shipped Findings."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from memorybench.report.html import report_tables
from memorybench.run import store

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "memorybench" / "shipped" / "why-lstm-cpu"  # package data
SHIPPED = ROOT / "docs" / "results" / "why-lstm"  # its notes and rendered report


def test_the_study_is_shipped_with_its_record():
    study = json.loads((DATA / "study.json").read_text())
    assert study["name"] == "why-lstm" and study["scale"] == "cpu"
    runs = list((DATA / "runs").glob("*/summary.json"))
    assert len(runs) >= 390  # the first round alone: 3 tasks x 13 models x 2 rates x 5 seeds
    assert all((p.parent / "config.json").is_file() for p in runs)
    assert not list(DATA.glob("runs/*/" + store.WEIGHTS)), "weights are not shipped"
    notes = (SHIPPED / "README.md").read_text()
    for key in ("command", "started_at", "machine", "memorybench_version"):
        assert str(study[key]) in notes, key
    assert f"{study['wall_seconds']:.0f} s" in notes


@pytest.mark.parametrize("name", ["leaderboard.csv", "leaderboard.md", "horizon.csv",
                                  "horizon.md", "findings.md", "leaderboard_all_rates.csv"])
def test_shipped_tables_equal_a_fresh_rendering(name):
    tables = report_tables(DATA)
    assert (SHIPPED / "report" / name).read_text() == tables[name], name


def test_the_readme_quotes_the_shipped_headline():
    findings = (SHIPPED / "report" / "findings.md").read_text()
    headline = findings.split("## Headline", 1)[1].split("\n## ", 1)[0].strip()
    readme = (ROOT / "README.md").read_text()
    quoted = re.search(r"<!-- why-lstm headline -->\n(.*?)\n<!-- /why-lstm headline -->",
                       readme, flags=re.S)
    assert quoted and quoted.group(1).strip() == headline
    for png in re.findall(r"\]\((docs/results/why-lstm/[^)]+\.png)\)", readme):
        assert (ROOT / png).is_file(), png


def test_the_readme_quotes_the_shipped_adding_table():
    findings = (SHIPPED / "report" / "findings.md").read_text()
    readme = (ROOT / "README.md").read_text()
    quoted = re.search(r"<!-- why-lstm adding -->\n(.*?)\n<!-- /why-lstm adding -->", readme,
                       flags=re.S)
    assert quoted and quoted.group(1).strip() in findings.split("## adding", 1)[1]
