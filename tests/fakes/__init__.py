"""Faithful local fakes of HTTP APIs for tests: real sockets on 127.0.0.1, random ports.

A fake records every request (path, headers, raw body, parsed JSON) and answers from a
script of :class:`Reply` objects queued by the test; when the script is empty it asks its
``responder`` for a success reply. Vendor fakes (``openai_server``, ``anthropic_server``)
build replies in the shapes their public API documents, so the real SDK clients parse
them exactly as they would parse the vendor's.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Reply:
    """One scripted HTTP response; ``delay_s`` stalls before anything is sent."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    raw: str
    at: float

    @property
    def json(self) -> Any:
        return json.loads(self.raw) if self.raw else None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False


class LoopbackAPIServer:
    """Base of the vendor fakes: socket handling, recording and the reply script."""

    #: (method, path) pairs the fake implements; anything else is a 404.
    routes: tuple[tuple[str, str], ...] = ()

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        #: Every reply sent, in order (scripted or default), paired with ``requests``.
        self.replies: list[Reply] = []
        self.script: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- to be provided by vendor fakes ----------------------------------------------------
    def check_request(self, headers: dict[str, str], body: Any) -> Reply | None:
        """An error reply when the request would be rejected by the real API."""
        return None

    def default_reply(self, body: Any) -> Reply:
        raise NotImplementedError

    def not_found(self) -> Reply:
        return Reply(404, {"error": {"message": "not found"}})

    # --- scripting -------------------------------------------------------------------------
    def enqueue(self, *replies: Reply) -> None:
        with self._lock:
            self.script.extend(replies)

    def bodies(self) -> list[Any]:
        """Parsed JSON bodies of the API requests received so far."""
        with self._lock:
            return [r.json for r in self.requests]

    @property
    def count(self) -> int:
        with self._lock:
            return len(self.requests)

    def _next_reply(self, method: str, path: str, headers: dict[str, str], raw: str) -> Reply:
        with self._lock:
            self.requests.append(RecordedRequest(method, path, headers, raw, time.monotonic()))
        reply = self._choose(method, path, headers, raw)
        with self._lock:
            self.replies.append(reply)
        return reply

    def _choose(self, method: str, path: str, headers: dict[str, str], raw: str) -> Reply:
        if (method, path.split("?", 1)[0]) not in self.routes:
            return self.not_found()
        try:
            body = json.loads(raw) if raw else None
        except json.JSONDecodeError:
            body = None
        rejected = self.check_request(headers, body)
        if rejected is not None:
            return rejected
        with self._lock:
            scripted = self.script.popleft() if self.script else None
        return scripted if scripted is not None else self.default_reply(body)

    # --- lifecycle -------------------------------------------------------------------------
    @property
    def port(self) -> int:
        assert self._server is not None, "server not started"
        return int(self._server.server_address[1])

    def start(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode("utf-8") if length else ""
                headers = {k.lower(): v for k, v in self.headers.items()}
                reply = fake._next_reply(self.command, self.path, headers, raw)
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                payload = (
                    reply.body
                    if isinstance(reply.body, bytes)
                    else json.dumps(reply.body).encode("utf-8")
                )
                try:
                    self.send_response(reply.status)
                    extra = {k: v for k, v in reply.headers.items() if k.lower() != "content-type"}
                    content_type = next(
                        (v for k, v in reply.headers.items() if k.lower() == "content-type"),
                        "application/json",
                    )
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(payload)))
                    for key, value in extra.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

            do_POST = _handle
            do_GET = _handle

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


@contextmanager
def running(server: LoopbackAPIServer) -> Iterator[LoopbackAPIServer]:
    server.start()
    try:
        yield server
    finally:
        server.stop()


Responder = Callable[[Any], str]
