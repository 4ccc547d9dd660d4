"""The web page in a real browser: Debian's chromium driven by Playwright, against a real server subprocess.

One scenario walks what a user does: create a case with the keyboard, upload real PDFs and a bad file, watch
the bars reach 100%, read the failed file's reason, search and open the hit's page, then see the live stream
cut by a server restart and the page recover with no event shown twice and none skipped.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.ci_helpers import BROWSER_FLAGS, import_or_missing
from tests.support import ServerProcess, corpus

import_or_missing("playwright.sync_api", "pip install playwright", BROWSER_FLAGS)  # fail or skip before the import
from playwright.sync_api import Browser, ConsoleMessage, Page, expect  # noqa: E402

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    context.set_default_timeout(30_000)
    page = context.new_page()
    problems: list[str] = []

    def on_console(msg: ConsoleMessage) -> None:
        if msg.type == "error" and "Failed to load resource" not in msg.text:
            problems.append(msg.text)  # e.g. a Content-Security-Policy violation

    page.on("console", on_console)
    page.on("pageerror", lambda exc: problems.append(f"uncaught: {exc}"))
    yield page
    context.close()
    assert not problems, problems


def event_ids(page: Page) -> list[int]:
    """Every event id the activity log stands for (a grouped line lists several), in order."""
    ids: list[str] = page.locator("#activity li").evaluate_all("els => els.map(e => e.dataset.eventIds)")
    return sorted(int(i) for line in ids for i in line.split())


def doc_item(page: Page, filename: str) -> Any:
    return page.locator("#doc-rows tr.doc", has=page.locator(".name", has_text=filename))


def test_upload_progress_failure_search_and_recovery_after_restart(server: ServerProcess, page: Page,
                                                                   tmp_path: Path) -> None:
    resp = httpx.get(server.url + "/")
    assert resp.headers["content-security-policy"].startswith("default-src 'self'")
    assert "unsafe-inline" not in resp.headers["content-security-policy"]
    assert resp.headers["x-content-type-options"] == "nosniff" and resp.headers["referrer-policy"] == "no-referrer"

    page.goto(server.url + "/")
    # keyboard only: type a name into the labelled field and press Enter
    # the case panel appears once the case list has loaded: focusing it before then types into nothing
    expect(page.get_by_label("Create a case")).to_be_visible()
    page.get_by_label("Create a case").focus()
    page.keyboard.type("Smith v Jones")
    page.keyboard.press("Enter")
    expect(page.locator("#case-title")).to_have_text("Smith v Jones")
    expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    expect(page.locator("#who")).to_be_hidden()  # accounts off: no "Log out"

    bad = tmp_path / "scanned-contract.pdf"
    bad.write_bytes(os.urandom(5000))
    good = [corpus("pdflatex-4-pages"), corpus("multicolumn")]
    page.locator("#file-input").set_input_files([*map(str, good), str(bad)])

    for pdf in good:
        item = doc_item(page, pdf.name)
        expect(item).to_have_attribute("data-status", "indexed", timeout=90_000)
        expect(item.locator(".badge")).to_have_text("Ready")
        expect(item.get_by_role("progressbar")).to_be_hidden()  # a finished row shows its outcome, not a bar
    failed = doc_item(page, bad.name)
    expect(failed).to_have_attribute("data-status", "failed")
    expect(failed.locator(".doc-error")).to_contain_text("is not a PDF")
    expect(failed.locator(".badge")).to_have_text("Failed")  # once, not "Failed · Failed · 0%"
    expect(failed.get_by_role("button", name="Try again")).to_have_count(0)  # it cannot help a refused file
    expect(doc_item(page, good[0].name).locator(".detail")).to_have_text(re.compile(r"^4 pages, \d+ passages?$"))
    expect(doc_item(page, good[0].name).locator(".col-num")).to_have_text("4")

    # search, then follow the hit to its page in the viewer
    page.get_by_label("Words to find").fill("population")
    page.get_by_label("Words to find").press("Enter")
    hit = page.locator("#hits li").first
    expect(hit.get_by_role("link")).to_have_text(f"{good[1].name}, page 3")
    expect(hit.locator("mark").first).to_have_text("Population", ignore_case=True)
    hit.get_by_role("link").click()
    expect(page.locator("#viewer-heading")).to_be_focused()
    expect(page.locator("#page-input")).to_have_value("3")
    expect(page.locator("#page-text mark").first).to_have_text("Population", ignore_case=True)
    page.get_by_role("button", name="Back to documents").click()

    # a long document, then cut the stream by restarting the server (same port, same data dir)
    long_pdf = corpus("GeoTopo-komprimiert")
    page.locator("#file-input").set_input_files(str(long_pdf))
    long_item = doc_item(page, long_pdf.name)
    expect(long_item).to_have_attribute("data-status", "processing", timeout=60_000)
    server.stop()
    expect(page.locator("#connection")).to_have_attribute("data-state", "down")
    expect(page.locator("#connection")).to_contain_text("Connection lost")
    server.start()
    expect(page.locator("#connection")).to_have_attribute("data-state", "live", timeout=60_000)
    expect(long_item).to_have_attribute("data-status", "indexed", timeout=180_000)

    # nothing shown twice, nothing skipped: the log's ids are consecutive up to the case's newest event
    case_id = httpx.get(server.url + "/cases").json()[0]["id"]
    last = httpx.get(f"{server.url}/cases/{case_id}").json()["last_event_id"]
    expect(page.locator("#activity li").last).to_have_attribute("data-event-id", str(last))
    ids = event_ids(page)
    assert len(ids) >= 10 and len(ids) == len(set(ids)), "an event was shown twice"  # count varies with speed
    assert ids == list(range(ids[0], ids[-1] + 1)), "an event was skipped"
    assert page.locator("#doc-rows tr.doc").count() == 4

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web-after-restart.png"), full_page=True)
    # readable on a phone: nothing wider than the screen
    page.set_viewport_size({"width": 390, "height": 844})
    page.evaluate("window.scrollTo(0, 0)")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(ARTIFACTS / "web-phone.png"), full_page=False)


def test_static_files_are_named_and_inline_free(client: Any) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    # a strict CSP only works if nothing is inline: every script has a src, no <style>, no style= or on*= attributes
    assert "<script>" not in html and "<style" not in html and " style=" not in html
    assert not any(f" on{event}=" in html for event in ("click", "load", "submit", "change", "error"))
    for module in ("app.js", "api.js", "stream.js", "table.js", "log.js", "batches.js", "upload.js", "viewer.js",
                   "search.js"):
        js = client.get(f"/static/{module}")
        assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript"), module
        assert js.headers["content-security-policy"] == page.headers["content-security-policy"]
        assert js.headers["x-content-type-options"] == "nosniff"
        # the DOM is built from text, never from markup strings
        assert ".innerHTML" not in js.text and "insertAdjacentHTML" not in js.text, module
    assert client.get("/static/app.css").headers["content-type"].startswith("text/css")
    for name in ("index.py", "..%2Fapi%2Fweb.py", "app.js.map"):
        assert client.get(f"/static/{name}").status_code == 404
