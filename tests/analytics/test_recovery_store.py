"""Call identity, object versions, run bookkeeping and claims in a real DuckDB file."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from analytics.errors import AccessError, DecodeError, MetadataError, SourceError, WarehouseError
from analytics.landing import Processed, land_processed
from analytics.models import RecordingRef
from analytics.warehouse import Warehouse, connect_read_only
from analytics.warehouse.migrations import MIGRATIONS
from tests.analytics.test_warehouse import make_result


@pytest.fixture
def wh(tmp_path: Path) -> Warehouse:
    w = Warehouse(tmp_path / "w.duckdb")
    w.migrate()
    return w


def _one(wh: Warehouse, sql: str, args: list[Any] | None = None) -> Any:
    with connect_read_only(wh.path) as con:
        row = con.execute(sql, args or []).fetchone()
    return row[0] if row and len(row) == 1 else row


def _legacy_land(con: duckdb.DuckDBPyConnection, call_id: str, uri: str, etag: str) -> None:
    """What the landing of schema version 6 wrote (its column lists, verbatim)."""
    now = datetime.now(UTC)
    aid = f"a-{call_id}"
    con.execute(
        "INSERT INTO calls (call_id, source_uri, etag, started_at, agent_id, direction,"
        " channel_roles, duration_s, channels, sample_rate, metadata, current_analysis_id,"
        " first_seen_at, updated_at) VALUES (?, ?, ?, NULL, 'agent-ana', 'inbound',"
        " ['customer', 'agent'], 30.0, 2, 8000, '{}', ?, ?, ?)",
        [call_id, uri, etag, aid, now, now],
    )
    con.execute(
        "INSERT INTO analyses (analysis_id, call_id, run_id, source_uri, etag, lineage_key,"
        " engine, model, pipeline_version, params, diarization, language, language_prob,"
        " duration_s, processing_s, n_utterances, n_words, created_at, lineage,"
        " billed_minutes, cost_usd, engine_job_id, native) VALUES (?, ?, NULL, ?, ?, ?,"
        " 'faster-whisper', 'tiny.en', '1', '{\"beam_size\": 5, \"redact_pii\": true}',"
        " 'channels', 'en', 1.0, 30.0, 3.0, 1, 2, ?, '{}', 0.5, 0.0, NULL, '{}')",
        [aid, call_id, uri, etag, f"k-{call_id}", now],
    )
    con.execute(
        "INSERT INTO utterances (analysis_id, call_id, idx, speaker, role, channel, start_s,"
        " end_s, text, confidence, role_confidence) VALUES (?, ?, 0, 'ch1', 'agent', 1, 0.0,"
        " 1.5, 'hello there', 0.9, 1.0)",
        [aid, call_id],
    )
    con.executemany(
        "INSERT INTO words (analysis_id, call_id, utterance_idx, idx, speaker, word, start_s,"
        " end_s, prob) VALUES (?, ?, 0, ?, 'ch1', ?, ?, ?, 0.9)",
        [[aid, call_id, 0, "hello", 0.0, 0.7], [aid, call_id, 1, "there", 0.8, 1.5]],
    )


def test_a_warehouse_built_by_schema_6_migrates_and_loses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = Warehouse(tmp_path / "old.duckdb")
    monkeypatch.setattr("analytics.warehouse.db.MIGRATIONS", MIGRATIONS[:6])
    assert old.migrate() == [1, 2, 3, 4, 5, 6]
    with old.transaction() as con:
        # the identity defect of schema 6: two prefixes, one call id ("0001")
        _legacy_land(con, "0001", "s3://b/a/0001.wav", "e1")
        _legacy_land(con, "billing", "s3://b/calls/billing.wav", "e2")
        con.execute(
            "INSERT INTO call_errors VALUES ('err1', NULL, 'bad', 's3://b/bad.wav', 'x',"
            " 'decode', 'DecodeError', 'corrupt', false, ?)",
            [datetime.now(UTC)],
        )
    tables = ("calls", "analyses", "utterances", "words", "call_errors")
    with connect_read_only(old.path) as con:
        before = {t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in tables}
    monkeypatch.undo()

    assert old.migrate() == [m.version for m in MIGRATIONS[6:]]
    with connect_read_only(old.path) as con:
        for t in tables:
            after = con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall()
            width = len(before[t][0])
            assert [r[:width] for r in after] == before[t], t
        current = con.execute("SELECT call_id FROM current_analyses ORDER BY 1").fetchall()
    assert current == [("0001",), ("billing",)]
    # discovery still skips what landed (any sidecar version of a legacy row) ...
    known = old.known_objects()
    assert RecordingRef("s3://b/a/0001.wav", "a/0001.wav", "e1", 1, sidecar_etag="s") in known
    assert RecordingRef("s3://b/bad.wav", "bad.wav", "x", 1) in known
    assert RecordingRef("s3://b/a/0001.wav", "a/0001.wav", "e9", 1) not in known
    listed = [
        RecordingRef("s3://b/a/0001.wav", "a/0001.wav", "e1", 1, sidecar_etag="s"),
        RecordingRef("s3://b/a/0001.wav", "a/0001.wav", "e9", 1),
        RecordingRef("s3://b/bad.wav", "bad.wav", "x", 1),
    ]
    assert old.new_objects(listed) == [r for r in listed if r not in known] == [listed[1]]
    # ... and a new version of a landed object stays the same call
    assert old.call_ids_for(["s3://b/a/0001.wav", "s3://b/b/0001.wav"]) == {
        "s3://b/a/0001.wav": "0001"
    }


def test_an_older_object_version_landing_late_never_replaces_the_newer(wh: Warehouse) -> None:
    t = datetime(2026, 11, 20, 9, tzinfo=UTC)
    newer = make_result(etag="v2", n=3)
    older = make_result(etag="v1", n=2)
    new_id = wh.land(newer.__class__(**{**newer.__dict__, "source_modified_at": t}))
    old_id = wh.land(
        older.__class__(**{**older.__dict__, "source_modified_at": t - timedelta(hours=1)})
    )
    assert new_id and old_id
    assert _one(wh, "SELECT current_analysis_id FROM calls") == new_id
    assert _one(wh, "SELECT etag FROM calls") == "v2"
    assert _one(wh, "SELECT count(*) FROM analyses") == 2  # the late one is kept, not current


def test_a_fixed_sidecar_is_a_new_version_and_access_errors_are_not_permanent(
    wh: Warehouse,
) -> None:
    ref = RecordingRef("s3://b/c.wav", "c.wav", "e1", 1, sidecar_key="c.json", sidecar_etag="s1")
    err = MetadataError("sidecar is not valid JSON")
    wh.record_error(run_id=None, source_uri=ref.uri, etag=ref.etag, call_id="c",
                    stage=err.stage, error_type="MetadataError", reason=str(err),
                    retryable=not err.permanent, sidecar_etag=ref.sidecar_etag)  # fmt: skip
    assert ref in wh.known_objects()
    fixed = RecordingRef(ref.uri, ref.key, ref.etag, 1, sidecar_key="c.json", sidecar_etag="s2")
    assert fixed not in wh.known_objects()
    assert wh.new_objects([ref, fixed]) == [fixed]  # the flow's one-query form agrees
    # an access error or a vanished object is the store's problem, not the recording's
    assert not AccessError("denied").permanent and not SourceError("gone").permanent
    assert DecodeError("corrupt").permanent and MetadataError("bad").permanent


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_runs_never_stay_running_and_claims_keep_two_runs_apart(wh: Warehouse) -> None:
    refs = [RecordingRef(f"s3://b/{i}.wav", f"{i}.wav", "e", 1) for i in range(3)]
    first = wh.start_run("s3://b/", {})
    assert wh.claim(first, refs) == refs
    second = wh.start_run("s3://b/", {})
    assert wh.claim(second, refs) == []  # the first run is alive and holds them
    assert wh.mark_crashed_runs() == []  # both runs belong to this live process
    with wh.connect() as con:  # the first run's process dies without finishing its row
        con.execute("UPDATE runs SET pid = ? WHERE run_id = ?", [_dead_pid(), first])
    assert wh.mark_crashed_runs() == [first]
    assert _one(wh, "SELECT status FROM runs WHERE run_id = ?", [first]) == "crashed"
    assert "died" in _one(wh, "SELECT error FROM runs WHERE run_id = ?", [first])
    assert wh.claim(second, refs) == refs  # a crashed run's claims are void
    wh.finish_run(second, status="failed", error="RuntimeError: boom")
    assert _one(wh, "SELECT status, error FROM runs WHERE run_id = ?", [second]) == (
        "failed",
        "RuntimeError: boom",
    )
    assert _one(wh, "SELECT count(*) FROM call_claims") == 0


def test_landing_is_one_transaction_per_call(wh: Warehouse) -> None:
    def broken(con: duckdb.DuckDBPyConnection, analysis_id: str) -> None:
        con.execute("INSERT INTO no_such_table VALUES (1)")

    with pytest.raises(WarehouseError, match="landing call c1 failed"):
        wh.land(make_result(), writers=[broken])
    for table in ("calls", "analyses", "utterances", "words", "call_metrics", "redaction_counts"):
        assert _one(wh, f"SELECT count(*) FROM {table}") == 0, table
    # insights, redaction counts and metrics land together with the analysis
    analysis_id = land_processed(
        wh, Processed(make_result()), run_id=None, ruleset=None, redact_pii=True
    )
    assert _one(wh, "SELECT count(*) FROM redaction_counts WHERE analysis_id = ?", [analysis_id])
    params = json.loads(_one(wh, "SELECT params FROM analyses"))
    assert params["redact_pii"] is True
