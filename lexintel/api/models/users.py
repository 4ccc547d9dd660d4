"""Bodies of user management and case shares: ``/users``, ``/users/{name}``, ``/cases/{case_id}/shares``."""

from __future__ import annotations

from typing import Literal

import msgspec

from lexintel.api.models import Body

__all__ = ["NewShare", "NewUser", "PasswordChange", "Share", "UserAccount", "UserPatch"]

Access = Literal["read", "write"]


class NewShare(msgspec.Struct):
    """Body of ``POST /cases/{case_id}/shares``: the user name to share with, and what they may do."""

    user: str
    access: Access = "read"
    """``read``: see the case, its documents, text, search and streams; ``write``: also upload, retry, delete."""


class Share(Body):
    """One share of a case (a share names the user only: no id, no role, nothing the sharer is not owed)."""

    case_id: str
    user: str
    """The user's name."""
    access: str
    """``read`` or ``write``."""
    created_at: str


class NewUser(msgspec.Struct):
    """Body of ``POST /users`` (admins)."""

    name: str
    password: str
    role: str = "member"


class UserPatch(msgspec.Struct):
    """Body of ``PATCH /users/{name}`` (admins): the fields to change."""

    disabled: bool | None = None
    """True: the user cannot log in; their sessions end, their API tokens and streams stop working."""
    role: str | None = None
    """``admin`` or ``member``."""


class PasswordChange(msgspec.Struct):
    """Body of ``POST /users/{name}/password``: an admin sets anyone's; a user changes their own with the
    current one."""

    password: str
    current_password: str | None = None


class UserAccount(Body):
    """A user as an admin sees it (``GET /users``)."""

    id: str
    name: str
    role: str
    disabled: bool
    created_at: str
