from __future__ import annotations

import dataclasses
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from analytics.errors import WarehouseError
from analytics.models import CallMetadata, CallResult, Utterance, Word
from analytics.warehouse import Warehouse, connect_read_only
from analytics.warehouse.migrations import MIGRATIONS
from tests.factories import call_result


def make_result(call_id: str = "c1", etag: str = "e1", n: int = 3) -> CallResult:
    utts = tuple(
        Utterance(
            speaker=f"ch{i % 2}",
            role=("customer", "agent")[i % 2],
            start=i * 2.0,
            end=i * 2.0 + 1.5,
            text=f"utterance {i}",
            words=(
                Word("utterance", i * 2.0, i * 2.0 + 0.7, 0.9),
                Word(str(i), i * 2.0 + 0.8, i * 2.0 + 1.5, 0.8),
            ),
            channel=i % 2,
        )
        for i in range(n)
    )
    return call_result(
        utts,
        call_id=call_id,
        etag=etag,
        duration_s=30.0,
        params={"beam_size": 5},
        metadata=CallMetadata(call_id, agent_id="agent-ana", channel_roles=("customer", "agent")),
    )


@pytest.fixture
def wh(tmp_path: Path) -> Warehouse:
    w = Warehouse(tmp_path / "w.duckdb")
    w.migrate()
    return w


def _count(wh: Warehouse, table: str) -> int:
    with connect_read_only(wh.path) as con:
        return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # type: ignore[index]


def test_migrations_are_versioned_and_idempotent(tmp_path: Path) -> None:
    w = Warehouse(tmp_path / "m.duckdb")
    assert w.migrate() == [m.version for m in MIGRATIONS]
    assert w.migrate() == []
    assert w.schema_version() == MIGRATIONS[-1].version


def test_land_writes_every_table_and_sets_current(wh: Warehouse) -> None:
    analysis_id = wh.land(make_result(), run_id="r1")
    assert analysis_id
    assert [_count(wh, t) for t in ("calls", "analyses", "utterances", "words")] == [1, 1, 3, 6]
    with connect_read_only(wh.path) as con:
        row = con.execute("SELECT current_analysis_id, channel_roles FROM calls").fetchone()
        assert row == (analysis_id, ["customer", "agent"])
        assert con.execute("SELECT count(*) FROM current_utterances").fetchone() == (3,)


def test_same_lineage_lands_once(wh: Warehouse) -> None:
    assert wh.land(make_result()) is not None
    assert wh.land(make_result()) is None
    assert _count(wh, "analyses") == 1 and _count(wh, "words") == 6


def test_new_etag_adds_an_analysis_and_moves_current(wh: Warehouse) -> None:
    first = wh.land(make_result(etag="e1"))
    second = wh.land(make_result(etag="e2", n=2))
    assert first != second
    assert _count(wh, "calls") == 1 and _count(wh, "analyses") == 2
    with connect_read_only(wh.path) as con:
        assert con.execute("SELECT current_analysis_id, etag FROM calls").fetchone() == (
            second,
            "e2",
        )
        assert con.execute("SELECT count(*) FROM current_utterances").fetchone() == (2,)


def test_a_failing_landing_leaves_nothing_behind(wh: Warehouse) -> None:
    bad = make_result()
    broken_word = Word("x", 1.0, 2.0, 0.5)
    object.__setattr__(broken_word, "word", None)  # NOT NULL violation in the words table
    bad_utt = dataclasses.replace(bad.utterances[0], words=(broken_word,))
    bad = dataclasses.replace(bad, utterances=(*bad.utterances, bad_utt))
    with pytest.raises(WarehouseError, match="c1"):
        wh.land(bad)
    assert [_count(wh, t) for t in ("calls", "analyses", "utterances", "words")] == [0, 0, 0, 0]


def test_errors_are_recorded_once_and_block_rediscovery_unless_retryable(wh: Warehouse) -> None:
    kw = dict(run_id="r", call_id="bad", stage="decode", error_type="DecodeError", reason="corrupt")
    first = wh.record_error(source_uri="s3://b/bad.wav", etag="e", retryable=False, **kw)
    assert wh.record_error(source_uri="s3://b/bad.wav", etag="e", retryable=False, **kw) == first
    wh.record_error(source_uri="s3://b/flaky.wav", etag="f", retryable=True, **kw)
    assert _count(wh, "call_errors") == 2
    known = wh.known_objects()
    assert ("s3://b/bad.wav", "e") in known
    assert ("s3://b/bad.wav", "new-etag") not in known
    assert ("s3://b/flaky.wav", "f") not in known


def test_runs_are_started_and_finished(wh: Warehouse) -> None:
    run_id = wh.start_run("s3://b/", {"limit": 3})
    wh.finish_run(
        run_id,
        status="completed",
        discovered=3,
        processed=2,
        failed=1,
        skipped=0,
        audio_s=90.0,
        wall_s=9.0,
    )
    with connect_read_only(wh.path) as con:
        row = con.execute("SELECT status, processed, failed, audio_s FROM runs").fetchone()
    assert row == ("completed", 2, 1, 90.0)


def test_reader_waits_for_a_writer_in_another_process(wh: Warehouse) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]);"
            " print('locked', flush=True);"
            " time.sleep(1.5); c.close()",
            str(wh.path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    t0 = time.monotonic()
    with connect_read_only(wh.path, wait_s=20) as con:
        assert con.execute("SELECT count(*) FROM calls").fetchone() == (0,)
    waited = time.monotonic() - t0
    holder.wait(timeout=10)
    assert waited > 0.3  # it really had to wait for the other process's lock


def test_reader_gives_up_with_a_clear_error_when_the_lock_stays(wh: Warehouse) -> None:
    holder = duckdb.connect(str(wh.path))  # read-write in this process
    try:
        with (
            pytest.raises(WarehouseError, match="cannot open warehouse"),
            connect_read_only(wh.path, wait_s=0.3),
        ):
            pass
    finally:
        holder.close()


def test_read_only_on_missing_file_says_what_to_do(tmp_path: Path) -> None:
    with (
        pytest.raises(WarehouseError, match="make demo"),
        connect_read_only(tmp_path / "nope.duckdb"),
    ):
        pass
