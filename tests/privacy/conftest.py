"""Shared fixtures of the privacy tests: an LLM that quotes its whole input back, so
anything unredacted that reaches it shows up in the stored insights."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.fakes.openai_server import FakeOpenAIServer


def echo(body: dict[str, Any]) -> str:
    """A model that quotes its whole input back in the summary."""
    sent = " ".join(str(m.get("content")) for m in body["messages"])
    return json.dumps(
        {
            "summary": sent[-2000:],
            "reason_for_call": sent[:200],
            "issues_detected": [],
            "action_items": [{"text": sent[-300:], "owner": "agent"}],
            "outcome": "resolved",
            "customer_sentiment": {"label": "neutral", "score": 0.0},
            "agent_checklist": {
                "greeting": True,
                "identity_verification": True,
                "empathy": True,
                "clear_next_steps": True,
                "closing": True,
            },
            "topics": ["billing"],
        }
    )


@pytest.fixture
def llm() -> Iterator[FakeOpenAIServer]:
    server = FakeOpenAIServer(echo)
    server.start()
    try:
        yield server
    finally:
        server.stop()
