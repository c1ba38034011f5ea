from __future__ import annotations

import pytest

from analytics.align import SpeakerStream, build_utterances, split_stream
from analytics.models import Word


def _words(*spans: tuple[str, float, float]) -> list[Word]:
    return [Word(w, s, e, 0.9) for w, s, e in spans]


def test_pause_longer_than_gap_starts_a_new_utterance() -> None:
    stream = SpeakerStream(
        "ch0", "agent", _words(("hi", 0.0, 0.3), ("there", 0.4, 0.8), ("next", 2.5, 2.9))
    )
    utts = split_stream(stream, gap_s=1.0)
    assert [u.text for u in utts] == ["hi there", "next"]
    assert (utts[0].start, utts[0].end) == (0.0, 0.8)


@pytest.mark.parametrize(("gap", "expected"), [(0.05, 3), (0.5, 2), (5.0, 1)])
def test_gap_setting_controls_splitting(gap: float, expected: int) -> None:
    stream = SpeakerStream("s", None, _words(("a", 0, 1), ("b", 1.1, 2), ("c", 3, 4)))
    assert len(split_stream(stream, gap)) == expected


def test_channels_are_interleaved_by_time_not_blocked_per_channel() -> None:
    customer = SpeakerStream(
        "ch0", "customer", _words(("hello", 0.0, 0.5), ("thanks", 4.0, 4.5)), channel=0
    )
    agent = SpeakerStream("ch1", "agent", _words(("hi", 2.0, 2.4), ("bye", 6.0, 6.3)), channel=1)
    utts = build_utterances([customer, agent], gap_s=1.0)
    assert [u.role for u in utts] == ["customer", "agent", "customer", "agent"]
    assert [u.start for u in utts] == sorted(u.start for u in utts)
    assert utts[1].channel == 1


def test_no_words_gives_no_utterances() -> None:
    assert build_utterances([SpeakerStream("ch0", None, [])]) == ()
