"""Transcription engines behind one protocol; a registry maps names to implementations."""

from __future__ import annotations

import os
from collections.abc import Callable

from analytics.config import Settings
from analytics.errors import ConfigError
from analytics.transcription.base import (
    CallTranscriber,
    ChannelTranscript,
    EngineTranscript,
    Media,
    Transcriber,
)
from analytics.transcription.channels import ChannelCallTranscriber
from analytics.transcription.faster_whisper import FasterWhisperOptions, FasterWhisperTranscriber

__all__ = [
    "ENGINES",
    "ENGINE_NAMES",
    "CallTranscriber",
    "ChannelTranscript",
    "EngineTranscript",
    "Media",
    "Transcriber",
    "faster_whisper_options",
    "make_transcriber",
]


def faster_whisper_options(settings: Settings) -> FasterWhisperOptions:
    """Engine options from settings. With several workers, the model gets that many
    CTranslate2 workers sharing the cores (bench/engines.py: 2 calls in flight with one
    thread each beat one call with two threads by 2x on 2 cores)."""
    workers = max(1, settings.workers)
    threads = settings.cpu_threads or max(1, (os.cpu_count() or 1) // workers)
    return FasterWhisperOptions(
        model=settings.model,
        device=settings.device,
        compute_type=settings.compute_type,
        cpu_threads=threads,
        num_workers=workers,
        beam_size=settings.beam_size,
        batch_size=settings.batch_size,
        language=settings.language,
        vad_filter=settings.vad_filter,
        vad_threshold=settings.vad_threshold,
        vad_min_silence_ms=settings.vad_min_silence_ms,
        vad_speech_pad_ms=settings.vad_speech_pad_ms,
        initial_prompt=settings.initial_prompt,
        hotwords=settings.hotwords,
        temperatures=tuple(settings.temperatures),
        no_speech_threshold=settings.no_speech_threshold,
        log_prob_threshold=settings.log_prob_threshold,
        compression_ratio_threshold=settings.compression_ratio_threshold,
        hallucination_silence_threshold=settings.hallucination_silence_threshold,
        cache_dir=settings.model_cache_dir,
        allow_download=settings.model_download,
        window_s=settings.transcribe_window_s,
    )


def _faster_whisper(settings: Settings) -> CallTranscriber:
    return ChannelCallTranscriber(
        FasterWhisperTranscriber(faster_whisper_options(settings)),
        parallel_channels=settings.workers > 1,
    )


def _openai_whisper(settings: Settings) -> CallTranscriber:
    # imported here so the optional extra is only needed when this engine is selected
    from analytics.transcription.openai_whisper import (
        OpenAIWhisperOptions,
        OpenAIWhisperTranscriber,
    )

    options = OpenAIWhisperOptions(
        checkpoint=settings.model,
        device=settings.device,
        beam_size=settings.beam_size,
        language=settings.language,
        temperatures=tuple(settings.temperatures),
        no_speech_threshold=settings.no_speech_threshold,
        logprob_threshold=settings.log_prob_threshold,
        compression_ratio_threshold=settings.compression_ratio_threshold,
        hallucination_silence_threshold=settings.hallucination_silence_threshold,
        initial_prompt=settings.initial_prompt,
        download_root=settings.openai_whisper_download_root,
        cache_dir=settings.model_cache_dir,
        allow_download=settings.model_download,
    )
    # One model per process and whisper decodes one window at a time: channels in sequence.
    return ChannelCallTranscriber(OpenAIWhisperTranscriber(options))


#: Engine name -> factory. Cloud and optional engines register here as they are added.
def _assemblyai(settings: Settings) -> CallTranscriber:
    # imported here so the optional extra is only needed when this engine is selected
    from analytics.transcription.assemblyai import make_assemblyai_transcriber

    return make_assemblyai_transcriber(settings)


FACTORIES: dict[str, Callable[[Settings], CallTranscriber]] = {
    "faster-whisper": _faster_whisper,
    "assemblyai": _assemblyai,
    "openai-whisper": _openai_whisper,
}
ENGINES = tuple(FACTORIES)
#: Every engine name the settings accept (some need an optional extra installed).
ENGINE_NAMES = ("faster-whisper", "assemblyai", "openai-whisper")


def make_transcriber(settings: Settings) -> CallTranscriber:
    """Build the configured engine (local models are cached per process)."""
    factory = FACTORIES.get(settings.engine)
    if factory is None:
        raise ConfigError(
            f"unknown engine {settings.engine!r}; choose one of {', '.join(FACTORIES)}"
        )
    return factory(settings)
