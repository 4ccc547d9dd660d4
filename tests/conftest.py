"""Fixtures: settings on a temporary data dir, Litestar's test client, real servers, a private Redis."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from lexintel.app import create_app
from lexintel.settings import Settings
from tests.auth_helpers import Account, add_account
from tests.ci_helpers import BROWSER_FLAGS, REDIS_FLAGS, import_or_missing, missing
from tests.support import RedisServer, ServerProcess, redis_server_path


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", extraction_workers=2, document_timeout=60, progress_interval=0.0,
                    ping_interval=1.0, auth="off", shutdown_grace=0)  # auth: see test_auth, test_access_matrix


@pytest.fixture
def make_client(tmp_path: Path) -> Iterator[Callable[..., TestClient]]:  # type: ignore[type-arg]
    """Build a TestClient over a real app on a real SQLite file; lifespan runs on enter."""
    clients: list[TestClient] = []  # type: ignore[type-arg]

    def make(settings: Settings | None = None, **overrides: object) -> TestClient:  # type: ignore[type-arg]
        base = settings or Settings(data_dir=tmp_path / "data", extraction_workers=2, document_timeout=60,
                                    progress_interval=0.0, ping_interval=1.0, auth="off", shutdown_grace=0)
        client = TestClient(create_app(base.with_overrides(**overrides)), base_url="http://127.0.0.1", timeout=60)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in reversed(clients):
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:  # type: ignore[type-arg]
    return make_client()


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    """Start real ``lexintel serve`` subprocesses; all are stopped at teardown."""
    servers: list[ServerProcess] = []

    def start(data_dir: Path | None = None, **env: str) -> ServerProcess:
        base_env = {"LEXINTEL_EXTRACTION_WORKERS": "2", "LEXINTEL_PING_INTERVAL": "1",
                    "LEXINTEL_PROGRESS_INTERVAL": "0", "LEXINTEL_AUTH": "off", "LEXINTEL_SHUTDOWN_GRACE": "0"}
        server = ServerProcess(data_dir or tmp_path / f"data-{len(servers)}", env={**base_env, **env})
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def server(server_factory: Callable[..., ServerProcess]) -> ServerProcess:
    return server_factory()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A real Redis. Missing redis-server skips locally but fails when LEXINTEL_REQUIRE_REDIS=1 (CI)."""
    if redis_server_path() is None:
        missing("redis-server", "apt-get install -y redis-server", REDIS_FLAGS)
    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


CHROMIUM = os.environ.get("LEXINTEL_CHROMIUM", "/usr/bin/chromium")  # Debian's; never a downloaded browser
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Debian chromium driven by Playwright (``executable_path``, no ``playwright install``); a missing
    browser skips on a developer machine and fails under the CI flags (tests/ci_helpers.py)."""
    playwright_api = import_or_missing("playwright.sync_api", "pip install playwright", BROWSER_FLAGS)
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        missing(f"chromium at {CHROMIUM}", "apt-get install -y chromium", BROWSER_FLAGS)
    with playwright_api.sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def contexts(browser: Any) -> Iterator[Callable[..., Any]]:
    """New browser contexts (one per person; keyword arguments go to ``new_context``) whose pages fail the test
    on a console error (a Content-Security-Policy violation, say) or an uncaught exception."""
    made: list[Any] = []
    problems: list[str] = []

    def on_console(msg: Any) -> None:
        if msg.type == "error" and "Failed to load resource" not in msg.text:
            problems.append(msg.text)

    def make(**options: Any) -> Any:
        context = browser.new_context(**{"viewport": {"width": 1200, "height": 900}, **options})
        context.set_default_timeout(30_000)
        context.on("page", lambda page: (page.on("console", on_console),
                                         page.on("pageerror", lambda exc: problems.append(f"uncaught: {exc}"))))
        made.append(context)
        return context

    yield make
    for context in made:
        context.close()
    assert not problems, problems


@pytest.fixture
def accounts_server(tmp_path: Path, server_factory: Callable[..., ServerProcess]
                    ) -> tuple[ServerProcess, dict[str, Account]]:
    """A real server with accounts on: members alice and bob, admin root (each with an API token)."""
    settings = Settings(data_dir=tmp_path / "data", auth="on")
    accounts = {name: add_account(settings, name, role) for name, role in
                (("alice", "member"), ("bob", "member"), ("root", "admin"))}
    return server_factory(settings.data_dir, LEXINTEL_AUTH="on"), accounts
