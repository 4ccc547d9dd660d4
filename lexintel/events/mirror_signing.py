"""Which Redis mirror messages an instance believes (issue 13 item 13).

Redis pub/sub has no notion of who published: anyone who can ``PUBLISH`` (a Redis without a password, a
shared Redis) could forge progress into any stream, the origin instance's own included (the security test
appended an ``error`` event to an ``indexed`` document). Two rules close that:

1. **Signed instance messages.** With ``LEXINTEL_REDIS_SECRET`` set (the same random string on every
   instance), every message an instance publishes or appends to a Redis log ends with
   ``,"sig":"<hex>"}``: HMAC-SHA256 under the secret over the stream name and the message without that field
   (which holds the ``instance_id``, so the instance id is signed too, and binding the stream name stops a
   message signed for one document being replayed onto another's channel). A receiver drops messages that
   claim an ``instance_id`` but carry no valid signature, and log entries without one. Drops are counted
   (``lexintel_redis_mirror_rejected_total{reason}``) and logged at most once a minute. Without a secret,
   nothing changes on the wire, and start-up warns that anyone who can publish can inject events.
2. **Outside workers** (the original design's unsigned JSON, no ``instance_id``) are believed only when
   ``LEXINTEL_ACCEPT_OUTSIDE_EVENTS`` is on (default: with ``AUTH=off`` only), and only for documents and
   batches no LexIntel instance owns: not a row of this instance, not a stream another instance has published
   (seen here, or present as its Redis log). An outside worker reports on its own jobs; it never gets to
   rewrite ours.

The signature is appended to the JSON text rather than put inside the object, so the signed bytes are exactly
the bytes sent (no canonical re-encoding needed) and a receiver checks it before parsing anything.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import time
from collections import OrderedDict
from typing import TYPE_CHECKING

from redis.exceptions import RedisError

from lexintel.errors import NotFound

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from lexintel.settings import Settings
    from lexintel.store.records import Records

__all__ = ["REJECT_REASONS", "MirrorGate", "sign", "verify"]

log = logging.getLogger("lexintel.events.redis_mirror")

REJECT_REASONS = ("unsigned", "forged", "outside_disabled", "outside_owned")
LOG_INTERVAL = 60.0  # seconds between two warnings about dropped messages
OUTSIDE_OK_TTL = 5.0  # seconds a "nobody owns this stream" answer from Redis is reused
MAX_OWNED = 100_000  # streams remembered as instance-owned (oldest forgotten first)
_SIG_PREFIX = b',"sig":"'
_SIG_TAIL = re.compile(rb',"sig":"([0-9a-f]{64})"\}\Z')
_SIG_LEN = len(_SIG_PREFIX) + 64 + 2
_INSTANCE_KEY = b'"instance_id":'


def _mac(key: bytes, stream: str, body: bytes) -> str:
    return hmac.new(key, stream.encode() + b"\n" + body, hashlib.sha256).hexdigest()


def sign(key: bytes, stream: str, payload: str) -> str:
    """``payload`` (a JSON object's text) with ``,"sig":"<hmac>"`` added as its last member."""
    body = payload.encode()
    return f'{payload[:-1]},"sig":"{_mac(key, stream, body)}"}}'


def verify(key: bytes, stream: str, data: bytes) -> bytes | None:
    """The message without its signature if it is signed for ``stream`` under ``key``; None otherwise."""
    match = _SIG_TAIL.search(data[-_SIG_LEN:])
    if match is None:
        return None
    body = data[:-_SIG_LEN] + b"}"
    expected = _mac(key, stream, body).encode()
    return body if hmac.compare_digest(expected, match[1]) else None


class MirrorGate:
    """Signs outgoing mirror messages and decides which incoming ones are believed (see the module docstring)."""

    def __init__(self, settings: Settings, records: Records | None = None) -> None:
        self.key = settings.redis_secret.encode() if settings.redis_secret else None
        self.outside_events = settings.outside_events
        self.rejected = dict.fromkeys(REJECT_REASONS, 0)
        self._records = records
        self._owned: OrderedDict[str, None] = OrderedDict()  # streams an instance publishes
        self._outside_ok: dict[str, float] = {}  # stream -> until when Redis said nobody owns it
        self._logged_at = 0.0
        self._unlogged = dict.fromkeys(REJECT_REASONS, 0)
        if self.key is None:
            log.warning("Redis mirror: LEXINTEL_REDIS_SECRET is not set, so mirror messages are not signed: "
                        "anyone who can PUBLISH to this Redis can inject progress events into any stream. Set the "
                        "same random LEXINTEL_REDIS_SECRET on every instance (and a Redis password).")

    # out
    def sign(self, stream: str, payload: str) -> str:
        """What to publish (and log) for ``stream``: signed when a secret is set."""
        return sign(self.key, stream, payload) if self.key is not None else payload

    # in
    def admit(self, stream: str, data: bytes) -> bytes | None:
        """A pub/sub message for ``stream``: the bytes to decode, or None (dropped and counted).

        Signed and valid: returned without the signature. Claims an instance but is unsigned or forged (with a
        secret): dropped. No ``instance_id`` (an outside worker): returned; :meth:`outside_allowed` decides.
        """
        if self.key is None:
            if _INSTANCE_KEY in data:
                self._own(stream)
            return data
        if data.endswith(b'"}') and _SIG_PREFIX in data[-_SIG_LEN:]:
            body = verify(self.key, stream, data)
            if body is None:
                self._reject("forged")
                return None
            self._own(stream)
            return body
        if _INSTANCE_KEY in data:
            try:
                decoded = json.loads(data)
            except ValueError:
                return data  # junk: the mirror counts it as an error
            if isinstance(decoded, dict) and "instance_id" in decoded:
                self._reject("unsigned")
                return None
        return data

    def admit_logged(self, stream: str, entry: bytes | str) -> bytes | str | None:
        """An entry of a Redis log (only instances write those): the bytes to decode, or None."""
        if self.key is None:
            return entry
        data = entry.encode() if isinstance(entry, str) else entry
        body = verify(self.key, stream, data)
        if body is None:
            self._reject("forged" if _SIG_PREFIX in data else "unsigned")
        return body

    async def outside_allowed(self, client: Redis, stream: str, log_key: str) -> bool:
        """Whether an outside worker's event for ``stream`` (``document:<id>`` / ``batch:<id>``) is believed."""
        if not self.outside_events:
            return self._refuse("outside_disabled")
        now = time.monotonic()
        if self._outside_ok.get(stream, 0.0) > now:
            return True
        if stream in self._owned or self._local(stream):
            return self._refuse("outside_owned")
        try:
            owned = bool(await client.exists(log_key))
        except (RedisError, OSError):
            owned = True  # cannot tell: do not believe it
        if owned:
            self._own(stream)
            return self._refuse("outside_owned")
        if len(self._outside_ok) > 10_000:
            self._outside_ok = {k: t for k, t in self._outside_ok.items() if t > now}
        self._outside_ok[stream] = now + OUTSIDE_OK_TTL
        return True

    def _local(self, stream: str) -> bool:
        """This instance holds the row (it is the origin)."""
        if self._records is None:
            return False
        kind, _, ident = stream.partition(":")
        try:
            (self._records.document if kind == "document" else self._records.batch)(ident)
        except NotFound:
            return False
        return True

    def _own(self, stream: str) -> None:
        self._owned[stream] = None
        self._owned.move_to_end(stream)
        self._outside_ok.pop(stream, None)
        if len(self._owned) > MAX_OWNED:
            self._owned.popitem(last=False)

    def _refuse(self, reason: str) -> bool:
        self._reject(reason)
        return False

    def _reject(self, reason: str) -> None:
        self.rejected[reason] += 1
        self._unlogged[reason] += 1
        now = time.monotonic()
        if now - self._logged_at >= LOG_INTERVAL:
            self._logged_at = now
            counts = ", ".join(f"{k}={v}" for k, v in self._unlogged.items() if v)
            self._unlogged = dict.fromkeys(REJECT_REASONS, 0)
            log.warning("Redis mirror: dropped messages nobody may send (%s); counted in "
                        "lexintel_redis_mirror_rejected_total", counts)
