"""What every LLM engine shares: planning, map-reduce, validation + one repair, budget, cache.

A vendor module only implements :meth:`LLMEngine._send` (one request, one completion).

* **Transcript**: redacted ``[mm:ss] ROLE: text`` lines (``prompts.transcript_lines``).
* **Tokens** are estimated as ``ceil(chars / 4)`` (a fair average for English text with
  GPT and Claude tokenizers). When the transcript does not fit into ``llm_context_tokens``
  minus the prompt and a response reserve, it is cut on utterance boundaries into chunks;
  each chunk gets notes (map, ``chunk_notes`` prompt) and the notes are combined into the
  final insights (reduce, ``combine`` prompt). Tokens of all requests are summed.
* **Validation**: the reply is parsed as JSON (code fences and surrounding prose are
  tolerated) and validated against the pydantic model. On failure the bad reply and the
  error go back to the model once; a second failure raises ``InsightsError``.
* **Retries** of timeouts, 429 and 5xx (with exponential backoff and ``Retry-After``) are the
  SDK's own, configured with ``llm_max_retries`` and ``llm_timeout_s``.
* **Budget** is checked before every request; **cache** hits cost zero tokens.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, SecretStr, ValidationError

from analytics.errors import ConfigError, InsightsError
from analytics.insights import prompts
from analytics.insights.base import (
    BUDGET_EXCEEDED,
    Budget,
    CacheEntry,
    CacheKey,
    CallContext,
    InsightResult,
    InsightsFailure,
    LLMCache,
    Pricing,
    Status,
    text_hash,
)
from analytics.insights.replies import InvalidReply, M, parse_reply
from analytics.insights.schema import CallInsights, ChunkNotes, json_schema
from analytics.models import Utterance

if TYPE_CHECKING:
    from analytics.config import Settings

log = logging.getLogger(__name__)

Message = dict[str, str]

#: List prices (USD per million tokens, input/output) used when no price is configured.
LIST_PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.15, 0.60),
    "claude-haiku-4-5": (1.00, 5.00),
}
ANTHROPIC_DEFAULT_MODEL = "claude-haiku-4-5"
CHARS_PER_TOKEN = 4
MAX_OUTPUT_TOKENS = 2048
#: Fewest transcript tokens a chunk must be able to hold.
MIN_TRANSCRIPT_ROOM = 200


def estimate_tokens(text: str) -> int:
    """Rough token count: one token per four characters, rounded up."""
    return -(-len(text) // CHARS_PER_TOKEN)


@dataclass(frozen=True)
class LLMOptions:
    model: str
    base_url: str | None = None
    api_key: SecretStr | None = None
    timeout_s: float = 60.0
    max_retries: int = 3
    context_tokens: int = 16000
    pricing: Pricing = field(default_factory=Pricing)
    temperature: float = 0.0

    @property
    def max_output_tokens(self) -> int:
        return min(MAX_OUTPUT_TOKENS, max(256, self.context_tokens // 4))

    @classmethod
    def from_settings(cls, settings: Settings, engine: str) -> LLMOptions:
        """Settings for ``engine``; an unset model/price follows the engine's default."""
        explicit = settings.model_fields_set
        model = settings.llm_model
        if engine == "anthropic" and "llm_model" not in explicit:
            model = ANTHROPIC_DEFAULT_MODEL
        price_in, price_out = settings.llm_price_in_per_mtok, settings.llm_price_out_per_mtok
        listed = LIST_PRICES.get(model)
        if listed is not None:
            if "llm_price_in_per_mtok" not in explicit:
                price_in = listed[0]
            if "llm_price_out_per_mtok" not in explicit:
                price_out = listed[1]
        elif not {"llm_price_in_per_mtok", "llm_price_out_per_mtok"} <= explicit:
            log.warning(
                "no list price known for %s: costs use %.2f/%.2f USD per Mtok; set "
                "CALLSCOPE_LLM_PRICE_IN_PER_MTOK and CALLSCOPE_LLM_PRICE_OUT_PER_MTOK",
                model,
                price_in,
                price_out,
            )
        if settings.llm_context_tokens < 1000:
            raise ConfigError("llm_context_tokens must be at least 1000")
        return cls(
            model=model,
            base_url=settings.llm_base_url,
            api_key=settings.llm_api_key,
            timeout_s=settings.llm_timeout_s,
            max_retries=settings.llm_max_retries,
            context_tokens=settings.llm_context_tokens,
            pricing=Pricing(price_in, price_out),
        )


@dataclass(frozen=True)
class Completion:
    """One reply: text (or a refusal) and the tokens the API billed."""

    text: str | None
    tokens_in: int
    tokens_out: int
    refusal: str | None = None


class _BudgetExceeded(Exception):
    pass


@dataclass(frozen=True)
class _Lineage:
    engine: str
    model: str
    prompt_version: str
    transcript_hash: str


@dataclass
class _Usage:
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    requests: int = 0


class LLMEngine:
    """Base of the vendor engines; subclasses set ``name`` and implement ``_send``."""

    name = "llm"

    def __init__(
        self,
        options: LLMOptions,
        *,
        cache: LLMCache | None = None,
        budget: Budget | None = None,
    ) -> None:
        self.options = options
        self.model = options.model
        self.cache = cache
        self.budget = budget

    def _sdk(self, module: str) -> Any:
        """Import a vendor SDK, or fail with the extra that provides it."""
        try:
            return importlib.import_module(module)
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise ConfigError(
                f"insights_engine={self.name} needs `pip install callscope[llm]`"
            ) from exc

    def _connect(self, module: str, client_class: str, key_env: str) -> tuple[Any, Any]:
        """The vendor SDK and a client for the configured endpoint. Local servers (vLLM,
        Ollama, llama.cpp...) take any key; hosted APIs need one."""
        sdk = self._sdk(module)
        opts = self.options
        key = opts.api_key.get_secret_value() if opts.api_key else None
        key = key or os.environ.get(key_env)
        if not key:
            if opts.base_url is None:
                raise ConfigError(
                    f"insights_engine={self.name} without llm_base_url needs"
                    f" CALLSCOPE_LLM_API_KEY (or {key_env})"
                )
            key = "not-needed"
        client = getattr(sdk, client_class)(
            api_key=key,
            base_url=opts.base_url,
            timeout=opts.timeout_s,
            max_retries=opts.max_retries,
        )
        return sdk, client

    def _check_context(self) -> None:
        """Fail at start-up, not mid-run, when prompts alone fill ``llm_context_tokens``."""
        room = self._room("chunk_notes", context="", transcript="", part=99, parts=99)
        if room < MIN_TRANSCRIPT_ROOM:
            needed = self.options.context_tokens - room + MIN_TRANSCRIPT_ROOM
            raise ConfigError(
                f"llm_context_tokens={self.options.context_tokens} leaves no room for the"
                f" transcript next to the {self.name} prompts and reply; use at least {needed}"
            )

    # --- vendor hooks --------------------------------------------------------------------
    def _send(self, system: str, messages: list[Message], schema: type[BaseModel]) -> Completion:
        """Send one request; raise ``InsightsError`` on API errors (after SDK retries)."""
        raise NotImplementedError

    def _output_instructions(self, schema: type[BaseModel]) -> str:
        """What the prompt says about the reply format (JSON schema in the text)."""
        return (
            "Reply with one JSON object only (no prose, no code fences) that matches this"
            f" JSON schema:\n{json.dumps(json_schema(schema), separators=(',', ':'))}"
        )

    # --- planning ------------------------------------------------------------------------
    def _room(self, template: str, **values: object) -> int:
        """Transcript tokens that fit next to the rendered template and the reply."""
        schema = ChunkNotes if template == "chunk_notes" else CallInsights
        system, user = prompts.load(template).render(
            output_instructions=self._output_instructions(schema), **values
        )
        overhead = estimate_tokens(system) + estimate_tokens(user)
        return self.options.context_tokens - overhead - self.options.max_output_tokens

    def plan(self, lines: Sequence[str], context_text: str) -> tuple[bool, list[list[str]]]:
        """(map_reduce, chunks): one chunk when the transcript fits a single pass, else
        utterance-aligned chunks for map-reduce (possibly one, when only the shorter
        notes prompt leaves room for it)."""
        if not lines:
            return False, []
        single = self._room("call_insights", context=context_text, transcript="")
        if estimate_tokens("\n".join(lines)) <= single:
            return False, [list(lines)]
        room = self._room("chunk_notes", context=context_text, transcript="", part=99, parts=99)
        if room < MIN_TRANSCRIPT_ROOM:
            raise InsightsError(
                f"no room for the transcript in {self.options.context_tokens} tokens"
            )
        chunks: list[list[str]] = []
        current: list[str] = []
        size = 0
        for line in lines:
            for piece in _split_line(line, room):
                cost = estimate_tokens(piece) + 1
                if current and size + cost > room:
                    chunks.append(current)
                    current, size = [], 0
                current.append(piece)
                size += cost
        if current:
            chunks.append(current)
        return True, chunks

    # --- requests ------------------------------------------------------------------------
    def _request(
        self, system: str, messages: list[Message], schema: type[BaseModel], usage: _Usage
    ) -> Completion:
        if self.budget is not None and not self.budget.allows_request():
            raise _BudgetExceeded
        completion = self._send(system, messages, schema)
        cost = self.options.pricing.cost(completion.tokens_in, completion.tokens_out)
        usage.tokens_in += completion.tokens_in
        usage.tokens_out += completion.tokens_out
        usage.cost_usd += cost
        usage.requests += 1
        if self.budget is not None:
            self.budget.charge(completion.tokens_in, completion.tokens_out, cost)
        if completion.refusal:
            raise InsightsError(f"the model refused: {completion.refusal[:300]}")
        return completion

    def _call_json(self, system: str, user: str, schema: type[M], usage: _Usage) -> M:
        """One request; on invalid output exactly one repair request."""
        messages: list[Message] = [{"role": "user", "content": user}]
        completion = self._request(system, messages, schema, usage)
        try:
            return parse_reply(completion.text, schema)
        except InvalidReply as exc:
            log.warning(
                "%s/%s: invalid reply, asking once for a fix: %s", self.name, self.model, exc
            )
            _, repair = prompts.load("repair").render(
                error=str(exc), output_instructions=self._output_instructions(schema)
            )
            messages += [
                {"role": "assistant", "content": completion.text or ""},
                {"role": "user", "content": repair},
            ]
        completion = self._request(system, messages, schema, usage)
        try:
            return parse_reply(completion.text, schema)
        except InvalidReply as exc:
            raise InsightsError(f"invalid reply after one repair attempt: {exc}") from exc

    def _single(self, lines: list[str], context_text: str, usage: _Usage) -> CallInsights:
        system, user = prompts.load("call_insights").render(
            context=context_text,
            transcript="\n".join(lines),
            output_instructions=self._output_instructions(CallInsights),
        )
        return self._call_json(system, user, CallInsights, usage)

    def _map_reduce(
        self, chunks: list[list[str]], context_text: str, usage: _Usage
    ) -> CallInsights:
        notes: list[dict[str, Any]] = []
        for i, chunk in enumerate(chunks, start=1):
            system, user = prompts.load("chunk_notes").render(
                context=context_text,
                part=i,
                parts=len(chunks),
                transcript="\n".join(chunk),
                output_instructions=self._output_instructions(ChunkNotes),
            )
            part = self._call_json(system, user, ChunkNotes, usage)
            notes.append({"part": i, **part.model_dump()})
        system, user = prompts.load("combine").render(
            context=context_text,
            parts=len(chunks),
            notes=json.dumps(notes, ensure_ascii=False, indent=1),
            output_instructions=self._output_instructions(CallInsights),
        )
        if estimate_tokens(system + user) + self.options.max_output_tokens > (
            self.options.context_tokens
        ):
            log.warning("%s/%s: combined notes exceed the context estimate", self.name, self.model)
        return self._call_json(system, user, CallInsights, usage)

    # --- the engine protocol -------------------------------------------------------------
    def analyze(
        self, utterances: Sequence[Utterance], call_context: CallContext | None = None
    ) -> InsightResult:
        lines = prompts.transcript_lines(utterances)
        context_text = prompts.render_context(call_context)
        thash = text_hash(context_text, "\n".join(lines))
        try:
            map_reduce, chunks = self.plan(lines, context_text)
        except InsightsError as exc:
            base = _Lineage(self.name, self.model, prompts.MAP_REDUCE_VERSION, thash)
            failed = self._result(None, base, _Usage(), status="failed", error=str(exc))
            raise InsightsFailure(str(exc), failed) from exc
        version = prompts.MAP_REDUCE_VERSION if map_reduce else prompts.PROMPT_VERSION
        base = _Lineage(self.name, self.model, version, thash)
        if not chunks:
            result = self._result(None, base, _Usage(), status="failed", error="empty transcript")
            raise InsightsFailure("empty transcript: nothing to analyse", result)
        key = CacheKey(thash, self.name, self.model, version)
        hit = self._cached(key)
        if hit is not None:
            try:
                insights = CallInsights.model_validate(hit.response)
            except ValidationError:
                log.warning("%s/%s: ignoring an invalid cache entry", self.name, self.model)
            else:
                return self._result(insights, base, _Usage(), cached=True)
        usage = _Usage()
        try:
            if not map_reduce:
                insights = self._single(chunks[0], context_text, usage)
            else:
                log.info("%s/%s: map-reduce over %d chunks", self.name, self.model, len(chunks))
                insights = self._map_reduce(chunks, context_text, usage)
        except _BudgetExceeded:
            if self.budget is not None:
                self.budget.note_skipped_call()
            return self._result(None, base, usage, status="skipped_budget", error=BUDGET_EXCEEDED)
        except InsightsError as exc:
            failed = self._result(None, base, usage, status="failed", error=str(exc))
            raise InsightsFailure(str(exc), failed) from exc
        if self.cache is not None:
            entry = CacheEntry(
                insights.model_dump(mode="json"), usage.tokens_in, usage.tokens_out, usage.cost_usd
            )
            try:
                self.cache.put(key, entry)
            except Exception as exc:  # a cache write must not lose paid-for insights
                log.warning("%s/%s: cache write failed: %s", self.name, self.model, exc)
        return self._result(insights, base, usage)

    def _cached(self, key: CacheKey) -> CacheEntry | None:
        if self.cache is None:
            return None
        try:
            return self.cache.get(key)
        except Exception as exc:  # an unreadable cache is a miss, not a failed call
            log.warning("%s/%s: cache read failed: %s", self.name, self.model, exc)
            return None

    @staticmethod
    def _result(
        insights: CallInsights | None,
        base: _Lineage,
        usage: _Usage,
        *,
        status: Status = "ok",
        error: str | None = None,
        cached: bool = False,
    ) -> InsightResult:
        return InsightResult(
            insights,
            engine=base.engine,
            model=base.model,
            prompt_version=base.prompt_version,
            transcript_hash=base.transcript_hash,
            tokens_in=usage.tokens_in,
            tokens_out=usage.tokens_out,
            cost_usd=round(usage.cost_usd, 8),
            requests=usage.requests,
            cached=cached,
            status=status,
            error=error,
        )


def _split_line(line: str, room: int) -> list[str]:
    """A line longer than ``room`` tokens is cut on word boundaries (rare monologues)."""
    if estimate_tokens(line) <= room:
        return [line]
    head, _, text = line.partition(": ")
    pieces: list[str] = []
    current: list[str] = []
    limit = max(1, room - estimate_tokens(head) - 2) * CHARS_PER_TOKEN
    for word in text.split():
        if current and len(" ".join([*current, word])) > limit:
            pieces.append(f"{head}: {' '.join(current)}")
            current = []
        current.append(word)
    if current:
        pieces.append(f"{head}: {' '.join(current)}")
    return pieces
