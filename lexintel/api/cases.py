"""Cases: create, list, show (with document counts and the case stream's newest event id)."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, get, post
from litestar.params import JSONBody

from lexintel.auth.access import owner_of_new_case, readable_cases
from lexintel.auth.users import User
from lexintel.errors import BadRequest
from lexintel.events.schema import stream_key
from lexintel.services import Svc
from lexintel.store.records import case_json, document_json

__all__ = ["CaseController", "NewCase"]


class NewCase(msgspec.Struct):
    """Body of ``POST /cases``."""

    name: str
    description: str = ""


class CaseController(Controller):
    path = "/cases"
    tags = ["cases"]

    @post("/")
    async def create_case(self, data: JSONBody[NewCase], svc: Svc, caller: User) -> dict[str, Any]:
        """Create a case owned by the caller."""
        name = data.name.strip()
        if not name or len(name) > 200:
            raise BadRequest("invalid_name", "A case needs a name of 1-200 characters.")
        return case_json(svc.records.create_case(name, data.description.strip()[:2000], owner_of_new_case(caller)))

    @get("/")
    async def list_cases(self, svc: Svc, caller: User) -> list[dict[str, Any]]:
        """The cases the caller may read, newest first."""
        return [case_json(row) for row in readable_cases(svc.db, caller)]

    @get("/{case_id:str}")
    async def show_case(self, case_id: str, svc: Svc) -> dict[str, Any]:
        """One case with counts by status and ``last_event_id`` (open the case stream from there)."""
        body = case_json(svc.records.case(case_id))
        body["documents_by_status"] = svc.records.case_counts(case_id)
        body["last_event_id"] = svc.events.last_id(stream_key("case", case_id))
        return body

    @get("/{case_id:str}/documents")
    async def list_documents(self, case_id: str, svc: Svc) -> list[dict[str, Any]]:
        """The case's documents with their current status."""
        svc.records.case(case_id)
        return [document_json(row) for row in svc.records.documents(case_id)]
