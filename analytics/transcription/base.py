"""The transcriber protocol and its output for one channel of audio."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from analytics.models import Word


@dataclass(frozen=True)
class ChannelTranscript:
    """Words of one audio channel (times in seconds from the recording's start)."""

    words: tuple[Word, ...]
    language: str | None
    language_prob: float | None
    #: Segment boundaries the engine produced, (start, end); used as soft pause hints.
    segments: tuple[tuple[float, float], ...] = field(default=())


class Transcriber(Protocol):
    """Turns 16 kHz float32 mono audio into timed words."""

    engine: str
    model_name: str

    def transcribe(self, audio: np.ndarray) -> ChannelTranscript:
        """Transcribe one channel."""
        ...

    def params(self) -> dict[str, Any]:
        """The options that change the output (stored as lineage)."""
        ...
