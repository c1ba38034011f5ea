"""AssemblyAI (cloud) transcription behind the ``CallTranscriber`` protocol.

Optional: needs ``pip install 'callscope[assemblyai]'`` and ``CALLSCOPE_ASSEMBLYAI_API_KEY``.

What a call's request looks like:

- audio: the presigned S3 URL (``media.url``) when there is one, so nothing is re-uploaded;
  otherwise the local file is uploaded once (``POST /v2/upload``);
- stereo (two or more channels that are not one signal copied) -> ``multichannel``: one
  speaker stream per channel, role from the sidecar's ``channel_roles`` (API channel "1"
  is index 0); mono -> ``speaker_labels`` (+ ``speakers_expected``): one stream per label
  "A", "B"..., roles left unknown (diarization "engine");
- language: a forced code, else ``language_detection``;
- custom vocabulary: ``keyterms_prompt``, the current parameter. ``word_boost`` is the
  legacy one, rejected by the Universal-3 models; ``vocabulary_param="word_boost"`` sends
  it for older models;
- PII redaction (``redact_pii`` + policies, replaced by entity name), sentiment analysis,
  entity detection, and a summary from Speech Understanding
  (``speech_understanding.request.summarization``; the older ``summarization`` /
  ``summary_model`` parameters are deprecated and LeMUR is gone).

For the nightly flow the work is split so that nothing waits per call: :meth:`submit`
(or :meth:`submit_or_resume` with a job store) returns a transcript id at once,
:meth:`poll` runs one loop over every pending id, and :meth:`completed` turns a finished
transcript into a ``CallTranscriber`` that ``process_call`` runs without calling the API.
:meth:`transcribe_call` does all three for one call (the CLI's ``analyze``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlparse

from analytics.audio import DecodedAudio
from analytics.config import Settings
from analytics.errors import CallscopeError, ConfigError, TranscriptionError
from analytics.models import CallMetadata
from analytics.transcription.assemblyai_jobs import (
    ApiClient,
    JobStore,
    TransientTranscriptionError,
    engine_transcript,
    params_key,
    redact_urls,
)
from analytics.transcription.base import EngineTranscript, Media
from analytics.transcription.channels import is_fake_stereo

log = logging.getLogger(__name__)

__all__ = [
    "AssemblyAIOptions",
    "AssemblyAITranscriber",
    "CompletedTranscriber",
    "JobStore",
    "TransientTranscriptionError",
    "engine_transcript",
]

EXTRA_HINT = "pip install 'callscope[assemblyai]'"
#: Lineage model name when no speech model is chosen (the API picks its default).
DEFAULT_MODEL = "universal"
#: PII types redacted when redaction is on: what a support call leaks.
# fmt: off
DEFAULT_PII_POLICIES = (
    "person_name", "phone_number", "email_address", "location_address", "date_of_birth",
    "credit_card_number", "credit_card_cvv", "credit_card_expiration", "banking_information",
    "account_number", "us_social_security_number", "password",
)
# fmt: on


def _sdk() -> Any:
    try:
        import assemblyai
    except ImportError as exc:
        raise ConfigError(f"engine=assemblyai needs the AssemblyAI SDK: {EXTRA_HINT}") from exc
    return assemblyai


@dataclass(frozen=True)
class AssemblyAIOptions:
    """Options for AssemblyAI. Everything that shapes the transcript lands in the lineage
    (``params()``); the key, endpoint and timing knobs do not."""

    #: API key; never logged, never part of the lineage.
    api_key: str | None = field(default=None, repr=False, compare=False)
    #: API root; https://api.eu.assemblyai.com keeps audio and transcripts in the EU.
    base_url: str = "https://api.assemblyai.com"
    #: Speech model sent as ``speech_models=[...]``; None lets the API pick its default.
    speech_model: str | None = None
    #: Mono calls: ask AssemblyAI to tell speakers apart.
    speaker_labels: bool = True
    #: Mono calls: how many speakers to expect; None lets the API decide.
    speakers_expected: int | None = None
    #: Detect the language (ignored when ``language_code`` forces one).
    language_detection: bool = True
    #: Force a language code ("en", "en_us", "de"...); None detects or uses the API default.
    language_code: str | None = None
    #: Custom vocabulary: product and company names, phrases of up to six words.
    word_boost: tuple[str, ...] = ()
    #: Request field for the vocabulary: "keyterms_prompt" (current models) or the legacy
    #: "word_boost" (older models; Universal-3 rejects it).
    vocabulary_param: Literal["keyterms_prompt", "word_boost"] = "keyterms_prompt"
    #: Have AssemblyAI redact PII in the returned text (replaced by the entity name).
    redact_pii: bool = False
    #: PII types redacted when ``redact_pii`` is on.
    pii_policies: tuple[str, ...] = DEFAULT_PII_POLICIES
    #: Per-sentence sentiment (``native["sentiment"]``).
    sentiment: bool = True
    #: Entity detection (``native["entities"]``).
    entities: bool = True
    #: A call summary from Speech Understanding (``native["summary"]``).
    summarization: bool = True
    #: Speech Understanding summary format: "paragraph" or "bullets".
    summary_type: Literal["paragraph", "bullets"] = "paragraph"
    #: Where AssemblyAI posts completion notices (the flow polls; usually None).
    webhook_url: str | None = field(default=None, compare=False)
    #: Seconds between polling rounds over all pending transcripts.
    poll_interval_s: float = field(default=3.0, compare=False)
    #: Give up polling after this long: a transient error, the next run resumes the job.
    poll_timeout_s: float = field(default=1800.0, compare=False)
    #: Retries per request on 408/429/5xx and network errors.
    max_retries: int = field(default=4, compare=False)
    #: First backoff delay (s), doubled per retry, jittered; Retry-After wins when sent.
    retry_base_s: float = field(default=1.0, compare=False)
    #: Longest wait between retries (s), also the cap on Retry-After.
    retry_max_s: float = field(default=60.0, compare=False)
    #: Timeout of each HTTP request (connect, each read and write), seconds.
    http_timeout_s: float = field(default=30.0, compare=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> AssemblyAIOptions:
        key = settings.assemblyai_api_key
        return cls(
            api_key=key.get_secret_value() if key is not None else None,
            base_url=settings.assemblyai_base_url,
            speech_model=settings.assemblyai_speech_model,
            speaker_labels=settings.assemblyai_speaker_labels,
            speakers_expected=settings.assemblyai_speakers_expected,
            language_detection=settings.assemblyai_language_detection,
            language_code=settings.language,
            word_boost=tuple(settings.assemblyai_word_boost),
            redact_pii=settings.assemblyai_redact_pii,
            sentiment=settings.assemblyai_sentiment,
            entities=settings.assemblyai_entities,
            summarization=settings.assemblyai_summarization,
            poll_interval_s=settings.assemblyai_poll_interval_s,
            poll_timeout_s=settings.assemblyai_poll_timeout_s,
            max_retries=settings.assemblyai_max_retries,
        )


class AssemblyAITranscriber:
    """AssemblyAI's async API as a ``CallTranscriber`` (see the module docstring)."""

    engine = "assemblyai"
    wants_url = True

    def __init__(self, options: AssemblyAIOptions | None = None) -> None:
        self.options = options or AssemblyAIOptions()
        if not self.options.api_key:
            raise ConfigError(
                "engine=assemblyai needs an API key: set CALLSCOPE_ASSEMBLYAI_API_KEY"
            )
        self._aai = _sdk()
        self.api = ApiClient(
            self._aai,
            api_key=self.options.api_key,
            base_url=self.options.base_url,
            http_timeout_s=self.options.http_timeout_s,
            max_retries=self.options.max_retries,
            retry_base_s=self.options.retry_base_s,
            retry_max_s=self.options.retry_max_s,
        )
        self._sdk_transcriber = self._aai.Transcriber(client=self.api.client)

    @property
    def model_name(self) -> str:
        return self.options.speech_model or DEFAULT_MODEL

    def params(self) -> dict[str, Any]:
        o = self.options
        return {
            "speech_model": self.model_name,
            "stereo": "multichannel",
            "speaker_labels": o.speaker_labels,
            "speakers_expected": o.speakers_expected,
            "language": o.language_code or ("detect" if o.language_detection else "default"),
            "vocabulary": {o.vocabulary_param: list(o.word_boost)} if o.word_boost else None,
            "redact_pii": list(o.pii_policies) if o.redact_pii else False,
            "sentiment": o.sentiment,
            "entities": o.entities,
            "summary": o.summary_type if o.summarization else None,
        }

    def params_key(self) -> str:
        """Identity of the options, for the job store."""
        return params_key(self.engine, self.model_name, self.params())

    def lineage(self) -> dict[str, Any]:
        return {"api": "v2", "sdk": str(self._aai.__version__), "base_url": self.options.base_url}

    # --- submit --------------------------------------------------------------------------
    def request_config(self, audio: DecodedAudio) -> Any:
        """The SDK ``TranscriptionConfig`` for one decoded call."""
        o, aai = self.options, self._aai
        kwargs: dict[str, Any] = {}
        if audio.n_channels >= 2 and not is_fake_stereo(audio):
            kwargs["multichannel"] = True
        elif o.speaker_labels:
            kwargs["speaker_labels"] = True
            if o.speakers_expected:
                kwargs["speakers_expected"] = o.speakers_expected
        if o.language_code:
            kwargs["language_code"] = o.language_code
        elif o.language_detection:
            kwargs["language_detection"] = True
        if o.speech_model:
            kwargs["speech_models"] = [o.speech_model]
        if o.word_boost:
            kwargs[o.vocabulary_param] = list(o.word_boost)
        if o.redact_pii:
            kwargs["redact_pii"] = True
            kwargs["redact_pii_policies"] = [aai.PIIRedactionPolicy(p) for p in o.pii_policies]
            kwargs["redact_pii_sub"] = aai.PIISubstitutionPolicy.entity_name
        if o.sentiment:
            kwargs["sentiment_analysis"] = True
        if o.entities:
            kwargs["entity_detection"] = True
        if o.summarization:
            summarization = {"summary_type": o.summary_type}
            kwargs["speech_understanding"] = {"request": {"summarization": summarization}}
        if o.webhook_url:
            kwargs["webhook_url"] = o.webhook_url
        return aai.TranscriptionConfig(**kwargs)

    def submit(self, media: Media, audio: DecodedAudio, metadata: CallMetadata) -> str:
        """Start transcribing one call; returns AssemblyAI's transcript id at once."""
        config = self.request_config(audio)
        url = media.url if media.url and urlparse(media.url).scheme in ("http", "https") else None
        if url is None:
            path = media.path
            url = self.api.call(
                f"uploading {path.name}", lambda: self._sdk_transcriber.upload_file(path)
            )
            log.info("call %s: uploaded %s to AssemblyAI", metadata.call_id, path.name)
        audio_url = url
        transcript = self.api.call(
            f"submitting call {metadata.call_id}",
            lambda: self._sdk_transcriber.submit(audio_url, config),
        )
        job_id = str(transcript.id)
        mode = (
            "multichannel" if config.multichannel else "labels" if config.speaker_labels else "mono"
        )
        log.info("call %s: submitted AssemblyAI transcript %s (%s)", metadata.call_id, job_id, mode)
        return job_id

    def submit_or_resume(
        self,
        jobs: JobStore,
        media: Media,
        audio: DecodedAudio,
        metadata: CallMetadata,
        *,
        source_uri: str,
        etag: str | None,
    ) -> str:
        """The recorded job for this object version and options, else a new, recorded one.

        A job that ended in error is not resubmitted until the object changes (new ETag):
        raises TranscriptionError with AssemblyAI's error text instead.
        """
        key = self.params_key()
        job = jobs.get(source_uri, etag, key)
        if job is not None and job.resumable:
            log.info(
                "call %s: resuming AssemblyAI transcript %s (%s)",
                metadata.call_id,
                job.job_id,
                job.status,
            )
            return job.job_id
        if job is not None:
            raise TranscriptionError(
                f"AssemblyAI transcript {job.job_id} failed for this version of {source_uri}:"
                f" {job.error}; it is resubmitted only when the object changes (new ETag)"
            )
        job_id = self.submit(media, audio, metadata)
        jobs.record_submit(source_uri, etag, key, job_id)
        return job_id

    # --- poll ----------------------------------------------------------------------------
    def poll(
        self,
        ids: Iterable[str],
        timeout_s: float | None = None,
        *,
        jobs: JobStore | None = None,
    ) -> dict[str, dict[str, Any] | CallscopeError]:
        """Wait for transcripts: one loop over every pending id, ``poll_interval_s`` apart.

        Returns, per id, the completed transcript JSON or an error: a TranscriptionError
        with AssemblyAI's text for status "error" (final), a transient one for ids still
        queued or processing after ``timeout_s`` (default ``poll_timeout_s``). With
        ``jobs``, final statuses are recorded so a later run resumes or skips them.
        """
        pending = list(dict.fromkeys(ids))
        timeout = self.options.poll_timeout_s if timeout_s is None else timeout_s
        deadline = time.monotonic() + timeout
        results: dict[str, dict[str, Any] | CallscopeError] = {}
        last: dict[str, str] = {}
        while True:
            for tid in list(pending):
                try:
                    data = self.api.get_transcript(tid)
                except CallscopeError as exc:
                    last[tid] = str(exc)
                    if not exc.transient:
                        results[tid] = exc
                        pending.remove(tid)
                    continue
                status = str(data.get("status"))
                last[tid] = status
                if status not in ("completed", "error"):
                    continue
                pending.remove(tid)
                error = None
                if status == "error":
                    error = redact_urls(str(data.get("error") or "no reason given"))
                    results[tid] = TranscriptionError(
                        f"AssemblyAI transcript {tid} failed: {error}"
                    )
                else:
                    results[tid] = data
                if jobs is not None:
                    jobs.update(tid, status, error)
            remaining = deadline - time.monotonic()
            if not pending or remaining <= 0:
                break
            time.sleep(min(self.options.poll_interval_s, remaining))
        for tid in pending:
            seen = last.get(tid, "not reached")
            results[tid] = TransientTranscriptionError(
                f"AssemblyAI transcript {tid}: poll timeout after {timeout:g} s (last: {seen});"
                " the next run resumes it"
            )
            if jobs is not None and seen in ("queued", "processing"):
                jobs.update(tid, seen)
            log.warning("AssemblyAI transcript %s not done after %g s (%s)", tid, timeout, seen)
        return results

    # --- results -------------------------------------------------------------------------
    def to_engine_transcript(
        self, transcript: dict[str, Any], metadata: CallMetadata
    ) -> EngineTranscript:
        """Speaker streams, language, billing and extras from a completed transcript."""
        return engine_transcript(transcript, metadata)

    def completed(self, transcript: dict[str, Any], metadata: CallMetadata) -> CompletedTranscriber:
        """A finished transcript as a CallTranscriber for ``process_call``."""
        return CompletedTranscriber(self, engine_transcript(transcript, metadata))

    def transcribe_call(
        self, audio: DecodedAudio, metadata: CallMetadata, media: Media
    ) -> EngineTranscript:
        """Submit one call and wait for it (the CLI path; the flow uses the split API)."""
        job_id = self.submit(media, audio, metadata)
        result = self.poll([job_id])[job_id]
        if isinstance(result, CallscopeError):
            raise result
        return engine_transcript(result, metadata)


@dataclass(frozen=True)
class CompletedTranscriber:
    """A finished AssemblyAI job seen as a ``CallTranscriber``: ``process_call`` decodes,
    builds utterances and metrics around it without another API call."""

    source: AssemblyAITranscriber
    transcript: EngineTranscript
    wants_url: bool = False

    @property
    def engine(self) -> str:
        return self.source.engine

    @property
    def model_name(self) -> str:
        return self.source.model_name

    def params(self) -> dict[str, Any]:
        return self.source.params()

    def lineage(self) -> dict[str, Any]:
        return self.source.lineage()

    def transcribe_call(
        self, audio: DecodedAudio, metadata: CallMetadata, media: Media
    ) -> EngineTranscript:
        return self.transcript


def make_assemblyai_transcriber(settings: Settings) -> AssemblyAITranscriber:
    """Registry factory: the engine configured by ``CALLSCOPE_ASSEMBLYAI_*``."""
    return AssemblyAITranscriber(AssemblyAIOptions.from_settings(settings))
