"""Console entry: ``lexintel serve`` (also ``python -m lexintel``)."""

from __future__ import annotations

import argparse
import resource
import sys
from collections.abc import Sequence
from pathlib import Path

from lexintel.settings import Settings, SettingsError, is_loopback_host

__all__ = ["main"]


def _raise_fd_limit() -> None:
    """Each SSE client holds a socket: allow as many as the hard limit permits."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def serve(settings: Settings) -> int:
    """Run one LexIntel instance under uvicorn until SIGINT/SIGTERM."""
    from lexintel.api.http_edge import uvicorn_config
    from lexintel.app import create_app
    from lexintel.observability.logging import configure_logging
    from lexintel.observability.shutdown import GracefulServer, begin_shutdown
    from lexintel.pipeline.ocring import startup_check

    configure_logging(settings.log_level, json_lines=settings.log_json)
    fatal, warning = startup_check(settings)  # ocr: languages Tesseract lacks stop the start, with the fix
    if fatal is not None:
        print(f"lexintel: invalid configuration: {fatal}", file=sys.stderr)
        return 2
    if warning is not None:
        print(f"WARNING: {warning}", file=sys.stderr)
    _raise_fd_limit()
    # The event loop shares the GIL with short CPU-bound threads (chunking, reader queries): at CPython's 5 ms
    # switch interval each of its wake-ups could wait that long; 1 ms bounds it (issue 18's loaded p99).
    sys.setswitchinterval(0.001)
    app = create_app(settings)
    config = uvicorn_config(  # + header/body deadlines, half-open socket cap, proxy trust (api/http_edge.py)
        app, settings, lifespan="on", log_level=settings.log_level.lower(),
        backlog=4096, timeout_graceful_shutdown=int(settings.shutdown_grace) + 15,  # streams outlast the drain
        access_log=False, log_config=None,
    )

    def on_signal() -> None:  # SIGTERM/SIGINT: stop uploads, start the drain; streams end after it
        services = getattr(app.state, "services", None)
        if services is not None:
            begin_shutdown(services)

    server = GracefulServer(config, on_signal)
    if settings.auth == "off" and not is_loopback_host(settings.host):  # allowed only by the override
        print(f"WARNING: authentication is OFF on {settings.host} (LEXINTEL_DANGEROUS_AUTH_OFF_ON_NETWORK is set): "
              "anyone who can reach this port can read, change and delete every case.", file=sys.stderr)
    print(f"LexIntel serving on http://{settings.host}:{settings.port}  (data: {settings.data_dir.resolve()})",
          file=sys.stderr)
    server.run()
    return 0


DESCRIPTION = """LexIntel: self-hosted document ingestion with live progress.
"lexintel serve" runs the server; the other commands talk to a running one over HTTP (--server)."""


def build_parser() -> argparse.ArgumentParser:
    """The command line; every serve option also reads from its LEXINTEL_* variable."""
    from lexintel import __version__
    from lexintel.cli.commands import add_client_commands

    parser = argparse.ArgumentParser(prog="lexintel", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"lexintel {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    s = sub.add_parser("serve", help="run the server (embedded defaults: SQLite, no Redis)")
    s.add_argument("--host")
    s.add_argument("--port", type=int)
    s.add_argument("--data-dir", type=Path)
    s.add_argument("--workers", type=int, dest="extraction_workers", help="extraction worker processes")
    s.add_argument("--redis-url")
    add_client_commands(sub)
    from lexintel.auth.cli import add_user_commands

    add_user_commands(sub)  # `lexintel user add NAME [--role admin|member] [--token]` (issue 6)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments and run the chosen command."""
    from lexintel.cli.commands import CLIENT_COMMANDS, run_client_command

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command in CLIENT_COMMANDS:
        return run_client_command(args)
    from lexintel.store.private import restrict_umask

    restrict_umask()  # serve and user commands write the data dir: owner-only files whatever the umask
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"lexintel: invalid configuration: {exc}", file=sys.stderr)
        return 2
    if args.command == "user":
        from lexintel.auth.cli import run_user_command

        return run_user_command(args, settings)
    if args.command in (None, "serve"):
        overrides = {k: getattr(args, k, None) for k in ("host", "port", "data_dir", "extraction_workers",
                                                          "redis_url")}
        settings = settings.with_overrides(**overrides)
        try:
            settings.validate()
        except SettingsError as exc:
            print(f"lexintel: invalid configuration: {exc}", file=sys.stderr)
            return 2
        return serve(settings)
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
