"""The click options several commands share: ``--plugin``, ``--out`` as a results folder,
the options that place a training command's runs (``executor_options``), and ``AliasOption``
(old spellings that still parse, left out of ``--help``)."""

from __future__ import annotations

from pathlib import Path

import click

from memorybench.run.executors import EXECUTORS
from memorybench.run.store import DEFAULT_RESULTS


class AliasOption(click.Option):
    """An option with old spellings (``hidden_aliases``) that still parse, for a release, but
    are left out of ``--help`` and of error messages: one name per option in the grammar."""

    def __init__(self, *args, hidden_aliases: tuple[str, ...] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.hidden_aliases = tuple(hidden_aliases)
        self.opts.extend(a for a in self.hidden_aliases if a not in self.opts)  # they parse

    def _shown(self) -> list[str]:
        return [o for o in self.opts if o not in self.hidden_aliases]

    def get_help_record(self, ctx):
        opts, self.opts = self.opts, self._shown()
        try:
            return super().get_help_record(ctx)
        finally:
            self.opts = opts

    def get_error_hint(self, ctx) -> str:
        return " / ".join(f"'{o}'" for o in self._shown())


plugin_opt = click.option(
    "--plugin", "plugin", multiple=True, type=click.Path(path_type=Path),
    help="Python file that registers cells, models or tasks (repeatable).",
)


results_opt = click.option(  # --out as every command that writes a results folder names it
    "--out", "results", cls=AliasOption, hidden_aliases=("--results",),
    type=click.Path(path_type=Path), default=Path(DEFAULT_RESULTS), show_default=True,
    help="Results folder (holds runs/).",
)


def executor_options(workers_default: str):
    """The options that place a training command's runs, the same on every command that trains
    (run, horizon, study, reproduce): ``--executor``, ``--workers``, ``--address``,
    ``--gpus-per-run`` and ``--retry-failed``; ``workers_default`` says what the command does
    without ``--workers``. The command hands them to ``cli._executor`` and ``retry_failed`` on."""
    options = [
        click.option("--executor", default="local", show_default=True,
                     help=f"{' or '.join(EXECUTORS)}: local runs one run after another, or "
                          "--workers N at once; ray makes each run a Ray task (pip install "
                          "'memorybench[ray]')."),
        click.option("--workers", type=int, default=None,
                     help="Local executor: runs at once, each in its own process (default: "
                          f"{workers_default})."),
        click.option("--address", default=None,
                     help="Ray cluster to join (auto, ray://HOST:10001, HOST:6379); default: "
                          "start a local one. Needs --executor ray."),
        click.option("--gpus-per-run", type=float, default=None,
                     help="GPUs each run asks Ray for where the cluster has GPUs (default 1; "
                          "0.5: two runs share a card). Needs --executor ray."),
        click.option("--retry-failed", is_flag=True,
                     help="Run failed and diverged runs again (without it they are kept as "
                          "they are)."),
    ]

    def decorate(f):
        for option in reversed(options):  # --help lists them in this order
            f = option(f)
        return f

    return decorate
