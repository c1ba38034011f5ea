"""Cloud transcription in a flow: submit every call, poll them all in one loop, then build
results. No worker is blocked per call while the cloud engine works."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from analytics.audio import decode
from analytics.config import Settings
from analytics.errors import CallscopeError
from analytics.insights.base import InsightsEngine
from analytics.landing import Processed, add_insights
from analytics.models import CallMetadata, RecordingRef
from analytics.pipeline import PipelineOptions, process_call, read_metadata
from analytics.sources import open_source
from analytics.transcription.assemblyai import make_assemblyai_transcriber
from analytics.transcription.base import Media
from analytics.warehouse import Warehouse
from analytics.warehouse.engine_jobs import WarehouseJobStore

log = logging.getLogger(__name__)

#: (recording, outcome, retryable): the outcome is a processed call or the error.
Outcome = tuple[RecordingRef, Processed | CallscopeError]


def assemblyai_batch(
    cfg: Settings,
    source_uri: str,
    refs: list[RecordingRef],
    wh: Warehouse,
    insights: InsightsEngine | None,
    call_ids: dict[str, str] | None = None,
) -> Iterator[Outcome]:
    """Submit (or resume by stored id) every call, poll all of them together, and yield
    each call's processed result or its error. Runs in the flow: the job store writes the
    warehouse, and the flow is its only writer."""
    aai = make_assemblyai_transcriber(cfg)
    jobs = WarehouseJobStore(wh)
    source = open_source(source_uri, cfg)
    cache = cfg.data_dir / "cache" / "recordings"
    submitted: dict[str, tuple[RecordingRef, CallMetadata, Path]] = {}
    for ref in refs:
        try:
            md = read_metadata(source, ref, (call_ids or {}).get(ref.uri))
            path = source.fetch(ref, cache)
            audio = decode(path, name=ref.uri)
            media = Media(path, source.presign(ref))
            job_id = aai.submit_or_resume(jobs, media, audio, md, source_uri=ref.uri, etag=ref.etag)
        except CallscopeError as exc:
            yield ref, exc
            continue
        submitted[job_id] = (ref, md, path)
    log.info("assemblyai: %d calls submitted or resumed; polling", len(submitted))
    results: dict[str, Any] = aai.poll(list(submitted), jobs=jobs) if submitted else {}
    options = PipelineOptions.from_settings(cfg)
    for job_id, transcript in results.items():
        ref, md, path = submitted[job_id]
        if isinstance(transcript, CallscopeError):
            yield ref, transcript
            continue
        try:
            result = process_call(
                path,
                transcriber=aai.completed(transcript, md),
                metadata=md,
                source_uri=ref.uri,
                etag=ref.etag,
                options=options,
            )
        except CallscopeError as exc:
            yield ref, exc
            continue
        yield ref, add_insights(result, insights)
