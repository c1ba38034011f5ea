"""Transcription contracts: a per-channel ``Transcriber`` for local models and a whole-call
``CallTranscriber`` that every engine exposes to the pipeline."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from analytics.align import SpeakerStream
from analytics.audio import DecodedAudio
from analytics.models import CallMetadata, Word


@dataclass(frozen=True)
class ChannelTranscript:
    """Words of one audio channel (times in seconds from the recording's start)."""

    words: tuple[Word, ...]
    language: str | None
    language_prob: float | None
    #: Segment boundaries the engine produced, (start, end); used as soft pause hints.
    segments: tuple[tuple[float, float], ...] = field(default=())


@dataclass(frozen=True)
class Media:
    """Where the engine can get the recording: a local file, and for cloud engines a
    short-lived URL (a presigned S3 URL) so the audio is not uploaded again."""

    path: Path
    url: str | None = None


@dataclass(frozen=True)
class EngineTranscript:
    """What an engine returns for one whole call."""

    #: Words per speaker; one stream per stereo channel, per engine speaker label, or one
    #: "unknown" stream for mono audio without diarization.
    streams: tuple[SpeakerStream, ...]
    language: str | None
    language_prob: float | None
    #: How speakers were told apart: "channels", "engine" (engine's labels) or "none".
    diarization: str
    #: Audio seconds the engine bills for (cloud engines bill the whole file).
    billed_s: float
    #: Engine-native extras (e.g. AssemblyAI sentiment, summary, entities), JSON-ready.
    native: dict[str, Any] = field(default_factory=dict)
    #: The engine's own id for the job (e.g. an AssemblyAI transcript id).
    job_id: str | None = None


class Transcriber(Protocol):
    """Turns 16 kHz float32 mono audio into timed words (local models)."""

    engine: str
    model_name: str

    def transcribe(self, audio: np.ndarray) -> ChannelTranscript:
        """Transcribe one channel."""
        ...

    def params(self) -> dict[str, Any]:
        """The options that change the output (stored as lineage)."""
        ...


class CallTranscriber(Protocol):
    """Any engine, seen from the pipeline: a whole call in, speaker streams out."""

    @property
    def engine(self) -> str:
        """Engine name stored as lineage (e.g. "faster-whisper")."""
        ...

    @property
    def model_name(self) -> str:
        """Model name stored as lineage."""
        ...

    @property
    def wants_url(self) -> bool:
        """True when the engine prefers a URL (cloud engines) over local samples."""
        ...

    def transcribe_call(
        self, audio: DecodedAudio, metadata: CallMetadata, media: Media
    ) -> EngineTranscript:
        """Transcribe one decoded call."""
        ...

    def params(self) -> dict[str, Any]:
        """The options that change the output (stored as lineage)."""
        ...

    def lineage(self) -> dict[str, Any]:
        """Identity of what produced the output: e.g. model checksum, API version."""
        ...
