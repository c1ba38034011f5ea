"""Landing batches: many calls per transaction, each call still all-or-nothing; the same
on a (local) DuckLake, and the cloud engines' job store there."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import pytest

from analytics.config import Settings
from analytics.enrich.metrics import compute_metrics
from analytics.enrich.rules import load_rules
from analytics.errors import WarehouseError
from analytics.insights.offline import OfflineEngine
from analytics.landing import add_insights, land_many, land_processed, prepare
from analytics.models import CallResult, Word
from analytics.warehouse import Warehouse
from analytics.warehouse.bulk import Landing
from analytics.warehouse.engine_jobs import WarehouseJobStore
from analytics.warehouse.lake import LakeWarehouse
from tests.analytics.warehouse_helpers import LINES, landed_call
from tests.conftest import ROOT

TABLES = ("calls", "analyses", "utterances", "words", "call_metrics", "insights",
          "category_matches", "redaction_counts")  # fmt: skip


def _counts(wh: Warehouse) -> dict[str, int]:
    with wh.connect() as con:
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}  # type: ignore[index]


def _with_metrics(result: CallResult) -> CallResult:
    metrics = compute_metrics(list(result.utterances), result.duration_s).to_dict()
    return dataclasses.replace(result, metrics=metrics)


def _broken(result: CallResult) -> CallResult:
    word = Word("x", 1.0, 2.0, 0.5)
    object.__setattr__(word, "word", None)  # NOT NULL violation in the words table
    utt = dataclasses.replace(result.utterances[0], words=(word,))
    return dataclasses.replace(result, utterances=(*result.utterances, utt))


@pytest.fixture
def wh(tmp_path: Path) -> Warehouse:
    w = Warehouse(tmp_path / "w.duckdb")
    w.migrate()
    return w


def test_a_batch_lands_every_row_like_single_landings(wh: Warehouse, tmp_path: Path) -> None:
    rules = load_rules(ROOT / "config" / "categories.yaml")
    calls = [add_insights(_with_metrics(landed_call(f"c{i}", day=1 + i)), OfflineEngine())
             for i in range(3)]  # fmt: skip
    ids = land_many(wh, calls, run_id="r1", ruleset=rules, redact_pii=True)
    assert len(set(ids)) == 3 and None not in ids

    single = Warehouse(tmp_path / "single.duckdb")
    single.migrate()
    for p in calls:
        land_processed(single, p, run_id="r1", ruleset=rules, redact_pii=True)
    assert _counts(wh) == _counts(single)
    assert _counts(wh)["utterances"] == 3 * len(LINES)
    with wh.connect() as con:
        first = con.execute("SELECT DISTINCT first_text FROM analyses").fetchall()
        stored = con.execute("SELECT DISTINCT text FROM utterances WHERE idx = 0").fetchall()
        assert first == stored and len(first) == 1  # the calls list's snippet, precomputed
        loud = con.execute("SELECT count(loudness_dbfs) FROM utterances").fetchone()
    with single.connect() as con:  # per-utterance loudness goes in with the utterances
        assert con.execute("SELECT count(loudness_dbfs) FROM utterances").fetchone() == loud


def test_a_prepared_call_lands_what_land_processed_would(wh: Warehouse, tmp_path: Path) -> None:
    rules = load_rules(ROOT / "config" / "categories.yaml")
    p = add_insights(_with_metrics(landed_call("c1")), OfflineEngine())
    ready = prepare(p, ruleset=rules, redact_pii=True)  # in the task, not the writer
    assert ready.landing is not None
    land_many(wh, [ready], run_id="r1", ruleset=None, redact_pii=True)
    other = Warehouse(tmp_path / "o.duckdb")
    other.migrate()
    land_processed(other, p, run_id="r1", ruleset=rules, redact_pii=True)
    assert _counts(wh) == _counts(other)
    with wh.connect() as con:
        assert con.execute("SELECT DISTINCT run_id FROM analyses").fetchall() == [("r1",)]


def test_duplicates_and_late_versions_inside_one_batch(wh: Warehouse) -> None:
    new = dataclasses.replace(
        landed_call("c1", etag="e2"), source_modified_at=datetime(2026, 11, 2, tzinfo=UTC)
    )
    old = dataclasses.replace(
        landed_call("c1", etag="e1"), source_modified_at=datetime(2026, 11, 1, tzinfo=UTC)
    )
    ids = wh.land_batch([Landing(new), Landing(new), Landing(old)])
    assert ids[0] is not None and ids[1] is None and ids[2] is not None
    with wh.connect() as con:
        assert con.execute("SELECT current_analysis_id, etag FROM calls").fetchall() == [
            (ids[0], "e2")  # the older version landed late: kept, not current
        ]
    assert wh.land_batch([Landing(new)]) == [None]  # and a later batch lands nothing twice


def test_a_bad_call_fails_alone_and_lands_nothing_of_itself(wh: Warehouse) -> None:
    good = [landed_call(f"c{i}") for i in range(3)]
    with pytest.raises(WarehouseError, match="landing call bad failed"):
        wh.land_batch([Landing(good[0]), Landing(_broken(landed_call("bad"))), Landing(good[1])])
    with wh.connect() as con:
        landed = con.execute("SELECT call_id FROM calls ORDER BY 1").fetchall()
        assert landed == [("c0",)]  # landed one by one after the batch failed: up to the bad one
        assert con.execute("SELECT count(*) FROM words WHERE call_id = 'bad'").fetchone() == (0,)
    assert None not in wh.land_batch([Landing(good[1]), Landing(good[2])])


def _local_lake(tmp_path: Path) -> LakeWarehouse:
    lake = LakeWarehouse(
        Settings(
            data_dir=tmp_path / "data",
            lake_catalog=str(tmp_path / "catalog.ducklake"),
            lake_data_path=str(tmp_path / "lake") + "/",
        )
    )
    lake.migrate()
    return lake


def test_batches_land_on_ducklake(tmp_path: Path) -> None:
    lake = _local_lake(tmp_path)
    ids = lake.land_batch([Landing(landed_call(f"c{i}")) for i in range(3)])
    assert None not in ids
    again = lake.land_batch([Landing(landed_call("c0", etag="e2")), Landing(landed_call("c1"))])
    assert again[1] is None
    with lake.connect() as con:
        assert con.execute("SELECT count(*), count(DISTINCT call_id) FROM calls").fetchone() == (
            3,
            3,
        )
        current = con.execute("SELECT current_analysis_id FROM calls WHERE call_id = 'c0'")
        assert current.fetchone() == (again[0],)
        assert con.execute("SELECT count(*) FROM v_utterances").fetchone() == (3 * len(LINES),)


def test_engine_jobs_on_ducklake(tmp_path: Path) -> None:
    jobs = WarehouseJobStore(_local_lake(tmp_path))
    jobs.record_submit("s3://b/a.wav", "e1", "k", "job-1")
    jobs.update("job-1", "error", "bad audio")
    jobs.record_submit("s3://b/a.wav", "e1", "k", "job-2")  # replaces the errored job's row
    job = jobs.get("s3://b/a.wav", "e1", "k")
    assert job is not None and (job.job_id, job.status, job.error) == ("job-2", "queued", None)
    jobs.forget("s3://b/a.wav", "e1", "k")
    assert jobs.get("s3://b/a.wav", "e1", "k") is None
