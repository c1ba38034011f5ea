"""A threaded HTTP server on loopback (random port) for the local fakes of remote APIs."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def serve(handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
    """Start ``handler`` on 127.0.0.1 with a free port, serving from a daemon thread."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def stop(server: ThreadingHTTPServer | None) -> None:
    """Stop a server from :func:`serve` (None: nothing to stop)."""
    if server is not None:
        server.shutdown()
        server.server_close()
