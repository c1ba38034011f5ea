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
)
