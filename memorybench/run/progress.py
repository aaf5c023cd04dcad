"""Live sweep progress with ``rich``: runs done / total, the current run's step and metric,
elapsed time and ETA, and one line per finished run."""

from __future__ import annotations

import time
from typing import Any

from memorybench.errors import printable
from memorybench.run.sweep import Reporter, SweepResult


def describe(cfg_or_summary: Any) -> tuple[str, str, str, str]:
    """(task, length, model, seed) of a RunConfig or a summary dict, as strings."""
    if isinstance(cfg_or_summary, dict):
        s = cfg_or_summary
        return s.get("task", "?"), str(s.get("length", "-")), s.get("model", "?"), str(
            s.get("seed", "?")
        )
    c = cfg_or_summary
    return c.task.name, str(c.task.params.get("length", "-")), c.model.name, str(c.seed)


def run_line(summary: dict[str, Any], skipped: bool = False) -> str:
    """One line for a finished run: task, length, model, seed, status, metric, score, seconds."""
    task, length, model, seed = describe(summary)
    status = summary.get("status", "?")
    metric, value, score = summary.get("metric") or "metric", summary.get("test_metric"), \
        summary.get("score")
    m = f"{metric} {value:.4g}" if isinstance(value, (int, float)) else f"{metric} -"
    sc = f"score {score:.3f}" if isinstance(score, (int, float)) else "score -"
    secs = summary.get("wall_seconds")
    t = f"{secs:.1f}s" if isinstance(secs, (int, float)) else "-"
    line = (f"{task:<16} L={length:<5} {model:<14} seed {seed:<3} {status:<9} {m:<24} {sc:<12} "
            f"{t:>8}")
    if skipped:
        line += "  (already complete)"
    elif status != "completed" and summary.get("reason"):
        line += f"  {str(summary['reason']).splitlines()[0][:120]}"
    return printable(line)  # names and reasons may come from results on disk: no escapes


class RichReporter(Reporter):
    """A live display on a terminal; plain lines (one per finished run) otherwise."""

    def __init__(self, console=None, show_skipped: bool = False):
        from rich.console import Console

        self.console = console or Console(highlight=False)
        self.show_skipped = show_skipped
        self.live = self.console.is_terminal
        self.progress = None
        self.t0 = time.perf_counter()
        self.n_done = 0
        self.total = 0

    def start(self, todo, skipped) -> None:
        self.total = len(todo)
        self.t0 = time.perf_counter()
        n_all = len(todo) + len(skipped)
        self.console.print(
            f"{n_all} runs in the grid: {len(skipped)} already complete, {len(todo)} to run",
            highlight=False, soft_wrap=True,
        )
        if self.show_skipped:
            for r in skipped:
                self.console.print(run_line(r.summary, skipped=True), markup=False,
                                   highlight=False, soft_wrap=True)
        if self.live and todo:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self.progress = Progress(
                TextColumn("{task.description:<5}"), BarColumn(bar_width=24),
                MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("ETA"),
                TimeRemainingColumn(), TextColumn("{task.fields[info]}"),
                console=self.console, transient=True,
            )
            self.progress.start()
            self.sweep_bar = self.progress.add_task("runs", total=self.total, info="")
            self.run_bar = self.progress.add_task("steps", total=1, visible=False, info="")

    def run_started(self, cfg) -> None:
        task, length, model, seed = describe(cfg)
        self.current = f"{task} L={length} {model} seed {seed}"
        if self.progress is not None:
            self.progress.reset(self.run_bar, total=cfg.train.steps, visible=True,
                                info=f"{self.current}: starting")
            self.progress.update(self.sweep_bar, info=self.current)

    def on_eval(self, event: dict[str, Any]) -> None:
        if self.progress is None:
            return
        self.progress.update(
            self.run_bar, completed=event["step"],
            info=f"{self.current}: val {event['metric']} {event['val_metric']:.4g}",
        )

    def run_finished(self, result) -> None:
        self.n_done += 1
        line = f"[{self.n_done}/{self.total}] " + run_line(result.summary)
        self.console.print(line, markup=False, highlight=False, soft_wrap=True)
        if self.progress is not None:
            self.progress.update(self.sweep_bar, advance=1)
            self.progress.update(self.run_bar, visible=False)

    def note(self, message: str) -> None:
        self.console.print(message, markup=False, highlight=False, soft_wrap=True)

    def stop(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None

    def close(self, result: SweepResult) -> None:
        self.stop()
        counts = ", ".join(
            f"{result.count(s)} {s}" for s in ("completed", "diverged", "failed")
        )
        elapsed = time.perf_counter() - self.t0
        self.console.print(
            f"{len(result.results)} runs ({counts}); ran {len(result.ran)} in {elapsed:.0f}s",
            markup=False, highlight=False, soft_wrap=True,
        )
