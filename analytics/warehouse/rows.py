"""The rows one landing writes: the call, the analysis with its utterances and words, and
the enrichment computed with it, queued on a :class:`~analytics.warehouse.sql.RowBatch`
(``bulk.land_batch`` inserts a batch of calls' rows together)."""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import duckdb

from analytics.enrich.rules import RuleSet, apply_rules
from analytics.models import CallResult, Utterance
from analytics.warehouse.enrichment import (
    CATEGORY_COLUMNS,
    category_rows,
    metrics_from_dict,
    metrics_rows,
)
from analytics.warehouse.sql import RowBatch, arrow_table

_merges = itertools.count()


def lineage_key(result: CallResult) -> str:
    """Identity of one processing: same object version, engine, model, pipeline, options,
    sidecar version and stage lineage (the last two only when known, so the keys of
    analyses landed before they were recorded do not change)."""
    parts: list[Any] = [
        result.etag,
        result.engine,
        result.model,
        result.pipeline_version,
        result.params,
    ]
    if result.sidecar_etag is not None or result.stages:
        parts += [result.sidecar_etag, result.stages]
    payload = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


def insert_row(con: duckdb.DuckDBPyConnection, table: str, row: dict[str, Any]) -> None:
    """INSERT with explicit column names, so later migrations may add columns."""
    cols = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    con.execute(f"INSERT INTO {table} ({cols}) VALUES ({marks})", list(row.values()))


CALL_COLUMNS = (
    "call_id", "source_uri", "etag", "started_at", "agent_id", "direction", "channel_roles",
    "duration_s", "channels", "sample_rate", "metadata", "current_analysis_id",
    "first_seen_at", "updated_at",
)  # fmt: skip
_CALL_TYPES = (
    "VARCHAR", "VARCHAR", "VARCHAR", "TIMESTAMPTZ", "VARCHAR", "VARCHAR", "VARCHAR[]",
    "DOUBLE", "INTEGER", "INTEGER", "JSON", "VARCHAR", "TIMESTAMPTZ", "TIMESTAMPTZ",
)  # fmt: skip
_CALL_UPDATED = [c for c in CALL_COLUMNS if c not in ("call_id", "first_seen_at")]


def call_row(result: CallResult, analysis_id: str, now: datetime) -> list[Any]:
    """The ``calls`` row (:data:`CALL_COLUMNS`) that makes ``analysis_id`` current."""
    md = result.metadata
    return [
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
    ]


def merge_calls(con: duckdb.DuckDBPyConnection, rows: Sequence[Sequence[Any]]) -> None:
    """Insert the calls, or update them to these rows' metadata and current analysis, in
    one statement (one row per call id). MERGE, not ON CONFLICT: DuckLake has no keys."""
    if not rows:
        return
    view = f"_callscope_calls_{next(_merges)}"
    con.register(view, arrow_table(CALL_COLUMNS, rows))
    cast = ", ".join(f"{c}::{t} AS {c}" for c, t in zip(CALL_COLUMNS, _CALL_TYPES, strict=True))
    try:
        con.execute(
            f"""
            MERGE INTO calls USING (SELECT {cast} FROM {view}) AS excluded
            ON calls.call_id = excluded.call_id
            WHEN MATCHED THEN UPDATE SET {", ".join(f"{c} = excluded.{c}" for c in _CALL_UPDATED)}
            WHEN NOT MATCHED THEN INSERT ({", ".join(CALL_COLUMNS)})
            VALUES ({", ".join(f"excluded.{c}" for c in CALL_COLUMNS)})
            """
        )
    finally:
        con.unregister(view)


def upsert_call(
    con: duckdb.DuckDBPyConnection, result: CallResult, analysis_id: str, now: datetime
) -> None:
    """Insert the call, or update it to this analysis' metadata; either way make the
    analysis current."""
    merge_calls(con, [call_row(result, analysis_id, now)])


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


ANALYSIS_COLUMNS = (
    "analysis_id", "call_id", "run_id", "source_uri", "etag", "lineage_key", "engine",
    "model", "pipeline_version", "params", "diarization", "language", "language_prob",
    "duration_s", "processing_s", "n_utterances", "n_words", "created_at", "lineage",
    "billed_minutes", "cost_usd", "engine_job_id", "native", "source_modified_at",
    "sidecar_etag", "stages", "first_text",
)  # fmt: skip
UTTERANCE_COLUMNS = (
    "analysis_id", "call_id", "idx", "speaker", "role", "channel", "start_s", "end_s",
    "text", "confidence", "role_confidence", "loudness_dbfs",
)  # fmt: skip
WORD_COLUMNS = (
    "analysis_id", "call_id", "utterance_idx", "idx", "speaker", "word", "start_s",
    "end_s", "prob",
)  # fmt: skip
TALK_COLUMNS = ("analysis_id", "call_id", "role", "utterances", "talk_s")


def talk_rows(analysis_id: str, call_id: str, utterances: Sequence[Utterance]) -> list[list[Any]]:
    """``talk_by_role`` rows: per role (None included) the utterances and their summed
    duration (end - start, as ``v_utterances.duration_s``)."""
    talk: dict[str | None, list[Any]] = {}
    for u in utterances:
        n_s = talk.setdefault(u.role, [0, 0.0])
        n_s[0] += 1
        n_s[1] += u.end - u.start
    return [[analysis_id, call_id, role, n, s] for role, (n, s) in talk.items()]


def analysis_rows(
    batch: RowBatch,
    result: CallResult,
    analysis_id: str,
    key: str,
    run_id: str | None,
    now: datetime,
    ruleset: RuleSet | None = None,
    insights: dict[str, Any] | None = None,
) -> None:
    """Queue a new analysis' rows: the analysis row and its :func:`content_rows`."""
    analysis_row(batch, result, analysis_id, key, run_id, now)
    content_rows(batch, result, analysis_id, ruleset, insights)


def analysis_row(
    batch: RowBatch,
    result: CallResult,
    analysis_id: str,
    key: str,
    run_id: str | None,
    now: datetime,
) -> None:
    """Queue the ``analyses`` row of a new analysis."""
    utterances = result.utterances
    first = min(range(len(utterances)), key=lambda i: (utterances[i].start, i), default=None)
    first_text = utterances[first].text if first is not None else None
    batch.add(
        "analyses",
        ANALYSIS_COLUMNS,
        [
            [
                analysis_id, result.call_id, run_id, result.source_uri, result.etag, key,
                result.engine, result.model, result.pipeline_version,
                json.dumps(result.params, default=str), result.diarization, result.language,
                result.language_prob, result.duration_s, result.processing_s, len(utterances),
                sum(len(u.words) for u in utterances), now,
                json.dumps(result.lineage, default=str), result.billed_minutes,
                result.cost_usd, result.engine_job_id, json.dumps(result.native, default=str),
                result.source_modified_at, result.sidecar_etag,
                json.dumps(result.stages, default=str), first_text,
            ]
        ],
    )  # fmt: skip


def content_rows(
    batch: RowBatch,
    result: CallResult,
    analysis_id: str,
    ruleset: RuleSet | None = None,
    insights: dict[str, Any] | None = None,
) -> None:
    """Queue what a new analysis holds: its utterances (with their measured loudness),
    their talk per role and words, its metrics and, with a ``ruleset``, its categories.
    Independent of the writer's state, so ``landing.prepare`` builds them where the call
    was processed."""
    aid, cid = analysis_id, result.call_id
    utterances = result.utterances
    metrics = metrics_from_dict(result.metrics) if result.metrics is not None else None
    loudness = list(metrics.utterance_loudness) if metrics is not None else []
    loudness += [None] * (len(utterances) - len(loudness))
    batch.add(
        "utterances",
        UTTERANCE_COLUMNS,
        [
            [aid, cid, i, u.speaker, u.role, u.channel, u.start, u.end, u.text, u.confidence,
             u.role_confidence, loudness[i]]
            for i, u in enumerate(utterances)
        ],
    )  # fmt: skip
    batch.add("talk_by_role", TALK_COLUMNS, talk_rows(aid, cid, utterances))
    batch.add(
        "words",
        WORD_COLUMNS,
        [
            [aid, cid, i, j, u.speaker, w.word, w.start, w.end, w.prob]
            for i, u in enumerate(utterances)
            for j, w in enumerate(u.words)
        ],
    )  # fmt: skip
    if metrics is None:
        return
    metrics_json = json.dumps(result.metrics)  # the same as metrics.to_dict(), unbuilt
    for table, rows in metrics_rows(aid, cid, metrics, metrics_json).items():
        batch.add(table, None, rows)
    if ruleset is not None:
        matches = apply_rules(ruleset, list(utterances), metrics, insights)
        batch.add("category_matches", CATEGORY_COLUMNS,
                  category_rows(aid, cid, matches, ruleset.version))  # fmt: skip
