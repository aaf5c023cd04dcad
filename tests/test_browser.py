"""The HTML report in a real headless Chromium: tables are there and every image loads."""

from __future__ import annotations

import html
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from test_report import real_sweep  # the session's sweep: made once, shared with test_report

CHROMIUM = next((p for p in ("/usr/bin/chromium", shutil.which("chromium") or "") if p
                 and Path(p).exists()), None)

pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Chromium is not installed (CI installs the Debian 'chromium' package in .ci/run)",
)

# Appended to a copy of the page: after 'load', write what the browser saw into the DOM, which
# --dump-dom then prints. The report itself carries no script.
PROBE = """<script>
window.addEventListener('load', () => {
  const imgs = [...document.images];
  const ok = imgs.filter(i => i.complete && i.naturalWidth > 0 && i.naturalHeight > 0);
  const out = document.createElement('pre');
  out.id = 'probe';
  out.textContent = JSON.stringify({
    images: imgs.length, loaded: ok.length,
    sizes: ok.map(i => [i.naturalWidth, i.naturalHeight]),
    tables: document.querySelectorAll('table').length,
    rows: document.querySelectorAll('table tbody tr').length,
    headings: [...document.querySelectorAll('h2')].map(h => h.textContent),
  });
  document.body.appendChild(out);
});
</script>"""


def test_report_renders_in_chromium(tmp_path_factory, tmp_path):
    import json

    results = real_sweep(tmp_path_factory.getbasetemp())
    page = (results / "report" / "index.html").read_text()
    probe = tmp_path / "index.html"
    probe.write_text(page.replace("</body>", PROBE + "</body>"))
    cmd = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
        "--virtual-time-budget=5000", "--dump-dom", probe.as_uri(),
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    m = re.search(r'<pre id="probe">(.*?)</pre>', out.stdout, re.S)
    assert m, f"the probe did not run; stderr: {out.stderr[-2000:]}"
    seen = json.loads(html.unescape(m.group(1)))
    n_png = len(list((results / "report" / "plots").glob("*.png")))
    assert seen["images"] == n_png >= 5
    assert seen["loaded"] == seen["images"], seen
    assert all(w > 100 and h > 100 for w, h in seen["sizes"])
    assert seen["tables"] >= 6 and seen["rows"] >= 12
    assert {"Leaderboard", "Memory horizon", "Plots"} <= set(seen["headings"])
