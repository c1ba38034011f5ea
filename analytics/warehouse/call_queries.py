"""Read queries for one call's conversation metrics, categories and insights (the call
detail page), and the runs and failures lists. Plain functions over a read-only
connection; no Streamlit here."""

from __future__ import annotations

import json
from typing import Any

import duckdb
import pandas as pd

#: ``insights.prompt_version`` of rows the transcription engine produced itself.
NATIVE_PROMPT_VERSION = "native"
#: ``insights.engine`` of the rules-and-lexicon engine (no LLM involved).
OFFLINE_ENGINE = "offline"


def records(cursor: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Rows of an executed cursor as dicts."""
    cols = [d[0] for d in cursor.description or []]
    return [dict(zip(cols, row, strict=True)) for row in cursor.fetchall()]


def speaker_metrics(con: duckdb.DuckDBPyConnection, call_id: str) -> pd.DataFrame:
    """Per-speaker conversation metrics of the call's current analysis, most talk first.

    Columns: speaker, role, talk_s, talk_ratio (0..1), words, wpm, loudness_dbfs,
    longest_monologue_s, turns, questions, sentiment_mean, sentiment_q1..sentiment_q4
    (VADER compound, -1..1; None where the speaker said nothing).
    """
    return con.execute(
        """
        SELECT speaker, role, talk_s, talk_ratio, words, wpm, loudness_dbfs,
               longest_monologue_s, turns, questions, sentiment_mean,
               sentiment_q1, sentiment_q2, sentiment_q3, sentiment_q4
        FROM current_speaker_metrics
        WHERE call_id = ?
        ORDER BY talk_s DESC NULLS LAST, speaker
        """,
        [call_id],
    ).df()


def conversation_metrics(con: duckdb.DuckDBPyConnection, call_id: str) -> dict[str, Any] | None:
    """Call-level metrics of the current analysis, or None when none were computed.

    Keys: duration_s, talk_s, non_talk_s, n_silences, n_interruptions, overlap_s,
    latency_median_s, latency_p90_s (agent response latency after the customer stops),
    n_latency, customer_sentiment_first, customer_sentiment_last, customer_trend (last -
    first), customer_trend_label (improving | worsening | stable), computed_at.
    """
    rows = records(
        con.execute(
            """
            SELECT duration_s, talk_s, non_talk_s, n_silences, n_interruptions, overlap_s,
                   latency_median_s, latency_p90_s, n_latency, customer_sentiment_first,
                   customer_sentiment_last, customer_trend, customer_trend_label, computed_at
            FROM current_call_metrics
            WHERE call_id = ?
            """,
            [call_id],
        )
    )
    return rows[0] if rows else None


def call_silences(con: duckdb.DuckDBPyConnection, call_id: str) -> pd.DataFrame:
    """Stretches where nobody speaks in the current analysis, in time order.

    Columns: start_s, end_s, duration_s, is_hold (longer than the hold threshold).
    """
    return con.execute(
        """
        SELECT s.start_s, s.end_s, s.duration_s, s.is_hold
        FROM silences s JOIN calls c ON s.analysis_id = c.current_analysis_id
        WHERE c.call_id = ?
        ORDER BY s.start_s, s.idx
        """,
        [call_id],
    ).df()


def call_interruptions(con: duckdb.DuckDBPyConnection, call_id: str) -> pd.DataFrame:
    """Who started talking while someone else still was, in time order.

    Columns: start_s, end_s (end of the overlap), overlap_s, interrupter, interrupted,
    interrupter_role, interrupted_role.
    """
    return con.execute(
        """
        SELECT i.start_s, i.end_s, i.overlap_s, i.interrupter, i.interrupted,
               i.interrupter_role, i.interrupted_role
        FROM interruptions i JOIN calls c ON i.analysis_id = c.current_analysis_id
        WHERE c.call_id = ?
        ORDER BY i.start_s, i.idx
        """,
        [call_id],
    ).df()


def customer_sentiment_by_quarter(con: duckdb.DuckDBPyConnection, call_id: str) -> pd.DataFrame:
    """The customer's mean lexicon sentiment in each quarter of the call.

    One row per quarter (1-4): quarter, start_s, end_s (the quarter's span of the call),
    sentiment (None where the customer said nothing). Empty when no speaker has the
    customer role (e.g. a mono call without roles). With several customer speakers the
    quarter's value is the mean of theirs.
    """
    return con.execute(
        """
        WITH s AS (
            SELECT sentiment_q1, sentiment_q2, sentiment_q3, sentiment_q4
            FROM current_speaker_metrics
            WHERE call_id = ? AND role = 'customer'
        ),
        d AS (SELECT duration_s FROM current_call_metrics WHERE call_id = ?),
        q AS (SELECT unnest([1, 2, 3, 4]) AS quarter)
        SELECT q.quarter,
               (q.quarter - 1) * any_value(d.duration_s) / 4 AS start_s,
               q.quarter * any_value(d.duration_s) / 4 AS end_s,
               avg(CASE q.quarter WHEN 1 THEN s.sentiment_q1 WHEN 2 THEN s.sentiment_q2
                                  WHEN 3 THEN s.sentiment_q3 ELSE s.sentiment_q4 END)
                   AS sentiment
        FROM q CROSS JOIN s LEFT JOIN d ON true
        GROUP BY q.quarter
        ORDER BY q.quarter
        """,
        [call_id, call_id],
    ).df()


_EVIDENCE_COLUMNS = ["category", "rule_version", "kind", "start_s", "end_s", "detail"]


def call_categories(con: duckdb.DuckDBPyConnection, call_id: str) -> pd.DataFrame:
    """Categories the current analysis matched, one row per piece of evidence.

    Columns: category, rule_version, kind (phrase | metric | sentiment | outcome),
    start_s, end_s (the time range of the call the evidence points at), detail. A
    category without stored evidence has one row with None evidence fields.
    """
    rows = con.execute(
        """
        SELECT category, rule_version, evidence
        FROM current_category_matches
        WHERE call_id = ?
        ORDER BY category
        """,
        [call_id],
    ).fetchall()
    records: list[list[Any]] = []
    for category, rule_version, raw in rows:
        evidence = json.loads(raw) if isinstance(raw, str) else (raw or [])
        if not evidence:
            records.append([category, rule_version, None, None, None, None])
        for e in sorted(evidence, key=lambda e: (e.get("start_s") or 0.0, e.get("end_s") or 0.0)):
            records.append(
                [
                    category,
                    rule_version,
                    e.get("kind"),
                    e.get("start_s"),
                    e.get("end_s"),
                    e.get("detail"),
                ]
            )
    return pd.DataFrame(records, columns=_EVIDENCE_COLUMNS)


def call_insights(con: duckdb.DuckDBPyConnection, call_id: str) -> list[dict[str, Any]]:
    """Every insights row of the call's current analysis, as dicts.

    Keys: engine, model, prompt_version, status (ok | failed | skipped_budget), error,
    summary, reason_for_call, outcome, customer_sentiment_label, customer_sentiment_score,
    tokens_in, tokens_out, cost_usd, cached, created_at, native (True for the
    transcription engine's own insights, prompt version ``native``), and ``insights``: the
    full JSON parsed (action_items, agent_checklist, topics, issues_detected...; for
    native rows the engine's extras), {} when absent. Insights-engine rows come first,
    successful before failed, newest first: the first row is the call's primary insights.
    """
    rows = records(
        con.execute(
            f"""
            SELECT engine, model, prompt_version, status, error, summary, reason_for_call,
                   outcome, customer_sentiment_label, customer_sentiment_score, insights,
                   tokens_in, tokens_out, cost_usd, cached, created_at,
                   prompt_version = '{NATIVE_PROMPT_VERSION}' AS native
            FROM current_insights
            WHERE call_id = ?
            ORDER BY native, status = 'ok' DESC, created_at DESC, engine, model, prompt_version
            """,
            [call_id],
        )
    )
    for row in rows:
        raw = row["insights"]
        row["insights"] = json.loads(raw) if isinstance(raw, str) else (raw or {})
    return rows


# --- runs and failures ------------------------------------------------------------------------
def recent_runs(con: duckdb.DuckDBPyConnection, limit: int = 20) -> pd.DataFrame:
    """The latest runs, newest first."""
    return con.execute(
        """
        SELECT run_id, started_at, finished_at, status, source, discovered, processed,
               failed, skipped, audio_s / 60.0 AS audio_minutes, wall_s, flow_run_id
        FROM runs
        ORDER BY started_at DESC
        LIMIT ?
        """,
        [int(limit)],
    ).df()


def call_errors(con: duckdb.DuckDBPyConnection, limit: int = 200) -> pd.DataFrame:
    """Recorded failures, newest first.

    ``resolved`` is true when the same object (source_uri + etag) landed successfully
    after the error.
    """
    return con.execute(
        """
        SELECT e.occurred_at, e.stage, e.error_type, e.reason, e.retryable,
               EXISTS (
                   SELECT 1 FROM analyses a
                   WHERE a.source_uri = e.source_uri
                     AND a.etag IS NOT DISTINCT FROM e.etag
                     AND a.created_at > e.occurred_at
               ) AS resolved,
               e.call_id, e.source_uri, e.etag, e.run_id, e.error_id
        FROM call_errors e
        ORDER BY e.occurred_at DESC, e.error_id
        LIMIT ?
        """,
        [int(limit)],
    ).df()
