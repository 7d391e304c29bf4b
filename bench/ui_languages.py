"""What the web UI's translation costs: catalog page load in zh-TW against English, same run.

Starts `llmatlas serve`, then loads `/#/` in Debian's Chromium (`/usr/bin/chromium`, through
Playwright) alternating the browser language, and reads the page's own User Timing measure
`catalog-render` (its end = the table is interactive, in ms since navigation start).  A zh-TW
load also fetches `/ui/messages` (the catalog as JSON) and formats with Intl in that locale.
Prints median and p90 per language and the zh-TW/en ratio.  Target: ratio <= 1.2.

    .venv/bin/python bench/ui_languages.py [--loads 10]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.serverproc import free_port, stop_proc, wait_http  # noqa: E402

READY_JS = "performance.getEntriesByName('catalog-render').map((m) => m.startTime + m.duration)[0]"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--loads", type=int, default=10, help="page loads per language")
    args = ap.parse_args()
    home = Path(tempfile.mkdtemp(prefix="llmatlas-ui-bench-"))
    port = free_port()
    log = home / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "llmatlas", "serve", "--port", str(port)],
            env={**os.environ, "LLMATLAS_HOME": str(home)},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            wait_http(url + "/health", proc, log, 120)
            times: dict[str, list[float]] = {"en-US": [], "zh-TW": []}
            with sync_playwright() as p:
                browser = p.chromium.launch(
                    executable_path="/usr/bin/chromium", args=["--headless", "--no-sandbox"]
                )
                for i in range(args.loads * 2 + 2):
                    lang = "en-US" if i % 2 == 0 else "zh-TW"
                    ctx = browser.new_context(locale=lang)
                    page = ctx.new_page()
                    page.goto(url + "/#/")
                    page.wait_for_selector("#catalog-table tbody tr", timeout=60_000)
                    if i >= 2:  # the first pair warms the server's caches
                        times[lang].append(float(page.evaluate(READY_JS)))
                    ctx.close()
                browser.close()
        finally:
            stop_proc(proc)
    print(f"{'language':<8} {'loads':>5} {'median ms':>10} {'p90 ms':>8}")
    for lang, ms in times.items():
        p90 = statistics.quantiles(ms, n=10)[-1] if len(ms) > 1 else ms[0]
        print(f"{lang:<8} {len(ms):>5} {statistics.median(ms):>10.0f} {p90:>8.0f}")
    ratio = statistics.median(times["zh-TW"]) / statistics.median(times["en-US"])
    print(f"zh-TW / en median ratio: {ratio:.2f} (target <= 1.2)")


if __name__ == "__main__":
    main()
