"""Read snapshots: published atomically, read whole, followed by long-lived readers."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest

from analytics.errors import WarehouseError
from analytics.warehouse import Warehouse
from analytics.warehouse.snapshot import (
    Publisher,
    SnapshotReader,
    open_reader,
    publish,
    read_snapshot,
    snapshot_path,
)
from tests.analytics.warehouse_helpers import landed_call


@pytest.fixture
def wh(tmp_path: Path) -> Warehouse:
    w = Warehouse(tmp_path / "w.duckdb")
    w.migrate()
    return w


def _calls(reader: SnapshotReader) -> int:
    return int(reader.execute("SELECT count(*) FROM calls").fetchone()[0])  # type: ignore[index]


def test_snapshot_path_sits_beside_the_warehouse() -> None:
    assert snapshot_path("data/warehouse.duckdb") == Path("data/warehouse.read.duckdb")


def test_reader_needs_a_published_snapshot(wh: Warehouse) -> None:
    with pytest.raises(WarehouseError, match="callscope publish"):
        open_reader(wh.path)


def test_reader_follows_new_snapshots_without_reconnecting(wh: Warehouse) -> None:
    wh.land(landed_call("c1"))
    publish(wh)
    reader = open_reader(wh.path)
    assert _calls(reader) == 1
    wh.land(landed_call("c2"))  # the writer is not blocked by the open reader
    assert _calls(reader) == 1  # not published yet: the reader's snapshot is unchanged
    done = publish(wh)
    assert done.indexed_analyses == 1 and done.bytes == snapshot_path(wh.path).stat().st_size
    assert _calls(reader) == 2
    assert reader.execute("SELECT max(indexed_analyses) FROM snapshots").fetchone() == (1,)
    reader.close()


def test_snapshot_is_immutable_and_never_the_writer_file(wh: Warehouse) -> None:
    wh.land(landed_call("c1"))
    publish(wh)
    snap = snapshot_path(wh.path)
    before = os.stat(snap).st_ino
    # A plain read-only DuckDB connection on the snapshot (the analyst's CLI) does not
    # stop the writer from landing and publishing again.
    held = duckdb.connect(str(snap), read_only=True)
    wh.land(landed_call("c2"))
    publish(wh)
    assert held.execute("SELECT count(*) FROM calls").fetchone() == (1,)  # its old copy
    held.close()
    assert os.stat(snap).st_ino != before  # swapped by rename, never written in place
    with read_snapshot(wh.path) as con:
        assert con.execute("SELECT count(*) FROM calls").fetchone() == (2,)
    assert not list(wh.path.parent.glob(".*.tmp"))


def test_snapshot_holds_whole_calls(wh: Warehouse) -> None:
    for i in range(3):
        wh.land(landed_call(f"c{i}"))
    publish(wh)
    with read_snapshot(wh.path) as con:
        broken = con.execute(
            "SELECT count(*) FROM v_calls c WHERE n_utterances <>"
            " (SELECT count(*) FROM utterances u WHERE u.analysis_id = c.analysis_id)"
        ).fetchone()
        assert broken == (0,)
        assert con.execute("SELECT count(*) FROM words").fetchone()[0] > 0  # type: ignore[index]


def test_publisher_publishes_after_the_interval_only(wh: Warehouse) -> None:
    every = Publisher(wh, interval_s=0)
    assert every.after_landing() is not None
    rarely = Publisher(wh, interval_s=3600)
    assert rarely.after_landing() is None
    assert rarely.publish().path == snapshot_path(wh.path)


def test_a_session_keeps_one_connection_for_a_batch(wh: Warehouse) -> None:
    with wh.session():
        with wh.connect() as a, wh.connect() as b:
            assert a is b  # the same open connection, not a file open per write
        for i in range(3):
            wh.land(landed_call(f"c{i}"))
        publish(wh)  # checkpoint + copy work on the session's connection
    with read_snapshot(wh.path) as con:
        assert con.execute("SELECT count(*), sum(n_words) FROM analyses").fetchone() == (3, 3 * 52)
    with wh.connect() as a, wh.connect() as b:
        assert a is not b  # outside a session every write opens its own
