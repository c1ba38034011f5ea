"""The warehouse writer. DuckDB allows one writing process, so connections are short-lived:
each operation opens the file, does its work in one transaction and closes it, which lets
read-only readers (the dashboard) in between writes."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from analytics.errors import WarehouseError
from analytics.models import CallResult
from analytics.warehouse.migrations import MIGRATIONS

if TYPE_CHECKING:
    from analytics.enrich.rules import RuleSet

log = logging.getLogger(__name__)

_LOCK_WAIT_S = 30.0


def _now() -> datetime:
    return datetime.now(UTC)


def lineage_key(result: CallResult) -> str:
    """Identity of one processing: same object, engine, model, pipeline and options."""
    payload = json.dumps(
        [result.etag, result.engine, result.model, result.pipeline_version, result.params],
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


def _connect(
    path: Path, read_only: bool, wait_s: float = _LOCK_WAIT_S
) -> duckdb.DuckDBPyConnection:
    """Open the file, waiting while another process holds the write lock."""
    deadline = time.monotonic() + wait_s
    delay = 0.05
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except (duckdb.IOException, duckdb.ConnectionException) as exc:
            # Another process holds the write lock ("Could not set lock"), or this process
            # has the file open in the other mode ("different configuration").
            busy = "lock" in str(exc).lower() or "different configuration" in str(exc)
            if not busy or time.monotonic() > deadline:
                raise WarehouseError(f"cannot open warehouse {path}: {exc}") from exc
            time.sleep(delay)
            delay = min(delay * 2, 1.0)


@contextmanager
def connect_read_only(
    path: Path | str, wait_s: float = _LOCK_WAIT_S
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection for analysts and the dashboard (waits out a writer)."""
    path = Path(path)
    if not path.exists():
        raise WarehouseError(
            f"warehouse {path} does not exist yet: run `make demo` or `callscope ingest` first"
        )
    con = _connect(path, read_only=True, wait_s=wait_s)
    try:
        yield con
    finally:
        con.close()


@dataclass(frozen=True)
class KnownObjects:
    """What discovery must not process again."""

    landed: frozenset[tuple[str, str | None]]
    failed_permanently: frozenset[tuple[str, str | None]]

    def __contains__(self, item: tuple[str, str | None]) -> bool:
        return item in self.landed or item in self.failed_permanently


def _insert(con: duckdb.DuckDBPyConnection, table: str, row: dict[str, Any]) -> None:
    """INSERT with explicit column names, so later migrations may add columns."""
    cols = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    con.execute(f"INSERT INTO {table} ({cols}) VALUES ({marks})", list(row.values()))


def insert_rows(
    con: duckdb.DuckDBPyConnection,
    table: str,
    columns: Sequence[str] | None,
    rows: Sequence[Sequence[Any]],
) -> None:
    """Many rows in one statement, passed column by column (``executemany`` runs one
    statement per row: ~100x slower for a call's words). ``columns=None``: every column
    of the table, in order."""
    if not rows:
        return
    values = [list(col) for col in zip(*rows, strict=True)]
    picks = ", ".join("unnest(?)" for _ in values)
    names = f" ({', '.join(columns)})" if columns else ""
    con.execute(f"INSERT INTO {table}{names} SELECT {picks}", values)


class Warehouse:
    """The single writer of the warehouse file."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._session: duckdb.DuckDBPyConnection | None = None
        self._session_thread: int | None = None

    @contextmanager
    def session(self) -> Iterator[None]:
        """Keep one connection open for this thread's writes inside the block (a batch of
        landings), instead of opening and checkpointing the file for each one."""
        if self._session is not None:
            yield
            return
        with self.connect() as con:
            self._session, self._session_thread = con, threading.get_ident()
            try:
                yield
            finally:
                self._session = self._session_thread = None

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A short-lived read-write connection (the session's, inside :meth:`session`)."""
        if self._session is not None and self._session_thread == threading.get_ident():
            yield self._session
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = _connect(self.path, read_only=False)
        try:
            yield con
        finally:
            con.close()

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """Everything inside commits together or not at all."""
        with self.connect() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    # --- schema ----------------------------------------------------------------------
    def migrate(self) -> list[int]:
        """Apply pending migrations in order; return the versions applied now."""
        applied: list[int] = []
        with self.connect() as con:
            con.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version INTEGER PRIMARY KEY, name VARCHAR, applied_at TIMESTAMPTZ)"
            )
            done = {r[0] for r in con.execute("SELECT version FROM schema_migrations").fetchall()}
            for m in sorted(MIGRATIONS, key=lambda m: m.version):
                if m.version in done:
                    continue
                con.execute("BEGIN TRANSACTION")
                try:
                    con.execute(m.sql)
                    con.execute(
                        "INSERT INTO schema_migrations VALUES (?, ?, ?)",
                        [m.version, m.name, _now()],
                    )
                    con.execute("COMMIT")
                except duckdb.Error as exc:
                    con.execute("ROLLBACK")
                    raise WarehouseError(f"migration {m.version} ({m.name}) failed: {exc}") from exc
                log.info("warehouse %s: applied migration %d (%s)", self.path, m.version, m.name)
                applied.append(m.version)
        return applied

    def schema_version(self) -> int:
        with self.connect() as con:
            row = con.execute("SELECT max(version) FROM schema_migrations").fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    # --- discovery -----------------------------------------------------------------------
    def known_objects(self) -> KnownObjects:
        """(source_uri, etag) pairs already landed, or failed for a non-retryable reason."""
        with self.connect() as con:
            landed = con.execute("SELECT DISTINCT source_uri, etag FROM analyses").fetchall()
            failed = con.execute(
                "SELECT DISTINCT source_uri, etag FROM call_errors WHERE NOT retryable"
            ).fetchall()
        return KnownObjects(
            frozenset((u, e) for u, e in landed), frozenset((u, e) for u, e in failed)
        )

    # --- runs ------------------------------------------------------------------------------
    def start_run(self, source: str, params: dict[str, Any], flow_run_id: str | None = None) -> str:
        run_id = uuid.uuid4().hex
        with self.connect() as con:
            con.execute(
                "INSERT INTO runs (run_id, flow_run_id, source, started_at, status, params)"
                " VALUES (?, ?, ?, ?, 'running', ?)",
                [run_id, flow_run_id, source, _now(), json.dumps(params, default=str)],
            )
        return run_id

    def finish_run(
        self,
        run_id: str,
        *,
        status: str,
        discovered: int,
        processed: int,
        failed: int,
        skipped: int,
        audio_s: float,
        wall_s: float,
    ) -> None:
        with self.connect() as con:
            con.execute(
                "UPDATE runs SET finished_at = ?, status = ?, discovered = ?, processed = ?,"
                " failed = ?, skipped = ?, audio_s = ?, wall_s = ? WHERE run_id = ?",
                [_now(), status, discovered, processed, failed, skipped, audio_s, wall_s, run_id],
            )

    # --- landing ---------------------------------------------------------------------------
    def land(
        self,
        result: CallResult,
        run_id: str | None = None,
        ruleset: RuleSet | None = None,
        insights: dict[str, Any] | None = None,
    ) -> str | None:
        """Write one call's whole result in one transaction and make it current.

        With a ``ruleset``, the call's categories are applied and stored in the same
        transaction (``callscope categorize`` re-applies rules to past calls later).

        Returns the new analysis id, or None when the same lineage had already landed
        (a re-run lands nothing twice).
        """
        key = lineage_key(result)
        analysis_id = uuid.uuid4().hex
        now = _now()
        md = result.metadata
        words = result.words
        try:
            with self.transaction() as con:
                exists = con.execute(
                    "SELECT analysis_id FROM analyses WHERE call_id = ? AND lineage_key = ?",
                    [result.call_id, key],
                ).fetchone()
                if exists:
                    log.info("call %s: analysis %s already landed", result.call_id, exists[0])
                    return None
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
                _insert(
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
                    ("analysis_id", "call_id", "utterance_idx", "idx", "speaker", "word",
                     "start_s", "end_s", "prob"),
                    word_rows,
                )  # fmt: skip
                self._land_enrichment(con, analysis_id, result, ruleset, insights)
        except duckdb.Error as exc:
            raise WarehouseError(f"landing call {result.call_id} failed: {exc}") from exc
        log.info(
            "call %s: landed analysis %s (%d utterances, %d words)",
            result.call_id,
            analysis_id,
            len(result.utterances),
            len(words),
        )
        return analysis_id

    @staticmethod
    def _land_enrichment(
        con: duckdb.DuckDBPyConnection,
        analysis_id: str,
        result: CallResult,
        ruleset: RuleSet | None,
        insights: dict[str, Any] | None,
    ) -> None:
        """Metrics and categories of a new analysis, inside the landing transaction."""
        from analytics.enrich.rules import apply_rules
        from analytics.warehouse.enrichment import (
            metrics_from_dict,
            write_category_matches,
            write_metrics,
        )

        if result.metrics is None:
            return
        metrics = metrics_from_dict(result.metrics)
        write_metrics(con, analysis_id, result.call_id, metrics)
        if ruleset is not None:
            matches = apply_rules(ruleset, list(result.utterances), metrics, insights)
            write_category_matches(con, analysis_id, result.call_id, matches, ruleset.version)

    def record_error(
        self,
        *,
        run_id: str | None,
        source_uri: str,
        etag: str | None,
        call_id: str | None,
        stage: str,
        error_type: str,
        reason: str,
        retryable: bool,
    ) -> str:
        """Record one failed call; idempotent for the same object, stage and reason."""
        with self.transaction() as con:
            row = con.execute(
                "SELECT error_id FROM call_errors WHERE source_uri = ? AND etag IS NOT DISTINCT"
                " FROM ? AND stage = ? AND reason = ?",
                [source_uri, etag, stage, reason],
            ).fetchone()
            if row:
                return str(row[0])
            error_id = uuid.uuid4().hex
            con.execute(
                "INSERT INTO call_errors VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    error_id,
                    run_id,
                    call_id,
                    source_uri,
                    etag,
                    stage,
                    error_type,
                    reason,
                    retryable,
                    _now(),
                ],
            )
        log.warning("call %s failed at %s: %s", call_id or source_uri, stage, reason)
        return error_id
