"""Hand-made CallResults for tests that need landed calls without running a model."""

from __future__ import annotations

from typing import Any

from analytics.models import CallMetadata, CallResult, Utterance


def call_result(
    utterances: tuple[Utterance, ...] = (),
    *,
    call_id: str = "c1",
    etag: str | None = "e1",
    duration_s: float | None = None,
    channel_roles: tuple[str, ...] | None = ("customer", "agent"),
    metadata: CallMetadata | None = None,
    **fields: Any,
) -> CallResult:
    """A stereo faster-whisper tiny.en result; ``fields`` override any other field."""
    values: dict[str, Any] = dict(
        call_id=call_id,
        source_uri=f"s3://b/{call_id}.wav",
        etag=etag,
        duration_s=duration_s
        if duration_s is not None
        else max((u.end for u in utterances), default=30.0),
        channels=2 if channel_roles else 1,
        sample_rate=8000,
        language="en",
        language_prob=1.0,
        engine="faster-whisper",
        model="tiny.en",
        pipeline_version="1",
        params={},
        metadata=metadata or CallMetadata(call_id, channel_roles=channel_roles),
        utterances=utterances,
        diarization="channels" if channel_roles else "none",
    )
    values.update(fields)
    return CallResult(**values)
