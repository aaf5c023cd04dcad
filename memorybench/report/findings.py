"""Findings: the answer of a study, written from the numbers of a results folder, never by hand.

``findings(runs, searches, study, gradflow)`` returns Markdown (``report/findings.md``; the HTML
report renders the same lines). Every sentence cites its numbers: the horizon as a bracket
``[largest solved, smallest failed)``, the seeds solved at the horizon and the chosen learning
rate. A model or task with no run, or whose runs all failed, is reported as "not measured",
never left out silently.

Sections: the answer (each step of the argument and each published claim as a tested contrast,
``report/verdict.py``); the factor table; per task, the models ranked by horizon (ties share a
rank), each LSTM ablation against the study's ``reference`` model (lost or gained only where the
test says so), time to solve (``report/survival.py``); the memory path's Jacobian
(``diagnostics/jacobian.py``); the gradient flow; and headline lines (the first lines of the page,
printed by ``make demo``). Text that comes from results (names, the study's description) is
escaped with ``leaderboard.md_text``, as table cells are.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from memorybench.report import mechanism as mech
from memorybench.report import survival as sv
from memorybench.report import verdict as vd
from memorybench.report.added import added_section
from memorybench.report.forget_bias import forget_bias_section
from memorybench.report.format import bracket, bracket_of, fmt, md_table, missing
from memorybench.report.format import md_text as e
from memorybench.report.leaderboard import horizons

FINDINGS = "findings.md"

ABLATIONS = {  # Greff et al. 2017's variants, and chrono initialisation (Tallec & Ollivier 2018)
    "lstm_nig": "no input gate",
    "lstm_nfg": "no forget gate",
    "lstm_nog": "no output gate",
    "lstm_niaf": "no input activation",
    "lstm_noaf": "no output activation",
    "lstm_cifg": "coupled input and forget gate",
    "lstm_peephole": "peephole connections",
    "lstm_chrono": "chrono initialisation",
    "lstm_fb0": "forget-gate bias 0",
    "lstm_fb3": "forget-gate bias 3",
    "lstm_full": "every part (our cell)",
    "cec": "every gate fixed open (the bare constant error carousel)",
}


def _horizon_phrase(r: dict[str, Any]) -> str:
    """'holds L=100, not L=200 (2/2 seeds at lr 0.01)' from a horizons() row."""
    h, f = r["horizon"], r["smallest_failed"]
    lrs = dict(x.split(":") for x in (r.get("lrs_chosen") or "").split(",") if ":" in x)
    seeds = r.get("seeds_at_horizon")
    if isinstance(r.get("not_measured"), str) and r["not_measured"]:
        return ((f"solves L={fmt(h)}, " if not missing(h) else "")
                + f"is not measured at {e(r['not_measured'])} (--retry-failed runs it again)")
    if missing(h):
        lr = lrs.get(str(f))
        return (f"solves no length tried (fails at L={fmt(f)}"
                + (f", best lr {lr}" if lr else "") + ")")
    text = f"solves L={fmt(h)}"
    if r.get("hit_max") is True:
        text += " (the search's maximum: the horizon may be longer)"
    elif not missing(f):
        text += f", not L={fmt(f)}"
    extra = []
    if seeds:
        extra.append(f"{seeds} seeds")
    if lrs.get(str(h)):
        extra.append(f"lr {lrs[str(h)]}")
    return text + (f" ({', '.join(extra)} at L={fmt(h)})" if extra else "")


def _horizon_value(r: dict[str, Any] | None) -> float | None:
    if r is None:
        return None
    return 0.0 if missing(r["horizon"]) else float(r["horizon"])


def factor_table(factors: Any, models: list[str], tasks: list[str],
                 by_task: dict[str, dict[str, dict]], failed_only: set,
                 seeds: dict[tuple[str, str], vd.SeedHorizons] | None = None) -> list[str]:
    """The answer's skeleton: one row per model, what it has of the LSTM's argument (the
    study's ``factors``: columns and a value per model and column) and its horizon on each task:
    the median over seeds with its interval, and the majority bracket. [] when the study declares
    no factors or they are not of that shape."""
    try:
        columns = [str(c) for c in factors["columns"]]
        table_of = {str(m): [str(v) for v in row] for m, row in factors["models"].items()}
    except (TypeError, KeyError, AttributeError):
        return []
    seeds = seeds or {}
    rows = []
    for m in models:
        values = table_of.get(m, [])
        values = (values + ["not declared"] * len(columns))[:len(columns)]
        cells = []
        for task in tasks:
            r = by_task.get(task, {}).get(m)
            if r is None or (task, m) in failed_only:
                cells.append("not measured")
                continue
            sh = seeds.get((task, m))
            median = f"median {vd.summary(sh)}; " if sh is not None and sh.values else ""
            cells.append(median + "bracket " + bracket_of(r))
        rows.append([m, *values, *cells])
    return ["## The argument, step by step", "",
            "What each model has of the LSTM's design (Hochreiter & Schmidhuber 1997: the unit "
            "self-loop, the constant error carousel, then input and output gates; Gers et al. "
            "2000: the forget gate), and its horizon on each task: the median of the seeds' "
            "horizons (interval, its coverage) and the majority bracket [largest solved, "
            "smallest failed).", "",
            md_table(["model", *columns, *[f"{t} horizon" for t in tasks]], rows), ""]


def _items(value: Any, keys: tuple[str, ...]) -> list[dict[str, str]]:
    """The well-formed items of a study's ``steps`` or ``claims`` (objects with string values
    for ``keys``); anything else is dropped."""
    if not isinstance(value, list):
        return []
    return [{k: v[k] for k in keys} for v in value
            if isinstance(v, dict) and all(isinstance(v.get(k), str) for k in keys)]


def _study_value(study: dict[str, Any], key: str) -> Any:
    """``study[key]``; a record written before the key existed takes the study's definition in
    ``memorybench.settings.STUDIES`` (steps, claims, baselines: the design, not data)."""
    if key in study:
        return study[key]
    from memorybench.settings.catalogue import STUDIES

    return STUDIES.get(study.get("name"), {}).get(key)


def _study_list(study: dict[str, Any] | None, key: str, keys: tuple[str, ...]) -> list[dict]:
    """The well-formed items of the study's ``key`` (``_study_value``)."""
    return _items(_study_value(study, key), keys) if study else []


def _words(c: vd.Contrast, a: vd.SeedHorizons | None, b: vd.SeedHorizons | None) -> str:
    """'median 25 -> 100, gained (p = 0.008)'."""
    if c.verdict == "not measured":
        return "not measured"
    return f"median {vd.fmt_length(b.median)} -> {vd.fmt_length(a.median)}, {c.words()}"


def answer(study: dict[str, Any] | None, tasks: list[str],
           seeds: dict[tuple[str, str], vd.SeedHorizons]) -> list[str]:
    """The paragraph that says the answer: what each step of the argument buys, on each task,
    with its test; then each published claim our data can test, stated as data."""
    steps = _study_list(study, "steps", ("from", "to", "what"))
    claims = _study_list(study, "claims", ("source", "model", "against", "expect", "claim"))
    if not steps and not claims:
        return []
    lines = ["## The answer", ""]
    if steps:
        lines += ["Each step of the argument as a contrast between two models that differ in "
                  "that step, on the seeds' horizons (Mann-Whitney, two-sided; a step buys or "
                  f"costs horizon only where p < {vd.ALPHA}):", ""]
        for st in steps:
            parts = []
            for task in tasks:
                a, b = seeds.get((task, st["to"])), seeds.get((task, st["from"]))
                parts.append(f"{e(task)}: {_words(vd.contrast(a, b), a, b)}")
            lines.append(f"- {e(st['from'])} -> {e(st['to'])}, {e(st['what'])}: "
                         + "; ".join(parts) + ".")
        lines.append("")
    if claims:
        rows = []
        for c in claims:
            for task in tasks:
                a, b = seeds.get((task, c["model"])), seeds.get((task, c["against"]))
                con = vd.contrast(a, b)
                rows.append([c["source"], c["claim"], f"{c['model']} vs {c['against']}",
                             task, _words(con, a, b), agreement(c["expect"], con)])
        lines += ["Published claims against our data (same test):", "",
                  md_table(["source", "claim", "contrast", "task", "ours", "agreement"], rows),
                  ""]
    return lines


def agreement(expect: str, c: vd.Contrast) -> str:
    """How our contrast stands to a claim expecting "gained", "lost" or "same"."""
    if c.verdict == "not measured":
        return "not tested (not measured)"
    if expect == "same":
        return ("disagrees: a significant difference" if c.verdict in ("lost", "gained")
                else "consistent: no difference detected (which does not show equality)")
    if c.verdict == expect:
        return "agrees"
    if c.verdict in ("lost", "gained"):
        return "disagrees: the opposite, significant"
    return "not confirmed at this budget"


def ablation_table(task: str, models: list[str], reference: str,
                   seeds: dict[tuple[str, str], vd.SeedHorizons],
                   tts: dict[tuple[str, str, int], sv.Times]) -> tuple[list[str], list[str]]:
    """(lines, headline) for the ablations of ``task`` against the reference: each one's median
    horizon with its interval, the Mann-Whitney p and the verdict; and time to solve against the
    reference at the longest length both were probed at where either solved (else the longest
    both were probed at), with the log-rank p."""
    ablations = [m for m in models if m in ABLATIONS]
    ref = seeds.get((task, reference))
    if not ablations:
        return [], []
    rows, lost, gained, same = [], [], [], []
    for m in ablations:
        sh = seeds.get((task, m))
        c = vd.contrast(sh, ref)
        common = sorted({L for t, x, L in tts if t == task and x == m}
                        & {L for t, x, L in tts if t == task and x == reference})
        if common:  # the longest length both were probed at where either solved at all
            informative = [x for x in common if tts[(task, m, x)].solved_at
                           or tts[(task, reference, x)].solved_at]
            L = (informative or common)[-1]
            p = sv.logrank_p(tts[(task, m, L)], tts[(task, reference, L)])
            ttsw = f"L={L}: " + ("no run solved" if p is None else f"p = {vd.fmt_p(p)}")
        else:
            ttsw = "no common length"
        rows.append([m, ABLATIONS[m], vd.summary(sh), vd.per_seed(sh),
                     vd.fmt_p(c.p), c.words() if c.verdict != "not measured"
                     else "not measured", ttsw])
        {"lost": lost, "gained": gained}.get(c.verdict, same).append(
            f"{e(m)} (p = {vd.fmt_p(c.p)})" if c.p is not None else e(m))
    lines = [f"Ablations against {e(reference)} (median horizon {vd.summary(ref)}; per seed "
             f"{vd.per_seed(ref)}). Verdict: Mann-Whitney on the seeds' horizons, two-sided, "
             f"lost or gained only where p < {vd.ALPHA}. Time to solve: log-rank against "
             f"{e(reference)} at the longest length both were probed at where either "
             "solved.", "",
             md_table(["model", "what changes", "median horizon (interval, coverage)",
                       "per-seed horizons", "p (Mann-Whitney)", "horizon", "time to solve "
                       "(log-rank)"], rows), ""]
    head = []
    if lost or gained:
        head.append(f"{e(task)}: against {e(reference)}, "
                    + "; ".join(x for x in (
                        f"horizon lost: {', '.join(lost)}" if lost else "",
                        f"gained: {', '.join(gained)}" if gained else "") if x) + ".")
    if same:
        head.append(f"{e(task)}: not distinguishable from {e(reference)} at this budget: "
                    f"{', '.join(same)}.")
    return lines, head


def time_to_solve(task: str, models: list[str], reference: str, ref_row: dict | None,
                  tts: dict[tuple[str, str, int], sv.Times],
                  searches: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """(lines, headline) of the time-to-solve section of ``task``: at the reference's horizon
    length, each model's runs solved within the budget, the Kaplan-Meier median steps and the
    log-rank p against the reference; whether the budget is the bottleneck (the reference needs
    more than half of it there); how often the chosen rate sat at the grid's edge."""
    if ref_row is None or missing(ref_row["horizon"]):
        return [], []
    L = int(ref_row["horizon"])
    ref = tts.get((task, reference, L))
    if ref is None:
        return [], []
    rows, faster, slower = [], [], []
    for m in models:
        t = tts.get((task, m, L))
        if t is None:
            continue
        p = None if m == reference else sv.logrank_p(t, ref)
        med = t.median()
        if p is not None and p < vd.ALPHA:  # which way: the Kaplan-Meier medians (None: never)
            ahead = med is not None and (ref.median() is None or med < ref.median())
            (faster if ahead else slower).append(
                f"{e(m)} ({'fewer than half solve' if med is None else f'{med:g} steps'}, "
                f"p = {vd.fmt_p(p)})")
        rows.append([m, f"{len(t.solved_at)}/{t.n}",
                     "-" if med is None else f"{med:g}",
                     "-" if m == reference else ("no run solved" if p is None
                                                 else vd.fmt_p(p))])
    budget = max([*ref.censored_at, *(x for t in tts.values() for x in t.censored_at), 0])
    lines = [f"Time to solve at L={L}, the longest length {e(reference)} solves: runs that reach "
             "the threshold on validation within the budget, the Kaplan-Meier median steps "
             f"(- : fewer than half do), and the log-rank p against {e(reference)} (figure: "
             f"plots/time_to_solve_{e(task)}.png).", "",
             md_table(["model", "solved in budget", "median steps to solve",
                       f"p (log-rank vs {reference})"], rows), ""]
    head = []
    med = ref.median()
    if budget and med is not None:
        over = med > budget / 2
        sentence = (f"{e(reference)} reaches the threshold at L={L} after a median of {med:g} of "
                    f"{budget:g} steps: " + ("more than half the budget, so the budget, not only "
                                             "the architecture, may bound the horizons."
                                             if over else "within half the budget."))
        lines += [f"Budget: {sentence}", ""]
        head.append(f"{e(task)}: {sentence}")
    if faster or slower:
        head.append(f"{e(task)}: at L={L}, time to solve against {e(reference)} "
                    f"({'fewer than half solve' if med is None else f'{med:g} steps'}; "
                    f"log-rank p < {vd.ALPHA}): "
                    + "; ".join(x for x in (f"faster: {', '.join(faster)}" if faster else "",
                                            f"slower: {', '.join(slower)}" if slower else "")
                                if x) + ".")
    edges = [(p.get("lr"), bool(p.get("lr_at_edge"))) for x in searches
             if x.get("task") == task for p in (x.get("probes") or {}).values()
             if isinstance(p, dict)]
    if edges:
        at = [lr for lr, edge in edges if edge]
        grid = sorted({lr for x in searches if x.get("task") == task
                       for p in (x.get("probes") or {}).values() if isinstance(p, dict)
                       for lr in (p.get("lrs") or [p.get("lr")]) if isinstance(lr, (int, float))})
        counts = ", ".join(f"{lr:g} in {sum(c == lr for c, _ in edges)}" for lr in grid)
        lines += [f"Learning rate: chosen per probe of {e(task)}: {counts} of {len(edges)}; "
                  + (f"at the grid's edge in {len(at)}" + (
                      " (with two rates every choice is at an edge)" if len(grid) == 2 else "")
                     + ": the best rate may lie outside the grid." if at
                     else "always inside the grid."), ""]
    return lines, head


def findings(
    runs: list[dict[str, Any]],
    searches: Iterable[dict[str, Any]] = (),
    study: dict[str, Any] | None = None,
    gradflow: list[dict[str, Any]] | None = None,
    jacobian: list[dict[str, Any]] | None = None,
) -> tuple[str, list[str]]:
    """(Markdown of the Findings section, its headline lines). ``jacobian``: ``memory_path``'s
    rows (``report/mechanism.py``); where present, the headline quotes the memory path instead of
    the gradient flow."""
    searches = list(searches)
    recs, failed_only, seeds = _horizon_rows(runs, searches)
    # a study record without its lists (a hand-written one, say) falls back to the runs'
    tasks = list((study or {}).get("tasks") or sorted({r["task"] for r in recs}))
    models = list((study or {}).get("models") or sorted({r["model"] for r in recs}))
    reference = (study or {}).get("reference", "lstm")
    baselines = [m for m in _baselines(study) if m != reference]
    by_task: dict[str, dict[str, dict]] = {}
    for r in recs:
        by_task.setdefault(r["task"], {})[r["model"]] = r

    sections = [(answer(study, tasks, seeds), []),
                added_section(study, tasks, by_task, failed_only, seeds),
                forget_bias_section(study, tasks, seeds),
                (factor_table((study or {}).get("factors"), models, tasks, by_task, failed_only,
                              seeds), [])]
    tts = sv.times(runs)
    # a task without a solved threshold (MNIST) has no horizon: say so, never "no model solves"
    thresholded = {r["task"] for r in runs if r.get("solved_at") is not None}
    for task in tasks:
        sections.append(task_section(task, by_task.get(task, {}), models, reference, baselines,
                                     runs, searches, seeds, tts, failed_only,
                                     task in thresholded))
    for task, why in ((study or {}).get("not_searched") or {}).items():
        sections.append(([f"## {e(task)}", "", f"Not measured at this scale: {e(why)}.", ""],
                         [f"{e(task)}: not measured at this scale."]))
    if jacobian is not None:
        sections.append(mech.memory_path_section(jacobian, [*baselines, reference], models))
    if gradflow is not None:
        g_lines, g_head = mech.gradient_flow(gradflow, [*baselines, reference])
        sections.append((g_lines, g_head if jacobian is None else []))
    lines = [x for body, _ in sections for x in body]
    headline = [h for _, head in sections for h in head]
    head = ["## Headline", "", *[f"- {h}" for h in headline], ""]
    return "\n".join([*_intro(study), *head, *lines]).rstrip() + "\n", headline


def _horizon_rows(runs: list[dict[str, Any]], searches: list[dict[str, Any]]):
    """(horizon rows with the seeds solved at the horizon, the (task, model)s whose every run
    failed, the seeds' horizons of the measured ones)."""
    from memorybench.report.leaderboard import aggregate

    recs = horizons(runs, searches).to_dict("records")
    # seeds solved at the horizon, from the chosen-rate entries
    chosen = {(r["task"], r["model"], r["length"]): r for r in aggregate(runs) if r["chosen"]}
    for r in recs:
        at = None if missing(r["horizon"]) else chosen.get((r["task"], r["model"],
                                                              int(r["horizon"])))
        r["seeds_at_horizon"] = (f"{round(at['solved_frac'] * at['n_seeds'])}/{at['n_seeds']}"
                                 if at else None)
    failed_only = {(r["task"], r["model"]) for r in runs} - {
        (r["task"], r["model"]) for r in runs if r.get("status") == "completed"}
    unmeasured = {(r["task"], r["model"]) for r in recs if isinstance(r.get("not_measured"), str)}
    seeds = {k: v for k, v in vd.seed_horizons(runs).items()
             if k not in failed_only and k not in unmeasured}
    return recs, failed_only, seeds


def _intro(study: dict[str, Any] | None) -> list[str]:
    lines = ["# Findings", ""]
    if study:
        lines += [f"Study {e(study.get('name'))} at scale {e(study.get('scale'))}: "
                  f"{e(study.get('description', ''))}.", ""]
        if study.get("settings_in_words"):
            lines += [f"Settings: {e(study['settings_in_words'])}.", ""]
    return lines + [
        "Every line is computed from the runs in this folder. Horizon: the largest length "
        "a majority of seeds solve at the model's learning rate chosen on validation; "
        "bracket [largest solved, smallest failed). A seed's horizon: the largest length "
        "it solves below the shortest it fails (none: it fails the shortest probed; +: it "
        "solves every length probed); the median over seeds comes with the "
        "distribution-free interval from order statistics and its coverage. Two models "
        "differ only where the two-sided Mann-Whitney test on their seeds' horizons gives "
        f"p < {vd.ALPHA}.", ""]


def task_section(task: str, rows: dict[str, dict], models: list[str], reference: str,
                 baselines: list[str], runs: list[dict[str, Any]], searches: list[dict],
                 seeds, tts, failed_only: set, thresholded: bool) -> tuple[list[str], list[str]]:
    """(lines, headline) of one task's section: ranking, ties, chance floor, ablations against
    the reference, time to solve; a task without a solved threshold only says so."""
    lines = [f"## {e(task)}", ""]
    if not thresholded and any(r.get("task") == task for r in runs):
        return ([*lines, f"{e(task)} has no solved threshold, so no memory horizon: its models "
                 "are ranked by test score in the leaderboard.", ""],
                [f"{e(task)}: no solved threshold (no horizon); see the leaderboard."])
    measured = [m for m in models if m in rows and (task, m) not in failed_only]
    lines += ranking(task, models, rows, measured, seeds, failed_only)
    lines += ties(rows, measured)
    headline = task_headline(task, rows, measured, reference, failed_only, baselines)
    ref_row = rows.get(reference) if (task, reference) not in failed_only else None
    for part_lines, part_head in (chance_floor(task, runs),
                                  ablation_table(task, models, reference, seeds, tts),
                                  time_to_solve(task, models, reference, ref_row, tts, searches)):
        lines += part_lines
        headline += part_head
    return lines, headline


def _baselines(study: dict[str, Any] | None) -> list[str]:
    """The models the headline quotes besides the best (the study's ``baselines``; a record
    written before the key existed takes the study's definition); [] without a study."""
    if not study:
        return []
    value = study.get("baselines") if "baselines" in study else _study_value(study, "baselines")
    return [m for m in value if isinstance(m, str)] if isinstance(value, list) else []


def ranking(task: str, models: list[str], rows: dict[str, dict], measured: list[str],
            seeds: dict[tuple[str, str], vd.SeedHorizons], failed_only: set) -> list[str]:
    """The models of ``task`` ranked by horizon (ties share a rank), then the unmeasured."""
    order = sorted(measured, key=lambda m: -(_horizon_value(rows[m]) or 0.0))
    table, rank, prev = [], 0, None
    for i, m in enumerate(order):
        v = _horizon_value(rows[m])
        if v != prev:
            rank, prev = i + 1, v
        r = rows[m]
        sh = seeds.get((task, m))
        table.append([str(rank), m, bracket_of(r),
                      r["seeds_at_horizon"] or "-", vd.summary(sh), vd.per_seed(sh),
                      r["lrs_chosen"] or "-", fmt(r["params"])])
    for m in models:
        if m not in measured:
            why = "every run failed" if (task, m) in failed_only else "no run"
            table.append(["-", m, "not measured", "-", "-", "-", "-", f"({why})"])
    return [md_table(["rank", "model", "horizon bracket", "seeds solved at horizon",
                      "median seed horizon (interval, coverage)", "per-seed horizons",
                      "chosen lr per length", "params"], table), ""]


def ties(rows: dict[str, dict], measured: list[str]) -> list[str]:
    """Say where models share a bracket, and what that means: at the search's maximum the
    horizon cannot separate them (time to solve can); between two probed lengths the probes do
    not; below the shortest length probed nothing was solved."""
    groups: dict[tuple, list[str]] = {}
    for m in measured:
        r = rows[m]
        if isinstance(r.get("not_measured"), str):
            continue  # its bracket ends where it was not measured: not a tie
        groups.setdefault((fmt(r["horizon"]), fmt(r["smallest_failed"]), r["hit_max"] is True),
                          []).append(m)
    out = []
    for (lo, hi, at_max), ms in groups.items():
        if len(ms) < 2:
            continue
        b = bracket(None if lo == "-" else lo, None if hi == "-" else hi, at_max)
        if at_max:
            why = ("the search's maximum length: the horizon cannot separate them (time to "
                   "solve below can)")
        elif lo == "-":
            why = f"they solve none of the lengths probed, down to L={hi}"
        else:
            why = (f"the probes between L={lo} and L={hi} do not separate them (a finer bracket "
                   "needs more bisection steps)")
        out.append(f"- {len(ms)} models share {b}: {', '.join(map(e, ms))}; {why}.")
    return ["Ties:", "", *out, ""] if out else []


# a completed run whose normalised test score (0 at the trivial predictor, 1 at perfect) is
# below this sits at chance: delayed XOR's 512 test sequences put one standard error of its
# score at about 0.044
AT_CHANCE = 0.1


def chance_floor(task: str, runs: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """(lines, headline) saying plainly where no run of ``task`` leaves chance: the shortest
    probed length from which on every completed run (every model, rate and seed probed there)
    scores below ``AT_CHANCE``, where some run at a shorter length did leave it. Brackets that
    end there are bounded by the task at this budget, not separated by the cells."""
    done = [r for r in runs if r.get("task") == task and r.get("status") == "completed"
            and isinstance(r.get("score"), (int, float)) and isinstance(r.get("length"), int)]
    lengths = sorted({r["length"] for r in done})
    floor = None
    for L in reversed(lengths):
        if any(r["score"] >= AT_CHANCE for r in done if r["length"] == L):
            break
        floor = L
    if floor is None or floor == lengths[0]:
        return [], []  # nothing at chance at the longest length, or nothing ever left it
    above = [r for r in done if r["length"] >= floor]
    models = sorted({r["model"] for r in above})
    best = max(r["score"] for r in above)
    probed = ", ".join(f"L={L}" for L in lengths if L >= floor)
    sentence = (f"no run leaves chance at L={floor} or longer: all {len(above)} runs probed "
                f"there ({probed}; {len(models)} model{'s' * (len(models) > 1)}, every rate and "
                f"seed) score below "
                f"{AT_CHANCE:g} in normalised score (best {best:.3f}), so brackets that end at "
                f"these lengths are bounded by the task at this budget, not separated by the "
                f"cells")
    return [f"Chance floor: {sentence}.", ""], [f"{e(task)}: {sentence}."]


def task_headline(task: str, rows: dict[str, dict], measured: list[str], reference: str,
                  failed_only: set, baselines: list[str]) -> list[str]:
    """The headline lines of one task: who holds the longest horizon, and the baselines'."""
    if not measured:
        return [f"{e(task)}: not measured."]
    order = sorted(measured, key=lambda m: -(_horizon_value(rows[m]) or 0.0))
    best_v = _horizon_value(rows[order[0]])
    best = [m for m in order if _horizon_value(rows[m]) == best_v]
    out = [f"{e(task)}: longest horizon {', '.join(map(e, best))}, "
           f"{_horizon_phrase(rows[best[0]])}."
           if best_v else f"{e(task)}: no model solves the shortest length tried."]
    quoted = [*baselines, reference]
    for m in quoted:
        if m in rows and m not in best and (task, m) not in failed_only:
            out.append(f"{e(task)}: {e(m)} {_horizon_phrase(rows[m])}.")
    out += [f"{e(task)}: {e(m)} {_horizon_phrase(rows[m])}." for m in measured
            if isinstance(rows[m].get("not_measured"), str) and m not in quoted]
    return out
