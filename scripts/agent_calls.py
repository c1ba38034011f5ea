"""``make calls N=10``: fresh agent recordings for the next nightly_ingest.

With an agent already answering on CALLSCOPE_AGENT_HOST:PORT (``make agent``), the N
simulated calls go to it and its recordings land wherever it is configured. Otherwise the run
is self-contained: a loopback S3 server, piper's HTTP server, the agent in its own process,
N varied simulated calls, then ``nightly_ingest`` over the bucket into CALLSCOPE_WAREHOUSE,
so the calls and their agent metrics show in the warehouse and the dashboard.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
import urllib.request
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parents[1]
# Prefect's temporary server can take long to start on a busy machine (default 20 s).
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
sys.path.insert(0, str(ROOT))

from agent.__main__ import _place_all, _quiet_pipecat  # noqa: E402
from agent.local import agent_subprocess, settings_env, varied_calls  # noqa: E402
from agent.orders import OrderTable  # noqa: E402
from agent.piper_server import piper_server  # noqa: E402
from analytics.config import Settings  # noqa: E402


def _agent_up(settings: Settings) -> bool:
    url = f"http://{settings.agent_host}:{settings.agent_port}/health"
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except OSError:
        return False


def _table(reports: list) -> None:
    for r in reports:
        click.echo(
            f"{r.call_sid}  {r.duration_s:6.1f}s  lines {len(r.lines)}  clears {len(r.clears)}"
            f"  heard latency ms {r.latencies_ms()}  agent hung up: {r.hung_up_by_agent}"
        )


@click.command()
@click.option("-n", "count", type=int, default=10, show_default=True)
@click.option("--piper-python", type=click.Path(path_type=Path), default=".venv-tts/bin/python")
@click.option("--seed", type=int, default=int(time.time()) % 1000)
@click.option("--bucket", default="callscope-recordings", show_default=True)
def main(count: int, piper_python: Path, seed: int, bucket: str) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    _quiet_pipecat("WARNING")
    settings = Settings()
    plans = varied_calls(count, OrderTable(settings.agent_orders_path), seed)
    if _agent_up(settings):
        url = f"ws://{settings.agent_host}:{settings.agent_port}/ws"
        click.echo(f"placing {count} calls to the running agent at {url}")
        _table(asyncio.run(_place_all(url, plans, 1)))
        return

    from analytics.sources.s3 import make_client
    from flows.cli import render_summary
    from flows.ingest import nightly_ingest
    from flows.local_s3 import local_s3_server

    with local_s3_server() as s3, piper_server(piper_python, settings.agent_tts_voice) as tts:
        overrides = {**s3.settings_overrides(), "source": f"s3://{bucket}/recordings/"}
        client = make_client(Settings(**overrides).s3_client_kwargs())
        client.create_bucket(Bucket=bucket)
        env = settings_env(**overrides, agent_tts_url=tts)
        with agent_subprocess(env) as (url, _pid):
            click.echo(f"agent {url}, S3 {s3.endpoint_url}: placing {count} calls")
            _table(asyncio.run(_place_all(f"{url}/ws", plans, 1)))
            time.sleep(2)  # the last recording is uploaded after its hang-up
        keys = [o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", [])]
        click.echo(f"{len(keys)} objects in s3://{bucket}/recordings/; running nightly_ingest")
        s3.export_credentials()  # secrets reach the flow through the environment only
        source = overrides["source"]
        summary = nightly_ingest(source=source, settings={**s3.flow_overrides(), "source": source})
    click.echo(render_summary(summary))


if __name__ == "__main__":
    main()
