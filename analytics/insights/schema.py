"""The insights contract: what every engine (offline rules or an LLM) returns for a call.

``json_schema(model)`` is the strict JSON schema sent as OpenAI's ``response_format`` and
written into prompts for endpoints without structured outputs.
"""

from __future__ import annotations

import copy
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Outcome = Literal[
    "resolved", "unresolved", "escalated", "callback", "no_resolution_needed", "no_conversation"
]
OUTCOMES: tuple[str, ...] = Outcome.__args__  # type: ignore[attr-defined]
SentimentLabel = Literal["positive", "neutral", "negative", "mixed"]
Owner = Literal["agent", "customer", "company"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ActionItem(_Strict):
    text: str = Field(description="What has to happen, in one short sentence.")
    owner: Owner = Field(description="Who has to do it.")


class CustomerSentiment(_Strict):
    label: SentimentLabel = Field(description="Overall customer sentiment.")
    score: float = Field(ge=-1.0, le=1.0, description="-1 very negative .. 1 very positive.")


class AgentChecklist(_Strict):
    greeting: bool = Field(description="The agent greeted and introduced the company/self.")
    identity_verification: bool = Field(description="The agent verified who the caller is.")
    empathy: bool = Field(description="The agent acknowledged the customer's situation.")
    clear_next_steps: bool = Field(description="The agent said what happens next and when.")
    closing: bool = Field(description="The agent closed the call politely.")


class CallInsights(_Strict):
    summary: str = Field(description="Two to four sentences: what happened on the call.")
    reason_for_call: str = Field(description="Why the customer called (or was called).")
    issues_detected: list[str] = Field(description="Problems raised on the call.")
    action_items: list[ActionItem] = Field(description="Follow-ups promised or needed.")
    outcome: Outcome = Field(description="How the call ended.")
    customer_sentiment: CustomerSentiment
    agent_checklist: AgentChecklist
    topics: list[str] = Field(description="Short lowercase topic labels, e.g. billing.")


class ChunkNotes(_Strict):
    """Map step of long calls: notes on one part of the transcript."""

    summary: str = Field(description="What happened in this part, two or three sentences.")
    reason_for_call: str = Field(description="Why the customer called, if this part says.")
    issues: list[str] = Field(description="Problems raised in this part.")
    action_items: list[ActionItem] = Field(description="Follow-ups promised in this part.")
    outcome_signals: list[str] = Field(
        description="Statements that show how the call is going or ended (resolution,"
        " escalation, callback, frustration)."
    )
    customer_sentiment: CustomerSentiment
    agent_behaviour: list[str] = Field(
        description="Greeting, identity checks, empathy, next steps, closing seen here."
    )
    topics: list[str] = Field(description="Short lowercase topic labels.")


def _strictify(node: Any) -> None:
    """OpenAI strict mode: every object closed and every property required; no titles
    (they repeat the property names and cost prompt tokens)."""
    if isinstance(node, dict):
        if node.get("type") == "object" and "properties" in node:
            node["additionalProperties"] = False
            node["required"] = list(node["properties"])
        if isinstance(node.get("title"), str):
            del node["title"]
        for value in node.values():
            _strictify(value)
    elif isinstance(node, list):
        for value in node:
            _strictify(value)


def json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema in the strict form structured-output APIs accept."""
    schema = copy.deepcopy(model.model_json_schema())
    _strictify(schema)
    return schema


def schema_name(model: type[BaseModel]) -> str:
    """``CallInsights`` -> ``call_insights`` (the response_format name)."""
    name = model.__name__
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")
