"""Regression on REAL human speech: the test splits of the real sets (never tuned on),
fetched and built by the project's set-up (scripts/fetch_real_sets.py, run by
``make setup``; run here too when missing, it is idempotent).

Thresholds are the numbers measured on the test splits when the defaults were set (see
the report in bench/accuracy.py's table), plus a small margin for platform noise; they
fail on a regression, not on the targets of the issue.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from analytics.diarization import ChannelDiarizer, ClusteringDiarizer
from analytics.diarization.passthrough import DEFAULT_GATE
from analytics.set_scores import leakage_words, score_set

#: Measured on data/real/tel-test (build version 2 of the sets: no inaudible "speakers")
#: with the defaults (segmentation-3.0 speech and overlap, fused GE2E + ECAPA embeddings;
#: pyannote collar 0.25, overlap scored): DER 0.141 (Silero VAD before it: 0.147; GE2E
#: alone 0.215), 2-party speaker count right on 9 of 10 calls, all calls 11 of 14; both
#: voicemails stay one speaker.
MEASURED_TEL_DER = 0.141
#: ... and over its 2-party calls alone (the issue's target: DER <= 0.15): 0.104.
MEASURED_TEL_2P_DER = 0.104
MEASURED_TEL_COUNT2 = 0.9
MEASURED_TEL_COUNT = 11 / 14
#: Measured on data/real/ami-test (real meeting clips, never tuned on): DER 0.368 (Silero
#: VAD before: 0.424), the three two-person clips found as two speakers (before: 2 of 3).
MEASURED_AMI_DER = 0.368
#: ... over the two-person clips alone (the issue's target: DER <= 0.25): 0.119.
MEASURED_AMI_2P_DER = 0.119
#: Measured on data/real/stereo-test (leakage -25..-10 dB, 1,087 word pieces): share of
#: words kept on the wrong channel 0.000 (without the gate: 1.0), own words dropped 0.016;
#: the same 0.000 on the calls at or below -15 dB and above it.
MEASURED_STEREO_WRONG = 0.0
MEASURED_STEREO_DROPPED = 0.016


@pytest.mark.slow
def test_mono_diarization_on_real_telephone_calls_does_not_regress(real: Path) -> None:
    scored = score_set(real / "tel-test", ClusteringDiarizer())
    two = scored.with_speakers(2)
    assert scored.der() <= MEASURED_TEL_DER + 0.03, scored.der()
    assert two.der() <= MEASURED_TEL_2P_DER + 0.03, two.der()
    # no margin: one call more counted wrong would also miss the issue's >= 90 % target
    assert two.count_accuracy >= MEASURED_TEL_COUNT2, two.count_accuracy
    assert scored.count_accuracy >= MEASURED_TEL_COUNT - 0.1, scored.count_accuracy
    voicemails = [c for c in scored.calls if c.reference_speakers == 1]
    assert voicemails and all(c.hypothesis_speakers == 1 for c in voicemails)


@pytest.mark.slow
def test_mono_diarization_on_real_meeting_clips_does_not_regress(real: Path) -> None:
    scored = score_set(real / "ami-test", ClusteringDiarizer())
    assert scored.der() <= MEASURED_AMI_DER + 0.03, scored.der()
    two = scored.with_speakers(2)
    assert len(two.calls) == 3 and two.count_accuracy == 1.0, two.calls
    assert two.der() <= MEASURED_AMI_2P_DER + 0.03, two.der()


def test_stereo_leakage_on_real_calls_does_not_regress(real: Path) -> None:
    gated = leakage_words(real / "stereo-test", DEFAULT_GATE)
    assert gated.words > 500
    assert gated.wrong_share <= MEASURED_STEREO_WRONG + 0.01, gated.wrong_share
    # the gate must not buy that by dropping the speaker's own words
    assert gated.dropped_share <= MEASURED_STEREO_DROPPED + 0.01, gated.dropped_share


def test_stereo_channels_diarizer_scores_on_real_calls(real: Path) -> None:
    scored = score_set(real / "stereo-test", ChannelDiarizer())
    assert all(c.hypothesis_speakers == 2 for c in scored.calls)
    assert scored.role_accuracy >= 0.75
