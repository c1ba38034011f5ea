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
