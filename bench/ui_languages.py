"""What the web UI's translation costs: catalog page load in zh-TW against English, same run.

Starts `llmatlas serve`, then loads `/#/` in Debian's Chromium (`/usr/bin/chromium`, through
Playwright) alternating the browser language, and reads the page's own User Timing measure
`catalog-render` (its end = the table is interactive, in ms since navigation start).  A zh-TW
load also fetches `/ui/messages` (the catalog as JSON) and formats with Intl in that locale.
Prints median and p90 per language and the zh-TW/en ratio.  Target: ratio <= 1.2.

``--api`` measures the server's side instead: the same `/api/atlas/fit` and
`/api/atlas/estimate` questions asked with ``Accept-Language: en`` and ``zh-TW`` in turn
(the advisor's reasons and notes are written in the request's language), wall time per
request on one keep-alive connection.  Target: ratio <= 1.05.

    .venv/bin/python bench/ui_languages.py [--loads 10] [--api]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.serverproc import free_port, stop_proc, wait_http  # noqa: E402

READY_JS = "performance.getEntriesByName('catalog-render').map((m) => m.startTime + m.duration)[0]"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--loads", type=int, default=10, help="page loads (or requests) per language")
    ap.add_argument("--api", action="store_true", help="time the API's answers, not the page")
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
            times = api_times(url, args.loads) if args.api else page_times(url, args.loads)
        finally:
            stop_proc(proc)
    print(f"{'language':<8} {'loads':>5} {'median ms':>10} {'p90 ms':>8}")
    for lang, ms in times.items():
        p90 = statistics.quantiles(ms, n=10)[-1] if len(ms) > 1 else ms[0]
        print(f"{lang:<8} {len(ms):>5} {statistics.median(ms):>10.0f} {p90:>8.0f}")
    ratio = statistics.median(times["zh-TW"]) / statistics.median(times["en-US"])
    target = 1.05 if args.api else 1.2
    print(f"zh-TW / en median ratio: {ratio:.2f} (target <= {target})")


API_QUESTIONS = (
    "/api/atlas/fit?device=rtx-4090&limit=50",
    "/api/atlas/fit?ram_gb=32&language=zh-Hant&limit=50",
    "/api/atlas/estimate?model=llama-3.1-70b-instruct&device=rtx-4090&gpus=2",
)


def api_times(url: str, loads: int) -> dict[str, list[float]]:
    """ms per round of API_QUESTIONS, alternating the language; the first round of each
    language fills the server's per-language caches and is not counted."""
    import httpx

    times: dict[str, list[float]] = {"en-US": [], "zh-TW": []}
    with httpx.Client(base_url=url, timeout=300) as client:
        for i in range(loads * 2 + 2):
            lang = "en-US" if i % 2 == 0 else "zh-TW"
            t0 = time.perf_counter()
            for q in API_QUESTIONS:
                client.get(q, headers={"Accept-Language": lang}).raise_for_status()
            if i >= 2:
                times[lang].append((time.perf_counter() - t0) * 1000)
    return times


def page_times(url: str, loads: int) -> dict[str, list[float]]:
    """ms from navigation start to the catalog table being interactive, alternating the
    browser's language; the first pair warms the server's caches."""
    times: dict[str, list[float]] = {"en-US": [], "zh-TW": []}
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--headless", "--no-sandbox"]
        )
        for i in range(loads * 2 + 2):
            lang = "en-US" if i % 2 == 0 else "zh-TW"
            ctx = browser.new_context(locale=lang)
            page = ctx.new_page()
            page.goto(url + "/#/")
            page.wait_for_selector("#catalog-table tbody tr", timeout=60_000)
            if i >= 2:  # the first pair warms the server's caches
                times[lang].append(float(page.evaluate(READY_JS)))
            ctx.close()
        browser.close()
    return times


if __name__ == "__main__":
    main()
