"""The memory-horizon search: per task and model, the largest length a majority of seeds solve.

Instead of a fixed grid of lengths the search probes adaptively: start at a base length, double
while the model solves, stop at the first length it does not solve (or at ``max_length``); when
the base length itself is not solved, halve down to ``floor`` (``min_length``) until a length is
solved, so that a model below the base still gets a bracket instead of "[-, base)"; then
optionally bisect between the last solved and the first failed length (``bisect`` steps). The
result is a bracket ``[largest solved, smallest failed]``.

A rate grid has edges. With ``extend_rates`` = N > 0, when the rate chosen at a length is the
grid's largest (smallest), the search probes that length again with the next rate beyond it,
3x (1/3x) the edge, up to N times a length, and decides only when the choice is interior, or the
new rate lost on validation (a diverging rate ranks last), or N is spent. The probe records the
grid it ended with (``lrs``) and the rates it added (``rates_added``).

A failure is not "not solved". When a run at a probed length failed (at any rate), or seeds
diverged at the chosen rate, that length is not measured: the search stops there and says so
(``not_measured`` in its record: "L=50: 2 of 10 runs failed (...)"), ``memorybench horizon``
and ``study`` exit 1, and ``--retry-failed`` runs the failed runs again.

"Solved at a length" means: at that model's best learning rate for that length (chosen on the
validation split, ``run.selection.choose_rate``), more than half of the seeds solve the test
split. Every probed length runs *all* rates of the grid with all seeds: the best rate moves with
the length (longer lags want smaller steps), so trying only the previous length's best rate
first would bias the bracket against exactly the models whose rate needs to change, and a second
round for the remaining rates would double the rounds the search waits on. The cost is one full
grid per probed length, which the executor runs in parallel.

Each probed length is an ordinary run in the store, so resume, ``--workers``, Ray and progress
work unchanged: all active searches submit their next length together as one sweep (one
"round"), and the next length is chosen from the finished runs' summaries. Each search writes
``<out>/searches/<task>__<model>__<hash>.json`` (settings, probes, bracket, whether it hit the
maximum), which the reports read.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from memorybench.errors import ConfigError, DataError
from memorybench.models.resolve import run_id
from memorybench.run import store
from memorybench.run.selection import choose_rate, majority_solved, rate_of


@dataclass
class Search:
    """The state of one (task, model) search; ``next_length`` is None when it is done."""

    task: str
    model: str
    base: int
    max_length: int
    bisect: int = 0
    probes: dict[int, dict[str, Any]] = field(default_factory=dict)  # length -> outcome
    lo: int | None = None  # largest solved length
    hi: int | None = None  # smallest failed length
    next_length: int | None = None
    hit_max: bool = False
    bisect_left: int = 0
    floor: int | None = None  # the shortest length probed down to (None: never below base)
    rates: tuple[float, ...] = ()  # the base rate grid (extended per length when at its edge)
    extend_rates: int = 0  # how many rates a length may add beyond the grid's edge
    added: dict[int, list[float]] = field(default_factory=dict)  # length -> rates added
    problem: str | None = None  # "L=50: 2 of 10 runs failed (...)": the search stopped there

    def __post_init__(self):
        self.next_length = self.base
        self.bisect_left = self.bisect

    def grid(self, length: int) -> list[float]:
        """The rates probed at ``length``: the base grid plus the rates added there."""
        return sorted({*self.rates, *self.added.get(length, [])})

    def _extension(self, length: int, outcome: dict[str, Any]) -> float | None:
        """The next rate beyond the edge the choice at ``length`` sits on, or None."""
        grid, lr = self.grid(length), outcome.get("lr")
        if (self.extend_rates <= 0 or len(grid) < 2 or lr is None
                or len(self.added.get(length, [])) >= self.extend_rates):
            return None
        if lr == grid[-1]:
            return float(f"{lr * 3:.3g}")
        if lr == grid[0]:
            return float(f"{lr / 3:.3g}")
        return None

    def take(self, length: int, outcome: dict[str, Any]) -> None:
        """Take the outcome at ``length`` (``{"solved": bool, ...}``) and choose the next."""
        outcome = {**outcome, "lrs": self.grid(length)} if self.rates else outcome
        if self.added.get(length):
            outcome["rates_added"] = list(self.added[length])
        self.probes[length] = outcome
        if outcome.get("not_measured"):  # a failure is not "not solved": stop, say so
            self.problem = f"L={length}: {outcome['not_measured']}"
            self.next_length = None
            return
        beyond = self._extension(length, outcome)
        if beyond is not None:  # probe this length again with the next rate beyond the edge
            self.added.setdefault(length, []).append(beyond)
            self.next_length = length
            return
        if outcome["solved"]:
            self.lo = length if self.lo is None else max(self.lo, length)
        else:
            self.hi = length if self.hi is None else min(self.hi, length)
        if self.hi is None:  # doubling
            if length >= self.max_length:
                self.hit_max, self.next_length = True, None
            else:
                self.next_length = min(2 * length, self.max_length)
            return
        if self.lo is None and self.floor is not None and self.hi > self.floor:  # halving down
            self.next_length = max(self.floor, self.hi // 2)
            return
        # bisecting between the largest solved and the smallest failed length
        if self.lo is None or self.bisect_left <= 0 or self.hi - self.lo <= 1:
            self.next_length = None
            return
        self.bisect_left -= 1
        self.next_length = (self.lo + self.hi) // 2

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task, "model": self.model, "base": self.base,
            "max_length": self.max_length, "bisect": self.bisect, "floor": self.floor,
            "extend_rates": self.extend_rates, "not_measured": self.problem,
            "largest_solved": self.lo, "smallest_failed": self.hi, "hit_max": self.hit_max,
            "probes": {str(k): v for k, v in sorted(self.probes.items())},
        }


def outcome(summaries: list[dict[str, Any]]) -> dict[str, Any]:
    """Solved or not at one length, from the summaries of all its rates and seeds."""
    by_rate: dict[float, list[dict]] = {}
    for s in summaries:
        by_rate.setdefault(rate_of(s), []).append(s)
    higher = bool(summaries[0].get("higher_is_better")) if summaries else True
    lr, edge = choose_rate(by_rate, higher)
    chosen = by_rate[lr]
    out = {
        "solved": majority_solved(chosen), "lr": lr, "lr_at_edge": edge,
        "seeds_solved": sum(s.get("solved") is True for s in chosen), "seeds": len(chosen),
        "statuses": sorted({s.get("status") for s in summaries}),
        "run_ids": sorted(s.get("run_id") for s in summaries),
    }
    problem = not_measured(summaries, chosen)
    if problem:
        out["not_measured"] = problem
    return out


def not_measured(summaries: list[dict[str, Any]], chosen: list[dict[str, Any]]) -> str | None:
    """Why a probed length is not a measurement, or None: a run failed there (at any rate: it
    has no validation score, so even the rate choice is open), or seeds diverged at the chosen
    rate (every rate had a failed or diverged seed). Never read as "not solved"."""
    failed = [s for s in summaries if s.get("status") == "failed"]
    diverged = [s for s in chosen if s.get("status") == "diverged"]
    if failed:
        return (f"{len(failed)} of {len(summaries)} runs failed"
                + _reason(failed[0]))
    if diverged:
        return (f"{len(diverged)} of {len(chosen)} seeds diverged at the chosen rate "
                f"{rate_of(diverged[0])}" + _reason(diverged[0]))
    return None


def _reason(summary: dict[str, Any]) -> str:
    from memorybench.errors import printable

    why = summary.get("reason")
    return f" ({printable(why)[:200]})" if isinstance(why, str) and why else ""


def horizon_search(
    settings: dict[str, Any],
    *,
    base: dict[str, int] | int,
    max_length: dict[str, int] | int,
    bisect: dict[str, int] | int = 0,
    min_length: dict[str, int] | int | None = None,
    extend_rates: int = 0,
    out_dir: str | Path = store.DEFAULT_RESULTS,
    executor: Any = "local",
    retry_failed: bool = False,
    save_weights: bool = False,
    reporter_factory=None,
    echo=None,
) -> list[Search]:
    """Run the search for every task x model of ``settings`` (the key space of
    ``memorybench.settings``; its lengths are ignored). ``base`` / ``max_length`` are one
    number or one per task; ``min_length`` (one number, one per task, or None: never below the
    base) is the floor the search halves down to when the base length is not solved. Returns
    the finished searches; their records are written to ``out_dir/searches/``.

    Every length the search may probe is validated before anything runs (ConfigError).
    """
    from memorybench.run.executors import get_executor
    from memorybench.run.sweep import sweep
    from memorybench.settings.grid import expand

    s, searches_of_task, first = check_search(settings, base=base, max_length=max_length,
                                              bisect=bisect, min_length=min_length,
                                              extend_rates=extend_rates)
    models = list(dict.fromkeys(c.model.name for c in first.configs))
    ex = get_executor(executor) if isinstance(executor, str) else executor
    rates = {(c.task.name, c.model.name): set() for c in first.configs}
    for c in first.configs:
        rates[(c.task.name, c.model.name)].add(c.train.lr)
    searches = [Search(t, m, b, mx, n, floor=f, rates=tuple(sorted(rates.get((t, m), ()))),
                       extend_rates=extend_rates)
                for t, (b, mx, f, n) in searches_of_task.items() for m in models]
    out = Path(out_dir)
    check_searches_folder(out)  # before the first round trains anything
    round_no = 0
    while True:
        active = [x for x in searches if x.next_length is not None]
        if not active:
            break
        round_no += 1
        configs, owned = [], []
        for x in active:
            grid = {f"{x.task}.train.lrs": x.grid(x.next_length)} if x.added.get(
                x.next_length) else {}
            cfgs = expand({**s, "tasks": [x.task], "models": [x.model],
                           f"{x.task}.lengths": [x.next_length], **grid}).configs
            configs += cfgs
            owned.append((x, [run_id(c) for c in cfgs]))
        if echo:
            by_len: dict[tuple[str, int], int] = {}
            for x in active:
                by_len[(x.task, x.next_length)] = by_len.get((x.task, x.next_length), 0) + 1
            probes = ", ".join(f"{t} L={L} ({n} model{'s' * (n > 1)})"
                               for (t, L), n in by_len.items())
            echo(f"horizon round {round_no}: {len(configs)} runs: {probes}")
        result = sweep(configs, out, executor=ex, retry_failed=retry_failed,
                       save_weights=save_weights,
                       reporter=reporter_factory() if reporter_factory else None)
        by_id = {r.run_id: r.summary for r in result.results}
        for x, ids in owned:
            x.take(x.next_length, outcome([by_id[i] for i in ids if i in by_id]))
        for x in active:
            write_record(out, x, s)
    return searches


def check_search(settings: dict[str, Any], *, base, max_length, bisect: int = 0,
                 min_length=None, extend_rates: int = 0):
    """Validate a search before anything runs (ConfigError, one line): its numbers, its tasks,
    the runs of the base lengths and the runs of the largest lengths it may reach (their memory
    too, so a search never dies rounds in). Returns (the settings without lengths, {task: (base,
    max, floor, bisect)}, the plan of the base lengths' runs); ``memorybench horizon
    --dry-run`` calls it as the search does."""
    from memorybench.settings.grid import expand
    from memorybench.settings.keys import name_list
    from memorybench.tasks import get_task

    s = {k: v for k, v in settings.items() if k != "lengths" and not k.endswith(".lengths")}
    if hasattr(settings, "with_"):  # layered settings: the base plan notes overridden values
        s = type(settings)(s)
        s.profile_keys = settings.profile_keys
    if "tasks" not in s or "models" not in s:
        raise ConfigError("the horizon search needs tasks and models")
    tasks = name_list("tasks", s["tasks"])
    steps = bisect.values() if isinstance(bisect, dict) else [bisect]
    for name, val in (*(("bisect", v) for v in steps), ("extend-rates", extend_rates)):
        if isinstance(val, bool) or not isinstance(val, int) or val < 0:
            raise ConfigError(f"--{name} {val!r} is not allowed; allowed: an integer >= 0")
    searches_of_task: dict[str, tuple[int, int, int | None, int]] = {}
    for t in tasks:
        b = base[t] if isinstance(base, dict) else base
        m = max_length[t] if isinstance(max_length, dict) else max_length
        f = min_length.get(t) if isinstance(min_length, dict) else min_length
        n_bisect = bisect.get(t, 0) if isinstance(bisect, dict) else bisect
        for key, v in (("base length", b), ("--max-length", m), ("--min-length", f)):
            if v is None and key == "--min-length":
                continue
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ConfigError(f"{key} {v!r} is not allowed; allowed: an integer >= 1")
        if m < b:
            raise ConfigError(f"--max-length {m} is below the base length {b} of {t}")
        if f is not None and f > b:
            raise ConfigError(f"--min-length {f} is above the base length {b} of {t}")
        try:
            spec = get_task(t, length=b).spec if "length" in _fields(t) else get_task(t).spec
        except DataError:  # a task that reads a dataset (noisy_cifar without CIFAR-10): its
            spec = None  # data missing is beside the point, it is not searchable
        if spec is None or spec.solved_at is None or "length" not in _fields(t) \
                or spec.dataset != "synthetic":
            raise ConfigError(
                f"task {t!r} has no solved threshold or no length to search; the horizon "
                f"search takes tasks with both: {', '.join(_searchable())}")
        get_task(t, length=m)  # validates the largest length too
        if f is not None:
            get_task(t, length=f)  # and the shortest
        searches_of_task[t] = (b, m, f, n_bisect)
    # validate names, keys and values once (the runs of the base lengths), before any run
    bases = {f"{t}.lengths": [b] for t, (b, *_) in searches_of_task.items()}
    first = expand(s.with_(bases) if hasattr(s, "with_") else {**s, **bases})  # keeps notes
    for t, (_, mx, *_) in searches_of_task.items():
        if mx != searches_of_task[t][0]:
            expand({**s, "tasks": [t], f"{t}.lengths": [mx]})
    return s, searches_of_task, first


def _fields(task: str) -> set[str]:
    from memorybench.tasks import TASKS

    return {f.name for f in dataclasses.fields(TASKS.get(task))}


def _searchable() -> list[str]:
    from memorybench.tasks import get_task, task_names

    out = []
    for t in task_names():
        try:
            with warnings.catch_warnings():  # listing only: MNIST's fallback note is no news
                warnings.simplefilter("ignore")
                spec = get_task(t).spec
        except Exception:  # a plugin task that needs arguments, a dataset missing: not listed
            continue
        if spec.solved_at is not None and "length" in _fields(t) and spec.dataset == "synthetic":
            out.append(t)
    return out


def record_path(out_dir: Path, search: Search, settings: dict[str, Any]) -> Path:
    key = json.dumps({k: v for k, v in sorted(settings.items()) if k not in ("tasks", "models")},
                     sort_keys=True, default=str)
    digest = hashlib.sha256(key.encode()).hexdigest()[:8]
    return Path(out_dir) / store.SEARCHES / f"{search.task}__{search.model}__{digest}.json"


def check_searches_folder(out_dir: str | Path) -> None:
    """OutputError when ``out_dir/searches`` is a symbolic link (``store.link_below``, as for
    ``runs/``, ``report/`` and ``gradflow/``) or not a folder: search records are written only
    inside the results folder."""
    store.check_folder_inside(out_dir, Path(out_dir) / store.SEARCHES, "a search record")


def write_record(out_dir: Path, search: Search, settings: dict[str, Any]) -> Path:
    """The search's state as JSON (atomic; rewritten after every round; never through a linked
    ``searches/`` folder)."""
    check_searches_folder(out_dir)
    path = record_path(out_dir, search, settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    train = None
    for probe in search.probes.values():
        if probe.get("run_ids"):
            try:
                train = to_dict_of_run(out_dir, probe["run_ids"][0])
            except Exception:
                train = None
            break
    store.write_json(path, {**search.to_dict(), "settings": {
        k: v for k, v in settings.items() if k not in ("tasks", "models")}, "train": train})
    return path


def to_dict_of_run(out_dir: Path, rid: str) -> dict[str, Any]:
    """The training settings of one run of the search (without its rate), from config.json."""
    cfg = store.load_config(store.run_dir(out_dir, rid))
    return {k: v for k, v in (cfg.get("train") or {}).items() if k != "lr"}

