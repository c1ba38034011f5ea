"""The dashboard's read queries against a small warehouse landed by the real code."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime

import duckdb
import pandas as pd
import pytest

from analytics.enrich.redact import redact
from analytics.enrich.sentiment import score_text
from analytics.landing import Processed, land_processed
from analytics.warehouse import Warehouse, connect_read_only, queries
from analytics.warehouse.migrations import MIGRATIONS
from tests.dashboard.conftest import DemoWarehouse, make_result

# Fixed by tests/dashboard/conftest.py (DemoWarehouse); repeated here for readability.
STEREO_ID = "call-stereo-001"
MONO_ID = "call-mono-002"
RETRIED_ID = "call-stereo-003"
DIARIZED_ID = "call-diarized-005"
ALL_NEWEST_FIRST = [MONO_ID, DIARIZED_ID, RETRIED_ID, STEREO_ID]
OUTCOMES = {
    STEREO_ID: "resolved",  # offline rules: "it works now"
    MONO_ID: "unresolved",  # offline rules: an issue raised, no resolution signal
    DIARIZED_ID: "escalated",  # offline rules: "manager", "supervisor"
    RETRIED_ID: "callback",  # the later LLM run wins over the offline one
}
CATEGORIES = {
    STEREO_ID: ["long_silence"],
    MONO_ID: ["long_silence", "unresolved_outcome"],
    DIARIZED_ID: ["escalation_request"],
    RETRIED_ID: ["agent_no_greeting", "refund_discussed"],
}


@pytest.fixture
def con(warehouse):
    with connect_read_only(warehouse.path) as c:
        yield c


def test_overview_counts(con, warehouse) -> None:
    ov = queries.overview(con)
    assert ov["calls"] == 4
    assert ov["analyses"] == 4
    assert math.isclose(ov["audio_minutes"], warehouse.audio_s / 60.0)
    # broken-004 never landed; call-stereo-003 failed first and landed later.
    assert ov["failed_calls"] == 1
    last = ov["last_run"]
    assert last["run_id"] == warehouse.run_id
    assert last["status"] == "completed"
    assert (last["processed"], last["failed"], last["discovered"]) == (4, 1, 5)


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
        assert queries.list_calls(con, category="long_silence", outcome="resolved").empty
        assert queries.filter_options(con) == {"categories": [], "outcomes": []}
        assert queries.outcome_distribution(con).empty
        assert queries.calls_per_category(con).empty
        cost = queries.cost_summary(con)
        assert cost["total_usd"] == 0.0
        assert (cost["tokens_in"], cost["tokens_out"], cost["llm_calls"]) == (0, 0, 0)
        assert queries.speaker_metrics(con, "nope").empty
        assert queries.conversation_metrics(con, "nope") is None
        assert queries.call_silences(con, "nope").empty
        assert queries.call_interruptions(con, "nope").empty
        assert queries.customer_sentiment_by_quarter(con, "nope").empty
        assert queries.call_categories(con, "nope").empty
        assert queries.call_insights(con, "nope") == []


def test_calls_per_day(con) -> None:
    df = queries.calls_per_day(con)
    assert [str(d)[:10] for d in df["day"]] == ["2024-05-01", "2024-05-02"]
    assert df["calls"].tolist() == [2, 2]
    assert math.isclose(df["audio_minutes"].iloc[0], 155.0 / 60.0)


def test_list_calls_newest_first_with_current_analysis(con, warehouse) -> None:
    df = queries.list_calls(con)
    assert df["call_id"].tolist() == ALL_NEWEST_FIRST
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
        "outcome",
        "categories",
        "snippet",
    }
    assert expected <= set(df.columns)
    row = df.set_index("call_id").loc[STEREO_ID]
    assert row["agent_id"] == "ag-7"
    assert row["channels"] == 2
    assert row["n_utterances"] == len(warehouse.STEREO_LINES)
    assert row["engine"] == "faster-whisper"
    assert row["model"] == "tiny.en"
    assert row["snippet"] == redact(warehouse.STEREO_LINES[0][5]).text  # "this is [NAME]."
    assert queries.list_calls(con, limit=1)["call_id"].tolist() == [MONO_ID]


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("router", [STEREO_ID]),  # transcript text, case-insensitive below
        ("ROUTER", [STEREO_ID]),
        ("invoice", [MONO_ID]),
        ("ag-7", [RETRIED_ID, STEREO_ID]),  # agent id
        ("mono", [MONO_ID]),  # call id
        ("manager", [DIARIZED_ID]),
        ("no such words anywhere", []),
        ("%", []),  # LIKE wildcards are literal
        ("_", []),
        ("", ALL_NEWEST_FIRST),
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
    # landing adds whether text was redacted: it changes what lands, so it is lineage
    assert d["params"] == {"beam_size": 5, "vad_filter": True, "redact_pii": True}
    assert d["lineage"] == {"model_sha256": "0f3c9d"}
    assert d["billed_minutes"] == round(125.0 / 60, 4)
    assert d["cost_usd"] == 0.0
    assert d["engine_job_id"] is None
    assert d["metadata"] == {"scenario": "test"}
    assert d["n_analyses"] == 1
    assert d["n_words"] == sum(len(line[5].split()) for line in warehouse.STEREO_LINES)
    assert queries.call_detail(con, "does-not-exist") is None


def test_call_utterances_in_time_order(con, warehouse) -> None:
    df = queries.call_utterances(con, STEREO_ID)
    assert df["text"].tolist() == [redact(line[5]).text for line in warehouse.STEREO_LINES]
    assert df["role"].tolist() == [line[1] for line in warehouse.STEREO_LINES]
    assert df["start_s"].is_monotonic_increasing
    assert list(df.columns[:7]) == ["idx", "speaker", "role", "channel", "start_s", "end_s", "text"]
    assert math.isclose(df["confidence"].iloc[0], 0.9)
    assert (df["role_confidence"] == 1.0).all()  # roles from the sidecar's channel_roles
    loud = df.groupby("role")["loudness_dbfs"].unique()
    assert loud["agent"].tolist() == [warehouse.AGENT_DBFS]
    assert loud["customer"].tolist() == [warehouse.CUSTOMER_DBFS]
    mono = queries.call_utterances(con, MONO_ID)
    assert mono["speaker"].tolist() == ["unknown", "unknown"]
    assert mono["role"].isna().all()
    assert mono["role_confidence"].isna().all()
    assert mono["text"].tolist() == [line[5] for line in warehouse.MONO_LINES]
    assert queries.call_utterances(con, "nope").empty


def test_talk_time_by_role(con) -> None:
    df = queries.talk_time_by_role(con, STEREO_ID).set_index("role")
    assert math.isclose(df.loc["customer", "talk_s"], 4.5 + 2.3 + 5.0)
    assert math.isclose(df.loc["agent", "talk_s"], 2.5 + 3.8 + 2.5 + 2.4)
    assert df.loc["agent", "utterances"] == 4
    assert math.isclose(df["share"].sum(), 1.0)
    assert df.index.tolist() == ["customer", "agent"]  # largest first
    mono = queries.talk_time_by_role(con, MONO_ID)
    assert mono["role"].tolist() == ["unknown"]
    assert math.isclose(mono["talk_s"].iloc[0], 3.0 + 4.5)


def test_recent_runs(con, warehouse) -> None:
    df = queries.recent_runs(con)
    assert df["run_id"].tolist() == [warehouse.run_id]
    assert df["status"].tolist() == ["completed"]
    assert math.isclose(df["audio_minutes"].iloc[0], warehouse.audio_s / 60.0)


def test_call_errors_newest_first_with_resolution(con, warehouse) -> None:
    df = queries.call_errors(con)
    assert df["stage"].tolist() == ["decode", "fetch"]
    assert df["source_uri"].iloc[0] == warehouse.BROKEN_URI
    assert df["reason"].iloc[0] == "invalid data found when decoding"
    assert df["resolved"].tolist() == [False, True]
    assert queries.call_errors(con, limit=1)["stage"].tolist() == ["decode"]


# --- outcome, categories and filters in the calls list -----------------------------------------
def test_list_calls_outcome_and_categories(con) -> None:
    df = queries.list_calls(con).set_index("call_id")
    assert df["outcome"].to_dict() == OUTCOMES
    assert df["categories"].to_dict() == CATEGORIES
    assert all(isinstance(c, list) for c in df["categories"])


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"category": "long_silence"}, [MONO_ID, STEREO_ID]),
        ({"category": "escalation_request"}, [DIARIZED_ID]),
        ({"outcome": "callback"}, [RETRIED_ID]),
        ({"outcome": "no_resolution_needed"}, []),  # only the older, non-primary row says so
        ({"category": "long_silence", "outcome": "resolved"}, [STEREO_ID]),
        ({"category": "long_silence", "search": "invoice"}, [MONO_ID]),
        ({"category": "refund_discussed", "search": "ag-7"}, [RETRIED_ID]),
        ({"category": "no_such_category"}, []),
        ({"category": None, "outcome": None}, ALL_NEWEST_FIRST),
    ],
)
def test_list_calls_filters(con, filters: dict, expected: list[str]) -> None:
    assert queries.list_calls(con, **filters)["call_id"].tolist() == expected


def test_filter_options(con) -> None:
    assert queries.filter_options(con) == {
        "categories": sorted({c for cats in CATEGORIES.values() for c in cats}),
        "outcomes": sorted(OUTCOMES.values()),
    }


# --- overview: outcomes, categories, cost ------------------------------------------------
def test_outcome_distribution(con) -> None:
    df = queries.outcome_distribution(con)
    assert sorted(df["outcome"]) == sorted(OUTCOMES.values())
    assert df["calls"].tolist() == [1, 1, 1, 1]
    assert math.isclose(df["share"].sum(), 1.0)


def test_outcome_distribution_counts_calls_without_insights(warehouse) -> None:
    # A call landed without an insights engine has no outcome: counted, as None, last.
    wh = Warehouse(warehouse.path)
    bare = make_result(
        "call-bare-006",
        lines=[("ch0", "agent", 0, 0.5, 3.0, "Hello, how can I help?")],
        duration_s=10.0,
        channels=2,
        started_at=datetime(2024, 5, 3, 8, 0, tzinfo=UTC),
        agent_id="ag-1",
        direction="inbound",
        etag="etag-e",
    )
    assert land_processed(wh, Processed(bare), run_id=None, ruleset=None, redact_pii=True)
    with connect_read_only(warehouse.path) as con:
        df = queries.outcome_distribution(con)
        assert pd.isna(df["outcome"].iloc[-1])
        assert df["calls"].iloc[-1] == 1
        assert math.isclose(df["share"].iloc[-1], 1 / 5)
        assert queries.list_calls(con, limit=1)["outcome"].isna().tolist() == [True]
        assert queries.list_calls(con, limit=1)["categories"].tolist() == [[]]


def test_calls_per_category(con) -> None:
    df = queries.calls_per_category(con)
    assert df["category"].iloc[0] == "long_silence"  # the only category of two calls
    counts = dict(zip(df["category"], df["calls"], strict=True))
    expected: dict[str, int] = {}
    for cats in CATEGORIES.values():
        for c in cats:
            expected[c] = expected.get(c, 0) + 1
    assert counts == expected
    assert math.isclose(df.set_index("category").loc["long_silence", "share"], 2 / 4)
    assert df["rule_versions"].tolist() == [["1"]] * len(df)  # config/categories.yaml


def test_cost_summary(con, warehouse) -> None:
    cost = queries.cost_summary(con)
    assert math.isclose(cost["transcription_usd"], warehouse.TRANSCRIPTION_USD)
    assert math.isclose(cost["llm_usd"], warehouse.LLM_USD)
    assert math.isclose(cost["total_usd"], warehouse.TRANSCRIPTION_USD + warehouse.LLM_USD)
    assert (cost["tokens_in"], cost["tokens_out"]) == warehouse.LLM_TOKENS
    assert cost["llm_calls"] == 1  # the offline engine spends no tokens
    minutes = [125.0, 65.0, 30.0, 48.0]
    assert math.isclose(cost["billed_minutes"], sum(round(m / 60, 4) for m in minutes))


# --- one call's conversation -------------------------------------------------------------
def test_speaker_metrics(con, warehouse) -> None:
    df = queries.speaker_metrics(con, STEREO_ID)
    assert df["role"].tolist() == ["customer", "agent"]  # most talk first
    s = df.set_index("role")
    customer = [line for line in warehouse.STEREO_LINES if line[1] == "customer"]
    words = sum(len(line[5].split()) for line in customer)
    assert s.loc["customer", "speaker"] == "ch1"
    assert s.loc["customer", "words"] == words
    assert math.isclose(s.loc["customer", "talk_s"], 11.8)
    assert math.isclose(s.loc["customer", "wpm"], round(words / (11.8 / 60), 2))
    assert math.isclose(s["talk_ratio"].sum(), 1.0, abs_tol=1e-3)
    assert math.isclose(s.loc["agent", "loudness_dbfs"], warehouse.AGENT_DBFS)
    assert math.isclose(s.loc["customer", "loudness_dbfs"], warehouse.CUSTOMER_DBFS)
    assert math.isclose(s.loc["customer", "longest_monologue_s"], 5.0)
    assert (s.loc["agent", "turns"], s.loc["customer", "turns"]) == (4, 3)
    # "Is it the modem?" and "Anything else?"
    assert (s.loc["agent", "questions"], s.loc["customer", "questions"]) == (1, 1)
    scores = [score_text(line[5]).score for line in customer]
    assert math.isclose(s.loc["customer", "sentiment_mean"], sum(scores) / 3, abs_tol=1e-4)
    mono = queries.speaker_metrics(con, MONO_ID)
    assert mono["speaker"].tolist() == ["unknown"]
    assert mono["role"].isna().all()


def test_conversation_metrics(con) -> None:
    m = queries.conversation_metrics(con, STEREO_ID)
    assert m is not None
    # speech 0.5-3.0, 3.4-7.9, 8.2-13.5 (agent and customer overlap), 62-64.5, 65-70, 70.6-73
    assert math.isclose(m["talk_s"], 2.5 + 4.5 + 5.3 + 2.5 + 5.0 + 2.4)
    assert math.isclose(m["non_talk_s"], 125.0 - m["talk_s"])
    assert (m["n_silences"], m["n_interruptions"], m["n_latency"]) == (2, 1, 3)
    assert math.isclose(m["overlap_s"], 0.8)
    # customer -> agent switches: 0.3 s, 48.5 s (over the hold), 0.6 s
    assert math.isclose(m["latency_median_s"], 0.6)
    assert math.isclose(m["latency_p90_s"], 0.6 + 0.8 * (48.5 - 0.6), abs_tol=1e-3)
    assert m["customer_trend_label"] == "improving"
    mono = queries.conversation_metrics(con, MONO_ID)
    assert mono is not None
    assert mono["latency_median_s"] is None  # nobody has a role: no agent responses
    assert mono["customer_trend_label"] is None
    assert queries.conversation_metrics(con, "nope") is None


def test_silences_and_interruptions(con) -> None:
    silences = queries.call_silences(con, STEREO_ID)
    assert silences[["start_s", "end_s", "duration_s"]].values.tolist() == [
        [13.5, 62.0, 48.5],  # the hold while the agent checks the line
        [73.0, 125.0, 52.0],  # after the call's last words
    ]
    assert silences["is_hold"].tolist() == [True, True]
    inter = queries.call_interruptions(con, STEREO_ID).iloc[0]
    assert (inter["start_s"], inter["end_s"], inter["overlap_s"]) == (11.2, 12.0, 0.8)
    assert (inter["interrupter"], inter["interrupted"]) == ("ch1", "ch0")
    assert (inter["interrupter_role"], inter["interrupted_role"]) == ("customer", "agent")
    assert queries.call_interruptions(con, MONO_ID).empty
    assert queries.call_silences(con, MONO_ID)["start_s"].tolist() == [9.5]


def test_customer_sentiment_by_quarter(con, warehouse) -> None:
    df = queries.customer_sentiment_by_quarter(con, STEREO_ID)
    assert df["quarter"].tolist() == [1, 2, 3, 4]
    assert df["start_s"].tolist() == [0.0, 31.25, 62.5, 93.75]
    assert df["end_s"].tolist() == [31.25, 62.5, 93.75, 125.0]
    # Q1: the complaint and the question; Q3: "Great, it works now."; Q2/Q4 silent
    q1 = [score_text(line[5]).score for line in warehouse.STEREO_LINES[1:4:2]]
    assert math.isclose(df["sentiment"].iloc[0], sum(q1) / 2, abs_tol=1e-4)
    assert math.isnan(df["sentiment"].iloc[1]) and math.isnan(df["sentiment"].iloc[3])
    assert math.isclose(df["sentiment"].iloc[2], score_text("Great, it works now.").score)
    assert df["sentiment"].iloc[2] > df["sentiment"].iloc[0]
    assert queries.customer_sentiment_by_quarter(con, MONO_ID).empty  # no customer role


def test_call_categories_with_evidence(con) -> None:
    stereo = queries.call_categories(con, STEREO_ID)
    assert stereo.to_dict("records") == [
        {
            "category": "long_silence",
            "rule_version": "1",
            "kind": "metric",
            "start_s": 73.0,  # the longest silence
            "end_s": 125.0,
            "detail": "max_silence_s = 52 (> 30)",
        }
    ]
    diarized = queries.call_categories(con, DIARIZED_ID).iloc[0]
    assert diarized["category"] == "escalation_request"
    assert (diarized["start_s"], diarized["end_s"]) == (11.0, 14.5)
    assert "speak to a manager" in diarized["detail"]
    retried = queries.call_categories(con, RETRIED_ID)
    assert retried["category"].tolist() == CATEGORIES[RETRIED_ID]


def test_call_insights_offline(con) -> None:
    (row,) = queries.call_insights(con, STEREO_ID)
    assert (row["engine"], row["model"], row["prompt_version"]) == (
        "offline",
        "rules-v1",
        "rules-v1",
    )
    assert row["engine"] == queries.OFFLINE_ENGINE
    assert row["native"] is False
    assert row["status"] == "ok"
    assert row["outcome"] == "resolved"
    assert (row["tokens_in"], row["tokens_out"], row["cost_usd"]) == (0, 0, 0.0)
    assert row["summary"].startswith("[extractive]")
    assert row["insights"]["agent_checklist"]["greeting"] is True
    assert row["insights"]["topics"] == ["technical support"]


def test_call_insights_llm_row_first(con, warehouse) -> None:
    llm, offline = queries.call_insights(con, RETRIED_ID)
    assert (llm["engine"], llm["model"]) == ("openai", warehouse.LLM_MODEL)
    assert llm["outcome"] == "callback"
    assert (llm["tokens_in"], llm["tokens_out"]) == warehouse.LLM_TOKENS
    assert math.isclose(llm["cost_usd"], warehouse.LLM_USD)
    assert llm["insights"]["action_items"] == warehouse.LLM_REPLY["action_items"]
    assert offline["engine"] == "offline"
    assert offline["outcome"] == "no_resolution_needed"
    assert llm["created_at"] > offline["created_at"]


def test_call_insights_native_last(con, warehouse) -> None:
    offline, native = queries.call_insights(con, DIARIZED_ID)
    assert offline["native"] is False and offline["outcome"] == "escalated"
    assert native["native"] is True
    assert (native["engine"], native["model"], native["prompt_version"]) == (
        "assemblyai",
        "universal",
        queries.NATIVE_PROMPT_VERSION,
    )
    assert native["summary"] == warehouse.DIARIZED_SUMMARY
    # sentence sentiment +1 / 0 / -1: one positive, two negative, three neutral
    assert native["customer_sentiment_label"] == "negative"
    assert math.isclose(native["customer_sentiment_score"], round(-1 / 6, 4))
    assert len(native["insights"]["sentiment"]) == len(warehouse.DIARIZED_TURNS)


def test_diarized_call_lineage_and_role_confidence(con, warehouse) -> None:
    d = queries.call_detail(con, DIARIZED_ID)
    assert d is not None
    assert (d["engine"], d["model"], d["diarization"]) == ("assemblyai", "universal", "engine")
    assert d["billed_minutes"] == 0.8
    assert math.isclose(d["cost_usd"], warehouse.TRANSCRIPTION_USD)
    assert d["engine_job_id"] == "aai-transcript-5f2c"
    assert d["lineage"]["api"] == "v2"
    assert d["params"]["diarization"] == {"diarizer": "engine", "roles": "heuristic"}
    utts = queries.call_utterances(con, DIARIZED_ID)
    assert utts["speaker"].tolist() == [t[0] for t in warehouse.DIARIZED_TURNS]
    assert utts["role"].tolist() == ["agent", "customer"] * 3  # the heuristic's guess
    # one confidence for the agent/customer pair: sure, but a guess (not the sidecar's 1.0)
    assert utts["role_confidence"].nunique() == 1
    assert 0.5 < utts["role_confidence"].iloc[0] < 1.0
    assert utts["loudness_dbfs"].notna().all()


def test_older_schema_raises_binder_error(tmp_path) -> None:
    # A warehouse from before migration 5 has no billed_minutes/cost: the dashboard tells
    # the user to migrate (dashboard.data.with_warehouse catches this error).
    path = tmp_path / "old.duckdb"
    with duckdb.connect(str(path)) as c:
        for m in MIGRATIONS[:4]:
            c.execute(m.sql)
    with connect_read_only(path) as con, pytest.raises(duckdb.BinderException):
        queries.cost_summary(con)


def test_filters_follow_the_current_analysis(warehouse) -> None:
    # Re-processing a call (new lineage) makes the new analysis current: its categories and
    # outcome replace the old ones in the list.
    wh = Warehouse(warehouse.path)
    result = make_result(
        STEREO_ID,
        lines=DemoWarehouse.STEREO_LINES[:3],
        duration_s=20.0,
        channels=2,
        started_at=datetime(2024, 5, 1, 9, 0, tzinfo=UTC),
        agent_id="ag-7",
        direction="inbound",
        etag="etag-a2",
    )
    result = replace(result, model="base.en")
    assert land_processed(wh, Processed(result), run_id=None, ruleset=None, redact_pii=True)
    with connect_read_only(warehouse.path) as con:
        assert queries.list_calls(con, category="long_silence")["call_id"].tolist() == [MONO_ID]
        row = queries.list_calls(con, search=STEREO_ID).iloc[0]
        assert pd.isna(row["outcome"]) and row["categories"] == []
        assert queries.call_detail(con, STEREO_ID)["n_analyses"] == 2
        assert queries.call_insights(con, STEREO_ID) == []
