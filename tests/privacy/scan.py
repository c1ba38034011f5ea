"""Where a flow run leaves text behind: Prefect's records of it and the warehouse rows."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from analytics.warehouse import connect_read_only


def prefect_records(flow_run_id: str) -> dict[str, str]:
    """Everything Prefect's API holds about one flow run, as JSON text per kind (the raw
    REST API: its filter endpoints, as the UI reads them). Waits (up to 60 s) until the
    run's log count stops growing over 2 s: the server stores log batches after
    answering, so a loaded machine sees them late."""
    from prefect.client.orchestration import get_client
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=10)  # logs reach the API in batches
    runs = {"flow_runs": {"id": {"any_": [flow_run_id]}}}
    with get_client(sync_client=True) as client:
        api = client._client

        def post(path: str, body: dict[str, Any]) -> str:
            """Every page of a filter endpoint (a run logs more than one page)."""
            rows: list[Any] = []
            while True:
                resp = api.post(path, json={"limit": 200, "offset": len(rows), **body})
                resp.raise_for_status()
                page = resp.json()
                rows += page
                if len(page) < 200:
                    return json.dumps(rows)

        log_filter = {"logs": {"flow_run_id": {"any_": [flow_run_id]}}}
        deadline = time.monotonic() + 60
        logs, before = post("/logs/filter", log_filter), None
        while logs != before and time.monotonic() < deadline:
            time.sleep(2.0)
            before, logs = logs, post("/logs/filter", log_filter)
        return {
            "flow run": api.get(f"/flow_runs/{flow_run_id}").text,
            "task runs": post("/task_runs/filter", runs),
            "logs": logs,
            "artifacts": post("/artifacts/filter", {}),
        }


def warehouse_rows(path: Path) -> dict[str, str]:
    with connect_read_only(path) as con:
        tables = [
            t
            for (t,) in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE'"
            ).fetchall()
        ]
        return {
            t: json.dumps(con.execute(f'SELECT * FROM "{t}"').fetchall(), default=str)
            for t in tables
        }
