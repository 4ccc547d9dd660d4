"""Cases: create, list, show (with document counts and the case stream's newest event id)."""

from __future__ import annotations

import msgspec
from litestar import Controller, get, post
from litestar.params import JSONBody

from lexintel.api.models.cases import Case, CaseDetail, NewCase
from lexintel.api.models.documents import Document
from lexintel.auth.access import owner_of_new_case, readable_cases
from lexintel.auth.users import User
from lexintel.errors import InvalidInput
from lexintel.events.schema import stream_key
from lexintel.services import Svc
from lexintel.store.records import case_json, document_json

__all__ = ["CaseController", "NewCase"]


class CaseController(Controller):
    path = "/cases"
    tags = ["cases"]

    @post("/")
    async def create_case(self, data: JSONBody[NewCase], svc: Svc, caller: User) -> Case:
        """Create a case owned by the caller."""
        name = data.name.strip()
        if not name or len(name) > 200:
            raise InvalidInput("invalid_name", "A case needs a name of 1-200 characters.")
        row = svc.records.create_case(name, data.description.strip()[:2000], owner_of_new_case(caller))
        return msgspec.convert(case_json(row), Case)

    @get("/")
    async def list_cases(self, svc: Svc, caller: User) -> list[Case]:
        """The cases the caller may read, newest first."""
        return [msgspec.convert(case_json(row), Case) for row in readable_cases(svc.db, caller)]

    @get("/{case_id:str}")
    async def show_case(self, case_id: str, svc: Svc) -> CaseDetail:
        """One case with counts by status and ``last_event_id`` (open the case stream from there)."""
        body = case_json(svc.records.case(case_id))
        body["documents_by_status"] = svc.records.case_counts(case_id)
        body["last_event_id"] = svc.events.last_id(stream_key("case", case_id))
        return msgspec.convert(body, CaseDetail)

    @get("/{case_id:str}/documents")
    async def list_documents(self, case_id: str, svc: Svc) -> list[Document]:
        """The case's documents with their current status."""
        svc.records.case(case_id)
        return [msgspec.convert(document_json(row), Document) for row in svc.records.documents(case_id)]
