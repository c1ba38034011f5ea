"""Vapi ``end-of-call-report`` server message -> callscope sidecar.

Uses the stereo recording when there is one (customer and assistant on separate channels;
``stereo_roles`` says which is which, customer first by default), else the mono one.
"""

from __future__ import annotations

from typing import Any

from analytics.errors import MetadataError
from analytics.sources.adapters.base import AdaptedRecording, transcript_turns

_ROLE = {"user": "customer", "bot": "agent", "assistant": "agent"}


def from_vapi_report(
    payload: dict[str, Any], *, stereo_roles: tuple[str, str] = ("customer", "agent")
) -> AdaptedRecording:
    msg = payload.get("message", payload)
    if msg.get("type") != "end-of-call-report":
        raise MetadataError(f"Vapi message type {msg.get('type')!r}; expected 'end-of-call-report'")
    call = msg.get("call") or {}
    if not call.get("id"):
        raise MetadataError("Vapi end-of-call-report has no call.id")
    artifact = msg.get("artifact") or {}
    recording = artifact.get("recording") or {}
    stereo = (
        recording.get("stereoUrl")
        or artifact.get("stereoRecordingUrl")
        or msg.get("stereoRecordingUrl")
    )
    mono = (
        (recording.get("mono") or {}).get("combinedUrl")
        or artifact.get("recordingUrl")
        or msg.get("recordingUrl")
    )
    messages = artifact.get("messages") or msg.get("messages") or []
    turns = transcript_turns(
        [
            (
                _ROLE[m["role"]],
                float(m.get("secondsFromStart") or 0.0),
                (float(m["secondsFromStart"]) + float(m["duration"]) / 1000)
                if m.get("duration") is not None and m.get("secondsFromStart") is not None
                else None,
                str(m.get("message") or ""),
            )
            for m in messages
            if m.get("role") in _ROLE
        ]
    )
    kind = str(call.get("type") or "")
    sidecar = {
        "call_id": f"vapi-{call['id']}",
        "started_at": msg.get("startedAt") or call.get("startedAt"),
        "ended_at": msg.get("endedAt") or call.get("endedAt"),
        "direction": "outbound" if kind.startswith("outbound") else "inbound",
        "agent_id": call.get("assistantId"),
        "channel_roles": list(stereo_roles) if stereo else None,
        "source": "vapi",
        "end_reason": msg.get("endedReason"),
        "spend_usd": msg.get("cost"),
        "summary": (msg.get("analysis") or {}).get("summary") or msg.get("summary"),
        "vendor_transcript": turns,
        "vendor": {"call_type": kind, "customer": (call.get("customer") or {}).get("number")},
    }
    return AdaptedRecording(stereo or mono, sidecar)
