"""The agent's brain: a scripted order-status dialogue (default, offline) or pipecat's OpenAI
LLM service with function calling (any OpenAI-compatible endpoint).

Both sit between the user and assistant context aggregators, so turn-taking, barge-in and
the conversation context are pipecat's in either case. The one tool, ``lookup_order``, is
timed and recorded in the call's events; when it takes longer than the filler threshold the
agent says a filler phrase while it waits.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from pipecat.adapters.llm.schemas.function_schema import FunctionSchema
from pipecat.frames.frames import (
    BotStoppedSpeakingFrame,
    EndWorkerFrame,
    Frame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
    TTSSpeakFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from agent.orders import OrderTable, order_number_in
from agent.recording import CallRecord

log = logging.getLogger(__name__)

SHOP = "Oak and Thread Furniture"
#: After the goodbye: hang up when the caller has been quiet this long, or after the wait.
HANG_UP_QUIET_S = 0.6
HANG_UP_MAX_WAIT_S = 10.0
SYSTEM_PROMPT = (
    f"You are the phone assistant of {SHOP}. You help callers with the status of their "
    "furniture orders. Ask for the order number, call lookup_order with its digits, then "
    "tell the caller the status and delivery date in one or two short sentences. Speak "
    "plainly: no lists, no markdown. When the caller has nothing else, say goodbye."
)

LOOKUP_ORDER = FunctionSchema(
    name="lookup_order",
    description="Look up a furniture order by its order number (digits only).",
    properties={"order_id": {"type": "string", "description": "The order number, digits only."}},
    required=["order_id"],
)

_GOODBYE_CUES = ("that's all", "that is all", "no thank", "nothing else", "bye", "no, thanks")
_ETA_CUES = ("when", "arrive", "date", "deliver", "repeat")
_GREETINGS = {"hi", "hello", "hey", "hi there", "hello there", "good morning", "yes", "yeah"}


def greeting(consent_message: str) -> str:
    consent = f" {consent_message.strip()}" if consent_message.strip() else ""
    return f"Thank you for calling {SHOP}.{consent} What is your order number?"


async def timed_tool(
    record: CallRecord,
    name: str,
    args: dict[str, Any],
    run: Awaitable[dict[str, Any]],
    say_filler: Callable[[], Awaitable[None]],
    filler_after_s: float,
) -> dict[str, Any]:
    """Run a tool, saying the filler phrase if it is still running after ``filler_after_s``."""
    started = record.now()
    t0 = time.monotonic()
    task = asyncio.ensure_future(run)
    done, _ = await asyncio.wait({task}, timeout=filler_after_s)
    filler = False
    if not done:
        filler = True
        record.add("filler", after_ms=round((time.monotonic() - t0) * 1000))
        await say_filler()
    result = await task
    record.add(
        "tool_call",
        t=started,
        name=name,
        args=args,
        duration_ms=round((time.monotonic() - t0) * 1000),
        found=bool(result.get("found")),
        filler=filler,
    )
    return result


class ScriptedBrain(FrameProcessor):
    """Order status in four moves: ask for the number, look it up, answer, say goodbye."""

    def __init__(
        self,
        *,
        orders: OrderTable,
        record: CallRecord,
        filler_phrase: str,
        filler_after_s: float,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._orders = orders
        self._record = record
        self._filler_phrase = filler_phrase
        self._filler_after_s = filler_after_s
        self._order: dict[str, Any] | None = None
        self._misses = 0
        self._done = False
        self._caller_speaking = False
        self._caller_quiet_at = time.monotonic()
        self._agent_quiet_at = 0.0
        self._hang_up: asyncio.Task[None] | None = None

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, BotStoppedSpeakingFrame):
            self._agent_quiet_at = time.monotonic()
        elif isinstance(frame, VADUserStartedSpeakingFrame):
            self._caller_speaking = True
        elif isinstance(frame, VADUserStoppedSpeakingFrame):
            self._caller_speaking = False
            self._caller_quiet_at = time.monotonic()
        if isinstance(frame, LLMContextFrame):
            await self._reply(frame)
        else:
            await self.push_frame(frame, direction)

    async def _end_call(self) -> None:
        """Hang up once the goodbye has been spoken and the caller has been quiet for
        ``HANG_UP_QUIET_S`` (at most ``HANG_UP_MAX_WAIT_S``): a caller who says "no thanks,
        that's all, bye" with a pause after "no thanks" is not cut off mid-line."""
        self._done = True
        self._record.end("agent_hangup")
        said_at = time.monotonic()

        def busy() -> bool:
            now = time.monotonic()
            return (
                self._agent_quiet_at < said_at
                or self._caller_speaking
                or now - self._caller_quiet_at < HANG_UP_QUIET_S
            )

        async def when_quiet() -> None:
            deadline = time.monotonic() + HANG_UP_MAX_WAIT_S
            while time.monotonic() < deadline and busy():
                await asyncio.sleep(0.05)
            await self.push_frame(EndWorkerFrame(), FrameDirection.UPSTREAM)

        self._hang_up = asyncio.create_task(when_quiet())

    async def _say(self, text: str) -> None:
        await self.push_frame(LLMFullResponseStartFrame())
        await self.push_frame(LLMTextFrame(text))
        await self.push_frame(LLMFullResponseEndFrame())

    async def _reply(self, frame: LLMContextFrame) -> None:
        heard = _last_user_text(frame.context.get_messages())
        lowered = heard.lower()
        if lowered.strip(" .,!?") in _GREETINGS or self._done:
            return  # a bare greeting is not an answer: keep listening
        number = order_number_in(heard)
        if number:
            result = await timed_tool(
                self._record,
                "lookup_order",
                {"order_id": number},
                self._orders.lookup(number),
                self._filler,
                self._filler_after_s,
            )
            if result.get("found"):
                self._order = result
                await self._say(
                    f"Got it. Order {_spaced(number)}, your {result['item']}, is "
                    f"{result['status']}, and the delivery date is {result['eta']}. "
                    "Is there anything else I can help with?"
                )
            else:
                await self._say(
                    f"I could not find an order {_spaced(number)}. Could you read me the "
                    "number again, digit by digit?"
                )
            return
        if self._order and any(cue in lowered for cue in _GOODBYE_CUES):
            await self._say(f"Thank you for calling {SHOP}. Goodbye!")
            await self._end_call()
            return
        if self._order and any(cue in lowered for cue in _ETA_CUES):
            await self._say(
                f"Of course. Your {self._order['item']} is {self._order['status']}, with "
                f"delivery {self._order['eta']}. Anything else?"
            )
            return
        self._misses += 1
        if self._misses >= 3:
            await self._say("I'm sorry, I can't help with that. Goodbye!")
            await self._end_call()
            return
        await self._say("Sorry, I didn't catch that. What is your order number?")

    async def _filler(self) -> None:
        await self.push_frame(TTSSpeakFrame(self._filler_phrase))


def make_openai_brain(
    *,
    base_url: str | None,
    api_key: str | None,
    model: str,
    orders: OrderTable,
    record: CallRecord,
    filler_phrase: str,
    filler_after_s: float,
) -> Any:
    """pipecat's OpenAI LLM service with ``lookup_order`` registered and timed."""
    from pipecat.services.llm_service import FunctionCallParams
    from pipecat.services.openai.llm import OpenAILLMService

    llm = OpenAILLMService(
        api_key=api_key or "unset",
        base_url=base_url,
        settings=OpenAILLMService.Settings(model=model),
    )

    async def lookup_order(params: FunctionCallParams) -> None:
        order_id = "".join(ch for ch in str(params.arguments.get("order_id", "")) if ch.isdigit())

        async def filler() -> None:
            await params.llm.push_frame(TTSSpeakFrame(filler_phrase))

        result = await timed_tool(
            record,
            "lookup_order",
            {"order_id": order_id},
            orders.lookup(order_id),
            filler,
            filler_after_s,
        )
        await params.result_callback(result)

    llm.register_function("lookup_order", lookup_order)
    return llm


def _last_user_text(messages: list[Any]) -> str:
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content.strip()
            if isinstance(content, list):
                return " ".join(
                    str(p.get("text", "")) for p in content if isinstance(p, dict)
                ).strip()
    return ""


def _spaced(number: str) -> str:
    return " ".join(number)
