"""A loopback fake of AssemblyAI's async transcription API (v2), for the real ``assemblyai`` SDK.

Endpoints, in the shapes AssemblyAI documents:

- ``POST /v2/upload`` (raw bytes) -> ``{"upload_url"}``;
- ``POST /v2/transcript`` (JSON config with ``audio_url``) -> a ``queued`` transcript object
  echoing the request's config; invalid combinations get a 400 ``{"error": ...}``;
- ``GET /v2/transcript/{id}`` -> ``queued`` -> ``processing`` -> ``completed`` | ``error``,
  one step per configurable number of polls. Times are milliseconds, ``audio_duration`` is
  seconds; ``words``/``utterances`` carry ``channel`` ("1", "2"...; utterance ``speaker`` is
  the channel too) with ``multichannel``, or speaker labels "A", "B"... with
  ``speaker_labels``.

Every request needs the ``authorization`` header set to the fake's API key (401
otherwise). Audio is recognised by content: :meth:`FakeAssemblyAI.add_recording` registers a
canned :class:`Canned` transcript under the sha256 of the audio bytes; an uploaded file, or an
``audio_url`` on loopback (e.g. a presigned URL of the local S3 server, which the fake
downloads like the real service would) is matched by its bytes. An ``audio_url`` that cannot
be downloaded ends in ``error`` with AssemblyAI's download error text.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import urllib.request
import uuid
from collections import Counter, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from tests.fakes.loopback import serve, stop

API_KEY = "test-assemblyai-key"

_POSITIVE = {"thank", "thanks", "great", "perfect", "welcome", "absolutely", "good", "works"}
_NEGATIVE = {"sorry", "problem", "twice", "not", "unhappy", "cancel", "angry", "never"}
#: Config fields the API echoes with their defaults when a request leaves them out.
_DEFAULTS = {
    "punctuate": True, "format_text": True, "multichannel": None, "speaker_labels": False,
    "language_detection": False, "sentiment_analysis": False, "entity_detection": False,
    "redact_pii": False, "summarization": False, "webhook_url": None,
}  # fmt: skip


@dataclass(frozen=True)
class CannedWord:
    text: str
    start_ms: int
    end_ms: int
    confidence: float
    turn: int
    channel: int  # 0-based channel the speaker is recorded on
    speaker: str  # "A", "B"... in order of first appearance


@dataclass(frozen=True)
class Canned:
    """What the fake "hears" in one recording; shaped per request when a job completes."""

    words: tuple[CannedWord, ...]
    audio_duration: int
    audio_channels: int
    language_code: str = "en_us"
    language_confidence: float = 0.97
    #: (entity_type, exact text) pairs found in the words.
    entities: tuple[tuple[str, str], ...] = ()
    summary: str | None = None
    #: The job ends in status "error" with this text instead of completing.
    error: str | None = None


def canned_from_turns(
    turns: list[dict[str, Any]],
    *,
    duration_s: float,
    channel_roles: list[str | None] | tuple[str | None, ...] | None = None,
    entities: tuple[tuple[str, str], ...] = (),
    summary: str | None = None,
    error: str | None = None,
) -> Canned:
    """A canned transcript from a sidecar's reference turns (speaker, role, start, end, text)."""
    labels: dict[str, str] = {}
    words: list[CannedWord] = []
    for i, turn in enumerate(turns):
        who = str(turn.get("speaker") or turn.get("role"))
        label = labels.setdefault(who, chr(ord("A") + len(labels)))
        role = turn.get("role")
        channel = (
            list(channel_roles).index(role)
            if channel_roles and role in channel_roles
            else ord(label) - ord("A")
        )
        tokens = str(turn["text"]).split()
        start, end = int(turn["start"] * 1000), int(turn["end"] * 1000)
        slot = (end - start) / max(1, len(tokens))
        for j, token in enumerate(tokens):
            w_start = int(start + j * slot)
            words.append(
                CannedWord(
                    text=token,
                    start_ms=w_start,
                    end_ms=int(w_start + slot * 0.85),
                    confidence=round(0.97 - 0.01 * (len(token) % 5), 3),
                    turn=i,
                    channel=channel,
                    speaker=label,
                )
            )
    n_channels = len(channel_roles) if channel_roles else 1
    return Canned(
        words=tuple(words),
        audio_duration=round(duration_s),
        audio_channels=n_channels,
        entities=entities,
        summary=summary,
        error=error,
    )


@dataclass(frozen=True)
class Scripted:
    """A canned failure answered instead of the next request to one endpoint."""

    status: int
    error: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class _Job:
    id: str
    request: dict[str, Any]
    canned: Canned | None
    error: str | None
    polls: int = 0


def _sentiment(text: str) -> str:
    tokens = {t.strip(".,?!").lower() for t in text.split()}
    if tokens & _NEGATIVE:
        return "NEGATIVE"
    return "POSITIVE" if tokens & _POSITIVE else "NEUTRAL"


class FakeAssemblyAI:
    """The fake service. Use as a context manager; point the SDK at :attr:`base_url`."""

    def __init__(
        self, *, api_key: str = API_KEY, queued_polls: int = 1, processing_polls: int = 1
    ) -> None:
        self.api_key = api_key
        #: GETs a job answers "queued", then "processing", before its final status.
        self.queued_polls = queued_polls
        self.processing_polls = processing_polls
        #: Jobs never leave "processing" (poll-timeout tests).
        self.never_complete = False
        #: Requests per endpoint ("upload", "create", "get"), failed ones included.
        self.counts: Counter[str] = Counter()
        #: (endpoint, monotonic time) of every request, to check backoff delays.
        self.log: list[tuple[str, float]] = []
        #: Request bodies of the transcripts created, in order, with their ids.
        self.created: list[dict[str, Any]] = []
        self.headers_seen: list[dict[str, str]] = []
        self._jobs: dict[str, _Job] = {}
        self._uploads: dict[str, bytes] = {}
        self._by_sha: dict[str, Canned] = {}
        self._script: dict[str, deque[Scripted]] = {}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # --- test setup ------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        assert self._server is not None, "server not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def add_recording(self, audio: bytes | Path, canned: Canned) -> None:
        """Recognise this audio (uploaded, or downloaded from a loopback URL) as ``canned``."""
        data = audio.read_bytes() if isinstance(audio, Path) else audio
        self._by_sha[hashlib.sha256(data).hexdigest()] = canned

    def fail_next(
        self,
        endpoint: str,
        status: int,
        *,
        times: int = 1,
        retry_after: float | None = None,
        error: str | None = None,
    ) -> None:
        """Answer the next ``times`` requests to ``endpoint`` with ``status``."""
        headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
        text = error or ("Too many requests" if status == 429 else "Internal server error")
        with self._lock:
            queue = self._script.setdefault(endpoint, deque())
            queue.extend(Scripted(status, text, headers) for _ in range(times))

    def clear_failures(self) -> None:
        """Drop the failures still queued by :meth:`fail_next`."""
        with self._lock:
            self._script.clear()

    def job_ids(self) -> list[str]:
        return [c["id"] for c in self.created]

    # --- API ----------------------------------------------------------------------------
    def _create(self, body: Any) -> tuple[int, dict[str, Any]]:
        if not isinstance(body, dict) or not isinstance(body.get("audio_url"), str):
            return 400, {"error": "audio_url is required and must be a string"}
        u3 = any(str(m).startswith("universal-3") for m in body.get("speech_models") or [])
        for invalid, message in (
            (body.get("redact_pii") and not body.get("redact_pii_policies"),
             "redact_pii_policies must be provided when redact_pii is true"),
            (bool(body.get("summary_model")) != bool(body.get("summary_type")),
             "summary_model and summary_type must be provided together"),
            (body.get("prompt") and body.get("keyterms_prompt"),
             "prompt and keyterms_prompt cannot be used together"),
            (body.get("word_boost") and u3,
             "word_boost is not supported by universal-3 models; use keyterms_prompt"),
        ):  # fmt: skip
            if invalid:
                return 400, {"error": message}
        canned, error = self._resolve_audio(body["audio_url"])
        job = _Job(uuid.uuid4().hex, dict(body), canned, error)
        with self._lock:
            self._jobs[job.id] = job
            self.created.append({"id": job.id, **body})
        return 200, self._transcript(job, "queued")

    def _resolve_audio(self, url: str) -> tuple[Canned | None, str | None]:
        if url in self._uploads:
            data: bytes | None = self._uploads[url]
        else:
            data = None
            if urlparse(url).hostname in ("127.0.0.1", "localhost"):
                try:
                    with urllib.request.urlopen(url, timeout=10) as resp:
                        data = resp.read()
                except OSError:
                    data = None
        if data is None:
            return None, (
                f"Download error, unable to download {url}. Please make sure the file exists"
                " and is accessible from the internet."
            )
        canned = self._by_sha.get(hashlib.sha256(data).hexdigest())
        if canned is None:
            return None, "Transcoding failed. The fake has no transcript for this audio."
        return canned, None

    def _get(self, job_id: str) -> tuple[int, dict[str, Any]]:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                return 400, {"error": "Transcript lookup error, transcript id not found"}
            job.polls += 1
            polls = job.polls
        if polls <= self.queued_polls:
            return 200, self._transcript(job, "queued")
        if self.never_complete or polls <= self.queued_polls + self.processing_polls:
            return 200, self._transcript(job, "processing")
        error = job.error or (job.canned.error if job.canned else None)
        if error:
            return 200, {**self._transcript(job, "error"), "error": error}
        return 200, self._completed(job)

    def _transcript(self, job: _Job, status: str) -> dict[str, Any]:
        req = job.request
        out: dict[str, Any] = {**_DEFAULTS, **req, "id": job.id, "status": status}
        if not req.get("language_detection") and not req.get("language_code"):
            out["language_code"] = "en_us"
        if req.get("speech_understanding"):
            out["speech_understanding"] = {"request": req["speech_understanding"].get("request")}
        out.update(
            text=None, words=None, utterances=None, confidence=None, audio_duration=None,
            error=None, summary=None, sentiment_analysis_results=None, entities=None,
            webhook_auth=False, speech_model_used=None,
        )  # fmt: skip
        return out

    def _completed(self, job: _Job) -> dict[str, Any]:
        assert job.canned is not None
        canned, req = job.canned, job.request
        multichannel = bool(req.get("multichannel"))
        labels = bool(req.get("speaker_labels"))

        def who(w: CannedWord) -> dict[str, Any]:
            if multichannel:
                return {"speaker": str(w.channel + 1), "channel": str(w.channel + 1)}
            return {"speaker": w.speaker if labels else None, "channel": None}

        words: list[dict[str, Any]] = [
            {"text": w.text, "start": w.start_ms, "end": w.end_ms, "confidence": w.confidence}
            | who(w)
            for w in canned.words
        ]
        turns: dict[int, list[dict[str, Any]]] = {}
        for w, shaped in zip(canned.words, words, strict=True):
            turns.setdefault(w.turn, []).append(shaped)
        utterances = sorted(
            (
                {"text": " ".join(w["text"] for w in ws), "start": ws[0]["start"],
                 "end": ws[-1]["end"], "confidence": sum(w["confidence"] for w in ws) / len(ws),
                 "speaker": ws[0]["speaker"], "channel": ws[0]["channel"], "words": ws}
                for ws in turns.values()
            ),
            key=lambda u: u["start"],
        )  # fmt: skip
        out = self._transcript(job, "completed")
        out.update(
            text=" ".join(w["text"] for w in words),
            words=sorted(words, key=lambda w: w["start"]),
            utterances=utterances if (multichannel or labels) else None,
            confidence=round(sum(w["confidence"] for w in words) / max(1, len(words)), 4),
            audio_duration=canned.audio_duration,
            speech_model_used=(req.get("speech_models") or ["universal-2"])[0],
        )
        if multichannel:
            out["audio_channels"] = canned.audio_channels
        if req.get("language_detection"):
            out["language_code"] = canned.language_code
            out["language_confidence"] = canned.language_confidence
        if req.get("sentiment_analysis"):
            out["sentiment_analysis_results"] = [
                {k: u[k] for k in ("text", "start", "end", "speaker", "channel")}
                | {"sentiment": _sentiment(u["text"]), "confidence": 0.9}
                for u in utterances
            ]
        if req.get("entity_detection"):
            out["entities"] = self._entities(canned, words)
        summarization = ((req.get("speech_understanding") or {}).get("request") or {}).get(
            "summarization"
        )
        if summarization and canned.summary is not None:
            kind, text = summarization.get("summary_type", "bullets"), canned.summary
            section = {"start": 0, "end": words[-1]["end"] if words else 0}
            section |= {"headline": text.split(".")[0]}
            section |= {"bullets": [text]} if kind == "bullets" else {"text": text}
            result = {"status": "success", "summary": [section], "block_summary": text}
            result |= {"summary_type": kind, "effort": summarization.get("effort") or "low"}
            out["speech_understanding"]["response"] = {"summarization": result}
        if req.get("summarization") and canned.summary is not None:
            out["summary"] = f"- {canned.summary}"
        return out

    @staticmethod
    def _entities(canned: Canned, words: list[dict[str, Any]]) -> list[dict[str, Any]]:
        found = []
        plain = [w["text"].strip(".,?!") for w in words]
        for entity_type, text in canned.entities:
            parts = text.split()
            for i in range(len(plain) - len(parts) + 1):
                if plain[i : i + len(parts)] == parts:
                    found.append(
                        {
                            "entity_type": entity_type,
                            "text": text,
                            "start": words[i]["start"],
                            "end": words[i + len(parts) - 1]["end"],
                        }
                    )
        return found

    # --- HTTP ------------------------------------------------------------------------------
    def _handle(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> Any:
        route = path.split("?", 1)[0].rstrip("/")
        if method == "POST" and route == "/v2/upload":
            endpoint = "upload"
        elif method == "POST" and route == "/v2/transcript":
            endpoint = "create"
        elif method == "GET" and route.startswith("/v2/transcript/"):
            endpoint = "get"
        else:
            return 404, {"error": "Not found"}, {}
        with self._lock:
            self.counts[endpoint] += 1
            self.log.append((endpoint, time.monotonic()))
            self.headers_seen.append(headers)
            queue = self._script.get(endpoint)
            scripted = queue.popleft() if queue else None
        if headers.get("authorization") != self.api_key:
            return 401, {"error": "Authentication error, API token missing/invalid"}, {}
        if scripted is not None:
            return scripted.status, {"error": scripted.error}, scripted.headers
        if endpoint == "upload":
            if not raw:
                return 400, {"error": "Upload failed: the request body is empty"}, {}
            url = f"https://cdn.assemblyai.com/upload/{uuid.uuid4()}"
            with self._lock:
                self._uploads[url] = raw
            return 200, {"upload_url": url}, {}
        if endpoint == "create":
            try:
                body = json.loads(raw) if raw else None
            except json.JSONDecodeError:
                return 400, {"error": "Invalid JSON body"}, {}
            return (*self._create(body), {})
        return (*self._get(route.rsplit("/", 1)[1]), {})

    def __enter__(self) -> FakeAssemblyAI:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _body(self) -> bytes:
                if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                    chunks: list[bytes] = []
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            self.rfile.readline()
                            return b"".join(chunks)
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def _serve(self) -> None:
                raw = self._body()
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, body, extra = fake._handle(self.command, self.path, headers, raw)
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for key, value in extra.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(payload)

            do_GET = _serve
            do_POST = _serve

        self._server = serve(Handler)
        return self

    def __exit__(self, *exc: object) -> None:
        stop(self._server)
        self._server = None
