"""DuckLake: catalog in PostgreSQL on loopback, data in the loopback S3 server; two writer
processes land at once while a third reads. And moving a file warehouse into a lake."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from analytics.config import Settings
from analytics.warehouse import Warehouse, queries
from analytics.warehouse.lake import LakeWarehouse, copy_into_lake, lake_sql
from analytics.warehouse.search import search
from analytics.warehouse.snapshot import publish
from flows.local_postgres import LocalPostgres, local_postgres
from flows.local_s3 import LocalS3
from tests.analytics.warehouse_helpers import LINES, landed_call
from tests.conftest import ROOT

PER_WRITER = 5

# Lands PER_WRITER calls the way the flow does (offline insights, categories, metrics).
WRITER = """
import sys
from dataclasses import replace
from analytics.config import Settings
from analytics.enrich.metrics import compute_metrics
from analytics.enrich.rules import load_rules
from analytics.insights.offline import OfflineEngine
from analytics.landing import add_insights, land_processed
from analytics.warehouse.lake import LakeWarehouse
from tests.analytics.warehouse_helpers import landed_call
name, n = sys.argv[1], int(sys.argv[2])
wh = LakeWarehouse(Settings())
rules = load_rules("config/categories.yaml")
for i in range(n):
    result = landed_call(f"{name}-{i}", day=1 + i)
    metrics = compute_metrics(list(result.utterances), result.duration_s).to_dict()
    processed = add_insights(replace(result, metrics=metrics), OfflineEngine())
    land_processed(wh, processed, run_id=None, ruleset=rules, redact_pii=True)
"""

READER = """
import json, pathlib, sys, time
from analytics.config import Settings
from analytics.warehouse.lake import LakeWarehouse
out, stop = sys.argv[1:3]
con = LakeWarehouse(Settings()).open(read_only=True)
with open(out, "w") as f:
    while not pathlib.Path(stop).exists():
        try:
            calls = con.execute("SELECT count(*) FROM calls").fetchone()[0]
            torn = con.execute(
                "SELECT count(*) FROM calls c WHERE (SELECT count(*) FROM utterances u"
                " WHERE u.analysis_id = c.current_analysis_id) <> 5").fetchone()[0]
            f.write(json.dumps({"calls": calls, "torn": torn}) + "\\n")
        except Exception as exc:
            f.write(json.dumps({"error": repr(exc)}) + "\\n")
        f.flush()
        time.sleep(0.2)
"""


@pytest.fixture(scope="module")
def postgres() -> Iterator[LocalPostgres]:
    with local_postgres() as pg:
        yield pg


def test_constraints_are_dropped_for_ducklake() -> None:
    sql = lake_sql(
        "CREATE TABLE t (a VARCHAR PRIMARY KEY, s VARCHAR NOT NULL CHECK (s IN ('ok', 'x')),"
        " b INT, UNIQUE (a, b), PRIMARY KEY (a, b));"
    )
    assert sql == "CREATE TABLE t (a VARCHAR, s VARCHAR NOT NULL, b INT);"
    assert lake_sql("DROP TABLE x;\n CREATE UNIQUE INDEX i ON t (a);\n SELECT 1;") == (
        "DROP TABLE x;\n \n SELECT 1;"
    )


@pytest.mark.slow
@pytest.mark.e2e
def test_two_writers_and_a_reader_on_postgres_and_s3(
    postgres: LocalPostgres,
    s3_server: LocalS3,
    s3_client: object,
    bucket: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    postgres.create_database("lake_concurrency")
    env = {
        "CALLSCOPE_LAKE_CATALOG": postgres.lake_catalog("lake_concurrency"),
        "CALLSCOPE_LAKE_DATA_PATH": f"s3://{bucket}/lake/",
        "CALLSCOPE_DATA_DIR": str(tmp_path / "data"),
        **{f"CALLSCOPE_{k.upper()}": v for k, v in s3_server.settings_overrides().items()},
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    lake = LakeWarehouse(Settings())
    assert lake.migrate()[-1] >= 12

    run_env = {**os.environ, **env, "PYTHONPATH": str(ROOT)}
    out, stop = tmp_path / "reader.jsonl", tmp_path / "stop"
    reader = subprocess.Popen([sys.executable, "-c", READER, str(out), str(stop)], env=run_env)
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, name, str(PER_WRITER)],
            env=run_env,
            cwd=ROOT,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("w1", "w2")
    ]
    try:
        for w in writers:
            _, err = w.communicate(timeout=600)
            assert w.returncode == 0, err[-3000:]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            lines = out.read_text().splitlines() if out.exists() else []
            if lines and json.loads(lines[-1]).get("calls") == 2 * PER_WRITER:
                break
            time.sleep(0.2)
    finally:
        stop.touch()
        reader.wait(timeout=60)
    seen = [json.loads(x) for x in out.read_text().splitlines() if x.endswith("}")]
    assert [x for x in seen if "error" in x] == []
    assert all(x["torn"] == 0 for x in seen)  # whole calls only
    assert seen[-1]["calls"] == 2 * PER_WRITER

    with lake.connect() as con:
        once = con.execute("SELECT count(*), count(DISTINCT call_id) FROM calls").fetchone()
        assert once == (2 * PER_WRITER, 2 * PER_WRITER)  # every call exactly once
        assert con.execute("SELECT count(*) FROM analyses").fetchone() == (2 * PER_WRITER,)
        n_utt = con.execute("SELECT count(*) FROM v_utterances").fetchone()
        assert n_utt == (2 * PER_WRITER * len(LINES),)
        assert con.execute("SELECT count(*) FROM v_calls WHERE outcome IS NOT NULL").fetchone() == (
            2 * PER_WRITER,
        )
    listed = s3_client.list_objects_v2(Bucket=bucket, Prefix="lake/")  # type: ignore[attr-defined]
    assert listed.get("KeyCount", 0) > 0  # the data files are Parquet in S3

    assert publish(lake).indexed_analyses == 2 * PER_WRITER  # search works on the lake too
    with lake.connect() as con:
        hits = search(con, "refund", role="agent", limit=3)
    assert len(hits) == 3 and all(h.role == "agent" for h in hits)


def test_move_a_file_warehouse_into_a_local_lake(tmp_path: Path) -> None:
    wh = Warehouse(tmp_path / "w.duckdb")
    wh.migrate()
    for i in range(3):
        wh.land(landed_call(f"c{i}"))
    publish(wh)
    with wh.transaction() as con:  # a file from before migration 42 (talk per role)
        con.execute("DROP VIEW v_role_daily")
        con.execute("DROP TABLE talk_by_role")
        con.execute("DELETE FROM schema_migrations WHERE version = 42")
    cfg = Settings(
        data_dir=tmp_path / "data",
        lake_catalog=str(tmp_path / "catalog.ducklake"),
        lake_data_path=str(tmp_path / "lake") + "/",
    )
    lake = LakeWarehouse(cfg)
    copied = copy_into_lake(wh.path, lake)
    assert copied["calls"] == 3 and copied["utterances"] == 3 * len(LINES)
    assert copied["search_docs"] == 3 * len(LINES)
    with lake.connect() as con:
        assert con.execute("SELECT count(*) FROM v_calls").fetchone() == (3,)
        assert len(search(con, "refund")) == 6
    assert copied["talk_by_role"] == 3 * 2  # the file was migrated first: rollup filled
    lake.land(landed_call("c9", lines=[("customer", "Where is my refund?")]))
    with lake.connect() as con:  # landed, not indexed yet: the calls list finds it anyway
        assert queries.list_calls(con, search="refund?")["call_id"].tolist() == ["c9"]
        assert con.execute("SELECT sum(calls) FROM v_role_daily").fetchone() == (7,)
    assert publish(lake).indexed_analyses == 1
    with pytest.raises(Exception, match="already holds"):
        copy_into_lake(wh.path, lake)
