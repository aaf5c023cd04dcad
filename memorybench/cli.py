"""Command line: parse -> load plugins -> build config -> call library functions.

Heavy libraries (Keras, TensorFlow, pandas) are imported inside the commands that need them, so
``memorybench list`` and ``memorybench task show`` answer without importing TensorFlow.
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path

import click

from memorybench import cli_options as options
from memorybench import cli_render as render
from memorybench.config import DEFAULT_UNITS, PRECISIONS
from memorybench.diagnostics.gradflow import LOSS_STEPS
from memorybench.errors import ConfigError, MemorybenchError, printable
from memorybench.run.reproduce import SCALES as REPRODUCE_SCALES
from memorybench.run.store import DEFAULT_RESULTS, DIAGNOSTICS
from memorybench.settings.catalogue import DEFAULT_PROFILE, PROFILES, STUDIES


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(package_name="memorybench")
@click.option("--verbose", "-v", is_flag=True, envvar="MEMORYBENCH_VERBOSE",
              help="Keep TensorFlow's log lines (also: MEMORYBENCH_VERBOSE=1).")
def app(verbose: bool) -> None:
    """memorybench: long-memory sequence tasks for recurrent cells."""
    from memorybench.quiet import quiet_tensorflow

    quiet_tensorflow(verbose)  # before any command imports TensorFlow


@app.group("task")
def task_app() -> None:
    """Inspect tasks."""


@app.group("model")
def model_app() -> None:
    """Inspect cells and models."""


def load_plugins(paths) -> dict[str, str]:
    """Load ``--plugin`` files; returns path -> sha256."""
    from memorybench.registry import load_plugin

    return {str(p): load_plugin(p) for p in paths or []}


# -- list ------------------------------------------------------------------------------------
@app.command("list")
@click.argument("what", default="all")
@options.plugin_opt
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
@click.option("--set", "set_", multiple=True,
              help="Task parameter FIELD=value, task.FIELD=value or NAME.FIELD=value, as in "
                   "`run --set` (repeatable).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the sample.")
@options.plugin_opt
def task_show(name: str, length: int | None, set_, seed: int, plugin) -> None:
    """Show a task's card (definition, spec, chance and solved level) and a rendered sample."""
    load_plugins(plugin)
    from memorybench.settings.keys import task_params_from_sets
    from memorybench.tasks import TASKS, get_task

    cls = TASKS.get(name)
    params = task_params_from_sets(name, set_)
    if length is not None:
        params["length"] = length
    task = get_task(name, **params)
    render.check_sample_size(name, task)  # before a sample the memory cannot hold is allocated
    doc = inspect.getdoc(sys.modules[cls.__module__]) or inspect.getdoc(cls) or ""
    click.echo(f"== {name} ==\n{doc}\n\n== instance ==")
    for k, v in {**task.params(), **task.spec.to_dict()}.items():
        click.echo(f"  {k:<16} {v}")
    click.echo(f"\n== sample (test split, seed {seed}) ==")
    x, y = task.data("test", n=1, seed=seed)
    click.echo(task.render(x[0], y[0]))


# -- model commands --------------------------------------------------------------------------
@model_app.command("show")
@click.argument("name")
@click.option("--task", default="adding", show_default=True, help="Task for head and input size.")
@click.option("--units", type=int, default=DEFAULT_UNITS, show_default=True,
              help="Hidden units.")
@click.option("--length", type=int, default=100, show_default=True, help="Task length.")
@options.plugin_opt
def model_show(name: str, task: str, units: int, length: int, plugin) -> None:
    """Show a model's equations, citation and parameter count for a task and size."""
    load_plugins(plugin)
    from memorybench.models.describe import describe_model

    # soft_wrap: equations and docstrings keep their lines when piped (rich wraps at 80 otherwise)
    render.rich_console().print(describe_model(name, task, units, length=length), markup=False,
                     highlight=False, soft_wrap=True)


# -- reports: report, show, gradflow ---------------------------------------------------------
@app.command("report")
@options.results_opt
@click.option("--open", "open_", is_flag=True, help="Open index.html in a web browser.")
def report_cmd(results: Path, open_: bool) -> None:
    """Write leaderboards, horizon table, plots and index.html into RESULTS/report/."""
    from memorybench.report.html import make_report  # pandas / matplotlib, never TensorFlow

    index = make_report(results, open_browser=open_, warn=render.warn)
    click.echo(f"report: {index}")


@app.command("show")
@options.results_opt
@click.option("--task", "task_filter", default=None, help="Only this task.")
def show_cmd(results: Path, task_filter: str | None) -> None:
    """Print the leaderboard as a table in the terminal."""
    from memorybench.report import leaderboard as lb
    from memorybench.report.labels import display_rows
    from memorybench.report.load import load_runs

    if not (results / "runs").is_dir():
        raise ConfigError(f"--out {str(results)!r} has no runs/ folder")
    runs = load_runs(results, warn=render.warn)
    if task_filter is not None:
        known = sorted({r["task"] for r in runs})
        if task_filter not in known:
            raise ConfigError(printable(
                f"no runs of task {task_filter!r} in {results}; known: {', '.join(known) or '-'}"
            ))
        runs = [r for r in runs if r["task"] == task_filter]
    if not runs:
        raise ConfigError(f"no completed runs under {results / 'runs'}")
    _, blocks = display_rows(lb.leaderboard(runs), "leaderboard")
    render.print_blocks(blocks)


@app.command("gradflow")
@click.option("--task", required=True, help="Task name.")
@click.option("--models", default="", help="Comma-separated models, freshly initialised.")
@click.option("--length", type=int, required=True, help="Task length L.")
@click.option("--run", "runs", multiple=True, type=click.Path(path_type=Path),
              help="Run folder with model.weights.h5 (repeatable): its trained model.")
@click.option("--units", type=int, default=DEFAULT_UNITS, show_default=True,
              help="Units of fresh models.")
@click.option("--batch", type=int, default=32, show_default=True, help="Sequences averaged.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of weights and data.")
@click.option("--loss-steps", type=click.Choice(list(LOSS_STEPS)), default="metric",
              show_default=True,
              help="Loss over the steps the metric counts (copy memory: the recall) or all.")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help=f"Output folder  [default: {DEFAULT_RESULTS}/gradflow/<task>_L<length>]")
@options.plugin_opt
def gradflow_cmd(task, models, length, runs, units, batch, seed, loss_steps, out, plugin):
    """Plot ||dL/dx_t|| against t (log scale) per model, fresh and trained."""
    load_plugins(plugin)
    from memorybench.models import model_names
    from memorybench.tasks import TASKS

    TASKS.get(task)  # unknown task: error listing the known ones, before TensorFlow loads
    names = [m.strip() for m in models.split(",") if m.strip()]
    known = model_names()
    for m in names:
        if m not in known and ":" not in m:
            raise ConfigError(f"unknown model {m!r}; known: {', '.join(known)}")
    if not names and not runs:
        raise ConfigError("give --models and/or --run")
    root = None if out else Path(DEFAULT_RESULTS)  # a derived folder: no link below results/
    out = out or Path(DEFAULT_RESULTS) / DIAGNOSTICS / f"{task}_L{length}"
    from memorybench.report.gradflow import run_gradflow

    files = run_gradflow(task, names, length, out, runs=runs, units=units, batch=batch,
                         seed=seed, loss_steps=loss_steps, root=root)
    for kind in ("csv", "png", "svg"):
        click.echo(f"{kind}: {files[kind]}")


# -- run: sweeps -----------------------------------------------------------------------------
def _executor(executor: str, workers, address, gpus_per_run, default_workers=None):
    """The executor ``options.executor_options`` name (checked before anything is written);
    ``default_workers``: the local executor's worker count when --workers is not given (a
    scale's; ``--workers 0`` is still refused, never replaced)."""
    from memorybench.run.executors import get_executor

    if executor == "local" and workers is None:
        workers = default_workers
    return get_executor(executor, address=address, gpus_per_run=gpus_per_run, workers=workers)


@app.command("run")
@click.option("--tasks", default=None, help="Comma-separated task names.")
@click.option("--models", default=None, help="Comma-separated cell / model names, or 'all'.")
@click.option("--lengths", default=None, help="Comma-separated lengths, for every task.")
@click.option("--seeds", type=int, default=None, help="Number of seeds (0 .. N-1).")
@click.option("--lrs", default=None,
              help="Comma-separated learning rates: each is run, and reports pick each model's "
                   "rate on the validation split (key train.lrs).")
@click.option("--profile", default=None,
              help=f"{' | '.join(PROFILES)}: tasks, models, lengths and training settings "
                   f"(default: {DEFAULT_PROFILE}'s settings under the options given; the paper "
                   "profiles are for a GPU, see `memorybench reproduce`).")
@options.plugin_opt
@click.option("--match-params", type=int, default=None,
              help="Give every model this parameter budget (units chosen to fit, within 5%).")
@click.option("--out", type=click.Path(path_type=Path), default=Path(DEFAULT_RESULTS),
              show_default=True, help="Results folder.")
@click.option("--set", "set_", multiple=True,
              help="Setting key=value, e.g. train.lr=0.003, model.units=32, "
                   "adding.variant=anywhere (repeatable; see README).")
@click.option("--config", "config_file", type=click.Path(path_type=Path), default=None,
              help="TOML file with the same keys as --set.")
@click.option("--precision", type=click.Choice(list(PRECISIONS)),
              default=None, help="Keras dtype policy of the runs (default float32).")
@click.option("--jit/--no-jit", default=None,
              help="XLA on the training step (default: auto: on, except for a model that "
              "declares it unsupported and for cuDNN's LSTM / GRU on a GPU).")
@click.option("--tensorboard", is_flag=True, help="TensorBoard logs in each run folder.")
@click.option("--save-weights", is_flag=True, help="Save model.weights.h5 in each run folder.")
@options.executor_options("one per physical core, at most one per run")
@click.option("--dry-run", is_flag=True,
              help="Print the grid and the resolved settings; train nothing, write nothing.")
@click.option("--allow-large-grid", is_flag=True, default=None,
              help="Allow a grid of more than 10,000 runs (key allow_large_grid).")
def run_cmd(tasks, models, lengths, seeds, lrs, profile, plugin, match_params, out, set_,
            config_file, retry_failed, precision, jit, tensorboard, save_weights, executor,
            workers, address, gpus_per_run, dry_run, allow_large_grid) -> int:
    """Run a sweep: tasks x lengths x models x seeds. Complete runs are skipped (resume).

    Exit status 0 when no run failed, 1 when one did, 2 for bad input (nothing written).
    """
    from memorybench.settings.grid import expand
    from memorybench.settings.keys import layered

    # validate everything before a single folder is made
    ex = _executor(executor, workers, address, gpus_per_run)
    if tensorboard:
        import importlib.util

        if importlib.util.find_spec("tensorboard") is None:
            raise ConfigError("--tensorboard needs tensorboard: pip install tensorboard")
    load_plugins(plugin)
    options = dict(tasks=tasks, models=models, lengths=lengths, seeds=seeds,
                   match_params=match_params, lrs=lrs, precision=precision, jit=jit,
                   allow_large_grid=allow_large_grid)
    plan = expand(layered(profile, config_file, options, set_), on_size=render.say_grid_size)
    if dry_run:
        render.print_plan(plan, out)
        return 0
    out = render.writable_dir(out)

    from memorybench.run.progress import RichReporter
    from memorybench.run.sweep import sweep

    console = render.rich_console()
    for note in plan.notes:
        console.print(f"note: {note}", markup=False, highlight=False, soft_wrap=True)
    result = sweep(plan.configs, out, executor=ex, retry_failed=retry_failed,
                   tensorboard=tensorboard, save_weights=save_weights,
                   reporter=RichReporter(console))
    render.say_failed(console, result, out)
    console.print(f"results: {out}\nnext:    memorybench report --out {out}",
                  markup=False, highlight=False, soft_wrap=True)
    return 1 if result.failed else 0


# -- horizon and study ---------------------------------------------------------------------
@app.command("horizon")
@click.option("--tasks", "task_names", cls=options.AliasOption, hidden_aliases=("--task",),
              required=True, help="Comma-separated task names, each with a solved threshold.")
@click.option("--models", required=True, help="Comma-separated cell / model names.")
@click.option("--seeds", type=int, default=None, help="Seeds per length (default: profile).")
@click.option("--lrs", default=None, help="Comma-separated learning rates (chosen per model "
              "and length on validation).")
@click.option("--base-length", type=int, default=None,
              help="First length probed  [default: the task's default length]")
@click.option("--max-length", type=int, default=None,
              help="Stop doubling here  [default: 16 x the base length]")
@click.option("--bisect", type=int, default=0, show_default=True,
              help="Bisection steps between the largest solved and smallest failed length.")
@click.option("--min-length", type=int, default=None,
              help="When the base length is not solved, halve down to this length  [default: "
              "never below the base length]")
@click.option("--extend-rates", type=int, default=0, show_default=True,
              help="When the chosen rate is the grid's largest (smallest), probe that length "
              "again with 3x (1/3x) it, up to this many times a length.")
@click.option("--profile", default=None,
              help=f"Training settings' base: {' | '.join(PROFILES)} (default "
                   f"{DEFAULT_PROFILE}).")
@options.plugin_opt
@click.option("--match-params", type=int, default=None,
              help="Give every model this parameter budget (units chosen to fit).")
@click.option("--set", "set_", multiple=True, help="Setting key=value, as in `run`.")
@click.option("--out", type=click.Path(path_type=Path), default=Path(DEFAULT_RESULTS),
              show_default=True, help="Results folder.")
@options.executor_options("one per physical core, at most one per run")
@click.option("--dry-run", is_flag=True, help="Print the runs of the first round and stop.")
def horizon_cmd(task_names, models, seeds, lrs, base_length, max_length, bisect, min_length,
                extend_rates, profile, plugin, match_params, set_, out, executor, workers,
                address, gpus_per_run, retry_failed, dry_run) -> int:
    """Measure memory horizons: double the length while a majority of seeds solve (halve down
    to --min-length while they do not), then bisect.

    Each probed length is an ordinary run in --out (resume, --workers, Ray work as for `run`);
    `memorybench report --out OUT` shows the brackets. A failed length is 'not measured', never
    'not solved', and stops its search: --retry-failed runs it again.
    """
    from memorybench.settings.keys import layered, name_list
    from memorybench.tasks import get_task

    ex = _executor(executor, workers, address, gpus_per_run)
    load_plugins(plugin)
    names = name_list("--tasks", task_names)
    options = dict(tasks=names, models=models, seeds=seeds, match_params=match_params, lrs=lrs)
    settings = layered(profile, None, options, set_)
    base = {}
    for t in names:
        b = base_length
        if b is None:
            try:
                b = getattr(get_task(t), "length", None)
            except MemorybenchError:
                b = None
            if not isinstance(b, int):
                b = 1
        base[t] = b
    top = {t: max_length if max_length is not None else 16 * b for t, b in base.items()}
    if extend_rates < 0:
        raise ConfigError(f"--extend-rates {extend_rates} is not allowed; allowed: an integer "
                          ">= 0")
    if min_length is not None and not 1 <= min_length <= min(base.values()):
        raise ConfigError(f"--min-length {min_length} is not allowed; allowed: an integer from "
                          f"1 to the base length {min(base.values())}")
    if dry_run:  # validated as the search validates: the largest lengths' memory included
        from memorybench.run.horizon import check_search

        _, _, first = check_search(settings, base=base, max_length=top, bisect=bisect,
                                   min_length=min_length, extend_rates=extend_rates)
        render.print_plan(first, out)
        return 0
    from memorybench.run.horizon import horizon_search
    from memorybench.run.progress import RichReporter

    console = render.rich_console()
    searches = horizon_search(
        settings, base=base, max_length=top, bisect=bisect, min_length=min_length,
        extend_rates=extend_rates, retry_failed=retry_failed, out_dir=render.writable_dir(out),
        executor=ex, echo=lambda m: console.print(m, markup=False, highlight=False),
        reporter_factory=lambda: RichReporter(console),
    )
    return render.say_searches(console, searches, out)


def _study_scales(what, sep: str = ", ") -> str:
    """``what(scale)`` of each study's scales, for the help of ``study``'s options."""
    return "; ".join(f"{name}: " + sep.join(f"{sc} {what(v)}" for sc, v in st["scales"].items())
                     for name, st in STUDIES.items())


@app.command("study")
@click.argument("name")
@click.option("--scale", default="cpu", show_default=True,
              help="The study's scale (" + _study_scales(lambda v: f"= {v['description']}",
                                                         sep="; ") + ").")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Results folder  [default: results/<name>-<scale>]")
@click.option("--with", "with_", default=None,
              help="Models to add beside the study's (comma-separated): only their searches "
              "train; the study's runs come from --from, the --out folder, or the shipped "
              "results.")
@options.plugin_opt
@click.option("--from", "from_", type=click.Path(path_type=Path), default=None,
              help="With --with: the study's results to add to  [default: --out when it holds "
              "the study, else the results shipped with memorybench]")
@click.option("--retrain-baselines", is_flag=True,
              help="With --with: train the study's models again too (when the source's "
              "settings differ from these).")
@click.option("--set", "set_", multiple=True, help="Override a setting key=value, as in `run`.")
@options.executor_options("the scale's: " + _study_scales(lambda v: f"{v.get('workers') or 1}"))
@click.option("--dry-run", is_flag=True, help="Print the study's settings and first round.")
def study_cmd(name, scale, out, with_, plugin, from_, retrain_baselines, set_, executor,
              workers, address, gpus_per_run, retry_failed, dry_run) -> int:
    """Run a study (why-lstm): horizon searches, gradient flow, then the report with Findings.

    With --with NAME[,NAME] (and --plugin FILE for your own cell), the study's results are
    copied into --out and only the added models train, at the study's settings, seeds and
    parameter budget; the report ranks them among the study's models.
    """
    from memorybench.settings.catalogue import study as study_settings
    from memorybench.settings.keys import name_list

    st = study_settings(name, scale)
    load_plugins(plugin)
    added = name_list("--with", with_) if with_ is not None else []
    if (from_ is not None or retrain_baselines) and not added:
        raise ConfigError("--from and --retrain-baselines go with --with NAME (the models to "
                          "add)")
    out = out or Path(DEFAULT_RESULTS) / f"{name}-{scale}"
    ex = _executor(executor, workers, address, gpus_per_run, st.get("workers") or 1)
    if dry_run:
        return render.print_study_dry_run(st, out, set_, added, from_, retrain_baselines)
    from memorybench.api import study
    from memorybench.run.progress import RichReporter

    console = render.rich_console()
    say = lambda m: console.print(m, markup=False, highlight=False)  # noqa: E731
    rec = study(name, scale, render.writable_dir(out), sets=list(set_), executor=ex, echo=say,
                warn=render.warn, reporter_factory=lambda: RichReporter(console),
                retry_failed=retry_failed, command=" ".join(["memorybench", *sys.argv[1:]]),
                add=added, source=from_, retrain_baselines=retrain_baselines)
    say(f"study finished in {rec['wall_seconds']:.0f} s; report: {rec['report']}")
    headline = (out / "report" / "findings.md").read_text().split("## Headline", 1)[-1]
    say("Findings:\n" + headline.split("\n## ", 1)[0].strip())
    code = render.say_not_measured(console, [f"{t} {m}: {why}" for t, by_model in (
        rec.get("not_measured") or {}).items() for m, why in by_model.items()])
    if scale == "demo" and not added:
        console.print(f"add your own cell: memorybench study {name} --scale demo --with my_cell "
                      f"--plugin examples/plugins/my_cell.py --from {out} --out {out}-my_cell",
                      markup=False, highlight=False, soft_wrap=True)  # one line to copy
    return code


# -- bench: the performance suite (memorybench/bench/suite.py) ------------------------------
@app.command("bench")
@click.option("--quick", is_flag=True,
              help="Smaller sizes and a sample of the models (the full suite times every "
                   "model).")
@click.option("--tiny", is_flag=True, hidden=True, help="Seconds, for tests; figures mean little.")
@click.option("--gpu-check", is_flag=True,
              help="Only confirm the default training path on this machine's GPU (cuDNN for "
              "the LSTM / GRU, XLA elsewhere; a few minutes). Exit 1 if not confirmed.")
@click.option("--out", type=click.Path(path_type=Path),
              default=Path(DEFAULT_RESULTS) / "bench.json", show_default=True,
              help="JSON file with every measurement.")
def bench_cmd(quick: bool, tiny: bool, gpu_check: bool, out: Path) -> None:
    """Measure speed: generators, harness overhead, custom vs built-in LSTM, data pipeline,
    every model's step time and GFLOP/s, step time against T, whole runs at the study's size
    per training path (ratios within one run)."""
    from memorybench.bench import suite

    if gpu_check:
        from memorybench.bench import gpu_check as check

        raise SystemExit(check.main())
    if out.is_dir():
        raise ConfigError(f"--out {str(out)!r} is a folder; give a file name such as "
                          f"{str(out / 'bench.json')!r}")
    render.writable_dir(out.parent)
    level = "tiny" if tiny else "quick" if quick else "full"
    res = suite.run_suite(level, out, echo=lambda line: click.echo(line, err=True))
    click.echo(suite.table(res))
    click.echo(f"json: {out}")


# -- reproduce: the paper profiles, as published or scaled down -----------------------------
@app.command("reproduce")
@click.argument("profiles")
@click.option("--scale", default="cpu", show_default=True,
              help="; ".join(f"{k}: {v['words'].removeprefix(k + ': ')}"
                             for k, v in REPRODUCE_SCALES.items())
                   + " (a scaled run is a SCALED RUN, NOT A REPRODUCTION; docs/reproduce.md).")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Results folder  [default: results/reproduce-<profiles>-<scale>]")
@click.option("--models", default=None, help="Only these of the profiles' models.")
@click.option("--set", "set_", multiple=True,
              help="Setting key=value applied to the profiles before scaling, as in `run`.")
@options.executor_options("the scale's: " + ", ".join(
    f"{v.get('workers') or 1} on {k}" for k, v in REPRODUCE_SCALES.items()))
@click.option("--dry-run", is_flag=True, help="Print the runs and what each stands for.")
def reproduce_cmd(profiles, scale, out, models, set_, executor, workers, address, gpus_per_run,
                  retry_failed, dry_run) -> int:
    """Run reproduction profiles (bai2018, arjovsky2016 or all, comma-separated) and print how
    far each number is from the published one.

    --scale cpu shrinks every run by documented factors (docs/reproduce.md): its tables are
    labelled SCALED RUN, NOT A REPRODUCTION. --scale full runs the papers' settings (a GPU).
    """
    from memorybench.run import reproduce as R

    names = R.profiles_of(profiles)
    sc = R.check_scale(scale)
    out = out or Path(DEFAULT_RESULTS) / f"reproduce-{'-'.join(names)}-{scale}"
    ex = _executor(executor, workers, address, gpus_per_run, sc.get("workers") or 1)
    rep = R.plan_reproduction(names, scale, models=models, sets=list(set_))
    scaled = scale != "full"
    banner = (f"SCALED RUN, NOT A REPRODUCTION ({sc['words']})" if scaled
              else "reproduction at the papers' settings")
    if dry_run:
        render.print_reproduction_plan(rep, banner)
        return 0
    from memorybench.report.html import make_report
    from memorybench.run.progress import RichReporter

    console = render.rich_console()
    say = lambda m: console.print(m, markup=False, highlight=False, soft_wrap=True)  # noqa: E731
    say(f"{banner}: {len(rep.configs)} runs into {out}")
    rec, result = R.reproduce(names, scale, render.writable_dir(out), models=models,
                              sets=list(set_), executor=ex, reporter=RichReporter(console),
                              retry_failed=retry_failed,
                              command=" ".join(["memorybench", *sys.argv[1:]]))
    index = make_report(out, warn=render.warn)
    render.print_published(console, out, banner)
    say(f"report: {index}")
    return 1 if result.failed else 0


# -- references: published numbers (memorybench/references.csv) -----------------------------
@app.command("merge")
@click.argument("sources", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="The merged results folder (new or empty).")
@click.option("--prefer", type=int, default=None,
              help="The position (1, 2, ...) of the source whose version wins a conflict.")
def merge_cmd(sources, out, prefer) -> int:
    """Merge results folders by run id: identical duplicates once, conflicts refused unless
    --prefer says which folder wins; search records, study.json and diagnostics alike."""
    from memorybench.run.merge import merge

    got = merge(list(sources), out, prefer=None if prefer is None else prefer - 1)
    for line in got.skipped:
        render.warn(f"not merged: {line}")
    click.echo(f"{got.runs} runs and {got.records} records into {out} ({got.duplicates} "
               f"identical duplicates kept once"
               + (f", {got.overridden} versions of other folders left out (--prefer)"
                  if got.overridden else "") + f")\nnext:    memorybench report --out {out}")
    return 0


@app.command("references")
@click.option("--task", "task_filter", default=None, help="Only this task.")
@click.option("--full", is_flag=True, help="Every field of every row.")
def references_cmd(task_filter: str | None, full: bool) -> None:
    """Published numbers with their sources, settings, metric definitions and how they differ
    from ours."""
    from memorybench import references

    click.echo(references.format_table(references.load(task_filter), full=full))


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
