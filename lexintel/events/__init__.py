"""Progress events: schema, durable per-stream log, the in-memory broadcaster and SSE framing.

Every event goes through :class:`lexintel.events.emitter.Emitter`: append to the log, then broadcast.
"""
