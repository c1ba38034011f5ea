"""Plain-data contracts between stages. Everything here serializes to JSON."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from analytics.errors import MetadataError

ROLES = ("agent", "customer")
DIRECTIONS = ("inbound", "outbound", "internal")


@dataclass(frozen=True)
class Word:
    """One recognised word; times in seconds from the start of the recording."""

    word: str
    start: float
    end: float
    prob: float


@dataclass(frozen=True)
class Utterance:
    """A stretch of one speaker's speech, built from words."""

    speaker: str
    role: str | None
    start: float
    end: float
    text: str
    words: tuple[Word, ...]
    #: Source channel for stereo recordings; None for mono.
    channel: int | None = None
    #: How sure the role is, in [0, 1]: 1.0 from the sidecar's channel_roles, a heuristic
    #: score for diarized speakers, None when no role was assigned.
    role_confidence: float | None = None

    @property
    def confidence(self) -> float:
        """Mean word probability (0 when the utterance has no words)."""
        return sum(w.prob for w in self.words) / len(self.words) if self.words else 0.0


@dataclass(frozen=True)
class CallMetadata:
    """What the sidecar ``<call>.json`` says about a call. Every field is optional."""

    call_id: str
    started_at: datetime | None = None
    agent_id: str | None = None
    direction: str | None = None
    channel_roles: tuple[str, ...] | None = None
    #: Everything else in the sidecar (scenario, reference transcript, CRM fields...).
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_sidecar(cls, data: dict[str, Any], default_call_id: str) -> CallMetadata:
        """Build metadata from a parsed sidecar, validating the fields we rely on."""
        if not isinstance(data, dict):
            raise MetadataError(f"sidecar must be a JSON object, got {type(data).__name__}")
        started = data.get("started_at")
        started_at = None
        if started is not None and started != "":
            if not isinstance(started, str):
                raise MetadataError(
                    f"sidecar started_at {started!r} must be an ISO-8601 timestamp string"
                    " such as 2026-11-20T09:14:03+00:00"
                )
            try:
                started_at = datetime.fromisoformat(started.replace("Z", "+00:00"))
            except ValueError as exc:
                raise MetadataError(
                    f"sidecar started_at {started!r} is not an ISO-8601 timestamp"
                    " (e.g. 2026-11-20T09:14:03+00:00)"
                ) from exc
        roles = data.get("channel_roles")
        if roles is not None:
            if not isinstance(roles, list) or not all(r is None or r in ROLES for r in roles):
                raise MetadataError(
                    f"sidecar channel_roles {roles!r} must be a list of {ROLES} or null"
                )
            named = [r for r in roles if r is not None]
            if len(named) != len(set(named)):
                raise MetadataError(
                    f"sidecar channel_roles {roles!r} gives one role to two channels; each"
                    ' channel needs its own role (e.g. ["customer", "agent"]) or null'
                )
            roles = tuple(roles)
        for key in ("call_id", "agent_id", "direction"):
            value = data.get(key)
            if isinstance(value, bool) or not isinstance(value, str | int | None):
                raise MetadataError(f"sidecar {key} {value!r} must be a string")
        direction = data.get("direction")
        if isinstance(direction, str):
            direction = direction.strip().lower() or None
        if direction is not None and direction not in DIRECTIONS:
            raise MetadataError(
                f"sidecar direction {direction!r} must be one of {DIRECTIONS} or left out"
            )
        known = {"call_id", "started_at", "agent_id", "direction", "channel_roles"}
        return cls(
            call_id=str(data.get("call_id") or default_call_id),
            started_at=started_at,
            agent_id=str(data["agent_id"]) if data.get("agent_id") is not None else None,
            direction=direction,
            channel_roles=roles,
            extra={k: v for k, v in data.items() if k not in known},
        )


def derived_call_id(uri: str, key: str) -> str:
    """A call id for a recording whose sidecar names none: a readable slug of the full
    object key plus a short hash of the recording's URI (source + key), so ``a/0001.wav``
    and ``b/0001.wav`` -- or the same key in two buckets -- are two calls, and the same
    object always gets the same id."""
    stem = key.rsplit(".", 1)[0] if "." in key.rsplit("/", 1)[-1] else key
    slug = re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-")[-60:].lstrip("-") or "call"
    return f"{slug}-{hashlib.sha256(uri.encode()).hexdigest()[:8]}"


@dataclass(frozen=True)
class RecordingRef:
    """One recording in a source, as listed (nothing downloaded yet)."""

    uri: str
    key: str
    etag: str
    size: int
    last_modified: datetime | None = None
    sidecar_key: str | None = None
    #: Version of the sidecar (its ETag, or a content hash for local files); None when
    #: there is no sidecar. Part of what discovery treats as "known".
    sidecar_etag: str | None = None

    @property
    def stem(self) -> str:
        """File name without directories and extension (display only, not an identity)."""
        name = self.key.rsplit("/", 1)[-1]
        return name.rsplit(".", 1)[0] if "." in name else name

    @property
    def default_call_id(self) -> str:
        """The call id when the sidecar names none (see :func:`derived_call_id`)."""
        return derived_call_id(self.uri, self.key)

    @property
    def version(self) -> tuple[str, str, str]:
        """What discovery compares: the object, its version and its sidecar's version."""
        return (self.uri, self.etag, self.sidecar_etag or "")


@dataclass(frozen=True)
class CallResult:
    """Everything the pipeline learned about one recording."""

    call_id: str
    source_uri: str
    etag: str | None
    duration_s: float
    channels: int
    sample_rate: int
    language: str | None
    language_prob: float | None
    engine: str
    model: str
    pipeline_version: str
    params: dict[str, Any]
    metadata: CallMetadata
    utterances: tuple[Utterance, ...]
    #: How speakers were told apart: "channels" (stereo), "clustering" (mono, voice
    #: embeddings), "engine" (the engine's labels), "pyannote" or "none" (one speaker).
    diarization: str = "none"
    processing_s: float = 0.0
    created_at: datetime = field(default_factory=lambda: datetime.now().astimezone())
    #: What produced the output beyond engine/model names (model checksum, API version).
    lineage: dict[str, Any] = field(default_factory=dict)
    #: Audio minutes the engine bills for, and their cost at the configured price.
    billed_minutes: float = 0.0
    cost_usd: float = 0.0
    #: Engine-native extras (e.g. AssemblyAI sentiment, summary, entities).
    native: dict[str, Any] = field(default_factory=dict)
    #: The engine's own job id (e.g. an AssemblyAI transcript id).
    engine_job_id: str | None = None
    #: Conversation metrics (``analytics.enrich.metrics.CallMetrics.to_dict()``).
    metrics: dict[str, Any] | None = None
    #: Last-modified time of the object version analysed: ``current`` never moves to an
    #: analysis of an older version than the one it shows.
    source_modified_at: datetime | None = None
    #: Version of the sidecar the metadata came from (None: no sidecar).
    sidecar_etag: str | None = None
    #: Stage lineage: stage name -> {"version": ..., params} (see ``analytics.stages``).
    stages: dict[str, Any] = field(default_factory=dict)

    @property
    def words(self) -> list[Word]:
        """All words of the call in time order."""
        return sorted((w for u in self.utterances for w in u.words), key=lambda w: w.start)

    @property
    def text(self) -> str:
        """The transcript as one string, utterances in time order."""
        return " ".join(u.text for u in self.utterances)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (datetimes as ISO strings)."""
        out = asdict(self)
        out["created_at"] = self.created_at.isoformat()
        if self.source_modified_at is not None:
            out["source_modified_at"] = self.source_modified_at.isoformat()
        md = out["metadata"]
        md["started_at"] = (
            self.metadata.started_at.isoformat() if self.metadata.started_at else None
        )
        return out

    def to_json(self, **kwargs: Any) -> str:
        """Serialize to JSON text."""
        return json.dumps(self.to_dict(), ensure_ascii=False, **kwargs)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CallResult:
        """Inverse of :meth:`to_dict`."""
        md = dict(data["metadata"])
        started = md.get("started_at")
        roles = md.get("channel_roles")
        metadata = CallMetadata(
            call_id=md["call_id"],
            started_at=datetime.fromisoformat(started) if started else None,
            agent_id=md.get("agent_id"),
            direction=md.get("direction"),
            channel_roles=tuple(roles) if roles is not None else None,
            extra=md.get("extra") or {},
        )
        utterances = tuple(
            Utterance(
                speaker=u["speaker"],
                role=u["role"],
                start=u["start"],
                end=u["end"],
                text=u["text"],
                words=tuple(Word(**w) for w in u["words"]),
                channel=u.get("channel"),
                role_confidence=u.get("role_confidence"),
            )
            for u in data["utterances"]
        )
        fields = {k: v for k, v in data.items() if k not in ("metadata", "utterances")}
        fields["created_at"] = datetime.fromisoformat(fields["created_at"])
        if fields.get("source_modified_at"):
            fields["source_modified_at"] = datetime.fromisoformat(fields["source_modified_at"])
        return cls(metadata=metadata, utterances=utterances, **fields)
