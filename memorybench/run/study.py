"""A study: horizon searches over its tasks x models, then gradient flow, into one results folder.

``run_study("why-lstm", "cpu", out)`` runs the study defined in ``memorybench.settings.STUDIES``
at one scale: the horizon search (``run/horizon.py``) of every task x model with the study's
settings (plus the caller's ``--set`` items), every run saving its weights; then the gradient
flow (``diagnostics/gradflow.py``) of every model on the study's gradflow task and length, at
initialisation and trained (the run at that length at the model's chosen rate, seed 0), into
``out/gradflow/<task>_L<length>/``; and ``out/study.json``, the record that ``report`` turns into
Findings. Resumable like every sweep: run it again and finished runs are skipped. The
diagnostics' figures are the report's: drawn when the caller passes its plotting functions
(``figures``), as ``mb.study`` (``memorybench/api.py``, which also writes the report) does; this
module never imports ``report/``.

``add=["my_cell"]`` puts models that are not in the study beside it (``study --with``): the
study's results (``source``: a folder; else ``out`` itself when it holds the study; else the
results the package ships for that study and scale, ``shipped``) are copied into ``out`` without
their weights, and only the added models' searches train, with the study's settings, seeds, rate
grid and parameter budget. The source must have been made with the same settings: its study
record's and the first round's run ids are checked (``check_same_study``) before anything is
written, unless ``retrain_baselines`` trains the study's models again beside the added ones.
The diagnostics (gradient flow, memory-path Jacobian) are computed for the models that trained
now; the rows of the others are kept from the source.
"""

from __future__ import annotations

import platform
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from memorybench.errors import ConfigError
from memorybench.run import store

# the results the package ships (``memorybench/shipped/<study>-<scale>/``): summaries, configs,
# histories, search records, study.json and diagnostics of a study, never weights
SHIPPED = Path(__file__).resolve().parent.parent / "shipped"


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
    add: list[str] | tuple[str, ...] = (),
    source: str | Path | None = None,
    retrain_baselines: bool = False,
    figures: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run the study; returns its record (also written to ``out_dir/study.json``). ``add``,
    ``source``, ``retrain_baselines``: models added beside the study's (module docstring).
    ``figures``: ``{"gradflow": draw, "jacobian": draw}``, the report's figures of the
    diagnostics (``memorybench.api.study`` passes them); without, only their CSVs are written."""
    from memorybench.run.executors import get_executor
    from memorybench.run.horizon import check_search, horizon_search
    from memorybench.settings.catalogue import study
    from memorybench.settings.keys import merge_layers, parse_set_items

    st = study(name, scale)
    extra = dict(sets) if isinstance(sets, dict) else parse_set_items(sets)
    for key in extra:
        if key in ("tasks", "models"):
            raise ConfigError(f"a study fixes its {key}; use `memorybench horizon` for others, "
                              f"or --with to add models")
    settings = merge_layers(st["settings"], extra)
    out = Path(out_dir)
    added = check_added(st, add)
    searched = dict(settings)
    src = None
    if added:
        src = source_folder(name, scale, out, source)
        searched["models"] = ([*st["models"], *added] if retrain_baselines else added)
        check_search(searched, **_search_args(st))  # the added models' lengths, before any copy
        if not retrain_baselines:
            check_same_study(st, settings, src)
    if executor is None:
        executor = get_executor("local", workers=st.get("workers") or 1)
    t0 = time.perf_counter()
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    copied = None
    if src is not None and src.resolve() != out.resolve():
        from memorybench.run.merge import copy_missing

        copied = copy_missing(src, out, leave_out=(store.WEIGHTS, store.STUDY_RECORD))
        if echo:
            echo(f"copied from {src}: {copied.runs} runs, {copied.records} records "
                 f"({copied.duplicates} already here)")
    searches = horizon_search(
        searched, **_search_args(st), out_dir=out, executor=executor, save_weights=True,
        echo=echo, reporter_factory=reporter_factory, retry_failed=retry_failed,
    )
    search_seconds = time.perf_counter() - t0
    figures = figures or {}
    grad_files = _gradflow(out, searches, st["gradflow"], echo, figures.get("gradflow"))
    jac = st.get("jacobian")
    jac_files = _jacobian(out, searches, jac, echo, figures.get("jacobian")) if jac else None
    record = {
        **_record(name, st, settings, added, src, searches),
        "command": command, "started_at": started,
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "search_seconds": round(search_seconds, 1),
        "wall_seconds": round(time.perf_counter() - t0, 1),
        "gradflow_csv": _rel(grad_files, out, "gradflow.csv"),
        "jacobian_csv": _rel(jac_files, out, "jacobian.csv"),
    }
    store.write_json(out / store.STUDY_RECORD, record)
    return record


def _search_args(st: dict[str, Any]) -> dict[str, Any]:
    """The horizon search's shape at the study's scale."""
    return dict(base=st["base"], max_length=st["max_length"], bisect=st["bisect"],
                min_length=st.get("min_length"), extend_rates=st.get("extend_rates", 0))


def _record(name: str, st: dict[str, Any], settings: dict[str, Any], added: list[str],
            src: Path | None, searches) -> dict[str, Any]:
    """The study record's definition part: what was studied, at which settings, on which
    machine (the caller adds the times and the diagnostics' files)."""
    from memorybench import __version__
    from memorybench.run.executors import usable_cpus
    from memorybench.settings.catalogue import STUDIES

    models = [*st["models"], *added]
    return {
        "name": name, "scale": st["scale"], "description": STUDIES[name]["description"],
        "scale_description": st.get("description"),
        "tasks": st["tasks"], "models": models, "reference": st["reference"],
        "factors": st.get("factors"), "steps": st.get("steps"), "claims": st.get("claims"),
        "baselines": st.get("baselines"),
        # models put beside the study's (``--with``), each with the file that registered it,
        # and the models the Findings test them against
        "added": [{"model": m, "source": _source_of(m)} for m in added],
        "added_against": [m for m in st.get("added_against", []) if m in models],
        "forget_bias": st.get("forget_bias"),
        "copied_from": str(src) if src is not None else None,
        "not_searched": st.get("not_searched", {}),
        "settings": settings, "settings_in_words": settings_in_words(settings),
        **_search_args(st), "gradflow": st["gradflow"],
        "machine": f"{platform.machine()}, {usable_cpus()} CPUs, {platform.platform()}",
        "memorybench_version": __version__,
        # searches that stopped at a length that is not a measurement (a failed run): task ->
        # model -> "L=50: 2 of 10 runs failed (...)"; `memorybench study` then exits 1
        "not_measured": _not_measured(searches),
        "jacobian": st.get("jacobian"),
    }


def _rel(files: dict | None, out: Path, name: str) -> str | None:
    """The diagnostics' CSV under ``out`` (computed now, or kept from the source)."""
    return str(files["csv"].relative_to(out)) if files else None


def _gradflow(out: Path, searches, g: dict[str, Any], echo, draw=None) -> dict | None:
    """The gradient flow of the seed-0 runs of the models searched now, on the study's task and
    length, with the rows of the other models kept from the folder's CSV."""
    folder = out / store.DIAGNOSTICS / f"{g['task']}_L{g['length']}"
    runs = [f for f, seed in trained_runs(out, searches, g["task"], g["length"]) if seed == 0]
    if not runs:
        return {"csv": folder / "gradflow.csv"} if (folder / "gradflow.csv").is_file() else None
    if echo:
        echo(f"gradient flow: {len(runs)} trained models on {g['task']} L={g['length']}")
    from memorybench.diagnostics.gradflow import write_gradflow

    return write_gradflow(g["task"], [], g["length"], folder, runs=runs, batch=g.get("batch", 32),
                          root=out, keep=kept_rows(folder / "gradflow.csv", searches), draw=draw)


def _jacobian(out: Path, searches, jac: dict[str, Any], echo, draw=None) -> dict | None:
    """The memory-path Jacobian of every seed's run of the models searched now, with the rows
    of the other models kept from the folder's CSV."""
    folder = out / store.DIAGNOSTICS / jacobian_folder(jac)
    runs = [f for f, _ in trained_runs(out, searches, jac["task"], jac["train_length"])]
    old = next((f for f in (folder / "jacobian.csv", folder / "jacobian.csv.gz") if f.is_file()),
               None)
    if not runs:
        return {"csv": old} if old else None
    if echo:
        echo(f"memory-path Jacobian: {len(runs)} trained runs of {jac['task']} "
             f"L={jac['train_length']}, measured over T={jac['length']}")
    from memorybench.diagnostics.jacobian import write_jacobians

    files = write_jacobians(jac["task"], jac["length"], runs, folder, root=out,
                            batch=jac.get("batch", 32), keep=kept_rows(old, searches), draw=draw)
    if old is not None and old != files["csv"]:
        old.unlink()  # the kept rows are in the new CSV
    return files


def kept_rows(csv: Path | None, searches):
    """The rows of a diagnostics CSV whose model was not searched now (None without any): a
    study with added models computes the diagnostics of those alone and keeps the rest."""
    if csv is None or not Path(csv).is_file():
        return None
    import pandas as pd

    df = pd.read_csv(csv, dtype={"model": str, "run_id": str})
    if "model" not in df.columns:
        return None
    now = {x.model for x in searches}
    df = df[~df["model"].isin(now)]
    return df if len(df) else None


def check_added(st: dict[str, Any], add) -> list[str]:
    """The names to add, each a registered model not in the study (ConfigError otherwise)."""
    from memorybench.models import model_entry

    names = list(dict.fromkeys(add or ()))
    for m in names:
        if m in st["models"]:
            raise ConfigError(f"--with {m}: {m} is already in the study {st['name']} (its "
                              f"models: {', '.join(st['models'])}); --with takes models that "
                              f"are not")
        try:
            model_entry(m)
        except ConfigError as exc:
            raise ConfigError(f"--with {m}: {exc} (--plugin FILE registers yours)") from None
    return names


def shipped(name: str, scale: str) -> Path | None:
    """The folder of results the package ships for ``name`` at ``scale``, or None."""
    folder = SHIPPED / f"{name}-{scale}"
    return folder if (folder / store.STUDY_RECORD).is_file() else None


def source_folder(name: str, scale: str, out: Path, source: str | Path | None) -> Path:
    """Where the study's results come from: ``source``; else ``out`` when it holds the study;
    else the shipped results. ConfigError when there are none."""
    if source is not None:
        src = Path(source)
        if not (src / store.STUDY_RECORD).is_file():
            raise ConfigError(f"--from {src}: no study.json there; give the results folder of "
                              f"a `memorybench study {name} --scale {scale}`")
        return src
    if (out / store.STUDY_RECORD).is_file():
        return out
    found = shipped(name, scale)
    if found is None:
        have = sorted(p.parent.name for p in SHIPPED.glob("*/study.json"))
        raise ConfigError(f"no results of study {name} at scale {scale} to add to: --out {out} "
                          f"holds none and none are shipped (shipped: "
                          f"{', '.join(have) or 'none'}); run `memorybench "
                          f"study {name} --scale {scale} --out {out}` first, or give --from DIR")
    return found


# the study record's keys that must agree for a source's runs to be the study's
SAME_STUDY_KEYS = ("base", "max_length", "bisect", "min_length", "extend_rates")


def check_same_study(st: dict[str, Any], settings: dict[str, Any], src: Path) -> None:
    """ConfigError (one line) unless ``src`` holds this study made with these settings: its
    record's settings and search shape equal, and every first-round run of the study's models
    (run ids hash the resolved config, so another version of the study or of memorybench gives
    other ids) complete there."""
    import json

    from memorybench.models.resolve import run_id
    from memorybench.settings.grid import expand

    way_out = "; --retrain-baselines trains the study's models again with these settings"
    rec = store.read_json(src / store.STUDY_RECORD, "the study record")
    if not isinstance(rec, dict):
        rec = {}
    if rec.get("name") != st["name"] or rec.get("scale") != st["scale"]:
        raise ConfigError(f"{src} holds the study {rec.get('name')} at scale "
                          f"{rec.get('scale')}, not {st['name']} at {st['scale']}{way_out}")
    norm = lambda v: json.loads(json.dumps(v))  # noqa: E731 (tuples as lists, as in the file)
    theirs = {**(rec.get("settings") or {}), **{k: rec.get(k) for k in SAME_STUDY_KEYS}}
    ours = {**norm(settings), **{k: norm(st.get(k)) for k in SAME_STUDY_KEYS}}
    ours.setdefault("extend_rates", 0)
    ours["extend_rates"] = ours["extend_rates"] or 0
    theirs["extend_rates"] = theirs.get("extend_rates") or 0
    differ = [k for k in sorted(set(theirs) | set(ours)) if theirs.get(k) != ours.get(k)]
    if differ:
        said = ", ".join(f"{k} {theirs.get(k)!r} there, {ours.get(k)!r} here" for k in differ[:4])
        raise ConfigError(f"the results in {src} were made with other settings ({said}"
                          f"{' and more' if len(differ) > 4 else ''}){way_out}")
    first = expand({**settings, **{f"{t}.lengths": [b] for t, b in st["base"].items()}})
    ids = [run_id(c) for c in first.configs]
    missing = [i for i in ids if not store.is_complete(store.run_dir(src, i))]
    if missing:
        raise ConfigError(f"{len(missing)} of the {len(ids)} first-round runs of the study's "
                          f"models are not complete in {src} (first: {missing[0]}): it was made "
                          f"by another version of the study or of memorybench{way_out}")


def _source_of(model: str) -> str:
    """Where ``model`` was registered: "builtin", an entry point, or the plugin file."""
    from memorybench.models import model_entry

    return str(model_entry(model)[1].source)


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

