"""The per-call pipeline: decode -> transcribe -> separate speakers -> utterances.

Plain functions, no orchestration: call them from a flow, the CLI, a test or a notebook.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from analytics import PIPELINE_VERSION
from analytics.align import build_utterances
from analytics.audio import decode
from analytics.config import Settings
from analytics.diarization import (
    DiarizationError,
    DiarizationResult,
    Diarizer,
    HeuristicRoleAssigner,
    RoleAssigner,
    RoleGuess,
    assign_roles,
    make_diarizer,
    make_role_assigner,
)
from analytics.enrich.metrics import compute_metrics, utterance_loudness
from analytics.errors import CallscopeError, ConfigError, SourceError
from analytics.models import CallMetadata, CallResult, RecordingRef
from analytics.sources import RecordingSource, open_source, split_object_uri
from analytics.sources.base import release_download
from analytics.transcription import CallTranscriber, make_transcriber
from analytics.transcription.base import Media
from analytics.transcription.channels import UNKNOWN_SPEAKER
from analytics.transcription.confidence import confidence_notes

log = logging.getLogger(__name__)

__all__ = [
    "UNKNOWN_SPEAKER",
    "PipelineOptions",
    "ProcessedCall",
    "analyze",
    "process_call",
    "process_call_detailed",
    "process_ref",
]


@dataclass(frozen=True)
class PipelineOptions:
    """Options of the stages around transcription."""

    #: A pause longer than this (seconds) starts a new utterance.
    utterance_gap_s: float = 1.0
    #: Price of one billed audio minute for this engine (cost lineage), in USD.
    price_per_minute: float = 0.0
    #: Who spoke when, applied after transcription; None keeps the engine's speaker
    #: streams (mono: one "unknown" speaker). ``from_settings`` builds the configured one.
    diarizer: Diarizer | None = None
    #: Roles for diarized speakers that the sidecar does not give.
    role_assigner: RoleAssigner = field(default_factory=HeuristicRoleAssigner)

    @classmethod
    def from_settings(cls, settings: Settings) -> PipelineOptions:
        return cls(
            utterance_gap_s=settings.utterance_gap_s,
            price_per_minute=settings.price_per_minute(settings.engine),
            diarizer=make_diarizer(settings),
            role_assigner=make_role_assigner(settings),
        )


@dataclass(frozen=True)
class ProcessedCall:
    """A call result plus what the diarizer found (turns, overlaps) and the role of each
    speaker; for evaluation and benchmarks (the warehouse stores the result only)."""

    result: CallResult
    diarization: DiarizationResult | None
    roles: dict[str, RoleGuess]


def process_call(
    path: Path | str,
    *,
    transcriber: CallTranscriber,
    metadata: CallMetadata,
    source_uri: str,
    etag: str | None = None,
    options: PipelineOptions | None = None,
    media_url: str | None = None,
    diarizer: Diarizer | None = None,
) -> CallResult:
    """Analyse one local audio file. Raises a CallscopeError subclass naming the stage.

    ``media_url`` is a short-lived URL of the same recording for cloud engines.
    ``diarizer`` (else ``options.diarizer``; neither: none) splits the transcript into
    speakers and the options' role assigner gives them roles.
    """
    return process_call_detailed(
        path,
        transcriber=transcriber,
        metadata=metadata,
        source_uri=source_uri,
        etag=etag,
        options=options,
        media_url=media_url,
        diarizer=diarizer,
    ).result


def process_call_detailed(
    path: Path | str,
    *,
    transcriber: CallTranscriber,
    metadata: CallMetadata,
    source_uri: str,
    etag: str | None = None,
    options: PipelineOptions | None = None,
    media_url: str | None = None,
    diarizer: Diarizer | None = None,
) -> ProcessedCall:
    """:func:`process_call`, also returning the diarization and the speakers' roles."""
    options = options or PipelineOptions()
    diarizer = diarizer if diarizer is not None else options.diarizer
    t0 = time.perf_counter()
    audio = decode(path, name=source_uri)
    out = transcriber.transcribe_call(audio, metadata, Media(Path(path), media_url))
    params: dict[str, Any] = {**transcriber.params(), "utterance_gap_s": options.utterance_gap_s}
    params.update(audio.notes())  # seconds lost to corrupt packets, channels mixed down
    params.update(  # a transcript the model likely did not understand (e.g. not English)
        confidence_notes(
            (w for s in out.streams for w in s.words),
            model=transcriber.model_name,
            language=out.language,
            label=source_uri,
        )
    )
    streams, method = out.streams, out.diarization
    found: DiarizationResult | None = None
    roles: dict[str, RoleGuess] = {}
    if diarizer is not None:
        try:
            found = diarizer.diarize(audio, out, metadata)
        except CallscopeError:
            raise
        except Exception as exc:  # a library failure inside the diarizer: name the stage
            raise DiarizationError(
                f"{source_uri}: {diarizer.name} diarization failed: {exc}"
            ) from exc
        if found.method != "none":
            roles = assign_roles(found, metadata, options.role_assigner)
        streams = tuple(
            replace(s, role=roles[s.speaker].role) if s.speaker in roles else s
            for s in found.streams
        )
        method = found.method
        params["diarization"] = {**found.params, "roles": options.role_assigner.name}
    utterances = build_utterances(streams, options.utterance_gap_s)
    if roles:
        utterances = tuple(
            replace(u, role_confidence=roles[u.speaker].confidence) if u.speaker in roles else u
            for u in utterances
        )
    loudness = utterance_loudness(utterances, audio)
    metrics = compute_metrics(utterances, audio.duration_s, loudness=loudness)
    billed_s = out.billed_s or audio.duration_s
    elapsed = time.perf_counter() - t0
    log.info(
        "call %s: %.1f s audio, %d ch, %d utterances, speakers by %s in %.1f s",
        metadata.call_id,
        audio.duration_s,
        audio.n_channels,
        len(utterances),
        method,
        elapsed,
    )
    result = CallResult(
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
        diarization=method,
        processing_s=round(elapsed, 3),
        lineage=transcriber.lineage(),
        billed_minutes=round(billed_s / 60, 4),
        cost_usd=round(billed_s / 60 * options.price_per_minute, 6),
        native=out.native,
        engine_job_id=out.job_id,
        metrics=metrics.to_dict(),
    )
    return ProcessedCall(result, found, roles)


def process_ref(
    source: RecordingSource,
    ref: RecordingRef,
    *,
    transcriber: CallTranscriber,
    cache_dir: Path,
    options: PipelineOptions | None = None,
    diarizer: Diarizer | None = None,
    call_id: str | None = None,
    stages: dict[str, Any] | None = None,
    cache_bytes: int = 0,
) -> CallResult:
    """Fetch one listed recording and its sidecar, then run :func:`process_call`.

    The call id is the sidecar's ``call_id``, else ``call_id`` (the id this recording
    already has in the warehouse), else one derived from the source and the full key.
    ``stages`` is the stage lineage to record. A downloaded copy is removed afterwards,
    or kept in ``cache_dir`` up to ``cache_bytes``.
    """
    metadata = read_metadata(source, ref, call_id)
    path = source.fetch(ref, cache_dir)
    try:
        url = source.presign(ref) if transcriber.wants_url else None
        result = process_call(
            path,
            transcriber=transcriber,
            metadata=metadata,
            source_uri=ref.uri,
            etag=ref.etag,
            options=options,
            media_url=url,
            diarizer=diarizer,
        )
    finally:
        release_download(path, cache_dir, cache_bytes)
    return replace(
        result,
        source_modified_at=ref.last_modified,
        sidecar_etag=ref.sidecar_etag or "",
        stages=stages or {},
    )


def read_metadata(
    source: RecordingSource, ref: RecordingRef, call_id: str | None = None
) -> CallMetadata:
    """The call's metadata from its sidecar; the id defaults as :func:`process_ref` says."""
    sidecar = source.read_sidecar(ref)
    return CallMetadata.from_sidecar(sidecar or {}, default_call_id=call_id or ref.default_call_id)


def analyze(uri: str, settings: Settings, transcriber: CallTranscriber | None = None) -> CallResult:
    """Analyse one recording given as a local path or ``s3://bucket/key`` URI."""
    if not uri.startswith("s3://"):
        local = Path(uri.removeprefix("file://")).expanduser()
        if local.is_dir():
            raise ConfigError(
                f"{local} is a directory; analyze takes one recording"
                f" (for a directory of recordings run `callscope ingest {local}`)"
            )
        if not local.parent.is_dir():
            raise SourceError(f"directory {local.parent} does not exist")
    folder, key = split_object_uri(uri)
    source = open_source(folder, settings)
    ref = source.ref(key)
    # One call alone: one model worker with every core (the flow's worker split would
    # leave a core idle on a mono call).
    transcriber = transcriber or make_transcriber(settings.model_copy(update={"workers": 1}))
    return process_ref(
        source,
        ref,
        transcriber=transcriber,
        cache_dir=settings.data_dir / "cache" / "recordings",
        options=PipelineOptions.from_settings(settings),
    )


def analyze_stages(uri: str, settings: Settings) -> dict[str, Any]:
    """Every stage a nightly run applies to one recording -- transcription, speakers,
    metrics, insights, categories, redaction -- with no warehouse: the stored form of the
    result plus its categories, insights and redaction counts (``landing.describe``)."""
    from analytics.enrich.privacy import PrivacyPolicy
    from analytics.enrich.rules import load_rules
    from analytics.insights import make_insights_engine
    from analytics.landing import add_insights, describe
    from analytics.stages import current_lineage

    ruleset = load_rules(settings.rules_path)
    engine = make_insights_engine(settings)
    result = analyze(uri, settings)
    result = replace(result, stages=current_lineage(settings, ruleset.version))
    privacy = PrivacyPolicy.from_settings(settings)
    return describe(add_insights(result, engine), ruleset, settings.redact_pii, privacy)
