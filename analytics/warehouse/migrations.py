"""Versioned schema migrations. Append a new ``Migration``; never edit an applied one."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "core tables: calls, analyses, utterances, words, runs, call_errors",
        """
        CREATE TABLE calls (
            call_id             VARCHAR PRIMARY KEY,
            source_uri          VARCHAR NOT NULL,
            etag                VARCHAR,
            started_at          TIMESTAMPTZ,
            agent_id            VARCHAR,
            direction           VARCHAR,
            channel_roles       VARCHAR[],
            duration_s          DOUBLE,
            channels            INTEGER,
            sample_rate         INTEGER,
            metadata            JSON,
            current_analysis_id VARCHAR,
            first_seen_at       TIMESTAMPTZ NOT NULL,
            updated_at          TIMESTAMPTZ NOT NULL
        );
        CREATE TABLE runs (
            run_id       VARCHAR PRIMARY KEY,
            flow_run_id  VARCHAR,
            source       VARCHAR NOT NULL,
            started_at   TIMESTAMPTZ NOT NULL,
            finished_at  TIMESTAMPTZ,
            status       VARCHAR NOT NULL,
            discovered   INTEGER DEFAULT 0,
            processed    INTEGER DEFAULT 0,
            failed       INTEGER DEFAULT 0,
            skipped      INTEGER DEFAULT 0,
            audio_s      DOUBLE DEFAULT 0,
            wall_s       DOUBLE,
            params       JSON
        );
        CREATE TABLE analyses (
            analysis_id      VARCHAR PRIMARY KEY,
            call_id          VARCHAR NOT NULL,
            run_id           VARCHAR,
            source_uri       VARCHAR NOT NULL,
            etag             VARCHAR,
            lineage_key      VARCHAR NOT NULL,
            engine           VARCHAR NOT NULL,
            model            VARCHAR NOT NULL,
            pipeline_version VARCHAR NOT NULL,
            params           JSON,
            diarization      VARCHAR,
            language         VARCHAR,
            language_prob    DOUBLE,
            duration_s       DOUBLE,
            processing_s     DOUBLE,
            n_utterances     INTEGER,
            n_words          INTEGER,
            created_at       TIMESTAMPTZ NOT NULL,
            UNIQUE (call_id, lineage_key)
        );
        CREATE TABLE utterances (
            analysis_id VARCHAR NOT NULL,
            call_id     VARCHAR NOT NULL,
            idx         INTEGER NOT NULL,
            speaker     VARCHAR NOT NULL,
            role        VARCHAR,
            channel     INTEGER,
            start_s     DOUBLE NOT NULL,
            end_s       DOUBLE NOT NULL,
            text        VARCHAR NOT NULL,
            confidence  DOUBLE,
            PRIMARY KEY (analysis_id, idx)
        );
        CREATE TABLE words (
            analysis_id   VARCHAR NOT NULL,
            call_id       VARCHAR NOT NULL,
            utterance_idx INTEGER NOT NULL,
            idx           INTEGER NOT NULL,
            speaker       VARCHAR NOT NULL,
            word          VARCHAR NOT NULL,
            start_s       DOUBLE NOT NULL,
            end_s         DOUBLE NOT NULL,
            prob          DOUBLE
        );
        CREATE TABLE call_errors (
            error_id    VARCHAR PRIMARY KEY,
            run_id      VARCHAR,
            call_id     VARCHAR,
            source_uri  VARCHAR NOT NULL,
            etag        VARCHAR,
            stage       VARCHAR NOT NULL,
            error_type  VARCHAR NOT NULL,
            reason      VARCHAR NOT NULL,
            retryable   BOOLEAN NOT NULL,
            occurred_at TIMESTAMPTZ NOT NULL
        );
        CREATE VIEW current_analyses AS
            SELECT a.* FROM analyses a JOIN calls c ON a.analysis_id = c.current_analysis_id;
        CREATE VIEW current_utterances AS
            SELECT u.* FROM utterances u JOIN calls c ON u.analysis_id = c.current_analysis_id;
        """,
    ),
    Migration(
        2,
        "conversation metrics, sentiment, categories",
        # Per-utterance loudness is a nullable column of utterances (landing names its
        # columns); the metrics writer fills it.
        """
        ALTER TABLE utterances ADD COLUMN loudness_dbfs DOUBLE;
        CREATE TABLE call_metrics (
            analysis_id              VARCHAR PRIMARY KEY,
            call_id                  VARCHAR NOT NULL,
            duration_s               DOUBLE,
            talk_s                   DOUBLE,
            non_talk_s               DOUBLE,
            n_silences               INTEGER,
            n_interruptions          INTEGER,
            overlap_s                DOUBLE,
            latency_median_s         DOUBLE,
            latency_p90_s            DOUBLE,
            n_latency                INTEGER,
            customer_sentiment_first DOUBLE,
            customer_sentiment_last  DOUBLE,
            customer_trend           DOUBLE,
            customer_trend_label     VARCHAR,
            metrics                  JSON,
            computed_at              TIMESTAMPTZ NOT NULL
        );
        CREATE TABLE speaker_metrics (
            analysis_id         VARCHAR NOT NULL,
            call_id             VARCHAR NOT NULL,
            speaker             VARCHAR NOT NULL,
            role                VARCHAR,
            talk_s              DOUBLE,
            talk_ratio          DOUBLE,
            words               INTEGER,
            wpm                 DOUBLE,
            loudness_dbfs       DOUBLE,
            longest_monologue_s DOUBLE,
            turns               INTEGER,
            questions           INTEGER,
            sentiment_mean      DOUBLE,
            sentiment_q1        DOUBLE,
            sentiment_q2        DOUBLE,
            sentiment_q3        DOUBLE,
            sentiment_q4        DOUBLE,
            PRIMARY KEY (analysis_id, speaker)
        );
        CREATE TABLE silences (
            analysis_id VARCHAR NOT NULL,
            call_id     VARCHAR NOT NULL,
            idx         INTEGER NOT NULL,
            start_s     DOUBLE NOT NULL,
            end_s       DOUBLE NOT NULL,
            duration_s  DOUBLE NOT NULL,
            is_hold     BOOLEAN NOT NULL,
            PRIMARY KEY (analysis_id, idx)
        );
        CREATE TABLE interruptions (
            analysis_id      VARCHAR NOT NULL,
            call_id          VARCHAR NOT NULL,
            idx              INTEGER NOT NULL,
            start_s          DOUBLE NOT NULL,
            end_s            DOUBLE NOT NULL,
            overlap_s        DOUBLE NOT NULL,
            interrupter      VARCHAR NOT NULL,
            interrupted      VARCHAR NOT NULL,
            interrupter_role VARCHAR,
            interrupted_role VARCHAR,
            PRIMARY KEY (analysis_id, idx)
        );
        CREATE TABLE utterance_sentiment (
            analysis_id   VARCHAR NOT NULL,
            call_id       VARCHAR NOT NULL,
            utterance_idx INTEGER NOT NULL,
            score         DOUBLE NOT NULL,
            label         VARCHAR NOT NULL,
            engine        VARCHAR NOT NULL,
            PRIMARY KEY (analysis_id, utterance_idx)
        );
        CREATE TABLE category_matches (
            analysis_id  VARCHAR NOT NULL,
            call_id      VARCHAR NOT NULL,
            category     VARCHAR NOT NULL,
            rule_version VARCHAR NOT NULL,
            matched_at   TIMESTAMPTZ NOT NULL,
            evidence     JSON,
            PRIMARY KEY (analysis_id, category)
        );
        CREATE VIEW current_call_metrics AS
            SELECT m.* FROM call_metrics m JOIN calls c ON m.analysis_id = c.current_analysis_id;
        CREATE VIEW current_speaker_metrics AS
            SELECT m.* FROM speaker_metrics m
            JOIN calls c ON m.analysis_id = c.current_analysis_id;
        CREATE VIEW current_category_matches AS
            SELECT m.* FROM category_matches m
            JOIN calls c ON m.analysis_id = c.current_analysis_id;
        """,
    ),
    Migration(
        3,
        "insights and LLM cache",
        # insights: one row per analysis and (engine, model, prompt version); status is
        # ok | failed | skipped_budget. llm_cache: validated LLM output keyed by
        # (transcript hash, engine, model, prompt version). redaction_counts: one row per
        # PII type (zeros included, so "ran, found nothing" differs from "did not run").
        """
        CREATE TABLE insights (
            analysis_id              VARCHAR NOT NULL,
            call_id                  VARCHAR NOT NULL,
            engine                   VARCHAR NOT NULL,
            model                    VARCHAR NOT NULL,
            prompt_version           VARCHAR NOT NULL,
            summary                  VARCHAR,
            reason_for_call          VARCHAR,
            outcome                  VARCHAR,
            customer_sentiment_label VARCHAR,
            customer_sentiment_score DOUBLE,
            insights                 JSON,
            tokens_in                INTEGER NOT NULL DEFAULT 0,
            tokens_out               INTEGER NOT NULL DEFAULT 0,
            cost_usd                 DOUBLE NOT NULL DEFAULT 0,
            cached                   BOOLEAN NOT NULL DEFAULT false,
            status                   VARCHAR NOT NULL
                CHECK (status IN ('ok', 'failed', 'skipped_budget')),
            error                    VARCHAR,
            transcript_hash          VARCHAR,
            created_at               TIMESTAMPTZ NOT NULL,
            PRIMARY KEY (analysis_id, engine, model, prompt_version)
        );
        CREATE TABLE llm_cache (
            cache_key       VARCHAR PRIMARY KEY,
            engine          VARCHAR NOT NULL,
            model           VARCHAR NOT NULL,
            prompt_version  VARCHAR NOT NULL,
            transcript_hash VARCHAR NOT NULL,
            response        JSON NOT NULL,
            tokens_in       INTEGER NOT NULL,
            tokens_out      INTEGER NOT NULL,
            cost_usd        DOUBLE NOT NULL DEFAULT 0,
            created_at      TIMESTAMPTZ NOT NULL
        );
        CREATE TABLE redaction_counts (
            analysis_id VARCHAR NOT NULL,
            call_id     VARCHAR NOT NULL,
            pii_type    VARCHAR NOT NULL,
            count       INTEGER NOT NULL,
            PRIMARY KEY (analysis_id, pii_type)
        );
        CREATE VIEW current_insights AS
            SELECT i.* FROM insights i JOIN calls c ON i.analysis_id = c.current_analysis_id;
        """,
    ),
    Migration(
        4,
        "engine jobs for cloud transcription",
        # One row per cloud job, keyed by the object version and the options that shape the
        # output, so a job is submitted once and resumed by id after a crash or a poll
        # timeout. etag is '' when the source has none. status: the engine's last-seen
        # status (queued | processing | completed | error); a job in error is resubmitted
        # only for a new etag (a new row).
        """
        CREATE TABLE engine_jobs (
            engine       VARCHAR NOT NULL,
            source_uri   VARCHAR NOT NULL,
            etag         VARCHAR NOT NULL,
            params_key   VARCHAR NOT NULL,
            job_id       VARCHAR NOT NULL,
            status       VARCHAR NOT NULL,
            submitted_at TIMESTAMPTZ NOT NULL,
            updated_at   TIMESTAMPTZ NOT NULL,
            error        VARCHAR,
            UNIQUE (engine, source_uri, etag, params_key)
        );
        """,
    ),
    Migration(
        5,
        "analysis lineage: model checksum, billed minutes, cost, engine job id",
        """
        ALTER TABLE analyses ADD COLUMN lineage JSON;
        ALTER TABLE analyses ADD COLUMN billed_minutes DOUBLE;
        ALTER TABLE analyses ADD COLUMN cost_usd DOUBLE;
        ALTER TABLE analyses ADD COLUMN engine_job_id VARCHAR;
        ALTER TABLE analyses ADD COLUMN native JSON;
        """,
    ),
    Migration(
        6,
        "role confidence per utterance",
        """
        ALTER TABLE utterances ADD COLUMN role_confidence DOUBLE;
        """,
    ),
    Migration(
        7,
        "call identity, object and sidecar versions, stage lineage, run bookkeeping, claims",
        # Existing rows keep their call ids; discovery treats a NULL sidecar_etag (rows
        # landed before this migration) as "any sidecar version", so nothing is redone.
        # runs.kind: ingest | reprocess; status gains 'failed' (with error) and 'crashed'
        # (a dead process, found by the next run). call_claims: which run is processing
        # which object version, so two runs never transcribe the same recording.
        """
        ALTER TABLE analyses ADD COLUMN source_modified_at TIMESTAMPTZ;
        ALTER TABLE analyses ADD COLUMN sidecar_etag VARCHAR;
        ALTER TABLE analyses ADD COLUMN stages JSON;
        ALTER TABLE analyses ADD COLUMN parent_analysis_id VARCHAR;
        ALTER TABLE call_errors ADD COLUMN sidecar_etag VARCHAR;
        ALTER TABLE runs ADD COLUMN kind VARCHAR DEFAULT 'ingest';
        ALTER TABLE runs ADD COLUMN error VARCHAR;
        ALTER TABLE runs ADD COLUMN pid INTEGER;
        ALTER TABLE runs ADD COLUMN host VARCHAR;
        CREATE TABLE call_claims (
            source_uri   VARCHAR NOT NULL,
            etag         VARCHAR NOT NULL,
            sidecar_etag VARCHAR NOT NULL,
            run_id       VARCHAR NOT NULL,
            claimed_at   TIMESTAMPTZ NOT NULL,
            PRIMARY KEY (source_uri, etag, sidecar_etag)
        );
        """,
    ),
    Migration(
        8,
        "analysis_overview: one row per analysis, for comparing analyses of a call",
        # Every analysis (current or not) with what an analyst compares side by side:
        # lineage, words, speakers, customer sentiment, outcome, categories.
        """
        CREATE VIEW analysis_overview AS
        SELECT
            a.call_id, a.analysis_id, a.created_at, a.run_id, a.parent_analysis_id,
            a.analysis_id = c.current_analysis_id AS is_current,
            a.engine, a.model, a.pipeline_version, a.diarization, a.stages,
            a.n_words, a.n_utterances,
            (SELECT count(DISTINCT u.speaker) FROM utterances u
                WHERE u.analysis_id = a.analysis_id) AS n_speakers,
            m.customer_sentiment_last, m.customer_trend_label,
            (SELECT i.outcome FROM insights i WHERE i.analysis_id = a.analysis_id
                AND i.prompt_version <> 'native'
                ORDER BY i.status = 'ok' DESC, i.created_at DESC LIMIT 1) AS outcome,
            (SELECT i.customer_sentiment_label FROM insights i
                WHERE i.analysis_id = a.analysis_id AND i.prompt_version <> 'native'
                ORDER BY i.status = 'ok' DESC, i.created_at DESC LIMIT 1) AS sentiment,
            (SELECT i.prompt_version FROM insights i WHERE i.analysis_id = a.analysis_id
                AND i.prompt_version <> 'native'
                ORDER BY i.status = 'ok' DESC, i.created_at DESC LIMIT 1) AS prompt_version,
            (SELECT string_agg(k.category, ',' ORDER BY k.category) FROM category_matches k
                WHERE k.analysis_id = a.analysis_id) AS categories
        FROM analyses a
        JOIN calls c ON c.call_id = a.call_id
        LEFT JOIN call_metrics m ON m.analysis_id = a.analysis_id;
        """,
    ),
    # 30-34 are reserved for agent-side metrics.
    Migration(
        30,
        "agent-side metrics and events from voice-agent sidecars",
        """
        CREATE TABLE agent_call_metrics (
            analysis_id           VARCHAR PRIMARY KEY,
            call_id               VARCHAR NOT NULL,
            agent_version         VARCHAR,
            brain                 VARCHAR,
            end_reason            VARCHAR,
            consent               BOOLEAN,
            turns                 INTEGER,
            latency_p50_ms        INTEGER,
            latency_p95_ms        INTEGER,
            barge_ins             INTEGER,
            tool_calls            INTEGER,
            tool_ms               INTEGER,
            fillers               INTEGER,
            spend_usd             DOUBLE,
            audio_turns           INTEGER,
            audio_latency_p50_ms  INTEGER,
            audio_latency_p95_ms  INTEGER
        );
        CREATE TABLE agent_events (
            analysis_id VARCHAR NOT NULL,
            call_id     VARCHAR NOT NULL,
            seq         INTEGER NOT NULL,
            t_s         DOUBLE NOT NULL,
            type        VARCHAR NOT NULL,
            data        JSON,
            PRIMARY KEY (analysis_id, seq)
        );
        CREATE VIEW current_agent_call_metrics AS
            SELECT m.* FROM agent_call_metrics m
            JOIN calls c ON c.current_analysis_id = m.analysis_id;
        """,
    ),
)

# Versions 10-14 and 40-49 (read snapshots, search, retention, analyst views, precomputed
# columns) live in their own module.
from analytics.warehouse.migrations_archive import ARCHIVE_MIGRATIONS  # noqa: E402

MIGRATIONS = tuple(sorted((*MIGRATIONS, *ARCHIVE_MIGRATIONS), key=lambda m: m.version))
