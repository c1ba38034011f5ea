"""A Prefect API for the CLI: the configured server, else a temporary one that dies with us.

Prefect starts its own temporary server when no ``PREFECT_API_URL`` is set, but that
server outlives a CLI process killed with SIGKILL (its ``atexit`` hook never runs). Here the
CLI starts the same server itself with the kernel told to kill it when the CLI dies
(``PR_SET_PDEATHSIG``), waits for it as long as a loaded machine needs, and stops it on exit.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:
        pass  # not Linux: fall back to the atexit-style stop below
    os.setpgrp()  # a Ctrl-C in the terminal reaches the CLI, which stops us in order


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def configured_api_url() -> str | None:
    from prefect.settings import PREFECT_API_URL

    return PREFECT_API_URL.value() or None


def _flush_logs() -> None:
    """Send buffered flow-run logs while the server still listens."""
    try:
        from prefect.logging.handlers import APILogHandler

        APILogHandler.flush()
    except Exception as exc:  # logs are best effort; never mask the run's own outcome
        log.debug("flushing Prefect logs failed: %s", exc)


@contextmanager
def prefect_api(startup_timeout_s: float = 180.0) -> Iterator[str]:
    """Yield the API URL flows of this process talk to (see the module docstring)."""
    url = configured_api_url()
    if url:
        yield url
        return
    import prefect
    from prefect.settings import PREFECT_API_URL, get_current_settings, temporary_settings

    port = _free_port()
    env = {
        **os.environ,
        **get_current_settings().to_environment_variables(exclude_unset=True),
        "PREFECT_UI_ENABLED": "0",
        "PREFECT__SERVER_EPHEMERAL": "1",
        "PREFECT__SERVER_FINAL": "1",
        "PREFECT_SERVER_ANALYTICS_ENABLED": os.environ.get(
            "PREFECT_SERVER_ANALYTICS_ENABLED", "false"
        ),
    }
    cmd = [
        sys.executable, "-m", "uvicorn", "--app-dir", str(prefect.__module_path__.parent),
        "--factory", "prefect.server.api.server:create_app", "--host", "127.0.0.1",
        "--port", str(port), "--log-level", "error", "--lifespan", "on",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, preexec_fn=_die_with_parent)
    api = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.monotonic() + startup_timeout_s
        with httpx.Client(timeout=5) as client:
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"the temporary Prefect server exited ({proc.returncode})")
                try:
                    if client.get(f"{api}/health").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"the temporary Prefect server did not start in {startup_timeout_s:.0f} s"
                    )
                time.sleep(0.2)
        log.info("temporary Prefect server on %s (pid %d)", api, proc.pid)
        with temporary_settings({PREFECT_API_URL: api}):
            yield api
    finally:
        _flush_logs()
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
