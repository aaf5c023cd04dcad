"""A study: horizon searches over its tasks x models, then gradient flow, into one results folder.

``run_study("why-lstm", "cpu", out)`` runs the study defined in ``memorybench.settings.STUDIES``
at one scale: the horizon search (``run/horizon.py``) of every task x model with the study's
settings (plus the caller's ``--set`` items), every run saving its weights; then the gradient
flow (``report/gradflow.py``) of every model on the study's gradflow task and length, at
initialisation and trained (the run at that length at the model's chosen rate, seed 0), into
``out/gradflow/<task>_L<length>/``; and ``out/study.json``, the record that ``report`` turns into
Findings. Resumable like every sweep: run it again and finished runs are skipped.
"""

from __future__ import annotations

import platform
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from memorybench.errors import ConfigError
from memorybench.run import store


def settings_in_words(settings: dict[str, Any]) -> str:
    """'1000 steps (copy_memory 1500), batch 64, lr grid 0.003, 0.01, 2 seeds, 5000 params'."""
    s = settings
    parts = []
    steps = s.get("train.steps")
    per_task = {k.split(".")[0]: v for k, v in s.items() if k.endswith(".train.steps")}
    if steps:
        parts.append(f"{steps} steps" + ("".join(
            f" ({t} {v})" for t, v in per_task.items())))
    if s.get("train.batch_size"):
        parts.append(f"batch {s['train.batch_size']}")
    if s.get("train.lrs"):
        parts.append("learning rates " + ", ".join(f"{x:g}" for x in s["train.lrs"])
                     + " (chosen per model and length on validation)")
    elif s.get("train.lr"):
        parts.append(f"lr {s['train.lr']:g}")
    if s.get("seeds"):
        parts.append(f"{s['seeds']} seeds")
    if s.get("match_params"):
        parts.append(f"every model at about {s['match_params']:,} parameters")
    if s.get("train.n_train"):
        parts.append(f"{s['train.n_train']:,} training sequences")
    return ", ".join(parts)


def run_study(
    name: str,
    scale: str,
    out_dir: str | Path,
    *,
    sets: list[str] | dict | None = None,
    executor: Any = None,
    echo=None,
    reporter_factory=None,
    command: str | None = None,
    retry_failed: bool = False,
) -> dict[str, Any]:
    """Run the study; returns its record (also written to ``out_dir/study.json``)."""
    from memorybench import __version__
    from memorybench.report.findings import STUDY_RECORD
    from memorybench.run.horizon import horizon_search
    from memorybench.run.sweep import get_executor
    from memorybench.settings import STUDIES, merge_layers, parse_set_items, study

    st = study(name, scale)
    extra = dict(sets) if isinstance(sets, dict) else parse_set_items(sets)
    for key in extra:
        if key in ("tasks", "models"):
            raise ConfigError(f"a study fixes its {key}; use `memorybench horizon` for others")
    settings = merge_layers(st["settings"], extra)
    if executor is None:
        executor = get_executor("local", workers=st.get("workers") or 1)
    out = Path(out_dir)
    t0 = time.perf_counter()
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    searches = horizon_search(
        settings, base=st["base"], max_length=st["max_length"], bisect=st["bisect"],
        min_length=st.get("min_length"), extend_rates=st.get("extend_rates", 0), out_dir=out,
        executor=executor, save_weights=True, echo=echo, reporter_factory=reporter_factory,
        retry_failed=retry_failed,
    )
    search_seconds = time.perf_counter() - t0
    g = st["gradflow"]
    runs = [folder for folder, seed in trained_runs(out, searches, g["task"], g["length"])
            if seed == 0]
    grad_files = None
    if runs:
        if echo:
            echo(f"gradient flow: {len(runs)} trained models on {g['task']} L={g['length']}")
        from memorybench.report.gradflow import run_gradflow

        grad_files = run_gradflow(g["task"], [], g["length"],
                                  out / "gradflow" / f"{g['task']}_L{g['length']}", runs=runs,
                                  batch=g.get("batch", 32), root=out)
    jac = st.get("jacobian")
    jac_files = None
    if jac:
        runs = [folder for folder, _ in trained_runs(out, searches, jac["task"],
                                                     jac["train_length"])]
        if runs:
            if echo:
                echo(f"memory-path Jacobian: {len(runs)} trained runs of {jac['task']} "
                     f"L={jac['train_length']}, measured over T={jac['length']}")
            from memorybench.report.jacobian import run_jacobians

            jac_files = run_jacobians(
                jac["task"], jac["length"], runs, out / "gradflow" / jacobian_folder(jac),
                root=out, batch=jac.get("batch", 32))
    record = {
        "name": name, "scale": scale, "description": STUDIES[name]["description"],
        "scale_description": st.get("description"),
        "tasks": st["tasks"], "models": st["models"], "reference": st["reference"],
        "factors": st.get("factors"), "steps": st.get("steps"), "claims": st.get("claims"),
        "baselines": st.get("baselines"),
        "not_searched": st.get("not_searched", {}),
        "settings": settings, "settings_in_words": settings_in_words(settings),
        "base": st["base"], "max_length": st["max_length"], "bisect": st["bisect"],
        "min_length": st.get("min_length"), "extend_rates": st.get("extend_rates", 0),
        "gradflow": g, "command": command, "started_at": started,
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "search_seconds": round(search_seconds, 1),
        "wall_seconds": round(time.perf_counter() - t0, 1),
        "machine": f"{platform.machine()}, {_cpus()} CPUs, {platform.platform()}",
        "memorybench_version": __version__,
        "gradflow_csv": str(grad_files["csv"].relative_to(out)) if grad_files else None,
        # searches that stopped at a length that is not a measurement (a failed run): task ->
        # model -> "L=50: 2 of 10 runs failed (...)"; `memorybench study` then exits 1
        "not_measured": _not_measured(searches),
        "jacobian": jac,
        "jacobian_csv": str(jac_files["csv"].relative_to(out)) if jac_files else None,
    }
    store.write_json(out / STUDY_RECORD, record)
    return record


def _not_measured(searches) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for x in searches:
        if x.problem:
            out.setdefault(x.task, {})[x.model] = x.problem
    return out


def jacobian_folder(jac: dict[str, Any]) -> str:
    """``jacobian_<task>_L<trained>_T<measured>``: the memory-path Jacobian's folder under
    ``gradflow/`` (the report embeds its figure beside the gradient flow's)."""
    return f"jacobian_{jac['task']}_L{jac['train_length']}_T{jac['length']}"


def trained_runs(out: Path, searches, task: str, length: int) -> list[tuple[Path, int]]:
    """(run folder, seed) of every completed run with weights at ``length`` of ``task``, at the
    rate its search chose there, one model after another."""
    found = []
    for x in searches:
        if x.task != task or length not in x.probes:
            continue
        probe = x.probes[length]
        mine = []
        for rid in probe["run_ids"]:
            folder = store.run_dir(out, rid)
            try:
                s = store.load_summary(folder)
            except Exception:
                continue
            if s.get("lr") == probe["lr"] and s.get("status") == "completed" and (
                    folder / store.WEIGHTS).exists() and isinstance(s.get("seed"), int):
                mine.append((folder, s["seed"]))
        found += sorted(mine, key=lambda fs: fs[1])
    return found


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
