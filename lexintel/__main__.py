"""Console entry: ``lexintel serve`` (also ``python -m lexintel``)."""

from __future__ import annotations

import argparse
import os
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

    configure_logging(settings.log_level, json_lines=settings.log_json)
    _raise_fd_limit()
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


def build_parser() -> argparse.ArgumentParser:
    """The command line; every serve option also reads from its LEXINTEL_* variable."""
    parser = argparse.ArgumentParser(prog="lexintel", description=__doc__)
    sub = parser.add_subparsers(dest="command")
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


def add_client_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``upload``, ``watch``, ``search``: the terminal client of a running server (see lexintel/cli/)."""
    default_server = os.environ.get("LEXINTEL_SERVER", "http://127.0.0.1:8000")
    server_help = "server URL (default: $LEXINTEL_SERVER or http://127.0.0.1:8000)"
    u = sub.add_parser("upload", help="upload files, a directory or a ZIP into a case and follow progress")
    u.add_argument("paths", nargs="+", type=Path, metavar="FILE_OR_DIR")
    u.add_argument("--case", required=True, help="case name (created when missing)")
    u.add_argument("--server", default=default_server, help=server_help)
    u.add_argument("--max-request-mb", type=int, default=200,
                   help="per-request upload limit of the server; larger files use the chunked upload")
    w = sub.add_parser("watch", help="follow a document's or a batch's live progress")
    w.add_argument("ident", metavar="DOCUMENT_OR_BATCH")
    w.add_argument("--server", default=default_server, help=server_help)
    q = sub.add_parser("search", help="full-text search; prints file, page and snippet")
    q.add_argument("query", metavar="QUERY")
    q.add_argument("--case", help="limit to the case with this name")
    q.add_argument("--server", default=default_server, help=server_help)
    q.add_argument("--limit", type=int, default=20)


def run_client_command(args: argparse.Namespace) -> int:
    """Run a client command; problems become one line on stderr and exit status 2."""
    import anyio

    from lexintel.cli.api import CliError
    from lexintel.cli.search import run_search
    from lexintel.cli.upload import run_upload
    from lexintel.cli.watch import run_watch

    try:
        if args.command == "upload":
            return anyio.run(lambda: run_upload(args.server, args.paths, args.case,
                                                max_request_mb=args.max_request_mb))
        if args.command == "watch":
            return anyio.run(lambda: run_watch(args.server, args.ident))
        return anyio.run(lambda: run_search(args.server, args.query, args.case, limit=args.limit))
    except CliError as exc:
        print(f"lexintel {args.command}: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments and run the chosen command."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command in ("upload", "watch", "search"):
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
