"""Insights from any OpenAI-compatible Chat Completions endpoint, via the ``openai`` SDK.

Works with OpenAI, AssemblyAI's LLM Gateway, vLLM, Ollama, llama.cpp's server and LiteLLM:
set ``llm_base_url`` (e.g. ``http://127.0.0.1:11434/v1``) and ``llm_model``. A key is
required only for the vendor default endpoint (``llm_api_key`` or ``OPENAI_API_KEY``).

Replies are requested with ``response_format={"type": "json_schema", ..., "strict": true}``.
A server that rejects that (HTTP 400/422) is asked again with the schema in the prompt
instead, and the engine stays in that JSON-in-text mode afterwards. ``message.refusal`` is
reported as a failure, not repaired. Timeouts, 429 and 5xx are retried by the SDK
(``llm_max_retries``, exponential backoff, ``Retry-After`` honoured).
"""

from __future__ import annotations

import logging
from typing import Any, cast

from pydantic import BaseModel

from analytics.errors import InsightsError
from analytics.insights.base import Budget, LLMCache
from analytics.insights.llm import (
    Completion,
    LLMEngine,
    LLMOptions,
    Message,
    estimate_tokens,
)
from analytics.insights.schema import json_schema, schema_name

log = logging.getLogger(__name__)

#: Key sent to local servers that need none (Ollama, vLLM, llama.cpp ignore it).


class OpenAICompatEngine(LLMEngine):
    name = "openai"

    def __init__(
        self,
        options: LLMOptions,
        *,
        cache: LLMCache | None = None,
        budget: Budget | None = None,
    ) -> None:
        super().__init__(options, cache=cache, budget=budget)
        self._openai, self._client = self._connect("openai", "OpenAI", "OPENAI_API_KEY")
        self._structured = True
        self._check_context()

    def _output_instructions(self, schema: type[BaseModel]) -> str:
        if self._structured:
            return "Reply with the JSON object described by the response format."
        return super()._output_instructions(schema)

    def _create(self, messages: list[Message], schema: type[BaseModel] | None) -> Any:
        kwargs: dict[str, Any] = {
            "model": self.model,
            "messages": cast(Any, messages),
            "temperature": self.options.temperature,
            "max_tokens": self.options.max_output_tokens,
        }
        if schema is not None:
            kwargs["response_format"] = {
                "type": "json_schema",
                "json_schema": {
                    "name": schema_name(schema),
                    "schema": json_schema(schema),
                    "strict": True,
                },
            }
        return self._client.chat.completions.create(**kwargs)

    def _send(self, system: str, messages: list[Message], schema: type[BaseModel]) -> Completion:
        openai = self._openai
        full = [{"role": "system", "content": system}, *messages]
        try:
            try:
                response = self._create(full, schema if self._structured else None)
            except (openai.BadRequestError, openai.UnprocessableEntityError) as exc:
                if not self._structured:
                    raise
                log.warning(
                    "%s at %s rejected response_format json_schema (%s); retrying with the"
                    " schema in the prompt",
                    self.model,
                    self.options.base_url or "the default endpoint",
                    exc.status_code,
                )
                instructions = LLMEngine._output_instructions(self, schema)
                last = dict(full[-1])
                last["content"] = f"{last['content']}\n\n{instructions}"
                response = self._create([*full[:-1], last], None)
                self._structured = False
        except openai.APITimeoutError as exc:
            raise InsightsError(
                f"LLM request timed out ({self.options.timeout_s}s,"
                f" {self.options.max_retries} retries)"
            ) from exc
        except openai.APIStatusError as exc:
            raise InsightsError(f"LLM API error HTTP {exc.status_code}: {exc.message}") from exc
        except openai.APIConnectionError as exc:
            raise InsightsError(f"cannot reach the LLM endpoint: {exc}") from exc
        if not response.choices:
            raise InsightsError("the LLM reply has no choices")
        message = response.choices[0].message
        usage = response.usage
        text = message.content
        if usage is not None:
            tokens_in, tokens_out = usage.prompt_tokens, usage.completion_tokens
        else:  # some compatible servers omit usage: estimate so budgets still work
            tokens_in = sum(estimate_tokens(m["content"]) for m in full)
            tokens_out = estimate_tokens(text or "")
        return Completion(text, tokens_in, tokens_out, refusal=message.refusal or None)
