"""Reproduction profiles, run as published (``--scale full``, for a GPU) or scaled down.

``memorybench reproduce bai2018,arjovsky2016 --scale cpu --out DIR`` expands the profiles
(``memorybench.settings.PROFILES``), shrinks every run by the scale's documented factors
(``SCALES``), runs them as an ordinary sweep into ``DIR`` (resumable) and writes
``DIR/reproduce.json``: the scale and, for every run, the profile's setting it stands for. The
report (``memorybench report``) reads that record: it labels every table of a scaled run as
SCALED, NOT A REPRODUCTION, and matches each run with the published numbers of the setting it
stands for (``memorybench.references.compare``), with the scale spelled out among the
differences. A scaled run checks the pipeline and shows how far a small budget gets; it never
passes for a reproduction.

Scale ``cpu`` (at most 10 minutes for both profiles on a busy 2-core CPU, two runs at once):
lengths / 20 (at least the task's minimum), MNIST one row (28 pixels) a step instead of one pixel
(28 steps instead of 784), training steps / 200 with 2 evaluations, one pass over the data of the
shortened budget, at most 128 validation and 256 test sequences, one seed; model sizes,
optimisers, learning rates and clipping stay the paper's (a TCN's dilations are chosen again to
cover the shortened sequence).
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from memorybench.errors import ConfigError, DataError

# the profiles that reproduce a paper (settings.PROFILES), and the paper each reproduces
PAPER_PROFILES = {
    "bai2018": "Bai, Kolter & Koltun 2018, Table 1 (synthetic rows)",
    "arjovsky2016": "Arjovsky, Shah & Bengio 2016, Section 4 (copy memory, adding)",
}
SCALES: dict[str, dict[str, Any]] = {
    "full": {
        "words": "as published",
        "description": "the profile as the paper gives it (for a GPU)",
    },
    "cpu": {
        "words": "cpu: lengths / 20, training steps / 200, MNIST 28 pixels a step, one seed",
        "description": "lengths / 20, MNIST one row (28 pixels) a step, training steps / 200 "
        "(2 evaluations), one pass over the data, at most 128 validation and 256 test "
        "sequences, one seed; model sizes and optimiser settings as published. At most 10 "
        "minutes for both profiles on a busy 2-core CPU",
        "length_divisor": 20,
        "steps_divisor": 200,
        "mnist_pixels_per_step": 28,
        "evaluations": 2,
        "max_n_val": 128,
        "max_n_test": 256,
        "max_eval_batch_size": 256,
        "seeds": 1,
        "workers": 2,
    },
}


def profiles_of(names: str | list[str]) -> list[str]:
    """``"bai2018,arjovsky2016"`` or ``"all"`` -> checked profile names."""
    raw = names.split(",") if isinstance(names, str) else list(names)
    items = [n.strip() for n in raw if n and n.strip()]
    if items == ["all"]:
        return list(PAPER_PROFILES)
    if not items:
        raise ConfigError(f"no profile given; known: {', '.join(PAPER_PROFILES)}, all")
    for n in items:
        if n not in PAPER_PROFILES:
            raise ConfigError(f"unknown reproduction profile {n!r}; known: "
                              f"{', '.join(PAPER_PROFILES)}, all")
    return list(dict.fromkeys(items))


def check_scale(scale: str) -> dict[str, Any]:
    if scale not in SCALES:
        raise ConfigError(f"unknown scale {scale!r}; known: {', '.join(SCALES)}")
    return SCALES[scale]


def _round_to(value: float, multiple: int) -> int:
    return max(multiple, int(round(value / multiple)) * multiple)


def scale_config(cfg, scale: str):
    """A resolved run of a profile -> the run the scale makes of it (resolved); ``full``: the
    run itself."""
    from memorybench.config import ModelConfig, RunConfig, TaskConfig
    from memorybench.models.resolve import resolve
    from memorybench.tasks import TASKS, get_task

    sc = check_scale(scale)
    if scale == "full":
        return cfg
    params = dict(cfg.task.params)
    task = get_task(cfg.task.name, **params)
    if task.spec.dataset != "synthetic" and "pixels_per_step" in params:
        params["pixels_per_step"] = sc["mnist_pixels_per_step"]
        params["length"] = None  # derived from pixels_per_step
    elif isinstance(params.get("length"), int):
        minimum = getattr(TASKS.get(cfg.task.name), "min_length", 1)
        params["length"] = max(minimum, int(round(params["length"] / sc["length_divisor"])))
    model_params = {k: v for k, v in cfg.model.params.items() if k != "dilations"}
    t = cfg.train
    steps = _round_to(t.steps / sc["steps_divisor"], sc["evaluations"])
    train = dataclasses.replace(
        t, steps=steps, eval_every=steps // sc["evaluations"],
        n_train=min(t.n_train, steps * t.batch_size), n_val=min(t.n_val, sc["max_n_val"]),
        n_test=min(t.n_test, sc["max_n_test"]),
        eval_batch_size=min(t.eval_batch_size, sc["max_eval_batch_size"]),
        steps_per_execution=1,
    )
    return resolve(RunConfig(
        TaskConfig(cfg.task.name, params),
        ModelConfig(cfg.model.name, units=cfg.model.units, layers=cfg.model.layers,
                    param_budget=None, params=model_params),
        train, cfg.seed,
    ))


def stands_for(cfg, profile: str) -> dict[str, Any]:
    """What a run of ``profile`` is, in the terms ``references.compare`` matches."""
    from memorybench.models.resolve import run_id
    from memorybench.tasks import get_task

    task = get_task(cfg.task.name, **cfg.task.params)
    return {
        "profile": profile, "run_id": run_id(cfg), "task": cfg.task.name,
        "task_params": dict(cfg.task.params), "length": task.spec.steps if task.spec.dataset
        != "synthetic" else cfg.task.params.get("length"),
        "model": cfg.model.name, "units": cfg.model.units, "steps": cfg.train.steps,
        "batch_size": cfg.train.batch_size, "n_train": cfg.train.n_train,
    }


@dataclasses.dataclass
class Reproduction:
    """The runs of a reproduction: ``configs`` (what runs) and ``record`` (reproduce.json)."""

    configs: list
    record: dict[str, Any]
    notes: list[str]


def plan_reproduction(profiles: str | list[str], scale: str = "cpu",
                      models: str | None = None, sets=None) -> Reproduction:
    """Expand the profiles (``models``: a slice of their models; ``sets``: ``--set`` items,
    applied before scaling) and scale every run. Raises ConfigError for bad input."""
    from memorybench.models.resolve import run_id
    from memorybench.settings.catalogue import PROFILES
    from memorybench.settings.grid import plan
    from memorybench.settings.keys import name_list

    names = profiles_of(profiles)
    sc = check_scale(scale)
    if models is not None:  # a slice of the profiles' models, never another model
        theirs = list(dict.fromkeys(m for n in names for m in name_list(
            "models", PROFILES[n].get("models", []))))
        other = [m for m in name_list("--models", models) if m not in theirs]
        if other:
            raise ConfigError(f"--models {', '.join(other)}: not a model of "
                              f"{', '.join(names)}; its models: {', '.join(theirs)}")
    configs, runs, notes = [], {}, []
    for name in names:
        mine = None if models is None else ",".join(
            m for m in name_list("--models", models)
            if m in name_list("models", PROFILES[name].get("models", [])))
        if mine == "":
            continue  # none of the slice is this profile's
        p = plan(name, models=mine, sets=sets)
        notes += p.notes
        for cfg in p.configs:
            if scale != "full" and cfg.seed >= sc["seeds"]:
                continue
            small = scale_config(cfg, scale)
            rid = run_id(small)
            if rid not in runs:
                runs[rid] = stands_for(cfg, name)
                configs.append(small)
    record = {
        "profiles": names, "papers": {n: PAPER_PROFILES[n] for n in names}, "scale": scale,
        "scale_words": sc["words"], "scale_description": sc["description"],
        "factors": {k: v for k, v in sc.items() if k not in ("words", "description")},
        "runs": runs,
    }
    return Reproduction(configs, record, list(dict.fromkeys(notes)))


def write_record(out: Path, rec: dict[str, Any], command: str | None = None) -> dict[str, Any]:
    """Merge ``rec`` into ``out/reproduce.json`` (runs of earlier calls at the same scale are
    kept; another scale replaces the record) and write it atomically."""
    from memorybench.run import store

    try:
        old = store.load_reproduction(out)
    except DataError:
        old = None
    if old and old.get("scale") == rec["scale"]:
        rec = {**rec, "runs": {**old["runs"], **rec["runs"]},
               "profiles": list(dict.fromkeys([*old.get("profiles", []), *rec["profiles"]])),
               "papers": {**old.get("papers", {}), **rec["papers"]}}
    rec = {**rec, "command": command,
           "written_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    store.write_json(Path(out) / store.REPRODUCTION_RECORD, rec)
    return rec


def reproduce(profiles, scale: str, out_dir: str | Path, *, models=None, sets=None,
              executor=None, reporter=None, retry_failed: bool = False,
              command: str | None = None):
    """Run the (scaled) reproduction into ``out_dir``; returns ``(record, sweep result)``."""
    from memorybench.run.executors import get_executor
    from memorybench.run.sweep import sweep

    rep = plan_reproduction(profiles, scale, models=models, sets=sets)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    # the record first: a report of a half-finished reproduction is labelled too
    rec = write_record(out, rep.record, command)
    if executor is None:
        executor = get_executor("local", workers=SCALES[scale].get("workers") or 1)
    result = sweep(rep.configs, out, executor=executor, retry_failed=retry_failed,
                   reporter=reporter)
    return rec, result
