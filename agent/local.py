"""Run the agent on loopback inside this process (tests, bench, ``make calls``)."""

from __future__ import annotations

import random
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI

from agent.caller import VOICES, CallerLine, order_call_script
from agent.orders import OrderTable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve_in_thread(app: FastAPI, port: int | None = None) -> Iterator[str]:
    """uvicorn on 127.0.0.1 in a daemon thread; yields ``ws://127.0.0.1:<port>``."""
    port = port or free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", ws="websockets")
    )
    thread = threading.Thread(target=server.run, name="agent-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the agent server did not start")
        time.sleep(0.05)
    try:
        yield f"ws://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def varied_calls(n: int, orders: OrderTable, seed: int = 7) -> list[dict[str, Any]]:
    """``n`` different simulated callers: order, wording, voice, speed, timing."""
    rng = random.Random(seed)
    ids = orders.ids()
    calls = []
    for i in range(n):
        lines: list[CallerLine] = order_call_script(ids[i % len(ids)], rng)
        calls.append(
            {
                "lines": lines,
                "voice": VOICES[i % len(VOICES)],
                "speed": rng.randint(145, 170),
                "from_number": f"+1555010{i:04d}",
            }
        )
    return calls


@contextmanager
def agent_subprocess(
    env: dict[str, str], port: int | None = None, startup_timeout_s: float = 120.0
) -> Iterator[tuple[str, int]]:
    """``python -m agent serve`` in its own process (as ``make agent`` runs it), with
    ``CALLSCOPE_*`` settings in ``env``; yields (``ws://127.0.0.1:<port>``, pid)."""
    import os
    import subprocess
    import sys
    import urllib.request

    port = port or free_port()
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", **env}
    proc = subprocess.Popen(
        [sys.executable, "-m", "agent", "serve", "--port", str(port)],
        env=full_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + startup_timeout_s
    try:
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                    break
            except OSError:
                pass
            if proc.poll() is not None:
                err = proc.stderr.read().decode(errors="replace")[-1500:] if proc.stderr else ""
                raise RuntimeError(f"the agent exited ({proc.returncode}): {err}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the agent did not answer /health in {startup_timeout_s}s")
            time.sleep(0.2)
        yield f"ws://127.0.0.1:{port}", proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def settings_env(**fields: Any) -> dict[str, str]:
    """Settings fields -> ``CALLSCOPE_<FIELD>`` environment variables."""
    out = {}
    for key, value in fields.items():
        if value is None:
            continue
        if hasattr(value, "get_secret_value"):
            value = value.get_secret_value()
        out[f"CALLSCOPE_{key.upper()}"] = str(value)
    return out
