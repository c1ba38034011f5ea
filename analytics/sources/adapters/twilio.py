"""Twilio Recording resource (REST ``/Recordings/{Sid}.json`` or a recording status
callback) -> callscope sidecar.

Dual-channel recordings (``channels: 2``, e.g. ``<Dial record="record-from-answer-dual">``)
hold the parent call leg in the first channel and the child leg in the second; for an
inbound call to your number that is the caller first, then the agent you dialled.
"""

from __future__ import annotations

from email.utils import parsedate_to_datetime
from typing import Any

from analytics.errors import MetadataError
from analytics.sources.adapters.base import AdaptedRecording

API_ROOT = "https://api.twilio.com"


def _started(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return parsedate_to_datetime(value).isoformat()  # Twilio uses RFC 2822 dates
    except (TypeError, ValueError) as exc:
        raise MetadataError(f"Twilio start_time {value!r} is not an RFC 2822 date") from exc


def from_twilio_recording(
    payload: dict[str, Any],
    *,
    direction: str = "inbound",
    first_channel_role: str = "customer",
    media_format: str = "wav",
) -> AdaptedRecording:
    """``first_channel_role``: who is on the parent leg (``customer`` for inbound calls to
    a number that dials an agent, ``agent`` for outbound dialer calls)."""
    # resource fields (snake_case) or status-callback fields (RecordingSid, CallSid...)
    sid = payload.get("sid") or payload.get("RecordingSid")
    call_sid = payload.get("call_sid") or payload.get("CallSid")
    if not sid or not call_sid:
        raise MetadataError("Twilio recording needs sid/RecordingSid and call_sid/CallSid")
    channels = int(payload.get("channels") or payload.get("RecordingChannels") or 1)
    duration = payload.get("duration") or payload.get("RecordingDuration")
    other = "agent" if first_channel_role == "customer" else "customer"
    if payload.get("RecordingUrl"):
        url = f"{payload['RecordingUrl']}.{media_format}"
    elif payload.get("uri"):
        url = API_ROOT + str(payload["uri"]).removesuffix(".json") + f".{media_format}"
    else:
        url = None
    sidecar = {
        "call_id": f"twilio-{call_sid}",
        "started_at": _started(payload.get("start_time") or payload.get("RecordingStartTime")),
        "direction": direction,
        "duration_s": None if duration in (None, "") else float(duration),
        "channel_roles": [first_channel_role, other] if channels == 2 else None,
        "source": "twilio",
        "vendor": {
            "recording_sid": sid,
            "call_sid": call_sid,
            "account_sid": payload.get("account_sid") or payload.get("AccountSid"),
            "recording_source": payload.get("source") or payload.get("RecordingSource"),
            "status": payload.get("status") or payload.get("RecordingStatus"),
            "price": payload.get("price"),
            "price_unit": payload.get("price_unit"),
        },
    }
    return AdaptedRecording(url, sidecar)
