"""Export: the analyst views as Parquet partitioned by call date, locally and to S3."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest

from analytics.errors import ConfigError
from analytics.warehouse import Warehouse
from analytics.warehouse.export import EXPORT_VIEWS, export_views
from analytics.warehouse.snapshot import open_reader, publish
from tests.analytics.warehouse_helpers import LINES, landed_call


@pytest.fixture
def wh(tmp_path: Path) -> Warehouse:
    w = Warehouse(tmp_path / "w.duckdb")
    w.migrate()
    for i, day in enumerate((1, 1, 2, 5)):
        w.land(landed_call(f"c{i}", day=day, agent=("agent-ana", "agent-bo")[i % 2]))
    publish(w)
    return w


def test_export_to_a_directory_partitions_by_day(wh: Warehouse, tmp_path: Path) -> None:
    dest = tmp_path / "out"
    with open_reader(wh.path) as reader:
        result = export_views(reader.connection, str(dest))
    assert result.rows["v_calls"] == 4 and result.partitions["v_calls"] == 3
    assert result.rows["v_utterances"] == 4 * len(LINES)
    days = sorted(p.name for p in (dest / "v_calls").iterdir())
    assert days == ["call_date=2026-11-01", "call_date=2026-11-02", "call_date=2026-11-05"]
    got = duckdb.sql(
        f"SELECT call_id, call_date FROM read_parquet('{dest}/v_calls/*/*.parquet',"
        " hive_partitioning = true) ORDER BY call_id"
    ).fetchall()
    assert [c for c, _ in got] == ["c0", "c1", "c2", "c3"]
    assert {str(d) for _, d in got} == {"2026-11-01", "2026-11-02", "2026-11-05"}
    assert (dest / "v_cost_daily").is_dir()

    # --since re-exports the days from then on, replacing them whole; older days stay.
    wh.land(landed_call("c9", day=5))
    publish(wh)
    with open_reader(wh.path) as reader:
        again = export_views(reader.connection, str(dest), since=date(2026, 11, 2))
    assert again.rows["v_calls"] == 3
    n = duckdb.sql(f"SELECT count(*) FROM read_parquet('{dest}/v_calls/*/*.parquet')").fetchone()
    assert n == (5,)  # no duplicates from the first export of 2026-11-05


def test_export_to_s3(wh: Warehouse, s3_client: Any, bucket: str) -> None:
    with open_reader(wh.path) as reader:
        result = export_views(reader.connection, f"s3://{bucket}/exports", s3_client=s3_client)
    keys = sorted(
        o["Key"] for o in s3_client.list_objects_v2(Bucket=bucket, Prefix="exports/")["Contents"]
    )
    assert result.files == len(keys)
    assert "exports/v_calls/call_date=2026-11-05/data_0.parquet" in keys
    # These calls landed without category rules: the one view with no rows writes nothing.
    assert {k.split("/")[1] for k in keys} == set(EXPORT_VIEWS) - {"v_category_daily"}
    assert result.rows["v_category_daily"] == 0


def test_export_rejects_other_urls(wh: Warehouse) -> None:
    with open_reader(wh.path) as reader, pytest.raises(ConfigError, match="s3://bucket"):
        export_views(reader.connection, "gs://x/y")
