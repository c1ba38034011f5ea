"""The common result of the sidecar adapters."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from analytics.errors import MetadataError


@dataclass(frozen=True)
class AdaptedRecording:
    """Where the vendor's audio is, and the callscope sidecar to store next to it."""

    audio_url: str | None
    sidecar: dict[str, Any]

    @property
    def call_id(self) -> str:
        return str(self.sidecar["call_id"])


def need(payload: dict[str, Any], key: str, vendor: str) -> Any:
    value = payload.get(key)
    if value in (None, ""):
        raise MetadataError(f"{vendor} payload has no {key!r}; is this the right adapter?")
    return value


def iso_from_epoch(value: float | int | None, per_second: float = 1.0) -> str | None:
    if value is None:
        return None
    return datetime.fromtimestamp(float(value) / per_second, tz=UTC).isoformat()


def transcript_turns(rows: list[tuple[str, float, float | None, str]]) -> list[dict[str, Any]]:
    """(role, start s, end s, text) -> the sidecar's ``vendor_transcript`` rows."""
    return [
        {
            "role": role,
            "start": round(start, 3),
            "end": None if end is None else round(end, 3),
            "text": text,
        }
        for role, start, end, text in rows
        if text
    ]
