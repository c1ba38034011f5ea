"""The dashboard's read queries against a small hand-made warehouse."""

from __future__ import annotations

import math

import pytest

from analytics.warehouse import Warehouse, connect_read_only, queries

# Fixed by tests/dashboard/conftest.py (DemoWarehouse); repeated here for readability.
STEREO_ID = "call-stereo-001"
MONO_ID = "call-mono-002"
RETRIED_ID = "call-stereo-003"


@pytest.fixture
def con(warehouse):
    with connect_read_only(warehouse.path) as c:
        yield c


def test_overview_counts(con, warehouse) -> None:
    ov = queries.overview(con)
    assert ov["calls"] == 3
    assert ov["analyses"] == 3
    assert math.isclose(ov["audio_minutes"], 220.0 / 60.0)
    # broken-004 never landed; call-stereo-003 failed first and landed later.
    assert ov["failed_calls"] == 1
    last = ov["last_run"]
    assert last["run_id"] == warehouse.run_id
    assert last["status"] == "completed"
    assert (last["processed"], last["failed"], last["discovered"]) == (3, 1, 4)


def test_failure_after_success_counts_again(warehouse) -> None:
    # The same object fails again after it landed: that is an open failure again.
    Warehouse(warehouse.path).record_error(
        run_id=None,
        source_uri=f"s3://callscope-recordings/recordings/{RETRIED_ID}.wav",
        etag="etag-c",
        call_id=RETRIED_ID,
        stage="transcribe",
        error_type="TranscriptionError",
        reason="engine crashed",
        retryable=True,
    )
    with connect_read_only(warehouse.path) as con:
        assert queries.overview(con)["failed_calls"] == 2


def test_empty_warehouse(tmp_path) -> None:
    Warehouse(tmp_path / "w.duckdb").migrate()
    with connect_read_only(tmp_path / "w.duckdb") as con:
        ov = queries.overview(con)
        assert (ov["calls"], ov["analyses"], ov["failed_calls"]) == (0, 0, 0)
        assert ov["audio_minutes"] == 0.0
        assert ov["last_run"] is None
        assert queries.list_calls(con).empty
        assert queries.calls_per_day(con).empty
        assert queries.call_detail(con, "nope") is None


def test_calls_per_day(con) -> None:
    df = queries.calls_per_day(con)
    assert [str(d)[:10] for d in df["day"]] == ["2024-05-01", "2024-05-02"]
    assert df["calls"].tolist() == [2, 1]
    assert math.isclose(df["audio_minutes"].iloc[0], 155.0 / 60.0)


def test_list_calls_newest_first_with_current_analysis(con, warehouse) -> None:
    df = queries.list_calls(con)
    assert df["call_id"].tolist() == [MONO_ID, RETRIED_ID, STEREO_ID]
    expected = {
        "call_id",
        "started_at",
        "agent_id",
        "direction",
        "duration_s",
        "channels",
        "language",
        "engine",
        "model",
        "n_utterances",
        "snippet",
    }
    assert expected <= set(df.columns)
    row = df.set_index("call_id").loc[STEREO_ID]
    assert row["agent_id"] == "ag-7"
    assert row["channels"] == 2
    assert row["n_utterances"] == len(warehouse.STEREO_LINES)
    assert row["engine"] == "faster-whisper"
    assert row["model"] == "tiny.en"
    assert row["snippet"] == warehouse.STEREO_LINES[0][5]
    assert queries.list_calls(con, limit=1)["call_id"].tolist() == [MONO_ID]


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("router", [STEREO_ID]),  # transcript text, case-insensitive below
        ("ROUTER", [STEREO_ID]),
        ("invoice", [MONO_ID]),
        ("ag-7", [RETRIED_ID, STEREO_ID]),  # agent id
        ("mono", [MONO_ID]),  # call id
        ("no such words anywhere", []),
        ("%", []),  # LIKE wildcards are literal
        ("_", []),
        ("", [MONO_ID, RETRIED_ID, STEREO_ID]),
    ],
)
def test_list_calls_search(con, search: str, expected: list[str]) -> None:
    assert queries.list_calls(con, search=search)["call_id"].tolist() == expected


def test_call_detail_lineage(con, warehouse) -> None:
    d = queries.call_detail(con, STEREO_ID)
    assert d is not None
    assert d["call_id"] == STEREO_ID
    assert d["agent_id"] == "ag-7"
    assert d["direction"] == "inbound"
    assert d["channel_roles"] == ["agent", "customer"]
    assert d["engine"] == "faster-whisper"
    assert d["model"] == "tiny.en"
    assert d["pipeline_version"] == "0.1.0"
    assert d["diarization"] == "channels"
    assert d["language"] == "en"
    assert d["processing_s"] == 1.5
    assert d["params"] == {"beam_size": 5, "vad_filter": True}
    assert d["metadata"] == {"scenario": "test"}
    assert d["n_analyses"] == 1
    assert d["n_words"] == sum(len(line[5].split()) for line in warehouse.STEREO_LINES)
    assert queries.call_detail(con, "does-not-exist") is None


def test_call_utterances_in_time_order(con, warehouse) -> None:
    df = queries.call_utterances(con, STEREO_ID)
    assert df["text"].tolist() == [line[5] for line in warehouse.STEREO_LINES]
    assert df["role"].tolist() == ["agent", "customer", "agent", "customer"]
    assert df["start_s"].is_monotonic_increasing
    assert list(df.columns[:7]) == ["idx", "speaker", "role", "channel", "start_s", "end_s", "text"]
    assert math.isclose(df["confidence"].iloc[0], 0.9)
    mono = queries.call_utterances(con, MONO_ID)
    assert mono["speaker"].tolist() == ["unknown", "unknown"]
    assert mono["role"].isna().all()
    assert mono["text"].tolist() == [line[5] for line in warehouse.MONO_LINES]
    assert queries.call_utterances(con, "nope").empty


def test_talk_time_by_role(con) -> None:
    df = queries.talk_time_by_role(con, STEREO_ID).set_index("role")
    assert math.isclose(df.loc["customer", "talk_s"], 4.5 + 5.0)
    assert math.isclose(df.loc["agent", "talk_s"], 2.5 + 3.8)
    assert df.loc["agent", "utterances"] == 2
    assert math.isclose(df["share"].sum(), 1.0)
    assert df.index.tolist() == ["customer", "agent"]  # largest first
    mono = queries.talk_time_by_role(con, MONO_ID)
    assert mono["role"].tolist() == ["unknown"]
    assert math.isclose(mono["talk_s"].iloc[0], 3.0 + 4.5)


def test_recent_runs(con, warehouse) -> None:
    df = queries.recent_runs(con)
    assert df["run_id"].tolist() == [warehouse.run_id]
    assert df["status"].tolist() == ["completed"]
    assert math.isclose(df["audio_minutes"].iloc[0], 220.0 / 60.0)


def test_call_errors_newest_first_with_resolution(con, warehouse) -> None:
    df = queries.call_errors(con)
    assert df["stage"].tolist() == ["decode", "fetch"]
    assert df["source_uri"].iloc[0] == warehouse.BROKEN_URI
    assert df["reason"].iloc[0] == "invalid data found when decoding"
    assert df["resolved"].tolist() == [False, True]
    assert queries.call_errors(con, limit=1)["stage"].tolist() == ["decode"]
