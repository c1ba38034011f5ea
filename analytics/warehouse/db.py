"""The warehouse writer. DuckDB allows one writing process, so connections are short-lived:
each operation opens the file, does its work in one transaction and closes it, which lets
read-only readers (the dashboard) in between writes."""

from __future__ import annotations

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
import pyarrow as pa

from analytics.errors import WarehouseError, WarehouseLockedError
from analytics.models import CallResult, RecordingRef
from analytics.warehouse.bulk import Landing, LandingWriter, land_calls
from analytics.warehouse.migrations import MIGRATIONS
from analytics.warehouse.rows import insert_row, lineage_key
from analytics.warehouse.runs import RunBook
from analytics.warehouse.sql import arrow_table

if TYPE_CHECKING:
    from analytics.enrich.rules import RuleSet

log = logging.getLogger(__name__)

_LOCK_WAIT_S = 30.0

__all__ = ["KnownObjects", "Landing", "LandingWriter", "Warehouse", "lineage_key"]


def _now() -> datetime:
    return datetime.now(UTC)


def _connect(path: Path, read_only: bool, wait_s: float | None = None) -> duckdb.DuckDBPyConnection:
    """Open the file, waiting while another process holds the write lock."""
    wait_s = _LOCK_WAIT_S if wait_s is None else wait_s
    deadline = time.monotonic() + wait_s
    delay = 0.05
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except (duckdb.IOException, duckdb.ConnectionException) as exc:
            # Another process holds the write lock ("Could not set lock"), or this process
            # has the file open in the other mode ("different configuration").
            busy = "lock" in str(exc).lower() or "different configuration" in str(exc)
            if not busy:
                raise WarehouseError(f"cannot open warehouse {path}: {exc}") from exc
            if time.monotonic() > deadline:
                raise WarehouseLockedError(
                    f"cannot open warehouse {path}: it is locked by another process (waited"
                    f" {wait_s:g} s);"
                    " wait for the running flow, or close the program holding it"
                    f" ({str(exc).splitlines()[0]})"
                ) from exc
            time.sleep(delay)
            delay = min(delay * 2, 1.0)


@contextmanager
def connect_read_only(
    path: Path | str, wait_s: float | None = None
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
    """What discovery must not process again: object versions (uri, etag, sidecar etag;
    '' for "no sidecar") that landed or failed permanently. Rows from before sidecar
    versions were recorded (``legacy``) match any sidecar version of their (uri, etag)."""

    landed: frozenset[tuple[str, str, str]]
    failed_permanently: frozenset[tuple[str, str, str]]
    legacy: frozenset[tuple[str, str]] = frozenset()

    def __contains__(self, item: object) -> bool:
        if isinstance(item, RecordingRef):
            item = item.version
        if not isinstance(item, tuple):
            return False
        if len(item) == 2:  # (uri, etag): any sidecar version
            return item in self.legacy or any(
                k[:2] == item for k in self.landed | self.failed_permanently
            )
        return item in self.landed or item in self.failed_permanently or item[:2] in self.legacy


class Warehouse(RunBook):
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
    #: The migrations table's key ("PRIMARY KEY" here; DuckLake tables take no keys).
    _version_key = "PRIMARY KEY"

    def _migration_sql(self, sql: str) -> str:
        """A migration's SQL as this warehouse runs it (DuckLake drops key constraints)."""
        return sql

    def migrate(self) -> list[int]:
        """Apply pending migrations in order; return the versions applied now."""
        applied: list[int] = []
        with self.connect() as con:
            con.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                f" version INTEGER {self._version_key}, name VARCHAR, applied_at TIMESTAMPTZ)"
            )
            done = {r[0] for r in con.execute("SELECT version FROM schema_migrations").fetchall()}
            for m in sorted(MIGRATIONS, key=lambda m: m.version):
                if m.version in done:
                    continue
                con.execute("BEGIN TRANSACTION")
                try:
                    con.execute(self._migration_sql(m.sql))
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
        """Object versions already landed, or failed for a non-retryable reason."""
        with self.connect() as con:
            landed = con.execute(
                "SELECT DISTINCT source_uri, coalesce(etag, ''), sidecar_etag FROM analyses"
            ).fetchall()
            failed = con.execute(
                "SELECT DISTINCT source_uri, coalesce(etag, ''), sidecar_etag FROM call_errors"
                " WHERE NOT retryable"
            ).fetchall()
        legacy = frozenset((u, e) for u, e, s in landed + failed if s is None)
        return KnownObjects(
            frozenset((u, e, s) for u, e, s in landed if s is not None),
            frozenset((u, e, s) for u, e, s in failed if s is not None),
            legacy,
        )

    def new_objects(self, refs: Sequence[RecordingRef]) -> list[RecordingRef]:
        """The listed refs the warehouse does not know (in order): the same rule as
        ``ref not in known_objects()``, as one anti-join in the database instead of every
        known version copied into Python (a nightly lists tens of thousands)."""
        if not refs:
            return []
        listed = arrow_table(
            ("i", "uri", "etag", "sidecar"),
            [(i, *ref.version) for i, ref in enumerate(refs)],
        )
        with self.connect() as con:
            con.register("_callscope_listed", listed)
            try:
                rows = con.execute(
                    """
                    WITH known AS (
                        SELECT source_uri, coalesce(etag, '') AS etag, sidecar_etag
                        FROM analyses
                        UNION ALL
                        SELECT source_uri, coalesce(etag, ''), sidecar_etag FROM call_errors
                        WHERE NOT retryable
                    )
                    SELECT l.i FROM _callscope_listed l
                    WHERE NOT EXISTS (
                        SELECT 1 FROM known k
                        WHERE k.source_uri = l.uri AND k.etag = l.etag
                          AND (k.sidecar_etag IS NULL OR k.sidecar_etag = l.sidecar)
                    )
                    ORDER BY l.i
                    """
                ).fetchall()
            finally:
                con.unregister("_callscope_listed")
        return [refs[r[0]] for r in rows]

    def call_ids_for(self, uris: Sequence[str]) -> dict[str, str]:
        """The call id each already-landed recording URI got (its newest analysis), so a
        new version of an object stays the same call whatever rule named it."""
        if not uris:
            return {}
        with self.connect() as con:
            rows = con.execute(
                "SELECT source_uri, arg_max(call_id, created_at) FROM analyses"
                " WHERE list_contains(?, source_uri) GROUP BY source_uri",
                [list(uris)],
            ).fetchall()
        return {u: c for u, c in rows}

    # --- landing ---------------------------------------------------------------------------
    def land(
        self,
        result: CallResult,
        run_id: str | None = None,
        ruleset: RuleSet | None = None,
        insights: dict[str, Any] | None = None,
        writers: Sequence[LandingWriter] = (),
    ) -> str | None:
        """Write one call's whole result in one transaction and make it current.

        With a ``ruleset``, the call's categories are applied and stored in the same
        transaction (``callscope categorize`` re-applies rules to past calls later);
        ``writers`` add further rows (insights, redaction counts) inside it too.
        ``current`` moves to the new analysis unless the call's current analysis is of a
        newer object version: an older version landing late never replaces it.

        Returns the new analysis id, or None when the same lineage had already landed
        (a re-run lands nothing twice).
        """
        landing = Landing(result, run_id, ruleset, insights, writers=writers)
        return self.land_batch([landing])[0]

    def land_batch(self, landings: Sequence[Landing]) -> list[str | None]:
        """Land many calls in one transaction (``bulk.land_calls``): per landing the new
        analysis id, or None when that lineage had already landed.

        A batch holds whole calls, so readers never see half a call. When the batch fails,
        its calls are landed one transaction each, so a bad call fails alone (with a
        :class:`WarehouseError` naming it) and the calls before it stay landed.
        """
        if not landings:
            return []
        try:
            with self.transaction() as con:
                ids = land_calls(con, landings)
        except (duckdb.Error, WarehouseError, pa.ArrowException) as exc:
            if len(landings) > 1:
                log.warning(
                    "landing a batch of %d calls failed (%s): landing them one by one",
                    len(landings),
                    exc,
                )
                return [self.land_batch([landing])[0] for landing in landings]
            if isinstance(exc, WarehouseError):
                raise
            call_id = landings[0].result.call_id
            raise WarehouseError(f"landing call {call_id} failed: {exc}") from exc
        for landing, analysis_id in zip(landings, ids, strict=True):
            if analysis_id is not None:
                log.info(
                    "call %s: landed analysis %s (%d utterances)",
                    landing.result.call_id,
                    analysis_id,
                    len(landing.result.utterances),
                )
        return ids

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
        sidecar_etag: str | None = "",
    ) -> str:
        """Record one failed call; idempotent for the same object version, stage and
        reason. ``sidecar_etag`` is the sidecar's version ('' when there is none)."""
        with self.transaction() as con:
            row = con.execute(
                "SELECT error_id FROM call_errors WHERE source_uri = ? AND etag IS NOT DISTINCT"
                " FROM ? AND sidecar_etag IS NOT DISTINCT FROM ? AND stage = ? AND reason = ?",
                [source_uri, etag, sidecar_etag, stage, reason],
            ).fetchone()
            if row:
                return str(row[0])
            error_id = uuid.uuid4().hex
            insert_row(
                con,
                "call_errors",
                {
                    "error_id": error_id,
                    "run_id": run_id,
                    "call_id": call_id,
                    "source_uri": source_uri,
                    "etag": etag,
                    "stage": stage,
                    "error_type": error_type,
                    "reason": reason,
                    "retryable": retryable,
                    "occurred_at": _now(),
                    "sidecar_etag": sidecar_etag,
                },
            )
        log.warning("call %s failed at %s: %s", call_id or source_uri, stage, reason)
        return error_id
