"""The original design's browser code, unchanged, in a real Chromium against a real LexIntel process.

Each file of ``../shared/seed-clients/`` is read from there at test time (never copied into the repository) and
put into a page the test serves on the server's own origin (Playwright answers that one URL; every other
request, the snippets' EventSource and fetch calls included, goes to the real server). The page defines only
what a snippet leaves undefined: React's ``useState``/``useEffect``, ``updateProgressBar``/``updateMessage``,
``analytics``, ``startTime``, ``API_URL``/``batchId``/``token``; it wraps ``EventSource`` only to record the
instances and their ``close()`` calls. The transforms are explicit and small (:func:`load_snippet`): TypeScript
type annotations stripped by a few regexes, ``export`` dropped (classic script), the 003 excerpt's unfinished
function closed, the 000 document's two excerpts each put in its own block (both declare ``const es``), and its
placeholder id ``doc-id`` replaced by the real document's id.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from tests.ci_helpers import BROWSER_FLAGS, import_or_missing
from tests.support import RedisServer, ServerProcess, corpus, read_stream, wait_for

import_or_missing("playwright.sync_api", "pip install playwright", BROWSER_FLAGS)  # fail or skip before the import
from playwright.sync_api import Browser, ConsoleMessage, Page, Route  # noqa: E402

_ROOT = Path(__file__).resolve().parents[1]
_CANDIDATES = [_ROOT.parent / "shared" / "seed-clients", _ROOT.parents[1] / "shared" / "seed-clients"]  # main, worktree
SEED = Path(os.environ.get("LEXINTEL_SEED_CLIENTS") or next((p for p in _CANDIDATES if p.is_dir()), _CANDIDATES[0]))

PRELUDE = """
window.__seed = {bars: [], messages: [], analytics: [], states: [], sources: []};
const NativeEventSource = window.EventSource;
window.EventSource = class extends NativeEventSource {
  constructor(url, options) { super(url, options); this.closedByClient = false; window.__seed.sources.push(this); }
  close() { this.closedByClient = true; super.close(); }
};
function updateProgressBar(value) { window.__seed.bars.push(value); }
function updateMessage(text) { window.__seed.messages.push(text); }
const analytics = { track: (name, props) => window.__seed.analytics.push([name, props]) };
const startTime = Date.now();
let __slots = 0;
function useState(initial) {
  const slot = __slots++;
  let value = initial;
  const set = (next) => {
    value = typeof next === 'function' ? next(value) : next;
    window.__seed.states.push([slot, value]);
  };
  return [initial, set];
}
function useEffect(effect) { effect(); }
"""


def strip_types(source: str) -> str:
    """The TypeScript in the seed files: one interface, ``export``, parameter and generic annotations."""
    source = re.sub(r"^interface \w+ \{.*?^\}\n", "", source, flags=re.S | re.M)
    source = re.sub(r"^export ", "", source, flags=re.M)
    source = re.sub(r"useState<[^>]+>", "useState", source)
    return re.sub(r"\((\w+): string(?: \| null)?\)", r"(\1)", source)


def load_snippet(name: str, document_id: str | None = None) -> str:
    source = (SEED / name).read_text()
    if name.endswith(".ts"):
        source = strip_types(source)
    if name == "003-useDocumentProgress.js":
        source = re.sub(r"^export ", "", source, flags=re.M) + "\n}\n"  # the excerpt ends mid-function
    if name == "000-browser.js":
        assert document_id is not None
        head, sep, tail = source.partition("// In frontend")
        assert sep, "000: the two excerpts are no longer where they were"
        source = "{\n" + head + "\n}\n{\n" + sep + tail + "\n}\n"
        source = source.replace("'/progress/documents/doc-id/stream'", f"'/progress/documents/{document_id}/stream'")
    return source


class Harness:
    """One page on the server's origin running a seed snippet; console lines recorded."""

    def __init__(self, browser: Browser, server: ServerProcess) -> None:
        self.context = browser.new_context()
        self.context.set_default_timeout(30_000)
        self.page: Page = self.context.new_page()
        self.server = server
        self.console: list[tuple[str, str]] = []
        self.errors: list[str] = []
        self.page.on("console", self._on_console)
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))

    def _on_console(self, msg: ConsoleMessage) -> None:
        self.console.append((msg.type, msg.text))

    def run(self, script: str) -> None:
        html = f"<!doctype html><html><body><script>{PRELUDE}\n{script}\n</script></body></html>"
        url = self.server.url + "/__seed_harness.html"

        def serve(route: Route) -> None:
            route.fulfill(status=200, content_type="text/html", body=html)

        self.page.route(url, serve)
        self.page.goto(url)

    def seed(self) -> dict[str, Any]:
        value: dict[str, Any] = self.page.evaluate(
            "() => ({...window.__seed, sources: window.__seed.sources.map("
            "s => ({url: s.url, readyState: s.readyState, closedByClient: s.closedByClient}))})")
        return value

    def wait(self, predicate: str, timeout: float = 60_000) -> None:
        self.page.wait_for_function(predicate, timeout=timeout)

    def logs(self, kind: str = "log") -> list[str]:
        return [text for t, text in self.console if t == kind]


@pytest.fixture
def harness(browser: Browser) -> Iterator[Callable[[ServerProcess], Harness]]:
    made: list[Harness] = []

    def make(server: ServerProcess) -> Harness:
        h = Harness(browser, server)
        made.append(h)
        return h

    yield make
    for h in made:
        h.context.close()
    for h in made:
        assert not h.errors, h.errors  # no uncaught exception in any snippet


def upload_one(server: ServerProcess, name: str) -> str:
    case = httpx.post(server.url + "/cases", json={"name": "Seed v Browser"}, timeout=30).json()["id"]
    pdf = corpus(name)
    resp = httpx.post(f"{server.url}/cases/{case}/documents", files=[("files", (pdf.name, pdf.read_bytes()))],
                      timeout=60)
    assert resp.status_code == 202, resp.text
    return str(resp.json()["document_ids"][0])


def server_events(server: ServerProcess, document_id: str) -> list[dict[str, Any]]:
    """The document's whole stream, as the server logged it (the snippet must have seen exactly these)."""
    events = read_stream(f"{server.url}/progress/documents/{document_id}/stream", timeout=120)
    assert events and all(e.event == "message" for e in events)  # unnamed: onmessage gets them
    data = [e.data for e in events if isinstance(e.data, dict)]
    assert data[-1]["status"] == "completed" and data[-1]["progress"] == 100
    return data


def test_000_browser_side_and_monitoring(server: ServerProcess, harness: Callable[[ServerProcess], Harness]) -> None:
    doc = upload_one(server, "pdflatex-4-pages")
    h = harness(server)
    h.run(load_snippet("000-browser.js", doc))
    expected = server_events(server, doc)
    # both EventSources end CLOSED: after the terminal event the reconnect gets 204 (no endless loop)
    h.wait("() => window.__seed.sources.length === 2 && window.__seed.sources.every(s => s.readyState === 2)")
    seen = h.seed()
    assert seen["bars"] == [e["progress"] for e in expected]  # every step, in order, once
    assert seen["messages"] == [e["message"] for e in expected]
    completed = [a for a in seen["analytics"] if a[0] == "progress_completed"]
    assert len(completed) == 1 and completed[0][1]["duration"] >= 0
    errors = [a for a in seen["analytics"] if a[0] == "progress_stream_error"]
    assert 1 <= len(errors) <= 2  # the close after the end, and the 204 that stops reconnecting


def test_001_console_test_for_a_document_the_server_does_not_know_yet(
    server_factory: Callable[..., ServerProcess], redis_server: RedisServer,
    harness: Callable[[ServerProcess], Harness]
) -> None:
    server = server_factory(LEXINTEL_REDIS_URL=redis_server.url)
    wait_for(lambda: httpx.get(server.url + "/ready").json()["redis_mirror"]["state"] == "connected", timeout=30,
             what="mirror connected")
    h = harness(server)
    h.run(load_snippet("001-browser-console-test.js"))
    h.wait("() => window.__seed.sources.length === 1 && window.__seed.sources[0].readyState === 1")  # connected
    r = redis.Redis.from_url(redis_server.url, decode_responses=True)
    for progress in (10, 25, 50, 75, 100):  # the guide's publisher
        r.publish("document:test-doc:progress", json.dumps({
            "document_id": "test-doc", "status": "processing", "step": "test", "progress": progress,
            "message": f"Test {progress}%", "timestamp": "2026-01-03T10:30:45.123456"}))
    r.close()
    h.wait("() => window.__seed.sources[0].readyState === 2")
    assert h.logs() == [f"Progress: {p}%" for p in (10, 25, 50, 75, 100)]


def hook_states(h: Harness) -> list[Any]:
    return [value for slot, value in h.seed()["states"] if slot == 0]


def test_001_react_hook_typescript(server: ServerProcess, harness: Callable[[ServerProcess], Harness]) -> None:
    doc = upload_one(server, "pdflatex-outline")
    h = harness(server)
    h.run(load_snippet("001-useDocumentProgress.ts") + f"\nuseDocumentProgress({json.dumps(doc)});\n")
    h.wait("() => window.__seed.sources.length === 1 && window.__seed.sources[0].closedByClient")
    expected = server_events(server, doc)
    states = hook_states(h)
    assert [s["progress"] for s in states] == [e["progress"] for e in expected]
    assert [s["step"] for s in states] == [e["step"] for e in expected]
    assert all(s["document_id"] == doc and s["timestamp"] for s in states)
    assert states[-1]["status"] == "completed"
    assert all(v is None for slot, v in h.seed()["states"] if slot == 1)  # no error, no polling


def test_003_react_hook_and_its_polling_endpoint(server: ServerProcess,
                                                 harness: Callable[[ServerProcess], Harness]) -> None:
    doc = upload_one(server, "minimal-document")
    h = harness(server)
    h.run(load_snippet("003-useDocumentProgress.js") + f"\nuseDocumentProgress({json.dumps(doc)});\n")
    h.wait("() => window.__seed.sources.length === 1 && window.__seed.sources[0].closedByClient")
    expected = server_events(server, doc)
    states = hook_states(h)
    assert [s["progress"] for s in states] == [e["progress"] for e in expected]
    assert states[-1]["status"] == "completed"
    # the fallback's endpoint, as the hook calls it (same origin, no headers)
    polled = h.page.evaluate(f"() => fetch('/api/documents/{doc}/status').then(r => r.json())")
    assert polled["processing_status"] == "indexed" == polled["status"]
    original = h.page.evaluate(f"() => fetch('/progress/documents/{doc}/status').then(r => r.json())")
    assert original["status"] == "indexed" and original["error_message"] is None


def test_004_batch_stream_client(server: ServerProcess, harness: Callable[[ServerProcess], Harness]) -> None:
    case = httpx.post(server.url + "/cases", json={"name": "Seed v Batch"}, timeout=30).json()["id"]
    files = [("files", (p.name, p.read_bytes())) for p in (corpus("minimal-document"), corpus("pdflatex-4-pages"),
                                                            corpus("libre-office-writer"))]
    resp = httpx.post(f"{server.url}/cases/{case}/documents", files=files, timeout=60)
    assert resp.status_code == 202, resp.text
    batch_id = resp.json()["batch_id"]
    h = harness(server)
    stubs = f"const API_URL = ''; const batchId = {json.dumps(batch_id)}; const token = 'unused';\n"
    h.run(stubs + load_snippet("004-batch-stream.ts"))
    h.wait("() => window.__seed.sources.length === 1 && window.__seed.sources[0].closedByClient")
    events = read_stream(f"{server.url}/api/batches/{batch_id}/stream", timeout=120)
    own = [e.data for e in events if e.event == "progress" and isinstance(e.data, dict)]
    assert own and all(d["document_id"] is None for d in own)
    assert any(e.event == "document" for e in events)  # the documents' own events, under their own name
    lines = [line for line in h.logs() if line.startswith("[")]
    assert lines == [f"[{d['stage']}] {d['message']} - {fmt(d['progress_percentage'])}%" for d in own]
    assert [line for line in h.logs() if line.startswith("Batch completed!")] and not h.logs("error")


def fmt(number: float) -> str:
    """How JavaScript prints a number in a template literal."""
    return str(int(number)) if float(number).is_integer() else repr(float(number))
