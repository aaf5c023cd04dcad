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
        code = cli("report", "--out", out)
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
    plots = sweep / "report" / "plots"
    svgs = sorted(plots.glob("*.svg"))
    assert len(svgs) >= len(PLOTS)  # every plot has its SVG beside its PNG
    assert {p.stem for p in svgs} == {p.stem for p in plots.glob("*.png")}
    for svg in svgs:
        root = ET.parse(svg).getroot()
        assert root.tag == "{http://www.w3.org/2000/svg}svg", svg.name
        assert sum(1 for _ in root.iter("{http://www.w3.org/2000/svg}path")) > 10, svg.name


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
    # model | params | units | horizon | bracket | lengths run | lengths solved | chosen lr | seeds
    assert re.search(r"\| lstm \| \d+ \| 8 \| 5 \| \[5, 10\) \| 5,10 \| 5 \| [^|]+ \| 2 \|", md)
    assert re.search(r"\| simple_rnn \| \d+ \| 8 \| - \| \[-, 5\) \| 5,10 \| - \| [^|]+ \| 2 \|",
                     md)
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
    assert cli("show", "--out", root) == 0
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
    assert page.count('<table class="leaderboard"') == len(TASKS) * len(LENGTHS)
    assert page.count('<table class="horizon"') == len(TASKS)
    imgs = re.findall(r'<img src="([^"]*)"', page)
    assert len(imgs) == len(list((sweep / "report" / "plots").glob("*.png")))
    assert all(src.startswith("data:image/png;base64,") for src in imgs)
    # nothing fetched from elsewhere: no external scripts, styles, fonts or images
    assert not re.search(r"<script|<link|@import|url\(|src=\"(?!data:)", page)


def test_show_prints_the_leaderboard(sweep, capsys):
    assert cli("show", "--out", sweep, "--task", "adding") == 0
    out = capsys.readouterr().out
    assert "adding (variant=half), length 5" in out and "length 10" in out
    assert "simple_rnn" in out and "lstm" in out and "delayed_xor" not in out


def test_report_and_show_do_not_import_tensorflow(sweep, tmp_path):
    results = _copy_runs(sweep, tmp_path)
    code = (
        "import sys\n"
        "from memorybench.cli import main\n"
        "for argv in (['report', '--out', sys.argv[1]], ['show', '--out', sys.argv[1]]):\n"
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
    assert cli("report", "--out", tmp_path / "nope") == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "nope" in err and len(err.strip().splitlines()) == 1
    (tmp_path / "empty" / "runs").mkdir(parents=True)
    assert cli("show", "--out", tmp_path / "empty") == 2
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


# -- study scale: fixture runs (no training) ------------------------------------------------------
STUDY_TASKS = {  # task: (metric, higher is better, chance, solved at, lengths, units, steps)
    "adding": ("mse", False, 1 / 6, 0.01, (25, 50, 100, 200, 400), 73, 1000),
    "delayed_xor": ("accuracy", True, 0.5, 0.99, (12, 24, 48, 96), 72, 1000),
    "copy_memory": ("accuracy", True, 0.125, 0.99, (5, 10, 20, 40), 68, 1500),
}


def write_study_runs(root: Path, models: list[str], seeds: int = 2,
                     lrs: tuple[float, ...] = (3e-3, 1e-2)) -> Path:
    """Run folders shaped like a horizon-search study at ``--match-params``: every model has its
    own units per task, each probed length runs every rate and seed, a model is probed up to the
    first length it fails, two training settings (copy memory trains longer)."""
    from memorybench.run import store

    rng = np.random.default_rng(0)
    n = 0
    for mi, model in enumerate(models):
        for task, (metric, higher, chance, solved_at, lengths, units, steps) in \
                STUDY_TASKS.items():
            reach = int(rng.integers(0, len(lengths) + 1))  # lengths[:reach] are solved
            for li, length in enumerate(lengths[:reach + 1]):
                for lr in lrs:
                    good = lr == lrs[-1]  # the larger rate does better on validation
                    for seed in range(seeds):
                        solved = li < reach and good
                        frac = (1.0 if solved else 0.7 if li < reach
                                else max(0.0, 0.6 - 0.25 * (li - reach)) * (1 - 0.1 * seed))
                        val = (chance * (1 - frac) + 0.005 if not higher
                               else chance + (1 - chance) * frac)
                        score = 1 - val / chance if not higher else (val - chance) / (1 - chance)
                        run_id = f"{n:016x}"
                        n += 1
                        d = root / "runs" / run_id
                        d.mkdir(parents=True)
                        u = units - mi % 3  # --match-params: units vary with the cell too
                        train = {"steps": steps, "batch_size": 64, "lr": lr, "eval_every": 100}
                        store.write_json(d / "config.json", {
                            "task": {"name": task, "params": {"length": length}},
                            "model": {"name": model, "units": u, "layers": 1, "params": {}},
                            "train": train})
                        hist = ["step,seconds,train_loss,val_loss,val_metric,val_score"]
                        for k, step in enumerate(range(100, steps + 1, 100)):
                            t = (k + 1) / (steps // 100)
                            v = (chance + (val - chance) * t) * (1 + 0.02 * seed)
                            hist.append(f"{step},{step / 100},{v},{v},{v},{score * t}")
                        (d / "history.csv").write_text("\n".join(hist) + "\n")
                        store.write_json(d / "summary.json", {
                            "run_id": run_id, "status": "completed", "task": task,
                            "length": length, "task_params": {"length": length},
                            "dataset": "synthetic", "model": model, "units": u, "layers": 1,
                            "seed": seed, "metric": metric, "higher_is_better": higher,
                            "chance": chance, "solved_at": solved_at, "test_metric": val,
                            "val_metric": val, "score": score, "solved": solved,
                            "steps_to_solve": 500 if solved else None,
                            "seconds_to_solve": 5.0 if solved else None,
                            "params": 17000 - 10 * mi, "throughput": 1000.0 + mi,
                            "wall_seconds": 20.0 + length / 10 + mi, "lr": lr,
                            "device": "cpu"})
    return root


@pytest.fixture(scope="session")
def study_report(tmp_path_factory):
    from memorybench.report.html import make_report

    root = write_study_runs(tmp_path_factory.mktemp("study"),
                            ["simple_rnn", "lstm", "gru", EVIL + "$x$"])
    return root, make_report(root, warn=pytest.fail)


def test_a_model_is_its_name_and_units_are_a_column(study_report):
    root, index = study_report
    rep = root / "report"
    for name in ("leaderboard.md", "horizon.md", "findings.md"):
        md = (rep / name).read_text()
        assert not re.search(r"\d+u\b", md), name  # --match-params: units differ per task
    md = (rep / "leaderboard.md").read_text()
    assert "| rank | model | params | units | lr |" in md
    assert re.search(r"\| \d \| gru \| 1\d{4} \| 7[0-3] \|", md)
    hor = (rep / "horizon.md").read_text()
    assert "| model | params | units | horizon | bracket |" in hor
    # the plots name models the same way: SVG text stays text, so the names are in the file
    svg = (rep / "plots" / "horizon_chart.svg").read_text()
    texts = {"".join(t.itertext()).strip() for t in ET.fromstring(svg).iter(
        "{http://www.w3.org/2000/svg}text")}
    assert {"simple_rnn", "lstm", "gru", EVIL + "$x$"} <= texts, texts
    assert not any(re.search(r"\(\d+u\)|\[\d+u\]", t) for t in texts)
    heat = ET.parse(rep / "plots" / "score_heatmap.svg").getroot()
    labels = {"".join(t.itertext()).strip() for t in heat.iter(
        "{http://www.w3.org/2000/svg}text")}
    assert {"simple_rnn", "lstm", "gru"} <= labels
    assert {"25", "50", "5", "12"} <= labels  # lengths are the columns


def test_svg_text_is_text(study_report):
    root, _ = study_report
    for svg in (root / "report" / "plots").glob("*.svg"):
        tree = ET.parse(svg).getroot()  # an evil model name is still well-formed XML
        assert any(True for _ in tree.iter("{http://www.w3.org/2000/svg}text")), svg.name


def test_training_settings_in_words_not_hashes(study_report):
    from memorybench.report import load

    root, index = study_report
    rep = root / "report"
    runs = load.load_runs(root)
    hashes = {r["train"] for r in runs}
    assert len(hashes) == 2  # copy memory trains longer
    md = (rep / "leaderboard.md").read_text()
    assert "## adding, length 25, dataset synthetic, 1000 steps" in md
    assert "## copy_memory, length 5, dataset synthetic, 1500 steps" in md
    assert "Training (every table): batch 64, evaluated every 100 steps." in md
    page = index.read_text()
    for h in hashes:
        assert h not in md and h not in (rep / "horizon.md").read_text()
        # in the page only as a link key, to the row that spells the settings out
        assert f'id="train-{h}"' in page and f'href="#train-{h}"' in page
    assert "1500 steps, batch 64, evaluated every 100 steps" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;$x$" in page and "<script>" not in page


def test_train_words_name_only_what_differs():
    from memorybench.report import labels

    common, diff = labels.train_differences({
        "a": {"steps": 2000, "batch_size": 64, "optimizer": "adam", "clipnorm": 1.0},
        "b": {"steps": 4000, "batch_size": 64, "optimizer": "adam", "clipnorm": 0.0}})
    assert common == "batch 64, adam"
    assert diff == {"a": "2000 steps, clipnorm 1", "b": "4000 steps, no gradient clipping"}
    assert labels.train_words({"steps": 2000, "lr": 0.003, "batch_size": 64}) == \
        "2000 steps, batch 64, lr 0.003"
    assert labels.train_differences({"a": {"steps": 1}}) == ("1 steps", {"a": "train a"})


def test_identity_is_name_plus_differing_params_and_sizes_show_only_where_mixed():
    from memorybench.report import labels

    def entry(model, units, params="", task="adding", length=10):
        return {"dataset": "synthetic", "task": task, "variant": "", "length": length,
                "train": "t", "model": model, "units": units, "layers": 1,
                "model_params": params, "rank": 1, "params": 100, "lr": 0.01,
                "lr_at_edge": False, "metric_mean": 0.1, "metric_std": None,
                "score_mean": 0.5, "solved_frac": 0.0, "steps_to_solve_median": None,
                "seconds_to_solve_median": None, "throughput": 1.0, "n_seeds": 1,
                "n_failed": 0, "n_diverged": 0, "metric": "mse"}

    ids = labels.identities([entry("lmu", 8, '{"order":4,"theta":50}'),
                         entry("lmu", 8, '{"order":4,"theta":100}'), entry("gru", 8)])
    assert ids[("lmu", '{"order":4,"theta":50}', 1)] == "lmu(theta=50)"
    assert ids[("gru", "", 1)] == "gru"
    # units differ between tasks (--match-params): no size in any label
    df = pd.DataFrame([entry("gru", 73), entry("gru", 68, task="copy_memory")])
    blocks = labels.display_blocks(df, "leaderboard", {})
    assert [b.rows[0][1] for b in blocks] == ["gru", "gru"]
    assert [b.rows[0][3] for b in blocks] == ["73", "68"]
    # two sizes in ONE block stay two rows, and say so there only
    df = pd.DataFrame([entry("gru", 73), entry("gru", 68), entry("gru", 50, length=20)])
    rows = [r for b in labels.display_blocks(df, "leaderboard", {}) for r in b.rows]
    assert [r[1] for r in rows] == ["gru [73u]", "gru [68u]", "gru"]


def test_one_style_per_model_by_family():
    from memorybench.models.builtin import BUILTIN_CELLS, BUILTIN_MODELS
    from memorybench.report.plot_style import FAMILIES, styles

    builtin = [m for _, members, _ in FAMILIES for m in members]
    # every model the suite ships has a family (none is drawn as a plugin), each listed once
    assert sorted(builtin) == sorted({*BUILTIN_CELLS, *BUILTIN_MODELS})
    names = [*builtin, "my_cell", "other", "lstm_mine", "x1", "x2"]
    st = styles((n, n) for n in names)
    assert len({(s.colour, s.marker) for s in st.values()}) == len(names)  # all apart
    assert st["lstm_mine"].family == "LSTM ablations" and st["my_cell"].family == "plugins"
    assert st["mingru"].family == "linear recurrences" and st["tcn"].family == "baselines"
    # a model keeps its look whoever else is in the report
    assert styles([("lstm", "lstm"), ("gru", "gru")])["lstm"] == st["lstm"]
    two = styles([("lmu(theta=50)", "lmu"), ("lmu(theta=100)", "lmu")])
    assert two["lmu(theta=50)"].marker != two["lmu(theta=100)"].marker


def test_template_ships_as_package_data():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    root = Path(__file__).resolve().parents[1]
    data = tomllib.loads((root / "pyproject.toml").read_text())
    assert "report/templates/*.j2" in data["tool"]["setuptools"]["package-data"]["memorybench"]
    assert any(d.startswith("jinja2") for d in data["project"]["dependencies"])
    assert (root / "memorybench" / "report" / "templates" / "report.html.j2").is_file()


def test_long_block_titles_are_wrapped_to_their_panel():
    from memorybench.report import plot_style

    block = ("permuted_mnist (permutation_seed=92916,pixels_per_step=28) [mnist-5k], 46 steps, "
             "batch 64, rmsprop, clipnorm 1, evaluated every 23 steps, 2944 training sequences")
    title = plot_style.wrapped(block, 4.6)  # a 4.6-inch panel, 8 characters an inch
    lines = title.split("\n")
    assert len(lines) > 1 and max(map(len, lines)) <= int(4.6 * 8)
    assert "".join(title.split()) == "".join(block.split())  # nothing lost: only line breaks
    assert plot_style.title_lines([block, "adding"], 4.6) == len(lines)
    assert plot_style.wrapped("adding", 4.6) == "adding"


def test_a_figure_title_stays_clear_of_the_legend_right_of_its_panels():
    """At three models and one panel, a title centred over the whole figure ran into the legend
    (the demo's "Memory horizon: score against length" and learning curves); ``figure_title``
    centres it over the panels and wraps it to their width."""
    import matplotlib.pyplot as plt

    from memorybench.report import plot_style

    def boxes(titled):
        fig, axes = plot_style.grid(1, w=4.0, h=3.1)
        for name in ("simple_rnn", "ungated", "lstm"):
            axes[0].plot([1, 2], [0, 1], label=name)
        plot_style.figure_legend(fig, axes, ["simple_rnn", "ungated", "lstm"])
        text = "Learning curves: adding (variant=half), a title longer than its panel"
        t = plot_style.figure_title(fig, text) if titled else fig.suptitle(text)
        fig.canvas.draw()
        r = fig.canvas.get_renderer()
        title, legend = t.get_window_extent(r), fig.legends[0].get_window_extent(r)
        plt.close(fig)
        return title, legend

    title, legend = boxes(titled=False)
    assert title.overlaps(legend)  # the defect, as it was
    title, legend = boxes(titled=True)
    assert not title.overlaps(legend) and title.x1 <= legend.x0
