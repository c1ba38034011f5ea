"""The low-confidence flag: what an English-only model writes for speech it cannot
understand is flagged, a confident transcript is not."""

from __future__ import annotations

import pytest

from analytics.models import Word
from analytics.transcription.confidence import LOW_CONFIDENCE, confidence_notes, english_only


def _words(prob: float, n: int = 12) -> list[Word]:
    return [Word(f"w{i}", i * 0.5, i * 0.5 + 0.4, prob) for i in range(n)]


@pytest.mark.parametrize(
    ("model", "expected"),
    [("tiny.en", True), ("base.en", True), ("/models/small.en/", True), ("base", False)],
)
def test_english_only_models_are_named_dot_en(model: str, expected: bool) -> None:
    assert english_only(model) is expected


def test_a_confident_transcript_records_its_mean_and_no_flag() -> None:
    notes = confidence_notes(_words(0.9), model="tiny.en", language="en", label="c.wav")
    assert notes == {"transcript_mean_word_prob": 0.9}


def test_english_only_model_on_foreign_speech_is_flagged(caplog: pytest.LogCaptureFixture) -> None:
    notes = confidence_notes(_words(0.46), model="tiny.en", language="en", label="de.wav")
    assert notes["transcript_flag"] == "possibly_not_english"
    assert "CALLSCOPE_MODEL=base" in notes["transcript_flag_reason"]
    assert "de.wav" in caplog.text and "not English" in caplog.text


def test_multilingual_model_flags_low_confidence_naming_the_language() -> None:
    notes = confidence_notes(_words(0.3), model="base", language="de", label="x.wav")
    assert notes["transcript_flag"] == "low_confidence"
    assert "language de" in notes["transcript_flag_reason"]


def test_too_few_words_or_none_are_not_flagged() -> None:
    assert "transcript_flag" not in confidence_notes(
        _words(LOW_CONFIDENCE / 2, n=3), model="tiny.en", language="en", label="x"
    )
    assert confidence_notes([], model="tiny.en", language="en", label="x") == {}
