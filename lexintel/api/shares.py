"""Case shares: who else may read (or also change) a case.

    GET    /cases/{case_id}/shares          the case's shares (owner or admin)
    POST   /cases/{case_id}/shares          {"user": NAME, "access": "read"|"write"} -> 201 (owner or admin)
    DELETE /cases/{case_id}/shares/{user}   -> 204 (owner or admin; a sharee may leave); their open streams of
                                            the case end

What a share tells the sharer (issue 13 item 14): that the name can receive shares, nothing more. The answer
carries the name and the access only (no user id, no role). An unknown name and a disabled user get the same
``404 user_not_found`` body, and failed names are limited to 10 a minute per caller (``429``), so sharing is no
tool for listing the accounts; admins, who can list users anyway, are told when the user is disabled. Sharing
with yourself (or with the case's owner) is a ``400``. Sharing again changes the access.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, delete, get, post
from litestar.params import JSONBody
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from lexintel.api.errors import error_responses
from lexintel.api.fields import JSON_BODY_MAX
from lexintel.api.models.users import NewShare, Share
from lexintel.auth.service import Auth, auth_of
from lexintel.auth.users import User
from lexintel.clock import utc_now_iso
from lexintel.errors import Forbidden, InvalidInput, NotFound, RateLimited
from lexintel.services import Services, Svc
from lexintel.store import access

__all__ = ["share_handlers"]

_OWN_CHECKS = {"case_access": "read"}  # the guard's write check is replaced by the owner/admin checks here


def _auth_on(request: Request[Any, Any, Any]) -> Auth:
    auth = auth_of(request.app)
    if not auth.enabled:
        raise InvalidInput("auth_off", "Authentication is off (LEXINTEL_AUTH=off): there are no users to share with.")
    return auth


def _require_owner(svc: Services, caller: User, case_id: str) -> str | None:
    """The case's owner id; Forbidden unless the caller owns the case or is an admin."""
    svc.records.case(case_id)  # 404 when missing (the guard already made a foreign case look missing)
    owner = access.case_owner(svc.db, case_id)
    if not caller.is_admin and owner != caller.id:
        raise Forbidden("not_owner", "Only the case's owner or an admin can change who it is shared with.")
    return owner


def _unknown(name: str) -> NotFound:
    return NotFound("user_not_found", f"No user named {name[:64]!r} can receive shares.")


@get("/cases/{case_id:str}/shares", tags=["cases"], opt=_OWN_CHECKS, responses=error_responses(403))
async def list_shares(case_id: str, request: Request[Any, Any, Any], caller: User, svc: Svc) -> list[Share]:
    """Who the case is shared with, and with what access (owner or admin)."""
    _auth_on(request)
    _require_owner(svc, caller, case_id)
    return [Share(case_id=case_id, user=r["name"], access=r["access"], created_at=r["created_at"])
            for r in access.shares_of(svc.db, case_id)]


@post("/cases/{case_id:str}/shares", status_code=HTTP_201_CREATED, tags=["cases"], opt=_OWN_CHECKS,
      request_max_body_size=JSON_BODY_MAX, responses=error_responses(400, 403, 404, 429))
async def share_case(case_id: str, data: JSONBody[NewShare], request: Request[Any, Any, Any], caller: User,
                     svc: Svc) -> Share:
    """Let another user read (``access: read``, the default) or also change (``write``) this case."""
    auth = _auth_on(request)
    owner = _require_owner(svc, caller, case_id)
    name = data.user.strip()
    wait = auth.share_limiter.retry_after("share", caller.id)
    if wait:
        raise RateLimited("too_many_attempts", f"Too many shares with unknown names; try again in {wait} s.",
                          retry_after=wait)
    if name.lower() == caller.name.lower():
        raise InvalidInput("cannot_share_with_self", "You cannot share a case with yourself.", field="user")
    record = auth.users.record(name)
    if record is None or record.disabled:
        if record is not None and caller.is_admin:
            raise NotFound("user_disabled", f"{record.name} is disabled: enable the account first.")
        auth.share_limiter.failed("share", caller.id)
        raise _unknown(name)
    if record.id == owner:
        raise InvalidInput("cannot_share_with_owner", f"{record.name} owns this case.", field="user")
    created = utc_now_iso()
    access.share_case(svc.db, case_id, record.id, data.access, created)
    svc.case_lists.changed(case_id, "shared", svc.records.case(case_id)["name"], {record.id})  # their open pages
    return Share(case_id=case_id, user=record.name, access=data.access, created_at=created)


@delete("/cases/{case_id:str}/shares/{user_name:str}", status_code=HTTP_204_NO_CONTENT, tags=["cases"],
        opt=_OWN_CHECKS, responses=error_responses(403, 404))
async def unshare_case(case_id: str, user_name: str, request: Request[Any, Any, Any], caller: User,
                       svc: Svc) -> None:
    """Stop sharing the case with a user (owner or admin; a sharee may remove their own share); the streams of
    the case that user has open end within a moment."""
    auth = _auth_on(request)
    leaving = user_name.strip().lower() == caller.name.lower()
    if not leaving:
        _require_owner(svc, caller, case_id)
    record = auth.users.record(user_name.strip())
    if record is None or not access.unshare_case(svc.db, case_id, record.id):
        raise NotFound("share_not_found", f"This case is not shared with {user_name[:64]!r}.")
    auth.streams.recheck_user(record.id)
    svc.case_lists.changed(case_id, "unshared", svc.records.case(case_id)["name"], {record.id})


share_handlers = [list_shares, share_case, unshare_case]
