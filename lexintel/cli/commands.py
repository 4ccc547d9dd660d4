"""The client commands' command line, and the one place their problems become one line on stderr.

Kept free of heavy imports (rich, httpx) so that building the parser costs nothing for ``lexintel serve``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

__all__ = ["CLIENT_COMMANDS", "add_client_commands", "run_client_command"]

CLIENT_COMMANDS = frozenset({"upload", "watch", "search", "cases", "docs", "text", "token"})


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--server", default=os.environ.get("LEXINTEL_SERVER", "http://127.0.0.1:8000"),
                   help="server URL or host:port (default: $LEXINTEL_SERVER or http://127.0.0.1:8000)")
    p.add_argument("--retry-for", type=float, default=120.0, metavar="SECONDS",
                   help="how long to wait for a server that went away before giving up (default: 120)")


def add_client_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``upload``, ``watch``, ``search``, ``cases``, ``docs``, ``text``, ``token``: clients of a running server."""
    u = sub.add_parser("upload", help="upload files, directories and ZIPs into a case and follow their progress",
                       description="Upload files, directories (walked, hidden files skipped) and ZIPs (each in a "
                       "request of its own) into a case, created when missing. Prints the batch and document ids "
                       "and a summary; exit 0 all indexed, 1 some failed, 2 usage or connection problem.")
    u.add_argument("paths", nargs="+", type=Path, metavar="FILE_OR_DIR")
    u.add_argument("--case", required=True, help="case name (created when missing)")
    u.add_argument("--max-request-mb", type=int, default=200,
                   help="per-request upload limit of the server; larger files use the resumable chunked upload")
    u.add_argument("--json", action="store_true", help="print one JSON object (case, batches, documents) at the end")
    _common(u)
    w = sub.add_parser("watch", help="follow a document's or a batch's live progress",
                       description="Follow a document or a batch (by id, as printed by upload) to its end.")
    w.add_argument("ident", metavar="DOCUMENT_OR_BATCH")
    w.add_argument("--json", action="store_true", help="print one JSON object (batches, documents) at the end")
    _common(w)
    q = sub.add_parser("search", help="full-text search; prints file, page and snippet")
    q.add_argument("query", metavar="QUERY")
    q.add_argument("--case", help="limit to this case (name or id)")
    q.add_argument("--limit", type=int, default=20, help="hits per page of results (1-100)")
    q.add_argument("--offset", type=int, default=0, help="hits to skip: the next page of results")
    q.add_argument("--mode", choices=("keyword", "semantic", "hybrid"),
                   help="default: hybrid when the passages have embeddings, else keyword")
    _common(q)
    c = sub.add_parser("cases", help="list the cases, with document counts and ids")
    c.add_argument("--json", action="store_true", help="print the cases as JSON")
    _common(c)
    d = sub.add_parser("docs", help="list a case's documents, with status, pages and ids")
    d.add_argument("case", metavar="CASE", help="case name or id")
    d.add_argument("--json", action="store_true", help="print the documents as JSON")
    _common(d)
    t = sub.add_parser("text", help="print a document's extracted text (all pages, or one)")
    t.add_argument("doc", metavar="DOC", help="document id (lexintel docs CASE lists them)")
    t.add_argument("--page", type=int, metavar="N", help="only page N (1-based), nothing added")
    _common(t)
    k = sub.add_parser("token", help="create, list or revoke your API tokens (for LEXINTEL_TOKEN)")
    ksub = k.add_subparsers(dest="token_command", required=True, metavar="{create,list,revoke}")
    user_help = "sign in as this user (password from LEXINTEL_PASSWORD or a prompt) instead of $LEXINTEL_TOKEN"
    kc = ksub.add_parser("create", help="create a token and print it (shown once)")
    kc.add_argument("--name", default="cli", help="a label for the token (default: cli)")
    kc.add_argument("--days", type=int, default=90, help="days until it expires, 1-365 (default: 90)")
    kl = ksub.add_parser("list", help="list your tokens (never their secrets)")
    kl.add_argument("--of", metavar="NAME", dest="of_user", help="admins: list this user's tokens instead")
    kr = ksub.add_parser("revoke", help="revoke one of your tokens")
    kr.add_argument("token_id", metavar="TOKEN_ID")
    for p in (kc, kl, kr):
        p.add_argument("--user", help=user_help)
        _common(p)


def _runner(args: argparse.Namespace) -> Callable[[], Coroutine[Any, Any, int]]:
    from lexintel.cli.api import server_url
    from lexintel.cli.session import Session

    session = Session(server_url(args.server), max(args.retry_for, 0.0))
    command = args.command
    if command == "upload":
        from lexintel.cli.upload import run_upload

        return lambda: run_upload(session, args.paths, args.case, max_request_mb=args.max_request_mb,
                                  json_out=args.json)
    if command == "watch":
        from lexintel.cli.watch import run_watch

        return lambda: run_watch(session, args.ident, json_out=args.json)
    if command == "search":
        from lexintel.cli.search import run_search

        return lambda: run_search(session, args.query, args.case, limit=args.limit, offset=args.offset,
                                  mode=args.mode)
    if command in ("cases", "docs"):
        from lexintel.cli.cases import run_cases, run_docs

        if command == "cases":
            return lambda: run_cases(session, json_out=args.json)
        return lambda: run_docs(session, args.case, json_out=args.json)
    if command == "text":
        from lexintel.cli.text import run_text

        return lambda: run_text(session, args.doc, args.page)
    from lexintel.cli.tokens import run_token

    return lambda: run_token(session, args.token_command, user=args.user, name=getattr(args, "name", "cli"),
                             days=getattr(args, "days", 90), token_id=getattr(args, "token_id", None),
                             of_user=getattr(args, "of_user", None))


def run_client_command(args: argparse.Namespace) -> int:
    """Run a client command; any problem ends as one line on stderr (exit 2), never a traceback."""
    import anyio

    from lexintel.cli.api import CliError, first_error

    name = f"lexintel {args.command}"
    try:
        return anyio.run(_runner(args))
    except BaseException as exc:  # the one place that turns everything into a line
        error = first_error(exc)
        if isinstance(error, KeyboardInterrupt):
            print(f"{name}: interrupted", file=sys.stderr)
            return 130
        if isinstance(error, SystemExit):
            raise
        if isinstance(error, CliError):
            print(f"{name}: {error}", file=sys.stderr)
            return error.exit_code
        if os.environ.get("LEXINTEL_DEBUG"):
            raise
        print(f"{name}: unexpected problem: {error or 'no details'} (LEXINTEL_DEBUG=1 shows where)", file=sys.stderr)
        return 2
