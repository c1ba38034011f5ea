"""With an OpenAI-compatible endpoint configured, pipecat's OpenAI LLM service replaces the
script: it calls ``lookup_order`` (timed, recorded, with the filler phrase when slow) and
answers from the tool result. Runs a real pipecat pipeline against the loopback fake."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from pipecat.frames.frames import (
    EndFrame,
    Frame,
    LLMFullResponseEndFrame,
    LLMRunFrame,
    LLMTextFrame,
    TTSSpeakFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineWorker
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import LLMContextAggregatorPair
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.workers.runner import WorkerRunner

from agent.brain import LOOKUP_ORDER, SYSTEM_PROMPT, make_openai_brain
from agent.orders import OrderTable
from agent.recording import CallRecord
from tests.fakes import running
from tests.fakes.openai_server import FakeOpenAIServer


class _Sink(FrameProcessor):
    """Collects what would go to TTS; ends the run after the ``responses``-th reply."""

    def __init__(self, worker_box: dict[str, Any], responses: int) -> None:
        super().__init__()
        self.text: list[str] = []
        self.spoken: list[str] = []
        self._box = worker_box
        self._left = responses

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, LLMTextFrame):
            self.text.append(frame.text)
        elif isinstance(frame, TTSSpeakFrame):
            self.spoken.append(frame.text)
        elif isinstance(frame, LLMFullResponseEndFrame) and "".join(self.text).strip():
            self._left -= 1
            if self._left <= 0:
                await self._box["worker"].queue_frame(EndFrame())
        await self.push_frame(frame, direction)


def _run(fake: FakeOpenAIServer, tool_delay_s: float) -> tuple[_Sink, CallRecord]:
    record = CallRecord(call_id="agent-llm", brain="openai")
    llm = make_openai_brain(
        base_url=fake.base_url,
        api_key="sk-test",
        model="gpt-4o-mini",
        orders=OrderTable(delay_s=tool_delay_s),
        record=record,
        filler_phrase="One moment while I look that up.",
        filler_after_s=0.7,
    )
    context = LLMContext(
        messages=[
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": "Hi, my order number is 4 1 7 2."},
        ],
        tools=[LOOKUP_ORDER],
    )
    pair = LLMContextAggregatorPair(context)
    box: dict[str, Any] = {}
    sink = _Sink(box, responses=1)
    worker = PipelineWorker(
        Pipeline([pair.user(), llm, sink, pair.assistant()]), idle_timeout_secs=60
    )
    box["worker"] = worker

    async def go() -> None:
        await worker.queue_frame(LLMRunFrame())
        await asyncio.wait_for(WorkerRunner(handle_sigint=False).run(worker), timeout=60)

    asyncio.run(go())
    return sink, record


@pytest.mark.parametrize(("delay_s", "filler"), [(0.0, False), (1.2, True)])
def test_openai_brain_calls_the_tool_and_answers_from_it(delay_s: float, filler: bool) -> None:
    fake = FakeOpenAIServer(lambda body: "Your oak dining table is out for delivery today.")
    fake.enqueue(fake.stream_tool_call("lookup_order", {"order_id": "4172"}, "call_abc"))
    with running(fake):
        sink, record = _run(fake, delay_s)

    bodies = fake.bodies()
    assert len(bodies) == 2 and all(b["stream"] for b in bodies)
    assert bodies[0]["tools"][0]["function"]["name"] == "lookup_order"
    tool_msgs = [m for m in bodies[1]["messages"] if m["role"] == "tool"]
    assert tool_msgs and tool_msgs[0]["tool_call_id"] == "call_abc"
    result = json.loads(tool_msgs[0]["content"])
    assert result["found"] and result["item"] == "oak dining table"
    assert "out for delivery" in "".join(sink.text)

    calls = [e for e in record.events if e["type"] == "tool_call"]
    assert calls and calls[0]["args"] == {"order_id": "4172"} and calls[0]["found"]
    assert calls[0]["filler"] is filler
    assert (sink.spoken == ["One moment while I look that up."]) is filler
    if filler:
        assert calls[0]["duration_ms"] >= 1100
