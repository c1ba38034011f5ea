"""Agent-side metrics in the warehouse: landing (inside the call's landing) and queries."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

import duckdb

from analytics.agent_metrics import AgentMetrics, sidecar_events
from analytics.warehouse.sql import insert_rows

AGENT_EVENT_COLUMNS = ("analysis_id", "call_id", "seq", "t_s", "type", "data")


def agent_rows(
    analysis_id: str, call_id: str, metrics: AgentMetrics, extra: dict[str, Any]
) -> dict[str, tuple[tuple[str, ...], list[list[Any]]]]:
    """This analysis's agent rows per table: (columns, rows)."""
    row = {"analysis_id": analysis_id, "call_id": call_id, **asdict(metrics)}
    events = sidecar_events(extra) or []
    return {
        "agent_call_metrics": (tuple(row), [list(row.values())]),
        "agent_events": (
            AGENT_EVENT_COLUMNS,
            [
                [
                    analysis_id,
                    call_id,
                    i,
                    float(e["t"]),
                    e["type"],
                    json.dumps({k: v for k, v in e.items() if k not in ("t", "type")}),
                ]
                for i, e in enumerate(events)
            ],
        ),
    }


def write_agent_metrics(
    con: duckdb.DuckDBPyConnection,
    analysis_id: str,
    call_id: str,
    metrics: AgentMetrics,
    extra: dict[str, Any],
) -> None:
    """Replace this analysis's agent rows (re-landing the same analysis stays idempotent)."""
    con.execute("DELETE FROM agent_call_metrics WHERE analysis_id = ?", [analysis_id])
    con.execute("DELETE FROM agent_events WHERE analysis_id = ?", [analysis_id])
    for table, (columns, rows) in agent_rows(analysis_id, call_id, metrics, extra).items():
        insert_rows(con, table, columns, rows)


def call_agent_metrics(con: duckdb.DuckDBPyConnection, call_id: str) -> dict[str, Any] | None:
    """The current analysis's agent metrics of a call, or None for calls without an agent."""
    try:
        cur = con.execute("SELECT * FROM current_agent_call_metrics WHERE call_id = ?", [call_id])
    except duckdb.CatalogException:  # a warehouse not yet migrated to version 30
        return None
    row = cur.fetchone()
    if row is None:
        return None
    return dict(zip([d[0] for d in cur.description], row, strict=True))


def call_agent_events(con: duckdb.DuckDBPyConnection, call_id: str) -> list[dict[str, Any]]:
    try:
        cur = con.execute(
            "SELECT e.t_s, e.type, e.data FROM agent_events e"
            " JOIN calls c ON c.current_analysis_id = e.analysis_id"
            " WHERE e.call_id = ? ORDER BY e.seq",
            [call_id],
        )
    except duckdb.CatalogException:
        return []
    return [
        {"t_s": t, "type": kind, **json.loads(data or "{}")} for t, kind, data in cur.fetchall()
    ]
