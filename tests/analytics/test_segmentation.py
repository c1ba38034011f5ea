"""Speech and overlapped speech from the segmentation model, and what the clustering
diarizer makes of them: second-speaker turns on overlap, the Silero fallback."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from analytics.audio import DecodedAudio, decode
from analytics.diarization import ClusteringDiarizer, ClusteringOptions, DiarizerUnavailableError
from analytics.diarization import segmentation as seg
from analytics.evaluation import diarization_error
from analytics.models import CallMetadata
from analytics.transcription.base import EngineTranscript
from tests.conftest import ROOT

SET = ROOT / "data" / "diarization"
MODEL = seg.default_model()
needs_model = pytest.mark.skipif(
    not MODEL.is_file(), reason=f"no segmentation model at {MODEL}: `make setup`"
)


def _call(name: str) -> tuple[np.ndarray, list[dict]]:
    side = json.loads((SET / f"{name}.json").read_text())
    return decode(SET / f"{name}.flac").mono(), side["reference"]["turns"]


def _mask(turns: list[dict], n: int, speaker: str | None = None) -> np.ndarray:
    m = np.zeros(n, dtype=bool)
    for t in turns:
        if speaker is None or t["speaker"] == speaker:
            m[round(t["start"] / 0.01) : round(t["end"] / 0.01)] = True
    return m


def _no_words() -> EngineTranscript:
    return EngineTranscript((), "en", 1.0, "none", 0.0)


def test_second_speaker_turns_take_the_runner_up_on_overlap_frames_only() -> None:
    labels = np.array([0, 0, 0, 0, 1, 1, -1, -1])
    scores = np.array([[0.9, 0.5, 0.7]] * 4 + [[0.2, 0.8, 0.1]] * 2 + [[0.0, 0.0, 0.0]] * 2)
    overlap = np.array([False, True, True, False, True, False, True, False])
    turns = seg.second_speaker_turns(labels, scores, overlap)
    # frames 1-2: own speaker 0, runner-up 2; frame 4: own 1, runner-up 0; silence never
    assert [(t.speaker, round(t.start, 2), round(t.end, 2)) for t in turns] == [
        ("spk2", 0.01, 0.03),
        ("spk0", 0.04, 0.05),
    ]


def test_regions_close_short_pauses_and_drop_blips() -> None:
    speech = np.zeros(300)
    speech[10:50] = 0.9  # 0.4 s
    speech[60:120] = 0.9  # after a 0.1 s pause: joined
    speech[200:205] = 0.9  # 50 ms blip: dropped
    act = seg.SpeechActivity(speech, np.zeros(300))
    assert act.regions(0.5, 0.15, 0.12) == [(0.1, 1.2)]


def test_a_missing_model_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(DiarizerUnavailableError, match="make setup"):
        seg.load(tmp_path / "none.onnx")


def test_without_the_model_the_diarizer_falls_back_to_silero(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def missing(*args: object, **kwargs: object) -> None:
        raise DiarizerUnavailableError("segmentation model not found")

    monkeypatch.setattr(seg, "activity", missing)
    samples, _ = _call("dz_billing_dispute")
    diarizer = ClusteringDiarizer(ClusteringOptions())
    with caplog.at_level(logging.WARNING):
        regions, overlap = diarizer.speech(samples)
    assert overlap is None and regions
    assert diarizer.options.vad == "silero"  # recorded in the analysis's parameters
    assert "Silero" in caplog.text


@needs_model
def test_speech_follows_the_reference_turns() -> None:
    samples, turns = _call("dz_billing_dispute")
    act = seg.activity(samples)
    n = len(act.speech)
    ref = _mask(turns, n)
    found = np.zeros(n, dtype=bool)
    for a, b in act.regions(0.5, 0.15, 0.12):
        found[round(a / 0.01) : round(b / 0.01)] = True
    assert (found & ref).sum() / ref.sum() >= 0.9
    assert (found & ~ref).sum() / ref.sum() <= 0.1


@needs_model
def test_two_voices_at_once_are_overlap_and_the_diarizer_gives_both_speakers() -> None:
    """Two speakers of one call laid on top of each other for a stretch (each speaker's
    own turns, the customer's shifted into the agent's): the model hears two at once
    there and not where one talks alone; the diarizer's turns overlap there."""
    samples, turns = _call("dz_billing_dispute")
    agent = [t for t in turns if t["speaker"] == "spk_agent" and t["end"] - t["start"] > 3]
    cust = [t for t in turns if t["speaker"] == "spk_customer" and t["end"] - t["start"] > 3]
    a, c = agent[0], cust[0]
    a_s, a_e = int(a["start"] * 16000), int(a["end"] * 16000)
    c_s, c_e = int(c["start"] * 16000), int(c["end"] * 16000)
    mix = samples.copy()
    # the customer's first long turn also plays 1 s into the agent's first long turn
    at = a_s + 16000
    length = min(c_e - c_s, a_e - at)
    mix[at : at + length] += samples[c_s : c_s + length]
    act = seg.activity(mix)
    both = slice(round(at / 160) + 20, round((at + length) / 160) - 20)
    later = [t for t in turns if t["start"] > (at + length) / 16000 + 1]
    alone = _mask(later, len(act.overlap))
    assert (act.overlap[both] > 0.5).mean() >= 0.6
    assert (act.overlap[alone] > 0.5).mean() <= 0.1

    result = ClusteringDiarizer().diarize(_audio(mix), _no_words(), CallMetadata("ov"))
    assert len(result.speakers) == 2
    lo, hi = at / 16000, (at + length) / 16000
    covered = sum(max(0.0, min(o.end, hi) - max(o.start, lo)) for o in result.overlaps)
    assert covered >= 0.5 * (hi - lo), result.overlaps
    ref = [dict(t) for t in turns] + [
        {"speaker": "spk_customer", "start": lo, "end": hi, "role": "customer"}
    ]
    assert diarization_error(ref, result.turns).der <= 0.15


def _audio(samples: np.ndarray) -> DecodedAudio:
    return DecodedAudio((samples.astype(np.float32),), 16000, 16000, "pcm_s16le")


def _lay_backchannel(
    samples: np.ndarray, turns: list[dict], host: str, length_s: float = 0.6
) -> tuple[np.ndarray, float]:
    """``samples`` with ``length_s`` of the other speaker's speech laid over the middle of
    ``host``'s first long turn that nobody else talks in; returns the mix and the start."""
    turn = next(
        t
        for t in turns
        if t["speaker"] == host
        and t["end"] - t["start"] > 4
        and not any(u["speaker"] != host and u["start"] < t["end"] < u["end"] for u in turns)
        and not any(u["speaker"] != host and t["start"] < u["start"] < t["end"] for u in turns)
    )
    src = next(t for t in turns if t["speaker"] != host and t["end"] - t["start"] > 1.5)
    at = (turn["start"] + turn["end"]) / 2
    n, a, s = int(length_s * 16000), int(at * 16000), int((src["start"] + 0.2) * 16000)
    mix = samples.astype(np.float32)
    mix[a : a + n] += samples[s : s + n]
    return mix, at


@needs_model
@pytest.mark.parametrize("call", ["synthetic", "real"])
def test_a_short_backchannel_over_the_other_speaker_stays_an_overlap(call: str, real: Path) -> None:
    """A 0.6 s "yeah" of one speaker inside the other's turn is a turn of its own speaker
    overlapping the host's turn; it is neither merged into the host's turn nor does it
    cut that turn in two."""
    if call == "synthetic":
        samples, turns = _call("dz_billing_dispute")
        host = "spk_agent"
    else:  # real voices through the telephone chain (data/real, built by make setup)
        call_path = real / "tel-dev" / "dev_00_two_mixed.wav"
        samples = decode(call_path).mono()
        turns = json.loads(call_path.with_suffix(".json").read_text())["reference"]["turns"]
        host = turns[0]["speaker"]
    mix, at = _lay_backchannel(samples, turns, host)
    result = ClusteringDiarizer().diarize(_audio(mix), _no_words(), CallMetadata("bc"))
    assert len(result.speakers) == 2
    lo, hi = at, at + 0.6

    def covered(speaker: str, a: float, b: float) -> float:
        return sum(
            max(0.0, min(t.end, b) - max(t.start, a)) for t in result.turns if t.speaker == speaker
        )

    # the host's voice is the speaker that holds the second before the backchannel
    host_label = max(result.speakers, key=lambda s: covered(s, lo - 1.0, lo))
    other = next(s for s in result.speakers if s != host_label)
    assert covered(host_label, lo, hi) >= 0.5, result.turns  # the host's turn goes on
    assert covered(other, lo, hi) >= 0.4, result.turns  # the backchannel is kept
    overlap = sum(max(0.0, min(o.end, hi) - max(o.start, lo)) for o in result.overlaps)
    assert overlap >= 0.4, result.overlaps
