"""The shared test support (tests.support, tests/ci_helpers.py): the SSE decoder every stream test relies on,
the benchmark frame splitter, wait_for's contract, and when a missing tool skips or fails."""

from __future__ import annotations

import time

import pytest

from tests.ci_helpers import BROWSER_FLAGS, REDIS_FLAGS, import_or_missing, missing
from tests.support import SSEEvent, SSEFrames, WaitTimeout, iter_sse, wait_for
from tests.support.metrics import parse_metrics


def test_sse_lines_decode_into_events_comments_and_retry() -> None:
    lines = ["retry: 3000", "", ": ping", "id: 7", "event: complete", 'data: {"a": 1}', "",
             "data: line one", "data:line two", "", "id: 9", "", "event: ignored-without-data", ""]
    items = list(iter_sse(lines))
    assert items == ["retry:3000", ": ping", SSEEvent(7, "complete", {"a": 1}, '{"a": 1}'),
                     SSEEvent(None, "message", "line one\nline two", "line one\nline two")]


def test_sse_frames_wait_for_the_status_line_and_keep_partial_frames() -> None:
    frames = SSEFrames()
    assert frames.feed(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n") == b""
    assert frames.feed(b"\r\nid: 1\ndata: {}\n\nid: 2\nda") == b"id: 1\ndata: {}\n\n"
    assert frames.feed(b"ta: {}\n\n") == b"id: 2\ndata: {}\n\n"
    assert SSEFrames().feed(b"HTTP/1.1 404 Not Found\r\n\r\n") is None


def test_metrics_text_parses_to_samples() -> None:
    text = "# HELP x\n# TYPE x gauge\nlexintel_sse_connections 3.0\nreq_total{status=\"5xx\"} 2\nbroken line\n"
    assert parse_metrics(text) == {"lexintel_sse_connections": 3.0, 'req_total{status="5xx"}': 2.0}


def test_wait_for_returns_the_first_truthy_value() -> None:
    calls = iter([0, None, "", {"ok": True}])
    assert wait_for(lambda: next(calls), timeout=5, interval=0) == {"ok": True}


def test_wait_for_gives_up_at_the_deadline_naming_what_it_waited_for() -> None:
    started = time.monotonic()
    with pytest.raises(WaitTimeout) as info:
        wait_for(lambda: 0, timeout=0.05, what="the moon", interval=0.01)
    assert 0.05 <= time.monotonic() - started < 2
    assert "the moon" in str(info.value) and "last: 0" in str(info.value)
    assert isinstance(info.value, TimeoutError) and isinstance(info.value, AssertionError)


def test_a_missing_tool_skips_on_a_developer_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    for flag in {*REDIS_FLAGS, *BROWSER_FLAGS}:
        monkeypatch.delenv(flag, raising=False)
    with pytest.raises(pytest.skip.Exception, match="LEXINTEL_REQUIRE_BROWSER=1"):
        missing("chromium", "apt-get install -y chromium", BROWSER_FLAGS)
    monkeypatch.setenv("LEXINTEL_REQUIRE_REDIS", "0")  # explicitly off
    with pytest.raises(pytest.skip.Exception):
        import_or_missing("no_such_module_for_lexintel_tests", "pip install nothing", BROWSER_FLAGS)


@pytest.mark.parametrize(("flag", "flags"), [
    ("LEXINTEL_REQUIRE_REDIS", REDIS_FLAGS),
    ("LEXINTEL_REQUIRE_REDIS", BROWSER_FLAGS),  # the CI flag demands the browser too
    ("LEXINTEL_REQUIRE_BROWSER", BROWSER_FLAGS),
    ("CI", BROWSER_FLAGS),
])
def test_a_missing_tool_fails_when_a_flag_demands_it(monkeypatch: pytest.MonkeyPatch, flag: str,
                                                     flags: tuple[str, ...]) -> None:
    for name in {*REDIS_FLAGS, *BROWSER_FLAGS}:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(flag, "1" if flag != "CI" else "true")
    with pytest.raises(pytest.fail.Exception, match=flag):
        missing("the tool", "install it", flags)
    with pytest.raises(pytest.fail.Exception, match="no_such_module_for_lexintel_tests"):
        import_or_missing("no_such_module_for_lexintel_tests", "pip install nothing", flags)
