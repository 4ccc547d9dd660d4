"""Configuration: ``LEXINTEL_*`` environment variables (and CLI options) -> one frozen dataclass.

Loaded once at start. A bad value stops the program with a message naming the variable, so a typo in a
deployment file is caught before the first upload rather than at the first document that needs it.
"""

from __future__ import annotations

import ipaddress
import os
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

__all__ = ["Settings", "SettingsError", "is_loopback_host"]

PREFIX = "LEXINTEL_"
MB = 1024 * 1024


class SettingsError(ValueError):
    """A configuration value could not be parsed; the message names the variable."""


def _bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"expected true/false, got {raw!r}")


def _optional_str(raw: str) -> str | None:
    return raw.strip() or None


def _optional_float(raw: str) -> float | None:
    return float(raw) if raw.strip() else None


_LABEL = r"[a-z0-9_]([a-z0-9_-]{0,62}[a-z0-9_])?"
_HOST_NAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*$")


def _host_list(raw: str) -> tuple[str, ...]:
    """``a.example, 10.0.0.5, [::1]``: host names or IP addresses, no ports; ``*`` alone accepts any Host."""
    out: list[str] = []
    for item in (part.strip().lower().rstrip(".") for part in raw.split(",")):
        if not item:
            continue
        bare = item[1:-1] if item.startswith("[") and item.endswith("]") else item
        if item == "*" or _HOST_NAME.match(item) or _is_ip(bare):
            out.append(bare)
        else:
            raise ValueError(f"{item!r} is not a host name or IP address (no scheme, port or path)")
    if "*" in out and len(out) > 1:
        raise ValueError("'*' (any host) cannot be combined with names")
    return tuple(out)


def _network_list(raw: str) -> tuple[str, ...]:
    """``127.0.0.1, 10.0.0.0/8``: addresses or networks of reverse proxies; ``*`` trusts every client."""
    out: list[str] = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        if item != "*":
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"{item!r} is not an IP address or network") from None
        out.append(item)
    return tuple(out)


_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _log_level(raw: str) -> str:
    """A level name :mod:`logging` and uvicorn both know; refused here so the message names the variable."""
    level = raw.strip().upper()
    if level not in _LOG_LEVELS:
        raise ValueError(f"expected one of {', '.join(_LOG_LEVELS)}")
    return level


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def is_loopback_host(host: str) -> bool:
    """True when binding ``host`` only accepts connections from this machine (127.0.0.0/8, ::1, localhost)."""
    name = host.strip().lower().rstrip(".").removeprefix("[").removesuffix("]")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Settings:
    """Every knob LexIntel has, with defaults that work on a laptop with nothing else installed."""

    data_dir: Path = Path("lexintel-data")
    database_path: Path | None = None  # default: <data_dir>/lexintel.db
    host: str = "127.0.0.1"
    port: int = 8000
    # Uploads: one multipart request may carry this much; larger files go through the chunked upload.
    max_request_bytes: int = 200 * MB
    max_file_bytes: int = 200 * MB
    max_files_per_batch: int = 1000
    # Pipeline.
    extraction_workers: int = field(default_factory=lambda: max(1, os.cpu_count() or 1))
    pipeline_concurrency: int = 0  # 0: same as extraction_workers
    document_timeout: float = 300.0  # wall-clock seconds per document extraction
    worker_memory_mb: int = 2048  # RLIMIT_AS of an extraction worker (0 disables)
    chunk_size: int = 1200  # characters; ~250-300 tokens, a common retrieval size
    chunk_overlap: int = 200
    pdf_boxes_flow: float | None = None  # None skips pdfminer's costly text-box clustering
    # Events and streams.
    progress_interval: float = 0.25  # min seconds between per-page progress events of one document
    ping_interval: float = 15.0
    sse_retry_ms: int = 3000
    subscriber_queue: int = 256  # frames buffered per SSE client before coalescing / disconnect
    # A stream for an id nobody has published yet waits this long (pinging) for an outside worker's first event
    # when the Redis mirror is on and outside-worker events are accepted; else it is a 404.
    unknown_stream_wait: float = 60.0
    # Batches: ZIP limits (checked before extraction and again while inflating) and chunked uploads.
    zip_max_entries: int = 1000
    zip_max_total_bytes: int = 10 * 1024 * MB  # uncompressed bytes of one archive
    zip_max_ratio: float = 100.0  # per entry, uncompressed:compressed
    zip_ratio_grace_bytes: int = 100 * 1024  # entries up to this size may exceed the ratio
    upload_max_bytes: int = 20 * 1024 * MB  # one file sent through the chunked upload
    upload_max_chunk_bytes: int = 64 * MB
    upload_ttl: float = 24 * 3600.0  # an upload session with no chunk for this long is deleted
    upload_idle_ttl: float = 3600.0  # ... and one that never received a chunk, after this long
    upload_max_sessions_per_user: int = 20  # open chunked sessions per case owner; more: 429
    upload_max_open_bytes_per_user: int = 20 * 1024 * MB  # declared bytes of a case owner's open sessions: 413
    storage_quota_bytes: int = 0  # per case owner: stored documents + open uploads; 0 = no quota (507 when over)
    upload_sweep_interval: float = 60.0
    max_uploads_in_flight_per_user: int = 8  # multipart uploads one user sends at once (0: no cap); more: 429
    # Optional services.
    redis_url: str | None = None
    # Events published to Redis by the original design's outside workers (no LexIntel instance id): None means
    # on when AUTH=off, off when accounts are on (anyone able to PUBLISH to Redis could then feed any stream).
    accept_outside_events: bool | None = None
    auth: str = "on"  # "off": one implicit local admin, for a single-user laptop (logged as a warning)
    instance_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    log_json: bool = False
    log_level: str = "INFO"
    shutdown_grace: float = 20.0  # seconds running extractions may finish after SIGTERM; the rest are requeued
    min_free_mb: int = 100  # /ready turns 503 when the data dir's file system has less free space than this
    # Refuse AUTH=off on a non-loopback HOST unless this is set: everyone who can reach the port would be admin.
    dangerous_auth_off_on_network: bool = False
    # HTTP edge (lexintel/api/http_guard.py and lexintel/api/http_edge.py), checked before any parsing.
    max_header_bytes: int = 32 * 1024  # request line + headers; larger: 431
    max_cookie_bytes: int = 16 * 1024  # the Cookie header(s); larger: 431
    header_timeout: float = 10.0  # seconds from connect (or a keep-alive request's first byte) to the blank line
    body_timeout: float = 30.0  # seconds a request body may send nothing while the server is reading it
    body_min_rate: int = 500  # bytes/s a body must average over each BODY_TIMEOUT window (0: only the stall check)
    max_pending_connections: int = 256  # sockets still sending request headers; past this the oldest is closed
    allowed_hosts: tuple[str, ...] = ()  # Host names accepted besides loopback names and HOST; ("*",): any
    trusted_proxies: tuple[str, ...] = ()  # proxies whose X-Forwarded-For/-Proto are believed; none by default
    # access: accounts and revocation (lexintel/auth): the password rule's minimum length, and how often open
    # streams re-check that their user, credential and share still exist (revocations made elsewhere).
    password_min_length: int = 12
    revocation_check_interval: float = 2.0
    # limits: open SSE streams per user (per client address with AUTH=off; 0: no cap), the per-address cap on
    # half-open sockets (0: only the global one), and the Redis mirror's shared secret (signed messages).
    max_streams_per_user: int = 64
    max_pending_per_address: int = 64
    redis_secret: str | None = field(default=None, repr=False)
    # embed: the embedding stage and semantic search (issue 14). "local": wordllama's bundled 256-d model (no
    # download, ever); "remote": an OpenAI-compatible /v1/embeddings endpoint; "off": keyword search only.
    embeddings: str = "local"
    embeddings_url: str | None = None  # e.g. http://127.0.0.1:11434/v1 (Ollama), or the full .../v1/embeddings
    embeddings_model: str | None = None  # the remote model's name, sent as "model" and recorded with the vectors
    embeddings_api_key: str | None = None  # sent as "Authorization: Bearer ..." when set
    embeddings_timeout: float = 30.0  # seconds per remote request (connect, read)
    embeddings_retries: int = 3  # attempts per remote request, with backoff (0.5 s doubling)
    embeddings_batch: int = 64  # passages per remote request
    embeddings_retry_interval: float = 60.0  # seconds between background retries of documents not embedded
    # hybrid search: the semantic list's weight in the rank fusion beside keyword's (1). Unset: by model (see
    # lexintel.search.service.semantic_weight): the bundled static model only re-orders near-ties, a remote model
    # (a transformer) votes as much as keyword.
    hybrid_semantic_weight: float | None = None
    # ocr: scanned pages read by Tesseract (the ``ocr`` stage) and email attachments as documents.
    ocr: str = "auto"  # auto: pages without usable text; force: every page of PDFs and images; off: none
    ocr_languages: str = "eng"  # Tesseract's -l ("eng+deu"); each needs its tesseract-ocr-<lang> package
    ocr_dpi: int = 300  # rendering resolution of a PDF page for OCR
    ocr_page_timeout: float = 60.0  # seconds of Tesseract per page; the document's OCR budget grows with its pages
    tesseract: str = "tesseract"  # the program, on PATH or as a path
    max_attachments: int = 100  # an email with more fails with a reason (each would become a document)

    @property
    def db_path(self) -> Path:
        """Where the SQLite file lives."""
        return self.database_path or self.data_dir / "lexintel.db"

    @property
    def outside_events(self) -> bool:
        """Whether outside workers' events are accepted (``LEXINTEL_ACCEPT_OUTSIDE_EVENTS``; default: AUTH=off)."""
        if self.accept_outside_events is None:
            return self.auth == "off"
        return self.accept_outside_events

    @property
    def concurrency(self) -> int:
        """How many documents the pipeline works on at once."""
        return self.pipeline_concurrency or self.extraction_workers

    def with_overrides(self, **changes: Any) -> Settings:
        """Return a copy with some fields replaced (CLI options, tests)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``LEXINTEL_*`` variables; raise :class:`SettingsError` naming a bad one."""
        env = os.environ if environ is None else environ
        parsers: dict[str, Callable[[str], Any]] = {
            "data_dir": Path,
            "database_path": Path,
            "host": str,
            "port": int,
            "max_request_bytes": int,
            "max_file_bytes": int,
            "max_files_per_batch": int,
            "extraction_workers": int,
            "pipeline_concurrency": int,
            "document_timeout": float,
            "worker_memory_mb": int,
            "chunk_size": int,
            "chunk_overlap": int,
            "pdf_boxes_flow": lambda raw: None if raw.strip().lower() in {"", "none"} else float(raw),
            "progress_interval": float,
            "ping_interval": float,
            "sse_retry_ms": int,
            "subscriber_queue": int,
            "unknown_stream_wait": float,
            "zip_max_entries": int,
            "zip_max_total_bytes": int,
            "zip_max_ratio": float,
            "zip_ratio_grace_bytes": int,
            "upload_max_bytes": int,
            "upload_max_chunk_bytes": int,
            "upload_ttl": float,
            "upload_idle_ttl": float,
            "upload_max_sessions_per_user": int,
            "upload_max_open_bytes_per_user": int,
            "storage_quota_bytes": int,
            "upload_sweep_interval": float,
            "max_uploads_in_flight_per_user": int,
            "redis_url": _optional_str,
            "accept_outside_events": _bool,
            "auth": str,
            "instance_id": str,
            "log_json": _bool,
            "log_level": _log_level,
            "shutdown_grace": float,
            "min_free_mb": int,
            "dangerous_auth_off_on_network": _bool,
            "max_header_bytes": int,
            "max_cookie_bytes": int,
            "header_timeout": float,
            "body_timeout": float,
            "body_min_rate": int,
            "max_pending_connections": int,
            "allowed_hosts": _host_list,
            "trusted_proxies": _network_list,
            # access: accounts and revocation
            "password_min_length": int,
            "revocation_check_interval": float,
            "max_streams_per_user": int,  # limits
            "max_pending_per_address": int,
            "redis_secret": _optional_str,
            # embed: embeddings
            "embeddings": lambda raw: raw.strip().lower(),
            "embeddings_url": _optional_str,
            "embeddings_model": _optional_str,
            "embeddings_api_key": _optional_str,
            "embeddings_timeout": float,
            "embeddings_retries": int,
            "embeddings_batch": int,
            "embeddings_retry_interval": float,
            "hybrid_semantic_weight": _optional_float,
            # ocr
            "ocr": lambda raw: raw.strip().lower(),
            "ocr_languages": str.strip,
            "ocr_dpi": int,
            "ocr_page_timeout": float,
            "tesseract": str.strip,
            "max_attachments": int,
        }
        values: dict[str, Any] = {}
        for f in fields(cls):
            key = PREFIX + f.name.upper()
            if key not in env:
                continue
            try:
                values[f.name] = parsers[f.name](env[key])
            except ValueError as exc:
                raise SettingsError(f"{key}={env[key]!r}: {exc}") from None
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        """Reject combinations that cannot work, naming the variable to fix."""
        checks = [
            (self.port < 0 or self.port > 65535, "PORT", "must be 0-65535"),
            (self.extraction_workers < 1, "EXTRACTION_WORKERS", "must be at least 1"),
            (self.chunk_size < 100, "CHUNK_SIZE", "must be at least 100 characters"),
            (not 0 <= self.chunk_overlap < self.chunk_size // 2, "CHUNK_OVERLAP", "must be < CHUNK_SIZE/2"),
            (self.document_timeout <= 0, "DOCUMENT_TIMEOUT", "must be positive"),
            (self.subscriber_queue < 8, "SUBSCRIBER_QUEUE", "must be at least 8"),
            (self.auth not in {"off", "on"}, "AUTH", "must be 'off' or 'on'"),
            (self.shutdown_grace < 0, "SHUTDOWN_GRACE", "must be >= 0 seconds"),
            (self.min_free_mb < 0, "MIN_FREE_MB", "must be >= 0"),
            (self.zip_max_entries < 1, "ZIP_MAX_ENTRIES", "must be at least 1"),
            (self.zip_max_ratio < 1, "ZIP_MAX_RATIO", "must be at least 1"),
            (self.upload_max_chunk_bytes < 1, "UPLOAD_MAX_CHUNK_BYTES", "must be positive"),
            (self.upload_ttl <= 0, "UPLOAD_TTL", "must be positive (seconds)"),
            (self.upload_idle_ttl <= 0, "UPLOAD_IDLE_TTL", "must be positive (seconds)"),
            (self.upload_max_sessions_per_user < 1, "UPLOAD_MAX_SESSIONS_PER_USER", "must be at least 1"),
            (self.upload_max_open_bytes_per_user < 1, "UPLOAD_MAX_OPEN_BYTES_PER_USER", "must be positive"),
            (self.storage_quota_bytes < 0, "STORAGE_QUOTA_BYTES", "must be 0 (off) or a number of bytes"),
            (self.upload_sweep_interval <= 0, "UPLOAD_SWEEP_INTERVAL", "must be positive (seconds)"),
            (self.max_uploads_in_flight_per_user < 0, "MAX_UPLOADS_IN_FLIGHT_PER_USER",
             "must be 0 (no cap) or a number of uploads"),
            (self.max_header_bytes < 4096, "MAX_HEADER_BYTES", "must be at least 4096"),
            (not 1024 <= self.max_cookie_bytes <= self.max_header_bytes, "MAX_COOKIE_BYTES",
             "must be at least 1024 and at most MAX_HEADER_BYTES"),
            (self.header_timeout <= 0, "HEADER_TIMEOUT", "must be positive (seconds)"),
            (self.body_timeout <= 0, "BODY_TIMEOUT", "must be positive (seconds)"),
            (self.body_min_rate < 0, "BODY_MIN_RATE", "must be >= 0 (bytes per second)"),
            (self.max_pending_connections < 1, "MAX_PENDING_CONNECTIONS", "must be at least 1"),
            # access: accounts and revocation
            (not 8 <= self.password_min_length <= 128, "PASSWORD_MIN_LENGTH", "must be 8-128 characters"),
            (not 0 < self.revocation_check_interval <= 60, "REVOCATION_CHECK_INTERVAL",
             "must be above 0 and at most 60 seconds"),
            # limits:
            (self.max_streams_per_user < 0, "MAX_STREAMS_PER_USER", "must be 0 (no cap) or a number of streams"),
            (self.max_pending_per_address < 0, "MAX_PENDING_PER_ADDRESS", "must be 0 (no cap) or a socket count"),
            (self.redis_secret is not None and len(self.redis_secret) < 16, "REDIS_SECRET",
             "must be at least 16 characters (a random string shared by every instance)"),
            # ocr
            (self.ocr not in {"auto", "off", "force"}, "OCR", "must be 'auto', 'off' or 'force'"),
            (re.fullmatch(r"[A-Za-z0-9_]+(\+[A-Za-z0-9_]+)*", self.ocr_languages) is None, "OCR_LANGUAGES",
             "must be Tesseract language codes joined by '+' (for example eng or eng+deu)"),
            (not 70 <= self.ocr_dpi <= 600, "OCR_DPI", "must be 70-600"),
            (self.ocr_page_timeout <= 0, "OCR_PAGE_TIMEOUT", "must be positive (seconds)"),
            (not self.tesseract, "TESSERACT", "must name the tesseract program or its path"),
            (not 0 <= self.max_attachments <= 10_000, "MAX_ATTACHMENTS", "must be 0-10000"),
            (self.auth == "off" and not is_loopback_host(self.host) and not self.dangerous_auth_off_on_network,
             "AUTH", f"'off' is refused with {PREFIX}HOST={self.host!r} (not a loopback address): everyone who can "
             "reach the port would act as admin. Bind to 127.0.0.1, turn auth on, or set "
             f"{PREFIX}DANGEROUS_AUTH_OFF_ON_NETWORK=1 if every client of that network may see every case"),
            # embed: embeddings
            (self.embeddings not in {"local", "remote", "off"}, "EMBEDDINGS", "must be 'local', 'remote' or 'off'"),
            (self.embeddings == "remote" and not (self.embeddings_url or "").startswith(("http://", "https://")),
             "EMBEDDINGS_URL", "must be an http:// or https:// URL when LEXINTEL_EMBEDDINGS=remote"),
            (self.embeddings == "remote" and not self.embeddings_model, "EMBEDDINGS_MODEL",
             "must name the endpoint's model when LEXINTEL_EMBEDDINGS=remote"),
            (self.embeddings_timeout <= 0, "EMBEDDINGS_TIMEOUT", "must be positive (seconds)"),
            (self.embeddings_retries < 1, "EMBEDDINGS_RETRIES", "must be at least 1 (attempts)"),
            (not 1 <= self.embeddings_batch <= 2048, "EMBEDDINGS_BATCH", "must be 1-2048 passages"),
            (self.embeddings_retry_interval <= 0, "EMBEDDINGS_RETRY_INTERVAL", "must be positive (seconds)"),
            (self.hybrid_semantic_weight is not None and not 0 <= self.hybrid_semantic_weight <= 10,
             "HYBRID_SEMANTIC_WEIGHT", "must be 0-10 (0: semantic hits only after keyword's; 1: equal votes)"),
        ]
        for bad, name, why in checks:
            if bad:
                raise SettingsError(f"{PREFIX}{name}: {why}")
