"""Metrics, structured logs, health and readiness, over HTTP against real apps and a real server."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from litestar.testing import TestClient
from prometheus_client.parser import text_string_to_metric_families

from lexintel.observability.logging import JSONFormatter, TextFormatter, log_event
from tests.support import ServerProcess, StreamFollower, corpus, wait_for
from tests.test_ingest import new_case, upload, wait_terminal

PAGE_TEXT = "Hello, here is some text"  # on page 1 of the 4-page corpus PDF: must never reach a log line


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a Prometheus exposition, keyed by (name, labels)."""
    out: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(text: str, name: str, **labels: str) -> float | None:
    return samples(text).get((name, frozenset(labels.items())))


class Captured(logging.Handler):
    """The lines our formatter writes, as a real handler on the root logger would receive them."""

    def __init__(self, formatter: logging.Formatter) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(formatter)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def json_logs() -> Iterator[Captured]:
    handler = Captured(JSONFormatter())
    logger = logging.getLogger("lexintel")
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(old_level)


def test_metrics_count_documents_pages_stages_events_and_requests(client: TestClient) -> None:  # type: ignore[type-arg]
    before = client.get("/metrics")
    assert before.status_code == 200
    assert before.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert value(before.text, "lexintel_documents", status="indexed") == 0

    case_id = new_case(client)
    pdf = corpus("pdflatex-4-pages")
    good = upload(client, case_id, (pdf.name, pdf.read_bytes()))["document_ids"][0]
    bad = upload(client, case_id, ("broken.pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog >> garbage"))["document_ids"][0]
    assert wait_terminal(client, good)["status"] == "indexed"
    assert wait_terminal(client, bad)["status"] == "failed"
    client.get("/no/such/route")

    text = client.get("/metrics").text
    assert value(text, "lexintel_documents", status="indexed") == 1
    assert value(text, "lexintel_documents", status="failed") == 1
    assert value(text, "lexintel_documents", status="pending") == 0
    assert value(text, "lexintel_documents", status="processing") == 0
    assert value(text, "lexintel_pages_extracted_total") == 4
    assert value(text, "lexintel_documents_finished_total", outcome="indexed") == 1
    assert value(text, "lexintel_documents_finished_total", outcome="failed") == 1
    for stage in ("extracting", "chunking", "indexing"):
        assert value(text, "lexintel_pipeline_stage_seconds_count", stage=stage) == 1, stage
        assert (value(text, "lexintel_pipeline_stage_seconds_sum", stage=stage) or 0) > 0, stage
    assert value(text, "lexintel_events_published_total", stage="queued") == 2
    assert value(text, "lexintel_events_published_total", stage="completed") == 1
    assert value(text, "lexintel_events_published_total", stage="failed") == 1
    assert (value(text, "lexintel_events_published_total", stage="extracting") or 0) >= 2
    assert (value(text, "lexintel_http_requests_total", method="POST", status="2xx") or 0) >= 3
    assert (value(text, "lexintel_http_requests_total", method="GET", status="4xx") or 0) >= 1  # unrouted 404
    assert value(text, "lexintel_sse_connections") == 0
    assert value(text, "lexintel_sse_dropped_lagging_total") == 0
    assert value(text, "lexintel_worker_restarts_total") == 0
    assert value(text, "lexintel_redis_mirror_enabled") == 0
    assert value(text, "lexintel_pipeline_alive") == 1
    assert value(text, "lexintel_accepting_uploads") == 1
    assert (value(text, "process_resident_memory_bytes") or 0) > 10_000_000


def test_each_app_has_its_own_registry(make_client: Callable[..., TestClient], tmp_path: Any) -> None:  # type: ignore[type-arg]
    first = make_client()
    second = make_client(data_dir=tmp_path / "other")
    new_case(first)
    first.post("/cases", json={})  # 4xx on the first app only
    a = value(first.get("/metrics").text, "lexintel_http_requests_total", method="POST", status="4xx")
    b = value(second.get("/metrics").text, "lexintel_http_requests_total", method="POST", status="4xx")
    assert a == 1 and b is None


def test_health_and_ready_report_their_checks(client: TestClient) -> None:  # type: ignore[type-arg]
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready")
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "ready"
    assert body["checks"] == {"database": True, "pipeline": True, "accepting_uploads": True, "disk_space": True,
                              "ocr": True}  # Tesseract with English is installed here
    assert body["ocr"] == {"mode": "auto", "languages": "eng", "problem": None}
    assert body["redis_mirror"] == {"state": "disabled"}
    assert body["data_dir_free_bytes"] > 0


def test_ready_is_503_when_the_data_dir_is_short_of_space(make_client: Callable[..., TestClient]) -> None:  # type: ignore[type-arg]
    client = make_client(min_free_mb=1_000_000_000)  # more than any disk has free
    ready = client.get("/ready")
    assert ready.status_code == 503
    assert ready.json()["checks"]["disk_space"] is False and ready.json()["checks"]["database"] is True
    free = value(client.get("/metrics").text, "lexintel_data_dir_free_bytes")
    assert free is not None and 0 < free < 1_000_000_000 * 1024 * 1024


def test_ready_is_503_once_shutdown_begins(client: TestClient) -> None:  # type: ignore[type-arg]
    from lexintel.observability.shutdown import begin_shutdown

    begin_shutdown(client.app.state.services)
    ready = client.get("/ready")
    assert ready.status_code == 503
    assert ready.json()["checks"]["accepting_uploads"] is False and ready.json()["detail"] == "shutting down"
    assert client.get("/health").status_code == 200  # still alive: do not restart it mid-drain
    assert value(client.get("/metrics").text, "lexintel_accepting_uploads") == 0


def test_logs_are_one_json_line_per_event_with_ids_and_no_document_text(
    client: TestClient, json_logs: Captured  # type: ignore[type-arg]
) -> None:
    case_id = new_case(client)
    pdf = corpus("pdflatex-4-pages")
    good = upload(client, case_id, (pdf.name, pdf.read_bytes()))["document_ids"][0]
    bad = upload(client, case_id, ("broken.pdf", b"%PDF-1.4\ngarbage"))["document_ids"][0]
    wait_terminal(client, good)
    wait_terminal(client, bad)
    assert PAGE_TEXT in client.get(f"/documents/{good}/text").text  # the text exists, and was served...

    records = [json.loads(line) for line in json_logs.lines]  # ...every line parses as one JSON object
    assert all("\n" not in line for line in json_logs.lines)
    assert not [line for line in json_logs.lines if PAGE_TEXT in line]  # ...but never logged

    requests = [r for r in records if r.get("event") == "request"]
    assert {"method": "POST", "path": f"/cases/{case_id}/documents", "status": 202} in [
        {k: r[k] for k in ("method", "path", "status")} for r in requests
    ]
    assert all(isinstance(r["ms"], float | int) for r in requests)
    steps = [(r["document_id"], r["stage"]) for r in records if r.get("event") == "pipeline.step"]
    for stage in ("queued", "extracting", "chunking", "indexing", "completed"):
        assert (good, stage) in steps, stage
    assert len([s for s in steps if s == (good, "extracting")]) == 1  # stage changes, not every page
    failures = [r for r in records if r.get("event") == "pipeline.failed"]
    assert [(r["document_id"], r["level"]) for r in failures] == [(bad, "WARNING")]
    assert failures[0]["code"] and failures[0]["detail"]


def test_text_format_keeps_each_event_on_one_line() -> None:
    handler = Captured(TextFormatter())
    logger = logging.getLogger("lexintel.test_text_format")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        log_event(logger, "pipeline.failed", logging.WARNING, document_id="d1", detail='bad "xref"\nat 12', ms=1.23456)
    finally:
        logger.removeHandler(handler)
    [line] = handler.lines
    assert "\n" not in line
    assert ' WARNING lexintel.test_text_format pipeline.failed document_id=d1 detail="bad \\"xref\\"\\nat 12"' in line
    assert line.endswith(" ms=1.235")


def test_server_json_logs_stream_lifecycle_and_delivery_latency(
    server_factory: Callable[..., ServerProcess],
) -> None:
    server = server_factory(LEXINTEL_LOG_JSON="1", LEXINTEL_LOG_LEVEL="DEBUG")
    url = server.url
    case_id = httpx.post(f"{url}/cases", json={"name": "metrics"}, timeout=10).json()["id"]
    stream = StreamFollower(f"{url}/cases/{case_id}/stream").start()
    events = stream.events
    wait_for(lambda: value(httpx.get(f"{url}/metrics", timeout=10).text, "lexintel_sse_connections") == 1,
             timeout=20, what="one open SSE connection")

    pdf = corpus("pdflatex-4-pages")
    resp = httpx.post(f"{url}/cases/{case_id}/documents", files={"files": (pdf.name, pdf.read_bytes())}, timeout=30)
    document_id = resp.json()["document_ids"][0]

    def completed() -> bool:
        return any(isinstance(e.data, dict) and e.data.get("stage") == "completed" for e in events)

    wait_for(completed, timeout=60, what="the completed event on the case stream")
    stream.stop()
    text = httpx.get(f"{url}/metrics", timeout=10).text
    delivered = value(text, "lexintel_event_delivery_latency_seconds_count") or 0
    assert delivered >= len(events) >= 5  # every live frame was timed
    assert (value(text, "lexintel_event_delivery_latency_seconds_bucket", le="5.0") or 0) == delivered

    # a finished document's stream replays and closes: reason "terminal"
    replay = httpx.get(f"{url}/progress/documents/{document_id}/stream?events=named", timeout=10)
    assert replay.status_code == 200 and "event: complete" in replay.text
    stream.join(10)  # the case stream ends once the reader gives up: reason "client_disconnected"
    wait_for(lambda: value(httpx.get(f"{url}/metrics", timeout=10).text, "lexintel_sse_connections") == 0,
             timeout=20, what="SSE connections back to 0")
    text = httpx.get(f"{url}/metrics", timeout=10).text
    assert value(text, "lexintel_sse_streams_closed_total", reason="terminal") == 1
    assert value(text, "lexintel_sse_streams_closed_total", reason="client_disconnected") == 1
    assert server.stop() == 0

    lines = [line for line in server.log().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines if line.startswith("{")]
    non_json = [line for line in lines if not line.startswith("{")]
    assert all(line.startswith("LexIntel serving on") for line in non_json), non_json  # the banner only
    assert not [line for line in lines if PAGE_TEXT in line]
    by_event: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        by_event.setdefault(str(r.get("event")), []).append(r)
    closes = {(r["stream"], r["reason"]) for r in by_event["stream.close"]}
    assert (f"case:{case_id}", "client_disconnected") in closes
    assert (f"document:{document_id}", "terminal") in closes
    assert {r["stream"] for r in by_event["stream.open"]} >= {f"case:{case_id}", f"document:{document_id}"}
    assert any(r["path"] == "/cases" and r["status"] == 201 for r in by_event["request"])
    assert any(r["document_id"] == document_id and r["stage"] == "completed" for r in by_event["pipeline.step"])
    assert by_event["shutdown.begin"][0]["level"] == "INFO"
    uvicorn_lines = [r for r in records if r["logger"].startswith("uvicorn")]
    assert uvicorn_lines and all("msg" in r for r in uvicorn_lines)  # uvicorn's own lines go through us too
