"""Flood cases of the fault suite (issue 13 items 3, 4, 5, 12, 13), registered in scripts/faults.py's ``CASES``.

Each starts a real ``lexintel serve`` with accounts on and two members, lets one member (or anyone who can
reach Redis) flood it, and measures what the *other* member sees meanwhile:

  streams-flood    alice opens 1,200 case streams (server at 1,024 open files); bob's GET /cases latency, bob's
                   own stream, server fds/RSS
  upload-flood     alice opens chunked sessions for 3 s (1 GiB declared each) and parks 8 MiB chunks in them for
                   5 s; bob's GET /cases latency and bob's own chunked upload meanwhile
  pipeline-flood   alice uploads four slow PDFs (1 worker, 6 s document limit); how long bob's 19-byte text
                   file waits to be indexed
  login-spray      guesses at alice's password from rotating addresses (through a trusted proxy): how many
                   reach the password check; can alice still log in from her usual address
  forged-mirror    two instances on one Redis with ``LEXINTEL_REDIS_SECRET``: forged events published for an
                   indexed document (instance-shaped unsigned, wrong signature, outside-worker ``error``)

    python -m scripts.faults --only streams-flood --only upload-flood --only pipeline-flood
"""

from __future__ import annotations

import json
import resource
import socket
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import redis

from lexintel.settings import Settings
from scripts._faultkit import RedisServer, Server, Tally, log_events
from scripts._faultresult import Result, finish
from scripts.faults_hostile import FD_LIMIT, Prober
from tests.auth_helpers import PASSWORD, Account, add_account
from tests.support import read_stream, wait_for
from tests.support.pdfs import slow_pdf

MiB = 1024 * 1024
SECRET = "fault-suite-shared-secret-0123456789"


def _members(work: Path, name: str, env: dict[str, str]) -> tuple[Server, Account, Account]:
    server = Server(work, name, {"LEXINTEL_AUTH": "on", **env})
    settings = Settings(data_dir=server.data_dir)
    alice, bob = add_account(settings, "alice"), add_account(settings, "bob")
    return server.start(), alice, bob


def _case(server: Server, who: Account, tally: Tally, name: str = "flood") -> str:
    resp = tally.seen(httpx.post(f"{server.url}/cases", json={"name": name}, headers=who.headers, timeout=30))
    resp.raise_for_status()
    return str(resp.json()["id"])


def _fds(server: Server) -> int:
    return len(list(Path(f"/proc/{server.pid}/fd").iterdir()))


def _rss_mb(server: Server) -> float:
    for line in Path(f"/proc/{server.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def case_streams_flood(work: Path, fast: bool, streams: int = 1200) -> Result:
    """One member opens ``streams`` case streams over raw sockets and holds the ones the server accepts."""
    streams = 300 if fast else streams
    r, tally = Result(f"one member opens {streams} streams"), Tally()
    server, alice, bob = _members(work, "streams", {})
    resource.prlimit(server.pid, resource.RLIMIT_NOFILE, (FD_LIMIT, FD_LIMIT))  # a common default ulimit -n
    held: list[socket.socket] = []
    try:
        case = _case(server, alice, tally)
        bobs = _case(server, bob, tally, "bob")
        fds0, rss0 = _fds(server), _rss_mb(server)
        prober = Prober(f"{server.url}/cases", interval=0.1, timeout=10.0, headers=bob.headers)
        prober.start()
        prober.wait_first()
        request = (f"GET /cases/{case}/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {alice.token}"
                   "\r\n\r\n").encode()
        answers: dict[str, int] = {}
        started = time.monotonic()
        for _ in range(streams):
            try:
                s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
                s.sendall(request)
                head = s.recv(64).split(b" ", 2)
            except OSError as exc:
                answers[type(exc).__name__] = answers.get(type(exc).__name__, 0) + 1
                continue
            status = head[1].decode() if len(head) > 1 else "closed"
            answers[status] = answers.get(status, 0) + 1
            if status == "200":
                held.append(s)
            else:
                s.close()
        opened = time.monotonic() - started
        time.sleep(3)  # hold them while bob keeps working
        fds1, rss1 = _fds(server), _rss_mb(server)
        try:
            with httpx.stream("GET", f"{server.url}/cases/{bobs}/stream", headers=bob.headers, timeout=10) as own:
                bob_stream: int | str = own.status_code
        except httpx.HTTPError as exc:
            bob_stream = type(exc).__name__
        prober.stop()
        r.notes.append(f"alice's {streams} stream requests in {opened:.1f} s (server at {FD_LIMIT} open files): "
                       f"{answers}; server +{fds1 - fds0} fds, "
                       f"+{rss1 - rss0:.0f} MB RSS while held")
        r.notes.append(f"bob meanwhile: GET /cases {prober.summary()}; bob's own case stream answered {bob_stream}")
        r.check(bob_stream == 200 and not prober.failures, "bob was refused or failed during the flood")
        r.check(len(held) <= 64, f"one member holds {len(held)} streams (cap 64)")
        finish(r, [server], tally)
    finally:
        for s in held:
            s.close()
        server.stop()
    return r


def case_upload_flood(work: Path, fast: bool) -> Result:
    """One member opens chunked sessions as fast as it can, then parks chunks in them; bob uploads meanwhile."""
    r, tally = Result("one member floods chunked upload sessions"), Tally()
    server, alice, bob = _members(work, "uploads", {})
    chunk = 8 * MiB
    try:
        case = _case(server, alice, tally)
        bobs = _case(server, bob, tally, "bob")
        prober = Prober(f"{server.url}/cases", interval=0.1, timeout=10.0, headers=bob.headers)
        prober.start()
        prober.wait_first()
        sessions: list[str] = []
        refused: dict[str, int] = {}
        with httpx.Client(base_url=server.url, headers=alice.headers, timeout=30) as http:
            end = time.monotonic() + 3.0
            while time.monotonic() < end:
                resp = tally.seen(http.post(f"/cases/{case}/uploads", json={
                    "filename": "huge.bin", "total_size": 1024 * MiB, "chunk_size": chunk}))
                if resp.status_code == 201:
                    sessions.append(resp.json()["upload_id"])
                else:
                    code = f"{resp.status_code} {resp.json().get('code')}"
                    refused[code] = refused.get(code, 0) + 1
            body = b"\0" * chunk
            parked, end = 0, time.monotonic() + 5.0
            index = 0
            while sessions and time.monotonic() < end:
                upload_id = sessions[index % len(sessions)]
                resp = tally.seen(http.put(f"/uploads/{upload_id}/chunks/{index // len(sessions)}", content=body,
                                           headers={"Content-Type": "application/octet-stream"}))
                parked += chunk if resp.status_code in (200, 201) else 0
                index += 1
        bob_ms, bob_result = _chunked_upload(server, bob, bobs, tally)
        prober.stop()
        r.notes.append(f"alice: {len(sessions)} sessions accepted in 3 s, refused {refused or 'none'}; then "
                       f"{parked / MiB:.0f} MiB parked in 5 s")
        r.notes.append(f"bob meanwhile: GET /cases {prober.summary()}; bob's own 1 MiB chunked upload: {bob_result} "
                       f"in {bob_ms:.0f} ms")
        r.check(bob_result == 202 and not prober.failures, "bob was refused or failed during the flood")
        r.check(len(sessions) <= 20, f"{len(sessions)} open sessions for one member (cap 20)")
        finish(r, [server], tally)
    finally:
        server.stop()
    return r


def _chunked_upload(server: Server, who: Account, case: str, tally: Tally) -> tuple[float, int]:
    data = b"bob's small file\n" * (MiB // 17)
    started = time.monotonic()
    with httpx.Client(base_url=server.url, headers=who.headers, timeout=60) as http:
        made = tally.seen(http.post(f"/cases/{case}/uploads", json={"filename": "bob.txt", "total_size": len(data)}))
        if made.status_code != 201:
            return (time.monotonic() - started) * 1000, made.status_code
        upload_id = made.json()["upload_id"]
        tally.seen(http.put(f"/uploads/{upload_id}/chunks/0", content=data,
                            headers={"Content-Type": "application/octet-stream"}))
        done = tally.seen(http.post(f"/uploads/{upload_id}/complete"))
    return (time.monotonic() - started) * 1000, done.status_code


def case_pipeline_flood(work: Path, fast: bool) -> Result:
    """Four slow PDFs of one member, then another member's tiny text file: how long it waits."""
    limit = 6
    r, tally = Result("one member's slow PDFs vs another's text file"), Tally()
    server, alice, bob = _members(work, "pipeline", {"LEXINTEL_EXTRACTION_WORKERS": "1",
                                                     "LEXINTEL_PIPELINE_CONCURRENCY": "1",
                                                     "LEXINTEL_DOCUMENT_TIMEOUT": str(limit)})
    try:
        case, bobs = _case(server, alice, tally), _case(server, bob, tally, "bob")
        pdf = slow_pdf()
        for n in range(4):
            tally.seen(httpx.post(f"{server.url}/cases/{case}/documents", headers=alice.headers, timeout=60,
                                  files=[("files", (f"slow-{n}.pdf", pdf))])).raise_for_status()
        started = time.monotonic()
        up = tally.seen(httpx.post(f"{server.url}/cases/{bobs}/documents", headers=bob.headers, timeout=60,
                                   files=[("files", ("note.txt", b"nineteen bytes here"))]))
        doc = up.json()["document_ids"][0]

        def indexed() -> bool:
            got = httpx.get(f"{server.url}/documents/{doc}", headers=bob.headers, timeout=30).json()
            return bool(got["status"] == "indexed")

        wait_for(indexed, timeout=5 * limit + 60, what="bob's text file indexed", interval=0.2)
        waited = time.monotonic() - started
        r.notes.append(f"bob's 19-byte file indexed {waited:.1f} s after upload, behind alice's four slow PDFs "
                       f"({limit} s document limit each, 1 worker)")
        r.check(waited < 3 * limit, f"bob waited {waited:.0f} s: behind more than one of alice's PDFs")
        finish(r, [server], tally)
    finally:
        server.stop()
    return r


def case_login_spray(work: Path, fast: bool) -> Result:
    """Guessing one account's password from rotating addresses (at least 30 guesses, as fast as the server answers),
    then made-up names from alice's own address."""
    r, tally = Result("password guessing from rotating addresses"), Tally()
    server, _alice, _bob = _members(work, "login", {"LEXINTEL_TRUSTED_PROXIES": "127.0.0.1"})
    url = f"{server.url}/auth/login"
    try:
        with httpx.Client(timeout=30) as http:
            ok = http.post(url, json={"username": "alice", "password": PASSWORD},
                           headers={"X-Forwarded-For": "10.9.9.9"}).status_code  # her usual address
            codes: dict[int, int] = {}
            end, n = time.monotonic() + 30, 0
            while n < 30 or (time.monotonic() < end and n < 200):  # argon2 is slow on a busy machine
                n += 1
                resp = tally.seen(http.post(url, json={"username": "alice", "password": f"guess {n}"},
                                            headers={"X-Forwarded-For": f"203.0.{n // 250}.{n % 250}"}))
                codes[resp.status_code] = codes.get(resp.status_code, 0) + 1
            for i in range(40):  # made-up names from her own address
                tally.seen(http.post(url, json={"username": f"nobody{i}", "password": "x" * 9},
                                     headers={"X-Forwarded-For": "10.9.9.9"}))
            after = http.post(url, json={"username": "alice", "password": PASSWORD},
                              headers={"X-Forwarded-For": "10.9.9.9"}).status_code
        checked = codes.get(401, 0)
        r.notes.append(f"{n} guesses at alice's password (30 s, at least 30) from {n} addresses: {checked} reached "
                       f"the password check (401), {codes.get(429, 0)} refused (429); alice's first login {ok}; "
                       f"after 40 made-up names from her address she logs in: {after}")
        r.check(checked <= 16, f"{checked} guesses reached the password check")
        r.check(ok == 200 and after == 200, "alice was locked out")
        finish(r, [server], tally)
    finally:
        server.stop()
    return r


def case_forged_mirror(work: Path, fast: bool) -> Result:
    """Forged events for an indexed document, published by anyone who can reach Redis."""
    r, tally = Result("forged Redis mirror events"), Tally()
    red = RedisServer(work / "redis").start()
    env = {"LEXINTEL_REDIS_URL": red.url, "LEXINTEL_REDIS_SECRET": SECRET, "LEXINTEL_UNKNOWN_STREAM_WAIT": "0"}
    a = Server(work, "mirror-a", {**env, "LEXINTEL_INSTANCE_ID": "a"}).start()
    b = Server(work, "mirror-b", {**env, "LEXINTEL_INSTANCE_ID": "b"}).start()
    try:
        for s in (a, b):
            wait_for(lambda s=s: httpx.get(s.url + "/ready", timeout=10).json()["redis_mirror"]["state"]  # type: ignore[misc]
                     == "connected", timeout=30, what="mirror connected")
        case = tally.seen(httpx.post(f"{a.url}/cases", json={"name": "mirror"}, timeout=30)).json()["id"]
        up = tally.seen(httpx.post(f"{a.url}/cases/{case}/documents", timeout=30,
                                   files=[("files", ("memo.txt", b"an indexed memo"))]))
        doc = up.json()["document_ids"][0]
        wait_for(lambda: httpx.get(f"{a.url}/documents/{doc}", timeout=10).json()["status"] == "indexed",
                 timeout=60, what="indexed")
        path = f"/progress/documents/{doc}/stream?events=named"
        wait_for(lambda: httpx.get(b.url + path, timeout=10).status_code == 200, timeout=30, what="B knows it")
        last = len(read_stream(a.url + path))
        before = {s.url: len(log_events(s.data_dir, f"document:{doc}")) for s in (a, b)}
        client = redis.Redis.from_url(red.url)
        forged = {"id": last + 1, "document_id": doc, "status": "failed", "stage": "failed", "progress": 100,
                  "message": "forged", "instance_id": "z", "ids": {f"document:{doc}": last + 1}, "terminal": True}
        client.publish(f"document:{doc}:progress", json.dumps(forged))
        client.publish(f"document:{doc}:progress", json.dumps({**forged, "sig": "0" * 64}, separators=(",", ":")))
        client.publish(f"document:{doc}:progress", json.dumps({"document_id": doc, "status": "failed",
                                                                "error": "forged", "progress": 30}))
        client.close()
        time.sleep(2)
        after = {s.url: log_events(s.data_dir, f"document:{doc}") for s in (a, b)}
        appended = sum(len(events) - before[url] for url, events in after.items())  # in the durable logs
        status = httpx.get(f"{a.url}/documents/{doc}", timeout=10).json()["status"]
        rejected = [httpx.get(s.url + "/ready", timeout=10).json()["redis_mirror"].get("rejected", {}) for s in (a, b)]
        r.notes.append(f"3 forged messages for an indexed document: {appended} events appended across both "
                       f"instances' streams, document {status} on its origin; rejected counts A {rejected[0]}, "
                       f"B {rejected[1]}")
        r.check(appended == 0 and status == "indexed", f"{appended} forged events got into the streams")
        finish(r, [a, b], tally)
    finally:
        a.stop()
        b.stop()
        red.stop()
    return r


FLOOD_CASES: dict[str, tuple[bool, Callable[..., Result]]] = {  # name -> (in --fast, function)
    "streams-flood": (False, case_streams_flood),
    "upload-flood": (False, case_upload_flood),
    "pipeline-flood": (False, case_pipeline_flood),
    "login-spray": (False, case_login_spray),
    "forged-mirror": (False, case_forged_mirror),
}
