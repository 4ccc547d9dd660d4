"""``lexintel cases`` and ``lexintel docs CASE``: what is on the server, with the ids the other commands take."""

from __future__ import annotations

import json
from typing import Any

import anyio
from rich.console import Console
from rich.table import Table
from rich.text import Text

from lexintel.cli.api import CliError, check, segment
from lexintel.cli.connection import Connection
from lexintel.cli.display import STATUS_STYLES, STATUS_WORDS
from lexintel.cli.session import Session

__all__ = ["find_or_create_case", "resolve_case", "run_cases", "run_docs"]

STATUSES = ("pending", "processing", "indexed", "needs_ocr", "failed")
PARALLEL = 8  # case detail requests in flight at once


async def find_or_create_case(conn: Connection, name: str) -> tuple[dict[str, Any], bool]:
    """The case named ``name`` (the newest if several share it), created when missing; and whether it was new."""
    cases = check(await conn.request("GET", "/cases"))
    for case in cases:  # newest first
        if case["name"] == name:
            return case, False
    created = check(await conn.request("POST", "/cases", json={"name": name}), expected=(200, 201))
    return created, True


async def resolve_case(conn: Connection, ident: str) -> dict[str, Any]:
    """The case with this id, else the newest case with this name."""
    cases: list[dict[str, Any]] = check(await conn.request("GET", "/cases"))
    match = next((c for c in cases if c["id"] == ident), None) or next((c for c in cases if c["name"] == ident),
                                                                        None)
    if match is None:
        raise CliError(f"no case named {ident!r} nor with that id (`lexintel cases` lists them)")
    return match


async def run_cases(session: Session, *, json_out: bool = False, out: Console | None = None) -> int:
    """Every case the caller can read, newest first, with document counts by status."""
    out = out or Console()
    async with session.connect() as conn:
        cases: list[dict[str, Any]] = check(await conn.request("GET", "/cases"))
        details: dict[str, dict[str, Any]] = {}
        limit = anyio.Semaphore(PARALLEL)

        async def detail(case_id: str) -> None:
            async with limit:
                details[case_id] = check(await conn.request("GET", f"/cases/{segment(case_id)}"))

        async with anyio.create_task_group() as tg:
            for case in cases:
                tg.start_soon(detail, case["id"])
    for case in cases:
        case["documents_by_status"] = details[case["id"]].get("documents_by_status") or {}
    if json_out:
        out.file.write(json.dumps(cases) + "\n")
        return 0
    if not cases:
        out.print("No cases yet (`lexintel upload FILES --case NAME` creates one).")
        return 0
    table = Table(title=f"{len(cases)} case{'s' if len(cases) != 1 else ''}", title_justify="left")
    for column in ("Name", "Documents", "Indexed", "Needs OCR", "Failed", "Created", "Id"):
        table.add_column(column, justify="right" if column in ("Documents", "Indexed", "Needs OCR", "Failed")
                         else "left", overflow="fold", no_wrap=column == "Id")
    for case in cases:
        counts = case["documents_by_status"]
        table.add_row(Text(case["name"]), str(sum(counts.values())), str(counts.get("indexed", 0)),
                      str(counts.get("needs_ocr", 0)), str(counts.get("failed", 0)),
                      case["created_at"][:19].replace("T", " "), case["id"])
    out.print(table)
    return 0


async def run_docs(session: Session, ident: str, *, json_out: bool = False, out: Console | None = None) -> int:
    """The documents of one case (by name or id): file, status, pages, details and the id."""
    out = out or Console()
    async with session.connect() as conn:
        case = await resolve_case(conn, ident)
        docs: list[dict[str, Any]] = check(await conn.request("GET", f"/cases/{segment(case['id'])}/documents"))
    if json_out:
        out.file.write(json.dumps({"case": case, "documents": docs}) + "\n")
        return 0
    table = Table(title=f"{case['name']}: {len(docs)} document{'s' if len(docs) != 1 else ''}", title_justify="left")
    for column in ("File", "Status", "Pages", "Details", "Id"):
        table.add_column(column, justify="right" if column == "Pages" else "left", overflow="fold",
                         no_wrap=column == "Id")
    for doc in docs:
        style = STATUS_STYLES.get(doc["status"], "yellow")
        details = doc.get("error_message") or ("" if doc["status"] == "indexed" else doc.get("message") or "")
        pages = "" if doc.get("pages_total") is None else str(doc["pages_total"])
        shown = STATUS_WORDS.get(doc["status"], doc["status"])
        table.add_row(Text(doc["filename"]), Text(shown, style=style), pages, Text(details), doc["id"])
    out.print(table)
    return 0
