"""Turning an LLM reply into a validated model, with a reason when that is impossible."""

from __future__ import annotations

import json
import re
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)

#: Validation errors are cut to this length before they go back to the model.
ERROR_CHARS = 1500


class InvalidReply(Exception):
    """The reply is not JSON or does not match the schema; the message says why."""


def json_object(text: str) -> Any:
    """The JSON object in a reply: bare, in a code fence, or surrounded by prose."""
    stripped = re.sub(r"^\s*```(?:json)?\s*|\s*```\s*$", "", text.strip())
    try:
        return json.loads(stripped)
    except json.JSONDecodeError as exc:
        first, last = stripped.find("{"), stripped.rfind("}")
        if 0 <= first < last:
            try:
                return json.loads(stripped[first : last + 1])
            except json.JSONDecodeError:
                pass
        raise InvalidReply(f"the reply is not valid JSON ({exc.msg} at char {exc.pos})") from exc


def parse_reply(text: str | None, model: type[M]) -> M:
    """Validate a reply against ``model``; raises :class:`InvalidReply`."""
    if not text or not text.strip():
        raise InvalidReply("the reply was empty")
    data = json_object(text)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidReply(f"the JSON does not match the schema: {str(exc)[:ERROR_CHARS]}") from exc
