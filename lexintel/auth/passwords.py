"""The password rule: long enough, not one of the passwords everyone tries first, not the user's own name.

Length is what makes a password hard to guess, so the rule is a minimum length (``LEXINTEL_PASSWORD_MIN_LENGTH``,
12 by default: a passphrase of three words passes, ``password`` does not) plus a refusal of the most common
breached passwords (a small list shipped in the package, ``common_passwords.txt``) and of the user name itself,
in any case. No composition rules (digits, symbols): they push people to ``Password1!`` and are not what NIST
SP 800-63B asks for. The upper bound keeps one argon2 call bounded.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from lexintel.errors import InvalidInput

__all__ = ["DEFAULT_MIN_LENGTH", "MAX_LENGTH", "check_password", "common_passwords"]

DEFAULT_MIN_LENGTH = 12
MAX_LENGTH = 1024  # characters; login reads at most this many


@cache
def common_passwords() -> frozenset[str]:
    """The shipped list, lower-cased (read once)."""
    text = resources.files("lexintel.auth").joinpath("common_passwords.txt").read_text(encoding="utf-8")
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def check_password(password: str, user_name: str, min_length: int = DEFAULT_MIN_LENGTH) -> None:
    """Raise InvalidInput (code ``weak_password``, ``field`` = ``password``) naming what is wrong with it."""
    def weak(why: str) -> InvalidInput:
        return InvalidInput("weak_password", why, field="password")

    if len(password) < min_length:
        raise weak(f"A password needs at least {min_length} characters (a few words make a good one).")
    if len(password) > MAX_LENGTH:
        raise weak(f"A password can have at most {MAX_LENGTH} characters.")
    folded = password.strip().lower()
    if folded == user_name.strip().lower():
        raise weak("The password cannot be the user name.")
    if folded in common_passwords() or len(set(folded)) == 1:
        raise weak("That password is one of the most common ones, which are tried first; choose another.")
