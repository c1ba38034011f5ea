"""The per-call pipeline: decode -> transcribe -> separate speakers -> utterances.

Plain functions, no orchestration: call them from a flow, the CLI, a test or a notebook.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from analytics import PIPELINE_VERSION
from analytics.align import SpeakerStream, build_utterances
from analytics.audio import DecodedAudio, decode
from analytics.config import Settings
from analytics.errors import CallscopeError, TranscriptionError
from analytics.models import CallMetadata, CallResult, RecordingRef
from analytics.sources import RecordingSource, open_source, split_object_uri
from analytics.transcription import ChannelTranscript, Transcriber, make_transcriber

log = logging.getLogger(__name__)

UNKNOWN_SPEAKER = "unknown"


@dataclass(frozen=True)
class PipelineOptions:
    """Options of the stages after transcription."""

    #: A pause longer than this (seconds) starts a new utterance.
    utterance_gap_s: float = 1.0
    #: Stereo channels correlated above this are one signal copied twice: treat as mono.
    duplicate_channel_corr: float = 0.98
    #: Transcribe stereo channels concurrently (the engine releases the GIL).
    parallel_channels: bool = False

    @classmethod
    def from_settings(cls, settings: Settings) -> PipelineOptions:
        return cls(utterance_gap_s=settings.utterance_gap_s)


def _is_fake_stereo(audio: DecodedAudio, threshold: float) -> bool:
    """True when every channel carries the same signal (a mono mix saved as stereo)."""
    if audio.n_channels < 2:
        return False
    a, b = audio.channels[0], audio.channels[1]
    if float(np.abs(a - b).max(initial=0.0)) < 1e-4:
        return True
    sa, sb = float(a.std()), float(b.std())
    if sa < 1e-6 or sb < 1e-6:
        return False
    return float(np.corrcoef(a, b)[0, 1]) > threshold


def process_call(
    path: Path | str,
    *,
    transcriber: Transcriber,
    metadata: CallMetadata,
    source_uri: str,
    etag: str | None = None,
    options: PipelineOptions | None = None,
) -> CallResult:
    """Analyse one local audio file. Raises a CallscopeError subclass naming the stage."""
    options = options or PipelineOptions()
    t0 = time.perf_counter()
    audio = decode(path, name=source_uri)
    roles = metadata.channel_roles
    streams: list[SpeakerStream]
    transcripts: list[ChannelTranscript]
    if audio.n_channels >= 2 and not _is_fake_stereo(audio, options.duplicate_channel_corr):
        if options.parallel_channels:
            with ThreadPoolExecutor(max_workers=audio.n_channels) as pool:
                transcripts = list(pool.map(transcriber.transcribe, audio.channels))
        else:
            transcripts = [transcriber.transcribe(ch) for ch in audio.channels]
        if roles is not None and len(roles) != audio.n_channels:
            log.warning(
                "call %s: channel_roles %s does not match %d channels; roles left unknown",
                metadata.call_id,
                list(roles),
                audio.n_channels,
            )
            roles = None
        streams = [
            SpeakerStream(f"ch{i}", roles[i] if roles else None, t.words, channel=i)
            for i, t in enumerate(transcripts)
        ]
        diarization = "channels"
    else:
        transcripts = [transcriber.transcribe(audio.mono())]
        streams = [SpeakerStream(UNKNOWN_SPEAKER, None, transcripts[0].words)]
        diarization = "none"
    # The channel with the most words decides the call's language.
    main = max(transcripts, key=lambda t: len(t.words))
    utterances = build_utterances(streams, options.utterance_gap_s)
    params = {**transcriber.params(), "utterance_gap_s": options.utterance_gap_s}
    elapsed = time.perf_counter() - t0
    log.info(
        "call %s: %.1f s audio, %d ch, %d utterances in %.1f s",
        metadata.call_id,
        audio.duration_s,
        audio.n_channels,
        len(utterances),
        elapsed,
    )
    return CallResult(
        call_id=metadata.call_id,
        source_uri=source_uri,
        etag=etag,
        duration_s=round(audio.duration_s, 3),
        channels=audio.n_channels,
        sample_rate=audio.source_sample_rate,
        language=main.language,
        language_prob=main.language_prob,
        engine=transcriber.engine,
        model=transcriber.model_name,
        pipeline_version=PIPELINE_VERSION,
        params=params,
        metadata=metadata,
        utterances=utterances,
        diarization=diarization,
        processing_s=round(elapsed, 3),
    )


def process_ref(
    source: RecordingSource,
    ref: RecordingRef,
    *,
    transcriber: Transcriber,
    cache_dir: Path,
    options: PipelineOptions | None = None,
) -> CallResult:
    """Fetch one listed recording and its sidecar, then run :func:`process_call`."""
    sidecar = source.read_sidecar(ref)
    metadata = CallMetadata.from_sidecar(sidecar or {}, default_call_id=ref.stem)
    path = source.fetch(ref, cache_dir)
    return process_call(
        path,
        transcriber=transcriber,
        metadata=metadata,
        source_uri=ref.uri,
        etag=ref.etag,
        options=options,
    )


def analyze(uri: str, settings: Settings, transcriber: Transcriber | None = None) -> CallResult:
    """Analyse one recording given as a local path or ``s3://bucket/key`` URI."""
    folder, key = split_object_uri(uri)
    source = open_source(folder, settings)
    ref = source.ref(key)
    try:
        transcriber = transcriber or make_transcriber(settings)
    except CallscopeError:
        raise
    except Exception as exc:  # an engine failing to load is a config problem for the user
        raise TranscriptionError(f"could not load engine {settings.engine}: {exc}") from exc
    return process_ref(
        source,
        ref,
        transcriber=transcriber,
        cache_dir=settings.data_dir / "cache" / "recordings",
        options=PipelineOptions.from_settings(settings),
    )
