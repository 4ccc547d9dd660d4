"""The socket-level HTTP edge (lexintel/api/http_edge.py) on a real ``lexintel serve``, issue 13 items 1, 3, 12.

Raw sockets play the hostile clients: a slow-header (slowloris) client and a slow-body client are cut off
with a 408 within a bounded time, an endless header is cut off with a 431, a flood of half-open sockets
evicts itself while a normal request is still answered, and ``X-Forwarded-For`` is believed only from a
configured proxy (so a local client cannot rotate it past the login limiter).
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from typing import Any

import httpx

from tests.helpers import ServerProcess, wait_for

ServerFactory = Callable[..., ServerProcess]


def connect(server: ServerProcess) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    s.settimeout(0.2)
    return s


def read_answer(s: socket.socket, deadline: float, drip: bytes = b"") -> tuple[bytes, float]:
    """Read until the server closes (sending ``drip`` between reads, as a slow client would), or the deadline.
    Returns what arrived and when the connection ended (inf when it never did)."""
    data = b""
    while time.monotonic() < deadline:
        if drip:
            try:
                s.sendall(drip)
            except OSError:
                return data, time.monotonic()
        try:
            chunk = s.recv(65536)
        except TimeoutError:
            continue
        except OSError:
            return data, time.monotonic()
        if not chunk:
            return data, time.monotonic()
        data += chunk
    return data, float("inf")


def parse(answer: bytes) -> tuple[int, dict[str, Any]]:
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 "), answer[:200]
    return int(head.split()[1]), json.loads(body)


def test_slow_header_client_is_cut_off_within_the_header_timeout(server_factory: ServerFactory) -> None:
    server = server_factory(LEXINTEL_HEADER_TIMEOUT="1.5")
    s = connect(server)
    started = time.monotonic()
    s.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    answer, ended = read_answer(s, started + 15, drip=b"X")  # one more header byte every 0.2 s, forever
    assert ended - started < 8, "the slow-header connection was never closed"
    status, body = parse(answer)
    assert (status, body["code"]) == (408, "header_timeout") and body["status_code"] == 408
    assert httpx.get(f"{server.url}/health", timeout=5).status_code == 200


def test_slow_body_is_cut_off_and_a_steady_slow_body_is_not(server_factory: ServerFactory) -> None:
    server = server_factory(LEXINTEL_BODY_TIMEOUT="1", LEXINTEL_BODY_MIN_RATE="100")
    s = connect(server)
    started = time.monotonic()
    s.sendall(b"POST /cases HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
              b"Content-Length: 1000\r\n\r\n{\"name\": ")  # ... and nothing more
    answer, ended = read_answer(s, started + 15)
    assert ended - started < 8, "the stalled body was never cut off"
    status, body = parse(answer)
    assert (status, body["code"]) == (408, "body_timeout")

    payload = json.dumps({"name": "steady", "description": "x" * 2400}).encode()
    s = connect(server)
    s.sendall(b"POST /cases HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
              b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(payload))
    for offset in range(0, len(payload), 200):  # ~800 bytes/s for 3 s: slow, but well above the minimum
        s.sendall(payload[offset:offset + 200])
        time.sleep(0.25)
    answer, _ended = read_answer(s, time.monotonic() + 15)
    status, created = parse(answer)
    assert status == 201 and created["name"] == "steady", answer[:300]


def test_endless_header_is_cut_off_with_431(server_factory: ServerFactory) -> None:
    server = server_factory()
    s = connect(server)
    s.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: ")
    sent = 0
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and sent < 16 * 1024 * 1024:  # the security test sent 4 MB
        try:
            s.sendall(b"a" * 65536)
            sent += 65536
        except OSError:
            break
    answer, ended = read_answer(s, time.monotonic() + 10)
    assert ended != float("inf")
    status, body = parse(answer)
    assert (status, body["code"]) == (431, "headers_too_large")
    assert sent < 16 * 1024 * 1024, "the server kept reading (only kernel buffers may absorb a few MB)"


def test_half_open_socket_flood_evicts_the_oldest_and_others_are_served(server_factory: ServerFactory) -> None:
    server = server_factory(LEXINTEL_MAX_PENDING_CONNECTIONS="20", LEXINTEL_HEADER_TIMEOUT="60")
    flood = []
    for wave in range(3):  # each wave evicts the one before: its sockets have waited past the minimum age
        if wave:
            time.sleep(1.3)
        for _ in range(20):
            s = connect(server)
            s.sendall(b"GET /cases HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            flood.append(s)
    assert httpx.get(f"{server.url}/health", timeout=5).status_code == 200

    closed: dict[int, bytes] = {}

    def evicted() -> int:
        for index, s in enumerate(flood):
            if index in closed:
                continue
            try:
                chunk = s.recv(4096)
            except TimeoutError:
                continue
            closed[index] = chunk
        return len(closed) if len(closed) >= 40 else 0

    try:
        wait_for(evicted, timeout=20, what="40 of the 60 half-open sockets closed")
        assert all(parse(answer)[1]["code"] == "too_many_pending" for answer in closed.values() if answer)
        assert sorted(closed) == list(range(40)), "the oldest sockets go first; the newest wave stays"
    finally:
        for s in flood:
            s.close()


def test_a_flood_faster_than_the_eviction_age_is_still_cut_down_to_the_cap(server_factory: ServerFactory) -> None:
    server = server_factory(LEXINTEL_MAX_PENDING_CONNECTIONS="20", LEXINTEL_HEADER_TIMEOUT="60")
    flood = [connect(server) for _ in range(60)]  # all within well under a second, then nothing new
    for s in flood:
        s.sendall(b"GET /cases HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    closed: set[int] = set()

    def cut_to_cap() -> bool:
        for index, s in enumerate(flood):
            if index not in closed:
                try:
                    s.recv(4096)
                    closed.add(index)
                except TimeoutError:
                    pass
        return len(closed) >= 40

    try:
        wait_for(cut_to_cap, timeout=20, what="the flood cut down to 20 pending sockets by the sweep")
        assert len(closed) == 40 and httpx.get(f"{server.url}/health", timeout=5).status_code == 200
    finally:
        for s in flood:
            s.close()


def test_a_burst_of_real_clients_beyond_the_cap_is_all_served(server_factory: ServerFactory) -> None:
    server = server_factory(LEXINTEL_MAX_PENDING_CONNECTIONS="5")
    burst = [connect(server) for _ in range(60)]  # accepted together, before the server has read any of them
    for s in burst:
        s.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    answers = [read_answer(s, time.monotonic() + 20)[0] for s in burst]
    assert [parse(a)[0] for a in answers] == [200] * 60


def test_forwarded_for_is_ignored_unless_the_proxy_is_configured(server_factory: ServerFactory) -> None:
    def attempts(server: ServerProcess) -> list[int]:
        codes = []
        for n in range(7):  # 5 failures per (name, address) are allowed a minute
            resp = httpx.post(f"{server.url}/auth/login", json={"username": "alice", "password": "guess"},
                              headers={"X-Forwarded-For": f"203.0.113.{n}"}, timeout=10)
            codes.append(resp.status_code)
        return codes

    direct = server_factory(LEXINTEL_AUTH="on")
    assert attempts(direct)[-2:] == [429, 429], "a rotating X-Forwarded-For must not reset the limiter"
    proxied = server_factory(LEXINTEL_AUTH="on", LEXINTEL_TRUSTED_PROXIES="127.0.0.1")
    assert attempts(proxied) == [401] * 7, "behind a configured proxy, each forwarded address counts alone"


def test_a_flood_from_one_address_evicts_its_own_and_not_a_slow_client_elsewhere(
        server_factory: ServerFactory) -> None:
    """Issue 13 item 3, per client address: with the global cap alone, the flood's second wave would make the
    slow honest client (the oldest pending socket) the one evicted."""
    server = server_factory(LEXINTEL_MAX_PENDING_CONNECTIONS="30", LEXINTEL_MAX_PENDING_PER_ADDRESS="10",
                            LEXINTEL_HEADER_TIMEOUT="60")
    honest = socket.create_connection(("127.0.0.1", server.port), timeout=10, source_address=("127.0.0.3", 0))
    honest.settimeout(0.2)
    honest.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # a slow line: the rest comes later
    flood: list[socket.socket] = []
    try:
        for _wave in range(3):
            time.sleep(1.3)
            for _ in range(20):
                s = socket.create_connection(("127.0.0.1", server.port), timeout=10, source_address=("127.0.0.2", 0))
                s.settimeout(0.2)
                s.sendall(b"GET /cases HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                flood.append(s)
        honest.sendall(b"Connection: close\r\n\r\n")
        answer, _ended = read_answer(honest, time.monotonic() + 15)
        assert parse(answer)[0] == 200, answer[:200]

        def own_evicted() -> bool:  # the flood's first two waves: closed by their own address's cap
            gone = 0
            for s in flood[:40]:
                try:
                    gone += s.recv(4096) is not None
                except TimeoutError:
                    pass
                except OSError:
                    gone += 1
            return gone >= 40

        wait_for(own_evicted, timeout=20, what="the flood's older sockets closed")
    finally:
        honest.close()
        for s in flood:
            s.close()
