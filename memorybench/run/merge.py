"""Merging results folders: ``memorybench merge A B ... --out C``.

The union of the sources by run id. A run is its folder under ``runs/`` (summary, config,
history, weights); only complete runs are taken (``store.load_summary``: the one type-checked
reader; an incomplete or unreadable run is left out and counted). The records beside the runs
are merged the same way, by their path under the folder: ``searches/*.json``, ``study.json``,
``reproduce.json`` and the diagnostics under ``gradflow/``.

Identical duplicates (the same run id with the same summary; a record with the same bytes) are
kept once. The same run id with different summaries, or a record that differs between sources,
is a conflict: every conflict is listed and nothing is written, unless ``prefer`` names the
source that wins (then the others' versions are left out, and counted). Nothing is read or
copied through a symbolic link; the output folder must be new or empty, so a merge never mixes
with what it would overwrite. Because run ids hash the resolved config, the report of the
merged folder is the report over the union of the sources' runs.
"""

from __future__ import annotations

import filecmp
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from memorybench.errors import ConfigError, DataError, printable
from memorybench.run import store

RECORDS = (f"{store.SEARCHES}/*.json", store.STUDY_RECORD, store.REPRODUCTION_RECORD,
           f"{store.DIAGNOSTICS}/*/*")


@dataclass
class Merged:
    """What a merge took: counts, and what it left out (with why)."""

    runs: int = 0
    duplicates: int = 0
    records: int = 0
    overridden: int = 0  # versions left out because ``prefer`` chose another source's
    skipped: list[str] = field(default_factory=list)


def _runs(source: Path, skipped: list[str]) -> dict[str, tuple[Path, str]]:
    """{run id: (folder, canonical summary JSON)} of the complete runs of ``source``."""
    out = {}
    for folder in store.list_runs(source):
        if store.link_below(source, folder) is not None:
            skipped.append(f"{folder}: a symbolic link (not followed)")
            continue
        try:
            summary = store.load_summary(folder)
        except DataError as exc:
            skipped.append(f"{folder}: {printable(exc)}")
            continue
        out[folder.name] = (folder, json.dumps(summary, sort_keys=True))
    return out


def _records(source: Path, skipped: list[str]) -> dict[str, Path]:
    """{path under the folder: file} of the records beside the runs."""
    out = {}
    for pattern in RECORDS:
        for f in sorted(source.glob(pattern)):
            if store.link_below(source, f) is not None:
                skipped.append(f"{f}: a symbolic link (not followed)")
            elif f.is_file():
                out[str(f.relative_to(source))] = f
    return out


def merge(sources: list[str | Path], out: str | Path, prefer: int | None = None) -> Merged:
    """Merge ``sources`` (results folders) into the new folder ``out``; ``prefer``: the index
    (0-based) of the source whose version wins a conflict. ConfigError, before anything is
    written, for a missing source, an ``out`` that is not new or empty, or conflicts without
    ``prefer``."""
    srcs = [Path(s) for s in sources]
    if len(srcs) < 2:
        raise ConfigError("merge needs at least two results folders")
    for s in srcs:
        if not store.runs_dir(s).is_dir():
            raise ConfigError(f"{str(s)!r} is not a results folder (no runs/ folder in it)")
    if prefer is not None and not 0 <= prefer < len(srcs):
        raise ConfigError(f"--prefer {prefer + 1} is not allowed; allowed: 1 to {len(srcs)} "
                          f"(the position of a source folder)")
    dest = Path(out)
    if dest.resolve() in {s.resolve() for s in srcs}:
        raise ConfigError(f"--out {str(out)!r} is one of the sources; merge into a new folder")
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise ConfigError(f"--out {str(out)!r} exists and is not empty; merge into a new folder")
    result = Merged()
    runs = [_runs(s, result.skipped) for s in srcs]
    records = [_records(s, result.skipped) for s in srcs]

    chosen_runs: dict[str, Path] = {}
    chosen_records: dict[str, Path] = {}
    conflicts: list[str] = []
    order = list(range(len(srcs)))
    if prefer is not None:  # the preferred source first: its version is the one kept
        order = [prefer] + [i for i in order if i != prefer]
    seen: dict[str, str] = {}
    for i in order:
        for rid, (folder, summary) in runs[i].items():
            if rid not in chosen_runs:
                chosen_runs[rid], seen[rid] = folder, summary
            elif seen[rid] == summary:
                result.duplicates += 1
            elif prefer is not None:
                result.overridden += 1
            else:
                conflicts.append(f"run {rid}: different summaries in "
                                 f"{chosen_runs[rid].parent.parent} and {srcs[i]}")
        for rel, f in records[i].items():
            if rel not in chosen_records:
                chosen_records[rel] = f
            elif filecmp.cmp(chosen_records[rel], f, shallow=False):
                result.duplicates += 1
            elif prefer is not None:
                result.overridden += 1
            else:
                conflicts.append(f"{rel}: differs between "
                                 f"{_source_of(chosen_records[rel], rel)} and {srcs[i]}")
    if conflicts:
        more = f" (and {len(conflicts) - 5} more)" if len(conflicts) > 5 else ""
        raise ConfigError(f"{len(conflicts)} conflict(s), nothing written: "
                          + "; ".join(conflicts[:5]) + more
                          + "; choose the folder that wins with --prefer N (its position)")
    for rid, folder in sorted(chosen_runs.items()):
        shutil.copytree(folder, store.run_dir(dest, rid), symlinks=True,
                        ignore=shutil.ignore_patterns(".lock", "*.tmp"))
        result.runs += 1
    for rel, f in sorted(chosen_records.items()):
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(f, target)
        result.records += 1
    return result


def _source_of(f: Path, rel: str) -> Path:
    """The source folder a record ``f`` (at ``rel`` under it) came from."""
    p = f
    for _ in Path(rel).parts:
        p = p.parent
    return p


def copy_missing(source: str | Path, out: str | Path, leave_out: tuple[str, ...] = ()) -> Merged:
    """Copy into ``out`` the complete runs and the records of ``source`` that ``out`` lacks
    (``study --with``: the study's results beside the added models); what ``out`` already has
    is never overwritten (``duplicates`` counts it). ``leave_out``: file names not copied (the
    weights; the study record, which the study writes itself)."""
    src, dest = Path(source), Path(out)
    result = Merged()
    ignore = shutil.ignore_patterns(".lock", "*.tmp", *leave_out)
    for rid, (folder, _) in sorted(_runs(src, result.skipped).items()):
        target = store.run_dir(dest, rid)
        if target.exists():
            result.duplicates += 1
            continue
        shutil.copytree(folder, target, symlinks=True, ignore=ignore)
        result.runs += 1
    for rel, f in sorted(_records(src, result.skipped).items()):
        target = dest / rel
        if Path(rel).name in leave_out:
            continue
        if target.exists() or (rel.endswith(".gz") and target.with_suffix("").exists()):
            result.duplicates += 1
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(f, target)
        result.records += 1
    return result
