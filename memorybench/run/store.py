"""The result store: run folders, atomic artifact writes, and reading runs back.

Artifact schema (the contract between the runner and the reports; keys may be added, never
renamed or dropped):

``<results>/runs/<run_id>/`` per run; ``run_id`` = first 16 hex of sha256 of the canonical JSON
(sorted keys) of the resolved config (without output paths / executor / display options; see
``memorybench.models.resolve.run_id``). Every file is written to a temporary name in the same
folder and ``os.replace``d. No pickle.

``config.json`` — the resolved ``RunConfig`` as JSON::

    {"task": {"name": str, "params": {...all task dataclass fields...}},
     "model": {"name": str, "units": int, "layers": int, "param_budget": int|null, "params": {}},
     "train": {"steps": int, "batch_size": int, "eval_every": int, "lr": float, "optimizer": str,
               "clipnorm": float, "n_train": int, "n_val": int, "n_test": int,
               "precision": str, "jit": bool, "early_stop": bool,
               "steps_per_execution": int, ...} ("auto" settings made concrete by ``resolve``),
     "seed": int, "plugins": {path: sha256}, "memorybench_version": str,
     "code": {"task"|"model": sha256 of the plugin file providing it (part of the run id)}}

``history.csv`` — one row per evaluation: ``step, seconds, train_loss, val_loss, val_metric,
val_score`` (floats; seconds = training wall time so far, evaluation time excluded).

``summary.json`` (written last; its presence with a ``status`` key marks the run complete). Every
summary has every key below, a failed run's too (``null`` where it did not get that far): it is
built in one place, ``memorybench.run.train.summarize``::

    {"run_id": str, "status": "completed" | "diverged" | "failed", "reason": str|null,
     "traceback": str|null,
     "task": str, "length": int, "task_params": {...}, "dataset": "synthetic"|"mnist"|"mnist-5k",
     "model": str, "units": int, "layers": int, "seed": int,
     "metric": str (metric name), "higher_is_better": bool, "chance": float,
     "solved_at": float|null,
     "test_metric": float|null, "test_loss": float|null, "score": float|null (normalised),
     "solved": bool, "steps_trained": int, "steps_to_solve": int|null,
     "seconds_to_solve": float|null, "params": int|null, "throughput": float|null
     (training sequences per second, steady state: the first evaluation interval, which
     holds graph tracing / compilation, is left out when the run has a later one),
     "wall_seconds": float,
     "device": str, "gpus": [str], "precision": str, "jit": bool, "cudnn_eligible": bool|null,
     "versions": {"python", "memorybench", "keras", "tensorflow", "numpy", "backend"},
     "plugins": {path: sha256}, "started_at": ISO-8601 str, "finished_at": ISO-8601 str,
     # added keys
     "param_budget": int|null, "steps": int (the step budget), "batch_size": int,
     "lr": float (the learning rate; reports select it per model on ``val_metric``),
     "train_seconds": float, "val_metric": float|null (last evaluation),
     "n_train": int, "n_val": int, "n_test": int (sequences actually used),
     "paper_metrics": {name: float} (test-split metrics named as in a paper whose metric differs
     from ours, from ``task.evaluate``: copy_memory ``ce_all_steps``, the cross-entropy over all
     T+20 steps of Bai et al. 2018; adding variant hochreiter1997 ``fraction_correct``; {} for
     the other tasks and for runs without a test score),
     "training_path": {jit: bool (XLA as compiled), steps_per_execution: int, program:
     "compiled" or "reused" (the process's compiled program of the previous run of the same
     shape, ``memorybench/run/programs.py``), note: str|null (why XLA is off)}|null}

Optional: ``model.weights.h5`` (flag ``--save-weights``), ``tensorboard/`` (flag
``--tensorboard``).

Non-finite floats are written as ``null`` so every file is strict JSON.

Beside ``runs/``, a results folder holds *records*: JSON files that describe more than one run
(the word has this one meaning in the package): ``searches/*.json`` (a horizon search each),
``study.json`` (a study) and ``reproduce.json`` (a reproduction). Their names and readers are
here (``read_record`` checks links and shape once); ``gradflow/`` holds the diagnostics' CSVs
and figures.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import tempfile
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from memorybench.errors import DataError
from memorybench.run.schema import (
    SEARCH_TYPES,
    STUDY_TYPES,
    SUMMARY,
    check_summary,
    record_problem,
)

DEFAULT_RESULTS = "results"  # the default results folder, in the working directory
RUNS = "runs"
CONFIG = "config.json"
HISTORY = "history.csv"
WEIGHTS = "model.weights.h5"
TENSORBOARD = "tensorboard"
STUDY_RECORD = "study.json"  # a study's record, beside runs/ (run/study.py writes it)
SEARCHES = "searches"  # the horizon searches' records (run/horizon.py), one JSON file each
REPRODUCTION_RECORD = "reproduce.json"  # what `memorybench reproduce` ran (run/reproduce.py)
DIAGNOSTICS = "gradflow"  # gradient flow and memory-path Jacobians, one folder per measurement
HISTORY_FIELDS = ("step", "seconds", "train_loss", "val_loss", "val_metric", "val_score")


@dataclass
class RunResult:
    """What a run gives back: its id, folder, status and summary (as written)."""

    run_id: str
    run_dir: Path
    status: str
    summary: dict[str, Any]
    skipped: bool = False  # a sweep found it complete and did not run it again

    @property
    def reason(self) -> str | None:
        return self.summary.get("reason")


def result_of(folder: str | Path, summary: dict[str, Any], skipped: bool = False) -> RunResult:
    """The ``RunResult`` of the run folder ``folder`` (named by its run id) from its summary:
    the one place a summary becomes a result."""
    return RunResult(Path(folder).name, Path(folder), summary["status"], summary, skipped)


def load_result(folder: str | Path, skipped: bool = False) -> RunResult:
    """``result_of`` the summary written in ``folder`` (``load_summary``'s errors)."""
    return result_of(folder, load_summary(folder), skipped)


def runs_dir(results: str | Path) -> Path:
    return Path(results) / RUNS


def run_dir(results: str | Path, run_id: str) -> Path:
    return runs_dir(results) / run_id


# -- atomic writes ---------------------------------------------------------------------------
_UMASK = os.umask(0)
os.umask(_UMASK)  # read once: the process umask, applied to atomically written files
def write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to a temporary file in the same folder, then ``os.replace`` it."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        # mkstemp makes 0600 files; results and reports are meant to be shared like any file
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text(path: str | Path, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_json(path: str | Path, obj: Any) -> None:
    write_text(path, json.dumps(clean(obj), indent=2, sort_keys=True, allow_nan=False) + "\n")


def write_csv(path: str | Path, rows: list[dict], fields=HISTORY_FIELDS) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(fields), extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for row in rows:
        w.writerow({k: ("" if v is None else v) for k, v in clean(row).items()})
    write_text(path, buf.getvalue())


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """``value`` safe in a spreadsheet: a string that starts with ``= + - @``, a tab or a CR and
    is not a number gets a leading single quote (OWASP's advice against CSV formula
    injection: a model named ``=HYPERLINK(...)`` stays text). Numbers, and strings that are
    numbers (``-0.5``), are kept as they are. Every CSV the report writes passes through it."""
    if not isinstance(value, str) or not value.startswith(_FORMULA_START):
        return value
    try:
        float(value)
    except ValueError:
        return "'" + value
    return value


def csv_rows_text(rows: list[dict], fields) -> str:
    """``rows`` (dicts) as CSV text with the columns ``fields``, every cell through
    ``csv_cell``."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=[csv_cell(f) for f in fields], extrasaction="ignore",
                       lineterminator="\n")
    w.writeheader()
    for row in rows:
        w.writerow({csv_cell(k): csv_cell(v) for k, v in row.items()})
    return buf.getvalue()


def frame_csv(df) -> str:
    """A pandas DataFrame as CSV text (no index), every string cell and header through
    ``csv_cell``."""
    from pandas.api.types import is_numeric_dtype

    safe = df.copy()
    safe.columns = [csv_cell(c) for c in safe.columns]
    for i in range(safe.shape[1]):
        col = safe.iloc[:, i]
        if not is_numeric_dtype(col):  # text, or mixed (object) columns
            safe.isetitem(i, col.map(csv_cell))
    return safe.to_csv(index=False)


def clean(obj: Any) -> Any:
    """JSON-able copy: numpy scalars -> Python, non-finite floats -> None, tuples -> lists."""
    if isinstance(obj, dict):
        return {str(k): clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [clean(v) for v in obj]
    if hasattr(obj, "item") and callable(obj.item) and not isinstance(obj, (str, bytes)):
        obj = obj.item()  # numpy scalar
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Path):
        return str(obj)
    return obj


def clear_run(path: str | Path) -> None:
    """Remove a previous attempt's artifacts, summary first (so the run reads as incomplete)."""
    path = Path(path)
    for name in (SUMMARY, HISTORY, WEIGHTS):
        (path / name).unlink(missing_ok=True)


# -- reading ---------------------------------------------------------------------------------
MAX_JSON_BYTES = 16 * 2**20  # the largest JSON file read from results (a summary is ~2 KB)


def read_regular(path: str | Path, limit: int = MAX_JSON_BYTES) -> bytes:
    """The bytes of ``path`` when it is a regular file of at most ``limit`` bytes, not a
    symbolic link; DataError otherwise. Opened non-blocking and checked with ``fstat`` before
    reading, so a FIFO, a device or a socket named like a results file never hangs a reader
    (FileNotFoundError when absent, for callers that treat that case apart)."""
    import stat

    f = Path(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(f, flags | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        raise
    except OSError as exc:
        if f.is_symlink():  # ELOOP: results are read only from files inside the folder
            raise DataError(f"{f}: is a symbolic link (results are read only from files "
                            f"inside the results folder)") from None
        raise DataError(f"{f}: cannot be read: {exc.strerror or exc}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise DataError(f"{f}: not a regular file (a FIFO, a device or a folder); "
                            f"results are read only from regular files")
        if st.st_size > limit:
            raise DataError(f"{f}: {st.st_size:,} bytes, more than the {limit // 2**20} MiB "
                            f"a results file may have")
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:  # grew while read
            raise DataError(f"{f}: more than the {limit // 2**20} MiB a results file may have")
        return b"".join(chunks)
    except OSError as exc:
        if isinstance(exc, DataError):
            raise
        raise DataError(f"{f}: cannot be read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def read_json(path: str | Path, what: str = "file") -> Any:
    """The JSON value of the results file ``path`` (a summary, a config, a search or study
    record): the one reader of JSON from results. DataError, naming the file, when it is not a
    regular file (``read_regular``), is larger than ``MAX_JSON_BYTES``, is not UTF-8, is not
    valid JSON or is nested too deeply to parse; FileNotFoundError when absent."""
    f = Path(path)
    data = read_regular(f)
    try:
        return json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise DataError(f"{f}: unreadable {what}: not UTF-8 ({exc.reason})") from None
    except RecursionError:
        raise DataError(f"{f}: unreadable {what}: nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, and integers of more digits than Python takes
        raise DataError(f"{f}: unreadable {what}: not valid JSON ({str(exc)[:120]})") from None


def is_complete(path: str | Path) -> bool:
    """A run is complete when its ``summary.json`` reads and fits the schema (``load_summary``)."""
    try:
        load_summary(path)
    except DataError:
        return False
    return True


def load_summary(path: str | Path) -> dict[str, Any]:
    """The summary of the run folder ``path``, type-checked (``SUMMARY_TYPES``, ``_checked``);
    DataError if missing, corrupt, incomplete or of the wrong shape. Every reader of summaries
    (the reports, the sweep's resume, the horizon search) goes through it, so a summary the
    report skips is one the sweep runs again."""
    f = Path(path) / SUMMARY
    try:
        data = read_json(f, "summary")
    except FileNotFoundError:
        raise DataError(f"{f}: no summary (the run is incomplete)") from None
    if not isinstance(data, dict) or "status" not in data:
        raise DataError(f"{f}: summary has no 'status' (the run is incomplete)")
    return check_summary(Path(path), data)


def load_config(path: str | Path) -> dict[str, Any]:
    f = Path(path) / CONFIG
    try:
        data = read_json(f, "config")
    except FileNotFoundError as exc:
        raise DataError(f"{f}: unreadable config: {exc.strerror}") from None
    if not isinstance(data, dict):
        raise DataError(f"{f}: unreadable config: not a JSON object")
    return data


def load_history(path: str | Path) -> list[dict[str, float | None]]:
    """``history.csv`` rows as dicts of floats (empty cells -> None); [] when absent. A folder
    that ships its history compressed (``history.csv.gz``, the shipped study results) is read
    the same way."""
    import gzip

    f = Path(path) / HISTORY
    gz = Path(path) / (HISTORY + ".gz")
    if f.is_file():
        fh = f.open(newline="")
    elif gz.is_file():
        fh = gzip.open(gz, "rt", newline="")
    else:
        return []
    rows = []
    with fh:
        for row in csv.DictReader(fh):
            rows.append({k: (float(v) if v not in ("", None) else None) for k, v in row.items()})
    return rows


def list_runs(results: str | Path) -> list[Path]:
    """Every run folder under ``results/runs`` (complete or not), sorted by name."""
    d = runs_dir(results)
    if not d.is_dir():
        return []
    return sorted(p for p in d.iterdir() if p.is_dir() and not p.name.startswith("."))


def iter_summaries(
    results: str | Path, warn: bool | Callable[[str], None] = True
) -> Iterator[dict[str, Any]]:
    """Summaries of the complete runs under ``results``, each with ``run_dir`` added: the one
    reader of the store (the reports read through it).

    Folders without a summary (a run in progress, or killed before the end) are left out; a
    summary that is corrupt, half written, lacks what every summary has (a ``status`` of
    ``STATUSES``, ``task``, ``model``, ``length``) or holds a value of the wrong type for its key
    (``SUMMARY_TYPES``: ``length`` "abc", ``units`` a list) is skipped with a message naming the
    file and the key, given to ``warn`` when it is a callable, as a ``UserWarning`` when it is
    True, and dropped when False. So is a run folder that is, or whose files are, symbolic links
    (results are read only from files inside the results folder: ``linked``).
    """
    paths = list_runs(results)
    if paths and runs_dir(results).is_symlink():
        paths = [runs_dir(results)]  # one warning for the whole folder
    for path in paths:
        link = linked(path, RUN_FILES)
        if link is not None:
            what = "every run" if path == runs_dir(results) else f"run {path.name}"
            msg = (f"skipping {what}: {link} is a symbolic link (results are read only from "
                   f"files inside the results folder)")
        elif not (path / SUMMARY).exists():
            continue  # not worth a warning
        else:
            msg = None
        try:
            if msg is not None:
                raise DataError(msg)
            s = load_summary(path)
        except DataError as exc:
            msg = str(exc) if msg is not None else f"skipping run {path.name}: {exc}"
            if callable(warn):
                warn(msg)
            elif warn:
                warnings.warn(msg, UserWarning, stacklevel=2)
            continue
        s["run_dir"] = str(path)
        yield s


RUN_FILES = (SUMMARY, CONFIG, HISTORY, WEIGHTS)  # what the reports read from a run folder


def linked(path: str | Path, names: tuple[str, ...] = ()) -> Path | None:
    """``path`` itself, or its first entry among ``names``, when it is a symbolic link; else
    None. Readers of a results folder skip such paths: a link leads out of the folder."""
    path = Path(path)
    for p in (path, *(path / n for n in names)):
        if p.is_symlink():
            return p
    return None


def check_folder_inside(root: str | Path, folder: str | Path, what: str) -> None:
    """OutputError unless ``folder`` (inside the results folder ``root``) is a real folder or
    absent: nothing is written through a symbolic link or into a file. ``what``: what would be
    written there, for the message."""
    from memorybench.errors import OutputError

    link = link_below(root, folder)
    if link is not None:
        raise OutputError(f"{link} is a symbolic link; remove it ({what} is written only inside "
                          f"the results folder)")
    if Path(folder).exists() and not Path(folder).is_dir():
        raise OutputError(f"{folder} is not a folder; remove it or choose another --out")


def link_below(root: str | Path, path: str | Path) -> Path | None:
    """The first path from ``root`` (exclusive) down to ``path`` (inclusive) that is a symbolic
    link, or None: such a path leads out of the results folder ``root`` (which may itself be a
    link: the user named it)."""
    root, path = Path(root), Path(path)
    try:
        parts = path.relative_to(root).parts
    except ValueError:
        return path if path.is_symlink() else None
    p = root
    for part in parts:
        p = p / part
        if p.is_symlink():
            return p
    return None


def load_summaries(
    results: str | Path, warn: bool | Callable[[str], None] = True
) -> list[dict[str, Any]]:
    return list(iter_summaries(results, warn=warn))


def read_record(results: str | Path, path: str | Path, what: str, types, required=(),
                warn=None) -> dict[str, Any] | None:
    """The JSON record ``path`` of the results folder ``results``, read and checked in one
    place: None when it is absent or a link leads out of ``results`` (``link_below``); None with
    a message to ``warn`` when it is unreadable (``read_json``: not a regular file, too large,
    too deep, not JSON) or of the wrong shape (``record_problem`` against ``types``)."""
    if link_below(results, path) is not None:
        return None
    try:
        rec = read_json(path, what)
    except FileNotFoundError:
        return None
    except DataError as exc:
        if warn is not None:
            warn(f"skipping {what}: {exc}")
        return None
    problem = record_problem(rec, types, required)
    if problem is not None:
        if warn is not None:
            warn(f"skipping {what} {path}: {problem}")
        return None
    return rec


def load_searches(results: str | Path, warn=None) -> list[dict[str, Any]]:
    """The horizon searches' records under ``results/searches/`` (``SEARCH_TYPES``; unreadable
    ones and those of the wrong shape skipped with a message to ``warn``)."""
    out = []
    for p in sorted((Path(results) / SEARCHES).glob("*.json")):
        rec = read_record(results, p, "search record", SEARCH_TYPES, ("task", "model"), warn)
        if rec is not None:
            out.append(rec)
    return out


def load_study(results: str | Path, warn=None) -> dict[str, Any] | None:
    """The study record (``study.json``, ``STUDY_TYPES``), or None (absent; or unreadable or
    of the wrong shape, then with a message to ``warn``)."""
    return read_record(results, Path(results) / STUDY_RECORD, "study record", STUDY_TYPES,
                       warn=warn)


def load_reproduction(results: str | Path) -> dict[str, Any] | None:
    """``results/reproduce.json`` (None when absent or a link leads out of ``results``); a
    corrupt one is a DataError."""
    path = Path(results) / REPRODUCTION_RECORD
    if link_below(results, path) is not None or not path.is_file():
        return None
    try:  # a regular file only, bounded, not nested too deeply
        rec = read_json(path, "reproduction record")
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: not a reproduction record ({exc}); it is ignored") from None
    if not isinstance(rec, dict) or not isinstance(rec.get("runs"), dict):
        raise DataError(f"{path}: not a reproduction record (no 'runs'); it is ignored")
    return rec
