from __future__ import annotations

import json
from datetime import datetime

import pytest

from analytics.errors import MetadataError
from analytics.models import CallMetadata, CallResult, Utterance, Word


def test_sidecar_fields_are_parsed_and_extra_kept() -> None:
    md = CallMetadata.from_sidecar(
        {
            "call_id": "c1",
            "started_at": "2026-11-20T09:14:03Z",
            "agent_id": "agent-ana",
            "direction": "inbound",
            "channel_roles": ["customer", "agent"],
            "crm_ticket": "T-9",
        },
        default_call_id="fallback",
    )
    assert md.call_id == "c1"
    assert md.started_at == datetime.fromisoformat("2026-11-20T09:14:03+00:00")
    assert md.channel_roles == ("customer", "agent")
    assert md.extra == {"crm_ticket": "T-9"}


def test_missing_call_id_falls_back_to_file_stem() -> None:
    assert CallMetadata.from_sidecar({}, default_call_id="stem").call_id == "stem"


@pytest.mark.parametrize(
    ("sidecar", "message"),
    [
        ({"started_at": "last tuesday"}, "ISO-8601"),
        ({"channel_roles": ["customer", "boss"]}, "channel_roles"),
        ({"channel_roles": "agent"}, "channel_roles"),
    ],
)
def test_invalid_sidecar_fields_name_the_field(sidecar: dict, message: str) -> None:
    with pytest.raises(MetadataError, match=message):
        CallMetadata.from_sidecar(sidecar, default_call_id="x")


def test_call_result_round_trips_through_json() -> None:
    words = (Word("Hello", 0.5, 0.9, 0.98), Word("there.", 0.95, 1.3, 0.91))
    result = CallResult(
        call_id="c1",
        source_uri="s3://b/c1.wav",
        etag="abc",
        duration_s=12.5,
        channels=2,
        sample_rate=8000,
        language="en",
        language_prob=1.0,
        engine="faster-whisper",
        model="tiny.en",
        pipeline_version="1",
        params={"beam_size": 5},
        metadata=CallMetadata("c1", channel_roles=("customer", "agent")),
        utterances=(Utterance("ch1", "agent", 0.5, 1.3, "Hello there.", words, channel=1),),
        diarization="channels",
    )
    data = json.loads(result.to_json())
    assert data["utterances"][0]["words"][1] == {
        "word": "there.",
        "start": 0.95,
        "end": 1.3,
        "prob": 0.91,
    }
    assert CallResult.from_dict(data) == result
    assert result.utterances[0].confidence == pytest.approx(0.945)
