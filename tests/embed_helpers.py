"""A real OpenAI-compatible ``/v1/embeddings`` server for the embedding tests, on 127.0.0.1, in a thread.

Its vectors are a deterministic hash of the words (64 dimensions), so the same text always gets the same
vector; ``delay`` makes it answer late (timeouts), ``status`` makes it answer an error, and every request's
size and ``Authorization`` header are recorded.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DIM = 64


def word_vector(text: str) -> list[float]:
    vector = [0.0] * DIM
    for word in re.findall(r"\w+", text.lower()):
        digest = hashlib.sha256(word.encode()).digest()
        vector[digest[0] % DIM] += 1.0 if digest[1] % 2 else -1.0
    return vector


class EmbeddingsEndpoint:
    def __init__(self, port: int = 0, *, delay: float = 0.0, status: int = 200) -> None:
        self.delay, self.status = delay, status
        self.batches: list[int] = []
        self.auth: list[str | None] = []
        self.models: list[str] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                endpoint.batches.append(len(body["input"]))
                endpoint.auth.append(self.headers.get("Authorization"))
                endpoint.models.append(body["model"])
                if endpoint.delay:
                    time.sleep(endpoint.delay)
                if self.path != "/v1/embeddings":
                    self._answer(404, {"error": {"message": f"no route {self.path}"}})
                elif endpoint.status != 200:
                    self._answer(endpoint.status, {"error": {"message": "model 'nope' not found"}})
                else:
                    data = [{"object": "embedding", "index": i, "embedding": word_vector(text)}
                            for i, text in enumerate(body["input"])]
                    self._answer(200, {"object": "list", "data": list(reversed(data)), "model": body["model"]})

            def _answer(self, status: int, payload: dict[str, Any]) -> None:
                raw = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(raw)))
                    self.end_headers()
                    self.wfile.write(raw)
                except OSError:
                    pass  # the client gave up (a timeout test)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> EmbeddingsEndpoint:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
