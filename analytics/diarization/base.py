"""Diarization contracts: who spoke when, as speaker turns, word streams and overlaps."""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any, Protocol

import numpy as np

from analytics.align import SpeakerStream
from analytics.audio import DecodedAudio
from analytics.errors import CallscopeError, ConfigError
from analytics.models import CallMetadata
from analytics.transcription.base import EngineTranscript

#: ``CallResult.diarization`` values.
METHODS = ("clustering", "channels", "engine", "pyannote", "none")


class DiarizationError(CallscopeError):
    """A diarizer failed on a recording."""

    stage = "diarize"


class DiarizerUnavailableError(ConfigError):
    """The configured diarizer needs an optional extra (or model) that is not installed."""


@dataclass(frozen=True)
class SpeakerTurn:
    """A stretch of time (seconds) in which one speaker talks."""

    speaker: str
    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start


def label_runs(labels: np.ndarray) -> list[tuple[int, int, int]]:
    """(start, end, label) runs of a per-frame label array (-1: nobody)."""
    if labels.size == 0:
        return []
    change = np.flatnonzero(np.diff(labels)) + 1
    bounds = [0, *change.tolist(), labels.size]
    return [(a, b, int(labels[a])) for a, b in pairwise(bounds)]


@dataclass(frozen=True)
class OverlapRegion:
    """A stretch in which two or more speakers talk at once."""

    start: float
    end: float
    speakers: tuple[str, ...]


@dataclass(frozen=True)
class DiarizationResult:
    """What a diarizer found in one call.

    ``turns`` may overlap in time (overlapped speech); every such stretch is listed in
    ``overlaps``. ``streams`` hold every transcript word exactly once, attributed to one
    speaker (the speaker whose turn covers most of the word; inside an overlap the
    speaker whose voice matches the word's audio better when the diarizer can tell).
    """

    method: str
    turns: tuple[SpeakerTurn, ...]
    streams: tuple[SpeakerStream, ...]
    overlaps: tuple[OverlapRegion, ...] = ()
    #: Options that change the output (stored in the analysis params).
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def speakers(self) -> tuple[str, ...]:
        """Speaker labels in order of first appearance."""
        seen: dict[str, None] = {}
        for t in sorted(self.turns, key=lambda t: t.start):
            seen.setdefault(t.speaker, None)
        for s in self.streams:
            seen.setdefault(s.speaker, None)
        return tuple(seen)

    def speech_s(self, speaker: str) -> float:
        """Seconds of turns of ``speaker``."""
        return sum(t.duration for t in self.turns if t.speaker == speaker)


class Diarizer(Protocol):
    """Splits a transcribed call into speakers."""

    @property
    def name(self) -> str:
        """Registry name ("clustering", "channels", "engine", "pyannote")."""
        ...

    def diarize(
        self, audio: DecodedAudio, transcript: EngineTranscript, metadata: CallMetadata
    ) -> DiarizationResult:
        """Speaker turns, word streams per speaker and overlap regions of one call."""
        ...

    def params(self) -> dict[str, Any]:
        """The options that change the output (stored as lineage)."""
        ...
