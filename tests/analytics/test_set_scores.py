"""Pooled set scores: the 2-party subset the issue's targets are stated for."""

from __future__ import annotations

import pytest

from analytics.evaluation import DiarizationScore, RoleAttribution
from analytics.set_scores import COLLARS, CallDiarization, SetDiarization


def _call(call_id: str, ref: int, hyp: int, ref_s: float, missed_s: float) -> CallDiarization:
    der = DiarizationScore(ref_s, missed_s, 0.0, 0.0)
    return CallDiarization(
        call_id=call_id,
        audio_s=60.0,
        processing_s=6.0,
        reference_speakers=ref,
        hypothesis_speakers=hyp,
        der=dict.fromkeys(COLLARS, der),
        roles=RoleAttribution(ref_s, ref_s - missed_s, 0.0, missed_s),
    )


def test_with_speakers_pools_only_the_calls_of_that_speaker_count() -> None:
    scored = SetDiarization(
        "mixed",
        (
            _call("two_a", 2, 2, 40.0, 2.0),
            _call("voicemail", 1, 1, 30.0, 0.0),
            _call("two_b", 2, 1, 60.0, 8.0),
            _call("four", 4, 1, 20.0, 15.0),
        ),
    )
    two = scored.with_speakers(2)
    assert two.name == "mixed · 2-party"
    assert [c.call_id for c in two.calls] == ["two_a", "two_b"]
    # pooled over the subset's reference time, not averaged per call
    assert two.der() == pytest.approx(10.0 / 100.0)
    assert two.count_accuracy == 0.5
    assert scored.der() == pytest.approx(25.0 / 150.0)
    assert scored.with_speakers(3).calls == ()
