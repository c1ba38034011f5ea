"""Contracts of the insights stage: the engine protocol, its result, the run budget, the cache.

An engine turns a call's utterances into :class:`~analytics.insights.schema.CallInsights`.
``analyze`` returns an :class:`InsightResult` with status ``ok`` or ``skipped_budget`` and
raises :class:`InsightsFailure` (an ``InsightsError`` carrying a ``failed`` result with the
tokens already spent) when the engine could not produce valid insights.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol

from analytics.errors import InsightsError
from analytics.insights.schema import AgentChecklist, CallInsights, CustomerSentiment
from analytics.models import Utterance

if TYPE_CHECKING:
    from analytics.config import Settings
    from analytics.models import CallResult

log = logging.getLogger(__name__)

Status = Literal["ok", "failed", "skipped_budget"]
BUDGET_EXCEEDED = "budget exceeded"


@dataclass(frozen=True)
class CallContext:
    """Facts about a call an engine may use besides the transcript (no PII)."""

    call_id: str | None = None
    direction: str | None = None
    started_at: datetime | None = None
    duration_s: float | None = None
    language: str | None = None

    @classmethod
    def from_result(cls, result: CallResult) -> CallContext:
        return cls(
            call_id=result.call_id,
            direction=result.metadata.direction,
            started_at=result.metadata.started_at,
            duration_s=result.duration_s,
            language=result.language,
        )


@dataclass(frozen=True)
class UtteranceSentiment:
    """Lexicon sentiment of one utterance (index into the call's utterances)."""

    idx: int
    score: float
    label: str


@dataclass(frozen=True)
class InsightResult:
    """Insights of one call plus what it took to get them (lineage, tokens, cost)."""

    insights: CallInsights | None
    engine: str
    model: str
    prompt_version: str
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    #: True when the insights came from the cache (no tokens spent on this call).
    cached: bool = False
    #: sha256 of exactly what the engine analysed (redacted transcript and context).
    transcript_hash: str = ""
    status: Status = "ok"
    error: str | None = None
    #: LLM requests sent for this call (map, reduce, repair and retries are one request
    #: each here; transport-level retries inside the SDK are not counted).
    requests: int = 0
    #: Per-utterance lexicon sentiment (offline engine; empty for LLM engines).
    utterance_sentiment: tuple[UtteranceSentiment, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status == "ok" and self.insights is not None


class InsightsFailure(InsightsError):
    """Insights could not be produced; ``result`` is the ``failed`` row to record."""

    def __init__(self, message: str, result: InsightResult) -> None:
        super().__init__(message)
        self.result = result


class InsightsEngine(Protocol):
    """Turns a call's utterances into insights."""

    name: str
    model: str

    def analyze(
        self, utterances: Sequence[Utterance], call_context: CallContext | None = None
    ) -> InsightResult:
        """Insights of one call; raises :class:`InsightsFailure` when they cannot be had."""
        ...


def analyze_safely(
    engine: InsightsEngine,
    utterances: Sequence[Utterance],
    call_context: CallContext | None = None,
) -> InsightResult:
    """Like ``engine.analyze`` but a failure comes back as a ``failed`` result. A call with
    no conversation (silence, hold music, tones: fewer than ``MIN_CONVERSATION_WORDS``
    words) gets outcome ``no_conversation`` without asking the engine."""
    if not has_conversation(utterances):
        return no_conversation(engine)
    try:
        return engine.analyze(utterances, call_context)
    except InsightsFailure as exc:
        log.warning("insights failed (%s/%s): %s", engine.name, engine.model, exc)
        return exc.result


#: Fewer recognised words than this in the whole call is no conversation.
MIN_CONVERSATION_WORDS = 4
NO_CONVERSATION_VERSION = "no-conversation-1"


def has_conversation(utterances: Sequence[Utterance]) -> bool:
    """At least ``MIN_CONVERSATION_WORDS`` words with letters in them (a music note or a
    bracketed "[Music]" is not a word of conversation)."""
    n = 0
    for u in utterances:
        for token in (w.word for w in u.words) if u.words else u.text.split():
            token = token.strip()
            if any(c.isalpha() for c in token) and not token.startswith(("[", "(", "♪")):
                n += 1
                if n >= MIN_CONVERSATION_WORDS:
                    return True
    return False


def no_conversation(engine: InsightsEngine) -> InsightResult:
    """The insights of a call in which nobody spoke: said plainly, no engine asked."""
    insights = CallInsights(
        summary="No conversation: the recording holds no recognisable speech"
        " (silence, hold music or tones only).",
        reason_for_call="none (no conversation)",
        issues_detected=[],
        action_items=[],
        outcome="no_conversation",
        customer_sentiment=CustomerSentiment(label="neutral", score=0.0),
        agent_checklist=AgentChecklist(
            greeting=False,
            identity_verification=False,
            empathy=False,
            clear_next_steps=False,
            closing=False,
        ),
        topics=[],
    )
    return InsightResult(
        insights, engine=engine.name, model=engine.model, prompt_version=NO_CONVERSATION_VERSION
    )


def text_hash(*parts: str) -> str:
    return hashlib.sha256("\n\n".join(parts).encode("utf-8")).hexdigest()


# --- cost and budget ---------------------------------------------------------------------
@dataclass(frozen=True)
class Pricing:
    """List prices in USD per million tokens."""

    in_per_mtok: float = 0.0
    out_per_mtok: float = 0.0

    def cost(self, tokens_in: int, tokens_out: int) -> float:
        return (tokens_in * self.in_per_mtok + tokens_out * self.out_per_mtok) / 1_000_000


class Budget:
    """Token/USD caps shared by every call of one run (thread-safe).

    Checked before each LLM request: once the tokens or dollars spent reach a cap, later
    requests are not sent and the calls come back as ``skipped_budget``. A request in
    flight when the cap is reached still completes, so a run may overshoot by at most one
    request per worker.
    """

    def __init__(self, max_tokens: int | None = None, max_usd: float | None = None) -> None:
        self.max_tokens = max_tokens
        self.max_usd = max_usd
        self._lock = threading.Lock()
        self.tokens_in = 0
        self.tokens_out = 0
        self.cost_usd = 0.0
        self.requests = 0
        self.skipped_calls = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> Budget:
        return cls(settings.llm_budget_tokens, settings.llm_budget_usd)

    def _exceeded(self) -> bool:
        over_tokens = self.max_tokens is not None and (
            self.tokens_in + self.tokens_out >= self.max_tokens
        )
        over_usd = self.max_usd is not None and self.cost_usd >= self.max_usd
        return over_tokens or over_usd

    @property
    def exceeded(self) -> bool:
        with self._lock:
            return self._exceeded()

    def allows_request(self) -> bool:
        """False once a cap is reached (the caller then sends nothing)."""
        with self._lock:
            return not self._exceeded()

    def charge(self, tokens_in: int, tokens_out: int, cost_usd: float) -> None:
        with self._lock:
            self.tokens_in += tokens_in
            self.tokens_out += tokens_out
            self.cost_usd += cost_usd
            self.requests += 1

    def note_skipped_call(self) -> None:
        with self._lock:
            self.skipped_calls += 1

    def summary(self) -> dict[str, Any]:
        """Spend and caps, for the run summary."""
        with self._lock:
            return {
                "max_tokens": self.max_tokens,
                "max_usd": self.max_usd,
                "tokens_in": self.tokens_in,
                "tokens_out": self.tokens_out,
                "cost_usd": round(self.cost_usd, 6),
                "requests": self.requests,
                "skipped_calls": self.skipped_calls,
                "exceeded": self._exceeded(),
            }


# --- cache -------------------------------------------------------------------------------
@dataclass(frozen=True)
class CacheKey:
    transcript_hash: str
    engine: str
    model: str
    prompt_version: str

    @property
    def digest(self) -> str:
        payload = json.dumps([self.transcript_hash, self.engine, self.model, self.prompt_version])
        return hashlib.sha256(payload.encode()).hexdigest()[:40]


@dataclass(frozen=True)
class CacheEntry:
    """Validated insights JSON and what it cost when it was first produced."""

    response: dict[str, Any]
    tokens_in: int
    tokens_out: int
    cost_usd: float = 0.0


class LLMCache(Protocol):
    def get(self, key: CacheKey) -> CacheEntry | None: ...

    def put(self, key: CacheKey, entry: CacheEntry) -> None: ...


@dataclass
class MemoryLLMCache:
    """A per-process cache (tests, one-off runs); the warehouse has a persistent one."""

    entries: dict[str, CacheEntry] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def get(self, key: CacheKey) -> CacheEntry | None:
        with self._lock:
            return self.entries.get(key.digest)

    def put(self, key: CacheKey, entry: CacheEntry) -> None:
        with self._lock:
            self.entries[key.digest] = entry
