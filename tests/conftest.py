"""Fixtures: settings on a temporary data dir, Litestar's test client, real servers, a private Redis."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from litestar.testing import TestClient

from lexintel.app import create_app
from lexintel.settings import Settings
from tests.ci_helpers import REDIS_FLAGS, missing
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
