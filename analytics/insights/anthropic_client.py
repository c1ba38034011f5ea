"""Insights from Anthropic's Messages API via the ``anthropic`` SDK.

The JSON schema goes into the prompt and the insights are parsed from the reply's ``text``
content blocks. That works with every Claude model and with Anthropic-compatible gateways;
tool use or ``output_config`` structured outputs would tie us to newer models and servers,
and the shared validate-and-repair step catches what the model gets wrong anyway.

``llm_base_url`` points the SDK elsewhere (a gateway or proxy); the key comes from
``llm_api_key`` or ``ANTHROPIC_API_KEY``. A reply with ``stop_reason == "refusal"`` is a
failure. Timeouts, 429, 529 (overloaded) and 5xx are retried by the SDK
(``llm_max_retries``, exponential backoff, ``Retry-After`` honoured).
"""

from __future__ import annotations

from typing import Any, cast

from pydantic import BaseModel

from analytics.errors import InsightsError
from analytics.insights.base import Budget, LLMCache
from analytics.insights.llm import Completion, LLMEngine, LLMOptions, Message


class AnthropicEngine(LLMEngine):
    name = "anthropic"

    def __init__(
        self,
        options: LLMOptions,
        *,
        cache: LLMCache | None = None,
        budget: Budget | None = None,
    ) -> None:
        super().__init__(options, cache=cache, budget=budget)
        self._anthropic, self._client = self._connect("anthropic", "Anthropic", "ANTHROPIC_API_KEY")
        self._check_context()

    def _send(self, system: str, messages: list[Message], schema: type[BaseModel]) -> Completion:
        anthropic = self._anthropic
        # No temperature: the 2.x SDK's messages.create no longer takes sampling options.
        try:
            response = self._client.messages.create(
                model=self.model,
                max_tokens=self.options.max_output_tokens,
                system=system,
                messages=cast(Any, messages),
            )
        except anthropic.APITimeoutError as exc:
            raise InsightsError(
                f"LLM request timed out ({self.options.timeout_s}s,"
                f" {self.options.max_retries} retries)"
            ) from exc
        except anthropic.APIStatusError as exc:
            raise InsightsError(f"LLM API error HTTP {exc.status_code}: {exc.message}") from exc
        except anthropic.APIConnectionError as exc:
            raise InsightsError(f"cannot reach the LLM endpoint: {exc}") from exc
        text = "".join(
            getattr(block, "text", "") for block in response.content if block.type == "text"
        )
        usage = response.usage
        tokens_in = (
            usage.input_tokens
            + (usage.cache_creation_input_tokens or 0)
            + (usage.cache_read_input_tokens or 0)
        )
        refusal = None
        if response.stop_reason == "refusal":
            refusal = text or "stop_reason=refusal"
        return Completion(text or None, tokens_in, usage.output_tokens, refusal=refusal)
