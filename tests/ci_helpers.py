"""When a missing tool skips a test and when it fails it.

On a developer machine a missing redis-server, Playwright or chromium skips the tests that need it, saying
how to install it. In CI a skip would be a silent hole in the suite, so there the same absence fails: CI sets
``LEXINTEL_REQUIRE_REDIS=1`` (and may set ``LEXINTEL_REQUIRE_BROWSER=1``); the browser also counts as
required under any ``CI`` variable, as it did before this module existed.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType
from typing import NoReturn

import pytest

__all__ = ["BROWSER_FLAGS", "REDIS_FLAGS", "import_or_missing", "missing"]

REDIS_FLAGS = ("LEXINTEL_REQUIRE_REDIS",)
BROWSER_FLAGS = ("LEXINTEL_REQUIRE_BROWSER", "LEXINTEL_REQUIRE_REDIS", "CI")
_OFF = ("", "0", "false", "no")


def _demanding(flags: tuple[str, ...]) -> str | None:
    """The first of ``flags`` that is set to something other than off, as ``NAME=value``."""
    for flag in flags:
        value = os.environ.get(flag, "")
        if value.strip().lower() not in _OFF:
            return f"{flag}={value}"
    return None


def missing(what: str, install: str, flags: tuple[str, ...], *, module_level: bool = False) -> NoReturn:
    """``what`` is not available: fail if one of ``flags`` demands it, else skip (``install`` says how to fix).
    ``module_level``: called at a test module's top level, where a skip skips the whole module."""
    demanded = _demanding(flags)
    if demanded is not None:
        pytest.fail(f"{what} is required ({demanded}) but missing: {install}", pytrace=False)
    pytest.skip(f"{what} is not installed ({install}); set {flags[0]}=1 to make this a failure",
                allow_module_level=module_level)


def import_or_missing(module: str, install: str, flags: tuple[str, ...]) -> ModuleType:
    """``importlib.import_module(module)`` for a test module's top level, or :func:`missing`: the module is
    skipped, or (demanded by a flag) fails to collect, which fails the run."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        missing(module, f"{install} ({exc})", flags, module_level=True)
