"""The per-call pipeline: decode -> transcribe -> separate speakers -> utterances.

Plain functions, no orchestration: call them from a flow, the CLI, a test or a notebook.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from analytics import PIPELINE_VERSION
from analytics.align import build_utterances
from analytics.audio import decode
from analytics.config import Settings
from analytics.enrich.metrics import compute_metrics, utterance_loudness
from analytics.models import CallMetadata, CallResult, RecordingRef
from analytics.sources import RecordingSource, open_source, split_object_uri
from analytics.transcription import CallTranscriber, make_transcriber
from analytics.transcription.base import Media
from analytics.transcription.channels import UNKNOWN_SPEAKER

log = logging.getLogger(__name__)

__all__ = ["UNKNOWN_SPEAKER", "PipelineOptions", "analyze", "process_call", "process_ref"]


@dataclass(frozen=True)
class PipelineOptions:
    """Options of the stages around transcription."""

    #: A pause longer than this (seconds) starts a new utterance.
    utterance_gap_s: float = 1.0
    #: Price of one billed audio minute for this engine (cost lineage), in USD.
    price_per_minute: float = 0.0

    @classmethod
    def from_settings(cls, settings: Settings) -> PipelineOptions:
        return cls(
            utterance_gap_s=settings.utterance_gap_s,
            price_per_minute=settings.price_per_minute(settings.engine),
        )


def process_call(
    path: Path | str,
    *,
    transcriber: CallTranscriber,
    metadata: CallMetadata,
    source_uri: str,
    etag: str | None = None,
    options: PipelineOptions | None = None,
    media_url: str | None = None,
) -> CallResult:
    """Analyse one local audio file. Raises a CallscopeError subclass naming the stage.

    ``media_url`` is a short-lived URL of the same recording for cloud engines.
    """
    options = options or PipelineOptions()
    t0 = time.perf_counter()
    audio = decode(path, name=source_uri)
    out = transcriber.transcribe_call(audio, metadata, Media(Path(path), media_url))
    utterances = build_utterances(out.streams, options.utterance_gap_s)
    loudness = utterance_loudness(utterances, audio)
    metrics = compute_metrics(utterances, audio.duration_s, loudness=loudness)
    params = {**transcriber.params(), "utterance_gap_s": options.utterance_gap_s}
    billed_s = out.billed_s or audio.duration_s
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
        language=out.language,
        language_prob=out.language_prob,
        engine=transcriber.engine,
        model=transcriber.model_name,
        pipeline_version=PIPELINE_VERSION,
        params=params,
        metadata=metadata,
        utterances=utterances,
        diarization=out.diarization,
        processing_s=round(elapsed, 3),
        lineage=transcriber.lineage(),
        billed_minutes=round(billed_s / 60, 4),
        cost_usd=round(billed_s / 60 * options.price_per_minute, 6),
        native=out.native,
        engine_job_id=out.job_id,
        metrics=metrics.to_dict(),
    )


def process_ref(
    source: RecordingSource,
    ref: RecordingRef,
    *,
    transcriber: CallTranscriber,
    cache_dir: Path,
    options: PipelineOptions | None = None,
) -> CallResult:
    """Fetch one listed recording and its sidecar, then run :func:`process_call`."""
    sidecar = source.read_sidecar(ref)
    metadata = CallMetadata.from_sidecar(sidecar or {}, default_call_id=ref.stem)
    path = source.fetch(ref, cache_dir)
    url = source.presign(ref) if transcriber.wants_url else None
    return process_call(
        path,
        transcriber=transcriber,
        metadata=metadata,
        source_uri=ref.uri,
        etag=ref.etag,
        options=options,
        media_url=url,
    )


def analyze(uri: str, settings: Settings, transcriber: CallTranscriber | None = None) -> CallResult:
    """Analyse one recording given as a local path or ``s3://bucket/key`` URI."""
    folder, key = split_object_uri(uri)
    source = open_source(folder, settings)
    ref = source.ref(key)
    transcriber = transcriber or make_transcriber(settings)
    return process_ref(
        source,
        ref,
        transcriber=transcriber,
        cache_dir=settings.data_dir / "cache" / "recordings",
        options=PipelineOptions.from_settings(settings),
    )
