"""Readers never block the writer: the writer publishes immutable read snapshots.

DuckDB lets one process write a database file, and a reader of that same file holds a
lock the writer must wait for. So readers never open the writer's file. After each landing
batch the writer *publishes*: it brings the search index up to date, checkpoints, copies
the file (a reflink where the file system can) and renames the copy over
``<warehouse>.read.duckdb`` — an atomic swap. A reader that has the old snapshot open keeps
reading it (its inode lives on until closed); the next open sees the new one. Snapshots
are taken between transactions, so a reader sees whole calls only.

:class:`SnapshotReader` is the long-lived reader: an in-memory DuckDB connection that
attaches the published file read-only and re-attaches it, before a query, when a newer
one was published — no reconnecting by hand. :func:`read_snapshot` is the short-lived one
the dashboard uses per page.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from analytics.errors import WarehouseError
from analytics.warehouse.db import Warehouse
from analytics.warehouse.extensions import OFFLINE_CONFIG, load_extension
from analytics.warehouse.search import ensure_search_macros, update_search_index

log = logging.getLogger(__name__)

SNAPSHOT_SUFFIX = ".read.duckdb"


def snapshot_path(warehouse: Path | str) -> Path:
    """Where the read snapshot of ``warehouse`` is published: ``x.duckdb`` -> ``x.read.duckdb``."""
    path = Path(warehouse)
    return path.with_name(path.stem + SNAPSHOT_SUFFIX)


@dataclass(frozen=True)
class Published:
    """One publish: the snapshot, its size, what the search index took in, and timings."""

    path: Path
    bytes: int
    indexed_analyses: int
    index_s: float
    copy_s: float
    published_at: datetime


def _copy(src: Path, dest: Path) -> None:
    """Copy in a child process: closing a descriptor of the file in *this* process would
    drop the DuckDB write lock this process holds on it (POSIX record locks)."""
    cmd = (
        ["cp", "--reflink=auto", str(src), str(dest)]
        if sys.platform.startswith("linux")
        else [
            "cp",
            str(src),
            str(dest),
        ]
    )
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise WarehouseError(f"cannot copy {src} to {dest}: {done.stderr.strip()}")


def _checkpoint(con: duckdb.DuckDBPyConnection, attempts: int = 20) -> None:
    """CHECKPOINT, waiting out a short write transaction of another thread (LLM cache)."""
    for attempt in range(attempts):
        try:
            con.execute("CHECKPOINT")
            return
        except duckdb.TransactionException:
            if attempt == attempts - 1:
                raise
            time.sleep(0.05 * (attempt + 1))


def publish(wh: Warehouse, snapshot: Path | None = None) -> Published:
    """Index new analyses for search, then publish an immutable read snapshot atomically."""
    target = snapshot or snapshot_path(wh.path)
    t0 = time.perf_counter()
    now = datetime.now(UTC)
    with wh.transaction() as con:
        load_extension(con, "fts")
        ensure_search_macros(con)
        indexed = update_search_index(con)
        con.execute(
            "INSERT INTO snapshots (published_at, indexed_analyses) VALUES (?, ?)", [now, indexed]
        )
    index_s = time.perf_counter() - t0
    if not getattr(wh, "publishes_snapshots", True):  # DuckLake: every commit is a snapshot
        return Published(wh.path, 0, indexed, index_s, 0.0, now)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    t1 = time.perf_counter()
    try:
        with wh.connect() as con:
            # The main file changes only at checkpoints: after this one and while this
            # connection stays open, it holds exactly the committed state.
            _checkpoint(con)
            _copy(wh.path, tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    copy_s = time.perf_counter() - t1
    size = target.stat().st_size
    log.info(
        "published %s (%.1f MB; indexed %d analyses in %.2f s, copy %.2f s)",
        target,
        size / 1e6,
        indexed,
        index_s,
        copy_s,
    )
    return Published(target, size, indexed, index_s, copy_s, now)


def _identity(path: Path) -> tuple[int, int, int]:
    st = path.stat()
    return (st.st_ino, st.st_mtime_ns, st.st_size)


class SnapshotReader:
    """A read connection that follows the published snapshot of a warehouse.

    ``execute`` / ``sql`` re-attach a newer snapshot first when one was published (a
    ``stat`` per query), so a reader kept open for hours sees each landing batch. The fts
    extension is loaded (offline) for :func:`search_utterances`. Use one reader per thread.
    """

    def __init__(self, path: Path | str, *, fts: bool = True) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise WarehouseError(
                f"no read snapshot at {self.path} yet: run `callscope ingest` (or `callscope"
                " publish` for a warehouse built before snapshots) first"
            )
        self._con = duckdb.connect(":memory:", config=dict(OFFLINE_CONFIG))
        self._lock = threading.Lock()
        self._ident: tuple[int, int, int] | None = None
        self._alias: str | None = None
        self._n = 0
        if fts:
            load_extension(self._con, "fts")
        self.refresh()

    @property
    def connection(self) -> duckdb.DuckDBPyConnection:
        """The underlying connection (refreshed now; later queries on it are not)."""
        self.refresh()
        return self._con

    def refresh(self) -> bool:
        """Attach the newest published snapshot if it changed; True when it did."""
        with self._lock:
            try:
                ident = _identity(self.path)
            except FileNotFoundError as exc:
                raise WarehouseError(f"read snapshot {self.path} disappeared") from exc
            if ident == self._ident:
                return False
            self._n += 1
            alias = f"callscope_{self._n}"
            if self._alias is not None:
                self._con.execute("USE memory")
                self._con.execute(f"DETACH {self._alias}")
            path_sql = str(self.path).replace("'", "''")
            self._con.execute(f"ATTACH '{path_sql}' AS {alias} (READ_ONLY)")
            self._con.execute(f"USE {alias}")
            self._alias, self._ident = alias, ident
            log.debug("reader: attached snapshot %s as %s", self.path, alias)
            return True

    def execute(self, query: str, parameters: Any = None) -> duckdb.DuckDBPyConnection:
        self.refresh()
        return self._con.execute(query, parameters)

    def sql(self, query: str) -> duckdb.DuckDBPyRelation:
        self.refresh()
        return self._con.sql(query)

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> SnapshotReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_reader(warehouse: Path | str, *, fts: bool = True) -> SnapshotReader:
    """The one line for analysts: ``con = open_reader("data/warehouse.duckdb")``."""
    return SnapshotReader(snapshot_path(warehouse), fts=fts)


@contextmanager
def read_snapshot(warehouse: Path | str) -> Iterator[duckdb.DuckDBPyConnection]:
    """A short-lived connection to the published snapshot of ``warehouse``."""
    reader = open_reader(warehouse)
    try:
        yield reader.connection
    finally:
        reader.close()


class Publisher:
    """Publishes the writer's landing batches: during a run at most every ``interval_s``
    seconds (0: after every landed call), and once more when the run ends."""

    def __init__(self, wh: Warehouse, interval_s: float) -> None:
        self.wh = wh
        self.interval_s = interval_s
        self.published: list[Published] = []
        self._last = time.monotonic()

    def publish(self) -> Published:
        done = publish(self.wh)
        self.published.append(done)
        self._last = time.monotonic()
        return done

    def ensure(self, schema_changed: bool = False) -> Published | None:
        """Publish when readers have no snapshot yet or the schema just changed."""
        exists = snapshot_path(self.wh.path).exists()
        if exists and not schema_changed and getattr(self.wh, "publishes_snapshots", True):
            return None
        return self.publish()

    def after_landing(self) -> Published | None:
        """Publish if the interval has passed; a failure is logged, the run goes on (the
        calls are landed; the next publish carries them)."""
        if time.monotonic() - self._last < self.interval_s:
            return None
        try:
            return self.publish()
        except (WarehouseError, duckdb.Error) as exc:
            log.warning("publishing the read snapshot failed (the run goes on): %s", exc)
            return None
