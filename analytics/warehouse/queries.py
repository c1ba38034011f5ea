"""Read queries for analysts and the dashboard.

Every function takes an open (read-only) DuckDB connection, runs plain SQL against the
warehouse schema and returns a pandas DataFrame or a dict. Nothing here writes, and
nothing here knows about Streamlit: open the connection with
:func:`analytics.warehouse.connect_read_only`.

"Current" always means the analysis a call's ``current_analysis_id`` points at.
"""

from __future__ import annotations

import json
from typing import Any

import duckdb
import pandas as pd

SNIPPET_CHARS = 80

# A failure stays open until the same object (source_uri + etag) lands successfully later.
_OPEN_FAILURES = """
    SELECT DISTINCT e.source_uri, e.etag
    FROM call_errors e
    WHERE NOT EXISTS (
        SELECT 1 FROM analyses a
        WHERE a.source_uri = e.source_uri
          AND a.etag IS NOT DISTINCT FROM e.etag
          AND a.created_at > e.occurred_at
    )
"""


def _records(cursor: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    cols = [d[0] for d in cursor.description or []]
    return [dict(zip(cols, row, strict=True)) for row in cursor.fetchall()]


def _like_pattern(text: str) -> str:
    """``%text%`` with LIKE wildcards in the user's text escaped (escape char ``\\``)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def overview(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Headline numbers: calls, audio minutes, analyses, open failures and the last run.

    ``failed_calls`` counts distinct (source_uri, etag) objects in ``call_errors`` that
    have no successful analysis of the same object landed after the error.
    ``last_run`` is the most recently started run as a dict, or None.
    """
    calls, audio_s = con.execute(
        "SELECT count(*), coalesce(sum(duration_s), 0) FROM calls"
    ).fetchone() or (0, 0.0)
    (analyses,) = con.execute("SELECT count(*) FROM analyses").fetchone() or (0,)
    (failed,) = con.execute(f"SELECT count(*) FROM ({_OPEN_FAILURES})").fetchone() or (0,)
    runs = _records(
        con.execute(
            "SELECT run_id, flow_run_id, source, started_at, finished_at, status, discovered,"
            " processed, failed, skipped, audio_s, wall_s FROM runs"
            " ORDER BY started_at DESC LIMIT 1"
        )
    )
    return {
        "calls": int(calls),
        "audio_minutes": float(audio_s) / 60.0,
        "analyses": int(analyses),
        "failed_calls": int(failed),
        "last_run": runs[0] if runs else None,
    }


def calls_per_day(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Calls and audio minutes per UTC day of ``started_at`` (first seen when unknown)."""
    return con.execute(
        """
        SELECT timezone('UTC', coalesce(started_at, first_seen_at))::DATE AS day,
               count(*) AS calls,
               coalesce(sum(duration_s), 0) / 60.0 AS audio_minutes
        FROM calls
        GROUP BY day
        ORDER BY day
        """
    ).df()


def list_calls(
    con: duckdb.DuckDBPyConnection, search: str | None = None, limit: int = 500
) -> pd.DataFrame:
    """Calls with their current analysis, newest first.

    ``search`` (case-insensitive substring) matches the call id, the agent id or the text
    of any utterance of the current analysis. Columns: call_id, started_at, agent_id,
    direction, duration_s, channels, language, engine, model, n_utterances, snippet.
    """
    params: list[Any] = []
    where = ""
    if search and search.strip():
        pattern = _like_pattern(search.strip())
        where = """
        WHERE c.call_id ILIKE ? ESCAPE '\\'
           OR c.agent_id ILIKE ? ESCAPE '\\'
           OR EXISTS (
                SELECT 1 FROM utterances s
                WHERE s.analysis_id = c.current_analysis_id AND s.text ILIKE ? ESCAPE '\\'
           )
        """
        params += [pattern, pattern, pattern]
    params.append(int(limit))
    return con.execute(
        f"""
        WITH first_utt AS (
            SELECT analysis_id, arg_min(text, start_s) AS text
            FROM current_utterances GROUP BY analysis_id
        )
        SELECT c.call_id, c.started_at, c.agent_id, c.direction, c.duration_s, c.channels,
               a.language, a.engine, a.model, a.n_utterances,
               CASE WHEN length(f.text) > {SNIPPET_CHARS}
                    THEN left(f.text, {SNIPPET_CHARS - 1}) || '…' ELSE f.text END AS snippet
        FROM calls c
        LEFT JOIN analyses a ON a.analysis_id = c.current_analysis_id
        LEFT JOIN first_utt f ON f.analysis_id = c.current_analysis_id
        {where}
        ORDER BY c.started_at DESC NULLS LAST, c.call_id
        LIMIT ?
        """,
        params,
    ).df()


def call_ids(con: duckdb.DuckDBPyConnection, limit: int = 10_000) -> pd.DataFrame:
    """Just the call ids (with start time), newest first: cheap input for pickers."""
    return con.execute(
        "SELECT call_id, started_at FROM calls ORDER BY started_at DESC NULLS LAST, call_id"
        " LIMIT ?",
        [int(limit)],
    ).df()


def call_detail(con: duckdb.DuckDBPyConnection, call_id: str) -> dict[str, Any] | None:
    """One call's row plus the lineage of its current analysis; None if unknown.

    ``metadata`` and ``params`` are parsed from JSON; lineage fields (analysis_id,
    engine, model, pipeline_version, diarization, language, processing_s, ...) are None
    when the call has no current analysis.
    """
    rows = _records(
        con.execute(
            """
            SELECT c.call_id, c.source_uri, c.etag, c.started_at, c.agent_id, c.direction,
                   c.channel_roles, c.duration_s, c.channels, c.sample_rate, c.metadata,
                   c.first_seen_at, c.updated_at,
                   a.analysis_id, a.run_id, a.engine, a.model, a.pipeline_version,
                   a.params, a.diarization, a.language, a.language_prob, a.processing_s,
                   a.n_utterances, a.n_words, a.created_at AS analysed_at,
                   (SELECT count(*) FROM analyses x WHERE x.call_id = c.call_id) AS n_analyses
            FROM calls c
            LEFT JOIN analyses a ON a.analysis_id = c.current_analysis_id
            WHERE c.call_id = ?
            """,
            [call_id],
        )
    )
    if not rows:
        return None
    row = rows[0]
    for key in ("metadata", "params"):
        raw = row.get(key)
        row[key] = json.loads(raw) if isinstance(raw, str) else (raw or {})
    return row


def call_utterances(con: duckdb.DuckDBPyConnection, call_id: str) -> pd.DataFrame:
    """Utterances of the call's current analysis in time order.

    Columns: idx, speaker, role, channel, start_s, end_s, text, confidence.
    """
    return con.execute(
        """
        SELECT idx, speaker, role, channel, start_s, end_s, text, confidence
        FROM current_utterances
        WHERE call_id = ?
        ORDER BY start_s, idx
        """,
        [call_id],
    ).df()


def talk_time_by_role(con: duckdb.DuckDBPyConnection, call_id: str) -> pd.DataFrame:
    """Speaking time per role in the current analysis (role None reported as 'unknown').

    Columns: role, utterances, talk_s, share (of total talk time, 0..1), largest first.
    """
    return con.execute(
        """
        WITH t AS (
            SELECT coalesce(role, 'unknown') AS role,
                   count(*) AS utterances,
                   sum(greatest(end_s - start_s, 0)) AS talk_s
            FROM current_utterances
            WHERE call_id = ?
            GROUP BY 1
        )
        SELECT role, utterances, talk_s,
               CASE WHEN sum(talk_s) OVER () > 0 THEN talk_s / sum(talk_s) OVER () ELSE 0 END
                   AS share
        FROM t
        ORDER BY talk_s DESC, role
        """,
        [call_id],
    ).df()


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
