"""A real uvicorn server on a loopback port, in a thread of the test process, so tests can talk HTTP to it
and still look at its broadcaster's counts."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar

import uvicorn
from litestar import Litestar

from lexintel.app import create_app
from lexintel.services import Services
from lexintel.settings import Settings
from tests.support import free_port, wait_for

T = TypeVar("T")


class LiveServer:
    def __init__(self, settings: Settings, auth: str = "off") -> None:
        self.port = free_port()
        self.app: Litestar = create_app(settings.with_overrides(port=self.port, auth=auth))
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, lifespan="on", log_level="warning",
                                timeout_graceful_shutdown=3)
        self.server = uvicorn.Server(config)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self.server.serve())
        # finish what is left (anyio's process-pool shutdown task kills idle workers) and close the loop
        pending = asyncio.all_tasks(self.loop)
        for task in pending:
            task.cancel()
        self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self.loop.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def services(self) -> Services:
        services: Services = self.app.state.services
        return services

    def start(self) -> LiveServer:
        self.thread.start()
        wait_for(lambda: self.server.started, timeout=30, what="uvicorn started")
        return self

    def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the server's event loop (where every write and publish happens) and return its result."""
        async def run() -> T:
            return fn()

        return self.run(run())

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result(timeout)

    def stop(self) -> None:
        if not self.thread.is_alive():
            return
        self.loop.call_soon_threadsafe(self.services.broadcaster.close_all, "shutdown")
        self.server.should_exit = True
        self.thread.join(30)
