"""Insights, redaction counts and the LLM response cache in the warehouse (migration 3).

``write_insights`` and ``write_redaction_counts`` take an open connection so the single
writer can put them in the same transaction as the rest of a call (or in their own, with
:func:`land_insights`). :class:`WarehouseLLMCache` opens a short connection per operation.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import duckdb

from analytics.errors import WarehouseError
from analytics.insights.base import CacheEntry, CacheKey, InsightResult
from analytics.warehouse.db import Warehouse
from analytics.warehouse.sql import insert_rows

log = logging.getLogger(__name__)


def _now() -> datetime:
    return datetime.now(UTC)


def write_insights(
    con: duckdb.DuckDBPyConnection, analysis_id: str, call_id: str, result: InsightResult
) -> None:
    """Record one insights outcome (ok, failed or skipped_budget) for an analysis.

    One row per (analysis, engine, model, prompt version). A later result replaces an
    earlier one, except that a cache hit never replaces an ``ok`` row: the row keeps the
    tokens and cost that were actually paid for those insights.
    """
    existing = con.execute(
        "SELECT status FROM insights WHERE analysis_id = ? AND engine = ? AND model = ?"
        " AND prompt_version = ?",
        [analysis_id, result.engine, result.model, result.prompt_version],
    ).fetchone()
    if existing and existing[0] == "ok" and result.cached:
        return
    # DELETE + INSERT rather than INSERT OR REPLACE: DuckLake tables have no keys.
    con.execute(
        "DELETE FROM insights WHERE analysis_id = ? AND engine = ? AND model = ?"
        " AND prompt_version = ?",
        [analysis_id, result.engine, result.model, result.prompt_version],
    )
    insert_rows(con, "insights", INSIGHTS_COLUMNS, [insights_row(analysis_id, call_id, result)])


INSIGHTS_COLUMNS = (
    "analysis_id", "call_id", "engine", "model", "prompt_version", "summary",
    "reason_for_call", "outcome", "customer_sentiment_label", "customer_sentiment_score",
    "insights", "tokens_in", "tokens_out", "cost_usd", "cached", "status", "error",
    "transcript_hash", "created_at",
)  # fmt: skip


def insights_row(analysis_id: str, call_id: str, result: InsightResult) -> list[Any]:
    """The ``insights`` row (:data:`INSIGHTS_COLUMNS`) of one insights outcome."""
    ins = result.insights
    sentiment = ins.customer_sentiment if ins else None
    return [
        analysis_id,
        call_id,
        result.engine,
        result.model,
        result.prompt_version,
        ins.summary if ins else None,
        ins.reason_for_call if ins else None,
        ins.outcome if ins else None,
        sentiment.label if sentiment else None,
        sentiment.score if sentiment else None,
        ins.model_dump_json() if ins else None,
        result.tokens_in,
        result.tokens_out,
        result.cost_usd,
        result.cached,
        result.status,
        result.error,
        result.transcript_hash or None,
        _now(),
    ]


REDACTION_COLUMNS = ("analysis_id", "call_id", "pii_type", "count")


def redaction_rows(analysis_id: str, call_id: str, counts: Mapping[str, int]) -> list[list[Any]]:
    """``redaction_counts`` rows: one per PII type, zeros included."""
    return [[analysis_id, call_id, kind, int(n)] for kind, n in sorted(counts.items())]


def write_redaction_counts(
    con: duckdb.DuckDBPyConnection, analysis_id: str, call_id: str, counts: Mapping[str, int]
) -> None:
    """One row per PII type (zeros included) for an analysis; replaces earlier counts."""
    con.execute("DELETE FROM redaction_counts WHERE analysis_id = ?", [analysis_id])
    insert_rows(
        con, "redaction_counts", REDACTION_COLUMNS, redaction_rows(analysis_id, call_id, counts)
    )


def land_insights(
    warehouse: Warehouse,
    analysis_id: str,
    call_id: str,
    result: InsightResult,
    redaction_counts: Mapping[str, int] | None = None,
) -> None:
    """Insights (and optionally redaction counts) of one analysis in one transaction."""
    try:
        with warehouse.transaction() as con:
            write_insights(con, analysis_id, call_id, result)
            if redaction_counts is not None:
                write_redaction_counts(con, analysis_id, call_id, redaction_counts)
    except duckdb.Error as exc:
        raise WarehouseError(f"writing insights of call {call_id} failed: {exc}") from exc
    log.info(
        "call %s: insights %s (%s/%s, %d+%d tokens%s)",
        call_id,
        result.status,
        result.engine,
        result.model,
        result.tokens_in,
        result.tokens_out,
        ", cached" if result.cached else "",
    )


class WarehouseLLMCache:
    """The LLM response cache in the ``llm_cache`` table (one short connection per op)."""

    def __init__(self, warehouse: Warehouse) -> None:
        self.warehouse = warehouse

    def get(self, key: CacheKey) -> CacheEntry | None:
        with self.warehouse.connect() as con:
            row = con.execute(
                "SELECT response, tokens_in, tokens_out, cost_usd FROM llm_cache"
                " WHERE cache_key = ?",
                [key.digest],
            ).fetchone()
        if row is None:
            return None
        response = json.loads(row[0]) if isinstance(row[0], str) else row[0]
        return CacheEntry(response, int(row[1]), int(row[2]), float(row[3]))

    def put(self, key: CacheKey, entry: CacheEntry) -> None:
        with self.warehouse.transaction() as con:
            con.execute("DELETE FROM llm_cache WHERE cache_key = ?", [key.digest])
            con.execute(
                "INSERT INTO llm_cache VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    key.digest,
                    key.engine,
                    key.model,
                    key.prompt_version,
                    key.transcript_hash,
                    json.dumps(entry.response, ensure_ascii=False),
                    entry.tokens_in,
                    entry.tokens_out,
                    entry.cost_usd,
                    _now(),
                ],
            )


_NATIVE_SCORES = {"POSITIVE": 1.0, "NEUTRAL": 0.0, "NEGATIVE": -1.0}


def native_insights_row(
    analysis_id: str, call_id: str, engine: str, model: str, native: Mapping[str, Any]
) -> list[Any] | None:
    """The insights row (:data:`INSIGHTS_COLUMNS`) of what a transcription engine produced
    itself (e.g. AssemblyAI's summary and sentence sentiment), with that engine's lineage
    (prompt version ``native``); None when it produced nothing of the kind. Sentiment is
    the mean over sentences (+1 / 0 / -1), all speakers."""
    sentences = native.get("sentiment") or []
    scores = [_NATIVE_SCORES.get(str(s.get("sentiment", "")).upper()) for s in sentences]
    known = [s for s in scores if s is not None]
    score = round(sum(known) / len(known), 4) if known else None
    label = None
    if score is not None:
        label = "positive" if score >= 0.05 else "negative" if score <= -0.05 else "neutral"
    summary = native.get("summary")
    if summary is None and score is None and not native.get("entities"):
        return None
    return [
        analysis_id, call_id, engine, model, "native", summary, None, None, label, score,
        json.dumps(dict(native), default=str), 0, 0, 0.0, False, "ok", None, None, _now(),
    ]  # fmt: skip


def write_native_insights(
    con: duckdb.DuckDBPyConnection,
    analysis_id: str,
    call_id: str,
    engine: str,
    model: str,
    native: Mapping[str, Any],
) -> None:
    """Store the engine's own insights (:func:`native_insights_row`), replacing earlier."""
    row = native_insights_row(analysis_id, call_id, engine, model, native)
    if row is None:
        return
    con.execute(
        "DELETE FROM insights WHERE analysis_id = ? AND engine = ? AND model = ?"
        " AND prompt_version = 'native'",
        [analysis_id, engine, model],
    )
    insert_rows(con, "insights", INSIGHTS_COLUMNS, [row])
