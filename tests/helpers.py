"""Shared test helpers: corpus access, free ports, waiting, a real server in a subprocess, SSE parsing."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
if not CORPUS.exists():  # CI clones the project next to shared/ as well; allow an override
    CORPUS = Path(os.environ.get("LEXINTEL_CORPUS", "/work/shared/corpus"))


def corpus(name_part: str) -> Path:
    """The corpus PDF whose name contains ``name_part``."""
    matches = sorted(p for p in CORPUS.glob("*.pdf") if name_part in p.name)
    assert matches, f"no corpus file matching {name_part!r} in {CORPUS}"
    return matches[0]


def corpus_pages() -> dict[str, int]:
    """Ground-truth page counts from the corpus's files.json, keyed by our file name."""
    data = json.loads((CORPUS / "files.json").read_text())["data"]
    return {d["path"].replace("/", "_"): d["pages"] for d in data if "pages" in d}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(predicate: Callable[[], Any], timeout: float = 30.0, interval: float = 0.05, what: str = "") -> Any:
    """Poll ``predicate`` until it returns something truthy; fail the test on timeout."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate} (last: {last!r})")


@dataclass
class ServerProcess:
    """A real ``lexintel serve`` in a subprocess on a loopback port."""

    data_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> ServerProcess:
        env = {**os.environ, **self.env, "LEXINTEL_DATA_DIR": str(self.data_dir), "LEXINTEL_PORT": str(self.port),
               "LEXINTEL_HOST": "127.0.0.1"}
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.data_dir.parent / f"server-{self.port}.log"
        log = open(self.log_path, "ab")  # noqa: SIM115
        self.proc = subprocess.Popen([sys.executable, "-m", "lexintel", "serve"], env=env, stdout=log, stderr=log)
        log.close()

        def up() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited with {self.proc.returncode}:\n{self.log()}")
            try:
                return httpx.get(self.url + "/health", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(up, timeout=timeout, what="server /health")
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path and self.log_path.exists() else ""

    def stop(self, sig: str = "term", timeout: float = 15.0) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        if sig == "kill":
            self.proc.kill()
        else:
            self.proc.terminate()
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(5)


@dataclass
class SSEEvent:
    id: int | None
    event: str
    data: dict[str, Any] | str
    raw: str = ""


def iter_sse(lines: Iterator[str]) -> Iterator[SSEEvent | str]:
    """Parse SSE lines into events; comments are yielded as ``": ..."`` strings, ``retry:`` as ``"retry:N"``."""
    event_id: int | None = None
    name = "message"
    data: list[str] = []
    for line in lines:
        if line == "":
            if data:
                text = "\n".join(data)
                try:
                    payload: dict[str, Any] | str = json.loads(text)
                except ValueError:
                    payload = text
                yield SSEEvent(event_id, name, payload, text)
            event_id, name, data = None, "message", []
            continue
        if line.startswith(":"):
            yield line
            continue
        key, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if key == "id":
            event_id = int(value)
        elif key == "event":
            name = value
        elif key == "data":
            data.append(value)
        elif key == "retry":
            yield f"retry:{value}"


def read_stream(url: str, headers: dict[str, str] | None = None, timeout: float = 60.0,
                until: Callable[[SSEEvent], bool] | None = None) -> list[SSEEvent]:
    """Read an SSE stream until it closes (or ``until`` says stop); returns the events."""
    events: list[SSEEvent] = []
    with httpx.stream("GET", url, headers=headers, timeout=timeout) as resp:
        assert resp.status_code == 200, resp.read()
        for item in iter_sse(resp.iter_lines()):
            if isinstance(item, SSEEvent):
                events.append(item)
                if until is not None and until(item):
                    break
    return events


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

    def start(self) -> RedisServer:
        exe = redis_server_path()
        assert exe, "redis-server is not installed"
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )

        def up() -> bool:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                    s.sendall(b"PING\r\n")
                    return s.recv(16).startswith(b"+PONG")
            except OSError:
                return False

        wait_for(up, timeout=10, what="redis-server")
        return self

    def stop(self) -> None:
        """SIGTERM and wait."""
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def child_pids(pid: int) -> list[int]:
    """Direct children of ``pid`` (e.g. a server's extraction workers), read from /proc."""
    kids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                kids.append(int(entry))
    return kids
