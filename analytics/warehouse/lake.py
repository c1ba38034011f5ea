"""The same warehouse on DuckLake: catalog in PostgreSQL (or a local file), data as Parquet
in S3 (or a local folder). Many writer processes on many machines, readers anywhere.

:class:`LakeWarehouse` is a :class:`~analytics.warehouse.db.Warehouse` whose connections
attach the lake instead of opening a DuckDB file, so landing, discovery, runs, errors,
search indexing and purge are the same code. DuckLake has no PRIMARY KEY / UNIQUE / CHECK
constraints: the migrations are applied without them (the writer checks what a key would
have, e.g. one analysis per call and lineage). Every DuckLake commit is a snapshot, so a
reader sees whole calls and new calls at its next query — no read snapshot to publish.

Extensions (ducklake, postgres_scanner, httpfs, fts) load offline from their wheels, laid
out as an ``extension_directory`` under the data dir.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from analytics.config import Settings
from analytics.errors import ConfigError, WarehouseError
from analytics.warehouse.db import Warehouse
from analytics.warehouse.extensions import extension_directory
from analytics.warehouse.search import ensure_search_macros

log = logging.getLogger(__name__)

LAKE_EXTENSIONS = ("ducklake", "postgres_scanner", "httpfs", "fts")
ALIAS = "lake"

_INLINE_PK = re.compile(r"\s+PRIMARY KEY\b(?!\s*\()", re.I)
_TABLE_KEY = re.compile(r",\s*(?:PRIMARY KEY|UNIQUE)\s*\([^)]*\)", re.I)
_CHECK = re.compile(r"\s+CHECK\s*\((?:[^()]|\([^()]*\))*\)", re.I)
_INDEX = re.compile(r"\bCREATE\s+(?:UNIQUE\s+)?INDEX\b[^;]*;", re.I)


def lake_sql(sql: str) -> str:
    """A migration's SQL without the constraints and indexes DuckLake does not support."""
    return _INDEX.sub("", _CHECK.sub("", _TABLE_KEY.sub("", _INLINE_PK.sub("", sql))))


def _quote(text: str) -> str:
    return text.replace("'", "''")


class LakeWarehouse(Warehouse):
    """The warehouse on DuckLake (``CALLSCOPE_LAKE_CATALOG`` + ``CALLSCOPE_LAKE_DATA_PATH``)."""

    publishes_snapshots = False

    def __init__(self, settings: Settings) -> None:
        if not settings.lake_catalog or not settings.lake_data_path:
            raise ConfigError(
                "DuckLake mode needs CALLSCOPE_LAKE_CATALOG (e.g. postgres:dbname=callscope"
                " host=127.0.0.1) and CALLSCOPE_LAKE_DATA_PATH (e.g. s3://bucket/lake/)"
            )
        super().__init__(Path(settings.lake_data_path))
        self.settings = settings
        self.catalog = settings.lake_catalog
        self.data_path = settings.lake_data_path
        self.ext_dir = extension_directory(settings.data_dir / "duckdb_extensions", LAKE_EXTENSIONS)

    def _secret_sql(self) -> str | None:
        """An S3 secret for the data path, from the CALLSCOPE_S3_* settings."""
        if not self.data_path.startswith("s3://"):
            return None
        s = self.settings
        if not (s.s3_access_key_id and s.s3_secret_access_key):
            raise ConfigError(
                "DuckLake data in S3 needs CALLSCOPE_S3_ACCESS_KEY_ID and"
                " CALLSCOPE_S3_SECRET_ACCESS_KEY"
            )
        parts = [
            "TYPE s3",
            f"KEY_ID '{_quote(s.s3_access_key_id.get_secret_value())}'",
            f"SECRET '{_quote(s.s3_secret_access_key.get_secret_value())}'",
            f"REGION '{_quote(s.s3_region)}'",
        ]
        if s.s3_endpoint_url:
            endpoint = s.s3_endpoint_url
            host = endpoint.split("://", 1)[-1].rstrip("/")
            parts += [
                f"ENDPOINT '{_quote(host)}'",
                "URL_STYLE 'path'",
                f"USE_SSL {str(endpoint.startswith('https')).lower()}",
            ]
        return f"CREATE OR REPLACE SECRET callscope_s3 ({', '.join(parts)})"

    def open(self, read_only: bool = False) -> duckdb.DuckDBPyConnection:
        """A connection with the lake attached and in use (the caller closes it)."""
        con = duckdb.connect(
            config={
                "extension_directory": str(self.ext_dir),
                "autoinstall_known_extensions": False,
                "autoload_known_extensions": True,
            }
        )
        try:
            secret = self._secret_sql()
            if secret:
                con.execute(secret)
            mode = ", READ_ONLY" if read_only else ""
            con.execute(
                f"ATTACH 'ducklake:{_quote(self.catalog)}' AS {ALIAS}"
                f" (DATA_PATH '{_quote(self.data_path)}'{mode})"
            )
            con.execute(f"USE {ALIAS}")
        except duckdb.Error as exc:
            con.close()
            raise WarehouseError(f"cannot attach DuckLake {self.catalog}: {exc}") from exc
        return con

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        if self._session is not None and self._session_thread == threading.get_ident():
            yield self._session  # inside session(): the batch's one attached connection
            return
        con = self.open()
        try:
            yield con
        finally:
            con.close()

    # migrations run through Warehouse.migrate, without key constraints; run it from one
    # process
    _version_key = "NOT NULL"

    def _migration_sql(self, sql: str) -> str:
        return lake_sql(sql)


@contextmanager
def read_lake(settings: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    """A short-lived read-only connection to the lake the settings name (the dashboard's
    per-page reader in DuckLake mode: every commit is a snapshot, nothing to publish)."""
    con = LakeWarehouse(settings).open(read_only=True)
    try:
        yield con
    finally:
        con.close()


def open_warehouse(settings: Settings) -> Warehouse:
    """The warehouse the settings name: DuckLake when CALLSCOPE_LAKE_CATALOG is set."""
    if settings.lake_catalog:
        return LakeWarehouse(settings)
    return Warehouse(settings.warehouse)


def copy_into_lake(source: Path, lake: LakeWarehouse) -> dict[str, int]:
    """Copy every table of a file warehouse into an empty lake.

    The file is migrated first, so both have the same schema and the tables later
    migrations add or backfill (rollups such as ``talk_by_role``) come along filled.
    Returns rows copied per table. Refuses a lake that already holds calls.
    """
    if not source.exists():
        raise ConfigError(f"no warehouse file at {source} to move into DuckLake")
    Warehouse(source).migrate()
    lake.migrate()
    copied: dict[str, int] = {}
    with lake.connect() as con:
        row = con.execute("SELECT count(*) FROM calls").fetchone()
        if row and row[0]:
            raise WarehouseError(
                f"the lake {lake.catalog} already holds {row[0]} calls: migrate into an empty"
                " lake (a new catalog database and data path)"
            )
        con.execute(f"ATTACH '{_quote(str(source))}' AS src (READ_ONLY)")
        tables = [
            r[0]
            for r in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE database_name = 'src'"
                " AND schema_name = 'main' AND table_name <> 'schema_migrations' ORDER BY 1"
            ).fetchall()
        ]
        con.execute("BEGIN TRANSACTION")
        for table in tables:
            n = con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM src.{table}").fetchone()
            copied[table] = int(n[0]) if n else 0
        ensure_search_macros(con)
        con.execute("COMMIT")
        con.execute("DETACH src")
    log.info("copied %s into DuckLake %s", copied, lake.catalog)
    return copied
