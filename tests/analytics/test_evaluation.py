from __future__ import annotations

import pytest

from analytics.evaluation import normalize_text, role_attribution, wer
from analytics.models import Utterance


def test_normalisation_ignores_case_and_punctuation() -> None:
    assert normalize_text("Hello, I'm Ana -- how's it going?") == [
        "hello",
        "i'm",
        "ana",
        "how's",
        "it",
        "going",
    ]


@pytest.mark.parametrize(
    ("ref", "hyp", "expected"),
    [
        ("the cat sat", "the cat sat", 0.0),
        ("the cat sat", "the bat sat", 1 / 3),
        ("the cat sat", "the cat", 1 / 3),
        ("the cat sat", "the cat sat down", 1 / 3),
        ("a b c d", "", 1.0),
    ],
)
def test_wer(ref: str, hyp: str, expected: float) -> None:
    assert wer(ref, hyp) == pytest.approx(expected)


def _utt(role: str | None, start: float, end: float) -> Utterance:
    return Utterance("s", role, start, end, "x", ())


def test_role_attribution_counts_correct_wrong_and_missed_time() -> None:
    ref = [
        {"role": "customer", "start": 0.0, "end": 2.0},
        {"role": "agent", "start": 3.0, "end": 5.0},
    ]
    hyp = [_utt("customer", 0.0, 2.0), _utt("customer", 3.0, 4.0)]
    result = role_attribution(ref, hyp, collar_s=0.0)
    assert result.reference_s == pytest.approx(4.0, abs=0.02)
    assert result.correct_s == pytest.approx(2.0, abs=0.02)
    assert result.wrong_s == pytest.approx(1.0, abs=0.02)
    assert result.missed_s == pytest.approx(1.0, abs=0.02)
    assert result.accuracy == pytest.approx(0.5, abs=0.01)
