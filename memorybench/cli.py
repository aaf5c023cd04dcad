"""Command line: parse -> load plugins -> build config -> call library functions.

Heavy libraries (Keras, TensorFlow, pandas) are imported inside the commands that need them, so
``memorybench list`` and ``memorybench task show`` answer without importing TensorFlow.
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path

import click

from memorybench.errors import ConfigError, MemorybenchError


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(package_name="memorybench")
def app() -> None:
    """memorybench: long-memory sequence tasks for recurrent cells."""


@app.group("task")
def task_app() -> None:
    """Inspect tasks."""


@app.group("model")
def model_app() -> None:
    """Inspect cells and models."""


plugin_opt = click.option(
    "--plugin", "plugin", multiple=True, type=click.Path(path_type=Path),
    help="Python file that registers cells, models or tasks (repeatable).",
)


def load_plugins(paths) -> dict[str, str]:
    """Load ``--plugin`` files; returns path -> sha256."""
    from memorybench.registry import load_plugin

    return {str(p): load_plugin(p) for p in paths or []}


def _console():
    from rich.console import Console

    return Console()


# -- list ------------------------------------------------------------------------------------
@app.command("list")
@click.argument("what", default="all")
@plugin_opt
def list_cmd(what: str, plugin) -> None:
    """List registered task and model names: WHAT is tasks, models or all."""
    choices = ("tasks", "models", "all")
    if what not in choices:
        raise ConfigError(f"unknown list {what!r}; known: {', '.join(choices)}")
    load_plugins(plugin)
    if what in ("tasks", "all"):
        from memorybench.tasks import task_names

        click.echo("tasks:  " + ", ".join(task_names()))
    if what in ("models", "all"):
        from memorybench.models import model_names

        click.echo("models: " + ", ".join(model_names()))


# -- task show -------------------------------------------------------------------------------
@task_app.command("show")
@click.argument("name")
@click.option("--length", type=int, default=None, help="Memory lag L of the instance.")
@click.option("--set", "set_", multiple=True, help="Task parameter key=value (repeatable).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the sample.")
@plugin_opt
def task_show(name: str, length: int | None, set_, seed: int, plugin) -> None:
    """Show a task's card (definition, spec, chance and solved level) and a rendered sample."""
    load_plugins(plugin)
    from memorybench.tasks import TASKS, get_task

    cls = TASKS.get(name)
    params = parse_sets(set_, cls)
    if length is not None:
        params["length"] = length
    task = get_task(name, **params)
    doc = inspect.getdoc(sys.modules[cls.__module__]) or inspect.getdoc(cls) or ""
    click.echo(f"== {name} ==\n{doc}\n\n== instance ==")
    for k, v in {**task.params(), **task.spec.to_dict()}.items():
        click.echo(f"  {k:<16} {v}")
    click.echo(f"\n== sample (test split, seed {seed}) ==")
    x, y = task.data("test", n=1, seed=seed)
    click.echo(task.render(x[0], y[0]))


def parse_sets(items: list[str], cls) -> dict:
    """``key=value`` strings -> kwargs coerced to the dataclass field types of ``cls``."""
    import dataclasses

    fields = {f.name: f for f in dataclasses.fields(cls)}
    out = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep:
            raise ConfigError(f"--set expects key=value, got {item!r}")
        if key not in fields:
            raise ConfigError(f"unknown key {key!r}; known: {', '.join(sorted(fields))}")
        out[key] = coerce(raw, fields[key].default, key)
    return out


def coerce(raw: str, like, key: str = "value"):
    """Parse ``raw`` as the type of the default ``like`` (bool, int, float, str, None)."""
    try:
        if isinstance(like, bool):
            if raw.lower() in ("1", "true", "yes", "on"):
                return True
            if raw.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if isinstance(like, int):
            return int(raw)
        if isinstance(like, float):
            return float(raw)
    except ValueError:
        raise ConfigError(
            f"{key}={raw!r} is not a valid {type(like).__name__}"
        ) from None
    if like is None:
        for conv in (int, float):
            try:
                return conv(raw)
            except ValueError:
                pass
        return None if raw.lower() == "none" else raw
    return raw


# -- model commands --------------------------------------------------------------------------
@model_app.command("show")
@click.argument("name")
@click.option("--task", default="adding", show_default=True, help="Task for head and input size.")
@click.option("--units", type=int, default=128, show_default=True, help="Hidden units.")
@click.option("--length", type=int, default=100, show_default=True, help="Task length.")
@plugin_opt
def model_show(name: str, task: str, units: int, length: int, plugin) -> None:
    """Show a model's equations, citation and parameter count for a task and size."""
    load_plugins(plugin)
    from memorybench.models.describe import describe_model

    _console().print(describe_model(name, task, units, length=length), markup=False,
                     highlight=False)


# -- entry point -----------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> None:
    """Console script: user errors print one line and exit with status 2."""
    try:
        rv = app.main(args=argv, standalone_mode=False, prog_name="memorybench")
    except click.exceptions.UsageError as exc:
        click.echo(f"error: {exc.format_message()}", err=True)
        sys.exit(2)
    except MemorybenchError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    sys.exit(rv if isinstance(rv, int) else 0)


if __name__ == "__main__":
    main()
