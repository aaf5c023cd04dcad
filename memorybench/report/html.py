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
"""


def make_report(
    results: str | Path = "results",
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

    board = lb.leaderboard(runs)
    hor = lb.horizons(runs)
    _write_text(out / "leaderboard.csv", board.to_csv(index=False))
    _write_text(out / "leaderboard.md", lb.to_markdown(board, "leaderboard", "Leaderboard"))
    _write_text(out / "horizon.csv", hor.to_csv(index=False))
    _write_text(out / "horizon.md", lb.to_markdown(hor, "horizon", "Memory horizon"))

    from memorybench.report.plots import all_plots

    plots = out / "plots"
    if plots.is_dir():  # plots of an earlier report (another grid) must not linger
        for old in [*plots.glob("*.png"), *plots.glob("*.svg")]:
            old.unlink()
    figures = all_plots(runs, plots)
    grad_pngs = sorted((results / GRADFLOW_DIR).glob("**/*.png"))
    index = out / "index.html"
    _write_text(index, render_html(board, hor, figures, grad_pngs, runs, skipped, out))
    if open_browser:
        open_in_browser(index, warn)
    return index


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


def html_tables(df, kind: str, level: int = 3) -> str:
    _, blocks = lb.display_rows(df, kind)
    parts = []
    for title, header, rows in blocks:
        # names read left-aligned, numbers right-aligned
        cls = ['' if h != "model" else ' class="l"' for h in header]
        parts.append(f"<h{level}>{esc(title)}</h{level}>")
        parts.append(f'<table class="{esc(kind)}"><thead><tr>'
                     + "".join(f"<th{c}>{esc(h)}</th>" for c, h in zip(cls, header, strict=True))
                     + "</tr></thead><tbody>")
        for row in rows:
            parts.append("<tr>" + "".join(f"<td{c}>{esc(v)}</td>"
                                          for c, v in zip(cls, row, strict=True)) + "</tr>")
        parts.append("</tbody></table>")
    return "\n".join(parts) if parts else "<p>No completed runs.</p>"


def _figure(title: str, png: Path, caption: str, svg: Path | None, out: Path) -> str:
    link = ""
    if svg is not None and svg.exists():
        try:
            rel = svg.relative_to(out).as_posix()
            link = f' (<a href="{esc(rel)}">SVG</a>)'
        except ValueError:
            link = ""
    return (f'<figure><img src="{_data_uri(png)}" alt="{esc(title)}">'
            f"<figcaption><b>{esc(title)}.</b> {esc(caption)}{link}</figcaption></figure>")


def render_html(board, hor, figures, grad_pngs, runs, skipped, out: Path) -> str:
    """The report page: every value escaped, every image embedded as a data URI."""
    statuses: dict[str, int] = {}
    for r in runs:
        statuses[r["status"]] = statuses.get(r["status"], 0) + 1
    devices = sorted({str(r.get("device")) for r in runs if r.get("device")})
    now = _dt.datetime.now().astimezone().isoformat(timespec="seconds")
    meta = ", ".join(f"{n} {s}" for s, n in sorted(statuses.items()))
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>memorybench report</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>memorybench report</h1>",
        f'<p class="meta">{esc(len(runs))} runs ({esc(meta)}); devices: '
        f"{esc(', '.join(devices) or '-')}; written {esc(now)}.</p>",
    ]
    if skipped:
        parts.append('<p class="warn">Skipped run folders:</p><ul class="warn">'
                     + "".join(f"<li>{esc(s)}</li>" for s in skipped) + "</ul>")
    parts += [
        "<h2>Leaderboard</h2>",
        "<p>Test metric mean ± std over seeds, normalised score mean (0 = trivial predictor, "
        "1 = perfect), fraction of seeds solved, median steps and seconds to solve over the "
        "solved seeds, training sequences per second. Ranked by score, ties by fewer "
        "parameters; datasets are never ranked together.</p>",
        html_tables(board, "leaderboard"),
        "<h2>Memory horizon</h2>",
        "<p>The largest length solved by the majority of seeds; '-' when no length is "
        "solved.</p>",
        html_tables(hor, "horizon"),
        "<h2>Plots</h2>",
    ]
    for f in figures:
        parts.append(_figure(f.title, f.png, f.caption, f.svg, out))
    if not figures:
        parts.append("<p>No plots: no run has a history or a test score.</p>")
    if grad_pngs:
        parts.append("<h2>Gradient flow</h2>")
        for png in grad_pngs:
            # gradflow writes <results>/gradflow/<task>_L<length>/gradflow.png by default
            name = png.parent.name if png.stem == "gradflow" else png.stem
            parts.append(_figure(
                f"Gradient flow: {name}", png,
                "Norm of the loss gradient with respect to the input at each time step, mean "
                "over a batch, log scale (from memorybench gradflow).",
                None, out))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
