"""Real servers in subprocesses on free loopback ports: ``python -m lexintel serve`` and a private redis-server.

Both are started for real and awaited by polling (``/health``, ``PING``) with a deadline, and both can be
stopped and started again on the same port and data directory, which is how tests and the fault suite
simulate restarts and outages. The server runs the checkout this file is in (``ROOT`` first on its
``PYTHONPATH``), whatever the caller's working directory.
"""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Self

import httpx

from tests.support.procfs import child_pids, status_kb
from tests.support.waiting import WaitTimeout, wait_for

__all__ = ["ROOT", "RedisServer", "ServerFailed", "ServerProcess", "free_port", "port_is_free", "redis_server_path"]

ROOT = Path(__file__).resolve().parents[2]
"""The repository root: the checkout whose ``lexintel`` the servers run."""


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (the kernel's choice)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_is_free(port: int) -> bool:
    """Nothing listens on ``port`` (with SO_REUSEADDR, as servers bind: old TIME_WAIT connections don't count)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


class ServerFailed(RuntimeError):
    """The server exited, or never answered ``/health``; the message ends with its log."""


class ServerProcess:
    """``python -m lexintel serve`` on a loopback port, restartable on the same port and data dir.

    ``env`` is added to this process's environment (``LEXINTEL_*`` settings); the data dir, port and host are
    always this object's. ``fsize_limit`` caps every file the server writes (``RLIMIT_FSIZE``, soft limit):
    uploads then fail with EFBIG exactly as on a full volume, with no root needed.
    """

    def __init__(self, data_dir: Path, env: dict[str, str] | None = None, *, port: int | None = None,
                 log_path: Path | None = None, fsize_limit: int | None = None) -> None:
        self.data_dir = data_dir
        self.env = dict(env or {})
        self.port = port or free_port()
        self.log_path = log_path or data_dir.parent / f"server-{self.port}.log"
        self.fsize_limit = fsize_limit
        self.proc: subprocess.Popen[bytes] | None = None
        self.peak_rss_kb = 0  # VmHWM, largest seen over this object's runs (see sample_rss)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None, "server not started"
        return self.proc.pid

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _limits(self) -> None:  # runs in the child before exec
        if self.fsize_limit is not None:  # soft limit only: raise_fsize() can lift it later ("free space")
            hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
            resource.setrlimit(resource.RLIMIT_FSIZE, (self.fsize_limit, hard))

    def start(self, timeout: float = 60.0) -> Self:
        """Start and wait for ``/health``; raise :class:`ServerFailed` (with the log) if it exits or never answers."""
        env = {**os.environ, **self.env, "LEXINTEL_DATA_DIR": str(self.data_dir), "LEXINTEL_PORT": str(self.port),
               "LEXINTEL_HOST": "127.0.0.1",
               "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "lexintel", "serve"], env=env, cwd=ROOT, stdout=log,
                                         stderr=log, preexec_fn=self._limits if self.fsize_limit else None)

        def up() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise ServerFailed(f"server exited with {self.proc.returncode}:\n{self.log(8000)}")
            try:
                return httpx.get(self.url + "/health", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        try:
            wait_for(up, timeout=timeout, what="server /health", interval=0.1)
        except WaitTimeout:
            self.kill()
            raise ServerFailed(f"server did not answer /health within {timeout:g}s:\n{self.log(8000)}") from None
        return self

    def log(self, tail: int | None = None) -> str:
        """The server's log (stdout and stderr of every run), or its last ``tail`` characters."""
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return text if tail is None else text[-tail:]

    def sample_rss(self) -> None:
        """Record the server's peak resident memory so far (read before stopping: it goes with the process)."""
        if self.running():
            self.peak_rss_kb = max(self.peak_rss_kb, status_kb(self.pid, "VmHWM"))

    def raise_fsize(self) -> None:
        """Lift the file-size cap of the running server: the "disk" has room again."""
        hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
        resource.prlimit(self.pid, resource.RLIMIT_FSIZE, (hard, hard))
        self.fsize_limit = None  # and not on the next start either

    def stop(self, sig: str = "term", timeout: float = 30.0) -> int | None:
        """SIGTERM (graceful shutdown), SIGKILL after ``timeout``; ``sig="kill"`` is :meth:`kill`. Returns the exit
        status (None if never started)."""
        if sig == "kill":
            return self.kill()
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.sample_rss()
        self.proc.terminate()
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return self.kill()

    def kill(self) -> int | None:
        """kill -9: no shutdown code runs. The orphaned extraction workers are killed too, as a supervisor
        killing the whole process group would, so they do not compete with the next start for the CPU."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.sample_rss()
        workers = child_pids(self.proc.pid)
        self.proc.kill()
        code = self.proc.wait(10)
        for pid in workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return code

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def redis_server_path() -> str | None:
    return shutil.which("redis-server")


class RedisServer:
    """A private redis-server on a free loopback port (no persistence); stop/kill and start again on the same
    port to simulate an outage."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> Self:
        exe = redis_server_path()
        assert exe, "redis-server is not installed"
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )

        def up() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise ServerFailed(f"redis-server exited with {self.proc.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                    s.sendall(b"PING\r\n")
                    return s.recv(16).startswith(b"+PONG")
            except OSError:
                return False

        wait_for(up, timeout=10, what="redis-server PING")
        return self

    def stop(self) -> None:
        """SIGTERM, wait for the exit and for the port to be released (so a restart can bind it at once)."""
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        wait_for(lambda: port_is_free(self.port), timeout=10, what=f"port {self.port} released")

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
