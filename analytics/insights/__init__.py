"""Call insights (summary, reason, outcome, sentiment, agent checklist...) behind one protocol.

``make_insights_engine(settings)`` builds the configured engine: ``offline`` (default; rules
and VADER, no network), ``openai`` (any OpenAI-compatible chat endpoint) or ``anthropic``.
Share one :class:`Budget` and one cache across the calls of a run.
"""

from __future__ import annotations

from analytics.config import Settings
from analytics.errors import ConfigError
from analytics.insights.base import (
    Budget,
    CacheEntry,
    CacheKey,
    CallContext,
    InsightResult,
    InsightsEngine,
    InsightsFailure,
    LLMCache,
    MemoryLLMCache,
    UtteranceSentiment,
    analyze_safely,
)
from analytics.insights.schema import CallInsights

__all__ = [
    "ENGINES",
    "Budget",
    "CacheEntry",
    "CacheKey",
    "CallContext",
    "CallInsights",
    "InsightResult",
    "InsightsEngine",
    "InsightsFailure",
    "LLMCache",
    "MemoryLLMCache",
    "UtteranceSentiment",
    "analyze_safely",
    "make_insights_engine",
]

ENGINES = ("offline", "openai", "anthropic")


def make_insights_engine(
    settings: Settings,
    *,
    cache: LLMCache | None = None,
    budget: Budget | None = None,
) -> InsightsEngine:
    """The engine named by ``settings.insights_engine`` (LLM clients are built here)."""
    name = settings.insights_engine
    if name == "offline":
        from analytics.insights.offline import OfflineEngine

        return OfflineEngine()
    if name in ("openai", "anthropic"):
        from analytics.insights.llm import LLMOptions

        options = LLMOptions.from_settings(settings, name)
        if name == "openai":
            from analytics.insights.openai_compat import OpenAICompatEngine

            return OpenAICompatEngine(options, cache=cache, budget=budget)
        from analytics.insights.anthropic_client import AnthropicEngine

        return AnthropicEngine(options, cache=cache, budget=budget)
    raise ConfigError(f"unknown insights engine {name!r}; choose one of {', '.join(ENGINES)}")
