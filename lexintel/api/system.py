"""Liveness, readiness and metrics: what a load balancer, an orchestrator and Prometheus ask."""

from __future__ import annotations

from typing import Any

import anyio.to_thread
import msgspec
from litestar import get
from litestar.openapi.datastructures import ResponseSpec
from litestar.response import Response

from lexintel.api.models.system import Health, Readiness
from lexintel.observability.metrics import CONTENT_TYPE, free_bytes
from lexintel.pipeline import ocring
from lexintel.services import Services, Svc

__all__ = ["system_handlers"]


@get("/health", tags=["system"], opt={"public": True})
async def health() -> Health:
    """The process is up and its event loop answers (liveness: restart the process if this fails)."""
    return Health(status="ok")


def _mirror_report(svc: Services) -> dict[str, Any]:
    mirror = svc.mirror
    if mirror is None:
        return {"state": "disabled"}
    snapshot = getattr(mirror, "snapshot", None)
    if callable(snapshot):
        report: dict[str, Any] = dict(snapshot())
        return report
    return {"state": str(getattr(mirror, "state", "unknown"))}


_NOT_READY = {503: ResponseSpec(data_container=Readiness, generate_examples=False,
                                description="Not ready: the same body, with the failing checks false.")}


@get("/ready", tags=["system"], opt={"public": True}, responses=_NOT_READY)
async def ready(svc: Svc) -> Response[Readiness]:
    """Ready to take work: database writable, pipeline running, accepting uploads, free disk space (503 otherwise).

    The optional Redis mirror is reported but never makes the instance unready: without Redis it still serves
    its own uploads and streams, and the mirror reconnects by itself. OCR is reported (``checks.ocr`` and
    ``ocr.problem``) and makes it unready only with ``LEXINTEL_OCR=force``.
    """
    free = free_bytes(svc.settings.data_dir)
    checks = {
        "database": svc.db.writable(),
        "pipeline": svc.pipeline.alive,
        "accepting_uploads": svc.accepting_uploads,
        "disk_space": free >= svc.settings.min_free_mb * 1024 * 1024,
    }
    ocr_problem = await anyio.to_thread.run_sync(ocring.problem, svc.settings)  # may run `tesseract --list-langs`
    checks["ocr"] = ocr_problem is None
    ok = all(value for name, value in checks.items() if name != "ocr" or svc.settings.ocr == "force")
    body: dict[str, Any] = {"status": "ready" if ok else "not_ready", "checks": checks,
                            "data_dir_free_bytes": free, "redis_mirror": _mirror_report(svc),
                            "ocr": {"mode": svc.settings.ocr, "languages": svc.settings.ocr_languages,
                                    "problem": ocr_problem}}
    if not svc.accepting_uploads:
        body["detail"] = "shutting down"
    return Response(msgspec.convert(body, Readiness), status_code=200 if ok else 503)


@get("/metrics", tags=["system"], media_type=CONTENT_TYPE, opt={"public": True})
async def metrics(svc: Svc) -> Response[bytes]:
    """Prometheus text exposition (documents by status, stage durations, events, streams, Redis, workers)."""
    return Response(svc.metrics.render(), media_type=CONTENT_TYPE)


system_handlers = [health, ready, metrics]
