"""Export the analyst views as Parquet, partitioned by call date, to a directory or S3.

Each view lands under ``<dest>/<view>/<date column>=YYYY-MM-DD/data_0.parquet``. A day that
is exported again is replaced whole (its folder or S3 prefix is cleared first), so re-runs
and ``--since`` refreshes leave no stale files. Reads come from the published snapshot
(:mod:`analytics.warehouse.snapshot`), never the writer's file.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from analytics.errors import ConfigError

log = logging.getLogger(__name__)

#: view -> its date column (the partition key).
EXPORT_VIEWS: dict[str, str] = {
    "v_calls": "call_date",
    "v_utterances": "call_date",
    "v_agent_daily": "call_date",
    "v_category_daily": "call_date",
    "v_cost_daily": "day",
    "v_role_daily": "call_date",
}


@dataclass
class ExportResult:
    """What an export wrote: rows and day partitions per view, and files."""

    dest: str
    rows: dict[str, int] = field(default_factory=dict)
    partitions: dict[str, int] = field(default_factory=dict)
    files: int = 0


def _write_local(con: duckdb.DuckDBPyConnection, staging: Path, since: date | None) -> ExportResult:
    result = ExportResult(dest=str(staging))
    for view, column in EXPORT_VIEWS.items():
        where = f"WHERE {column} >= ?" if since else ""
        params = [since] if since else []
        row = con.execute(f"SELECT count(*) FROM {view} {where}", params).fetchone()
        result.rows[view] = int(row[0]) if row else 0
        if not result.rows[view]:
            result.partitions[view] = 0
            continue
        out = staging / view
        # A NULL date would make a __HIVE_DEFAULT_PARTITION__ folder: rows always have one
        # (call_date falls back to first_seen_at).
        con.execute(
            f"COPY (SELECT * FROM {view} {where}) TO '{out}'"
            f" (FORMAT parquet, PARTITION_BY ({column}), FILENAME_PATTERN 'data_{{i}}')",
            params,
        )
        result.partitions[view] = sum(1 for p in out.iterdir() if p.is_dir())
    return result


def _publish_local(staging: Path, dest: Path) -> int:
    files = 0
    for part in sorted(staging.glob("*/*=*")):
        target = dest / part.parent.name / part.name
        if target.exists():
            shutil.rmtree(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(part, target)
        files += sum(1 for _ in target.glob("*.parquet"))
    return files


def _publish_s3(staging: Path, dest: str, client: Any) -> int:
    from analytics.sources.s3 import parse_s3_uri

    bucket, prefix = parse_s3_uri(dest)
    prefix = prefix.rstrip("/") + "/" if prefix.strip("/") else ""
    files = 0
    for part in sorted(staging.glob("*/*=*")):
        part_prefix = f"{prefix}{part.parent.name}/{part.name}/"
        stale = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=part_prefix)
        keys = [{"Key": o["Key"]} for page in stale for o in page.get("Contents", [])]
        for i in range(0, len(keys), 1000):
            client.delete_objects(Bucket=bucket, Delete={"Objects": keys[i : i + 1000]})
        for f in sorted(part.glob("*.parquet")):
            client.upload_file(str(f), bucket, part_prefix + f.name)
            files += 1
    return files


def export_views(
    con: duckdb.DuckDBPyConnection,
    dest: str,
    *,
    since: date | None = None,
    s3_client: Any = None,
) -> ExportResult:
    """Write every analyst view (days from ``since`` on) to ``dest`` (a folder or s3://)."""
    if dest.startswith("s3://"):
        if s3_client is None:
            raise ConfigError(f"export to {dest} needs an S3 client (CALLSCOPE_S3_* settings)")
    elif "://" in dest:
        raise ConfigError(f"export --to {dest!r}: give a directory or an s3://bucket/prefix")
    with tempfile.TemporaryDirectory(prefix="callscope-export-") as tmp:
        staging = Path(tmp)
        result = _write_local(con, staging, since)
        if dest.startswith("s3://"):
            result.files = _publish_s3(staging, dest, s3_client)
        else:
            result.files = _publish_local(staging, Path(dest))
    result.dest = dest
    log.info("exported %s to %s (%d files)", result.rows, dest, result.files)
    return result
