"""One command-line grammar (issue 22, point 6): the results folder is `--out` on every command,
task lists are `--tasks`, every command that trains takes the same executor options and hands
them on, choices and defaults come from the constants that define them. Old spellings
(`--results`, `horizon --task`) still parse, hidden from --help, for a release.

The commands are introspected from the click group, so a new command is checked too."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from memorybench import cli
from memorybench.cli import app, main
from memorybench.config import DEFAULT_UNITS, PRECISIONS

TRAINS = ("run", "horizon", "study", "reproduce")
EXECUTOR_OPTIONS = ("--executor", "--workers", "--address", "--gpus-per-run", "--retry-failed")
RESULTS_FOLDER = ("run", "horizon", "study", "reproduce", "gradflow", "report", "show", "merge")
# the old spellings, by command: they parse, and --help does not show them
HIDDEN = {"report": {"--results": "results"}, "show": {"--results": "results"},
          "horizon": {"--task": "task_names"}}


def _commands(group: click.Group = app, prefix: tuple[str, ...] = ()):
    """(path, command) of every command of the CLI, sub-groups' included."""
    for name, cmd in sorted(group.commands.items()):
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, (*prefix, name))
        else:
            yield " ".join((*prefix, name)), cmd


COMMANDS = dict(_commands())


def _option(cmd: click.Command, opt: str) -> click.Option | None:
    return next((p for p in cmd.params if isinstance(p, click.Option) and opt in p.opts), None)


def _help(cmd: click.Command) -> str:
    with click.Context(cmd, info_name=cmd.name) as ctx:
        return cmd.get_help(ctx)


def _shown(cmd: click.Command) -> set[str]:
    """The option names --help shows."""
    return set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", _help(cmd)))


def test_the_commands_are_found():
    assert set(TRAINS) | set(RESULTS_FOLDER) | {"model show", "task show", "bench"} <= set(
        COMMANDS), sorted(COMMANDS)


@pytest.mark.parametrize("name", TRAINS)
def test_every_training_command_has_the_executor_options(name):
    cmd = COMMANDS[name]
    for opt in EXECUTOR_OPTIONS:
        assert _option(cmd, opt) is not None, f"{name} has no {opt}"
        assert opt in _shown(cmd), f"{name} --help does not show {opt}"


def test_the_executor_options_are_one_declaration():
    """Same names, types, defaults and (but for the default of --workers) help everywhere."""
    def spec(name, opt):
        o = _option(COMMANDS[name], opt)
        return (o.name, tuple(o.opts), o.type.name, o.default, o.is_flag,
                None if opt == "--workers" else o.help)

    for opt in EXECUTOR_OPTIONS:
        specs = {name: spec(name, opt) for name in TRAINS}
        assert len(set(specs.values())) == 1, specs


def test_only_training_commands_take_executor_options():
    have = {name for name, cmd in COMMANDS.items() if _option(cmd, "--executor")}
    assert have == set(TRAINS)


@pytest.mark.parametrize("name", RESULTS_FOLDER)
def test_every_command_with_a_results_folder_names_it_out(name):
    assert "--out" in _shown(COMMANDS[name])


def test_no_command_shows_results_or_a_singular_task_list():
    for name, cmd in COMMANDS.items():
        shown = _shown(cmd)
        assert "--results" not in shown, name
        if "--tasks" in shown:
            assert "--task" not in shown, name  # one spelling a command


@pytest.mark.parametrize(("name", "alias", "dest"),
                         [(n, a, d) for n, by in HIDDEN.items() for a, d in by.items()])
def test_hidden_aliases_parse_as_the_option(name, alias, dest):
    cmd = COMMANDS[name]
    assert alias not in _shown(cmd)
    new = next(o for o in _option(cmd, alias).opts if o != alias)
    extra = ["--models", "lstm"] if name == "horizon" else []
    got = {}
    for spelling in (alias, new):
        with cmd.make_context(name, [spelling, "adding", *extra]) as ctx:
            got[spelling] = ctx.params[dest]
    assert got[alias] == got[new] == (Path("adding") if dest == "results" else "adding")


def test_the_hidden_alias_is_not_named_in_errors():
    cmd = COMMANDS["horizon"]
    with pytest.raises(click.MissingParameter) as exc:
        cmd.make_context("horizon", ["--models", "lstm"])
    assert "'--tasks'" in exc.value.format_message()
    assert "'--task'" not in exc.value.format_message()


@pytest.mark.parametrize("spelling", ["--out", "--results"])
@pytest.mark.parametrize("name", ["report", "show"])
def test_report_and_show_take_both_spellings(name, spelling, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main([name, spelling, str(tmp_path / "none")])
    err = capsys.readouterr().err
    assert exc.value.code == 2, err
    assert f"--out {str(tmp_path / 'none')!r} has no runs/ folder" in err, err


def test_units_defaults_agree():
    units = {name: o.default for name, cmd in COMMANDS.items()
             if (o := _option(cmd, "--units")) is not None}
    assert {"model show", "gradflow"} <= set(units)
    assert set(units.values()) == {DEFAULT_UNITS}, units


def test_choices_come_from_the_constants():
    from memorybench.diagnostics.gradflow import LOSS_STEPS
    from memorybench.run.executors import EXECUTORS
    from memorybench.settings import PROFILES

    assert list(_option(COMMANDS["run"], "--precision").type.choices) == list(PRECISIONS)
    assert list(_option(COMMANDS["gradflow"], "--loss-steps").type.choices) == list(LOSS_STEPS)
    for name in TRAINS:
        assert " or ".join(EXECUTORS) in _option(COMMANDS[name], "--executor").help
    for name in ("run", "horizon"):
        assert " | ".join(PROFILES) in _option(COMMANDS[name], "--profile").help


def test_help_says_the_scales_factors():
    from memorybench.run.reproduce import SCALES

    text = _option(COMMANDS["reproduce"], "--scale").help
    assert f"steps / {SCALES['cpu']['steps_divisor']}" in text
    assert f"lengths / {SCALES['cpu']['length_divisor']}" in text


def test_no_dead_quieting_helper():
    assert not hasattr(cli, "_quiet_tensorflow")  # the group's quiet_tensorflow does it


# -- the options reach the library ------------------------------------------------------------
class _Stop(Exception):
    """Raised by a stand-in where the command would start training."""


TRAIN_ARGS = {
    "run": ["run", "--tasks", "adding", "--models", "lstm"],
    "horizon": ["horizon", "--tasks", "adding", "--models", "lstm"],
    "study": ["study", "why-lstm", "--scale", "demo"],
    "reproduce": ["reproduce", "bai2018"],
}


@pytest.mark.parametrize("name", TRAINS)
def test_executor_options_reach_get_executor(name, monkeypatch, tmp_path):
    from memorybench.run import executors

    seen = {}

    def get_executor(executor, **options):
        seen.update(executor=executor, **options)
        raise _Stop

    monkeypatch.setattr(executors, "get_executor", get_executor)
    args = [*TRAIN_ARGS[name], "--out", str(tmp_path / "o")]
    with pytest.raises(_Stop):
        main([*args, "--executor", "ray", "--address", "auto", "--gpus-per-run", "0.5"])
    assert seen == dict(executor="ray", address="auto", gpus_per_run=0.5, workers=None)
    seen.clear()
    with pytest.raises(_Stop):
        main([*args, "--workers", "3"])
    assert seen == dict(executor="local", address=None, gpus_per_run=None, workers=3)


@pytest.mark.parametrize(("args", "workers"), [
    (["run", "--tasks", "adding"], None),  # one per core, decided by the executor
    (["study", "why-lstm", "--scale", "cpu"], 2),
    (["study", "why-lstm", "--scale", "gpu"], 1),
    (["reproduce", "bai2018", "--scale", "cpu"], 2),
    (["reproduce", "bai2018", "--scale", "full"], 1),
])
def test_default_workers_are_the_commands(args, workers, monkeypatch):
    from memorybench.run import executors

    seen = {}
    monkeypatch.setattr(executors, "get_executor",
                        lambda executor, **o: seen.update(o) or (_ for _ in ()).throw(_Stop))
    with pytest.raises(_Stop):
        main(args)
    assert seen["workers"] == workers


@pytest.mark.parametrize("name", TRAINS)
@pytest.mark.parametrize("retry", [False, True])
def test_retry_failed_reaches_the_library(name, retry, monkeypatch, tmp_path):
    from types import SimpleNamespace

    from memorybench import api
    from memorybench.run import horizon, reproduce, sweep
    from memorybench.settings import grid

    seen = {}

    def stop(*args, **kwargs):
        seen.update(kwargs)
        raise _Stop

    # where each command hands over; the planning before it (TensorFlow) is stubbed
    monkeypatch.setattr(grid, "expand", lambda *a, **k: SimpleNamespace(configs=[], notes=[]))
    monkeypatch.setattr(sweep, "sweep", stop)
    monkeypatch.setattr(horizon, "horizon_search", stop)
    monkeypatch.setattr(api, "study", stop)
    monkeypatch.setattr(reproduce, "plan_reproduction",
                        lambda *a, **k: SimpleNamespace(configs=[], record={"runs": {}}))
    monkeypatch.setattr(reproduce, "reproduce", stop)
    args = [*TRAIN_ARGS[name], "--out", str(tmp_path / "o")]
    with pytest.raises(_Stop):
        main([*args, *(["--retry-failed"] if retry else [])])
    assert seen["retry_failed"] is retry
    assert seen["executor"] is not None


def test_the_readme_synopsis_gives_the_executor_options_to_every_training_command():
    import shlex

    from test_readme import README, SYNOPSIS

    block = README.split("\nEXECUTOR, ", 1)[1].split("```", 1)[0]
    listed = {w.strip("[]").split()[0] for w in re.findall(r"\[--[^]]+\]", block)}
    assert listed == set(EXECUTOR_OPTIONS), block
    for line in SYNOPSIS:
        verb = shlex.split(line)[1]
        assert (line.endswith(" EXECUTOR")) == (verb in TRAINS), line
