"""The terminal client: ``upload``, ``watch``, ``search``, ``cases``, ``docs``, ``text``, ``token``.

It talks to a running server over HTTP only (the same public API the web page uses), so it works against a
local or a remote instance alike. Modules: ``commands`` (the command line, and the one place problems become one
line on stderr), ``session``/``connection`` (the client, and retrying across a server outage), ``api`` (errors
and helpers), ``sse_client`` (follow a stream, resuming by Last-Event-ID), ``board`` (the counts an upload or a
watch keeps) and ``display`` (the live view and the summary), ``chunked``/``memo`` (resumable chunked uploads),
and one module per command.
"""
