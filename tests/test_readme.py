"""The README's command lines cannot rot: every `memorybench ...` line of its code blocks, and of
the page "Put your cell on the leaderboard" (docs/leaderboard.md), runs (with --dry-run where it
would train, --help where it needs results or takes minutes), and every option its synopsis
names exists in that command's --help."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from memorybench.cli import main

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
LEADERBOARD = (ROOT / "docs" / "leaderboard.md").read_text()


def _code_lines(text: str = README) -> list[str]:
    lines = []
    for lang, body in re.findall(r"```(\w*)\n(.*?)```", text, flags=re.S):
        if lang not in ("", "bash"):
            continue
        joined = body.replace("\\\n", " ")
        current = None  # a synopsis line goes on in the indented lines below it
        for raw in joined.splitlines():
            line = raw.split(" # ")[0].strip()
            if line.startswith("memorybench "):
                lines.append(line)
                current = len(lines) - 1
            elif current is not None and raw[:1].isspace() and line:
                lines[current] += " " + line
            else:
                current = None
    return [re.sub(r"\s+", " ", x) for x in lines]


LINES = _code_lines()
PAGE = _code_lines(LEADERBOARD)
SYNOPSIS = [x for x in LINES if "[" in x or re.search(r"\b[A-Z]{2,}\b", x)]
RUNNABLE = [x for x in LINES if x not in SYNOPSIS]
TRAINS = ("run", "horizon", "study", "reproduce")  # --dry-run
NEEDS_STATE = ("report", "show", "gradflow", "bench", "merge")  # --help: results or minutes


def test_the_readme_has_commands_to_check():
    assert len(RUNNABLE) >= 8 and len(SYNOPSIS) >= 10, (RUNNABLE, SYNOPSIS)


def _run(args: list[str], capsys) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exc:
        main(args)
    out = capsys.readouterr()
    return exc.value.code, out.out + out.err


def test_the_leaderboard_page_goes_from_a_plugin_to_the_report():
    verbs = [shlex.split(x)[1] for x in PAGE]
    assert verbs[:2] == ["model", "study"] and {"report", "merge"} <= set(verbs), PAGE
    assert all("--plugin" in x for x in PAGE if x.split()[1] in ("model", "study"))


@pytest.mark.parametrize("line", RUNNABLE + [x for x in PAGE if x not in RUNNABLE])
def test_every_readme_command_runs(line, tmp_path, monkeypatch, capsys):
    # `--plugin my_cell.py` is the example plugin; loading that very file again is a no-op,
    # whichever test of the session loaded it first (a copy elsewhere would be a name clash)
    monkeypatch.chdir(ROOT / "examples" / "plugins" if "--plugin" in line else tmp_path)
    args = shlex.split(line)[1:]
    if args[0] in TRAINS and "--dry-run" not in args:
        args.append("--dry-run")
    elif args[0] in NEEDS_STATE:
        args = [args[0], "--help"]
    code, out = _run(args, capsys)
    assert code == 0, f"{line}\n{out}"
    assert not list(Path.cwd().glob("results/runs/*")), "a dry run wrote runs"


@pytest.mark.parametrize("line", SYNOPSIS)
def test_every_option_of_the_synopsis_exists(line, capsys):
    words = shlex.split(line.replace("[", " ").replace("]", " ").replace("|", " "))
    cmd = [w for w in words[1:3] if not w.startswith("-") and w.islower()]
    if len(cmd) == 2 and cmd[0] not in ("task", "model"):
        cmd = cmd[:1]  # `study why-lstm`: the second word is an argument
    code, out = _run([*cmd, "--help"], capsys)
    assert code == 0, out
    for opt in {w.split("=")[0].split("/")[0] for w in words if w.startswith("--")}:
        assert opt in out, f"{line}: {opt} is not an option of `memorybench {' '.join(cmd)}`"
