"""Issue 26's fuzz corpus: hostile results folders (FIFOs, deep nesting, huge files and numbers,
wrong types, truncated records, formulas, terminal escapes, links out of the folder), each read
by ``report``, ``show`` and ``run --dry-run`` as a user runs them (a subprocess under a time
limit). Every command must end in time with exit 0 and a warning for what it skipped, or exit 2
and one line; never a traceback, never a write outside the results folder, never a formula in a
CSV of the report. (A terminal escape in a model name still reaches stderr through matplotlib's
"Glyph missing" warnings, issue 26 point 20: ``outcome`` notes it, the test does not fail on it.)

``outcome`` gives a case's result in words (the before / after table of the closing note).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from summaries import SUMMARY as BASE_SUMMARY

LIMIT_S = 120.0  # per command: seconds of importing pandas on a loaded 2-core machine, not more
SETS = ["train.steps=20", "train.eval_every=10", "train.batch_size=32", "model.units=8",
        "train.n_train=256", "train.n_val=64", "train.n_test=64"]
DRY_RUN = ["run", "--profile", "smoke", "--tasks", "adding", "--lengths", "10", "--models",
           "lstm", "--seeds", "1", "--dry-run", *[a for s in SETS for a in ("--set", s)]]
SUMMARY = {**BASE_SUMMARY, "batch_size": 32, "chance": 0.1667, "n_train": 256, "steps": 20,
           "steps_trained": 20, "units": 8}
NESTED = "[" * 100_000 + "]" * 100_000
FORMULAS = ["=HYPERLINK(\"http://evil\",\"x\")", "@SUM(A1)", "+cmd|' /C calc'!A0", "-2+3+cmd"]


def dry_run_id() -> str:
    """The run id of ``DRY_RUN``'s one run: hostile files there are read by ``run --dry-run``."""
    from memorybench import settings as S
    from memorybench.models.resolve import run_id

    plan = S.expand(S.merge_layers(S.profile("smoke"), S.parse_set_items(SETS), {
        "tasks": "adding", "lengths": "10", "models": "lstm", "seeds": 1}))
    return run_id(plan.configs[0])


def _run(root: Path, rid: str, **fields) -> Path:
    folder = root / "runs" / rid
    folder.mkdir(parents=True)
    s = {**SUMMARY, "run_id": rid, **fields}
    (folder / "summary.json").write_text(json.dumps(s))
    (folder / "config.json").write_text(json.dumps({
        "task": {"name": s["task"], "params": s["task_params"]},
        "model": {"name": s["model"], "units": 8, "layers": 1, "params": {}},
        "train": {"steps": 20, "lr": 0.01}, "seed": 0, "plugins": {}, "code": {}}))
    (folder / "history.csv").write_text(
        "step,seconds,train_loss,val_loss,val_metric,val_score\n10,0.5,0.2,0.2,0.2,-0.2\n"
        "20,1.0,0.1,0.08,0.08,0.5\n")
    return folder


def _search(root: Path, name: str = "adding__lstm__x.json") -> Path:
    (root / "searches").mkdir(exist_ok=True)
    p = root / "searches" / name
    p.write_text(json.dumps({"task": "adding", "model": "lstm", "base": 10, "max_length": 10,
                             "largest_solved": None, "smallest_failed": 10, "hit_max": False,
                             "probes": {}}))
    return p


def build(case: str, tmp: Path) -> Path:
    """The results folder of ``case`` under ``tmp`` (beside ``tmp/outside``, which no command
    may change); a good run beside the hostile file, so that there is something to report."""
    root, outside = tmp / "results", tmp / "outside"
    outside.mkdir()
    (outside / "victim.json").write_text(json.dumps({**SUMMARY, "model": "victim"}))
    rid = dry_run_id()
    _run(root, "0" * 16)
    bad = _run(root, rid, seed=1)  # the run `run --dry-run` looks at
    kind, _, where = case.partition(":")
    target = {"summary": bad / "summary.json", "config": bad / "config.json",
              "search": root / "searches" / "a.json", "study": root / "study.json",
              "reproduce": root / "reproduce.json",
              "gradflow-png": root / "gradflow" / "adding_L10" / "gradflow.png",
              "gradflow-csv": root / "gradflow" / "adding_L10" / "gradflow.csv"}.get(where)
    if target is not None:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.unlink(missing_ok=True)
    if kind == "fifo":
        os.mkfifo(target)
    elif kind == "nested":
        target.write_text(NESTED)
    elif kind == "huge":
        with open(target, "wb") as f:
            f.truncate(17 * 2**20)  # sparse: 17 MiB of zeros, over the 16 MiB cap
    elif kind == "truncated":
        target.write_text('{"task": "adding", "model": "ls')
    elif kind == "link":
        target.symlink_to(outside / "victim.json")
    elif case == "linked-searches-folder":
        (root / "searches").symlink_to(outside, target_is_directory=True)
    elif case == "huge-length":
        (bad / "summary.json").write_text(json.dumps({**SUMMARY, "run_id": rid,
                                                      "length": 10**30}))
    elif case == "huge-seed":
        (bad / "summary.json").write_text(json.dumps({**SUMMARY, "run_id": rid, "seed": -1}))
    elif case == "solved-yes":
        (bad / "summary.json").write_text(json.dumps({**SUMMARY, "run_id": rid,
                                                      "solved": "yes"}))
    elif case == "wrong-types":
        (bad / "summary.json").write_text(json.dumps({**SUMMARY, "run_id": rid,
                                                      "length": "abc", "units": [8]}))
        _search(root, "a.json").write_text(json.dumps({"task": ["adding"], "model": 3}))
        (root / "study.json").write_text(json.dumps({"name": "x", "tasks": 5}))
    elif case == "formulas":
        for i, name in enumerate(FORMULAS):
            _run(root, f"{i + 1}" * 16, model=name, score=-0.5)
    elif case == "escapes":
        _run(root, "e" * 16, model="\x1b]8;;http://evil\x07x\x1b[31mred\x1b[0m\r\nfake")
    else:
        raise ValueError(case)
    if where != "search" and case not in ("wrong-types", "linked-searches-folder"):
        _search(root)  # a good search record beside
    return root


CASES = ["fifo:summary", "fifo:config", "fifo:search", "fifo:study", "fifo:gradflow-png",
         "fifo:gradflow-csv", "nested:summary", "nested:search", "nested:study",
         "nested:reproduce", "huge:summary", "huge:search", "huge-length", "huge-seed",
         "solved-yes", "wrong-types", "truncated:search", "truncated:study", "link:summary",
         "link:study", "linked-searches-folder", "formulas", "escapes"]
OPEN: dict[tuple[str, str], str] = {}  # (case, command) -> why it is still expected to fail
COMMANDS = {"report": lambda r: ["report", "--out", str(r)],
            "show": lambda r: ["show", "--out", str(r)],
            "run --dry-run": lambda r: [*DRY_RUN, "--out", str(r)],
            # the same runs as the base length of a search (the hostile summary is one of them)
            "horizon --dry-run": lambda r: [
                "horizon", *DRY_RUN[1:DRY_RUN.index("--lengths")],
                "--base-length", "10", "--max-length", "20",
                *DRY_RUN[DRY_RUN.index("--models"):], "--out", str(r)],
            "study --dry-run": lambda r: ["study", "why-lstm", "--scale", "demo", "--dry-run",
                                          "--out", str(r)]}
# horizon and study read what run reads (the runs' summaries, the folder's records); each is run
# over the cases of the files it reads, not the whole corpus (a subprocess costs seconds)
SUBSET = {"horizon --dry-run": ["fifo:summary", "nested:summary", "huge:summary", "huge-length",
                                "solved-yes", "link:summary"],
          "study --dry-run": ["fifo:summary", "fifo:search", "linked-searches-folder"]}
PAIRS = [(c, cmd) for cmd in COMMANDS for c in CASES if c in SUBSET.get(cmd, CASES)]


def tree(path: Path) -> dict[str, str]:
    """Every entry under ``path`` with what it is and holds (FIFOs are not opened)."""
    out = {}
    for p in sorted(path.rglob("*")):
        if p.is_symlink():
            out[str(p)] = "-> " + os.readlink(p)
        elif p.is_file():
            out[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest()
        else:
            out[str(p)] = "other"
    return out


def cli(args: list[str], cwd: Path, limit: float = LIMIT_S) -> tuple[int | None, str, str]:
    """``memorybench ARGS`` in a fresh interpreter: (exit status or None when it ran past
    ``limit``, stdout, stderr). The working folder is ``cwd``: the package comes from the
    environment (the install, or ``$PYTHONPATH``)."""
    env = {**os.environ, "MEMORYBENCH_OFFLINE": "1", "TF_CPP_MIN_LOG_LEVEL": "3",
           "MPLBACKEND": "Agg"}
    env.pop("MEMORYBENCH_WORKERS", None)
    try:
        p = subprocess.run([sys.executable, "-m", "memorybench.cli", *args], cwd=cwd, env=env,
                           capture_output=True, text=True, timeout=limit,
                           stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        def text(b):
            return b.decode(errors="replace") if isinstance(b, bytes) else (b or "")

        return None, text(exc.stdout), text(exc.stderr)
    return p.returncode, p.stdout, p.stderr


def outcome(case: str, command: str, tmp: Path, limit: float = LIMIT_S) -> tuple[str, list[str]]:
    """``command`` over ``case``'s folder: (a short word for the table, what went wrong)."""
    root = build(case, tmp)
    outside_before = tree(tmp / "outside")
    code, out, err = cli(COMMANDS[command](root), tmp, limit)
    problems = []
    if code is None:
        return f"hung (> {limit:g} s)", ["hung"]
    lines = [x for x in err.splitlines() if x.strip()]
    if "Traceback" in err:
        last = lines[-1][:80] if lines else ""
        problems.append(f"traceback: {last}")
    if code == 2 and not (len(lines) == 1 and lines[0].startswith("error: ")):
        problems.append(f"exit 2 without one line: {err[-300:]!r}")
    if code not in (0, 2):
        problems.append(f"exit {code}: {err[-300:]!r}")
    if tree(tmp / "outside") != outside_before:
        problems.append("wrote outside the results folder")
    notes = []
    if "\x1b" in out or "\x1b" in err:  # matplotlib's glyph warnings name the character raw
        notes.append("escape in stderr")
    if command == "report" and code == 0:
        for f in (root / "report").glob("*.csv"):
            for row in csv.reader(io.StringIO(f.read_text())):
                for c in row:
                    if c[:1] in ("=", "+", "-", "@", "\t", "\r"):
                        try:
                            float(c)
                        except ValueError:
                            problems.append(f"formula in {f.name}: {c[:40]!r}")
    warned = sum(x.startswith("warning:") for x in lines)
    if problems:
        return problems[0].split(":")[0] + f" (exit {code})", problems
    word = ("exit 2, one line" if code == 2 else f"exit 0, {warned} warning(s)" if warned
            else "exit 0")
    return word + "".join(f"; {n}" for n in notes), problems


@pytest.fixture(autouse=True)
def _no_workers_variable(monkeypatch):
    monkeypatch.delenv("MEMORYBENCH_WORKERS", raising=False)


@pytest.mark.parametrize("case,command", PAIRS)
def test_hostile_results_give_a_warning_or_one_line_never_a_hang(tmp_path, case, command):
    if (case, command) in OPEN:
        pytest.xfail(OPEN[(case, command)])
    word, problems = outcome(case, command, tmp_path)
    assert problems == [], f"{case} / {command}: {word}: {problems}"
