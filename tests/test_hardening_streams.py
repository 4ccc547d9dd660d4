"""Per-user caps on open SSE streams (issue 13 item 3; lexintel/api/stream_limits.py) on a real ``lexintel serve``.

One member holding their maximum gets ``429 too_many_streams`` (with ``Retry-After`` and the setting's name) for
one more, while another member still opens streams and gets answers; a closed stream gives its slot back; a
finished stream (204) costs no slot. With ``AUTH=off`` the client address is the principal: a second loopback
address is not affected by the first one's streams.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx

from lexintel.settings import Settings
from tests.auth_helpers import Account, add_account
from tests.support import ServerProcess, wait_for

ServerFactory = Callable[..., ServerProcess]
CAP = 3


@contextlib.contextmanager
def held(client: httpx.Client, path: str, headers: dict[str, str] | None = None) -> Iterator[httpx.Response]:
    """An open stream (status read, body left unread) for as long as the block runs."""
    with client.stream("GET", path, headers=headers, timeout=httpx.Timeout(10, read=60)) as resp:
        yield resp


def status_of(client: httpx.Client, path: str, headers: dict[str, str] | None = None) -> int:
    with held(client, path, headers) as resp:
        return resp.status_code


def accounts(tmp_path: Path) -> tuple[Path, Account, Account]:
    data = tmp_path / "accounts-data"
    settings = Settings(data_dir=data)
    return data, add_account(settings, "alice"), add_account(settings, "bob")


def test_a_member_past_the_cap_gets_429_and_others_are_unaffected(server_factory: ServerFactory,
                                                                  tmp_path: Path) -> None:
    data, alice, bob = accounts(tmp_path)
    server = server_factory(data, LEXINTEL_AUTH="on", LEXINTEL_MAX_STREAMS_PER_USER=str(CAP))
    with httpx.Client(base_url=server.url, timeout=10) as http, contextlib.ExitStack() as stack:
        case = http.post("/cases", json={"name": "Alice's"}, headers=alice.headers).json()["id"]
        bobs = http.post("/cases", json={"name": "Bob's"}, headers=bob.headers).json()["id"]
        path = f"/cases/{case}/stream"
        opened = [stack.enter_context(held(http, path, alice.headers)) for _ in range(CAP)]
        assert [r.status_code for r in opened] == [200] * CAP

        with held(http, path, alice.headers) as refused:
            assert refused.status_code == 429  # (checked before reading: a 200 is an endless stream)
            refused.read()
            body = refused.json()
            assert body["code"] == "too_many_streams" and body["limit"] == "max_streams_per_user"
            assert "LEXINTEL_MAX_STREAMS_PER_USER" in body["detail"] and int(refused.headers["retry-after"]) >= 1
        # another member: streams and ordinary requests as usual
        bob_streams = [stack.enter_context(held(http, f"/cases/{bobs}/stream", bob.headers)) for _ in range(CAP)]
        assert [r.status_code for r in bob_streams] == [200] * CAP
        assert http.get("/cases", headers=bob.headers).status_code == 200
        assert http.get(f"/cases/{bobs}", headers=bob.headers).status_code == 200
        # the same member's other requests are not streams: they still work
        assert http.get("/cases", headers=alice.headers).status_code == 200

        opened[0].close()  # one tab closed: its slot comes back once the server sees the disconnect
        wait_for(lambda: status_of(http, f"/cases/{case}/stream?last_event_id=0", alice.headers) == 200,
                 timeout=20, what="a slot given back")


def test_finished_streams_cost_no_slot(server_factory: ServerFactory, tmp_path: Path) -> None:
    data, alice, _bob = accounts(tmp_path)
    server = server_factory(data, LEXINTEL_AUTH="on", LEXINTEL_MAX_STREAMS_PER_USER="1")
    with httpx.Client(base_url=server.url, timeout=30) as http:
        case = http.post("/cases", json={"name": "Done"}, headers=alice.headers).json()["id"]
        up = http.post(f"/cases/{case}/documents", files=[("files", ("a.txt", b"hello limits"))],
                       headers=alice.headers)
        assert up.status_code == 202, up.text
        doc = up.json()["document_ids"][0]
        stream = f"/progress/documents/{doc}/stream?events=named"
        wait_for(lambda: http.get(f"/documents/{doc}", headers=alice.headers).json()["status"] == "indexed",
                 timeout=60, what="indexed")
        with held(http, stream, alice.headers) as replay:  # replays and closes, giving its slot back
            assert replay.status_code == 200
            text = replay.read().decode()
        assert "event: complete" in text
        terminal = max(int(line[4:]) for line in text.splitlines() if line.startswith("id: "))
        with held(http, f"/cases/{case}/stream", alice.headers) as live:  # the one slot, held
            assert live.status_code == 200
            assert status_of(http, stream, {**alice.headers, "Last-Event-ID": str(terminal)}) == 204
            assert status_of(http, f"/cases/{case}/stream", alice.headers) == 429


def test_with_auth_off_the_client_address_is_the_principal(server_factory: ServerFactory) -> None:
    server = server_factory(LEXINTEL_MAX_STREAMS_PER_USER=str(CAP))
    other = httpx.Client(base_url=server.url, timeout=10, transport=httpx.HTTPTransport(local_address="127.0.0.2"))
    with httpx.Client(base_url=server.url, timeout=10) as http, other, contextlib.ExitStack() as stack:
        case = http.post("/cases", json={"name": "Laptop"}).json()["id"]
        path = f"/cases/{case}/stream"
        assert [stack.enter_context(held(http, path)).status_code for _ in range(CAP)] == [200] * CAP
        assert status_of(http, path) == 429
        assert status_of(other, path) == 200  # another address: its own allowance
        assert other.get("/health").status_code == 200
