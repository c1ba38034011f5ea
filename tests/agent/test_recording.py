from __future__ import annotations

from datetime import UTC, datetime

import pytest

from agent import AGENT_VERSION
from agent.recording import CallRecord, hash_number, recording_key
from analytics.models import CallMetadata


def _record() -> CallRecord:
    rec = CallRecord(call_id="agent-CA1", from_number="+1 555 0100", to_number="+15550199")
    for t, kind, extra in [
        (0.0, "agent_start", {}),
        (3.0, "agent_stop", {}),
        (4.0, "caller_start", {}),
        (6.0, "caller_stop", {}),
        (6.7, "agent_start", {}),
        (8.0, "caller_start", {}),
        (8.2, "barge_in", {"caller_onset_s": 8.0}),
        (8.3, "agent_stop", {}),
        (9.0, "caller_stop", {}),
        (10.2, "agent_start", {}),
        (11.0, "tool_call", {"name": "lookup_order", "duration_ms": 900}),
    ]:
        rec.add(kind, t=t, **extra)
    return rec


def test_turn_latency_runs_from_caller_stop_to_first_agent_audio() -> None:
    turns = _record().turns()
    assert [t["latency_ms"] for t in turns] == [700, 1200]
    assert turns[0]["caller_stop_s"] == 6.0


def test_summary_counts_barge_ins_tools_and_keeps_first_end_reason() -> None:
    rec = _record()
    rec.end("duration_cap")
    rec.end("caller_hangup")
    summary = rec.summary()
    assert summary["barge_ins"] == 1
    assert summary["tool_calls"] == 1 and summary["tool_ms"] == 900
    assert summary["end_reason"] == "duration_cap"
    assert summary["latency_p50_ms"] == 950
    with pytest.raises(ValueError, match="end reason"):
        rec.end("because")


def test_sidecar_follows_the_recording_contract() -> None:
    rec = _record()
    side = rec.sidecar(duration_s=12.5, hash_salt="pepper")
    meta = CallMetadata.from_sidecar(side, "fallback")
    assert meta.call_id == "agent-CA1"
    assert meta.channel_roles == ("customer", "agent")
    assert meta.direction == "inbound"
    assert side["agent_version"] == AGENT_VERSION
    assert side["from"] == hash_number("+15550100", "pepper") != "+1 555 0100"
    assert side["numbers_hashed"] is True
    assert side["consent"] == "none"
    assert side["agent_metrics"]["turns"] == 2
    plain = rec.sidecar(duration_s=1, hash_salt=None, hash_numbers=False)
    assert plain["from"] == "+1 555 0100"


def test_hash_is_stable_and_salted() -> None:
    assert hash_number("+1 (555) 0100", "a") == hash_number("+15550100", "a")
    assert hash_number("+15550100", "a") != hash_number("+15550100", "b")
    assert hash_number(None, "a") is None


def test_recording_key_is_date_partitioned() -> None:
    when = datetime(2026, 3, 9, 23, 30, tzinfo=UTC)
    assert recording_key("recordings/", "agent", when, "c1") == "recordings/agent/2026/03/09/c1"
    assert recording_key("", "agent", when, "c1") == "agent/2026/03/09/c1"


def test_turns_break_the_latency_down_by_stage() -> None:
    rec = _record()
    for t, stage in [(6.2, "vad"), (6.35, "stt"), (6.4, "turn"), (6.41, "brain"), (6.6, "tts")]:
        rec.mark(stage, t=t)
    rec.mark("tts", t=6.65)  # a later chunk of the same reply: the first one counts
    first, second = rec.turns()
    assert first["stages_ms"] == {
        "vad": 200,
        "stt": 150,
        "turn": 50,
        "brain": 10,
        "tts": 190,
        "transport": 100,
    }
    assert sum(first["stages_ms"].values()) == first["latency_ms"]
    assert second["stages_ms"] == {"transport": 1200}  # no marks: all of it unexplained
