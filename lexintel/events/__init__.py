"""Progress events: schema and SSE framing, the durable per-stream log, the in-memory broadcaster, the Redis mirror.

Every event goes through :class:`lexintel.events.emitter.Emitter`: append to the log, then broadcast. Nothing
here knows HTTP: the SSE transport that streams frames to clients is :mod:`lexintel.api.sse`.
"""
