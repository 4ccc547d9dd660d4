"""Per-user cap on multipart uploads being received at once (issue 13: bytes in flight; lexintel/upload/inflight.py).

On a real ``lexintel serve``: a member whose upload body is still arriving (a raw socket that sent the headers and
half the body) gets ``429 too_many_uploads_in_flight`` for one more upload, naming the setting, with
``Retry-After``; another member uploads meanwhile; once the slow upload ends (here: its body completes), the
member's next upload is accepted. Without the cap one member could hold a hundred 200 MiB requests at once.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from lexintel.settings import Settings
from tests.auth_helpers import add_account
from tests.support import ServerProcess, parse_metrics, wait_for

ServerFactory = Callable[..., ServerProcess]
BOUNDARY = "lexintelslowupload"


def multipart(name: str, content: bytes) -> bytes:
    return (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
            "Content-Type: text/plain\r\n\r\n").encode() + content + f"\r\n--{BOUNDARY}--\r\n".encode()


def test_a_member_with_an_upload_in_flight_gets_429_for_one_more_and_others_are_unaffected(
        server_factory: ServerFactory, tmp_path: Path) -> None:
    data = tmp_path / "data"
    settings = Settings(data_dir=data)
    alice, bob = add_account(settings, "alice"), add_account(settings, "bob")
    server = server_factory(data, LEXINTEL_AUTH="on", LEXINTEL_MAX_UPLOADS_IN_FLIGHT_PER_USER="1")
    with httpx.Client(base_url=server.url, timeout=20) as http:
        case = http.post("/cases", json={"name": "Alice's"}, headers=alice.headers).json()["id"]
        bobs = http.post("/cases", json={"name": "Bob's"}, headers=bob.headers).json()["id"]
        body = multipart("slow.txt", b"the slow upload's words " * 2000)
        url = urlsplit(server.url)
        slow = socket.create_connection((url.hostname, url.port), timeout=20)
        try:
            head = (f"POST /cases/{case}/documents HTTP/1.1\r\nHost: {url.hostname}:{url.port}\r\n"
                    f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {len(body)}\r\n"
                    + "".join(f"{k}: {v}\r\n" for k, v in alice.headers.items()) + "\r\n").encode()
            slow.sendall(head + body[: len(body) // 2])

            def in_flight() -> float:
                metrics = parse_metrics(http.get("/metrics", headers=alice.headers).text)
                return metrics.get("lexintel_uploads_in_flight", 0.0)

            # the half-sent upload holds its slot before the next one is tried (else the two race for it)
            wait_for(in_flight, timeout=20, what="the half-sent upload holding alice's slot")

            def refused() -> httpx.Response | None:
                answer = http.post(f"/cases/{case}/documents", headers=alice.headers,
                                   files={"file": ("second.txt", b"second words")})
                return answer if answer.status_code == 429 else None

            second = wait_for(refused, timeout=20, what="alice's second upload refused while the first is in flight")
            assert second.json()["code"] == "too_many_uploads_in_flight"
            assert "LEXINTEL_MAX_UPLOADS_IN_FLIGHT_PER_USER" in second.json()["detail"]
            assert int(second.headers["retry-after"]) >= 1
            others = http.post(f"/cases/{bobs}/documents", headers=bob.headers,
                               files={"file": ("bob.txt", b"bob's words")})
            assert others.status_code == 202, others.text  # another member is not affected

            slow.sendall(body[len(body) // 2:])
            answer = slow.recv(65536).decode(errors="replace")
            assert answer.startswith("HTTP/1.1 202"), answer[:200]
        finally:
            slow.close()
        wait_for(lambda: in_flight() == 0 or None, timeout=20, what="alice's slot given back")
        after = http.post(f"/cases/{case}/documents", headers=alice.headers,
                          files={"file": ("third.txt", b"third words")})
        assert after.status_code == 202, after.text  # the slot came back
