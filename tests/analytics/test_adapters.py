"""Sidecar adapters, fed payloads shaped like each vendor's documented examples."""

from __future__ import annotations

from typing import Any

import pytest

from analytics.errors import MetadataError
from analytics.models import CallMetadata
from analytics.sources.adapters import (
    ADAPTERS,
    from_livekit_egress,
    from_retell_call,
    from_twilio_recording,
    from_vapi_report,
)

TWILIO_RECORDING = {  # GET /2010-04-01/Accounts/{AccountSid}/Recordings/{Sid}.json
    "account_sid": "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "api_version": "2010-04-01",
    "call_sid": "CAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "conference_sid": None,
    "channels": 2,
    "date_created": "Fri, 14 Oct 2016 21:56:34 +0000",
    "date_updated": "Fri, 14 Oct 2016 21:56:38 +0000",
    "start_time": "Fri, 14 Oct 2016 21:56:34 +0000",
    "price": "-0.0025",
    "price_unit": "USD",
    "duration": "4",
    "sid": "REaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "source": "DialVerb",
    "status": "completed",
    "error_code": None,
    "encryption_details": None,
    "track": "both",
    "uri": "/2010-04-01/Accounts/ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
    "/Recordings/REaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.json",
}

TWILIO_CALLBACK = {  # recordingStatusCallback form fields
    "AccountSid": "ACbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
    "CallSid": "CAbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
    "RecordingSid": "REbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
    "RecordingUrl": "https://api.twilio.com/2010-04-01/Accounts/ACbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb/Recordings/REbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
    "RecordingStatus": "completed",
    "RecordingDuration": "62",
    "RecordingChannels": "1",
    "RecordingStartTime": "Mon, 30 Nov 2026 10:00:00 +0000",
    "RecordingSource": "RecordVerb",
}

VAPI_REPORT = {
    "message": {
        "type": "end-of-call-report",
        "endedReason": "customer-ended-call",
        "call": {
            "id": "8d3c9f7e-1b2a-4c5d-9e8f-0a1b2c3d4e5f",
            "type": "inboundPhoneCall",
            "assistantId": "asst-123",
            "customer": {"number": "+14155550123"},
        },
        "startedAt": "2026-11-30T10:00:00.000Z",
        "endedAt": "2026-11-30T10:02:05.000Z",
        "cost": 0.1342,
        "artifact": {
            "recordingUrl": "https://storage.vapi.ai/8d3c-mono.wav",
            "stereoRecordingUrl": "https://storage.vapi.ai/8d3c-stereo.wav",
            "transcript": "AI: Hi, how can I help?\nUser: Where is my order?",
            "messages": [
                {
                    "role": "system",
                    "message": "You are a helpful agent.",
                    "time": 1,
                    "secondsFromStart": 0,
                },
                {
                    "role": "bot",
                    "message": "Hi, how can I help?",
                    "time": 1,
                    "endTime": 2,
                    "secondsFromStart": 0.5,
                    "duration": 1500,
                },
                {
                    "role": "user",
                    "message": "Where is my order?",
                    "time": 3,
                    "endTime": 4,
                    "secondsFromStart": 2.6,
                    "duration": 1400,
                },
            ],
        },
        "analysis": {"summary": "Customer asked about an order.", "successEvaluation": "true"},
    }
}

RETELL_WEBHOOK = {
    "event": "call_analyzed",
    "call": {
        "call_type": "phone_call",
        "from_number": "+12137771234",
        "to_number": "+12137771235",
        "direction": "inbound",
        "call_id": "Jabr9TXYYJHfvl6Syypi88rdAHYHmcq6",
        "agent_id": "oBeDLoLOeuAbiuaMFXRtDOLriTJ5tSxD",
        "call_status": "ended",
        "metadata": {"crm_id": "42"},
        "start_timestamp": 1703302407333,
        "end_timestamp": 1703302428855,
        "disconnection_reason": "user_hangup",
        "transcript": "Agent: hi how are you doing?\nUser: Doing pretty well.",
        "transcript_object": [
            {
                "role": "agent",
                "content": "hi how are you doing?",
                "words": [
                    {"word": "hi", "start": 0.7, "end": 1.3},
                    {"word": "doing?", "start": 1.9, "end": 2.4},
                ],
            },
            {
                "role": "user",
                "content": "Doing pretty well.",
                "words": [
                    {"word": "Doing", "start": 3.0, "end": 3.3},
                    {"word": "well.", "start": 3.6, "end": 4.0},
                ],
            },
        ],
        "recording_url": "https://retellai.s3.us-west-2.amazonaws.com/Jabr9-recording.wav",
        "recording_multi_channel_url": "https://retellai.s3.us-west-2.amazonaws.com/Jabr9-multi.wav",
        "latency": {
            "e2e": {
                "p50": 800,
                "p90": 1200,
                "p95": 1500,
                "p99": 2500,
                "max": 2700,
                "min": 500,
                "num": 10,
            }
        },
        "call_cost": {"combined_cost": 70, "total_duration_seconds": 21},
        "call_analysis": {
            "call_summary": "The agent greeted the user.",
            "user_sentiment": "Positive",
        },
    },
}

LIVEKIT_EGRESS = {  # egress_ended webhook
    "event": "egress_ended",
    "egressInfo": {
        "egress_id": "EG_hCxfKaLjtrzy",
        "room_id": "RM_kMqzVhzSG5AA",
        "room_name": "support-call-77",
        "status": "EGRESS_COMPLETE",
        "started_at": "1700000000000000000",
        "ended_at": "1700000093500000000",
        "room_composite": {
            "room_name": "support-call-77",
            "audio_only": True,
            "audio_mixing": "DUAL_CHANNEL_AGENT",
        },
        "file_results": [
            {
                "filename": "livekit/support-call-77.ogg",
                "started_at": "1700000000500000000",
                "ended_at": "1700000093500000000",
                "duration": "93000000000",
                "size": "1488000",
                "location": "https://bucket.s3.amazonaws.com/livekit/support-call-77.ogg",
            }
        ],
    },
}


def _meta(sidecar: dict[str, Any]) -> CallMetadata:
    return CallMetadata.from_sidecar(sidecar, "fallback")


def test_twilio_dual_channel_recording_resource() -> None:
    rec = from_twilio_recording(TWILIO_RECORDING)
    assert rec.audio_url == (
        "https://api.twilio.com/2010-04-01/Accounts/ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "/Recordings/REaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.wav"
    )
    meta = _meta(rec.sidecar)
    assert meta.call_id == "twilio-CAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
    assert meta.channel_roles == ("customer", "agent")
    assert (
        meta.started_at is not None and meta.started_at.isoformat() == "2016-10-14T21:56:34+00:00"
    )
    assert (
        rec.sidecar["duration_s"] == 4.0 and rec.sidecar["vendor"]["recording_source"] == "DialVerb"
    )
    outbound = from_twilio_recording(
        TWILIO_RECORDING, first_channel_role="agent", direction="outbound"
    )
    assert outbound.sidecar["channel_roles"] == ["agent", "customer"]


def test_twilio_status_callback_mono() -> None:
    rec = from_twilio_recording(TWILIO_CALLBACK, media_format="mp3")
    assert rec.audio_url is not None and rec.audio_url.endswith(
        "REbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.mp3"
    )
    assert rec.sidecar["channel_roles"] is None  # mono: diarization decides
    assert _meta(rec.sidecar).call_id == "twilio-CAbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"


def test_vapi_end_of_call_report_prefers_the_stereo_recording() -> None:
    rec = from_vapi_report(VAPI_REPORT)
    assert rec.audio_url == "https://storage.vapi.ai/8d3c-stereo.wav"
    meta = _meta(rec.sidecar)
    assert meta.call_id == "vapi-8d3c9f7e-1b2a-4c5d-9e8f-0a1b2c3d4e5f"
    assert meta.channel_roles == ("customer", "agent") and meta.direction == "inbound"
    assert rec.sidecar["end_reason"] == "customer-ended-call"
    assert rec.sidecar["vendor_transcript"] == [
        {"role": "agent", "start": 0.5, "end": 2.0, "text": "Hi, how can I help?"},
        {"role": "customer", "start": 2.6, "end": 4.0, "text": "Where is my order?"},
    ]
    assert rec.sidecar["summary"] == "Customer asked about an order."


def test_vapi_without_stereo_falls_back_to_mono() -> None:
    report = {
        "message": {**VAPI_REPORT["message"], "artifact": {"recordingUrl": "https://x/m.wav"}}
    }
    rec = from_vapi_report(report)
    assert rec.audio_url == "https://x/m.wav" and rec.sidecar["channel_roles"] is None


def test_retell_call_with_latency_and_multichannel_recording() -> None:
    rec = from_retell_call(RETELL_WEBHOOK)
    assert rec.audio_url is not None and rec.audio_url.endswith("Jabr9-multi.wav")
    meta = _meta(rec.sidecar)
    assert meta.call_id == "retell-Jabr9TXYYJHfvl6Syypi88rdAHYHmcq6"
    assert meta.started_at is not None and meta.started_at.year == 2023
    assert rec.sidecar["vendor_latency_ms"] == {"p50": 800, "p90": 1200, "p95": 1500, "max": 2700}
    assert rec.sidecar["spend_usd"] == 0.7
    assert rec.sidecar["end_reason"] == "user_hangup"
    assert [t["role"] for t in rec.sidecar["vendor_transcript"]] == ["agent", "customer"]
    assert rec.sidecar["vendor_transcript"][1]["start"] == 3.0


def test_livekit_dual_channel_agent_egress() -> None:
    rec = from_livekit_egress(LIVEKIT_EGRESS)
    assert rec.audio_url == "https://bucket.s3.amazonaws.com/livekit/support-call-77.ogg"
    meta = _meta(rec.sidecar)
    assert meta.channel_roles == ("agent", "customer")  # agent on the left channel
    assert meta.call_id == "livekit-support-call-77-EG_hCxfKaLjtrzy"
    assert rec.sidecar["duration_s"] == 93.0
    assert rec.sidecar["started_at"].startswith("2023-11-14T22:13:20.5")


@pytest.mark.parametrize(
    ("name", "payload", "match"),
    [
        ("twilio", {"sid": "RE1"}, "call_sid"),
        ("vapi", {"message": {"type": "status-update"}}, "end-of-call-report"),
        ("retell", {"event": "call_started", "call": {}}, "call_id"),
        (
            "livekit",
            {"egressInfo": {"egress_id": "EG1", "status": "EGRESS_FAILED"}},
            "EGRESS_FAILED",
        ),
    ],
)
def test_wrong_payloads_say_what_is_missing(name: str, payload: dict[str, Any], match: str) -> None:
    with pytest.raises(MetadataError, match=match):
        ADAPTERS[name](payload)
