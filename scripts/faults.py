#!/usr/bin/env python
"""LexIntel fault suite: break real servers on purpose and check what a user would see.

Each case starts its own ``python -m lexintel serve`` subprocesses on free loopback ports with throw-away data
dirs (and a private ``redis-server`` when needed), builds its own PDFs, injects one fault, and measures:

  events lost     progress events in the durable log that a client following the stream (resuming with
                  Last-Event-ID after each disconnect, as EventSource does) never received
  docs stuck      documents not ``indexed``/``failed`` when the case ends
  5xx             unexpected 5xx answers (client-seen or counted by the server's /metrics); answers the fault
                  is *meant* to produce (a 507 for a full disk) are listed in the notes instead
  peak RSS        the server process's high-water mark (VmHWM), largest over the case's instances

Cases: kill -9 mid-batch and restart; Redis killed and restarted mid-stream; 1,000 clients that never read;
a client that disconnects every second; a hanging PDF; a full disk (RLIMIT_FSIZE on the server process: every
file it writes is capped, so uploads fail with EFBIG exactly as on a full volume, with no root needed).
Hostile clients (issue 13, scripts/faults_hostile.py; not in --fast): a 100k-backslash cookie, an overlapping-
entry ZIP bomb, 1,100 slow-header + 400 slow-body sockets; and (scripts/faults_floods.py) one member's 1,000
streams, chunked-session flood and slow PDFs against another member's requests, password guesses from rotating
addresses, forged Redis mirror events.

    python -m scripts.faults            # every case (about 2-3 minutes on 2 cores)
    python -m scripts.faults --fast     # the quick cases only (CI: tests/test_faults.py)
    python -m scripts.faults --only kill9 --only disk-full --json out.json

Run from the repository root (``scripts`` and ``tests.support`` are imported as packages).

Exit status 0 when every case passed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from scripts._faultkit import (
    MB,
    Follower,
    RedisServer,
    Server,
    Tally,
    all_terminal,
    compare,
    hanging_pdf,
    log_events,
    metrics,
    new_case,
    pages_done,
    statuses,
    text_pdf,
    upload,
    wait_until,
)
from scripts._faultresult import Result, finish
from scripts.faults_floods import FLOOD_CASES
from scripts.faults_hostile import HOSTILE_CASES


# ---------------------------------------------------------------- cases
def case_kill9(work: Path, fast: bool) -> Result:
    """kill -9 while a batch is mid-extraction, restart on the same data dir and port."""
    r, tally = Result("kill -9 mid-batch + restart"), Tally()
    server = Server(work, "kill9", {"LEXINTEL_EXTRACTION_WORKERS": "2"}).start()
    case_id = new_case(server, tally)
    follower = Follower(lambda: f"{server.url}/cases/{case_id}/stream", tally)
    follower.start()
    wait_until(lambda: follower.connects, 20, "the case stream")
    n_docs, pages = (6, 20) if fast else (16, 40)
    ids = upload(server, case_id, [(f"contract-{i}.pdf", text_pdf(pages, f"k{i}")) for i in range(n_docs)], tally)
    wait_until(lambda: pages_done(server, ids, tally) >= 2, 120, "extraction under way", interval=0.05)
    before = statuses(server, ids, tally)
    unfinished = sum(s in ("processing", "pending") for s in before.values())
    r.notes.append(f"killed with {sum(s == 'processing' for s in before.values())} processing, "
                   f"{sum(s == 'pending' for s in before.values())} pending of {n_docs}")
    r.check(unfinished > 0, "the batch finished before the kill: nothing was interrupted")
    received_before = dict(follower.received)
    server.kill()
    server.start()
    try:
        wait_until(lambda: all_terminal(server, ids, tally), 300, "every document terminal after restart")
    except TimeoutError as exc:
        r.notes.append(str(exc))
    final = statuses(server, ids, tally)
    r.docs_stuck = sum(s not in ("indexed", "failed") for s in final.values())
    r.check(all(s == "indexed" for s in final.values()), f"statuses after restart: {final}")
    log = log_events(server.data_dir, f"case:{case_id}")
    follower.catch_up(log)
    follower.stop()
    r.events_lost, reused = compare(log, follower.received)
    reused += sum(1 for i, d in received_before.items() if log.get(i) != d)
    for document_id in ids:  # per-document streams: ids unique and increasing (the table's key guarantees
        doc_log = log_events(server.data_dir, f"document:{document_id}")  # uniqueness; check gaps)
        r.check(sorted(doc_log) == list(range(1, len(doc_log) + 1)), f"gap in document:{document_id} ids")
    r.check(reused == 0, f"{reused} event ids reused with different content")
    r.check(r.events_lost == 0, f"{r.events_lost} events lost")
    r.notes.append(f"{len(log)} case events, client reconnected {follower.connects - 1}x, "
                   f"{follower.duplicates} duplicates")
    finish(r, [server], tally)
    server.stop()
    return r


def case_redis(work: Path, fast: bool) -> Result:
    """Kill Redis while two instances stream through it, start it again on the same port (empty)."""
    r, tally = Result("Redis killed + restarted mid-stream"), Tally()
    if shutil.which("redis-server") is None:
        r.notes.append("skipped: redis-server not installed")
        return r
    redis = RedisServer(work / "redis").start()
    env = {"LEXINTEL_REDIS_URL": redis.url, "LEXINTEL_EXTRACTION_WORKERS": "1"}
    origin = Server(work, "redis-a", env).start()
    other = Server(work, "redis-b", env).start()
    try:
        case_id = new_case(origin, tally)
        local = Follower(lambda: f"{origin.url}/cases/{case_id}/stream", tally)
        remote = Follower(lambda: f"{other.url}/cases/{case_id}/stream", tally)  # through Redis
        local.start()
        wait_until(lambda: local.connects, 30, "the local case stream")
        n_docs, pages = (3, 25) if fast else (6, 40)
        ids = upload(origin, case_id, [(f"r{i}.pdf", text_pdf(pages, f"r{i}")) for i in range(n_docs)], tally)
        remote.start()  # the other instance knows the case once its first events went through Redis
        wait_until(lambda: remote.connects, 30, "the case stream on the other instance")
        wait_until(lambda: any(s == "processing" for s in statuses(origin, ids, tally).values()), 60, "processing")
        redis.kill()
        states = set()
        down_since = time.monotonic()
        while time.monotonic() - down_since < 2.0:
            states.add(httpx.get(f"{origin.url}/ready", timeout=10).json().get("redis_mirror", {}).get("state"))
            time.sleep(0.2)
        mid_upload = upload(origin, case_id, [("during-outage.pdf", text_pdf(5, "outage"))], tally)
        redis.start()
        ids += mid_upload
        wait_until(lambda: all_terminal(origin, ids, tally), 180, "every document terminal")

        def mirror_state(s: Server) -> str:
            return str(httpx.get(f"{s.url}/ready", timeout=10).json().get("redis_mirror", {}).get("state"))

        try:
            wait_until(lambda: mirror_state(origin) == "connected" and mirror_state(other) == "connected", 60,
                       "both mirrors reconnected")
        except TimeoutError:
            r.check(False, f"mirror did not reconnect: {mirror_state(origin)}/{mirror_state(other)}")
        log = log_events(origin.data_dir, f"case:{case_id}")
        local.catch_up(log)
        remote.catch_up(log)
        local.stop()
        remote.stop()
        final = statuses(origin, ids, tally)
        r.docs_stuck = sum(s not in ("indexed", "failed") for s in final.values())
        lost_local, reused_local = compare(log, local.received)
        lost_remote, reused_remote = compare(log, remote.received)
        r.events_lost = lost_local + lost_remote
        r.check(lost_local == 0 and reused_local == 0, f"local client lost {lost_local}, reused {reused_local}")
        r.check(lost_remote == 0, f"client on the other instance lost {lost_remote} of {len(log)} events")
        r.check(reused_remote == 0, f"{reused_remote} ids differ between instances")
        m = metrics(origin)
        r.notes.append(f"states seen during outage: {sorted(str(s) for s in states)}; origin mirror errors "
                       f"{m.get('lexintel_redis_mirror_errors_total', 0):g}, reconnects "
                       f"{m.get('lexintel_redis_mirror_reconnects_total', 0):g}; lost local/remote "
                       f"{lost_local}/{lost_remote} of {len(log)}")
        finish(r, [origin, other], tally)
    finally:
        origin.stop()
        other.stop()
        redis.kill()
    return r


def _idle_client(url: str, path: str) -> socket.socket:
    """A client that sends its request and never reads: tiny receive buffer so the server's writes back up."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    host, port = url.removeprefix("http://").split(":")
    s.connect((host, int(port)))
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: text/event-stream\r\n\r\n".encode())
    return s


def case_never_read(work: Path, fast: bool, clients: int) -> Result:
    """``clients`` connections that subscribe and never read, while one normal client follows the same stream."""
    r, tally = Result(f"{clients} clients that never read"), Tally()
    # 1,000 streams from one address on purpose: the per-user/address stream cap (64) is lifted for this case
    server = Server(work, "never-read", {"LEXINTEL_SUBSCRIBER_QUEUE": "32",
                                         "LEXINTEL_MAX_STREAMS_PER_USER": "0"}).start()
    sockets: list[socket.socket] = []
    try:
        case_id = new_case(server, tally)
        for _ in range(clients):
            sockets.append(_idle_client(server.url, f"/cases/{case_id}/stream"))
        wait_until(lambda: metrics(server).get("lexintel_sse_connections", 0) >= clients, 60,
                   f"{clients} open streams", interval=0.3)
        reader = Follower(lambda: f"{server.url}/cases/{case_id}/stream", tally)
        reader.start()
        n_docs, pages = (4, 15) if fast else (10, 60)
        t0 = time.monotonic()
        ids = upload(server, case_id, [(f"n{i}.pdf", text_pdf(pages, f"n{i}")) for i in range(n_docs)], tally)
        health_ms = []
        while not all_terminal(server, ids, tally):
            h0 = time.monotonic()
            tally.seen(httpx.get(f"{server.url}/health", timeout=10))
            health_ms.append((time.monotonic() - h0) * 1000)
            if time.monotonic() - t0 > 240:
                break
            time.sleep(0.3)
        r.docs_stuck = sum(s not in ("indexed", "failed") for s in statuses(server, ids, tally).values())
        log = log_events(server.data_dir, f"case:{case_id}")
        reader.catch_up(log)
        reader.stop()
        r.events_lost, reused = compare(log, reader.received)
        r.check(r.events_lost == 0 and reused == 0, f"reading client lost {r.events_lost} events")
        m = metrics(server)
        dropped = int(m.get("lexintel_sse_dropped_lagging_total", 0))
        coalesced = int(m.get("lexintel_sse_frames_coalesced_total", 0))
        for s in sockets:
            s.close()
        sockets.clear()
        wait_until(lambda: metrics(server).get("lexintel_sse_connections", 1) == 0, 60, "streams released",
                   interval=0.3)
        r.notes.append(f"{coalesced} queued frames coalesced, {dropped} lagging clients cut off; "
                       f"/health max {max(health_ms or [0]):.0f} ms while "
                       f"{len(log)} events fanned out; all streams released")
        finish(r, [server], tally)
    finally:
        for s in sockets:
            s.close()
        server.stop()
    return r


def case_flapping(work: Path, fast: bool) -> Result:
    """A client that hangs up every second and reconnects with Last-Event-ID while a batch runs."""
    r, tally = Result("client disconnecting every 1 s"), Tally()
    server = Server(work, "flap", {"LEXINTEL_PING_INTERVAL": "0.5"}).start()
    try:
        case_id = new_case(server, tally)
        flapper = Follower(lambda: f"{server.url}/cases/{case_id}/stream", tally, flap=1.0)
        flapper.start()
        wait_until(lambda: flapper.connects, 20, "the first connection")
        duration = 6.0 if fast else 30.0
        ids: list[str] = []
        t0 = time.monotonic()
        while time.monotonic() - t0 < duration:  # a steady trickle of work, so events flow the whole time
            ids += upload(server, case_id, [(f"f{len(ids)}.pdf", text_pdf(8, f"f{len(ids)}"))], tally)
            time.sleep(0.5)
        wait_until(lambda: all_terminal(server, ids, tally), 240, "every document terminal", interval=0.3)
        log = log_events(server.data_dir, f"case:{case_id}")
        flapper.catch_up(log)
        flapper.stop()
        r.events_lost, reused = compare(log, flapper.received)
        r.check(r.events_lost == 0 and reused == 0, f"lost {r.events_lost}, reused {reused}")
        r.check(flapper.duplicates == 0, f"{flapper.duplicates} duplicate events")
        wait_until(lambda: metrics(server).get("lexintel_sse_connections", 1) == 0, 30, "streams released",
                   interval=0.3)
        r.docs_stuck = sum(s not in ("indexed", "failed") for s in statuses(server, ids, tally).values())
        r.notes.append(f"{flapper.connects} connections, {len(log)} events, 0 subscriptions left open")
        finish(r, [server], tally)
    finally:
        server.stop()
    return r


def case_hanging_pdf(work: Path, fast: bool) -> Result:
    """A PDF pdfminer loops on: the per-document time limit kills its worker; the next document still runs."""
    r, tally = Result("hanging PDF"), Tally()
    timeout = 2 if fast else 5
    server = Server(work, "hang", {"LEXINTEL_DOCUMENT_TIMEOUT": str(timeout),
                                   "LEXINTEL_EXTRACTION_WORKERS": "1"}).start()
    try:
        case_id = new_case(server, tally)
        ids = upload(server, case_id, [("hangs.pdf", hanging_pdf()), ("after.pdf", text_pdf(3, "after"))], tally,
                     batch=False)
        wait_until(lambda: all_terminal(server, ids, tally), 120, "both documents terminal", interval=0.3)
        hang = httpx.get(f"{server.url}/documents/{ids[0]}/status", timeout=10).json()
        after = httpx.get(f"{server.url}/documents/{ids[1]}/status", timeout=10).json()
        r.check(hang["status"] == "failed" and hang["error_code"] == "timeout", f"hanging PDF ended {hang}")
        r.check(after["status"] == "indexed", f"next document ended {after['status']}")
        restarts = metrics(server).get("lexintel_worker_restarts_total", 0)
        r.check(restarts >= 1, "no worker restart counted")
        r.notes.append(f"failed in {timeout} s with: {hang['error_message']!r}; worker restarts {restarts:g}")
        finish(r, [server], tally)
    finally:
        server.stop()
    return r


def _fill_database(server: Server, case_id: str, tally: Tally, r: Result, fast: bool) -> list[str]:
    """Phase 2: index text until the database cannot grow; report how documents ended; return their ids."""
    n_docs, pages = (4, 50) if fast else (6, 60)
    ids = upload(server, case_id, [(f"fill-{i}.pdf", text_pdf(pages, f"fill{i}" * 8)) for i in range(n_docs)],
                 tally)
    last: dict[str, str] = {}
    stable_since = time.monotonic()
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:  # until everything ended or nothing moved for 3 s (writes failing)
        now = statuses(server, ids, tally)
        if now != last:
            last, stable_since = now, time.monotonic()
        if all(s in ("indexed", "failed") for s in now.values()) or time.monotonic() - stable_since > 3:
            break
        time.sleep(0.3)
    codes = [httpx.get(f"{server.url}/documents/{i}/status", timeout=10).json().get("error_code") for i in ids]
    full = codes.count("disk_full")
    waiting = sum(s in ("pending", "processing") for s in last.values())
    r.check(full + waiting > 0, "the database never filled up: lower the limit")
    r.check(all(c in (None, "disk_full") for c in codes), f"failure codes while full: {codes}")
    r.notes.append(f"database full: {full} of {n_docs} documents recorded as failed 'disk_full', {waiting} left "
                   "pending/processing (their state could not be written; the log says 'storage full'), "
                   f"{sum(s == 'indexed' for s in last.values())} indexed")
    return ids


def _free_space_and_restart(server: Server, ids: list[str], tally: Tally, r: Result) -> None:
    """Lift the cap ("free space"), restart (requeues what was interrupted), retry the disk_full failures."""
    server.raise_fsize()
    server.stop()
    server.start()
    for document_id in ids:
        status = httpx.get(f"{server.url}/documents/{document_id}/status", timeout=10).json()
        if status.get("error_code") == "disk_full":
            tally.seen(httpx.post(f"{server.url}/documents/{document_id}/retry", timeout=10))
    try:
        wait_until(lambda: all_terminal(server, ids, tally), 240, "every document after freeing space", interval=0.3)
    except TimeoutError as exc:
        r.notes.append(str(exc))
    final = statuses(server, ids, tally)
    r.docs_stuck = sum(s not in ("indexed", "failed") for s in final.values())
    r.check(all(s == "indexed" for s in final.values()), f"after freeing space and a restart: {final}")
    r.notes.append(f"after freeing space + restart + retry: {sum(s == 'indexed' for s in final.values())} of "
                   f"{len(ids)} indexed")


def case_disk_full(work: Path, fast: bool) -> Result:
    """Every file the server writes is capped (RLIMIT_FSIZE), as on a full volume: an upload larger than what
    is left fails with 507; then documents are indexed until the database cannot grow; then space is freed."""
    r, tally = Result("disk full (size-limited data dir)"), Tally()
    limit = 2 * MB
    server = Server(work, "disk", fsize_limit=limit).start()
    try:
        case_id = new_case(server, tally)
        big = text_pdf(1, "big") + b"%" + os.urandom(limit + MB)  # a valid PDF, padded past the cap
        resp = tally.seen(httpx.post(f"{server.url}/cases/{case_id}/documents", files={"files": ("big.pdf", big)},
                                     timeout=120), expected=frozenset({507}))
        body = resp.json()
        r.check(resp.status_code == 507 and body.get("code") == "disk_full", f"full disk answered {resp.status_code} "
                f"{body}")
        leftovers = [p for p in (server.data_dir / "incoming").rglob("*") if p.is_file()]
        r.check(not leftovers, f"partial files left behind: {leftovers}")
        ready = httpx.get(f"{server.url}/ready", timeout=10)
        r.check(ready.status_code == 200, f"/ready after the failure: {ready.status_code}")
        ids = upload(server, case_id, [("small.pdf", text_pdf(2, "small"))], tally)
        wait_until(lambda: all_terminal(server, ids, tally), 60, "the next upload to finish")
        r.check(statuses(server, ids, tally)[ids[0]] == "indexed", "the server did not recover")
        r.notes.append(f"507 {body.get('code')}: {body.get('detail', '')[:70]}...; next upload indexed")
        if not fast:  # about 25 s of indexing and a restart: the full suite only
            filled = _fill_database(server, case_id, tally, r, fast)
            _free_space_and_restart(server, ids + filled, tally, r)
        finish(r, [server], tally)
    finally:
        server.stop()
    return r


CASES: dict[str, tuple[bool, Callable[..., Result]]] = {  # name -> (in --fast, function)
    "kill9": (True, case_kill9),
    "redis": (False, case_redis),
    "never-read": (True, case_never_read),
    "flapping": (True, case_flapping),
    "hanging-pdf": (True, case_hanging_pdf),
    "disk-full": (True, case_disk_full),
    **HOSTILE_CASES,  # issue 13: a huge cookie, an overlapping ZIP bomb, slow-client floods
    **FLOOD_CASES,  # issue 13: one member's streams, upload sessions, pipeline; password spray; forged mirror events
}


def print_table(results: list[Result]) -> None:
    header = ["fault", "events lost", "docs stuck", "5xx", "peak RSS MB", "result", "seconds"]
    rows = [[r.fault, str(r.events_lost), str(r.docs_stuck), str(r.errors_5xx), f"{r.peak_rss_mb:.0f}",
             "PASS" if r.ok else "FAIL", f"{r.seconds:.0f}"] for r in results]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))
    print(line)
    print("-" * len(line))
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
    print()
    for r in results:
        for note in r.notes:
            print(f"- {r.fault}: {note}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fast", action="store_true", help="only the quick cases, with smaller loads")
    parser.add_argument("--only", action="append", choices=sorted(CASES), help="run only this case (repeatable)")
    parser.add_argument("--clients", type=int, default=1000, help="clients that never read (default 1000)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--keep", action="store_true", help="keep the work dir (server logs, databases)")
    args = parser.parse_args(argv)
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    names = args.only or [n for n, (quick, _) in CASES.items() if quick or not args.fast]
    work = Path(tempfile.mkdtemp(prefix="lexintel-faults-"))
    results: list[Result] = []
    try:
        for name in names:
            fn = CASES[name][1]
            extra = {"clients": args.clients} if name == "never-read" else {}
            started = time.monotonic()
            print(f"... {name}", file=sys.stderr, flush=True)
            try:
                result = fn(work / name, args.fast, **extra)
            except Exception as exc:  # a case that cannot finish is a failed case, not a crashed suite
                result = Result(name, ok=False, notes=[f"FAIL: {type(exc).__name__}: {exc}"])
            result.seconds = time.monotonic() - started
            results.append(result)
    finally:
        if args.keep:
            print(f"work dir kept: {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    print_table(results)
    if args.json:
        args.json.write_text(json.dumps([{k: v for k, v in r.__dict__.items()} for r in results], indent=2))
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
