"""The report: leaderboard and horizon tables (CSV, Markdown), plots and one self-contained HTML."""

from __future__ import annotations

import base64
import datetime as _dt
import html
import warnings
import webbrowser
from collections.abc import Callable
from pathlib import Path

from memorybench.errors import ConfigError
from memorybench.report import leaderboard as lb
from memorybench.run import store

REPORT_DIR = "report"
GRADFLOW_DIR = "gradflow"

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
            f"--results {str(results)!r} has no runs/ folder; run `memorybench run --out "
            f"{results}` first"
        )
    skipped: list[str] = []

    def note(msg: str) -> None:
        skipped.append(msg)
        warn(msg)

    runs = lb.load_runs(results, warn=note)
    if not runs:
        raise ConfigError(f"no completed runs under {results / 'runs'}")
    out = results / REPORT_DIR
    out.mkdir(parents=True, exist_ok=True)
    tables = report_tables(results, runs)
    for name, text in tables.items():
        _write_text(out / name, text)
    board, hor, searches = tables.board, tables.hor, tables.searches
    finding_md = tables["findings.md"]

    from memorybench.report.plots import all_plots

    plots = out / "plots"
    if plots.is_dir():  # plots of an earlier report (another grid) must not linger
        for old in [*plots.glob("*.png"), *plots.glob("*.svg")]:
            old.unlink()
    figures = all_plots(runs, plots, searches)
    grad_pngs = sorted((results / GRADFLOW_DIR).glob("**/*.png"))
    index = out / "index.html"
    _write_text(index, render_html(board, hor, figures, grad_pngs, runs, skipped, out,
                                   finding_md))
    if open_browser:
        open_in_browser(index, warn)
    return index


class Tables(dict):
    """File name -> text of every table ``report`` writes; the frames ride along."""

    board = hor = searches = None


def report_tables(results: str | Path, runs: list[dict] | None = None) -> Tables:
    """The report's tables (leaderboards, horizon, Findings) from the artifacts of ``results``
    alone: what ``make_report`` writes, and what the shipped results are checked against."""
    from memorybench.report import findings as fd

    results = Path(results)
    runs = lb.load_runs(results, warn=lambda msg: None) if runs is None else runs
    searches = fd.load_searches(results)
    board = lb.leaderboard(runs)
    hor = lb.horizons(runs, searches)
    grad_dir = results / GRADFLOW_DIR
    finding_md, _ = fd.findings(runs, searches, fd.load_study(results),
                                fd.gradflow_ratios(results) if grad_dir.is_dir() else None)
    t = Tables({
        fd.FINDINGS: finding_md,
        "leaderboard_all_rates.csv": lb.leaderboard(runs, all_rates=True).to_csv(index=False),
        "leaderboard.csv": board.to_csv(index=False),
        "leaderboard.md": lb.to_markdown(board, "leaderboard", "Leaderboard"),
        "horizon.csv": hor.to_csv(index=False),
        "horizon.md": lb.to_markdown(hor, "horizon", "Memory horizon"),
    })
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
    return "data:image/png;base64," + base64.b64encode(png.read_bytes()).decode("ascii")


def markdown_html(md: str) -> str:
    """The findings' Markdown (headings, lists, pipe tables, paragraphs, `code`) as HTML, every
    text escaped."""
    import re

    def inline(t: str) -> str:
        return re.sub(r"`([^`]*)`", r"<code>\1</code>", esc(t))

    out, in_list, table = [], False, []

    def flush() -> None:
        nonlocal in_list, table
        if in_list:
            out.append("</ul>")
            in_list = False
        if table:
            head, *body = [r for r in table if not re.fullmatch(r"\|(-+\|)+", r)]
            cells = [[c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", r)[1:-1]]
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


def _env():
    import jinja2

    # autoescape everything: names, titles and captions are user input (plugin names)
    return jinja2.Environment(loader=jinja2.PackageLoader("memorybench.report", "templates"),
                              autoescape=True, undefined=jinja2.StrictUndefined,
                              trim_blocks=False, lstrip_blocks=False)


def render_html(board, hor, figures, grad_pngs, runs, skipped, out: Path,
                findings_md: str = "") -> str:
    """The report page (``templates/report.html.j2``): every value escaped by the template,
    every image embedded as a data URI."""
    from markupsafe import Markup

    statuses: dict[str, int] = {}
    for r in runs:
        statuses[r["status"]] = statuses.get(r["status"], 0) + 1
    devices = sorted({str(r.get("device")) for r in runs if r.get("device")})
    settings = lb.train_settings(runs)
    common, differ = lb.train_differences(settings)
    trains = [{"id": t, "differ": differ.get(t, ""), "full": lb.train_words(settings[t])}
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
        board=lb.display_blocks(board, "leaderboard", settings),
        horizon=lb.display_blocks(hor, "horizon", settings),
        figures=[{"title": f.title, "uri": _data_uri(f.png), "caption": f.caption,
                  "svg": svg_link(f.svg)} for f in figures],
        gradflow=grads,
    )
    return page.rstrip("\n") + "\n"
