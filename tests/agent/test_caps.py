"""The server-side caps end a call: the watchdog queues a closing line and an EndFrame."""

from __future__ import annotations

import asyncio
from typing import Any

from pipecat.frames.frames import EndFrame, TTSSpeakFrame

from agent.bot import _enforce_caps
from agent.recording import CallRecord
from analytics.config import Settings


class _Worker:
    """Records what the watchdog queues (the real PipelineWorker method's signature)."""

    def __init__(self) -> None:
        self.queued: list[Any] = []

    async def queue_frames(self, frames: list[Any]) -> None:
        self.queued.extend(frames)


def _watch(settings: Settings, llm_usd_per_token: float = 0.0, tokens: int = 0) -> tuple:
    record = CallRecord(call_id="c")
    record.llm_tokens = tokens
    worker = _Worker()
    asyncio.run(
        asyncio.wait_for(_enforce_caps(worker, record, settings, llm_usd_per_token), timeout=10)
    )
    return record, worker


def test_duration_cap() -> None:
    record, worker = _watch(Settings(agent_max_call_s=0.5))
    assert record.end_reason == "duration_cap"
    assert isinstance(worker.queued[0], TTSSpeakFrame) and "time limit" in worker.queued[0].text
    assert isinstance(worker.queued[-1], EndFrame)


def test_spend_cap_counts_llm_tokens() -> None:
    s = Settings(agent_max_spend_usd=0.01, agent_cost_per_min_usd=0.0, agent_max_call_s=60)
    record, worker = _watch(s, llm_usd_per_token=1e-6, tokens=20_000)
    assert record.end_reason == "spend_cap"
    assert isinstance(worker.queued[-1], EndFrame)
