"""The ``engine_jobs`` table (migration 4) as the cloud engines' job store.

Implements :class:`analytics.transcription.assemblyai_jobs.JobStore`; the flow hands it to
the engine, so the engine never imports the warehouse. Like every warehouse write, each
call opens the file, runs one transaction and closes it: use it from the flow (the single
writer), not from task threads.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import duckdb

from analytics.errors import WarehouseError
from analytics.transcription.assemblyai_jobs import EngineJob
from analytics.warehouse.db import Warehouse

log = logging.getLogger(__name__)


class WarehouseJobStore:
    """``engine_jobs`` rows for one engine (default "assemblyai") in a migrated warehouse."""

    def __init__(self, warehouse: Warehouse, engine: str = "assemblyai") -> None:
        self.warehouse = warehouse
        self.engine = engine

    def get(self, source_uri: str, etag: str | None, key: str) -> EngineJob | None:
        """The job recorded for this object version and options, if any."""
        try:
            with self.warehouse.connect() as con:
                row = con.execute(
                    "SELECT engine, source_uri, etag, params_key, job_id, status, submitted_at,"
                    " updated_at, error FROM engine_jobs WHERE engine = ? AND source_uri = ?"
                    " AND etag = ? AND params_key = ?",
                    [self.engine, source_uri, etag or "", key],
                ).fetchone()
        except duckdb.Error as exc:
            raise WarehouseError(f"reading engine job for {source_uri} failed: {exc}") from exc
        return EngineJob(*row) if row else None

    def record_submit(
        self, source_uri: str, etag: str | None, key: str, job_id: str, status: str = "queued"
    ) -> None:
        """Remember a job right after it was submitted (replaces an errored job's row)."""
        now = datetime.now(UTC)
        try:
            with self.warehouse.transaction() as con:
                # DELETE + INSERT, not ON CONFLICT: DuckLake tables have no keys (lake.py).
                con.execute(
                    "DELETE FROM engine_jobs WHERE engine = ? AND source_uri = ? AND etag = ?"
                    " AND params_key = ?",
                    [self.engine, source_uri, etag or "", key],
                )
                con.execute(
                    "INSERT INTO engine_jobs (engine, source_uri, etag, params_key, job_id,"
                    " status, submitted_at, updated_at, error)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)",
                    [self.engine, source_uri, etag or "", key, job_id, status, now, now],
                )
        except duckdb.Error as exc:
            raise WarehouseError(f"recording engine job {job_id} failed: {exc}") from exc

    def update(self, job_id: str, status: str, error: str | None = None) -> None:
        """Record the last status polling saw (and the engine's error text)."""
        try:
            with self.warehouse.connect() as con:
                con.execute(
                    "UPDATE engine_jobs SET status = ?, error = ?, updated_at = ?"
                    " WHERE engine = ? AND job_id = ?",
                    [status, error, datetime.now(UTC), self.engine, job_id],
                )
        except duckdb.Error as exc:
            raise WarehouseError(f"updating engine job {job_id} failed: {exc}") from exc

    def forget(self, source_uri: str, etag: str | None, key: str) -> None:
        """Drop a recorded job so the next run submits the object again."""
        with self.warehouse.connect() as con:
            con.execute(
                "DELETE FROM engine_jobs WHERE engine = ? AND source_uri = ? AND etag = ?"
                " AND params_key = ?",
                [self.engine, source_uri, etag or "", key],
            )
        log.info("forgot %s job for %s (etag %s)", self.engine, source_uri, etag)
