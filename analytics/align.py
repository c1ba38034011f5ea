"""Words -> utterances: one speaker's consecutive words until a pause or a speaker change."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from analytics.models import Utterance, Word


@dataclass(frozen=True)
class SpeakerStream:
    """Time-ordered words known to come from one speaker (e.g. one stereo channel)."""

    speaker: str
    role: str | None
    words: Sequence[Word]
    channel: int | None = None


def _utterance(stream: SpeakerStream, words: list[Word]) -> Utterance:
    return Utterance(
        speaker=stream.speaker,
        role=stream.role,
        start=words[0].start,
        end=max(w.end for w in words),
        text=" ".join(w.word for w in words),
        words=tuple(words),
        channel=stream.channel,
    )


def split_stream(stream: SpeakerStream, gap_s: float) -> list[Utterance]:
    """Cut one speaker's words into utterances wherever the pause exceeds ``gap_s``."""
    out: list[Utterance] = []
    current: list[Word] = []
    for word in sorted(stream.words, key=lambda w: w.start):
        if current and word.start - current[-1].end > gap_s:
            out.append(_utterance(stream, current))
            current = []
        current.append(word)
    if current:
        out.append(_utterance(stream, current))
    return out


def build_utterances(streams: Sequence[SpeakerStream], gap_s: float = 1.0) -> tuple[Utterance, ...]:
    """Utterances of every speaker, interleaved by start time (ties: earlier end first)."""
    utterances = [u for s in streams for u in split_stream(s, gap_s)]
    utterances.sort(key=lambda u: (u.start, u.end, u.speaker))
    return tuple(utterances)
