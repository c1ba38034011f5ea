"""A loopback fake of Anthropic's Messages API (``POST /v1/messages``).

Replies follow the documented ``message`` object: ``content`` blocks
(``{"type": "text", "text": ...}``), ``stop_reason`` and ``usage.input_tokens`` /
``output_tokens``. Errors use the documented body
``{"type": "error", "error": {"type": "rate_limit_error", "message": ...}, "request_id"}``
with 429 (rate_limit_error), 529 (overloaded_error) and 500 (api_error). Point the real
``anthropic`` client at :attr:`FakeAnthropicServer.base_url`.
"""

from __future__ import annotations

import uuid
from typing import Any

from tests.fakes import LoopbackAPIServer, Reply, Responder


def _input_tokens(body: Any) -> int:
    """A deterministic stand-in for the tokenizer: four characters per token."""
    if not isinstance(body, dict):
        return 1
    chars = len(str(body.get("system") or ""))
    for message in body.get("messages", []):
        content = message.get("content")
        if isinstance(content, str):
            chars += len(content)
        else:
            chars += sum(len(str(block.get("text", ""))) for block in content or [])
    return max(1, chars // 4)


class FakeAnthropicServer(LoopbackAPIServer):
    routes = (("POST", "/v1/messages"),)

    def __init__(self, responder: Responder | None = None) -> None:
        super().__init__()
        self.responder: Responder = responder or (lambda body: "OK")

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # --- documented shapes ---------------------------------------------------------------
    @staticmethod
    def message(
        text: str | None,
        *,
        model: str = "claude-haiku-4-5-20251001",
        input_tokens: int = 100,
        output_tokens: int | None = None,
        stop_reason: str = "end_turn",
    ) -> dict[str, Any]:
        if output_tokens is None:
            output_tokens = max(1, len(text or "") // 4)
        return {
            "id": f"msg_{uuid.uuid4().hex[:24]}",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{"type": "text", "text": text}] if text is not None else [],
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": {
                "input_tokens": input_tokens,
                "output_tokens": output_tokens,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
            },
        }

    @staticmethod
    def error_body(type_: str, message: str) -> dict[str, Any]:
        return {
            "type": "error",
            "error": {"type": type_, "message": message},
            "request_id": f"req_{uuid.uuid4().hex[:24]}",
        }

    # --- scripted replies ---------------------------------------------------------------
    def text(self, content: str, **usage: Any) -> Reply:
        return Reply(200, self.message(content, **usage))

    def refusal(self, message: str = "") -> Reply:
        return Reply(200, self.message(message or None, stop_reason="refusal"))

    def rate_limited(self, retry_after_s: float | None = None) -> Reply:
        headers = {"retry-after": str(retry_after_s)} if retry_after_s is not None else {}
        body = self.error_body(
            "rate_limit_error", "Number of request tokens has exceeded your rate limit."
        )
        return Reply(429, body, headers)

    def server_error(self, status: int = 500) -> Reply:
        if status == 529:
            return Reply(529, self.error_body("overloaded_error", "Overloaded"))
        return Reply(status, self.error_body("api_error", "Internal server error"))

    def slow(self, delay_s: float, then: Reply | None = None) -> Reply:
        reply = then or self.text("{}")
        return Reply(reply.status, reply.body, reply.headers, delay_s)

    # --- the API -------------------------------------------------------------------------
    def check_request(self, headers: dict[str, str], body: Any) -> Reply | None:
        # Keys travel as x-api-key, or (newer SDKs) as "Authorization: Bearer <key>".
        bearer = headers.get("authorization", "").startswith("Bearer ")
        if not headers.get("x-api-key") and not bearer:
            return Reply(401, self.error_body("authentication_error", "invalid x-api-key"))
        if not headers.get("anthropic-version"):
            msg = "anthropic-version: header is required"
            return Reply(400, self.error_body("invalid_request_error", msg))
        if not isinstance(body, dict):
            return Reply(400, self.error_body("invalid_request_error", "invalid JSON body"))
        for name in ("model", "max_tokens", "messages"):
            if name not in body:
                msg = f"{name}: Field required"
                return Reply(400, self.error_body("invalid_request_error", msg))
        for i, message in enumerate(body["messages"]):
            if message.get("role") not in ("user", "assistant"):
                msg = (
                    f"messages.{i}.role: Input should be 'user' or 'assistant'"
                    " (use the top-level system parameter for system prompts)"
                )
                return Reply(400, self.error_body("invalid_request_error", msg))
        return None

    def default_reply(self, body: Any) -> Reply:
        text = self.responder(body)
        return Reply(200, self.message(text, input_tokens=_input_tokens(body)))
