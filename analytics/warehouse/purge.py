"""Retention: delete calls and everything derived from them, with an audit row.

Which calls: those older than N days (by ``started_at``, else first seen), or one call id (a
deletion request). What goes: every row of every table keyed by those calls' ``call_id``
or their analyses' ``analysis_id`` (found in the catalog, so tables added by later
migrations are covered), their cloud ``engine_jobs``, ``llm_cache`` entries no remaining
call shares (and entries no landed insights refer to: a run that cached a reply but never
landed its call leaves them, and they belong to no call the warehouse keeps), and, given
the ``download_cache`` directory, the copies of their recordings kept there. With
``recordings``, the recordings and sidecars in the source go too. One transaction; the
audit row records who, when, the rule and counts — no content (a named call id is kept as
its SHA-256).
"""

from __future__ import annotations

import getpass
import hashlib
import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from analytics.errors import ConfigError, SourceError
from analytics.sources.base import download_name, sidecar_key_for
from analytics.warehouse.db import Warehouse

log = logging.getLogger(__name__)

#: Never purged: bookkeeping without call content.
_KEEP = {"runs", "schema_migrations", "purge_audit", "snapshots", "llm_cache", "engine_jobs"}


@dataclass
class PurgeResult:
    """What a purge deleted (or would delete, on a dry run)."""

    criteria: str
    calls: int
    rows: dict[str, int] = field(default_factory=dict)
    recordings: list[str] = field(default_factory=list)
    recordings_deleted: int = 0
    #: Downloaded copies removed from the download cache (on a dry run: that would be).
    cached_downloads: int = 0
    dry_run: bool = False
    purge_id: str | None = None


def parse_age(text: str) -> timedelta:
    """``365d``, ``12w``, ``36h`` -> a timedelta; a clear error otherwise."""
    units = {"d": "days", "w": "weeks", "h": "hours"}
    value, unit = text[:-1].strip(), text[-1:].lower()
    if unit not in units or not value.isdigit() or int(value) <= 0:
        raise ConfigError(f"--older-than {text!r}: use a positive number of days, e.g. 365d")
    return timedelta(**{units[unit]: int(value)})


def _keyed_tables(con: duckdb.DuckDBPyConnection) -> tuple[list[str], list[str]]:
    """Base tables with a call_id column, and those with only an analysis_id."""
    rows = con.execute(
        "SELECT c.table_name, list(c.column_name) FROM information_schema.columns c"
        " JOIN information_schema.tables t USING (table_catalog, table_schema, table_name)"
        " WHERE t.table_type = 'BASE TABLE' AND c.table_schema = 'main'"
        "   AND c.table_catalog = current_database() GROUP BY c.table_name ORDER BY 1"
    ).fetchall()
    by_call = [t for t, cols in rows if "call_id" in cols and t not in _KEEP]
    by_analysis = [
        t for t, cols in rows if "analysis_id" in cols and "call_id" not in cols and t not in _KEEP
    ]
    return by_call, by_analysis


def _count(con: duckdb.DuckDBPyConnection, sql: str, dry_run: bool) -> int:
    if dry_run:
        sql = "SELECT count(*) FROM " + sql.removeprefix("DELETE FROM ")
    row = con.execute(sql).fetchone()
    return int(row[0]) if row else 0


def purge(
    wh: Warehouse,
    *,
    older_than: timedelta | None = None,
    call_id: str | None = None,
    dry_run: bool = False,
    recordings: bool = False,
    source_client: Any = None,
    purged_by: str | None = None,
    now: datetime | None = None,
    download_cache: Path | None = None,
) -> PurgeResult:
    """Delete the selected calls' rows in one transaction (nothing on a dry run), then
    their downloaded copies in ``download_cache`` (``data/cache/recordings``)."""
    if (older_than is None) == (call_id is None):
        raise ConfigError("purge: give exactly one of --older-than AGE or --call-id ID")
    now = now or datetime.now(UTC)
    if older_than is not None:
        criteria = f"older_than={older_than.days}d"
        select = "SELECT call_id FROM calls WHERE coalesce(started_at, first_seen_at) < ?"
        params: list[Any] = [now - older_than]
    else:
        digest = hashlib.sha256(str(call_id).encode()).hexdigest()
        criteria = f"call_id_sha256={digest}"
        select = "SELECT call_id FROM calls WHERE call_id = ? UNION SELECT ?"
        params = [call_id, call_id]
    with wh.transaction() as con:
        con.execute(f"CREATE OR REPLACE TEMP TABLE _purge AS {select}", params)
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _purge_a AS SELECT analysis_id, source_uri, etag"
            " FROM analyses WHERE call_id IN (SELECT call_id FROM _purge)"
        )
        versions = con.execute(
            "SELECT source_uri, etag FROM _purge_a UNION SELECT source_uri, etag FROM calls"
            " WHERE call_id IN (SELECT call_id FROM _purge) UNION SELECT source_uri, etag"
            " FROM call_errors WHERE call_id IN (SELECT call_id FROM _purge)"
            " OR source_uri IN (SELECT source_uri FROM _purge_a)"
        ).fetchall()
        row = con.execute("SELECT count(*) FROM calls WHERE call_id IN (SELECT * FROM _purge)")
        n_calls = int((row.fetchone() or (0,))[0])
        uris = sorted(
            {
                r[0]
                for r in con.execute(
                    "SELECT source_uri FROM _purge_a UNION SELECT source_uri FROM calls"
                    " WHERE call_id IN (SELECT call_id FROM _purge)"
                ).fetchall()
            }
        )
        result = PurgeResult(criteria, n_calls, recordings=uris, dry_run=dry_run)
        # Cache entries only these calls' transcripts produced (no retained call shares).
        result.rows["llm_cache"] = _count(
            con,
            "DELETE FROM llm_cache WHERE transcript_hash IN (SELECT transcript_hash FROM"
            " insights WHERE analysis_id IN (SELECT analysis_id FROM _purge_a)) AND"
            " transcript_hash NOT IN (SELECT transcript_hash FROM insights WHERE"
            " transcript_hash IS NOT NULL AND analysis_id NOT IN"
            " (SELECT analysis_id FROM _purge_a)) OR transcript_hash NOT IN (SELECT"
            " transcript_hash FROM insights WHERE transcript_hash IS NOT NULL)",
            dry_run,
        )
        result.rows["engine_jobs"] = _count(
            con,
            "DELETE FROM engine_jobs WHERE source_uri IN (SELECT source_uri FROM _purge_a)",
            dry_run,
        )
        by_call, by_analysis = _keyed_tables(con)
        for table in by_analysis:
            result.rows[table] = _count(
                con,
                f"DELETE FROM {table} WHERE analysis_id IN (SELECT analysis_id FROM _purge_a)",
                dry_run,
            )
        for table in sorted(by_call, key=lambda t: t == "calls"):  # calls last
            extra = " OR source_uri IN (SELECT source_uri FROM _purge_a)"
            has_uri = table == "call_errors"
            result.rows[table] = _count(
                con,
                f"DELETE FROM {table} WHERE call_id IN (SELECT call_id FROM _purge)"
                + (extra if has_uri else ""),
                dry_run,
            )
        con.execute("DROP TABLE _purge")
        con.execute("DROP TABLE _purge_a")
        cached = cached_downloads(download_cache, versions) if download_cache else []
        result.cached_downloads = len(cached)
        if not dry_run:
            result.purge_id = uuid.uuid4().hex
            con.execute(
                "INSERT INTO purge_audit VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    result.purge_id,
                    now,
                    purged_by or getpass.getuser(),
                    criteria + (" +recordings" if recordings else ""),
                    n_calls,
                    json.dumps(
                        {**result.rows, "download_cache_files": len(cached)}, sort_keys=True
                    ),
                    0,
                ],
            )
    if not dry_run:
        for path in cached:
            path.unlink(missing_ok=True)
    if recordings and not dry_run and uris:
        result.recordings_deleted = delete_recordings(uris, source_client)
        with wh.transaction() as con:
            con.execute(
                "UPDATE purge_audit SET recordings_deleted = ? WHERE purge_id = ?",
                [result.recordings_deleted, result.purge_id],
            )
    log.info("purge %s: %d calls, rows %s", criteria, n_calls, result.rows)
    return result


def cached_downloads(cache_dir: Path, versions: list[tuple[str, str | None]]) -> list[Path]:
    """Files the download cache holds for these (source URI, ETag) pairs, partial
    downloads included (the cache names a copy by ETag and file name, ``download_name``)."""
    out: list[Path] = []
    for uri, etag in versions:
        if not etag or not uri.startswith("s3://"):  # local recordings are read in place
            continue
        name = download_name(etag, uri)
        out += [p for p in (cache_dir / name, cache_dir / f"{name}.part") if p.is_file()]
    return out


def delete_recordings(uris: list[str], s3_client: Any = None) -> int:
    """Delete recordings and their sidecars (S3 or local files); returns objects deleted."""
    from botocore.exceptions import ClientError

    from analytics.sources.s3 import parse_s3_uri

    deleted = 0
    for uri in uris:
        if uri.startswith("s3://"):
            if s3_client is None:
                raise ConfigError(f"deleting {uri} needs an S3 client (CALLSCOPE_S3_* settings)")
            bucket, key = parse_s3_uri(uri)
            for k in (key, sidecar_key_for(key)):
                try:
                    s3_client.head_object(Bucket=bucket, Key=k)
                except ClientError:  # absent: a recording without a sidecar
                    continue
                s3_client.delete_object(Bucket=bucket, Key=k)
                deleted += 1
        else:
            path = Path(uri.removeprefix("file://"))
            for p in (path, path.with_suffix(".json")):
                try:
                    p.unlink()
                    deleted += 1
                except FileNotFoundError:
                    continue
                except OSError as exc:
                    raise SourceError(f"cannot delete recording {p}: {exc}") from exc
    return deleted
