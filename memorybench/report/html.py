"""The report: leaderboard and horizon tables (CSV, Markdown), plots and one self-contained HTML."""

from __future__ import annotations

import base64
import datetime as _dt
import html
import warnings
import webbrowser
from collections.abc import Callable
from pathlib import Path

from memorybench.errors import ConfigError, OutputError, os_error_line
from memorybench.report import leaderboard as lb
from memorybench.report.eval_lengths import eval_length_markdown, eval_length_table
from memorybench.report.labels import display_blocks, train_differences, train_words
from memorybench.report.load import load_runs, train_settings
from memorybench.report.published import PUBLISHED_NOTE, SCALED_WARNING, published_blocks
from memorybench.run import store

REPORT_DIR = "report"

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2em auto;
max-width:1200px;padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.6em}h2{margin-top:2em;border-bottom:1px solid #ddd}h3{font-size:1.05em}
table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:.88em}
th,td{border:1px solid #ccc;padding:.25em .55em;text-align:right}
th{background:#f3f3f3}.l{text-align:left}
tr:nth-child(even) td{background:#fafafa}
figure{margin:1em 0 2em}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.9em;color:#555}.warn{color:#a40}.meta{color:#666;font-size:.9em}
a.key{font-size:.8em;font-weight:normal;color:#666}
"""


def make_report(
    results: str | Path = store.DEFAULT_RESULTS,
    open_browser: bool = False,
    warn: Callable[[str], None] | None = None,
) -> Path:
    """Write ``results/report/``: leaderboard and horizon tables (CSV + Markdown), the plots
    (PNG + SVG) and ``index.html``. Returns the path of ``index.html``."""
    warn = warn or (lambda msg: warnings.warn(msg, UserWarning, stacklevel=2))
    results = Path(results)
    if not (results / "runs").is_dir():
        raise ConfigError(
            f"--out {str(results)!r} has no runs/ folder; run `memorybench run --out "
            f"{results}` first"
        )
    skipped: list[str] = []

    def note(msg: str) -> None:
        skipped.append(msg)
        warn(msg)

    out = results / REPORT_DIR
    plots = out / "plots"
    check_output(results, out, plots)  # before anything is read, computed or written
    runs = load_runs(results, warn=note)
    if not runs:
        raise ConfigError(f"no completed runs under {results / 'runs'}")
    for f in linked_inputs(results):
        note(f"not read: {f} is a symbolic link (the report reads only files inside the "
             f"results folder)")
    grad_pngs = []
    for png in sorted((results / store.DIAGNOSTICS).glob("**/*.png")):
        link = store.link_below(results, png)
        if link is not None:
            note(f"not embedded: {png} ({link} is a symbolic link; the report embeds only files "
                 f"inside the results folder)")
        elif not png.is_file():  # a FIFO would hang the report (store.read_regular)
            note(f"not embedded: {png} is not a regular file")
        elif png.stat().st_size > MAX_PNG_BYTES:
            note(f"not embedded: {png} is larger than {MAX_PNG_BYTES // 2**20} MiB")
        else:
            grad_pngs.append(png)
    try:
        out.mkdir(parents=True, exist_ok=True)
        tables = report_tables(results, runs, warn=note)
        for name, text in tables.items():
            _write_text(out / name, text)
        board, hor, searches = tables.board, tables.hor, tables.searches
        finding_md = tables["findings.md"]

        from memorybench.report.plots import all_plots

        if plots.is_dir():  # plots of an earlier report (another grid) must not linger
            for old in [*plots.glob("*.png"), *plots.glob("*.svg")]:
                old.unlink()  # a link itself, never its target
        figures = all_plots(runs, plots, searches)
        index = out / "index.html"
        _write_text(index, render_html(board, hor, figures, grad_pngs, runs, skipped, out,
                                       finding_md))
    except OutputError:
        raise
    except OSError as exc:  # a read-only folder, a full disk: one line, what and where
        raise OutputError(os_error_line(exc, f"write the report into {out}")) from exc
    if open_browser:
        open_in_browser(index, warn)
    return index


def check_output(results: Path, *folders: Path) -> None:
    """OutputError unless each of ``folders`` (inside ``results``) is a real folder or absent,
    and the first one that exists on the way to them is writable: the report never writes or
    deletes through a symbolic link, and says so before it computes anything."""
    import os

    for d in folders:
        store.check_folder_inside(results, d, "the report")
    probe = folders[0] if folders else results
    while not probe.exists() and probe != results:
        probe = probe.parent
    if not os.access(probe, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write the report into {folders[0] if folders else results}: "
                          f"{probe} is not writable (permission denied)")


def linked_inputs(results: Path) -> list[Path]:
    """Inputs of the report besides the runs (search records, the study record, gradient-flow
    tables) that are symbolic links: they are not read (``report.findings`` skips them)."""

    candidates = [results / store.SEARCHES, *(results / store.SEARCHES).glob("*.json"),
                  results / store.STUDY_RECORD, results / store.DIAGNOSTICS,
                  *(results / store.DIAGNOSTICS).glob("*/gradflow.csv"),
                  *(results / store.DIAGNOSTICS).glob("jacobian_*/jacobian.csv")]
    found = []
    for c in candidates:
        link = store.link_below(results, c)
        if link is not None and link not in found:
            found.append(link)
    return found


class Tables(dict):
    """File name -> text of every table ``report`` writes; the frames ride along."""

    board = hor = searches = None


def report_tables(results: str | Path, runs: list[dict] | None = None,
                  warn: Callable[[str], None] | None = None) -> Tables:
    """The report's tables (leaderboards, horizon, Findings) from the artifacts of ``results``
    alone: what ``make_report`` writes, and what the shipped results are checked against.
    Records that cannot be used are skipped, with a message to ``warn`` when given."""
    from memorybench.report import findings as fd
    from memorybench.report import mechanism as mech

    results = Path(results)
    runs = load_runs(results, warn=lambda msg: None) if runs is None else runs
    searches = store.load_searches(results, warn=warn)
    board = lb.leaderboard(runs)
    hor = lb.horizons(runs, searches)
    grad_dir = results / store.DIAGNOSTICS
    finding_md, _ = fd.findings(runs, searches, store.load_study(results, warn=warn),
                                mech.gradflow_ratios(results) if grad_dir.is_dir() else None,
                                mech.memory_path(results, warn=warn))
    t = Tables({
        fd.FINDINGS: finding_md,
        "leaderboard_all_rates.csv": store.frame_csv(lb.leaderboard(runs, all_rates=True)),
        "leaderboard.csv": store.frame_csv(board),
        "leaderboard.md": lb.to_markdown(board, "leaderboard", "Leaderboard"),
        # published numbers beside ours, and those no run matched (references.compare)
        "published.csv": _csv(board.attrs.get("published", ([], []))[0], "match"),
        "published_unmatched.csv": _csv(board.attrs.get("published", ([], []))[1], "unmatched"),
        "horizon.csv": store.frame_csv(hor),
        "horizon.md": lb.to_markdown(hor, "horizon", "Memory horizon"),
    })
    by_length = eval_length_table(runs)  # induction_heads' eval_lengths, per length
    if len(by_length):
        t["eval_lengths.csv"] = store.frame_csv(by_length)
        t["eval_lengths.md"] = eval_length_markdown(by_length)
    t.board, t.hor, t.searches = board, hor, searches
    return t


def open_in_browser(path: Path, warn: Callable[[str], None]) -> bool:
    """Open ``path`` in the default browser when one exists; warn (never fail) otherwise."""
    try:
        browser = webbrowser.get()
    except webbrowser.Error:
        warn(f"no web browser found; open {path} yourself")
        return False
    return bool(browser.open(path.resolve().as_uri()))


def _write_text(path: Path, text: str) -> None:
    store.write_text(path, text)  # temporary name + os.replace: never a half-written file


# -- HTML --------------------------------------------------------------------------------------
def esc(value) -> str:
    return html.escape(str(value), quote=True)


def _data_uri(png: Path) -> str:
    data = store.read_regular(png, limit=MAX_PNG_BYTES)  # never a FIFO, never unbounded
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


MAX_PNG_BYTES = 64 * 2**20  # a figure embedded in index.html


def markdown_html(md: str) -> str:
    """The findings' Markdown (headings, lists, pipe tables, paragraphs, `code`) as HTML, every
    text escaped."""
    import re

    def inline(t: str) -> str:  # Markdown text (names escaped by md_text) -> HTML
        return re.sub(r"`([^`]*)`", r"<code>\1</code>", esc(_md_literal(t)))

    out, in_list, table = [], False, []

    def flush() -> None:
        nonlocal in_list, table
        if in_list:
            out.append("</ul>")
            in_list = False
        if table:
            head, *body = [r for r in table if not re.fullmatch(r"\|(-+\|)+", r)]
            cells = [[c.strip() for c in re.split(r"(?<!\\)\|", r)[1:-1]]
                     for r in [head, *body]]
            out.append("<table><tr>" + "".join(f"<th>{inline(c)}</th>" for c in cells[0])
                       + "</tr>" + "".join("<tr>" + "".join(
                           f'<td class="l">{inline(c)}</td>' for c in row) + "</tr>"
                           for row in cells[1:]) + "</table>")
            table = []

    for line in md.splitlines():
        if line.startswith("|"):
            table.append(line)
            continue
        if line.startswith("- "):
            if table:
                flush()
            if not in_list:
                out.append("<ul>")
                in_list = True
            out.append(f"<li>{inline(line[2:])}</li>")
            continue
        flush()
        if line.startswith("## "):
            out.append(f"<h3>{inline(line[3:])}</h3>")
        elif line.startswith("# "):
            out.append(f"<h2>{inline(line[2:])}</h2>")
        elif line.strip():
            out.append(f"<p>{inline(line)}</p>")
    flush()
    return "\n".join(out)


def _md_literal(cell: str) -> str:
    """A Markdown table cell (``leaderboard.md_table``) back to its text: backslash escapes and
    HTML entities undone (``inline`` escapes it again for HTML)."""
    import re

    return html.unescape(re.sub(r"\\([\\|`*(\[])", r"\1", cell))


def _env():
    import jinja2

    # autoescape everything: names, titles and captions are user input (plugin names)
    return jinja2.Environment(loader=jinja2.PackageLoader("memorybench.report", "templates"),
                              autoescape=True, undefined=jinja2.StrictUndefined,
                              trim_blocks=False, lstrip_blocks=False)


def _csv(rows: list[dict], kind: str) -> str:
    """``references.compare`` rows as CSV (a header only when there are none; cells through
    ``store.csv_cell``, as in every CSV of the report)."""
    from memorybench.references import MATCH_COLUMNS, UNMATCHED_COLUMNS

    return store.csv_rows_text(rows, MATCH_COLUMNS if kind == "match" else UNMATCHED_COLUMNS)


def render_html(board, hor, figures, grad_pngs, runs, skipped, out: Path,
                findings_md: str = "") -> str:
    """The report page (``templates/report.html.j2``): every value escaped by the template,
    every image embedded as a data URI."""
    from markupsafe import Markup

    statuses: dict[str, int] = {}
    for r in runs:
        statuses[r["status"]] = statuses.get(r["status"], 0) + 1
    devices = sorted({str(r.get("device")) for r in runs if r.get("device")})
    settings = train_settings(runs)
    common, differ = train_differences(settings)
    trains = [{"id": t, "differ": differ.get(t, ""), "full": train_words(settings[t])}
              for t in sorted(settings)]

    def svg_link(svg: Path | None) -> str:
        if svg is None or not svg.exists():
            return ""
        try:
            return svg.relative_to(out).as_posix()
        except ValueError:
            return ""

    grads = []
    for png in grad_pngs:
        # gradflow writes <results>/gradflow/<task>_L<length>/gradflow.png by default
        name = png.parent.name if png.stem == "gradflow" else png.stem
        grads.append({"title": f"Gradient flow: {name}", "uri": _data_uri(png),
                      "caption": "Norm of the loss gradient with respect to the input at each "
                      "time step, mean over a batch, log scale (from memorybench gradflow)."})
    page = _env().get_template("report.html.j2").render(
        css=Markup(_CSS),
        n_runs=len(runs),
        statuses=", ".join(f"{n} {s}" for s, n in sorted(statuses.items())),
        devices=", ".join(devices),
        now=_dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        skipped=skipped,
        # markdown_html escapes every piece of text itself
        findings=Markup(markdown_html(findings_md)) if findings_md else "",
        common=common, trains=trains,
        board=display_blocks(board, "leaderboard", settings),
        horizon=display_blocks(hor, "horizon", settings),
        figures=[{"title": f.title, "uri": _data_uri(f.png), "caption": f.caption,
                  "svg": svg_link(f.svg)} for f in figures],
        gradflow=grads,
        published=published_blocks(board), published_note=PUBLISHED_NOTE,
        scaled=SCALED_WARNING.format(scale=board.attrs["scale"])
        if board.attrs.get("scale") else "",
    )
    return page.rstrip("\n") + "\n"
