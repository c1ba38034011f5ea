"""Retell ``call_ended`` / ``call_analyzed`` webhook (or GET /v2/get-call) -> sidecar.

Retell reports its own end-to-end latency per call (``latency.e2e``); it is kept as the
agent's latency so the nightly flow can cross-check it against the audio.
"""

from __future__ import annotations

from typing import Any

from analytics.errors import MetadataError
from analytics.sources.adapters.base import AdaptedRecording, iso_from_epoch, transcript_turns

_ROLE = {"user": "customer", "agent": "agent"}


def from_retell_call(
    payload: dict[str, Any], *, multichannel_roles: tuple[str, str] = ("customer", "agent")
) -> AdaptedRecording:
    call = payload.get("call", payload)
    if not call.get("call_id"):
        raise MetadataError("Retell payload has no call.call_id")
    multi = call.get("recording_multi_channel_url")
    turns = []
    for utt in call.get("transcript_object") or []:
        words = utt.get("words") or []
        start = float(words[0]["start"]) if words else 0.0
        end = float(words[-1]["end"]) if words else None
        turns.append((_ROLE.get(utt.get("role"), "customer"), start, end, utt.get("content")))
    e2e = (call.get("latency") or {}).get("e2e") or {}
    cost = (call.get("call_cost") or {}).get("combined_cost")  # cents
    sidecar = {
        "call_id": f"retell-{call['call_id']}",
        "started_at": iso_from_epoch(call.get("start_timestamp"), 1000),
        "ended_at": iso_from_epoch(call.get("end_timestamp"), 1000),
        "direction": call.get("direction") or "inbound",
        "agent_id": call.get("agent_id"),
        "from": call.get("from_number"),
        "to": call.get("to_number"),
        "channel_roles": list(multichannel_roles) if multi else None,
        "source": "retell",
        "end_reason": call.get("disconnection_reason"),
        "spend_usd": None if cost is None else round(float(cost) / 100, 4),
        "vendor_latency_ms": {k: e2e.get(k) for k in ("p50", "p90", "p95", "max") if k in e2e},
        "vendor_transcript": transcript_turns(turns),
        "summary": (call.get("call_analysis") or {}).get("call_summary"),
        "metadata": call.get("metadata") or {},
    }
    return AdaptedRecording(multi or call.get("recording_url"), sidecar)
