"""Migrations 10-14 and 40-49: read snapshots, the search index, retention audit, analyst
views, and the precomputed columns and rollups that keep them fast at archive scale.

Kept apart from ``migrations.py`` (appended to its ``MIGRATIONS``); the same rule holds:
append, never edit an applied one. The analyst views are a stable contract documented in
``docs/warehouse.md``: add columns at the end, never rename or drop one.
"""

from __future__ import annotations

from analytics.warehouse.migrations import Migration

# The call's day: UTC date of started_at (first seen when the sidecar had no start time).
CALL_DATE = "timezone('UTC', coalesce(c.started_at, c.first_seen_at))::DATE"

ARCHIVE_MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        10,
        "read snapshots and the incremental search index",
        # snapshots: one row per publish. search_docs: one row per indexed utterance (its
        # length in terms); search_terms: postings (term frequency, document length);
        # search_indexed: the analyses already indexed. No keys: bulk inserts stay fast.
        """
        CREATE TABLE snapshots (
            published_at     TIMESTAMPTZ NOT NULL,
            indexed_analyses INTEGER NOT NULL
        );
        CREATE TABLE search_docs (
            analysis_id   VARCHAR NOT NULL,
            call_id       VARCHAR NOT NULL,
            utterance_idx INTEGER NOT NULL,
            role          VARCHAR,
            n_terms       INTEGER NOT NULL
        );
        CREATE TABLE search_terms (
            term          VARCHAR NOT NULL,
            analysis_id   VARCHAR NOT NULL,
            utterance_idx INTEGER NOT NULL,
            tf            INTEGER NOT NULL,
            dl            INTEGER NOT NULL
        );
        CREATE TABLE search_indexed (
            analysis_id VARCHAR NOT NULL,
            indexed_at  TIMESTAMPTZ NOT NULL
        );
        """,
    ),
    Migration(
        11,
        "retention: purge audit",
        # Who purged, when, by which rule and how many rows of each table: never content
        # (a call id named in a deletion request is kept as its SHA-256 only).
        """
        CREATE TABLE purge_audit (
            purge_id           VARCHAR PRIMARY KEY,
            purged_at          TIMESTAMPTZ NOT NULL,
            purged_by          VARCHAR NOT NULL,
            criteria           VARCHAR NOT NULL,
            calls              INTEGER NOT NULL,
            rows_deleted       JSON NOT NULL,
            recordings_deleted INTEGER NOT NULL
        );
        """,
    ),
    Migration(
        12,
        "analyst views: calls, utterances, agent daily, category daily, cost daily",
        f"""
        CREATE VIEW v_calls AS
        WITH primary_insights AS (
            SELECT analysis_id, outcome, customer_sentiment_label, customer_sentiment_score
            FROM insights
            WHERE status = 'ok' AND prompt_version <> 'native'
            QUALIFY row_number() OVER (
                PARTITION BY analysis_id ORDER BY created_at DESC, engine, model, prompt_version
            ) = 1
        ),
        cats AS (
            SELECT analysis_id, list(category ORDER BY category) AS categories
            FROM category_matches GROUP BY analysis_id
        ),
        llm AS (SELECT analysis_id, sum(cost_usd) AS llm_usd FROM insights GROUP BY analysis_id)
        SELECT c.call_id, {CALL_DATE} AS call_date, c.started_at, c.agent_id, c.direction,
               c.duration_s, c.channels, a.language, a.engine, a.model, a.n_utterances,
               a.n_words, p.outcome, p.customer_sentiment_label AS sentiment_label,
               p.customer_sentiment_score AS sentiment_score,
               m.customer_trend_label AS sentiment_trend,
               coalesce(cats.categories, []::VARCHAR[]) AS categories,
               m.talk_s, m.non_talk_s, m.n_interruptions, m.overlap_s,
               coalesce(a.cost_usd, 0) AS transcription_usd,
               coalesce(llm.llm_usd, 0) AS llm_usd,
               coalesce(a.cost_usd, 0) + coalesce(llm.llm_usd, 0) AS cost_usd,
               a.analysis_id, a.created_at AS analysed_at
        FROM calls c
        JOIN analyses a ON a.analysis_id = c.current_analysis_id
        LEFT JOIN primary_insights p ON p.analysis_id = a.analysis_id
        LEFT JOIN cats ON cats.analysis_id = a.analysis_id
        LEFT JOIN call_metrics m ON m.analysis_id = a.analysis_id
        LEFT JOIN llm ON llm.analysis_id = a.analysis_id;

        CREATE VIEW v_utterances AS
        SELECT c.call_id, {CALL_DATE} AS call_date, c.agent_id, u.idx AS utterance_idx,
               u.speaker, u.role, u.channel, u.start_s, u.end_s,
               u.end_s - u.start_s AS duration_s, u.text, u.confidence,
               s.score AS sentiment_score, s.label AS sentiment_label, u.analysis_id
        FROM utterances u
        JOIN calls c ON u.analysis_id = c.current_analysis_id
        LEFT JOIN utterance_sentiment s
          ON s.analysis_id = u.analysis_id AND s.utterance_idx = u.idx;

        CREATE VIEW v_agent_daily AS
        SELECT call_date, agent_id, count(*) AS calls,
               coalesce(sum(duration_s), 0) / 60.0 AS audio_minutes,
               avg(duration_s) AS avg_duration_s,
               avg(sentiment_score) AS avg_sentiment,
               count(*) FILTER (WHERE outcome = 'resolved') AS resolved,
               count(*) FILTER (WHERE outcome IS NOT NULL) AS with_outcome,
               avg(n_interruptions) AS avg_interruptions,
               sum(cost_usd) AS cost_usd
        FROM v_calls
        GROUP BY call_date, agent_id;

        CREATE VIEW v_category_daily AS
        SELECT {CALL_DATE} AS call_date, m.category, count(*) AS calls
        FROM category_matches m
        JOIN calls c ON m.analysis_id = c.current_analysis_id
        GROUP BY ALL;

        CREATE VIEW v_cost_daily AS
        SELECT timezone('UTC', created_at)::DATE AS day, 'transcription' AS kind, engine, model,
               count(*) AS items, coalesce(sum(billed_minutes), 0) AS billed_minutes,
               0::BIGINT AS tokens, coalesce(sum(cost_usd), 0) AS cost_usd
        FROM analyses GROUP BY ALL
        UNION ALL
        SELECT timezone('UTC', created_at)::DATE, 'insights', engine, model,
               count(*), 0, coalesce(sum(tokens_in + tokens_out), 0), coalesce(sum(cost_usd), 0)
        FROM insights GROUP BY ALL;
        """,
    ),
    Migration(
        40,
        "precomputed per-analysis columns for the dashboard's calls list",
        # first_text: the text of the analysis' first utterance (by start time), set when
        # it lands, so listing calls never scans every utterance. Backfilled here.
        """
        ALTER TABLE analyses ADD COLUMN first_text VARCHAR;
        UPDATE analyses SET first_text = f.text
        FROM (SELECT analysis_id, arg_min(text, (start_s, idx)) AS text
              FROM utterances GROUP BY analysis_id) f
        WHERE analyses.analysis_id = f.analysis_id;
        """,
    ),
    Migration(
        41,
        "search: the role on each posting, corpus statistics kept at publish",
        # Ranking reads the postings of the query's terms only: the role filter no longer
        # joins every indexed utterance, and the document count and mean length (BM25's
        # N and avgdl over current analyses) are one row refreshed by each publish.
        """
        ALTER TABLE search_terms ADD COLUMN role VARCHAR;
        UPDATE search_terms SET role = d.role FROM search_docs d
        WHERE d.analysis_id = search_terms.analysis_id
          AND d.utterance_idx = search_terms.utterance_idx;
        CREATE TABLE search_stats (
            n_docs      BIGINT NOT NULL,
            total_terms BIGINT NOT NULL,
            updated_at  TIMESTAMPTZ NOT NULL
        );
        INSERT INTO search_stats
        SELECT count(*), coalesce(sum(n_terms), 0), now() FROM search_docs
        WHERE analysis_id IN (SELECT current_analysis_id FROM calls);
        """,
    ),
    Migration(
        42,
        "talk per role: a per-analysis rollup of the utterances, and v_role_daily over it",
        # talk_by_role: one row per analysis and role (NULL: no role), written with the
        # utterances when an analysis lands, so the analysts' talk-time aggregates read a
        # few rows a call instead of every utterance. talk_s sums end_s - start_s, as
        # v_utterances.duration_s does. Backfilled here for every analysis.
        f"""
        CREATE TABLE talk_by_role (
            analysis_id VARCHAR NOT NULL,
            call_id     VARCHAR NOT NULL,
            role        VARCHAR,
            utterances  INTEGER NOT NULL,
            talk_s      DOUBLE NOT NULL
        );
        INSERT INTO talk_by_role (analysis_id, call_id, role, utterances, talk_s)
        SELECT analysis_id, call_id, role, count(*), sum(end_s - start_s)
        FROM utterances GROUP BY analysis_id, call_id, role;

        CREATE VIEW v_role_daily AS
        SELECT {CALL_DATE} AS call_date, c.agent_id, t.role, count(*) AS calls,
               sum(t.utterances)::BIGINT AS utterances, sum(t.talk_s) AS talk_s
        FROM talk_by_role t
        JOIN calls c ON t.analysis_id = c.current_analysis_id
        GROUP BY ALL;
        """,
    ),
    Migration(
        43,
        "search: the index holds the current analyses only",
        # A reprocessed call's old analysis leaves the index at the next publish
        # (search.update_search_index), so a term's postings are its document frequency
        # and ranking never tests each posting against the calls' current pointer. Here
        # the analyses already no longer current leave it.
        """
        DELETE FROM search_terms WHERE analysis_id NOT IN (
            SELECT current_analysis_id FROM calls WHERE current_analysis_id IS NOT NULL);
        DELETE FROM search_docs WHERE analysis_id NOT IN (
            SELECT current_analysis_id FROM calls WHERE current_analysis_id IS NOT NULL);
        DELETE FROM search_indexed WHERE analysis_id NOT IN (
            SELECT current_analysis_id FROM calls WHERE current_analysis_id IS NOT NULL);
        """,
    ),
    Migration(
        44,
        "search: each indexed utterance numbered (doc) in its postings, with its lower-cased text",
        # The calls list's search box tests the text of the utterances holding every term:
        # their postings name them by number, and search_docs holds each one's text, so
        # that test reads those rows of search_docs by an integer filter instead of joining
        # the utterances on their analysis ids (every utterance's id read at each test).
        # Backfilled here, numbered and stored oldest call first (as publishes append
        # them), so the newest calls' utterances are neighbours at the end of the table;
        # the index on doc lets a short list of numbers fetch just those rows (DuckLake
        # has no indexes: there the list filters a scan).
        """
        ALTER TABLE search_docs ADD COLUMN doc BIGINT;
        ALTER TABLE search_docs ADD COLUMN text_lower VARCHAR;
        ALTER TABLE search_terms ADD COLUMN doc BIGINT;
        CREATE OR REPLACE TEMP TABLE _search_docs AS
        SELECT d.analysis_id, d.call_id, d.utterance_idx, d.role, d.n_terms,
               row_number() OVER (ORDER BY c.started_at NULLS FIRST, d.analysis_id,
                                           d.utterance_idx) AS doc,
               lower(u.text) AS text_lower
        FROM search_docs d
        JOIN utterances u ON u.analysis_id = d.analysis_id AND u.idx = d.utterance_idx
        LEFT JOIN calls c ON c.call_id = d.call_id;
        DELETE FROM search_docs;
        INSERT INTO search_docs BY NAME SELECT * FROM _search_docs ORDER BY doc;
        UPDATE search_terms SET doc = d.doc FROM _search_docs d
        WHERE d.analysis_id = search_terms.analysis_id
          AND d.utterance_idx = search_terms.utterance_idx;
        DROP TABLE _search_docs;
        CREATE UNIQUE INDEX search_docs_doc ON search_docs (doc);
        """,
    ),
)
