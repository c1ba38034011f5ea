"""A loopback fake of the OpenAI Chat Completions API (``POST /v1/chat/completions``).

Replies follow the documented ``chat.completion`` object: ``choices[0].message`` with
``content`` and ``refusal``, ``finish_reason``, and ``usage.prompt_tokens`` /
``completion_tokens`` / ``total_tokens``. Errors use the documented
``{"error": {"message", "type", "param", "code"}}`` body. Point the real ``openai`` client
at :attr:`FakeOpenAIServer.base_url`.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from tests.fakes import LoopbackAPIServer, Reply, Responder

_ROLES = {"system", "developer", "user", "assistant", "tool"}


def _prompt_tokens(body: Any) -> int:
    """A deterministic stand-in for the tokenizer: four characters per token."""
    messages = body.get("messages", []) if isinstance(body, dict) else []
    chars = sum(len(str(m.get("content") or "")) for m in messages)
    return max(1, chars // 4)


class FakeOpenAIServer(LoopbackAPIServer):
    routes = (("POST", "/v1/chat/completions"),)

    def __init__(self, responder: Responder | None = None) -> None:
        super().__init__()
        self.responder: Responder = responder or (lambda body: "OK")

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    # --- documented shapes ---------------------------------------------------------------
    @staticmethod
    def completion(
        content: str | None,
        *,
        model: str = "gpt-4o-mini-2024-07-18",
        prompt_tokens: int = 100,
        completion_tokens: int | None = None,
        refusal: str | None = None,
        finish_reason: str = "stop",
    ) -> dict[str, Any]:
        if completion_tokens is None:
            completion_tokens = max(1, len(content or refusal or "") // 4)
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": content,
                        "refusal": refusal,
                        "annotations": [],
                    },
                    "logprobs": None,
                    "finish_reason": finish_reason,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
                "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                "completion_tokens_details": {
                    "reasoning_tokens": 0,
                    "audio_tokens": 0,
                    "accepted_prediction_tokens": 0,
                    "rejected_prediction_tokens": 0,
                },
            },
            "service_tier": "default",
            "system_fingerprint": "fp_fake0001",
        }

    @staticmethod
    def error_body(
        message: str, type_: str, code: str | None = None, param: str | None = None
    ) -> dict[str, Any]:
        return {"error": {"message": message, "type": type_, "param": param, "code": code}}

    # --- scripted replies ---------------------------------------------------------------
    def text(self, content: str, **usage: Any) -> Reply:
        return Reply(200, self.completion(content, **usage))

    def refusal(self, message: str = "I'm sorry, I can't help with that request.") -> Reply:
        return Reply(200, self.completion(None, refusal=message))

    def rate_limited(self, retry_after_s: float | None = None) -> Reply:
        headers = {"retry-after": str(retry_after_s)} if retry_after_s is not None else {}
        body = self.error_body(
            "Rate limit reached for requests. Please try again later.",
            "requests",
            "rate_limit_exceeded",
        )
        return Reply(429, body, headers)

    def server_error(self, status: int = 500) -> Reply:
        body = self.error_body(
            "The server had an error while processing your request. Sorry about that!",
            "server_error",
        )
        return Reply(status, body)

    def schema_unsupported(self) -> Reply:
        """What servers without structured outputs answer to ``response_format``."""
        body = self.error_body(
            "Invalid parameter: 'response_format' of type 'json_schema' is not supported"
            " with this model.",
            "invalid_request_error",
            param="response_format",
        )
        return Reply(400, body)

    def slow(self, delay_s: float, then: Reply | None = None) -> Reply:
        reply = then or self.text("{}")
        return Reply(reply.status, reply.body, reply.headers, delay_s)

    # --- the API -------------------------------------------------------------------------
    def check_request(self, headers: dict[str, str], body: Any) -> Reply | None:
        if not headers.get("authorization", "").startswith("Bearer "):
            msg = "You didn't provide an API key."
            return Reply(401, self.error_body(msg, "invalid_request_error"))
        if not isinstance(body, dict) or "model" not in body or not body.get("messages"):
            msg = "'model' and 'messages' are required properties."
            return Reply(400, self.error_body(msg, "invalid_request_error"))
        for message in body["messages"]:
            if message.get("role") not in _ROLES:
                msg = f"Invalid value for 'role': {message.get('role')!r}."
                return Reply(400, self.error_body(msg, "invalid_request_error", param="messages"))
        return None

    def default_reply(self, body: Any) -> Reply:
        content = self.responder(body)
        if isinstance(body, dict) and body.get("stream"):
            return self.stream_text(content, prompt_tokens=_prompt_tokens(body))
        return Reply(200, self.completion(content, prompt_tokens=_prompt_tokens(body)))

    # --- streaming (``stream: true``): server-sent ``chat.completion.chunk`` events ------
    @staticmethod
    def sse(chunks: list[dict[str, Any]]) -> Reply:
        """``data: <chunk>`` events and the closing ``data: [DONE]``, as the API streams."""
        lines = [f"data: {json.dumps(c)}\n\n" for c in chunks] + ["data: [DONE]\n\n"]
        return Reply(200, "".join(lines).encode(), {"Content-Type": "text/event-stream"})

    @staticmethod
    def _chunk(
        delta: dict[str, Any], finish: str | None = None, cid: str = "chatcmpl-fakestream"
    ) -> dict[str, Any]:
        return {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": "gpt-4o-mini-2024-07-18",
            "system_fingerprint": "fp_fake0001",
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }

    @staticmethod
    def _usage_chunk(prompt_tokens: int, completion_tokens: int) -> dict[str, Any]:
        return {
            "id": "chatcmpl-fakestream",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": "gpt-4o-mini-2024-07-18",
            "choices": [],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }

    def stream_text(self, content: str, prompt_tokens: int = 100) -> Reply:
        """A streamed assistant message, a few words per chunk."""
        words = content.split(" ")
        pieces = [" ".join(words[i : i + 3]) + " " for i in range(0, len(words), 3)]
        chunks = [self._chunk({"role": "assistant", "content": ""})]
        chunks += [self._chunk({"content": p}) for p in pieces]
        chunks.append(self._chunk({}, "stop"))
        chunks.append(self._usage_chunk(prompt_tokens, max(1, len(content) // 4)))
        return self.sse(chunks)

    def stream_tool_call(self, name: str, arguments: dict[str, Any], call_id: str) -> Reply:
        """A streamed tool call: name first, then the JSON arguments in two pieces."""
        args = json.dumps(arguments)
        half = len(args) // 2
        first = {"index": 0, "id": call_id, "type": "function"}
        chunks = [
            self._chunk(
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [{**first, "function": {"name": name, "arguments": ""}}],
                }
            ),
            self._chunk({"tool_calls": [{"index": 0, "function": {"arguments": args[:half]}}]}),
            self._chunk({"tool_calls": [{"index": 0, "function": {"arguments": args[half:]}}]}),
            self._chunk({}, "tool_calls"),
            self._usage_chunk(120, 20),
        ]
        return self.sse(chunks)
