"""Operability: Prometheus metrics, structured one-line logs, request logging, graceful shutdown.

Everything here observes the running parts through their public surface (stats counters, emitter listeners,
the broadcaster) so the pipeline and the event path stay free of monitoring code. What it reads is declared in
:mod:`lexintel.observability.sources`; :mod:`lexintel.instrumentation` connects it to an instance. Nothing here
imports ``lexintel.services`` (the package ``__init__`` imports nothing, so ``observability.logging`` can be used
from anywhere without pulling in metrics).
"""
