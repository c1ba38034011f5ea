"""No speech is dropped at the start of a call: the first words of a real recording come out
with the default settings (a missed first turn is a missed greeting and a wrong first
speaker)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from analytics.audio import decode
from analytics.config import Settings
from analytics.transcription import faster_whisper_options
from analytics.transcription.faster_whisper import FasterWhisperTranscriber
from tests.conftest import ROOT

#: First 10 s of AMI meeting excerpt "dev00" (CC BY 4.0, from the pyannote.audio sdist's
#: test data): a quiet far-field voice that starts at 1.44 s (reference RTTM) with
#: "Okay, well, I think we're ready to begin."
AMI_START = ROOT / "tests" / "data" / "real" / "ami-dev00-start.wav"
FIRST_SPEECH_S = 1.44


@pytest.fixture(scope="module")
def words() -> list[str]:
    engine = FasterWhisperTranscriber(faster_whisper_options(Settings()))
    transcript = engine.transcribe(decode(AMI_START).mono())
    assert transcript.words, "no words at all"
    first = transcript.words[0]
    # before the fix the hallucination guard skipped to 2.98 s ("ready to begin")
    assert first.start <= FIRST_SPEECH_S + 1.0, f"first word at {first.start} s: {first.word}"
    return [w.word.strip(",.?!").lower() for w in transcript.words]


def test_the_first_words_of_a_quiet_real_call_are_transcribed(words: list[str]) -> None:
    assert words[:2] == ["okay", "well"]
    assert "ready" in words and "begin" in words


def test_the_guard_that_dropped_them_applies_only_without_vad() -> None:
    options = faster_whisper_options(Settings())
    assert options.vad_filter and options.hallucination_silence_threshold == 2.0
    engine = FasterWhisperTranscriber(options)
    assert engine.transcribe_kwargs("en")["hallucination_silence_threshold"] is None
    engine.options = replace(options, vad_filter=False)
    assert engine.transcribe_kwargs("en")["hallucination_silence_threshold"] == 2.0
