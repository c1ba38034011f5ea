"""Shared fixtures of the privacy tests: an LLM that quotes its whole input back, so
anything unredacted that reaches it shows up in the stored insights."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flows.local_s3 import LocalS3
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


def ingest_env(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    llm: FakeOpenAIServer,
    s3_server: LocalS3,
    **extra: str,
) -> Path:
    """The nightly flow's environment for a privacy test: a warehouse and data dir under
    ``tmp_path``, insights from the fake LLM (no retries), the loopback S3 server; ``extra``
    settings on top. Returns the warehouse path."""
    values = {
        "WAREHOUSE": str(tmp_path / "w.duckdb"),
        "DATA_DIR": str(tmp_path / "data"),
        "INSIGHTS_ENGINE": "openai",
        "LLM_BASE_URL": llm.base_url,
        "LLM_API_KEY": "sk-test-privacy",
        "LLM_MAX_RETRIES": "0",
        **{k.upper(): v for k, v in s3_server.settings_overrides().items()},
        **extra,
    }
    for name, value in values.items():
        monkeypatch.setenv(f"CALLSCOPE_{name}", value)
    return tmp_path / "w.duckdb"
