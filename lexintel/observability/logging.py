"""Structured logs: one line per event, as ``key=value`` text or as JSON (``LEXINTEL_LOG_JSON=1``).

Callers log an *event name* plus fields through :func:`log_event`; the formatter renders them on one line
whatever they contain (newlines are escaped), so ``grep``, ``journalctl`` and log shippers see one record per
line. Fields carry ids, stages, codes and timings, never document text: the pipeline's page text does not pass
through here at all.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

__all__ = ["FIELDS_ATTR", "JSONFormatter", "TextFormatter", "configure_logging", "log_event"]

FIELDS_ATTR = "lexintel_fields"
EVENT_ATTR = "lexintel_event"


def log_event(logger: logging.Logger, event: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log one structured event: ``event`` names what happened, ``fields`` say about what."""
    if logger.isEnabledFor(level):
        logger.log(level, event, extra={EVENT_ATTR: event, FIELDS_ATTR: fields})


def _timestamp(record: logging.LogRecord) -> str:
    seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
    return f"{seconds}.{int(record.msecs):03d}Z"


def _text_value(value: Any) -> str:
    if isinstance(value, float):
        value = round(value, 3)
    text = str(value)
    if text == "" or any(ch in text for ch in ' "=\n\r\t'):
        return json.dumps(text, ensure_ascii=False)  # quoted, with \n escaped: still one line
    return text


class TextFormatter(logging.Formatter):
    """``2026-01-03T10:30:45.123Z INFO lexintel.http request method=GET path=/ status=200 ms=1.2``."""

    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] | None = getattr(record, FIELDS_ATTR, None)
        parts = [_timestamp(record), record.levelname, record.name, record.getMessage()]
        if fields:
            parts.extend(f"{key}={_text_value(value)}" for key, value in fields.items())
        line = " ".join(parts)
        if record.exc_info:
            line += " exc=" + json.dumps(self.formatException(record.exc_info), ensure_ascii=False)
        return line.replace("\n", "\\n")


class JSONFormatter(logging.Formatter):
    """One JSON object per line: ``ts``, ``level``, ``logger``, ``event`` (or ``msg``), then the fields."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {"ts": _timestamp(record), "level": record.levelname, "logger": record.name}
        event = getattr(record, EVENT_ATTR, None)
        if event is not None:
            out["event"] = event
        else:
            out["msg"] = record.getMessage()
        fields: dict[str, Any] | None = getattr(record, FIELDS_ATTR, None)
        if fields:
            for key, value in fields.items():
                out.setdefault(key, value)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def configure_logging(level: str = "INFO", json_lines: bool = False) -> None:
    """Send every logger (ours, uvicorn's, Litestar's) to stderr through one one-line formatter."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JSONFormatter() if json_lines else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "litestar"):
        named = logging.getLogger(name)
        named.handlers.clear()
        named.propagate = True
