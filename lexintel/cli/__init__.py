"""The terminal client: ``lexintel upload``, ``lexintel watch``, ``lexintel search``.

It talks to a running server over HTTP only (the same public API the web page uses), so it works against a
local or a remote instance alike. Modules: ``api`` (HTTP calls and friendly errors), ``sse_client`` (follow a
stream, resuming by Last-Event-ID), ``display`` (rich progress bars and the summary), and one module per command.
"""
