"""A tab whose case stream is served by another instance follows a rename and a deletion made on the case's own
instance, in Debian's chromium through Playwright: two real ``lexintel serve`` processes sharing one real Redis.

Each instance has its own database, so the page is loaded from instance A, the case's; a small reverse proxy (the
load balancer of a real deployment) sends the page's case stream to instance B and every other request to A. The
rename and the deletion are made on A; the tab hears both through B's stream (the Redis mirror), so its title
follows and it says once that the case was deleted.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.ci_helpers import BROWSER_FLAGS, import_or_missing
from tests.support import RedisServer, ServerProcess, wait_for
from tests.test_redis_mirror import mirror_state, open_when_known, pair

import_or_missing("playwright.sync_api", "pip install playwright", BROWSER_FLAGS)  # fail or skip before the import
from playwright.sync_api import Browser, ConsoleMessage, Page, expect  # noqa: E402

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
STREAM = re.compile(r"^/cases/[^/?]+/stream")
HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "upgrade"}


class Balancer(ThreadingHTTPServer):
    """Forwards each request to ``pick(path)``'s base URL, streaming the answer back (chunked) as it comes."""

    daemon_threads = True

    def __init__(self, pick: Callable[[str], str]) -> None:
        super().__init__(("127.0.0.1", 0), _Forward)
        self.pick = pick
        self.sent: list[tuple[str, str]] = []  # (upstream, path) of every request

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Forward(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Balancer

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the servers log the requests themselves."""

    def _forward(self) -> None:
        upstream = self.server.pick(self.path)
        self.server.sent.append((upstream, self.path))
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
        try:
            with httpx.stream(self.command, upstream + self.path, headers=headers, content=body,
                              timeout=httpx.Timeout(30, read=None)) as resp:
                self.send_response(resp.status_code)
                for key, value in resp.headers.multi_items():
                    if key.lower() not in HOP:
                        self.send_header(key, value)
                if resp.status_code in (204, 304):  # no body at all
                    self.end_headers()
                    return
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for chunk in resp.iter_raw():
                    self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                    self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
        except (OSError, httpx.HTTPError):
            self.close_connection = True  # the browser or the upstream went away: drop this connection

    do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _forward


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    context.set_default_timeout(30_000)
    problems: list[str] = []

    def on_console(msg: ConsoleMessage) -> None:
        if msg.type == "error" and "Failed to load resource" not in msg.text:
            problems.append(msg.text)

    made = context.new_page()
    made.on("console", on_console)
    made.on("pageerror", lambda exc: problems.append(f"uncaught: {exc}"))
    yield made
    context.close()
    assert not problems, problems


def test_a_tab_streaming_from_b_follows_a_rename_and_a_delete_made_on_a(
        server_factory: Callable[..., ServerProcess], redis_server: RedisServer, page: Page) -> None:
    a, b = pair(server_factory, redis_server.url)
    case_id = str(httpx.post(f"{a.url}/cases", json={"name": "Balanced matter"}, timeout=30).json()["id"])
    doc = httpx.post(f"{a.url}/cases/{case_id}/documents", timeout=60,
                     files=[("files", ("memo.txt", b"A memo about the lease.\n" * 20, "text/plain"))]).json()
    doc_id = doc["document_ids"][0]
    wait_for(lambda: httpx.get(f"{a.url}/documents/{doc_id}", timeout=10).json()["status"] == "indexed",
             timeout=60, what="the memo indexed on A")
    open_when_known(f"{b.url}/cases/{case_id}/stream")  # B has A's case events (through Redis)

    balancer = Balancer(lambda path: b.url if STREAM.match(path) else a.url)
    threading.Thread(target=balancer.serve_forever, daemon=True).start()
    try:
        page.goto(f"{balancer.url}/#case={case_id}")
        expect(page.locator("#case-title")).to_have_text("Balanced matter")
        expect(page.locator("#connection")).to_have_attribute("data-state", "live")
        assert (b.url, f"/cases/{case_id}/stream") in [(u, p.split("?")[0]) for u, p in balancer.sent]
        page.evaluate("window.__notReloaded = true")

        assert httpx.patch(f"{a.url}/cases/{case_id}", json={"name": "Balanced matter, renamed"},
                           timeout=30).status_code == 200
        expect(page.locator("#case-title")).to_have_text("Balanced matter, renamed")  # from B's stream
        expect(page).to_have_title(re.compile("^Balanced matter, renamed"))
        expect(page.locator(f"#case-select option[value='{case_id}']")).to_have_text("Balanced matter, renamed")

        assert httpx.delete(f"{a.url}/cases/{case_id}", timeout=60).status_code == 204
        expect(page.locator("#notice")).to_have_text("The case “Balanced matter, renamed” was deleted.")
        expect(page.locator("#workspace")).to_be_hidden()
        expect(page.locator(f"#case-select option[value='{case_id}']")).to_have_count(0)
        assert page.get_by_text(re.compile("was deleted")).count() == 1
        assert page.evaluate("window.__notReloaded === true")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "web-mirror-deleted.png"))
        assert mirror_state(b) == "connected"
    finally:
        balancer.shutdown()
        balancer.server_close()
