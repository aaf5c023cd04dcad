"""What the CLI prints and checks around the library calls: the console, warnings, the
leaderboard and published-number tables in the terminal, a dry run's plan, failed runs and
stopped searches in words, and the checks of an output folder or a rendered sample
(``cli.py`` wires commands to library functions and calls these)."""

from __future__ import annotations

from pathlib import Path

import click

from memorybench.errors import ConfigError


def rich_console():
    from rich.console import Console

    return Console()


def warn(msg: str) -> None:
    from memorybench.errors import printable

    click.echo(f"warning: {printable(msg)}", err=True)  # names from results: no escapes


TASK_SHOW_MAX_BYTES = 256 * 2**20  # one rendered sequence: plenty for a picture


def check_sample_size(name: str, task) -> None:
    """ConfigError when the one sequence ``task show`` renders would need more than
    ``TASK_SHOW_MAX_BYTES`` (estimated from the spec: float32 inputs and a target per step)."""
    spec = task.spec
    steps, dim = int(spec.steps), max(1, int(spec.input_dim))
    need = steps * (4 * dim + 8)
    if need > TASK_SHOW_MAX_BYTES:
        longest = max(1, TASK_SHOW_MAX_BYTES // (4 * dim + 8) - (steps - int(spec.length)))
        raise ConfigError(
            f"task show {name}: length {spec.length} makes a sequence of {steps:,} steps, about "
            f"{need / 2**30:,.1f} GiB; task show renders one sequence of at most "
            f"{TASK_SHOW_MAX_BYTES // 2**20} MiB (here: length <= about {longest:,})")


def say_not_measured(console, stopped: list[str]) -> int:
    """1 (and the way out) when a search stopped at a length that is not a measurement, else
    0."""
    if not stopped:
        return 0
    console.print(f"{len(stopped)} search(es) stopped at a length that is not a measurement "
                  f"(a failed run, or seeds diverged at the chosen rate); the same command "
                  f"with --retry-failed runs the failed runs again", markup=False,
                  highlight=False)
    return 1


def print_plan(plan, out: Path) -> None:
    """``--dry-run``: the grid (one line a run, with its id and whether it is complete in
    ``out``) and the training settings, resolved."""
    import json

    from memorybench.config import to_dict
    from memorybench.models.resolve import run_id
    from memorybench.run.progress import describe
    from memorybench.run.sweep import plan_status

    if (out / "runs").is_dir():
        todo, skipped = plan_status(plan.configs, out, warn=warn)
    else:
        todo, skipped = plan.configs, []
    done = {r.run_id for r in skipped}
    for note in plan.notes:
        click.echo(f"note: {note}")
    trains = {}
    for cfg in plan.configs:
        task, length, model, seed = describe(cfg)
        rid = run_id(cfg)
        click.echo(f"{rid}  {task:<18} L={length:<6} {model:<16} units={cfg.model.units:<5} "
                   f"lr={cfg.train.lr:<8g} seed={seed}  "
                   f"{'complete' if rid in done else 'to run'}")
        key = json.dumps(to_dict(cfg)["train"], sort_keys=True)
        trains.setdefault(key, set()).add(cfg.task.name)
    for key, task_names in trains.items():
        click.echo(f"train ({', '.join(sorted(task_names))}): {key}")
    click.echo(f"{len(plan.configs)} runs, {len(todo)} to run, {len(done)} complete in {out}")


def say_failed(console, result, out: Path) -> None:
    """The failed runs of a sweep in words: those recorded (their traceback is in their
    summary.json) apart from those that could not be written at all (a full disk, ``runs`` not
    a folder), for which what happened and where is said here."""
    from memorybench.errors import printable
    from memorybench.run import store

    failed = [r for r in result.results if r.status == "failed"]
    lost = [r for r in failed if not (Path(r.run_dir) / store.SUMMARY).is_file()]
    say = lambda m: console.print(m, markup=False, highlight=False, soft_wrap=True)  # noqa: E731
    if len(failed) > len(lost):
        say(f"{len(failed) - len(lost)} run(s) failed (traceback in their summary.json); "
            f"re-run them with --retry-failed")
    if lost:
        reasons = list(dict.fromkeys(printable(r.reason or "unknown reason")[:300] for r in lost))
        more = f" (and {len(reasons) - 1} other reason(s))" if len(reasons) > 1 else ""
        say(f"{len(lost)} run(s) failed and could not be recorded (no summary.json under "
            f"{store.runs_dir(out)}; first: {Path(lost[0].run_dir).name}): {reasons[0]}{more}; "
            f"fix that (free space, a writable folder) and run the same command again")


def say_grid_size(n: int, how: str) -> None:
    """A large grid takes a while to resolve (and may be refused): say its size first."""
    if n >= 1000:
        click.echo(f"grid: {n:,} runs ({how})", err=True)


def writable_dir(path: Path) -> Path:
    """``path`` if it is, or can be made, a writable folder; ConfigError otherwise (nothing is
    created here)."""
    import os

    p = Path(path).expanduser()
    probe = p
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise ConfigError(f"--out {str(path)!r} is not usable: {str(probe)!r} is not a folder")
    runs = p / "runs"  # memorybench.run.store.RUNS: where every run is written
    if (runs.exists() or runs.is_symlink()) and not runs.is_dir():
        raise ConfigError(f"--out {str(path)!r} is not usable: {str(runs)!r} is not a folder; "
                          f"move it away or choose another folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ConfigError(f"--out {str(path)!r} is not writable (no write permission on "
                          f"{str(probe)!r}); choose another folder")
    return p


def print_published(console, results: Path, banner: str) -> None:
    """The published numbers beside ours as a terminal table."""
    from rich.table import Table

    from memorybench.report.comparison import comparison_rows, distance
    from memorybench.report.format import fmt

    scale, rows = comparison_rows(results)
    if not console.is_terminal:  # piped: do not squeeze the table into 80 columns
        from rich.console import Console

        console = Console(width=max(console.width, 160))
    title = f"Published numbers beside ours - {banner}"
    table = Table(title=title, title_justify="left", header_style="bold")
    for h in ("task", "T", "model", "params", "metric", "ours", "published", "ours-published",
              "ratio", "match", "source"):
        table.add_column(h, justify="left" if h in ("task", "model", "metric", "match",
                                                    "source") else "right")
    for r in rows:
        ran = "" if r["ran_length"] == r["length"] else f" (ran {fmt(r['ran_length'])})"
        table.add_row(r["task"], fmt(r["length"]) + ran, r["model"], fmt(r["params"]),
                      r["metric"] + (f" ({r['unit']})" if r["unit"] else ""), fmt(r["ours"]),
                      fmt(r["published"]), distance(r), fmt(r["ratio"], 3), r["match"],
                      f"{r['source']}, {r['where']}")
    console.print(table, markup=False, highlight=False)
    if not rows:
        console.print("no run matches a published number", markup=False, highlight=False)


def print_blocks(blocks) -> None:
    """``show``: the leaderboard's blocks (``labels.display_rows``) as terminal tables."""
    from rich.table import Table
    from rich.text import Text

    from memorybench.errors import printable

    console = rich_console()
    if not console.is_terminal:  # piped: do not squeeze the table into 80 columns
        from rich.console import Console

        console = Console(width=max(console.width, 150))
    for title, header, rows in blocks:
        # every text read from results loses its escape sequences and control characters
        # (and is never read as rich markup: Text, not str, or a title could make a link)
        table = Table(title=Text(printable(title)), title_justify="left", header_style="bold")
        for i, h in enumerate(header):
            table.add_column(Text(printable(h)), justify="left" if i == 1 else "right")
        for row in rows:
            table.add_row(*(Text(printable(c)) for c in row))
        console.print(table, markup=False, highlight=False)


def print_study_dry_run(st, out: Path, set_, added: list[str], from_, retrain_baselines) -> int:
    """``study --dry-run``: the study's settings and the first round of what would train (with
    --with: the added models only, after the same checks as a real run)."""
    from memorybench.settings.catalogue import STUDIES
    from memorybench.settings.grid import expand
    from memorybench.settings.keys import merge_layers, parse_set_items

    click.echo(f"study {st['name']} ({st['scale']}): {STUDIES[st['name']]['description']}")
    click.echo(f"base lengths {st['base']}, max {st['max_length']}, bisect {st['bisect']}, "
               f"gradflow {st['gradflow']}")
    first = merge_layers(st["settings"], parse_set_items(set_))
    if added:
        from memorybench.run.study import check_added, check_same_study, source_folder

        check_added(st, added)
        src = source_folder(st["name"], st["scale"], out, from_)
        if not retrain_baselines:
            check_same_study(st, first, src)
        click.echo(f"the study's results from {src}; training "
                   + ("the study's models and " if retrain_baselines else "only ")
                   + ", ".join(added))
        first = {**first, "models": [*st["models"], *added] if retrain_baselines else added}
    print_plan(expand({**first, **{f"{t}.lengths": [b] for t, b in st["base"].items()}}), out)
    return 0


def say_searches(console, searches, out: Path) -> int:
    """``horizon``'s closing lines: each search's bracket, where the results are; the exit
    status (``say_not_measured``)."""
    from memorybench.errors import printable
    from memorybench.report.format import bracket

    for x in searches:
        console.print(f"{x.task:<14} {x.model:<16} horizon {bracket(x.lo, x.hi, x.hit_max)}"
                      + (f" not measured at {printable(x.problem)}" if x.problem else ""),
                      markup=False, highlight=False)
    console.print(f"results: {out}\nnext:    memorybench report --out {out}",
                  markup=False, highlight=False)
    return say_not_measured(console, [x.problem for x in searches if x.problem])


def print_reproduction_plan(rep, banner: str) -> None:
    """``reproduce --dry-run``: each run and the published setting it stands for."""
    click.echo(f"{banner}: {len(rep.configs)} runs")
    for cfg in rep.configs:
        from memorybench.models.resolve import run_id

        stand = rep.record["runs"][run_id(cfg)]
        click.echo(f"{run_id(cfg)}  {cfg.task.name:<17} L={cfg.task.params.get('length')!s:<5}"
                   f" {cfg.model.name:<11} units={cfg.model.units:<4} steps="
                   f"{cfg.train.steps:<6} stands for {stand['profile']}: "
                   f"L={stand['length']}, {stand['steps']} steps")
