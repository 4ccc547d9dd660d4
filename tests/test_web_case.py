"""The page for a real case (issue 17), in Debian's chromium through Playwright against real server subprocesses:
a 1,000-document case (search and upload in the first viewport; paging, sorting, filtering, bulk retry), delete
updating every open tab live, the viewer (page image, highlighted hit, page navigation, download), a chunked
upload through the page surviving dropped connections and then flagged as a duplicate, and keyboard-only use
with accounts on (login, upload, search, viewer, sort, bulk delete, logout), the log after a reload, dark mode.
Screenshots go to test-artifacts/. Timings are not asserted here: scripts/bench_page.py measures them."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from lexintel.settings import Settings
from tests.auth_helpers import PASSWORD, add_account
from tests.ci_helpers import BROWSER_FLAGS, import_or_missing
from tests.support import ServerProcess, wait_for
from tests.support.pdfs import make_pdf, text_page
from tests.support.webcase import make_case

import_or_missing("playwright.sync_api", "pip install playwright", BROWSER_FLAGS)  # fail or skip before the import
from playwright.sync_api import Browser, ConsoleMessage, Page, Route, expect  # noqa: E402

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
ENV = {"LEXINTEL_EXTRACTION_WORKERS": "2", "LEXINTEL_PING_INTERVAL": "1", "LEXINTEL_PROGRESS_INTERVAL": "0",
       "LEXINTEL_AUTH": "off", "LEXINTEL_SHUTDOWN_GRACE": "0"}


def shot(page: Page, name: str, full: bool = False) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full)


@pytest.fixture
def new_page(browser: Browser) -> Iterator[Callable[..., Page]]:
    """Pages in their own contexts (separate tabs/users); any console error or uncaught exception fails."""
    contexts: list[Any] = []
    problems: list[str] = []

    def make(width: int = 1280, height: int = 900, **options: Any) -> Page:
        context = browser.new_context(viewport={"width": width, "height": height}, accept_downloads=True, **options)
        context.set_default_timeout(30_000)
        contexts.append(context)
        page = context.new_page()

        def on_console(msg: ConsoleMessage) -> None:
            if msg.type == "error" and "Failed to load resource" not in msg.text:
                problems.append(msg.text)  # e.g. a Content-Security-Policy violation

        page.on("console", on_console)
        page.on("pageerror", lambda exc: problems.append(f"uncaught: {exc}"))
        return page

    yield make
    for context in contexts:
        context.close()
    assert not problems, problems


@pytest.fixture(scope="module")
def big_case(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, str]]:
    server = ServerProcess(tmp_path_factory.mktemp("big") / "data", env=ENV).start()
    try:
        yield server, make_case(server.url, "Thousand v Documents", 1000, failed=10)
    finally:
        server.stop()


def rows(page: Page) -> Any:
    return page.locator("#doc-rows tr.doc")


def row(page: Page, filename: str) -> Any:
    return page.locator("#doc-rows tr.doc", has=page.locator(".name", has_text=filename))


def in_first_viewport(page: Page, selector: str, *, below_header: bool = False) -> bool:
    box = page.locator(selector).bounding_box()
    header = page.locator("header.top").bounding_box()
    top = header["y"] + header["height"] if header and below_header else 0
    return box is not None and box["y"] >= top - 1 and box["y"] + box["height"] <= 900


def test_a_thousand_documents_page_sort_filter_and_bulk(big_case: tuple[ServerProcess, str],
                                                          new_page: Callable[..., Page]) -> None:
    server, case_id = big_case
    page = new_page()
    page.goto(f"{server.url}/#case={case_id}")
    expect(page.locator("#pager-text")).to_have_text("1\u201350 of 1,000")
    expect(rows(page)).to_have_count(50)
    expect(page.locator("#docs-count")).to_have_text("1,000 documents: 990 ready, 10 failed")
    assert in_first_viewport(page, "#search-input") and in_first_viewport(page, "#upload-button")
    assert page.evaluate("document.documentElement.scrollHeight") < 8000  # not 48,000 px: one page of rows
    shot(page, "web-1000-first-viewport")

    pager = page.get_by_role("navigation", name="Pages of documents")
    pager.get_by_role("button", name="Next", exact=True).click()
    expect(page.locator("#pager-text")).to_have_text("51\u2013100 of 1,000")
    pager.get_by_role("button", name="Last", exact=True).click()
    expect(page.locator("#pager-text")).to_have_text("951\u20131,000 of 1,000")
    pager.get_by_role("button", name="First", exact=True).click()
    expect(page.locator("#pager-text")).to_have_text("1\u201350 of 1,000")

    page.locator("#doc-table th[data-sort=filename] button").click()
    expect(page.locator("#doc-table th[data-sort=filename]")).to_have_attribute("aria-sort", "ascending")
    expect(rows(page).first.locator(".name")).to_have_text("empty-000.txt")
    page.locator("#doc-table th[data-sort=filename] button").click()
    expect(rows(page).first.locator(".name")).to_have_text("memo-0989.txt")

    page.get_by_label("Name", exact=True).fill("memo-01")
    expect(page.locator("#pager-text")).to_have_text("1\u201350 of 100")
    page.get_by_role("button", name="Clear filters").click()
    expect(page.locator("#pager-text")).to_have_text("1\u201350 of 1,000")

    page.get_by_label("Status").select_option(label="Failed")
    expect(page.locator("#pager-text")).to_have_text("1\u201310 of 10")
    expect(rows(page).first.locator(".doc-error")).to_contain_text("is empty")
    expect(page.get_by_role("button", name=re.compile("^Try .* again$"))).to_have_count(0)
    page.get_by_label("Select every document on this page").check()
    expect(page.locator("#bulk-count")).to_have_text("10 documents selected")
    page.locator("#bulk-retry").click()
    expect(page.locator("#bulk-message")).to_have_text("10 documents cannot be helped by trying again.")
    page.locator("#bulk-clear").click()
    page.get_by_label("Status").select_option(label="Ready")
    page.get_by_label("Pages at least").fill("1")
    expect(page.locator("#pager-text")).to_have_text("1\u201350 of 990")
    page.get_by_role("button", name="Clear filters").click()

    page.get_by_label("Per page").select_option("200")
    expect(rows(page)).to_have_count(200)
    page.mouse.wheel(0, 20_000)
    expect(page.locator("#pager-text")).to_have_text("1\u2013200 of 1,000")
    shot(page, "web-1000-scrolled")

    # search is a header away, and pages through "More results"
    page.get_by_label("Words to find").fill("clause")
    page.get_by_label("Words to find").press("Enter")
    expect(page.locator("#hits li")).to_have_count(20)
    expect(page.locator("#results-heading")).to_be_focused()
    assert in_first_viewport(page, "#results-heading", below_header=True)  # brought into view, under the header
    if page.locator("#more-hits").is_visible():  # the total depends on the search backend merged in
        page.locator("#more-hits").click()
        expect(page.locator("#hits li")).to_have_count(40)
        expect(page.locator("#hits li a").nth(20)).to_be_focused()


def test_delete_updates_every_open_tab(server_factory: Callable[..., ServerProcess],
                                       new_page: Callable[..., Page]) -> None:
    server = server_factory()
    case_id = make_case(server.url, "Two tabs", 4)
    tabs = [new_page(), new_page()]
    for tab in tabs:
        tab.goto(f"{server.url}/#case={case_id}")
        expect(rows(tab)).to_have_count(4)
        expect(tab.locator("#connection")).to_have_attribute("data-state", "live")
    docs = httpx.get(f"{server.url}/cases/{case_id}/documents").json()
    by_name = {d["filename"]: d["id"] for d in docs}
    assert httpx.delete(f"{server.url}/documents/{by_name['memo-0000.txt']}").status_code == 204  # through the API
    for tab in tabs:
        expect(row(tab, "memo-0000.txt")).to_have_count(0)
        expect(tab.locator("#pager-text")).to_have_text("1\u20133 of 3")
        expect(tab.locator("#activity li").last).to_contain_text("Deleted memo-0000.txt")

    first = tabs[0]
    row(first, "memo-0001.txt").locator(".pick").check()
    row(first, "memo-0002.txt").locator(".pick").check()
    first.get_by_role("button", name="Delete…").click()
    expect(first.locator("#bulk-confirm-text")).to_contain_text("Delete 2 documents (memo-0001.txt, memo-0002.txt)")
    first.locator("#bulk-confirm-yes").click()
    expect(first.locator("#bulk-message")).to_have_text("Deleted 2 documents.")
    for tab in tabs:
        expect(rows(tab)).to_have_count(1)
        expect(tab.locator("#pager-text")).to_have_text("1\u20131 of 1")
    shot(tabs[1], "web-second-tab-after-delete")


def test_viewer_page_image_highlighted_hit_and_download(server_factory: Callable[..., ServerProcess],
                                                        new_page: Callable[..., Page], tmp_path: Path) -> None:
    server = server_factory()
    pdf = tmp_path / "deposition.pdf"
    pdf.write_bytes(make_pdf([text_page("Page one: the witness was sworn in."),
                              text_page("Page two: the aardvarkian contract was signed", "on the second day."),
                              text_page("Page three: adjourned.")]))
    case_id = httpx.post(f"{server.url}/cases", json={"name": "Viewer"}).json()["id"]
    page = new_page()
    page.goto(f"{server.url}/#case={case_id}")
    # files chosen before the case has opened would go nowhere (a person cannot: the upload box is still hidden)
    expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    page.locator("#file-input").set_input_files(str(pdf))
    expect(row(page, "deposition.pdf")).to_have_attribute("data-status", "indexed", timeout=60_000)
    expect(page.locator("#notice")).to_have_text("deposition.pdf is ready.")
    expect(page).to_have_title(re.compile("^✓ deposition.pdf is ready"))

    page.get_by_label("Words to find").fill("aardvarkian")
    page.get_by_label("Words to find").press("Enter")
    hit = page.locator("#hits li").first
    expect(hit.get_by_role("link")).to_have_text("deposition.pdf, page 2")
    hit.get_by_role("link").click()
    expect(page.locator("#page-input")).to_have_value("2")
    expect(page.locator("#page-count")).to_have_text("of 3")
    expect(page.locator("#page-text mark")).to_have_text("aardvarkian")
    page.wait_for_function("() => { const i = document.getElementById('page-image');"
                           " return i.complete && i.naturalWidth >= 800; }")
    expect(page.locator("#page-caption")).to_have_text("Page 2 as printed")
    shot(page, "web-viewer-hit")

    page.get_by_role("button", name="Next page").click()
    expect(page.locator("#page-input")).to_have_value("3")
    expect(page.locator("#page-text")).to_contain_text("adjourned")
    page.get_by_label("Page", exact=True).fill("1")
    page.get_by_label("Page", exact=True).press("Enter")
    expect(page.locator("#page-text")).to_contain_text("witness was sworn")
    assert "page=1" in page.url  # bookmarkable
    page.get_by_label("Page", exact=True).fill("9")
    page.get_by_label("Page", exact=True).press("Enter")
    expect(page.locator("#viewer-message")).to_have_text("Choose a page from 1 to 3.")

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download the original deposition.pdf").click()
    download = download_info.value
    assert download.suggested_filename == "deposition.pdf"
    assert Path(download.path()).read_bytes() == pdf.read_bytes()


def test_large_upload_goes_chunked_through_dropped_connections(server_factory: Callable[..., ServerProcess],
                                                               new_page: Callable[..., Page],
                                                               tmp_path: Path) -> None:
    server = server_factory(LEXINTEL_MAX_REQUEST_BYTES=str(1024 * 1024),
                            LEXINTEL_UPLOAD_MAX_CHUNK_BYTES=str(256 * 1024))
    big = tmp_path / "transcript.txt"
    line = "The witness answered the question about the lease and the indemnity clause.\n"
    big.write_text(line * (3 * 1024 * 1024 // len(line)))  # about 3 MB: twelve 256 KiB parts
    case_id = httpx.post(f"{server.url}/cases", json={"name": "Big upload"}).json()["id"]
    page = new_page()
    dropped: list[str] = []

    def drop_once(route: Route) -> None:
        index = route.request.url.rsplit("/", 1)[1]
        if index in ("3", "7") and index not in dropped:
            dropped.append(index)
            route.abort("connectionreset")  # the connection drops mid-upload
        else:
            route.continue_()

    page.route(re.compile(r"/uploads/[^/]+/chunks/\d+$"), drop_once)
    page.goto(f"{server.url}/#case={case_id}")
    expect(page.locator("#limits")).to_contain_text("Up to 1.0 MB per request")
    expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    page.locator("#file-input").set_input_files(str(big))
    transfer = page.locator("#transfers li").first
    expect(transfer).to_have_attribute("data-upload-id", re.compile(".+"))
    expect(row(page, "transcript.txt")).to_have_attribute("data-status", "indexed", timeout=120_000)
    assert sorted(dropped) == ["3", "7"]
    assert int(transfer.get_attribute("data-dropped") or 0) == 2
    upload = httpx.get(f"{server.url}/uploads/{transfer.get_attribute('data-upload-id')}").json()
    assert upload["status"] == "completed" and upload["chunk_count"] == 12
    doc = httpx.get(f"{server.url}/cases/{case_id}/documents").json()[0]
    assert doc["size_bytes"] == big.stat().st_size
    expect(page.locator("#batches li").first).to_have_attribute("data-status", "completed")
    expect(page.locator("#notice")).to_have_text("transcript.txt finished: 1 document (1 ready)")
    expect(page).to_have_title(re.compile("^✓ transcript.txt finished"))
    shot(page, "web-chunked-upload")

    # the same bytes again: flagged, linked to the document, not processed again unless asked
    page.locator("#file-input").set_input_files(str(big))
    dupe = page.locator("#transfers .duplicate").first
    expect(dupe).to_contain_text("transcript.txt is already in this case", timeout=60_000)  # sent again in parts
    expect(dupe.get_by_role("link", name="Open transcript.txt")).to_have_attribute(
        "href", re.compile(doc["id"]))
    assert len(httpx.get(f"{server.url}/cases/{case_id}/documents").json()) == 1
    small = tmp_path / "note.txt"
    small.write_text("a short note")
    page.locator("#file-input").set_input_files(str(small))
    expect(row(page, "note.txt")).to_have_attribute("data-status", "indexed", timeout=60_000)
    page.locator("#file-input").set_input_files(str(small))
    expect(page.locator("#transfers .duplicate").first).to_contain_text("note.txt is already in this case",
                                                                       timeout=30_000)
    page.locator("#transfers .duplicate").first.get_by_role("button", name="Process it anyway").click()
    wait_for(lambda: len(httpx.get(f"{server.url}/cases/{case_id}/documents").json()) == 3, 60, "the copy")


def test_keyboard_only_with_accounts_log_after_reload_and_dark_mode(tmp_path: Path,
                                                                    new_page: Callable[..., Page]) -> None:
    data = tmp_path / "data"
    add_account(Settings(data_dir=data, auth="on"), "alice", "member")
    server = ServerProcess(data, env={**ENV, "LEXINTEL_AUTH": "on"}).start()
    try:
        page = new_page()
        page.goto(server.url + "/")
        expect(page.locator("#who")).to_be_hidden()  # no "Log out" while logged out
        expect(page.locator("#connection")).to_have_text("Not logged in")
        expect(page.get_by_label("User name")).to_be_focused()
        page.keyboard.type("alice")
        page.keyboard.press("Tab")
        page.keyboard.type(PASSWORD)
        page.keyboard.press("Enter")
        expect(page.locator("#who")).to_be_visible()
        expect(page.locator("#who-name")).to_have_text("alice")
        expect(page.locator("#connection")).not_to_have_text("Not logged in")

        # the case panel appears once the case list has loaded: focusing it before then types into nothing
        expect(page.get_by_label("Create a case")).to_be_visible()
        page.get_by_label("Create a case").focus()
        page.keyboard.type("Keyboard matter")
        page.keyboard.press("Enter")
        expect(page.locator("#connection")).to_have_attribute("data-state", "live")
        files = []
        for i, word in enumerate(("walrus", "otter", "heron")):
            f = tmp_path / f"note-{i}.txt"
            f.write_text(f"A note about the {word} clause.")
            files.append(str(f))
        page.get_by_role("button", name="Upload files").focus()
        expect(page.get_by_role("button", name="Upload files")).to_be_focused()
        with page.expect_file_chooser() as chooser:
            page.keyboard.press("Enter")
        chooser.value.set_files(files)
        for i in range(3):
            expect(row(page, f"note-{i}.txt")).to_have_attribute("data-status", "indexed", timeout=60_000)
        expect(page.locator("#notice")).to_have_text("Upload of 3 files finished: 3 documents (3 ready)")

        page.locator("#docs-heading").focus()
        page.keyboard.press("/")
        expect(page.get_by_label("Words to find")).to_be_focused()
        page.keyboard.type("otter")
        page.keyboard.press("Enter")
        expect(page.locator("#results-heading")).to_be_focused()
        page.keyboard.press("Tab")  # Close results
        page.keyboard.press("Tab")  # the first hit
        expect(page.locator("#hits a").first).to_be_focused()
        page.keyboard.press("Enter")
        expect(page.locator("#viewer-heading")).to_be_focused()
        expect(page.locator("#page-text mark")).to_have_text("otter")
        page.get_by_role("button", name="Back to documents").focus()
        page.keyboard.press("Enter")
        expect(page.locator("#docs-heading")).to_be_focused()

        page.locator("#doc-table th[data-sort=filename] button").focus()
        page.keyboard.press("Enter")
        expect(page.locator("#doc-table th[data-sort=filename]")).to_have_attribute("aria-sort", "ascending")
        expect(rows(page).first.locator(".name")).to_have_text("note-0.txt")
        row(page, "note-0.txt").locator(".pick").focus()
        page.keyboard.press("Space")
        page.get_by_role("button", name="Delete…").focus()
        page.keyboard.press("Enter")
        expect(page.get_by_role("button", name="Cancel")).to_be_focused()
        page.keyboard.press("Shift+Tab")  # to "Delete"
        page.keyboard.press("Enter")
        expect(rows(page)).to_have_count(2)

        page.reload()
        expect(page.locator("#activity li").first).to_be_visible()  # the log survives a reload
        expect(page.locator("#activity li").last).to_contain_text("Deleted note-0.txt")
        stamp = page.locator("#activity li time").first.text_content() or ""
        assert re.search(r"[A-Z][a-z]{2}", stamp), stamp  # a date, not only a time

        page.emulate_media(color_scheme="dark")
        background = page.evaluate("getComputedStyle(document.documentElement).backgroundColor")
        assert background == "rgb(13, 17, 23)", background
        shot(page, "web-dark")
        page.emulate_media(color_scheme="light")

        page.get_by_role("button", name="Log out").focus()
        page.keyboard.press("Enter")
        expect(page.locator("#login")).to_be_visible()
        expect(page.locator("#who")).to_be_hidden()
        expect(page.locator("#connection")).to_have_text("Not logged in")
    finally:
        server.stop()
