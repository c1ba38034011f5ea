"""LiveKit Egress ``EgressInfo`` (``egress_ended`` webhook or ListEgress) -> sidecar.

A room-composite egress with ``audio_mixing: DUAL_CHANNEL_AGENT`` records the agent on the
left channel and everyone else on the right; other mixings are mono for our purposes.
"""

from __future__ import annotations

from typing import Any

from analytics.errors import MetadataError
from analytics.sources.adapters.base import AdaptedRecording, iso_from_epoch

_NS = 1e9


def from_livekit_egress(payload: dict[str, Any], *, direction: str = "inbound") -> AdaptedRecording:
    info = payload.get("egressInfo") or payload.get("egress_info") or payload
    egress_id = info.get("egress_id") or info.get("egressId")
    if not egress_id:
        raise MetadataError("LiveKit payload has no egress_id; expected an EgressInfo")
    status = info.get("status")
    if status not in (None, "EGRESS_COMPLETE", 3):
        raise MetadataError(f"LiveKit egress {egress_id} is {status}, not EGRESS_COMPLETE")
    files = info.get("file_results") or info.get("fileResults") or []
    if not files and info.get("file"):
        files = [info["file"]]
    if not files:
        raise MetadataError(f"LiveKit egress {egress_id} has no file results")
    first = files[0]
    composite = info.get("room_composite") or info.get("roomComposite") or {}
    mixing = composite.get("audio_mixing") or composite.get("audioMixing")
    duration = first.get("duration")
    sidecar = {
        "call_id": f"livekit-{info.get('room_name') or info.get('roomName')}-{egress_id}",
        "started_at": iso_from_epoch(_ns(first, info, "started_at"), _NS),
        "ended_at": iso_from_epoch(_ns(first, info, "ended_at"), _NS),
        "duration_s": None if duration is None else round(_int(duration) / _NS, 3),
        "direction": direction,
        "channel_roles": ["agent", "customer"] if mixing in ("DUAL_CHANNEL_AGENT", 1) else None,
        "source": "livekit",
        "vendor": {
            "egress_id": egress_id,
            "room_name": info.get("room_name") or info.get("roomName"),
            "room_id": info.get("room_id") or info.get("roomId"),
            "audio_mixing": mixing,
            "filename": first.get("filename"),
        },
    }
    return AdaptedRecording(first.get("location"), sidecar)


def _int(value: Any) -> int:
    return int(value) if value not in (None, "") else 0


def _ns(first: dict[str, Any], info: dict[str, Any], key: str) -> int | None:
    """Nanosecond timestamps arrive as int64 (protobuf JSON: strings)."""
    value = first.get(key) or info.get(key)
    return int(value) if value not in (None, "", 0, "0") else None
