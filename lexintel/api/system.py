"""Liveness and readiness."""

from __future__ import annotations

from typing import Any

from litestar import get
from litestar.response import Response

from lexintel.services import Services, Svc

__all__ = ["system_handlers"]


@get("/health", tags=["system"])
async def health() -> dict[str, str]:
    """The process is up and serving."""
    return {"status": "ok"}


@get("/ready", tags=["system"])
async def ready(svc: Svc) -> Response[dict[str, Any]]:
    """Ready to take work: database writable, pipeline running, accepting uploads (503 otherwise)."""
    checks = {
        "database": svc.db.writable(),
        "pipeline": svc.pipeline.alive,
        "accepting_uploads": svc.accepting_uploads,
    }
    ok = all(checks.values())
    body: dict[str, Any] = {"status": "ready" if ok else "not_ready", "checks": checks}
    return Response(body, status_code=200 if ok else 503)


system_handlers = [health, ready]
