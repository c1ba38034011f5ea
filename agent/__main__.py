"""``python -m agent``: run the voice agent, or place simulated calls against it.

python -m agent serve [--piper-python .venv-tts/bin/python]   # make agent
python -m agent calls -n 10 [--url ws://127.0.0.1:8765]        # make calls N=10
"""

from __future__ import annotations

import asyncio
import json
import logging
import statistics
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import click

from analytics.config import Settings


def _quiet_pipecat(level: str) -> None:
    from loguru import logger

    logger.remove()
    logger.add(sys.stderr, level=level)


@click.group()
@click.option("-v", "--verbose", count=True, help="More logging (-v info, -vv debug).")
def main(verbose: int) -> None:
    """callscope's live voice agent and simulated caller."""
    level = ("WARNING", "INFO", "DEBUG")[min(verbose, 2)]
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    _quiet_pipecat(level)


@main.command()
@click.option(
    "--piper-python",
    type=click.Path(path_type=Path),
    default=None,
    help="Start piper's HTTP server from this interpreter (its own venv) first.",
)
@click.option("--port", type=int, default=None, help="Overrides CALLSCOPE_AGENT_PORT.")
def serve(piper_python: Path | None, port: int | None) -> None:
    """Serve TwiML (/twiml) and Twilio Media Streams (/ws) until interrupted."""
    import uvicorn

    from agent.piper_server import piper_server
    from agent.server import create_app

    settings = Settings()
    with ExitStack() as stack:
        if piper_python is not None:
            url = stack.enter_context(piper_server(piper_python, settings.agent_tts_voice))
            settings = settings.model_copy(update={"agent_tts_url": url})
        port = port or settings.agent_port
        click.echo(f"agent on http://{settings.agent_host}:{port} (TwiML /twiml, stream /ws)")
        uvicorn.run(create_app(settings), host=settings.agent_host, port=port, log_level="warning")


@main.command()
@click.option("-n", "count", type=int, default=10, show_default=True, help="Calls to place.")
@click.option("--url", default=None, help="Agent base URL (ws://host:port); default: settings.")
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--concurrency", type=int, default=1, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the caller reports as JSON.")
def calls(count: int, url: str | None, seed: int, concurrency: int, as_json: bool) -> None:
    """Place N varied simulated calls (different voices, wording, timing, one barge-in each)."""
    from agent.local import varied_calls
    from agent.orders import OrderTable

    settings = Settings()
    url = url or f"ws://{settings.agent_host}:{settings.agent_port}"
    plans = varied_calls(count, OrderTable(settings.agent_orders_path), seed)
    reports = asyncio.run(_place_all(url.rstrip("/") + "/ws", plans, concurrency))
    if as_json:
        click.echo(json.dumps([r.__dict__ for r in reports], indent=2, default=str))
        return
    click.echo(f"{'call':<36} {'dur s':>6} {'lines':>5} {'clears':>6} {'latency ms':>18}")
    lat: list[int] = []
    for r in reports:
        ms = r.latencies_ms()
        lat += ms
        click.echo(
            f"{r.call_sid:<36} {r.duration_s:>6.1f} {len(r.lines):>5} {len(r.clears):>6}"
            f" {','.join(map(str, ms)):>18}"
        )
    if lat:
        p95 = statistics.quantiles(lat, n=20)[-1] if len(lat) > 1 else lat[0]
        click.echo(f"caller-heard latency p50 {statistics.median(lat):.0f} ms, p95 {p95:.0f} ms")


async def _place_all(ws_url: str, plans: list[dict[str, Any]], concurrency: int) -> list[Any]:
    from agent.caller import place_call

    sem = asyncio.Semaphore(max(1, concurrency))

    async def one(plan: dict[str, Any]) -> Any:
        async with sem:
            t = time.monotonic()
            report = await place_call(
                ws_url,
                plan["lines"],
                voice=plan["voice"],
                speed=plan["speed"],
                from_number=plan["from_number"],
            )
            logging.getLogger("agent.calls").info(
                "call %s done in %.1fs", report.call_sid, time.monotonic() - t
            )
            return report

    return list(await asyncio.gather(*(one(p) for p in plans)))


if __name__ == "__main__":
    main()
