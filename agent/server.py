"""The agent's HTTP face: TwiML answer endpoint + Twilio Media Streams WebSocket.

Point a Twilio number's voice webhook at ``POST /twiml``; it answers with
``<Connect><Stream url="wss://.../ws">`` carrying the caller's numbers as stream parameters.
Any stack speaking the Media Streams protocol can connect to ``/ws`` directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import quoteattr

import aiohttp
from fastapi import FastAPI, Request, WebSocket
from fastapi.responses import Response

from agent.bot import AgentDeps, run_call
from agent.orders import OrderTable
from agent.stt import warm_up
from agent.upload import RecordingUploader
from analytics.config import Settings
from analytics.sources.s3 import make_client
from analytics.transcription.models import resolve

log = logging.getLogger(__name__)

SPOOL_FLUSH_INTERVAL_S = 60.0


def make_deps(settings: Settings, uploader: RecordingUploader | None = None) -> AgentDeps:
    """Everything calls share, checked up front (bad settings fail here, not mid-call)."""
    model = resolve(settings.agent_stt_model, settings.model_cache_dir, settings.model_download)
    if uploader is None:
        client = make_client(
            settings.s3_client_kwargs(), settings.s3_connect_timeout_s, settings.s3_max_attempts
        )
        uploader = RecordingUploader(
            settings.source,
            client,
            settings.agent_spool_dir,
            attempts=settings.agent_upload_attempts,
        )
    orders = OrderTable(settings.agent_orders_path, settings.agent_tool_delay_ms / 1000.0)
    return AgentDeps(
        settings=settings, orders=orders, uploader=uploader, stt_model_dir=str(model.path)
    )


def twiml(stream_url: str, params: dict[str, str]) -> str:
    """The TwiML answer: connect the call's audio to our Media Streams WebSocket."""
    lines = [
        f"      <Parameter name={quoteattr(k)} value={quoteattr(v)} />"
        for k, v in params.items()
        if v
    ]
    inner = "\n".join(lines)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Response>\n  <Connect>\n'
        f"    <Stream url={quoteattr(stream_url)}>\n{inner}\n    </Stream>\n"
        "  </Connect>\n</Response>\n"
    )


def create_app(settings: Settings, deps: AgentDeps | None = None) -> FastAPI:
    """The FastAPI app; ``deps`` may be given (tests, bench) to share or inspect them."""
    state: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        d = deps or make_deps(settings)
        # the first caller must not wait for the model to load and its first decode
        await asyncio.to_thread(warm_up, d.stt_model_dir)
        d.http = aiohttp.ClientSession()
        state["deps"] = d
        flusher = asyncio.create_task(_flush_forever(d.uploader))
        try:
            yield
        finally:
            flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flusher
            await d.http.close()
            d.http = None

    app = FastAPI(title="callscope agent", lifespan=lifespan)

    @app.get("/health")
    async def health() -> dict[str, Any]:
        d: AgentDeps = state["deps"]
        return {"ok": True, "spooled": len(d.uploader.pending()), "calls": d.calls_served}

    @app.api_route("/twiml", methods=["GET", "POST"])
    async def answer(request: Request) -> Response:
        form: dict[str, str] = dict(request.query_params)
        if request.method == "POST":
            raw = (await request.body()).decode(errors="replace")
            form.update({k: v[0] for k, v in parse_qs(raw).items()})
        if settings.agent_public_url:
            base = settings.agent_public_url.rstrip("/")
            ws_base = "wss://" + base.split("://", 1)[-1] if "://" in base else f"wss://{base}"
        else:
            scheme = "wss" if request.url.scheme == "https" else "ws"
            ws_base = f"{scheme}://{request.headers.get('host', request.url.netloc)}"
        direction = "outbound" if form.get("Direction", "").startswith("outbound") else "inbound"
        body = twiml(
            f"{ws_base}/ws",
            {
                "from_number": form.get("From", ""),
                "to_number": form.get("To", ""),
                "direction": direction,
            },
        )
        return Response(content=body, media_type="application/xml")

    @app.websocket("/ws")
    async def media_stream(websocket: WebSocket) -> None:
        await websocket.accept()
        d: AgentDeps = state["deps"]
        try:
            await run_call(websocket, d)
        finally:
            await asyncio.to_thread(d.uploader.flush)

    return app


async def _flush_forever(uploader: RecordingUploader) -> None:
    while True:
        results = await asyncio.to_thread(uploader.flush)
        if results:
            done = sum(r.uploaded for r in results)
            log.info("spool: %d of %d recordings uploaded", done, len(results))
        await asyncio.sleep(SPOOL_FLUSH_INTERVAL_S)
