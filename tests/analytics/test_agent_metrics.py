"""Agent-side metrics from a voice-agent sidecar, landed with the call and cross-checked
against the latency the transcript shows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from analytics.agent_metrics import agent_metrics, audio_latencies, percentile
from analytics.errors import MetadataError
from analytics.landing import Processed, land_processed
from analytics.models import CallMetadata, Utterance
from analytics.warehouse import Warehouse, connect_read_only
from analytics.warehouse.agent import call_agent_events, call_agent_metrics
from tests.factories import call_result

EVENTS = [
    {"t": 0.0, "type": "consent", "text": "This call is recorded."},
    {"t": 0.4, "type": "agent_start"},
    {"t": 4.0, "type": "agent_stop"},
    {"t": 5.0, "type": "caller_start"},
    {"t": 7.0, "type": "caller_stop"},
    {"t": 7.2, "type": "tool_call", "name": "lookup_order", "duration_ms": 850, "found": True},
    {"t": 7.9, "type": "filler", "after_ms": 700},
    {"t": 8.1, "type": "agent_start"},
    {"t": 9.0, "type": "caller_start"},
    {"t": 9.2, "type": "barge_in", "caller_onset_s": 9.0},
    {"t": 9.3, "type": "agent_stop"},
    {"t": 10.0, "type": "caller_stop"},
    {"t": 10.6, "type": "agent_start"},
    {"t": 14.0, "type": "end", "reason": "agent_hangup"},
]


def _utt(role: str, start: float, end: float) -> Utterance:
    return Utterance(role, role, start, end, "x", (), channel=0 if role == "customer" else 1)


UTTERANCES = (
    _utt("agent", 0.45, 4.0),
    _utt("customer", 5.0, 7.0),
    _utt("agent", 8.2, 9.3),
    _utt("customer", 9.0, 10.0),
    _utt("agent", 10.7, 13.0),
)


def _extra(**over: Any) -> dict[str, Any]:
    return {
        "agent_version": "callscope-agent/0.1.0",
        "brain": "script",
        "end_reason": "agent_hangup",
        "consent": {"message": "This call is recorded.", "played": True},
        "spend_usd": 0.005,
        "events": EVENTS,
        **over,
    }


def test_metrics_from_events_and_audio() -> None:
    m = agent_metrics(_extra(), UTTERANCES)
    assert m is not None
    assert (m.turns, m.latency_p50_ms, m.latency_p95_ms) == (2, 850, 1075)
    assert (m.barge_ins, m.tool_calls, m.tool_ms, m.fillers) == (1, 1, 850, 1)
    assert m.end_reason == "agent_hangup" and m.consent is True
    # the transcript: 7.0 -> 8.2 and 10.0 -> 10.7 (the barge-in overlap is not a turn)
    assert audio_latencies(UTTERANCES) == [1200, 700]
    assert m.audio_turns == 2 and m.audio_latency_p50_ms == 950


def test_no_events_means_no_agent_metrics() -> None:
    assert agent_metrics({"scenario": "billing"}, UTTERANCES) is None
    assert percentile([], 50) is None


@pytest.mark.parametrize(
    ("events", "match"),
    [
        ("nope", "must be a list"),
        ([{"type": "agent_start"}], "numeric 't'"),
        ([{"t": 1, "type": "dance"}], "expected one of"),
    ],
)
def test_bad_events_name_the_problem(events: Any, match: str) -> None:
    with pytest.raises(MetadataError, match=match):
        agent_metrics({"events": events}, ())


def test_agent_metrics_land_with_the_call_and_relanding_is_idempotent(tmp_path: Path) -> None:
    wh = Warehouse(tmp_path / "wh.duckdb")
    wh.migrate()
    meta = CallMetadata("agent-CA1", channel_roles=("customer", "agent"), extra=_extra())
    result = call_result(UTTERANCES, call_id="agent-CA1", metadata=meta)
    first = land_processed(wh, Processed(result), run_id=None, ruleset=None, redact_pii=True)
    again = land_processed(wh, Processed(result), run_id=None, ruleset=None, redact_pii=True)
    assert first is not None and again is None
    with connect_read_only(wh.path) as con:
        row = call_agent_metrics(con, "agent-CA1")
        events = call_agent_events(con, "agent-CA1")
        n = con.execute("SELECT count(*) FROM agent_call_metrics").fetchone()
    assert row is not None and row["latency_p50_ms"] == 850 and row["barge_ins"] == 1
    assert row["audio_latency_p50_ms"] == 950 and row["end_reason"] == "agent_hangup"
    assert [e["type"] for e in events][:3] == ["consent", "agent_start", "agent_stop"]
    assert events[5]["name"] == "lookup_order"
    assert n == (1,)
    with connect_read_only(wh.path) as con:
        assert call_agent_metrics(con, "other") is None


def test_a_call_without_agent_events_lands_no_agent_rows(tmp_path: Path) -> None:
    wh = Warehouse(tmp_path / "wh.duckdb")
    wh.migrate()
    land_processed(
        wh, Processed(call_result(UTTERANCES)), run_id=None, ruleset=None, redact_pii=True
    )
    with connect_read_only(wh.path) as con:
        assert con.execute("SELECT count(*) FROM agent_events").fetchone() == (0,)
