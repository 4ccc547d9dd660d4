"""Accounts and access: users and roles, API tokens, login sessions, stream tokens, the app-wide guard.

    users.py      users and roles, argon2 password hashing
    tokens.py     API tokens (hashed, expiring) and short-lived signed stream tokens
    sessions.py   login sessions (HttpOnly cookie) and their CSRF tokens
    access.py     who may read which case (as a reader of cases: a user id, or every case for an admin)
    guard.py      the one guard every route passes: authenticate, then 404 for cases the caller can't read
    ratelimit.py  login attempts per username and address
    service.py    the container the app keeps on ``app.state.auth``

The rows live in ``lexintel.store.accounts`` and ``lexintel.store.access``; errors are the domain errors of
``lexintel.errors`` (``NotAuthenticated``, ``Forbidden``, ``NotFound``), turned into statuses by ``lexintel.api``.
"""
