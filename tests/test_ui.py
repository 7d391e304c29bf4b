"""End-to-end tests of the web UI in real headless Chromium against a real `llmatlas serve`.

Needs the system Chromium (`apt-get install -y chromium`) and the Python `playwright`
package; the browser bundled by `playwright install` is never used.  Screenshots of every
page go to test-artifacts/ui/ (git-ignored).
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.english_text import english_messages, untranslated

CHROMIUM = "/usr/bin/chromium"
if not Path(CHROMIUM).exists():
    pytest.skip(
        f"{CHROMIUM} is missing (install it with `apt-get install -y chromium`)",
        allow_module_level=True,
    )
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="the `playwright` package is not installed"
)

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts" / "ui"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 20_000
SLOW_MS = (
    90_000  # pages that wait for the advisor to rank every model (CPU seconds, more when busy)
)
# the table is appended with its rows sorted and filtered in one task, so its presence means ready
CATALOG_READY = "#catalog-table tbody tr"
BENCH = [sys.executable, "-m", "llmatlas", "bench"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return int(r.status)
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return 0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    home = tmp_path_factory.mktemp("ui-home")
    env = {**os.environ, "LLMATLAS_HOME": str(home), "HF_HUB_DISABLE_TELEMETRY": "1"}
    env.pop("LLMATLAS_API_KEY", None)
    # one quick benchmark run, so the Benchmarks page has something to chart
    bench = subprocess.run(
        [*BENCH, "--runs", "1", "--prompt-tokens", "32", "--gen-tokens", "8", "--compare-estimate"],
        env=env,
        capture_output=True,
        timeout=300,
    )
    port = _free_port()
    log = open(home / "serve.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "llmatlas", "serve", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while _get(f"{base}/health") != 200:
            if proc.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail(
                    "llmatlas serve did not become healthy:\n"
                    + (home / "serve.log").read_text(errors="replace")[-3000:]
                )
            time.sleep(0.3)
        yield {"base": base, "bench_ok": bench.returncode == 0}
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


class UI:
    """A page plus the console errors and page errors seen on it."""

    def __init__(
        self,
        browser: Any,
        base: str,
        scheme: str = "light",
        width: int = 1280,
        locale: str = "en-US",
        csp: bool = False,
    ) -> None:
        self.base = base
        self.ctx = browser.new_context(
            color_scheme=scheme,
            viewport={"width": width, "height": 900 if width > 500 else 844},
            locale=locale,  # also the Accept-Language header Chromium sends
            # The server's CSP forbids eval, which Playwright's wait_for_function needs; the
            # tests that visit every page keep it (csp=True) and so check the UI obeys it.
            bypass_csp=not csp,
        )
        self.page = self.ctx.new_page()
        self.page.set_default_timeout(TIMEOUT_MS)
        self.errors: list[str] = []
        self.page.on(
            "console",
            lambda m: (
                self.errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None
            ),
        )
        self.page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))

    def go(self, hash_: str) -> Any:
        self.page.goto(f"{self.base}/{hash_}")
        return self.page

    def shot(self, name: str, full: bool = False) -> None:
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full)

    def assert_clean(self) -> None:
        assert self.errors == [], "console errors:\n" + "\n".join(self.errors)
        if not self.page.is_closed():
            text = self.page.locator("body").inner_text()
            assert "[object " not in text and "undefined" not in text and "NaN" not in text

    def close(self) -> None:
        self.ctx.close()


@pytest.fixture()
def ui(browser: Any, server: dict[str, Any]) -> Iterator[UI]:
    u = UI(browser, server["base"])
    yield u
    u.close()
    u.assert_clean()


@pytest.fixture(scope="module")
def keyed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A second server, started with --api-key (no model is loaded by these pages)."""
    from tests.serverproc import ServerProcess

    srv = ServerProcess(tmp_path_factory.mktemp("ui-keyed"), api_key=API_KEY)
    try:
        yield srv.url
    finally:
        srv.stop()


API_KEY = "ui-test-key-7d1c"


def visible_rows(page: Any) -> int:
    return int(page.locator("#catalog-table tbody tr:not([hidden])").count())


def test_catalog_filters_search_and_sort(ui: UI) -> None:
    page = ui.go("#/")
    page.wait_for_selector(CATALOG_READY)
    timing = page.evaluate(
        "(() => { const m = performance.getEntriesByName('catalog-render')[0];"
        " return [m.startTime + m.duration, m.duration]; })()"
    )
    print(
        f"\ncatalog interactive {timing[0]:.0f} ms after navigation ({timing[1]:.0f} ms rendering)"
    )
    total = visible_rows(page)
    assert total > 300
    page.wait_for_selector("#catalog-table .fitcell .badge", timeout=SLOW_MS)  # advisor badges
    ui.shot("catalog")

    page.get_by_role("searchbox", name="Search").fill("mixtral")
    page.wait_for_function(
        f"document.querySelectorAll('#catalog-table tbody tr:not([hidden])').length < {total}"
    )
    rows = page.locator("#catalog-table tbody tr:not([hidden])")
    texts = [t.lower() for t in rows.all_inner_texts()]
    assert 0 < len(texts) < total
    assert sum("mixtral" in t for t in texts) >= 2
    assert "mixtral" in page.url  # filters live in the URL
    ui.shot("catalog-search")

    page.get_by_role("searchbox", name="Search").fill("")
    page.wait_for_function(
        f"document.querySelectorAll('#catalog-table tbody tr:not([hidden])').length == {total}"
    )
    page.get_by_label("Commercial use", exact=True).check()
    page.get_by_label("Max params (B)").fill("3")
    page.wait_for_function(
        f"document.querySelectorAll('#catalog-table tbody tr:not([hidden])').length < {total}"
    )
    small = visible_rows(page)
    assert 0 < small < total
    shown = page.locator("#catalog-table tbody tr:not([hidden])").all_inner_texts()
    # an unconditional yes, as the CLI and the API read --commercial
    assert not any("non-commercial" in r or "conditional" in r for r in shown)
    page.get_by_label("Commercial use on conditions too (Llama, Gemma…)").check()
    page.wait_for_function(
        f"document.querySelectorAll('#catalog-table tbody tr:not([hidden])').length > {small}"
    )
    shown = page.locator("#catalog-table tbody tr:not([hidden])").all_inner_texts()
    assert any("conditional" in r for r in shown)
    assert not any("non-commercial" in r for r in shown)

    # sort by clicking a column header; then open a model from the table
    page.locator("th[data-col=params] button").click()
    assert page.locator("th[data-col=params]").get_attribute("aria-sort") == "descending"
    first = page.locator("#catalog-table tbody tr:not([hidden]) a").first
    name = first.inner_text()
    first.click()
    page.wait_for_selector("h1")
    assert page.locator("h1").inner_text() == name
    ui.assert_clean()


def test_model_page_context_updates_memory(ui: UI) -> None:
    page = ui.go("#/model/mistral-7b-v0.1")
    total = page.locator("#est-total")
    total.wait_for()
    assert page.locator("h1").inner_text() == "Mistral 7B v0.1"
    assert page.locator("a[href^='https://']").count() > 3  # sources are linked
    assert page.locator("#size-chart svg rect").count() >= 7 * 2  # stacked bars
    assert page.locator("#size-table td").count() >= 7 * 3
    before = int(total.get_attribute("value") or 0)
    text_before = total.inner_text()
    page.locator("#ctx-input").fill("32768")
    page.wait_for_function(f"Number(document.querySelector('#est-total').value) > {before}")
    assert total.inner_text() != text_before
    ui.shot("model", full=True)

    # the device selector changes the budget line; lineage links lead to model pages
    page.get_by_label("Device").select_option("rtx-4090")
    page.wait_for_function("document.querySelector('#estimate').innerText.includes('4090')")
    page.locator("#lineage a").first.click()
    page.wait_for_function(
        "location.hash.startsWith('#/model/') && !location.hash.includes('mistral-7b-v0.1')"
    )
    page.locator("h1").wait_for()
    ui.assert_clean()


def test_compare_highlights_differences(ui: UI) -> None:
    page = ui.go("#/compare?ids=mistral-7b-v0.1,llama-2-7b")
    page.wait_for_selector("#compare-table")
    assert page.locator("#compare-table thead th").count() == 3
    diff = page.locator("#compare-table tr.diff")
    assert diff.count() > 0
    assert "Developer" in diff.all_inner_texts()[0]
    same = page.locator("#compare-table tbody tr:not(.diff)")
    assert same.count() > 0  # e.g. Layers (32 vs 32)
    page.get_by_label("Add a model (2–4)").fill("qwen2.5-7b-instruct")
    page.get_by_role("button", name="Add").click()
    page.wait_for_function("document.querySelectorAll('#compare-table thead th').length === 4")
    assert page.locator(".chip").all_inner_texts()[0].startswith("Mistral 7B v0.1")
    assert "qwen2.5-7b-instruct" in page.url
    ui.shot("compare")
    ui.assert_clean()


def test_tree_svg_zoom_and_click(ui: UI) -> None:
    page = ui.go("#/tree")
    page.wait_for_selector("#tree-box svg a.node")
    assert page.locator("#tree-box a.node").count() > 30
    ui.shot("tree")
    page = ui.go("#/tree/llama-2-7b")
    page.wait_for_function("document.querySelector('#tree-box a.node[data-id=\"llama-2-7b\"]')")
    g = page.locator("#tree-box svg > g")
    before = g.get_attribute("transform")
    page.get_by_role("button", name="Zoom in").click()
    assert g.get_attribute("transform") != before
    page.get_by_role("button", name="Fit to view").click()
    ui.shot("tree-llama-2-7b")
    node = page.locator("#tree-box a.node").nth(1)
    target = node.get_attribute("data-id")
    node.click()
    # the model page rewrites its query string (ctx, quant) once sized, so match the path only
    page.wait_for_function(f"location.hash.split('?')[0] === '#/model/{target}'")
    page.locator("#lineage").wait_for()
    ui.assert_clean()


def test_chat_streams(ui: UI) -> None:
    page = ui.go("#/chat")
    page.get_by_label("Max tokens").fill("48")  # enough to see tokens stream in
    page.get_by_label("Temperature").fill("0.8")
    page.get_by_label("Seed").fill("7")
    page.get_by_role("textbox", name="Message").fill(
        "The three best open-weight LLMs to self-host are"
    )
    page.get_by_role("button", name="Send").click()
    out = page.locator(".msg.assistant .body").last
    page.wait_for_function("document.querySelector('.msg.assistant .body').textContent.length > 0")
    first = len(out.text_content() or "")
    page.wait_for_function(
        f"document.querySelector('.msg.assistant .body').textContent.length > {first}"
    )
    assert len(out.text_content() or "") > first
    assert page.locator("#chat-ttft").inner_text().endswith(" s")
    page.wait_for_function(
        "document.querySelector('#chat-state').textContent.startsWith('done')", timeout=60_000
    )
    assert float(page.locator("#chat-tps").inner_text().replace(",", "")) > 0
    ui.shot("chat")

    # Stop aborts a running stream
    page.get_by_label("Max tokens").fill("2000")
    page.get_by_role("textbox", name="Message").fill("Once upon a time")
    page.get_by_role("textbox", name="Message").press("Enter")
    page.wait_for_function(
        "document.querySelectorAll('.msg.assistant .body')[1].textContent.length > 0"
    )
    page.get_by_role("button", name="Stop").click()
    page.wait_for_function("document.querySelector('#chat-state').textContent === 'stopped'")
    assert page.get_by_role("button", name="Send").is_enabled()
    ui.assert_clean()


def _fit_answer(page: Any, action: Any) -> dict[str, Any]:
    """Do `action` and return the /api/atlas/fit answer the page received for it (ranking
    every model takes a few CPU seconds: a longer wait than other pages on a busy machine)."""
    with page.expect_response(
        lambda r: "/api/atlas/fit?" in r.url and "limit=50" in r.url, timeout=90_000
    ) as resp:
        action()
    body: dict[str, Any] = resp.value.json()
    page.wait_for_function(
        f"document.querySelector('#fit-budget')?.value === '{body['budget_bytes']}'"
    )
    return body


def _assert_rows_as_answered(page: Any, body: dict[str, Any]) -> None:
    """The table shows the API's rows in its order, each with exactly the reasons it gave."""
    rows = page.locator("#fit-table tbody tr")
    assert rows.count() == len(body["rows"]) > 0
    for i in (0, len(body["rows"]) - 1):
        row, want = rows.nth(i), body["rows"][i]
        assert row.get_attribute("data-id") == want["model"]
        assert row.locator("td.why li").all_inner_texts() == want["why"]


def test_fit_machine_inputs_reasons_and_sorting(ui: UI) -> None:
    from llmatlas.hardware._usable import apple_gpu_share

    # memory sizes typed in: VRAM per GPU x GPU count, system RAM (restored from the URL)
    page = ui.page
    body = _fit_answer(page, lambda: ui.go("#/fit?vram_gb=24&gpus=2&ram_gb=64"))
    assert page.get_by_label("Device").input_value() == "custom"
    assert page.get_by_label("VRAM per GPU (GB)").input_value() == "24"
    assert page.get_by_label("GPUs").input_value() == "2"
    assert page.get_by_label("System RAM (GB)").is_visible()
    assert not page.get_by_label("Unified memory").is_visible()
    assert body["budget_bytes"] > 40 * 1024**3  # two 24 GB cards, not one
    _assert_rows_as_answered(page, body)
    # scores are columns; sorting by one is the user's, the advisor's rank stays in column #
    assert page.locator("th[data-col^='score:']").count() >= 1
    page.locator("th[data-col=decode] button").click()
    assert page.locator("th[data-col=decode]").get_attribute("aria-sort") == "descending"
    speeds = [
        float(x.replace(",", "")) for x in page.locator("tbody td:nth-child(5)").all_inner_texts()
    ]
    assert speeds == sorted(speeds, reverse=True)
    page.locator("th[data-col=decode] button").click()
    assert page.locator("th[data-col=decode]").get_attribute("aria-sort") == "ascending"
    ui.shot("fit-custom")

    # a GPU from the table: the count applies, memory fields give way
    body = _fit_answer(page, lambda: page.get_by_label("Device").select_option("rtx-4090"))
    assert "4090" in body["target"] and "device=rtx-4090" in page.url
    assert page.get_by_label("GPUs").is_visible()
    assert not page.get_by_label("VRAM per GPU (GB)").is_visible()

    # an Apple chip with one of the unified-memory sizes it is sold with
    body = _fit_answer(page, lambda: ui.go("#/fit?device=m3-max&unified_gb=64"))
    assert page.get_by_label("Unified memory").input_value() == "64"
    assert not page.get_by_label("GPUs").is_visible()
    assert body["budget_bytes"] == apple_gpu_share(64 * 1024**3)[0]
    _assert_rows_as_answered(page, body)
    ui.shot("fit")
    ui.assert_clean()


def test_bench_chart(ui: UI, server: dict[str, Any]) -> None:
    page = ui.go("#/bench")
    if server["bench_ok"]:
        page.wait_for_selector("svg.chart rect")
        assert page.locator("#bench-runs tbody tr").count() >= 1
    else:
        page.wait_for_selector("#bench-empty")
    ui.shot("bench")
    ui.assert_clean()


@pytest.mark.parametrize("scheme", ["dark", "light"])
def test_narrow_screens_and_keyboard(browser: Any, server: dict[str, Any], scheme: str) -> None:
    u = UI(browser, server["base"], scheme=scheme, width=390, csp=True)
    try:
        for name, hash_, sel in [
            ("catalog", "#/", CATALOG_READY),
            ("model", "#/model/mistral-7b-v0.1", "#est-total"),
            ("fit", "#/fit", "#fit-table"),
            ("compare", "#/compare?ids=mistral-7b-v0.1,gemma-2-9b", "#compare-table"),
            ("tree", "#/tree/mistral-7b-v0.1", "#tree-box a.node"),
            ("chat", "#/chat", "#chat-input"),
            ("bench", "#/bench", "h1"),
        ]:
            page = u.go(hash_)
            page.wait_for_selector(sel, timeout=SLOW_MS)
            # the page itself never scrolls sideways (wide tables scroll in their own box)
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 1, f"{name} overflows by {overflow}px at 390px"
            u.shot(f"narrow-{scheme}-{name}")
        # keyboard: the first Tab lands on the skip link, which has a visible focus style
        page = u.go("#/")
        page.reload()
        page.wait_for_selector(CATALOG_READY)
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement.id")
        assert focused == "skip"
        outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert outline != "none"
        page.keyboard.press("Enter")  # skip link moves focus to the content
        assert page.evaluate("document.activeElement.id") == "main"
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.type") == "search"
        u.assert_clean()
    finally:
        u.close()


def test_no_unknown_route_errors(ui: UI) -> None:
    page = ui.go("#/nope")
    page.wait_for_selector("h1")
    assert page.locator("h1").inner_text() == "Not found"
    ui.assert_clean()


# -- languages ---------------------------------------------------------------------------
PAGES = [
    ("catalog", "#/", "#catalog-table .fitcell .badge"),
    ("model", "#/model/mistral-7b-v0.1", "#size-table td"),
    ("family", "#/family/通義千問", "#family-members tbody tr"),  # a family by its Chinese name
    ("fit", "#/fit", "#fit-table tbody tr"),
    ("compare", "#/compare?ids=mistral-7b-v0.1,llama-2-7b", "#compare-table"),
    ("tree", "#/tree/llama-2-7b", "#tree-box a.node"),
    ("chat", "#/chat", "#chat-input"),
    ("bench", "#/bench", "svg.chart rect, #bench-empty"),
    ("not-found", "#/nope", "h1"),
    # text the server writes: an estimate's target, pool rule and notes (two GPUs: a layer
    # split note), and an API error shown by the page
    ("estimate", "#/model/llama-3.1-8b-instruct?device=rtx-4090&gpus=2", "#est-total"),
    ("error", "#/model/no-such-model", "p.error"),
    # a deployment plan: its memory lines, notes and steps are the server's words
    ("deploy", "#/deploy/llama-3.1-8b-instruct?target=vllm&device=h100-sxm", "#deploy-plan li"),
]
# every text node and user-visible attribute, outside code (ids, commands, config keys)
VISIBLE_TEXT_JS = """() => {
  const out = [];
  const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walk.nextNode(); n; n = walk.nextNode()) {
    const s = n.textContent.trim();
    if (s && !n.parentElement.closest("code, script, style, noscript")) out.push(s);
  }
  for (const el of document.body.querySelectorAll("[placeholder], [aria-label], [title]")) {
    for (const a of ["placeholder", "aria-label", "title"]) {
      const v = el.getAttribute(a);
      if (v && v.trim()) out.push(v.trim());
    }
  }
  return out;
}"""
CJK = re.compile(r"[\u4e00-\u9fff]")


def test_messages_route_negotiates_the_language(server: dict[str, Any]) -> None:
    def get(query: str = "", accept: str | None = None) -> tuple[int, dict[str, Any]]:
        req = urllib.request.Request(f"{server['base']}/ui/messages{query}")
        if accept:
            req.add_header("Accept-Language", accept)
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                return int(r.status), json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    for accept, want in [
        ("zh-TW,zh;q=0.9,en;q=0.8", "zh_TW"),
        ("zh-HK", "zh_TW"),
        ("fr-FR, zh-CN;q=0.5", "zh_CN"),
        ("en-GB,en;q=0.9", "en"),
        ("fr", "en"),
        (None, "en"),
    ]:
        status, body = get(accept=accept)
        assert (status, body["lang"]) == (200, want), accept
    status, body = get("?lang=zh-Hant", accept="en")  # the switcher's choice wins
    assert body["lang"] == "zh_TW" and body["messages"]["Catalog"] == "模型目錄"
    assert {x["lang"] for x in body["languages"]} == {"en", "zh_TW", "zh_CN"}
    status, body = get("?lang=xx-nope")
    assert status == 400 and "unsupported language" in body["error"]["message"]


def _walk_every_page(u: UI, lang: str, html_lang: str) -> None:
    """Each page at 390 px in ``lang``: the document's language, no English UI string or
    server sentence left, no unfilled placeholder, no horizontal overflow."""
    english = english_messages("ui", lang)
    for name, hash_, sel in PAGES:
        page = u.go(hash_)
        page.wait_for_selector(sel, timeout=SLOW_MS)
        assert page.evaluate("document.documentElement.lang") == html_lang
        if name not in ("model", "family", "estimate", "error"):  # h1 holds a model's name
            assert CJK.search(page.locator("h1").first.inner_text())
        texts = page.evaluate(VISIBLE_TEXT_JS)
        left = sorted({s for s in texts if any(p.fullmatch(s) for p in english)})
        assert not left, f"{name}: English UI strings in {lang}: {left}"
        written = untranslated(texts, "cli", lang)  # what the server wrote
        assert not written, f"{name}: English server text in {lang}: {written}"
        unfilled = sorted({s for s in texts if re.search(r"\{\w+\}", s)})
        assert not unfilled, f"{name}: unfilled placeholders: {unfilled}"
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"{name} overflows by {overflow}px at 390px in {lang}"
        u.shot(f"{html_lang}-{name}")
        if name == "error":  # the browser logs the 404 the page was asked to show
            u.errors = [e for e in u.errors if "404 (Not Found)" not in e]


def test_every_page_in_traditional_chinese(browser: Any, server: dict[str, Any]) -> None:
    u = UI(browser, server["base"], width=390, locale="zh-TW", csp=True)
    try:
        _walk_every_page(u, "zh_TW", "zh-Hant-TW")
        # the server's sentences arrived translated (not only absent): reasons, notes, errors
        page = u.go("#/fit")
        page.wait_for_selector("#fit-table tbody tr", timeout=SLOW_MS)
        assert "單一串流約" in page.locator("#fit-table").inner_text()
        page = u.go("#/model/llama-3.1-8b-instruct?device=rtx-4090&gpus=2")
        page.wait_for_selector("#est-total", timeout=SLOW_MS)
        assert "llama.cpp 把各層分到 2 張 GPU" in page.locator("main").inner_text()
        page = u.go("#/deploy/llama-3.1-8b-instruct?target=vllm&device=h100-sxm")
        page.wait_for_selector("#deploy-plan li", timeout=SLOW_MS)
        assert "張量平行" in page.locator("#deploy-plan").inner_text()
        assert "# 提供服務" in page.locator("#deploy-shell").inner_text()
        page = u.go("#/model/no-such-model")
        assert "找不到模型 'no-such-model'" in page.locator("p.error").inner_text()
        u.errors = [e for e in u.errors if "404 (Not Found)" not in e]
        # dates and numbers follow the locale (Intl): 2023年9月27日, not 2023-09-27
        page = u.go("#/model/mistral-7b-v0.1")
        page.wait_for_selector("#est-total")
        assert re.search(r"\d{4}年\d{1,2}月\d{1,2}日", page.locator("main").inner_text())
        u.assert_clean()
    finally:
        u.close()


def test_every_page_in_simplified_chinese(browser: Any, server: dict[str, Any]) -> None:
    u = UI(browser, server["base"], width=390, locale="zh-CN", csp=True)
    try:
        _walk_every_page(u, "zh_CN", "zh-Hans-CN")
        page = u.go("#/fit")  # the server's reasons arrive in Simplified Chinese
        page.wait_for_selector("#fit-table tbody tr", timeout=SLOW_MS)
        assert "单个流约" in page.locator("#fit-table").inner_text()
        u.assert_clean()
    finally:
        u.close()


def test_language_switcher_is_remembered(ui: UI) -> None:
    page = ui.go("#/model/mistral-7b-v0.1")
    page.wait_for_selector("#est-total")
    nav = page.locator("nav a[data-nav=catalog]")
    assert nav.inner_text() == "Catalog"
    switcher = page.locator("#lang-select")
    assert switcher.get_attribute("aria-label") == "Language"
    switcher.select_option("zh_TW")
    page.wait_for_function("document.documentElement.lang === 'zh-Hant-TW'")
    page.wait_for_selector("#est-total")  # the page is drawn again in the new language
    assert nav.inner_text() == "模型目錄"
    assert "記憶體與速度" in page.locator("main").inner_text()
    page.reload()  # remembered in localStorage, whatever the browser's Accept-Language
    page.wait_for_selector("#est-total")
    assert nav.inner_text() == "模型目錄"
    assert switcher.input_value() == "zh_TW"
    switcher.select_option("zh_CN")
    page.wait_for_function(
        "document.querySelector('nav a[data-nav=catalog]').textContent === '模型目录'"
    )
    switcher.select_option("en")
    page.wait_for_function(
        "document.querySelector('nav a[data-nav=catalog]').textContent === 'Catalog'"
    )
    assert page.evaluate("document.documentElement.lang") == "en"
    ui.assert_clean()


# -- a server with an API key --------------------------------------------------------------
def test_login_form_when_the_server_has_a_key(browser: Any, keyed_server: str) -> None:
    u = UI(browser, keyed_server)
    try:
        page = u.go("#/tree/llama-2-7b")
        dialog = page.locator("dialog#login")
        dialog.wait_for()  # the page's first API call got 401
        assert page.locator("#tree-box").count() == 0
        key = page.get_by_label("API key", exact=True)
        assert key.get_attribute("type") == "password"
        key.fill("not-the-key")
        page.get_by_role("button", name="Sign in").click()
        page.get_by_text("That is not this server's API key.").wait_for()
        assert dialog.is_visible()
        key.fill(API_KEY)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_selector("#tree-box a.node")  # the calls that met 401 were retried
        assert page.locator("dialog#login").count() == 0
        cookie = next(c for c in u.ctx.cookies() if c["name"] == "llmatlas_session")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        assert API_KEY not in cookie["value"]
        assert "llmatlas_session" not in page.evaluate("document.cookie")  # out of scripts' reach
        assert page.evaluate("JSON.stringify(localStorage)").find(API_KEY) == -1
        # signed in for the session: another page needs no form; signing out asks again
        page = u.go("#/compare?ids=mistral-7b-v0.1,llama-2-7b")
        page.wait_for_selector("#compare-table")
        assert page.locator("dialog#login").count() == 0
        page.get_by_role("button", name="Sign out").click()
        page.locator("dialog#login").wait_for()
        u.shot("login")
        # the browser logs each 401 it received; nothing else may go wrong
        u.errors = [e for e in u.errors if "status of 401" not in e]
        u.assert_clean()
    finally:
        u.close()
    # the form in Traditional Chinese too, every string of it translated
    u = UI(browser, keyed_server, locale="zh-TW", csp=True)
    try:
        page = u.go("#/bench")
        page.locator("dialog#login").wait_for()
        assert page.locator("#login-title").inner_text() == "此伺服器需要 API 金鑰"
        english = english_messages("ui")
        texts = page.evaluate(VISIBLE_TEXT_JS)
        assert not [s for s in texts if any(p.fullmatch(s) for p in english)]
        u.shot("zh-TW-login")
    finally:
        u.close()
