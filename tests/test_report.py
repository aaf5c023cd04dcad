"""Reports on a real (tiny) sweep: files, aggregates, ranking, horizon, robustness, escaping."""

from __future__ import annotations

import json
import math
import re
import shutil
import statistics
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from memorybench.cli import main

TASKS = ("adding", "delayed_xor")
MODELS = ("simple_rnn", "lstm")
LENGTHS = (5, 10)
SEEDS = 2
PLOTS = ("learning_curves_adding_variant_half", "horizon_curves", "score_heatmap",
         "cost_vs_score")
EVIL = "<script>alert(1)</script>"


def cli(*args: str) -> int:
    """Run the CLI in-process; returns its exit status."""
    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in args])
    return exc.value.code


def real_sweep(base: Path) -> Path:
    """A real sweep through ``memorybench run`` (16 tiny runs), made once per session: the
    browser test imports this and finds the folder already there."""
    out = base / "sweep"
    done = out / ".done"
    if not done.exists():
        code = cli(
            "run", "--tasks", ",".join(TASKS), "--models", ",".join(MODELS),
            "--lengths", ",".join(map(str, LENGTHS)), "--seeds", SEEDS, "--out", out,
            "--set", "train.steps=20", "--set", "train.eval_every=10",
            "--set", "train.n_train=512", "--set", "train.n_val=128", "--set", "train.n_test=128",
            "--set", "train.lr=0.01", "--set", "model.units=8",
        )
        assert code == 0
        code = cli("report", "--results", out)
        assert code == 0
        done.touch()
    return out


@pytest.fixture(scope="session")
def sweep(tmp_path_factory) -> Path:
    return real_sweep(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="session")
def summaries(sweep) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(sweep.glob("runs/*/summary.json"))]


def _copy_runs(src: Path, dst: Path) -> Path:
    shutil.copytree(src / "runs", dst / "runs")
    return dst


def _edit(run_dir: Path, **changes) -> None:
    path = run_dir / "summary.json"
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))


def _find(results: Path, **match) -> list[Path]:
    out = []
    for p in sorted(results.glob("runs/*/summary.json")):
        s = json.loads(p.read_text())
        if all(s.get(k) == v for k, v in match.items()):
            out.append(p.parent)
    return out


@pytest.fixture(scope="session")
def derived(sweep, tmp_path_factory, summaries):
    """A copy of the real sweep edited for the cases a tiny sweep cannot produce: a corrupt
    summary, a model named like a script, a tie in score, a solved pattern for the horizon."""
    root = _copy_runs(sweep, tmp_path_factory.mktemp("derived"))
    # horizon: lstm solves adding at L=5 (both seeds) and L=10 (one seed of two: no majority)
    for seed in range(SEEDS):
        _edit(_find(root, task="adding", model="lstm", length=5, seed=seed)[0], solved=True,
              steps_to_solve=10 + seed, seconds_to_solve=1.0 + seed)
    _edit(_find(root, task="adding", model="lstm", length=10, seed=0)[0], solved=True,
          steps_to_solve=20, seconds_to_solve=2.0)
    # tie: delayed_xor L=5, both models score 0.5 on every seed; simple_rnn is smaller
    for d in _find(root, task="delayed_xor", length=5):
        _edit(d, score=0.5, test_metric=0.75)
    # a model named like a script: a copy of a real run under a new id
    src = _find(root, task="adding", model="simple_rnn", length=10, seed=0)[0]
    evil = root / "runs" / "0123456789abcdef"
    shutil.copytree(src, evil)
    _edit(evil, model=EVIL, run_id=evil.name)
    cfg = json.loads((evil / "config.json").read_text())
    cfg["model"]["name"] = EVIL
    (evil / "config.json").write_text(json.dumps(cfg))
    # a corrupt (half-written) summary
    half = _find(root, task="delayed_xor", model="lstm", length=10, seed=1)[0]
    text = (half / "summary.json").read_text()
    (half / "summary.json").write_text(text[: len(text) // 2])
    return root, half.name


@pytest.fixture(scope="session")
def derived_report(derived, tmp_path_factory):
    import warnings

    from memorybench.report.html import make_report

    root, half = derived
    notes: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the report warns through its callback only
        index = make_report(root, warn=notes.append)
    return root, half, index, notes


# -- every file, and the files are good -----------------------------------------------------
def test_every_file_is_written(sweep):
    rep = sweep / "report"
    for name in ("leaderboard.csv", "leaderboard.md", "horizon.csv", "horizon.md", "index.html"):
        assert (rep / name).stat().st_size > 0, name
    for name in (*PLOTS, "learning_curves_delayed_xor_scored_steps_32_variant_marked"):
        for ext in ("png", "svg"):
            assert (rep / "plots" / f"{name}.{ext}").stat().st_size > 1000, f"{name}.{ext}"


def test_pngs_decode_and_are_not_blank(sweep):
    import matplotlib.image as mpimg

    pngs = sorted((sweep / "report" / "plots").glob("*.png"))
    assert len(pngs) >= 5
    for png in pngs:
        img = mpimg.imread(png)
        assert img.ndim == 3 and img.shape[0] > 100 and img.shape[1] > 100, png.name
        assert img[..., :3].var() > 0, png.name
        rgb = (img[..., :3] * 255).round().astype(np.uint32)
        colours = np.unique(rgb[..., 0] << 16 | rgb[..., 1] << 8 | rgb[..., 2])
        assert len(colours) > 10, png.name  # lines, text, bands: far more than one colour


def test_svgs_are_svg(sweep):
    for svg in (sweep / "report" / "plots").glob("*.svg"):
        root = ET.parse(svg).getroot()
        assert root.tag.endswith("svg"), svg.name


def test_leaderboard_csv_equals_direct_aggregates(sweep, summaries):
    board = pd.read_csv(sweep / "report" / "leaderboard.csv")
    assert len(board) == len(TASKS) * len(LENGTHS) * len(MODELS)
    groups: dict[tuple, list[dict]] = {}
    for s in summaries:
        groups.setdefault((s["task"], s["length"], s["model"]), []).append(s)
    assert len(groups) == len(board)
    for (task, length, model), ss in groups.items():
        row = board[(board.task == task) & (board.length == length) & (board.model == model)]
        assert len(row) == 1
        row = row.iloc[0]
        metrics = [s["test_metric"] for s in ss]
        assert row.n_seeds == len(ss) == SEEDS
        assert row.metric == ss[0]["metric"]
        assert row.params == ss[0]["params"]
        assert math.isclose(row.metric_mean, statistics.fmean(metrics), rel_tol=1e-9)
        assert math.isclose(row.metric_std, statistics.stdev(metrics), rel_tol=1e-9,
                            abs_tol=1e-12)
        assert math.isclose(row.score_mean, statistics.fmean(s["score"] for s in ss),
                            rel_tol=1e-9, abs_tol=1e-12)
        assert row.solved_frac == sum(s["solved"] for s in ss) / len(ss)
        assert math.isclose(row.throughput, statistics.fmean(s["throughput"] for s in ss),
                            rel_tol=1e-9)
        assert row.n_failed == sum(s["status"] == "failed" for s in ss)
        assert row.dataset == "synthetic"


def test_ranking_is_score_desc(sweep):
    board = pd.read_csv(sweep / "report" / "leaderboard.csv")
    for _, block in board.groupby(["dataset", "task", "variant", "length"]):
        assert list(block["rank"]) == list(range(1, len(block) + 1))
        scores = block["score_mean"].to_numpy()
        assert (np.diff(scores) <= 1e-12).all(), block[["model", "score_mean"]]


def test_markdown_follows_csv(sweep):
    board = pd.read_csv(sweep / "report" / "leaderboard.csv")
    md = (sweep / "report" / "leaderboard.md").read_text()
    for task, length in {(t, n) for t, n in zip(board.task, board.length, strict=True)}:
        assert re.search(rf"## {task} .*length {length}, dataset synthetic", md)
    first = board.iloc[0]
    assert f"| 1 | {first.model} | {first.params} |" in md


def test_tie_breaks_on_fewer_params(derived_report):
    root = derived_report[0]
    board = pd.read_csv(root / "report" / "leaderboard.csv")
    block = board[(board.task == "delayed_xor") & (board.length == 5)].sort_values("rank")
    assert list(block.score_mean) == [0.5, 0.5]
    assert block.params.is_monotonic_increasing
    assert list(block.model) == ["simple_rnn", "lstm"]  # the smaller model first


def test_horizon_is_largest_majority_solved_length(derived_report):
    root = derived_report[0]
    hor = pd.read_csv(root / "report" / "horizon.csv", keep_default_na=False)
    adding = hor[hor.task == "adding"].set_index("model")
    assert adding.loc["lstm", "horizon"] == "5"  # L=10: one seed of two is no majority
    assert adding.loc["lstm", "solved_lengths"] == "5"
    assert adding.loc["lstm", "lengths"] == "5,10"
    assert adding.loc["simple_rnn", "horizon"] == ""  # nothing solved
    md = (root / "report" / "horizon.md").read_text()
    assert re.search(r"\| lstm \| \d+ \| 5 \| 5,10 \| 5 \| 2 \|", md)
    assert re.search(r"\| simple_rnn \| \d+ \| - \| 5,10 \| - \| 2 \|", md)
    board = pd.read_csv(root / "report" / "leaderboard.csv")
    row = board[(board.task == "adding") & (board.length == 5) & (board.model == "lstm")].iloc[0]
    assert row.solved_frac == 1.0
    assert row.steps_to_solve_median == 10.5 and row.seconds_to_solve_median == 1.5


def test_corrupt_summary_is_skipped_with_a_warning(derived_report):
    root, half, _, notes = derived_report
    assert any(half in n and "summary.json" in n for n in notes), notes
    board = pd.read_csv(root / "report" / "leaderboard.csv")
    row = board[(board.task == "delayed_xor") & (board.length == 10) & (board.model == "lstm")]
    assert int(row.n_seeds.iloc[0]) == SEEDS - 1


def test_corrupt_summary_warning_on_the_cli(derived, capsys):
    root, half = derived
    assert cli("show", "--results", root) == 0
    err = capsys.readouterr().err
    assert "warning: skipping run" in err and half in err


def test_script_model_name_is_escaped(derived_report):
    root, _, index, _ = derived_report
    page = index.read_text()
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    board = pd.read_csv(root / "report" / "leaderboard.csv")
    assert EVIL in set(board.model)  # the CSV keeps the real name


def test_html_is_self_contained(sweep):
    page = (sweep / "report" / "index.html").read_text()
    assert page.count("<table") == len(TASKS) * len(LENGTHS) + len(TASKS)
    imgs = re.findall(r'<img src="([^"]*)"', page)
    assert len(imgs) == len(list((sweep / "report" / "plots").glob("*.png")))
    assert all(src.startswith("data:image/png;base64,") for src in imgs)
    # nothing fetched from elsewhere: no external scripts, styles, fonts or images
    assert not re.search(r"<script|<link|@import|url\(|src=\"(?!data:)", page)


def test_show_prints_the_leaderboard(sweep, capsys):
    assert cli("show", "--results", sweep, "--task", "adding") == 0
    out = capsys.readouterr().out
    assert "adding (variant=half), length 5" in out and "length 10" in out
    assert "simple_rnn" in out and "lstm" in out and "delayed_xor" not in out


def test_report_and_show_do_not_import_tensorflow(sweep, tmp_path):
    results = _copy_runs(sweep, tmp_path)
    code = (
        "import sys\n"
        "from memorybench.cli import main\n"
        "for argv in (['report', '--results', sys.argv[1]], ['show', '--results', sys.argv[1]]):\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit as e:\n"
        "        assert e.code == 0, e.code\n"
        "print('TF' if 'tensorflow' in sys.modules or 'keras' in sys.modules else 'noTF')\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(results)], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "noTF"
    assert (results / "report" / "index.html").exists()


def test_open_uses_a_browser_when_there_is_one(sweep, monkeypatch):
    import webbrowser

    from memorybench.report.html import open_in_browser

    index = sweep / "report" / "index.html"
    opened = []

    class Fake:
        def open(self, url):
            opened.append(url)
            return True

    monkeypatch.setattr(webbrowser, "get", lambda *a: Fake())
    assert open_in_browser(index, warn=pytest.fail)
    assert opened == [index.resolve().as_uri()]

    def none(*a):
        raise webbrowser.Error("could not locate runnable browser")

    notes = []
    monkeypatch.setattr(webbrowser, "get", none)
    assert open_in_browser(index, warn=notes.append) is False
    assert "no web browser" in notes[0]


def test_bad_results_folder_is_one_line_error(tmp_path, capsys):
    assert cli("report", "--results", tmp_path / "nope") == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "nope" in err and len(err.strip().splitlines()) == 1
    (tmp_path / "empty" / "runs").mkdir(parents=True)
    assert cli("show", "--results", tmp_path / "empty") == 2
    assert "no completed runs" in capsys.readouterr().err


def test_datasets_are_never_ranked_together(summaries):
    from memorybench.report.leaderboard import horizons, leaderboard

    base = [s for s in summaries if s["task"] == "adding" and s["length"] == 5]
    runs = [{**s, "dataset": ds} for s in base for ds in ("mnist", "mnist-5k")]
    board = leaderboard(runs)
    assert set(board.dataset) == {"mnist", "mnist-5k"}
    for _, block in board.groupby("dataset"):
        assert sorted(block["rank"]) == list(range(1, len(MODELS) + 1))
        assert (block.n_seeds == SEEDS).all()
    assert len(horizons(runs)) == 2 * len(MODELS)
