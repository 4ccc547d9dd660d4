"""ZIP intake: an uploaded archive unpacked, in the background, into its batch's documents.

The archive is checked whole first (:func:`lexintel.upload.archive.inspect`), then extracted in a worker thread
that reports each entry; skipped entries are logged and said on the batch stream, a refused archive fails
the batch. The extracted files become the batch's documents like any upload's.
"""

from __future__ import annotations

import logging
import threading
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import anyio.from_thread
import anyio.to_thread
from anyio.abc import TaskGroup, TaskStatus

from lexintel.batches.progress import mb
from lexintel.batches.tracker import BatchTracker
from lexintel.clock import utc_now_iso
from lexintel.documents import Documents, NewDocument
from lexintel.errors import Conflict, NotFound
from lexintel.pipeline.stages import batch_share
from lexintel.settings import Settings
from lexintel.store import batches as rows
from lexintel.store.db import Database
from lexintel.store.document_list import duplicate_of
from lexintel.store.files import IncomingFile
from lexintel.upload import archive
from lexintel.upload.archive import ArchiveRefused, Limits, Skipped

__all__ = ["ZipIntake"]

log = logging.getLogger(__name__)


class ZipIntake:
    """Unpacks uploaded ZIPs into batches; :meth:`run` hosts the unpacking jobs for the app's lifetime."""

    def __init__(self, settings: Settings, db: Database, batches: BatchTracker, documents: Documents,
                 incoming_dir: Path) -> None:
        self.settings = settings
        self.db = db
        self.batches = batches
        self.documents = documents
        self.incoming_dir = incoming_dir
        self._tg: TaskGroup | None = None

    @property
    def limits(self) -> Limits:
        """ZIP limits from the settings."""
        s = self.settings
        return Limits(s.zip_max_entries, s.zip_max_total_bytes, s.zip_max_ratio, s.zip_ratio_grace_bytes)

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Host unpacking jobs until cancelled."""
        async with anyio.create_task_group() as tg:
            self._tg = tg
            task_status.started()
            await anyio.sleep_forever()

    async def accept(self, case_id: str, filename: str, incoming: IncomingFile,
                     batch_id: str | None = None, duplicates: str = "skip") -> dict[str, Any]:
        """A ZIP on disk: (create its batch and) start unpacking it in the background; the 202 body, without
        documents yet. ``batch_id`` is a chunked upload's batch, which exists already. With
        ``duplicates="skip"`` an entry whose bytes are already in the case is a skipped entry (code
        ``duplicate``)."""
        if self._tg is None:
            await incoming.discard()
            raise Conflict("not_ready", "The server is starting or stopping; retry the upload in a moment.")
        await incoming.close()
        if batch_id is None:
            batch_id = self.batches.create(case_id, "zip", filename, bytes_total=incoming.size,
                                           message=f"Received {filename} ({mb(incoming.size)} MB)")
        else:
            rows.set_source_kind(self.db, batch_id, "zip")
        self._tg.start_soon(self._unpack, case_id, batch_id, filename, incoming.path, duplicates == "skip")
        return {"case_id": case_id, "batch_id": batch_id, "document_ids": [], "documents": [],
                "status": "processing", "stage": "unpacking"}

    async def _unpack(self, case_id: str, batch_id: str, filename: str, path: Path, skip_duplicates: bool) -> None:
        batches = self.batches
        stop = threading.Event()
        limits = self.limits
        try:
            batches.report(batch_id, "unpacking", 0.0, f"Checking {filename}")
            plan = await anyio.to_thread.run_sync(archive.inspect, path, limits)
            entries = len(plan.entries)
            batches.report(batch_id, "unpacking", 0.0, items_total=entries,
                           message=f"Unpacking {filename}: {entries} files of {plan.total_entries} entries")
            for skipped in plan.skipped:
                self._skip(batch_id, skipped)

            def progress(done: int, inflated: int, name: str) -> None:
                share = done / max(entries, 1)
                anyio.from_thread.run_sync(partial(
                    batches.report, batch_id, "unpacking", share, f"Unpacking {done}/{entries} ({mb(inflated)} MB): "
                    f"{name}", items_total=entries, items_done=done, throttle=done < entries))

            def on_skip(skipped: Skipped) -> None:
                anyio.from_thread.run_sync(self._skip, batch_id, skipped)

            job = partial(archive.extract, path, plan, self.incoming_dir, limits, progress=progress,
                          on_skip=on_skip, stop=stop)
            extracted = await anyio.to_thread.run_sync(job, abandon_on_cancel=True)
        except ArchiveRefused as refused:
            with self.db.transaction() as conn:
                rows.log(conn, batch_id, at=utc_now_iso(), level="refused", code=refused.code, name=filename,
                         message=refused.detail)
            batches.fail(batch_id, refused.code, refused.detail)
            return
        except Exception as exc:
            log.exception("unpacking batch %s failed", batch_id)
            batches.fail(batch_id, "unpack_failed", f"{filename} could not be unpacked ({type(exc).__name__}).")
            return
        finally:
            stop.set()
            with anyio.CancelScope(shield=True):
                await anyio.Path(path).unlink(missing_ok=True)
        docs = []
        for item in extracted:
            incoming = IncomingFile(item.path)
            incoming.size, incoming.head = item.size, item.head
            docs.append(NewDocument(item.filename, incoming, item.size, item.sha256, item.kind))
        if skip_duplicates:
            docs = await self._without_duplicates(case_id, batch_id, docs)
        if not docs:
            batches.fail(batch_id, "no_documents", f"{filename} holds no PDF or text file (see the batch log).")
            return
        rows.set_items_total(self.db, batch_id, len(docs))
        start, weight = batch_share("unpacking")
        batches.reached(batch_id, start + weight)
        try:
            await self.documents.create(case_id, docs, batch_id)
        except NotFound:  # the case was deleted while unpacking: create() removed the files
            return
        batches.documents_added(batch_id)

    async def _without_duplicates(self, case_id: str, batch_id: str, docs: list[NewDocument]) -> list[NewDocument]:
        """webui: entries whose bytes are already in the case (or earlier in the archive) are skipped entries."""
        keep: list[NewDocument] = []
        seen: dict[str, str] = {}
        for doc in docs:
            existing = duplicate_of(self.db, case_id, doc.sha256)
            same = existing["filename"] if existing is not None else seen.get(doc.sha256)
            if same is None:
                seen[doc.sha256] = doc.filename
                keep.append(doc)
                continue
            if doc.incoming is not None:
                await doc.incoming.discard()
            self.batches.skip(batch_id, "duplicate", doc.filename,
                              f"Skipped {doc.filename}: already in this case as {same}; not processed again.")
        return keep

    def _skip(self, batch_id: str, skipped: Skipped) -> None:
        self.batches.skip(batch_id, skipped.code, skipped.name, f"Skipped {skipped.name}: {skipped.detail}")
