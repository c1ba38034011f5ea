"""Stereo leakage gate: words one channel only hears from the other are dropped from it;
backchannels over the other side stay."""

from __future__ import annotations

import numpy as np
import pytest

from analytics.align import SpeakerStream
from analytics.audio import DecodedAudio
from analytics.diarization import ChannelDiarizer
from analytics.diarization.leakage import LeakageGate, frame_levels, own_regions, own_words
from analytics.models import CallMetadata, Word
from analytics.simulation.telephone import add_noise, leak
from analytics.transcription.base import EngineTranscript

RATE = 16_000


def _voice(seed: int, seconds: float, f0: float, level: float = 0.1) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    rng = np.random.default_rng(seed)
    x = sum(np.sin(2 * np.pi * f0 * h * t + rng.uniform(0, 6)) / h for h in range(1, 8))
    return (level * x * (0.6 + 0.4 * np.sin(2 * np.pi * 4 * t) ** 2)).astype(np.float32)


def _call(leak_db: float) -> tuple[DecodedAudio, list[Word], list[Word], Word]:
    """A talks 0-4 s and 8-12 s, B talks 4.5-7.5 s (quieter by 6 dB) and backchannels
    0.5 s at 2 s over A (at its own level); each side leaks into the other."""
    n = 13 * RATE
    a, b = np.zeros(n, np.float32), np.zeros(n, np.float32)
    a[0 : 4 * RATE] = _voice(0, 4, 120)
    a[8 * RATE : 12 * RATE] = _voice(1, 4, 125)
    b[int(4.5 * RATE) : int(7.5 * RATE)] = _voice(2, 3, 210, 0.05)
    b[2 * RATE : int(2.5 * RATE)] = _voice(3, 0.5, 220, 0.05)
    rng = np.random.default_rng(0)
    ch0 = add_noise(leak(a, b, leak_db, RATE), 30, rng, a != 0)
    ch1 = add_noise(leak(b, a, leak_db, RATE), 30, rng, b != 0)
    audio = DecodedAudio((ch0, ch1), RATE, RATE, "pcm")

    def words(spans: list[tuple[float, float]]) -> list[Word]:
        out = []
        for s, e in spans:
            t = s
            while t + 0.3 <= e:
                out.append(Word("w", t, t + 0.3, 0.9))
                t += 0.4
        return out

    a_words = words([(0.0, 4.0), (8.0, 12.0)])
    b_words = words([(4.5, 7.5)])
    backchannel = Word("yeah", 2.05, 2.45, 0.9)
    return audio, a_words, b_words, backchannel


@pytest.mark.parametrize("leak_db", [-25.0, -15.0, -10.0])
def test_leaked_words_are_dropped_and_own_words_kept(leak_db: float) -> None:
    audio, a_words, b_words, bc = _call(leak_db)
    levels = frame_levels(audio.channels)
    gate = LeakageGate()
    # the engine transcribes each channel: its own words plus what leaks from the other
    kept0, _ = own_words(sorted(a_words + b_words, key=lambda w: w.start), levels, 0, gate)
    kept1, _ = own_words(sorted(a_words + b_words + [bc], key=lambda w: w.start), levels, 1, gate)
    # A's words during B's backchannel are double talk: ch1 carries B's own voice there,
    # so energy cannot tell whether its engine also heard A (they are not counted)
    double = [w for w in a_words if w.start < bc.end and w.end > bc.start]
    wrong = len([w for w in kept0 if w in b_words])
    wrong += len([w for w in kept1 if w in a_words and w not in double])
    assert wrong / (len(a_words) + len(b_words)) <= 0.02
    assert all(w in kept0 for w in a_words)
    assert all(w in kept1 for w in b_words)
    assert bc in kept1  # a backchannel over the other side stays its own


def test_leaked_speech_is_cut_out_of_a_channels_turns() -> None:
    audio, *_ = _call(-15.0)
    levels = frame_levels(audio.channels)
    regions = [(0.0, 13.0)]  # as if the VAD heard speech all the time on channel 1
    got = own_regions(regions, levels, 1, LeakageGate())
    covered = sum(min(e, 7.5) - max(s, 4.5) for s, e in got if e > 4.5 and s < 7.5)
    assert covered >= 2.8  # B's own turn stays
    leaked = sum(min(e, 12.0) - max(s, 8.0) for s, e in got if e > 8.0 and s < 12.0)
    assert leaked <= 0.2  # A's second turn, heard only as leakage, is gone


def test_channel_diarizer_attributes_each_word_once() -> None:
    audio, a_words, b_words, bc = _call(-15.0)
    heard0 = tuple(sorted(a_words + b_words, key=lambda w: w.start))
    heard1 = tuple(sorted([*a_words, *b_words, bc], key=lambda w: w.start))
    transcript = EngineTranscript(
        (SpeakerStream("ch0", "agent", heard0, 0), SpeakerStream("ch1", "customer", heard1, 1)),
        "en",
        1.0,
        "channels",
        0.0,
    )
    md = CallMetadata(call_id="leak", channel_roles=("agent", "customer"))
    gated = ChannelDiarizer().diarize(audio, transcript, md)
    words = {s.speaker: list(s.words) for s in gated.streams}
    assert words["ch0"] == a_words
    double = [w for w in a_words if w.start < bc.end and w.end > bc.start]
    assert [w for w in words["ch1"] if w not in double] == sorted(
        [*b_words, bc], key=lambda w: w.start
    )
    ungated = ChannelDiarizer(gate=None).diarize(audio, transcript, md)
    assert sum(len(s.words) for s in ungated.streams) == 2 * len(a_words + b_words) + 1
