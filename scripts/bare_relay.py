"""The bare asyncio relay: Redis pub/sub -> SSE sockets with nothing else, the yardstick for LexIntel's fan-out.

    python -m scripts.bare_relay --port 8123 --redis-url redis://127.0.0.1:6380/0

What it does is the least any relay must do on issue 18's load: one pattern subscription to
``document:*:progress``, one ``asyncio.Protocol`` per client that answers ``GET /progress/documents/{id}/stream``
with a chunked ``text/event-stream`` response, and for each message one ``id:``/``data:`` frame written to every
socket of that document (``transport.write``, no task per client, no log, no replay, no backpressure policy).
The load client (``scripts.bench_redis --relay``) measures it exactly like LexIntel, so the difference between
the two is what LexIntel's durability, resume and slow-client handling cost. Prints ``ready`` on stdout once
subscribed; runs until killed.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys

from redis.asyncio import Redis

HEAD = (b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n"
        b"transfer-encoding: chunked\r\n\r\n")
PREFIX = b"/progress/documents/"


def chunk(body: bytes) -> bytes:
    """One HTTP/1.1 chunk (the framing uvicorn uses for LexIntel's streams)."""
    return b"%x\r\n%s\r\n" % (len(body), body)


class Relay:
    """Subscribers per document and a per-document event counter."""

    def __init__(self) -> None:
        self.subs: dict[bytes, set[asyncio.Transport]] = {}
        self.ids: dict[bytes, int] = {}

    def fan_out(self, channel: bytes, data: bytes) -> None:
        doc = channel[len(b"document:"): -len(b":progress")]
        event_id = self.ids[doc] = self.ids.get(doc, 0) + 1
        frame = chunk(b"id: %d\ndata: %s\n\n" % (event_id, data))
        for transport in self.subs.get(doc, ()):
            transport.write(frame)


class Client(asyncio.Protocol):
    """One SSE socket: parse the request line once, then only written to."""

    def __init__(self, relay: Relay) -> None:
        self.relay = relay
        self.doc: bytes | None = None
        self.transport: asyncio.Transport | None = None
        self.buf = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self.doc is not None or self.transport is None:
            return
        self.buf += data
        if b"\r\n\r\n" not in self.buf:
            return
        path = self.buf.split(b" ", 2)[1]
        if not path.startswith(PREFIX):
            self.transport.write(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
            self.transport.close()
            return
        self.doc = path[len(PREFIX):].split(b"/", 1)[0]
        self.relay.subs.setdefault(self.doc, set()).add(self.transport)
        self.transport.write(HEAD + chunk(b"retry: 3000\n\n"))

    def connection_lost(self, exc: Exception | None) -> None:
        if self.doc is not None and self.transport is not None:
            subs = self.relay.subs.get(self.doc)
            if subs is not None:
                subs.discard(self.transport)


async def serve(port: int, redis_url: str) -> None:
    relay = Relay()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Client(relay), "127.0.0.1", port, backlog=4096)
    client = Redis.from_url(redis_url)
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    await pubsub.psubscribe("document:*:progress")
    print("ready", flush=True)
    async with server:
        while True:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            while message is not None:
                relay.fan_out(message["channel"], message["data"])
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redis-url", required=True)
    args = parser.parse_args()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # one socket per client, as LexIntel's server
    try:
        import uvloop

        uvloop.install()  # what uvicorn[standard] runs LexIntel on
    except ImportError:
        pass
    try:
        asyncio.run(serve(args.port, args.redis_url))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
