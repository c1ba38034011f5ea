"""A fault-injecting HTTP proxy in front of an S3 API server (moto on loopback).

boto3 talks to :attr:`FaultProxy.endpoint_url` as its ``endpoint_url``; every request is
forwarded unchanged to the upstream server unless a :class:`Fault` matches it, in which case
the proxy answers what a misbehaving S3 answers: ``503 SlowDown`` (throttling), ``500
InternalError``, or nothing at all for a while (a stalled response: the client's read
timeout fires). A fault may also run an action before forwarding (e.g. delete the object
between listing and download). Path-style addressing, as :func:`make_client` configures.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlparse

from tests.fakes.loopback import serve, stop

_ERRORS = {
    "slowdown": (503, "SlowDown", "Please reduce your request rate."),
    "internal": (500, "InternalError", "We encountered an internal error. Please try again."),
}


@dataclass
class Fault:
    """Inject ``kind`` into the next ``times`` requests that match.

    ``method`` and ``key`` select requests (``key``: a substring of the decoded path, e.g.
    an object key; ``list=True`` matches bucket listings only). ``kind`` is ``slowdown``,
    ``internal``, ``stall`` (hold the response ``stall_s`` seconds, then drop the connection)
    or ``forward`` (only run ``before`` and pass the request on)."""

    kind: str
    method: str = "GET"
    key: str | None = None
    list: bool = False
    times: int = 1
    stall_s: float = 5.0
    before: Callable[[], None] | None = None
    injected: int = field(default=0, init=False)

    def matches(self, method: str, path: str) -> bool:
        if self.injected >= self.times or method != self.method:
            return False
        is_list = "list-type=" in path or path.rstrip("/").count("/") <= 1
        if self.list:
            return is_list
        return not is_list and (self.key is None or self.key in unquote(path))


class FaultProxy:
    """The proxy; a context manager. ``faults`` may be changed while it runs."""

    def __init__(self, upstream: str) -> None:
        parsed = urlparse(upstream)
        self.upstream = (parsed.hostname or "127.0.0.1", parsed.port or 80)
        self.faults: list[Fault] = []
        #: (method, path, what happened) for every request, in order.
        self.log: list[tuple[str, str, str]] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def endpoint_url(self) -> str:
        assert self._server is not None, "proxy not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def inject(self, *faults: Fault) -> None:
        with self._lock:
            self.faults.extend(faults)

    def injected(self, kind: str | None = None) -> int:
        """How many requests got a fault (of ``kind``)."""
        with self._lock:
            return sum(1 for *_, what in self.log if what != "ok" and kind in (None, what))

    def _pick(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.matches(method, path):
                    fault.injected += 1
                    return fault
        return None

    def _forward(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        conn = http.client.HTTPConnection(*self.upstream, timeout=30)
        try:
            conn.request(method, path, body=body or None, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, resp.getheaders(), data
        finally:
            conn.close()

    def __enter__(self) -> FaultProxy:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                fault = proxy._pick(self.command, self.path)
                what = fault.kind if fault else "ok"
                with proxy._lock:
                    proxy.log.append((self.command, self.path, what))
                if fault is not None and fault.before is not None:
                    fault.before()
                if fault is not None and fault.kind == "stall":
                    time.sleep(fault.stall_s)
                    self.close_connection = True
                    return  # no response at all: the client's read timeout fires
                if fault is not None and fault.kind in _ERRORS:
                    status, code, message = _ERRORS[fault.kind]
                    payload = (
                        '<?xml version="1.0" encoding="UTF-8"?>\n'
                        f"<Error><Code>{code}</Code><Message>{message}</Message>"
                        "<RequestId>FAULT0001</RequestId></Error>"
                    ).encode()
                    self._reply(status, [("Content-Type", "application/xml")], payload)
                    return
                headers = {k: v for k, v in self.headers.items()}
                status, resp_headers, data = proxy._forward(self.command, self.path, headers, body)
                self._reply(status, resp_headers, data)

            def _reply(self, status: int, headers: list[tuple[str, str]], data: bytes) -> None:
                try:
                    self.send_response(status)
                    skip = {"content-length", "transfer-encoding", "connection", "server", "date"}
                    length = str(len(data))
                    for key, value in headers:
                        if key.lower() == "content-length" and self.command == "HEAD":
                            length = value  # a HEAD answers the object's size, no body
                        elif key.lower() not in skip:
                            self.send_header(key, value)
                    self.send_header("Content-Length", length)
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _serve

        self._server = serve(Handler)
        return self

    def __exit__(self, *exc: object) -> None:
        stop(self._server)
        self._server = None
