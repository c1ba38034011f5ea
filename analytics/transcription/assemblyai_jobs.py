"""AssemblyAI jobs: the HTTP client with retries, the warehouse record that submits a call
once and resumes it by id, and the reading of a finished job's transcript JSON.

**Retries.** The SDK (1.x) retries nothing: a 429/5xx raises ``TranscriptError`` carrying
the status code, a network failure raises httpx's error. :class:`ApiClient` wraps every
call: 408/429/5xx and network errors are retried up to ``max_retries`` times with
exponential backoff (jittered), honouring ``Retry-After``; then the error is transient.
Other 4xx are final, except 401/403 (a wrong key is fixed in settings, after which the call
should be retried, so it is reported as transient). A retried create after a 5xx may start
a second job if the first request did reach AssemblyAI; 429s never do.

**Jobs.** A row of ``engine_jobs`` (migration 4) maps one object version and one set of
options, (engine, source_uri, etag, params_key), to the engine's job id. It is written
right after a submit and updated as polling sees the job's status, so a run that dies (or
gives up polling) leaves the id behind and the next run resumes that job instead of paying
for a second one.

A job that ended in ``error`` is not resubmitted for the same object version: AssemblyAI's
errors (unreadable audio, no speech, unsupported language) repeat on the same bytes. A
changed object (new ETag) is a new key, so it is submitted again; the warehouse store's
``forget`` clears a key by hand (e.g. after an expired presigned URL made the download
fail).

The engine sees the record through the small :class:`JobStore` protocol; the warehouse
implementation writes from the flow (the single writer), not from task threads.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import logging
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from analytics.align import SpeakerStream
from analytics.errors import TranscriptionError
from analytics.models import CallMetadata, Word
from analytics.transcription.base import EngineTranscript
from analytics.transcription.channels import UNKNOWN_SPEAKER

log = logging.getLogger(__name__)

T = TypeVar("T")

#: HTTP statuses worth retrying: timeouts, throttling, server errors.
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_URL_QUERY = re.compile(r"(https?://[^\s?]+)\?\S*")


class TransientTranscriptionError(TranscriptionError):
    """A transcription failure worth retrying later: throttling, network, poll timeout."""

    transient = True


def redact_urls(text: str) -> str:
    """Drop query strings (presigned URL signatures) from text bound for logs and errors."""
    return _URL_QUERY.sub(r"\1?<redacted>", text)


def _retry_after_s(value: str | None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class ApiClient:
    """The SDK's own ``Client`` for one API root and key, with retries around each call.

    The client is owned (``aai.Client(settings=...)``); the SDK's global ``aai.settings``
    are never touched, so several configurations can live in one process.
    """

    def __init__(
        self,
        aai: Any,
        *,
        api_key: str,
        base_url: str,
        http_timeout_s: float,
        max_retries: int,
        retry_base_s: float,
        retry_max_s: float,
    ) -> None:
        import httpx  # a dependency of the SDK, present whenever the SDK is

        settings = aai.Settings(
            api_key=api_key, base_url=base_url.rstrip("/"), http_timeout=http_timeout_s
        )
        self.client = aai.Client(settings=settings)
        self.max_retries = max_retries
        self.retry_base_s = retry_base_s
        self.retry_max_s = retry_max_s
        self._api_error: type[Exception] = aai.types.AssemblyAIError
        self._transcript_error: type[Exception] = aai.types.TranscriptError
        self._network_error: type[Exception] = httpx.TransportError
        # The SDK's errors carry the status code but not the headers: a response hook
        # keeps this thread's last Retry-After (hooks run in the calling thread).
        self._local = threading.local()
        hooks = self.client.http_client.event_hooks
        hooks["response"] = [*hooks.get("response", []), self._remember]
        self.client.http_client.event_hooks = hooks

    def _remember(self, response: Any) -> None:
        self._local.retry_after = response.headers.get("retry-after")

    def _delay(self, attempt: int) -> float:
        hinted = _retry_after_s(getattr(self._local, "retry_after", None))
        if hinted is not None:
            return min(hinted, self.retry_max_s)
        backoff = min(self.retry_base_s * 2**attempt, self.retry_max_s)
        return backoff * random.uniform(0.5, 1.0)

    def call(self, what: str, fn: Callable[[], T]) -> T:
        """Run one SDK call, retrying throttling, server and network errors."""
        attempt = 0
        while True:
            self._local.retry_after = None
            try:
                return fn()
            except self._api_error as exc:
                status = getattr(exc, "status_code", None)
                reason = redact_urls(str(exc))
                if status in (401, 403):
                    raise TransientTranscriptionError(
                        f"AssemblyAI {what}: HTTP {status}, authentication failed; check"
                        " CALLSCOPE_ASSEMBLYAI_API_KEY"
                    ) from exc
                if status not in RETRY_STATUSES:
                    raise TranscriptionError(f"AssemblyAI {what}: {reason}") from exc
                reason = f"HTTP {status}"
            except self._network_error as exc:
                reason = f"network error ({type(exc).__name__}: {redact_urls(str(exc))})"
            if attempt >= self.max_retries:
                raise TransientTranscriptionError(
                    f"AssemblyAI {what}: {reason} after {attempt + 1} attempts"
                )
            delay = self._delay(attempt)
            attempt += 1
            log.warning(
                "AssemblyAI %s: %s; retry %d/%d in %.2f s",
                what,
                reason,
                attempt,
                self.max_retries,
                delay,
            )
            time.sleep(delay)

    def get_transcript(self, transcript_id: str) -> dict[str, Any]:
        """``GET /v2/transcript/{id}`` as the raw JSON object (with retries).

        Raw rather than the SDK's ``TranscriptResponse``: its strict enums (entity types,
        speech models) would turn a finished transcript into a parse error whenever the
        API adds a value.
        """

        def fetch() -> dict[str, Any]:
            resp = self.client.http_client.get(f"/v2/transcript/{transcript_id}")
            if resp.status_code != 200:
                try:
                    text = str(resp.json().get("error"))
                except ValueError:
                    text = resp.text[:200]
                raise self._transcript_error(
                    f"failed to retrieve transcript {transcript_id}: {text}", resp.status_code
                )
            try:
                data = resp.json()
            except ValueError as exc:
                raise self._transcript_error("the API answered invalid JSON", 502) from exc
            if not isinstance(data, dict):
                raise self._transcript_error("the API answered a non-object", 502)
            return data

        return self.call(f"polling transcript {transcript_id}", fetch)


#: Statuses after which a job never changes again.
TERMINAL = ("completed", "error")


def params_key(engine: str, model: str, params: dict[str, Any]) -> str:
    """Identity of the options that shape an engine's output (stable across runs)."""
    payload = json.dumps([engine, model, params], sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class EngineJob:
    """One cloud job as last recorded."""

    engine: str
    source_uri: str
    etag: str
    params_key: str
    job_id: str
    status: str
    submitted_at: datetime
    updated_at: datetime
    error: str | None

    @property
    def resumable(self) -> bool:
        """True when polling the job can still give a transcript."""
        return self.status != "error"


class JobStore(Protocol):
    """Where submitted jobs are remembered (one per object version and options). The
    engine knows no warehouse: the flow hands it one (``analytics.warehouse.engine_jobs``)."""

    def get(self, source_uri: str, etag: str | None, key: str) -> EngineJob | None:
        """The job recorded for this object version and options, if any."""
        ...

    def record_submit(
        self, source_uri: str, etag: str | None, key: str, job_id: str, status: str = "queued"
    ) -> None:
        """Remember a job right after it was submitted."""
        ...

    def update(self, job_id: str, status: str, error: str | None = None) -> None:
        """Record the last status polling saw (and the engine's error text)."""
        ...


# --- a completed job's JSON -> EngineTranscript ---------------------------------------------
def _s(ms: Any) -> float | None:
    """Milliseconds (the API's unit) to seconds."""
    return round(float(ms) / 1000.0, 3) if ms is not None else None


def _word(w: dict[str, Any]) -> Word:
    start, end = _s(w.get("start")) or 0.0, _s(w.get("end")) or 0.0
    return Word(str(w.get("text", "")), start, end, float(w.get("confidence") or 0.0))


def _timed(item: dict[str, Any], *keys: str) -> dict[str, Any]:
    """``keys`` of an API object, with its start/end in seconds."""
    return {k: item.get(k) for k in keys} | {
        "start": _s(item.get("start")),
        "end": _s(item.get("end")),
    }


def _grouped(data: dict[str, Any], key: str) -> dict[str, list[Word]]:
    """Words per channel or speaker label: from ``words`` when every word carries the label,
    else from ``utterances`` (whose words inherit the utterance's label)."""
    words = data.get("words") or []
    if words and all(w.get(key) is not None for w in words):
        labelled = [(str(w[key]), w) for w in words]
    else:
        labelled = [
            (str(w.get(key) or u.get(key)), w)
            for u in data.get("utterances") or []
            for w in u.get("words") or []
        ]
    out: dict[str, list[Word]] = {}
    for label, w in labelled:
        out.setdefault(label, []).append(_word(w))
    return out


def _channel_streams(data: dict[str, Any], metadata: CallMetadata) -> tuple[SpeakerStream, ...]:
    """One stream per channel; API channels count from "1", streams from ch0."""
    indexes = {int(c) - 1: ws for c, ws in _grouped(data, "channel").items() if c.isdigit()}
    n = max(int(data.get("audio_channels") or 0), max(indexes, default=-1) + 1, 1)
    roles = metadata.channel_roles
    if roles is not None and len(roles) != n:
        log.warning(
            "call %s: channel_roles %s does not match %d channels; roles left unknown",
            metadata.call_id,
            list(roles),
            n,
        )
        roles = None
    return tuple(
        SpeakerStream(f"ch{i}", roles[i] if roles else None, indexes.get(i, []), channel=i)
        for i in range(n)
    )


def _native(data: dict[str, Any]) -> dict[str, Any]:
    """Sentiment, entities and the summary (Speech Understanding, else the legacy field)."""
    native: dict[str, Any] = {}
    if (sentiment := data.get("sentiment_analysis_results")) is not None:
        keys = ("text", "sentiment", "confidence", "speaker", "channel")
        native["sentiment"] = [_timed(s, *keys) for s in sentiment]
    if (entities := data.get("entities")) is not None:
        native["entities"] = [_timed(e, "entity_type", "text") for e in entities]
    understanding = (data.get("speech_understanding") or {}).get("response") or {}
    result = understanding.get("summarization") or {}
    sections = [
        _timed(sec, "headline") | {"text": sec.get("text") or " ".join(sec.get("bullets") or [])}
        for sec in result.get("summary") or []
    ]
    summary = result.get("block_summary") or " ".join(s["text"] for s in sections if s["text"])
    if summary or data.get("summary"):
        native["summary"] = summary or data.get("summary")
    if sections:
        native["summary_sections"] = sections
    if data.get("speech_model_used"):
        native["speech_model_used"] = data["speech_model_used"]
    return native


def engine_transcript(data: dict[str, Any], metadata: CallMetadata) -> EngineTranscript:
    """A completed AssemblyAI transcript (raw JSON) as an ``EngineTranscript``.

    Times go from milliseconds to seconds. Multichannel transcripts give one stream per
    channel ("ch0", "ch1"...) with roles from ``metadata.channel_roles``; speaker-labelled
    ones one stream per label ("A", "B"...) with no role yet; otherwise one "unknown".
    """
    if data.get("status") != "completed":
        raise TranscriptionError(
            f"AssemblyAI transcript {data.get('id')} is {data.get('status')}, not completed"
        )
    words = data.get("words") or []
    utterances = data.get("utterances") or []
    streams: tuple[SpeakerStream, ...]
    if data.get("multichannel") or any(w.get("channel") is not None for w in words):
        streams, diarization = _channel_streams(data, metadata), "channels"
    elif any(x.get("speaker") is not None for x in [*words, *utterances]):
        by_label = _grouped(data, "speaker")
        labels = sorted(by_label, key=lambda s: (len(s), s))
        streams = tuple(SpeakerStream(label, None, by_label[label]) for label in labels)
        diarization = "engine"
    else:
        streams = (SpeakerStream(UNKNOWN_SPEAKER, None, [_word(w) for w in words]),)
        diarization = "none"
    confidence = data.get("language_confidence")
    return EngineTranscript(
        streams=streams,
        language=data.get("language_code"),
        language_prob=float(confidence) if confidence is not None else None,
        diarization=diarization,
        billed_s=float(data.get("audio_duration") or 0.0),
        native=_native(data),
        job_id=str(data["id"]) if data.get("id") else None,
    )
