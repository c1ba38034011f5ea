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

from analytics.warehouse.call_queries import (
    NATIVE_PROMPT_VERSION,
    OFFLINE_ENGINE,
    call_categories,
    call_errors,
    call_insights,
    call_interruptions,
    call_silences,
    conversation_metrics,
    customer_sentiment_by_quarter,
    recent_runs,
    records,
    speaker_metrics,
)
from analytics.warehouse.text_filter import calls_saying

SNIPPET_CHARS = 80

__all__ = [
    "NATIVE_PROMPT_VERSION", "OFFLINE_ENGINE", "call_categories", "call_detail", "call_errors",
    "call_ids", "call_insights", "call_interruptions", "call_silences", "call_utterances",
    "calls_per_category", "calls_per_day", "conversation_metrics", "cost_summary",
    "customer_sentiment_by_quarter", "filter_options", "list_calls", "outcome_distribution",
    "overview", "recent_runs", "speaker_metrics", "talk_time_by_role",
]  # fmt: skip

# The insights a call is known by (its outcome in lists and charts): the newest successful
# row of its current analysis that is not the transcription engine's own.
_PRIMARY_INSIGHTS = f"""
    SELECT call_id, analysis_id, engine, model, prompt_version, outcome,
           customer_sentiment_label, customer_sentiment_score
    FROM current_insights
    WHERE status = 'ok' AND prompt_version <> '{NATIVE_PROMPT_VERSION}'
    QUALIFY row_number() OVER (
        PARTITION BY analysis_id ORDER BY created_at DESC, engine, model, prompt_version
    ) = 1
"""

# The same over any analyses (``among``: an extra condition on insights.analysis_id);
# callers join it to current analyses.
_PRIMARY_OF = f"""
    SELECT analysis_id, outcome FROM insights
    WHERE status = 'ok' AND prompt_version <> '{NATIVE_PROMPT_VERSION}' {{among}}
    QUALIFY row_number() OVER (
        PARTITION BY analysis_id ORDER BY created_at DESC, engine, model, prompt_version
    ) = 1
"""

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
    runs = records(
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


def outcome_distribution(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Calls per outcome of their primary insights (the newest successful, non-native
    insights of the current analysis); calls without such insights have a missing outcome.

    Columns: outcome, calls, share (of all calls with a current analysis, 0..1); most
    calls first, the missing outcome last.
    """
    return con.execute(
        f"""
        WITH p AS ({_PRIMARY_INSIGHTS})
        SELECT p.outcome, count(*) AS calls, count(*) / sum(count(*)) OVER () AS share
        FROM calls c
        JOIN analyses a ON a.analysis_id = c.current_analysis_id
        LEFT JOIN p ON p.analysis_id = c.current_analysis_id
        GROUP BY p.outcome
        ORDER BY p.outcome IS NULL, calls DESC, p.outcome
        """
    ).df()


def calls_per_category(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """How many calls' current analyses matched each category (a call counts once per
    category it matched).

    Columns: category, calls, share (of all calls with a current analysis, 0..1),
    rule_versions (sorted list of the rule versions the matches were made with); most
    calls first.
    """
    df = con.execute(
        """
        WITH total AS (
            SELECT count(*) AS n FROM calls c
            JOIN analyses a ON a.analysis_id = c.current_analysis_id
        )
        SELECT m.category, count(*) AS calls,
               count(*) / any_value(total.n) AS share,
               list(DISTINCT m.rule_version ORDER BY m.rule_version) AS rule_versions
        FROM current_category_matches m, total
        GROUP BY m.category
        ORDER BY calls DESC, m.category
        """
    ).df()
    df["rule_versions"] = df["rule_versions"].map(list)
    return df


def cost_summary(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """What processing has cost so far, over every analysis and insights row ever landed
    (re-processing costs again, so history counts, not just current analyses).

    Keys: transcription_usd (engine price x billed minutes), billed_minutes, llm_usd
    (insights tokens at the configured prices; cache hits and the offline engine cost
    nothing), tokens_in, tokens_out, llm_calls (insights rows that spent tokens),
    total_usd.
    """
    transcription, minutes = con.execute(
        "SELECT coalesce(sum(cost_usd), 0), coalesce(sum(billed_minutes), 0) FROM analyses"
    ).fetchone() or (0.0, 0.0)
    llm, tokens_in, tokens_out, llm_calls = con.execute(
        "SELECT coalesce(sum(cost_usd), 0), coalesce(sum(tokens_in), 0),"
        " coalesce(sum(tokens_out), 0), count(*) FILTER (WHERE tokens_in + tokens_out > 0)"
        " FROM insights"
    ).fetchone() or (0.0, 0, 0, 0)
    return {
        "transcription_usd": float(transcription),
        "billed_minutes": float(minutes),
        "llm_usd": float(llm),
        "tokens_in": int(tokens_in),
        "tokens_out": int(tokens_out),
        "llm_calls": int(llm_calls),
        "total_usd": float(transcription) + float(llm),
    }


def list_calls(
    con: duckdb.DuckDBPyConnection,
    search: str | None = None,
    limit: int = 500,
    *,
    category: str | None = None,
    outcome: str | None = None,
) -> pd.DataFrame:
    """Calls with their current analysis, newest first.

    ``search`` (case-insensitive substring) matches the call id, the agent id or the text
    of an utterance of the current analysis. The utterances tested come from the search
    index (:mod:`analytics.warehouse.text_filter`): a word of the text that is an indexed
    term matches where that word was said ("refund" finds "Refunded,"; "charged twice"
    needs both words, in that order), not inside a longer word ("fund" does not find
    "refund" once somebody said "fund"); its other words (a part of a word: "charged tw")
    are left to the substring test. A text with no indexed term at all (only
    punctuation, "?"; a part of a word, "refu"; an id) is looked for in every utterance.
    Calls landed since the last publish (not indexed yet) are always tested.
    ``category`` keeps calls whose current analysis matched that category, ``outcome``
    calls whose primary insights (the newest successful, non-native insights row) have
    that outcome. Columns: call_id, started_at, agent_id, direction, duration_s,
    channels, language, engine, model, n_utterances, outcome (missing without insights),
    categories (a sorted list, empty when none), snippet.
    """
    params: list[Any] = []
    conditions: list[str] = []
    if category:
        conditions.append(
            "c.current_analysis_id IN (SELECT m.analysis_id FROM category_matches m"
            " WHERE m.category = ?)"
        )
        params.append(category)
    if outcome:
        conditions.append(
            f"c.current_analysis_id IN (SELECT analysis_id FROM ({_PRIMARY_OF.format(among='')})"
            " WHERE outcome = ?)"
        )
        params.append(outcome)
    if search and search.strip():
        # The page's calls, found through the search index; the rest joins just those.
        ids = calls_saying(con, search.strip(), int(limit), conditions, params)
        conditions, params = ["c.call_id IN (SELECT unnest(?::VARCHAR[]))"], [ids]
    where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    params.append(int(limit))
    # The page of calls first (an index-free top-N over calls), then the joins for just
    # those: nothing here scans every utterance or every insights row.
    among = "AND analysis_id IN (SELECT current_analysis_id FROM page)"
    df = con.execute(
        f"""
        WITH page AS (
            SELECT c.call_id, c.started_at, c.agent_id, c.direction, c.duration_s,
                   c.channels, c.current_analysis_id
            FROM calls c
            {where}
            ORDER BY c.started_at DESC NULLS LAST, c.call_id
            LIMIT ?
        ),
        primary_insights AS ({_PRIMARY_OF.format(among=among)}),
        cats AS (
            SELECT analysis_id, list(category ORDER BY category) AS categories
            FROM category_matches WHERE true {among} GROUP BY analysis_id
        )
        SELECT c.call_id, c.started_at, c.agent_id, c.direction, c.duration_s, c.channels,
               a.language, a.engine, a.model, a.n_utterances,
               p.outcome,
               coalesce(cats.categories, []::VARCHAR[]) AS categories,
               CASE WHEN length(a.first_text) > {SNIPPET_CHARS}
                    THEN left(a.first_text, {SNIPPET_CHARS - 1}) || '…'
                    ELSE a.first_text END AS snippet
        FROM page c
        LEFT JOIN analyses a ON a.analysis_id = c.current_analysis_id
        LEFT JOIN primary_insights p ON p.analysis_id = c.current_analysis_id
        LEFT JOIN cats ON cats.analysis_id = c.current_analysis_id
        ORDER BY c.started_at DESC NULLS LAST, c.call_id
        """,
        params,
    ).df()
    df["categories"] = df["categories"].map(list)
    return df


def filter_options(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """What the calls list can be filtered by: the categories current analyses matched
    and the outcomes of their primary insights, each sorted."""
    categories = con.execute(
        "SELECT DISTINCT category FROM current_category_matches ORDER BY category"
    ).fetchall()
    outcomes = con.execute(
        f"SELECT DISTINCT outcome FROM ({_PRIMARY_INSIGHTS}) WHERE outcome IS NOT NULL"
        " ORDER BY outcome"
    ).fetchall()
    return {"categories": [r[0] for r in categories], "outcomes": [r[0] for r in outcomes]}


def call_ids(con: duckdb.DuckDBPyConnection, limit: int = 10_000) -> pd.DataFrame:
    """Just the call ids (with start time), newest first: cheap input for pickers."""
    return con.execute(
        "SELECT call_id, started_at FROM calls ORDER BY started_at DESC NULLS LAST, call_id"
        " LIMIT ?",
        [int(limit)],
    ).df()


def call_detail(con: duckdb.DuckDBPyConnection, call_id: str) -> dict[str, Any] | None:
    """One call's row plus the lineage of its current analysis; None if unknown.

    ``metadata``, ``params`` and ``lineage`` (what produced the output beyond engine and
    model names) are parsed from JSON; lineage fields (analysis_id, engine, model,
    pipeline_version, diarization, language, processing_s, billed_minutes, cost_usd,
    engine_job_id, ...) are None when the call has no current analysis.
    """
    rows = records(
        con.execute(
            """
            SELECT c.call_id, c.source_uri, c.etag, c.started_at, c.agent_id, c.direction,
                   c.channel_roles, c.duration_s, c.channels, c.sample_rate, c.metadata,
                   c.first_seen_at, c.updated_at,
                   a.analysis_id, a.run_id, a.engine, a.model, a.pipeline_version,
                   a.params, a.diarization, a.language, a.language_prob, a.processing_s,
                   a.n_utterances, a.n_words, a.created_at AS analysed_at,
                   a.lineage, a.billed_minutes, a.cost_usd, a.engine_job_id,
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
    for key in ("metadata", "params", "lineage"):
        raw = row.get(key)
        row[key] = json.loads(raw) if isinstance(raw, str) else (raw or {})
    return row


def call_utterances(con: duckdb.DuckDBPyConnection, call_id: str) -> pd.DataFrame:
    """Utterances of the call's current analysis in time order.

    Columns: idx, speaker, role, channel, start_s, end_s, text, confidence,
    role_confidence (how sure the role is: 1.0 from the sidecar, a heuristic score for
    diarized speakers, None without a role), loudness_dbfs.
    """
    return con.execute(
        """
        SELECT idx, speaker, role, channel, start_s, end_s, text, confidence,
               role_confidence, loudness_dbfs
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
