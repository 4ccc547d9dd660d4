"""The case lifecycle beyond creating one: rename and delete, each told live on the case's stream.

Renaming writes the new name and a ``case_renamed`` event on the case stream in one transaction (so a tab that
reconnects gets it on replay, like any event). Both a rename and a deletion also reach every open page whose case
list holds the case, whatever case it has open (``cases_changed``, :mod:`lexintel.case_list`). Deleting a case:

1. marks the case gone for the emitter (:attr:`Emitter.deleted_cases`), so work still in flight for it (a
   batch's timer, an unpacking ZIP, a document between two stages) writes nothing more;
2. stops its documents being processed (a queued one finds its row gone when a worker claims it);
3. deletes every row of it (:mod:`lexintel.store.cases`: documents, pages, passages and their index, batches,
   upload sessions, shares, the event log, and whatever other tables registered a clean-up) in transactions
   of at most :data:`DELETE_SLICE` rows, the event loop free in between (one transaction for a big case held
   it for seconds: every stream and request of the instance waited);
4. sends a terminal ``case_deleted`` frame to everyone following the case stream, then ends that stream and
   its documents' and batches' streams (reason ``deleted``), through :meth:`Emitter.tell`, so the Redis mirror
   tells the other instances too (:mod:`lexintel.events.mirror_notices`);
5. removes the files (originals, chunks of unfinished uploads) in a worker thread, after the commit: a crash
   in between leaves only unreferenced files, never rows without their files.

An upload into the case that is still arriving when the case goes is refused at the end (404, its files
removed) by :meth:`lexintel.documents.Documents.create`.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import anyio.lowlevel
import anyio.to_thread

from lexintel.auth.users import User
from lexintel.case_list import CaseLists
from lexintel.clock import utc_now_iso
from lexintel.errors import Forbidden, InvalidInput
from lexintel.events.emitter import Emitter
from lexintel.events.log import EventLog
from lexintel.events.notice import Notice
from lexintel.events.schema import encode_json, stream_key
from lexintel.pipeline.queue import WorkQueue
from lexintel.store import cases as sql
from lexintel.store.cases import CaseContents
from lexintel.store.db import Database
from lexintel.store.records import Records

__all__ = ["CASE_DELETED", "CASE_RENAMED", "Cases", "may_manage", "valid_name"]

CASE_RENAMED = "case_renamed"
CASE_DELETED = "case_deleted"
NAME_LIMIT = 200
DELETE_SLICE = 100
"""Rows (passages, pages or documents) deleted per write transaction, so that no transaction holds the event loop
for long (``python -m scripts.bench_case_delete`` prints the longest pause)."""


def valid_name(raw: str) -> str:
    """A case name as stored: trimmed, 1-200 characters, no control characters."""
    name = " ".join(raw.split())  # newlines and tabs would break one-line displays (CLI tables, the page)
    if not name or len(name) > NAME_LIMIT:
        raise InvalidInput("invalid_name", f"A case needs a name of 1-{NAME_LIMIT} characters.")
    return name


def may_manage(user: User, case: sqlite3.Row) -> bool:
    """Renaming, deleting and sharing a case is for its owner and admins (people it is shared with work in
    it: upload, retry, delete documents, but cannot take it away from its owner)."""
    return user.is_admin or (case["owner_id"] is not None and case["owner_id"] == user.id)


class Cases:
    """Rename and delete cases (creating one is :meth:`Records.create_case`)."""

    def __init__(self, db: Database, records: Records, events: EventLog, emitter: Emitter, queue: WorkQueue,
                 uploads_dir: Path, case_lists: CaseLists) -> None:
        self._db = db
        self._records = records
        self._events = events
        self._emitter = emitter
        self._case_lists = case_lists
        self._queue = queue
        self._uploads_dir = uploads_dir

    def _require_manager(self, user: User, case: sqlite3.Row, what: str) -> None:
        if not may_manage(user, case):
            raise Forbidden("not_owner", f"Only the case's owner or an admin can {what} it.")

    @staticmethod
    def _case_event(case_id: str, name: str, body: dict[str, object], event_id: int, *, terminal: bool = False,
                    closes: tuple[str, ...] = ()) -> Notice:
        data = encode_json({"id": event_id, "case_id": case_id, **body, "timestamp": utc_now_iso()})
        return Notice(case_id, event_id, name, stream_key("case", case_id), data, terminal, closes)

    def rename(self, case_id: str, new_name: str, by: User) -> sqlite3.Row:
        """Set the case's name and tell its stream (``case_renamed``: ``name``, ``previous_name``, ``by``)."""
        case = self._records.case(case_id)
        self._require_manager(by, case, "rename")
        name = valid_name(new_name)
        if name == case["name"]:
            return case
        stream = stream_key("case", case_id)
        event_id = self._events.reserve(stream)
        notice = self._case_event(case_id, CASE_RENAMED,
                                  {"name": name, "previous_name": case["name"], "by": by.name}, event_id)
        with self._db.transaction() as conn:
            sql.rename_case(conn, case_id, name)
            self._events.append(conn, stream, event_id, 0, CASE_RENAMED, notice.data)
        self._events.commit_ids({stream: event_id})
        self._emitter.tell(notice)
        self._case_lists.changed(case_id, "renamed", name)
        return self._records.case(case_id)

    async def delete(self, case_id: str, by: User) -> CaseContents:
        """Delete the case and everything of it (see the module docstring); returns what was removed."""
        case = self._records.case(case_id)
        self._require_manager(by, case, "delete")
        held = sql.contents(self._db, case_id)
        audience = self._case_lists.audience(case_id)  # before the shares go
        self._emitter.deleted_cases.add(case_id)
        for document_id in held.document_ids:
            self._queue.cancel(document_id)
        stream = stream_key("case", case_id)
        final_id = self._events.last_id(stream) + 1
        try:
            with anyio.CancelScope(shield=True):  # a client hanging up must not stop a delete half-way
                with self._db.transaction() as conn:
                    sql.run_cleanups(conn, case_id)
                while True:
                    with self._db.transaction() as conn:
                        if not sql.delete_some(conn, case_id, DELETE_SLICE):
                            break
                    await anyio.lowlevel.checkpoint()  # let requests and streams run between slices
                late = sql.contents(self._db, case_id)  # arrived meanwhile; no await from here to the commit
                for document_id in late.document_ids:
                    self._queue.cancel(document_id)
                with self._db.transaction() as conn:
                    sql.delete_case(conn, case_id)
        except BaseException:
            self._emitter.deleted_cases.discard(case_id)  # what is left of the case works as before
            raise
        self._events.commit_ids({stream: final_id})  # never reused, though the log is gone
        closes = (stream, *(stream_key("document", d) for d in {*held.document_ids, *late.document_ids}),
                  *(stream_key("batch", b) for b in held.batch_ids))
        self._emitter.tell(self._case_event(case_id, CASE_DELETED, {"name": case["name"], "by": by.name}, final_id,
                                            terminal=True, closes=closes))
        self._case_lists.changed(case_id, "deleted", case["name"], audience)
        paths = [Path(p) for p in {*held.storage_paths, *late.storage_paths}]
        folders = [self._uploads_dir / upload_id for upload_id in {*held.upload_ids, *late.upload_ids}]
        await anyio.to_thread.run_sync(_remove_files, paths, folders)
        return held


def _remove_files(paths: list[Path], folders: list[Path]) -> None:
    """Unlink the originals and the chunk folders of unfinished uploads (missing ones are fine)."""
    for path in paths:
        path.unlink(missing_ok=True)
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)
