"""The rows one landing writes: the call, the analysis with its utterances and words, and
the enrichment computed with it. Called inside the landing transaction (``db.Warehouse``)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import duckdb

from analytics.enrich.rules import RuleSet, apply_rules
from analytics.models import CallResult
from analytics.warehouse.enrichment import metrics_from_dict, write_category_matches, write_metrics
from analytics.warehouse.sql import insert_rows


def insert_row(con: duckdb.DuckDBPyConnection, table: str, row: dict[str, Any]) -> None:
    """INSERT with explicit column names, so later migrations may add columns."""
    cols = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    con.execute(f"INSERT INTO {table} ({cols}) VALUES ({marks})", list(row.values()))


def upsert_call(
    con: duckdb.DuckDBPyConnection, result: CallResult, analysis_id: str, now: datetime
) -> None:
    """Insert the call, or update it to this analysis' metadata; either way make the
    analysis current."""
    md = result.metadata
    # MERGE, not ON CONFLICT: DuckLake tables have no keys (lake.py).
    con.execute(
        """
        MERGE INTO calls USING (
            SELECT ?::VARCHAR AS call_id, ?::VARCHAR AS source_uri,
                ?::VARCHAR AS etag, ?::TIMESTAMPTZ AS started_at,
                ?::VARCHAR AS agent_id, ?::VARCHAR AS direction,
                ?::VARCHAR[] AS channel_roles, ?::DOUBLE AS duration_s,
                ?::INTEGER AS channels, ?::INTEGER AS sample_rate,
                ?::JSON AS metadata, ?::VARCHAR AS current_analysis_id,
                ?::TIMESTAMPTZ AS first_seen_at, ?::TIMESTAMPTZ AS updated_at
        ) AS excluded ON calls.call_id = excluded.call_id
        WHEN MATCHED THEN UPDATE SET
            source_uri = excluded.source_uri, etag = excluded.etag,
            started_at = excluded.started_at, agent_id = excluded.agent_id,
            direction = excluded.direction, channel_roles = excluded.channel_roles,
            duration_s = excluded.duration_s, channels = excluded.channels,
            sample_rate = excluded.sample_rate, metadata = excluded.metadata,
            current_analysis_id = excluded.current_analysis_id,
            updated_at = excluded.updated_at
        WHEN NOT MATCHED THEN INSERT (call_id, source_uri, etag, started_at,
            agent_id, direction, channel_roles, duration_s, channels, sample_rate,
            metadata, current_analysis_id, first_seen_at, updated_at)
        VALUES (excluded.call_id, excluded.source_uri, excluded.etag,
            excluded.started_at, excluded.agent_id, excluded.direction,
            excluded.channel_roles, excluded.duration_s, excluded.channels,
            excluded.sample_rate, excluded.metadata, excluded.current_analysis_id,
            excluded.first_seen_at, excluded.updated_at)
        """,
        [
            result.call_id,
            result.source_uri,
            result.etag,
            md.started_at,
            md.agent_id,
            md.direction,
            list(md.channel_roles) if md.channel_roles is not None else None,
            result.duration_s,
            result.channels,
            result.sample_rate,
            json.dumps(md.extra, default=str),
            analysis_id,
            now,
            now,
        ],
    )


def newer_is_current(con: duckdb.DuckDBPyConnection, result: CallResult) -> bool:
    """Whether the call's current analysis is of a newer object version than ``result``."""
    if result.source_modified_at is None:
        return False
    row = con.execute(
        "SELECT a.source_modified_at FROM calls c"
        " JOIN analyses a ON a.analysis_id = c.current_analysis_id WHERE c.call_id = ?",
        [result.call_id],
    ).fetchone()
    return bool(row and row[0] is not None and row[0] > result.source_modified_at)


def insert_analysis(
    con: duckdb.DuckDBPyConnection,
    result: CallResult,
    analysis_id: str,
    key: str,
    run_id: str | None,
    now: datetime,
) -> None:
    """The analysis row, its utterances and its words."""
    words = result.words
    insert_row(
        con,
        "analyses",
        {
            "analysis_id": analysis_id,
            "call_id": result.call_id,
            "run_id": run_id,
            "source_uri": result.source_uri,
            "etag": result.etag,
            "lineage_key": key,
            "engine": result.engine,
            "model": result.model,
            "pipeline_version": result.pipeline_version,
            "params": json.dumps(result.params, default=str),
            "diarization": result.diarization,
            "language": result.language,
            "language_prob": result.language_prob,
            "duration_s": result.duration_s,
            "processing_s": result.processing_s,
            "n_utterances": len(result.utterances),
            "n_words": len(words),
            "created_at": now,
            "lineage": json.dumps(result.lineage, default=str),
            "billed_minutes": result.billed_minutes,
            "cost_usd": result.cost_usd,
            "engine_job_id": result.engine_job_id,
            "native": json.dumps(result.native, default=str),
            "source_modified_at": result.source_modified_at,
            "sidecar_etag": result.sidecar_etag,
            "stages": json.dumps(result.stages, default=str),
        },
    )
    if result.utterances:
        insert_rows(
            con,
            "utterances",
            (
                "analysis_id",
                "call_id",
                "idx",
                "speaker",
                "role",
                "channel",
                "start_s",
                "end_s",
                "text",
                "confidence",
                "role_confidence",
            ),
            [
                [
                    analysis_id,
                    result.call_id,
                    i,
                    u.speaker,
                    u.role,
                    u.channel,
                    u.start,
                    u.end,
                    u.text,
                    u.confidence,
                    u.role_confidence,
                ]
                for i, u in enumerate(result.utterances)
            ],
        )
    word_rows = [
        [analysis_id, result.call_id, i, j, u.speaker, w.word, w.start, w.end, w.prob]
        for i, u in enumerate(result.utterances)
        for j, w in enumerate(u.words)
    ]
    insert_rows(
        con,
        "words",
        (
            "analysis_id",
            "call_id",
            "utterance_idx",
            "idx",
            "speaker",
            "word",
            "start_s",
            "end_s",
            "prob",
        ),
        word_rows,
    )


def land_enrichment(
    con: duckdb.DuckDBPyConnection,
    analysis_id: str,
    result: CallResult,
    ruleset: RuleSet | None,
    insights: dict[str, Any] | None,
) -> None:
    """Metrics and categories of a new analysis, inside the landing transaction."""
    if result.metrics is None:
        return
    metrics = metrics_from_dict(result.metrics)
    write_metrics(con, analysis_id, result.call_id, metrics)
    if ruleset is not None:
        matches = apply_rules(ruleset, list(result.utterances), metrics, insights)
        write_category_matches(con, analysis_id, result.call_id, matches, ruleset.version)
