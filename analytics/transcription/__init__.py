"""Transcription engines behind one protocol; a registry maps names to implementations."""

from __future__ import annotations

from analytics.config import Settings
from analytics.errors import ConfigError
from analytics.transcription.base import ChannelTranscript, Transcriber
from analytics.transcription.faster_whisper import FasterWhisperOptions, FasterWhisperTranscriber

__all__ = ["ENGINES", "ChannelTranscript", "Transcriber", "make_transcriber"]

ENGINES = ("faster-whisper",)


def make_transcriber(settings: Settings) -> Transcriber:
    """Build the configured engine (models are cached per process)."""
    if settings.engine == "faster-whisper":
        return FasterWhisperTranscriber(
            FasterWhisperOptions(
                model=settings.model,
                device=settings.device,
                compute_type=settings.compute_type,
                cpu_threads=settings.cpu_threads,
                beam_size=settings.beam_size,
                language=settings.language,
                vad_filter=settings.vad_filter,
            )
        )
    raise ConfigError(f"unknown engine {settings.engine!r}; choose one of {', '.join(ENGINES)}")
