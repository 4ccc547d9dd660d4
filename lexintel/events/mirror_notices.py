"""Case notices through the Redis mirror: a rename or a deletion on instance A reaches B's streams live.

:class:`RedisMirror` carries ProgressEvents, which the emitter hands it. A case's other events are notices
(:class:`~lexintel.events.notice.Notice`, told through :meth:`Emitter.tell`): ``case_renamed`` and a document's
``deleted`` (logged on the case stream like any event), and the terminal ``case_deleted`` (sent, never logged).
:class:`NoticeMirror` is the mirror with them, kept in this module so the mirror's own stays about its flow:

- **Out.** A notice joins the same outbound queue as the events (so it keeps its place: a case's last progress
  goes before its ``case_deleted``) and is published on ``case:{id}:notices``: the event's JSON plus the
  mirror's keys (``instance_id``, ``ids``, ``terminal``), ``notice`` (its name) and ``closes`` (the streams that
  end with it), signed like the rest. A logged notice is also appended to the case stream's Redis log, so an
  instance that reads that history (a stream open, a hole) gets it under its own name. A deletion removes the
  Redis logs of the streams it ends: no instance (the origin included) can adopt a deleted subject's history
  from Redis afterwards.
- **In.** A logged notice is ingested under the origin's id like an event (holes filled first); the terminal one
  is offered to this instance's subscribers of the case stream. Then the streams it closes end here too (reason
  ``deleted``) and their copies in this instance's log are deleted, so the stream is unknown here as on its
  origin (404), not replayed from a stale copy.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from lexintel.events.emitter import EmittedEvent
from lexintel.events.foreign import ForeignEventError, from_instance
from lexintel.events.mirror_parts import legacy_log_key, log_key
from lexintel.events.notice import Notice
from lexintel.events.redis_mirror import LOG_MAXLEN, LOG_TTL, RedisMirror
from lexintel.events.schema import Frame, encode_frame, encode_json

__all__ = ["NoticeMirror", "notice_channel"]

log = logging.getLogger("lexintel.events.redis_mirror")

SUFFIX = ":notices"
DELETE_KEYS = 500  # keys per DEL command when a deleted case's logs go
_KINDS = ("document", "batch", "case")


def notice_channel(case_id: str) -> str:
    """The pub/sub channel of a case's notices, ``case:{id}:notices``."""
    return f"case:{case_id}{SUFFIX}"


def _case_of(channel: object) -> str | None:
    name = channel.decode() if isinstance(channel, bytes) else str(channel)
    if name.startswith("case:") and name.endswith(SUFFIX):
        return name[len("case:"):-len(SUFFIX)] or None
    return None


def gone_keys(streams: tuple[str, ...]) -> list[str]:
    """The Redis keys holding the history of ``streams`` (ours, the legacy name, a batch's original keys)."""
    keys: list[str] = []
    for stream in streams:
        keys += [log_key(stream), legacy_log_key(stream)]
        if stream.startswith("batch:"):
            keys.append(f"{stream}:progress:current")
    return keys


class NoticeMirror(RedisMirror):
    """The Redis mirror, case notices included (see the module docstring)."""

    def offer_notice(self, notice: Notice) -> None:
        """Emitter notice listener: queue a notice for publishing (same queue, same bound as events)."""
        if len(self._queue) >= self.queue_max:
            self._queue.popleft()
            self.dropped += 1
        self._queue.append(notice)
        self._wakeup.set()

    # out
    def _add_commands(self, pipe: Pipeline, event: EmittedEvent | Notice) -> None:
        if not isinstance(event, Notice):
            super()._add_commands(pipe, event)
            return
        stream = event.stream
        body = {k: v for k, v in json.loads(event.data).items() if k != "id"}
        payload = encode_json({"id": event.id, **body, "notice": event.name, "ids": {stream: event.id},
                               "terminal": event.terminal, "instance_id": self.instance_id,
                               "closes": list(event.closes)})
        payload = self.gate.sign(stream, payload) if self.gate else payload
        pipe.publish(notice_channel(event.case_id), payload)
        if not event.terminal:
            key = log_key(stream)
            pipe.xadd(key, {"e": payload}, id=f"{event.id}-0", maxlen=LOG_MAXLEN, approximate=True)
            pipe.expire(key, LOG_TTL)
        keys = gone_keys(event.closes)
        for start in range(0, len(keys), DELETE_KEYS):
            pipe.delete(*keys[start:start + DELETE_KEYS])
        for key in keys:
            self._expired_at.pop(key, None)

    # in
    async def _deliver(self, client: Redis, messages: list[dict[str, Any]]) -> None:
        """Events as before, in runs; each notice in its place between them."""
        run: list[dict[str, Any]] = []
        for message in messages:
            case_id = _case_of(message.get("channel"))
            if case_id is None:
                run.append(message)
                continue
            if run:
                await super()._deliver(client, run)
                run = []
            await self._deliver_notice(client, case_id, message.get("data"))
        if run:
            await super()._deliver(client, run)

    async def _deliver_notice(self, client: Redis, case_id: str, data: object) -> None:
        if not isinstance(data, bytes) or self._own_marker in data:
            return  # our own echo
        stream = f"case:{case_id}"
        if self.gate and (data := self.gate.admit(stream, data)) is None:
            return  # unsigned or forged: counted in rejected
        try:
            decoded = json.loads(data)
            if not isinstance(decoded, dict) or "instance_id" not in decoded or "notice" not in decoded:
                raise ForeignEventError("not an instance's case notice")
            event = from_instance(stream, decoded)
            closes = decoded.get("closes") or []
            if not isinstance(closes, list) or not all(
                    isinstance(s, str) and s.partition(":")[0] in _KINDS for s in closes):
                raise ForeignEventError("closes must list streams")
        except (ValueError, ForeignEventError) as exc:
            self.errors += 1
            log.debug("Redis mirror: dropped a notice on %s: %s", notice_channel(case_id), exc)
            return
        assert event.id is not None
        if decoded.get("terminal"):
            data_json = encode_json({"id": event.id, **event.body})
            self._broadcaster.publish(stream, Frame(event.id, event.name, event.subject,
                                                    encode_frame(event.id, event.name, data_json)))
            self.received += 1
        else:
            newest = self._log.last_id(stream)
            if event.id > newest + 1 and stream in self._complete:
                await self._fill(client, stream, newest, event.id)  # what came before it, first
            self._flush([event])
        if closes:
            self._forget(closes)

    def _forget(self, streams: list[str]) -> None:
        """End ``streams`` here and delete this instance's copies of them (their subject is gone)."""
        started = time.monotonic()
        for stream in streams:
            self._broadcaster.close_stream(stream, "deleted")
            self._complete.discard(stream)
        self._log.forget_streams(streams)
        log.debug("Redis mirror: forgot %d deleted stream(s) in %.3f s", len(streams), time.monotonic() - started)
