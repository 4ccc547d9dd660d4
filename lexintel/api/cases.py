"""Cases: create, list, show (with counts and the case stream's newest event id), rename, delete.

Renaming and deleting are for the case's owner and admins (403 ``not_owner`` for someone it is shared with;
404 for anyone who cannot read it, as for every case route). Both are told on the case stream: ``case_renamed``
(logged, replayed like any event) and a terminal ``case_deleted`` after which the stream ends.
"""

from __future__ import annotations

import msgspec
from litestar import Controller, delete, get, patch, post
from litestar.params import JSONBody
from litestar.response import Response

from lexintel.api.document_list import DOCUMENT_QUERY, DocumentQuery, list_documents_page
from lexintel.api.errors import error_responses
from lexintel.api.models.cases import Case, CaseDetail, CaseUpdate, NewCase
from lexintel.api.models.documents import Document
from lexintel.auth.access import owner_of_new_case, readable_cases
from lexintel.auth.users import User
from lexintel.cases import may_manage, valid_name
from lexintel.events.schema import stream_key
from lexintel.services import Svc
from lexintel.store.cases import owner_name, totals
from lexintel.store.records import case_json

__all__ = ["CaseController", "NewCase"]


class CaseController(Controller):
    path = "/cases"
    tags = ["cases"]

    @post("/")
    async def create_case(self, data: JSONBody[NewCase], svc: Svc, caller: User) -> Case:
        """Create a case owned by the caller."""
        name = valid_name(data.name)
        row = svc.records.create_case(name, data.description.strip()[:2000], owner_of_new_case(caller))
        svc.case_lists.changed(row["id"], "created", row["name"])  # the owner's other pages, and admins'
        return msgspec.convert(case_json(row), Case)

    @get("/")
    async def list_cases(self, svc: Svc, caller: User) -> list[Case]:
        """The cases the caller may read, newest first."""
        return [msgspec.convert(case_json(row), Case) for row in readable_cases(svc.db, caller)]

    @get("/{case_id:str}")
    async def show_case(self, case_id: str, svc: Svc, caller: User) -> CaseDetail:
        """One case with counts by status, what it holds, whether the caller may manage it, and
        ``last_event_id`` (open the case stream from there)."""
        row = svc.records.case(case_id)
        documents, passages, pages, size_bytes = totals(svc.db, case_id)
        body = case_json(row)
        body["documents_by_status"] = svc.records.case_counts(case_id)
        body["last_event_id"] = svc.events.last_id(stream_key("case", case_id))
        body.update(owner=owner_name(svc.db, row["owner_id"]), can_manage=may_manage(caller, row),
                    documents=documents, passages=passages, pages=pages, size_bytes=size_bytes)
        return msgspec.convert(body, CaseDetail)

    # case_access "read": the guard lets anyone who reads the case through (a read-only sharer too), so every
    # sharer hears the same 403 not_owner from the one check that matters here, may_manage()
    @patch("/{case_id:str}", responses=error_responses(403), opt={"case_access": "read"})
    async def rename_case(self, case_id: str, data: JSONBody[CaseUpdate], svc: Svc, caller: User) -> Case:
        """Rename the case (its owner or an admin); every open page hears it on the case stream."""
        return msgspec.convert(case_json(svc.cases.rename(case_id, data.name, caller)), Case)

    @delete("/{case_id:str}", responses=error_responses(403), opt={"case_access": "read"})
    async def delete_case(self, case_id: str, svc: Svc, caller: User) -> None:
        """Delete the case with its documents, files, passages, batches, unfinished uploads and events (its
        owner or an admin); open streams of the case get a final ``case_deleted`` event."""
        await svc.cases.delete(case_id, caller)

    @get("/{case_id:str}/documents", responses=error_responses(400), dependencies=DOCUMENT_QUERY)
    async def list_documents(self, case_id: str, svc: Svc, listing: DocumentQuery) -> Response[list[Document]]:
        """The case's documents with their current status, oldest first; with ``limit``, one page sorted and
        filtered as asked, and the number matching in all in the ``X-Total-Count`` header."""
        svc.records.case(case_id)
        return list_documents_page(svc, case_id, listing)
