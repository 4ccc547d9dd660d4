"""User management (admins), and changing one's own password.

    GET    /users                   every user: name, role, disabled, created_at (admins)
    POST   /users                   {"name", "password", "role"?} -> 201 (admins)
    PATCH  /users/{name}            {"disabled"?, "role"?} (admins)
    POST   /users/{name}/password   {"password", "current_password"?} -> 204: an admin sets anyone's; a user
                                    changes their own with the current password
    DELETE /users/{name}            -> 204 (admins); ``?transfer_to=OTHER`` gives OTHER the cases they own

What ends when: disabling a user deletes their login sessions, and their API tokens and stream tokens stop
working while they are disabled (enabling them again restores the tokens); deleting a user deletes their tokens,
sessions and shares. Either way their open streams end at once. A new password ends the user's other login
sessions (an admin's reset ends all of them) and the streams opened through them; API tokens are separate
credentials and stay (revoke them with ``DELETE /auth/tokens/{id}``). A user who owns cases is not deleted
unless ``transfer_to`` names who gets them (409 ``user_owns_cases`` says how many): cases are never deleted as a
side effect. The last enabled admin cannot be disabled, demoted or deleted (409 ``last_admin``), and admins
cannot disable or delete themselves here (``lexintel user`` on the data dir can).
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, delete, get, patch, post
from litestar.params import JSONBody
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from lexintel.api.errors import error_responses
from lexintel.api.fields import JSON_BODY_MAX
from lexintel.api.models.users import NewUser, PasswordChange, UserAccount, UserPatch
from lexintel.auth.service import Auth, auth_of
from lexintel.auth.sessions import COOKIE_NAME
from lexintel.auth.users import User, UserRecord
from lexintel.errors import Forbidden, InvalidInput, NotAuthenticated, NotFound, RateLimited

__all__ = ["user_handlers"]


def _auth_on(request: Request[Any, Any, Any]) -> Auth:
    auth = auth_of(request.app)
    if not auth.enabled:
        raise InvalidInput("auth_off", "Authentication is off (LEXINTEL_AUTH=off): there are no user accounts.")
    return auth


def _admin(caller: User) -> None:
    if not caller.is_admin:
        raise Forbidden("admin_only", "Only an admin can manage users.")


def _record(auth: Auth, name: str) -> UserRecord:
    record = auth.users.record(name.strip())
    if record is None:
        raise NotFound("user_not_found", f"No user named {name.strip()[:64]!r}.")
    return record


def _view(record: UserRecord) -> UserAccount:
    return msgspec.convert(record, UserAccount, from_attributes=True)


@get("/users", tags=["users"], responses=error_responses(403))
async def list_users(request: Request[Any, Any, Any], caller: User) -> list[UserAccount]:
    """Every user, by name (admins)."""
    auth = _auth_on(request)
    _admin(caller)
    return [_view(r) for r in auth.users.list()]


@post("/users", status_code=HTTP_201_CREATED, tags=["users"], request_max_body_size=JSON_BODY_MAX,
      responses=error_responses(400, 403, 409))
async def create_user(data: JSONBody[NewUser], request: Request[Any, Any, Any], caller: User) -> UserAccount:
    """Create a user (admins); the password must pass the rule (length, not common, not the name)."""
    auth = _auth_on(request)
    _admin(caller)
    user = await auth.users.create_async(data.name.strip(), data.password, data.role)
    return _view(_record(auth, user.name))


@patch("/users/{user_name:str}", tags=["users"], request_max_body_size=JSON_BODY_MAX,
       responses=error_responses(400, 403, 404, 409))
async def update_user(user_name: str, data: JSONBody[UserPatch], request: Request[Any, Any, Any],
                      caller: User) -> UserAccount:
    """Disable or enable a user, or change their role (admins); a disabled user's streams end at once."""
    auth = _auth_on(request)
    _admin(caller)
    record = _record(auth, user_name)
    if record.id == caller.id and (data.disabled or (data.role is not None and data.role != record.role)):
        raise InvalidInput("cannot_change_self", "You cannot disable yourself or change your own role; ask "
                           "another admin.", field="disabled" if data.disabled else "role")
    updated = auth.users.update(record, role=data.role, disabled=data.disabled)
    if updated.disabled:
        auth.streams.end_user(updated.id)
    elif data.role is not None:
        auth.streams.recheck_user(updated.id)  # an admin made member no longer reads every case
    return _view(updated)


@post("/users/{user_name:str}/password", status_code=HTTP_204_NO_CONTENT, tags=["users"],
      request_max_body_size=JSON_BODY_MAX, responses=error_responses(400, 401, 403, 404, 429))
async def change_password(user_name: str, data: JSONBody[PasswordChange], request: Request[Any, Any, Any],
                          caller: User) -> None:
    """Set a new password: admins for anyone (ending all their sessions); a user their own, with the current
    password (ending their other sessions)."""
    auth = _auth_on(request)
    own = user_name.strip().lower() == caller.name.lower()
    if not own and not caller.is_admin:
        raise Forbidden("not_your_account", "You can only change your own password.")
    record = _record(auth, user_name)
    if own and not caller.is_admin:
        address = request.client.host if request.client else "?"
        wait = auth.limiter.retry_after(record.name, address)
        if wait:
            raise RateLimited("too_many_attempts", f"Too many wrong passwords; try again in {wait} s.",
                              retry_after=wait)
        if data.current_password is None or not await auth.users.verify(record.id, data.current_password):
            auth.limiter.failed(record.name, address)
            raise NotAuthenticated("invalid_credentials", "The current password is wrong.")
    await auth.users.set_password_async(record, data.password)
    secret = request.cookies.get(COOKIE_NAME) if own else None
    keep = auth.sessions.get(secret) if secret else None
    auth.sessions.end_all(record.id, keep=keep)
    auth.streams.recheck_user(record.id)


@delete("/users/{user_name:str}", tags=["users"], responses=error_responses(400, 403, 404, 409))
async def delete_user(user_name: str, request: Request[Any, Any, Any], caller: User,
                      transfer_to: str | None = None) -> None:
    """Delete a user (admins); ``?transfer_to=NAME`` first gives that user every case they own."""
    auth = _auth_on(request)
    _admin(caller)
    record = _record(auth, user_name)
    if record.id == caller.id:
        raise InvalidInput("cannot_change_self", "You cannot delete yourself; ask another admin.", field="name")
    heir = None
    if transfer_to is not None:
        heir = auth.users.record(transfer_to.strip())
        if heir is None or heir.disabled:
            raise NotFound("user_not_found", f"No enabled user named {transfer_to.strip()[:64]!r} to transfer to.")
    auth.users.delete(record, heir)
    auth.streams.end_user(record.id)


user_handlers = [list_users, create_user, update_user, change_password, delete_user]
