"""The auth parts of one instance, kept on ``app.state.auth`` (built in the lifespan next to Services)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from lexintel.auth.ratelimit import LoginLimiter
from lexintel.auth.revocation import OpenStreams
from lexintel.auth.sessions import Sessions
from lexintel.auth.tokens import ApiTokens, StreamTokens, load_or_create_secret
from lexintel.auth.users import Users
from lexintel.settings import Settings
from lexintel.store.db import Database

__all__ = ["Auth", "auth_of", "start_auth"]

log = logging.getLogger("lexintel.auth")
STREAM_KEY_FILE = "stream-token.key"


@dataclass
class Auth:
    """Users, tokens, sessions and the login limiter of one instance."""

    enabled: bool
    users: Users
    api_tokens: ApiTokens
    sessions: Sessions
    stream_tokens: StreamTokens
    streams: OpenStreams  # open streams by principal: revoking access ends them
    limiter: LoginLimiter = field(default_factory=LoginLimiter)
    # failed shares with unknown names, per caller: keeps a member from enumerating user names by sharing
    share_limiter: LoginLimiter = field(default_factory=lambda: LoginLimiter(per_name=10, per_address=10))


def start_auth(settings: Settings, db: Database) -> Auth:
    """Build the auth parts and say clearly, in the log, which mode is active."""
    users = Users(db, settings.password_min_length)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    auth = Auth(
        enabled=settings.auth == "on", users=users, api_tokens=ApiTokens(db, users), sessions=Sessions(db, users),
        stream_tokens=StreamTokens(load_or_create_secret(settings.data_dir / STREAM_KEY_FILE)),
        streams=OpenStreams(users, settings.revocation_check_interval),
    )
    if not auth.enabled:
        log.warning("authentication is OFF (LEXINTEL_AUTH=off): every request acts as one local admin and sees "
                    "every case. Use this only on a single-user machine.")
    else:
        count = users.count()
        log.info("authentication is on: %d user(s); API tokens, login sessions and stream tokens accepted", count)
        if count == 0:
            log.warning("no users yet: create the first admin with `lexintel user add admin --role admin` "
                        "(same LEXINTEL_DATA_DIR); until then every request except /health, /ready, /metrics "
                        "and the page is refused")
    return auth


def auth_of(app: Any) -> Auth:
    """The app's :class:`Auth` (set by the lifespan)."""
    auth: Auth = app.state.auth
    return auth
