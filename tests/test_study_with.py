"""`memorybench study NAME --with MODEL`: a model added beside a study's results trains alone,
with the study's settings, and the report ranks it among the study's models. A tiny study
(conftest's ``tiny_study``: two models, adding at L=4, seconds of training) stands in for the
shipped one; the shipped results themselves are checked against today's run ids."""

from __future__ import annotations

import json
import shlex
import shutil
from pathlib import Path

import pandas as pd
import pytest

from memorybench import settings as S
from memorybench.cli import main
from memorybench.errors import ConfigError
from memorybench.registry import load_plugin
from memorybench.run import store

ROOT = Path(__file__).resolve().parent.parent
PLUGIN = ROOT / "examples" / "plugins" / "my_cell.py"  # registers my_cell (loading it twice is
# a no-op)


@pytest.fixture(scope="module")
def made_study(tmp_path_factory):
    """The tiny study, run once for this file (its runs are the same for every test)."""
    from conftest import tiny_study_definition

    from memorybench.run.study import run_study

    src = tmp_path_factory.mktemp("made") / "study"
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(S.STUDIES, "tiny", tiny_study_definition())
        run_study("tiny", "t", src)
    return src


@pytest.fixture
def study_folder(tmp_path, tiny_study, made_study):
    """A copy of the tiny study's results in tmp_path/study, a test's own to change (added
    models are tested against lstm)."""
    tiny_study["added_against"] = ["lstm", "gru"]  # gru is not in it: only lstm is kept
    src = tmp_path / "study"
    shutil.copytree(made_study, src)
    load_plugin(PLUGIN)
    return src


def _summaries(folder: Path) -> dict[str, str]:
    return {p.parent.name: p.read_text() for p in (folder / "runs").glob("*/summary.json")}


def test_with_trains_only_the_added_model_and_the_report_ranks_it(tmp_path, study_folder):
    import memorybench as mb
    from memorybench.run.study import run_study

    out = tmp_path / "mine"  # mb.study: `memorybench study` from Python, report included
    record = mb.study("tiny", "t", out, add="my_cell", plugins=[PLUGIN], source=study_folder,
                      echo=None, warn=pytest.fail)
    assert record["report"] == out / "report" / "index.html" and record["report"].is_file()
    before, after = _summaries(study_folder), _summaries(out)
    new = {rid: json.loads(s) for rid, s in after.items() if rid not in before}
    # 2 seeds x 2 rates at the one length: the added model's runs, and nothing else trained
    assert len(new) == 4 and {s["model"] for s in new.values()} == {"my_cell"}
    assert all(after[rid] == s for rid, s in before.items())  # the study's runs, as they were
    assert not list(out.glob("runs/*/" + store.WEIGHTS)) or all(
        json.loads((p.parent / store.SUMMARY).read_text())["model"] == "my_cell"
        for p in out.glob("runs/*/" + store.WEIGHTS))  # weights only of what trained here
    assert record["models"] == ["simple_rnn", "lstm", "my_cell"]
    assert record["added"] == [{"model": "my_cell", "source": str(PLUGIN)}]
    assert record["added_against"] == ["lstm"] and record["copied_from"] == str(study_folder)
    # the diagnostics: the study's rows kept, the added model's computed
    grad = (out / record["gradflow_csv"]).read_text()
    assert {line.split(",")[0] for line in grad.splitlines()[1:]} == {
        "simple_rnn", "lstm", "my_cell"}
    jac = (out / record["jacobian_csv"]).read_text()
    assert {line.split(",")[0] for line in jac.splitlines()[1:]} == {
        "simple_rnn", "lstm", "my_cell"}

    md = (out / "report" / "findings.md").read_text()
    added = md.split("## Added models", 1)[1].split("\n## ", 1)[0]
    assert f"registered by my_cell: {PLUGIN}" in added
    assert "| model | task | median horizon (interval, coverage) | bracket | against lstm |" \
        in added
    row = next(line for line in added.splitlines() if line.startswith("| my_cell | adding |"))
    assert "p = " in row.split("|")[-2]  # the contrast with lstm carries its test
    head = md.split("## Headline", 1)[1].split("\n## ", 1)[0]
    assert "adding: my_cell (added) median horizon" in head and "against lstm:" in head
    horizon = pd.read_csv(out / "report" / "horizon.csv")
    assert {"simple_rnn", "lstm", "my_cell"} <= set(horizon["model"])
    board = (out / "report" / "leaderboard.md").read_text()
    assert "my_cell" in board and "simple_rnn" in board and "| lstm |" in board

    # again on the same folder: nothing left to train, nothing copied twice
    again = run_study("tiny", "t", out, add=["my_cell"], source=study_folder)
    assert _summaries(out) == after and again["models"] == record["models"]


def test_a_model_already_in_the_study_is_refused(tmp_path, study_folder):
    from memorybench.run.study import run_study

    out = tmp_path / "mine"
    with pytest.raises(ConfigError, match="lstm is already in the study tiny"):
        run_study("tiny", "t", out, add=["lstm"], source=study_folder)
    with pytest.raises(ConfigError, match="unknown model 'no_such_cell'; known: .*my_cell"):
        run_study("tiny", "t", out, add=["no_such_cell"], source=study_folder)
    assert not out.exists()


def test_other_settings_are_refused_unless_the_baselines_retrain(tmp_path, study_folder):
    from memorybench.run.study import run_study

    out = tmp_path / "mine"
    with pytest.raises(ConfigError, match=r"other settings \(train.steps 20 there, 30 here\)"
                       r".*--retrain-baselines"):
        run_study("tiny", "t", out, sets={"train.steps": 30}, add=["my_cell"],
                  source=study_folder)
    assert not out.exists()  # refused before anything was copied
    record = run_study("tiny", "t", out, sets={"train.steps": 30}, add=["my_cell"],
                       source=study_folder, retrain_baselines=True)
    trained = [json.loads(s) for rid, s in _summaries(out).items()
               if rid not in _summaries(study_folder)]
    # every model trained again at 30 steps; the 20-step runs stay beside them, apart by run id
    assert {s["model"] for s in trained} == {"simple_rnn", "lstm", "my_cell"}
    assert record["settings"]["train.steps"] == 30


def test_runs_of_another_version_are_refused(tmp_path, study_folder):
    """Same settings on record, but a first-round run missing (another version made other run
    ids): refused, with the way out."""
    from memorybench.run.study import run_study

    victim = next((study_folder / "runs").iterdir())
    (victim / store.SUMMARY).unlink()
    with pytest.raises(ConfigError, match="1 of the 8 first-round runs .* another version"):
        run_study("tiny", "t", tmp_path / "mine", add=["my_cell"], source=study_folder)


def test_without_any_results_to_add_to_the_error_says_what_to_run(tmp_path, tiny_study):
    from memorybench.run.study import run_study

    load_plugin(PLUGIN)
    with pytest.raises(ConfigError, match="no results of study tiny at scale t to add to.*"
                       "memorybench study tiny --scale t --out"):
        run_study("tiny", "t", tmp_path / "mine", add=["my_cell"])


def test_the_cli_dry_run_lists_only_the_added_models_runs(tmp_path, study_folder, capsys):
    args = ["study", "tiny", "--scale", "t", "--with", "my_cell", "--plugin", str(PLUGIN),
            "--from", str(study_folder), "--out", str(tmp_path / "mine"), "--dry-run"]
    with pytest.raises(SystemExit) as exc:
        main(args)
    out = capsys.readouterr().out
    assert exc.value.code == 0, out
    assert "training only my_cell" in out and "4 runs, 4 to run, 0 complete" in out
    with pytest.raises(SystemExit) as exc:
        main([*args[:5], "lstm", *args[6:]])
    assert exc.value.code == 2
    assert "already in the study" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["study", "tiny", "--scale", "t", "--from", str(study_folder), "--dry-run"])
    assert exc.value.code == 2
    assert "--from and --retrain-baselines go with --with" in capsys.readouterr().err


def test_the_demo_ends_with_the_command_that_adds_your_cell(tmp_path, tiny_study, capsys,
                                                            monkeypatch):
    """The demo's last line is one command; run as printed, it adds my_cell to the demo."""
    tiny_study["scales"]["demo"] = tiny_study["scales"]["t"]
    monkeypatch.chdir(ROOT)  # the printed plugin path is relative to the repository
    demo = tmp_path / "demo"
    with pytest.raises(SystemExit) as exc:
        main(["study", "tiny", "--scale", "demo", "--out", str(demo)])
    lines = capsys.readouterr().out.strip().splitlines()
    assert exc.value.code == 0
    assert lines[-1].startswith("add your own cell: memorybench study tiny --scale demo --with "
                                "my_cell --plugin examples/plugins/my_cell.py")
    command = shlex.split(lines[-1].split(": ", 1)[1])
    with pytest.raises(SystemExit) as exc:
        main(command[1:])
    out = capsys.readouterr().out
    assert exc.value.code == 0, out
    mine = Path(command[command.index("--out") + 1])
    assert (mine / "report" / "findings.md").read_text().count("my_cell (added)") == 1


def test_the_shipped_study_matches_todays_run_ids():
    """The shipped CPU-scale results are the study at today's settings and run ids: `study
    why-lstm --scale cpu --with NAME` reuses every one of them (this fails when a change of
    settings or of the run id needs the shipped study made again)."""
    from memorybench.run.study import check_same_study, shipped

    folder = shipped("why-lstm", "cpu")
    assert folder is not None and not list(folder.glob("runs/*/" + store.WEIGHTS))
    st = S.study("why-lstm", "cpu")
    check_same_study(st, st["settings"], folder)
    assert shipped("why-lstm", "demo") is None
