"""A simulated caller: a WebSocket client speaking Twilio Media Streams, with its own
synthetic voice (the ``espeak-ng`` program, a different voice from the agent's piper one).

It paces 20 ms μ-law frames in real time like a phone line (silence between lines), plays
the agent's audio on a virtual speaker (a ``clear`` empties it, as on Twilio), waits for the
agent to finish before answering, and can interrupt the agent mid-sentence (barge-in).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import random
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import websockets

from agent.audio import read_wav, resample, ulaw_decode, ulaw_encode

log = logging.getLogger(__name__)

RATE = 8000
FRAME = 160  # 20 ms at 8 kHz
SILENCE = b"\xff" * FRAME
#: Agent audio queued in the earpiece beyond this means it arrived late, in a burst.
MAX_BACKLOG_S = 0.25
#: How long a caller waits for the agent to answer its last line before going on anyway.
REPLY_WAIT_S = 8.0
VOICES = ("en-us+m3", "en-us+f3", "en-us+m7", "en-us+f2", "en+m4")


@dataclass(frozen=True)
class CallerLine:
    """Something the caller says: after the agent falls silent (``barge_in_after_s`` None),
    or that long after the agent starts its next reply (an interruption)."""

    text: str
    barge_in_after_s: float | None = None
    pause_s: float = 0.6


@dataclass
class CallerReport:
    call_sid: str
    lines: list[dict[str, Any]] = field(default_factory=list)
    agent_segments: list[tuple[float, float]] = field(default_factory=list)
    clears: list[float] = field(default_factory=list)
    hung_up_by_agent: bool = False
    duration_s: float = 0.0

    def latencies_ms(self) -> list[int]:
        """Line end -> first agent audio received, for lines that were not interruptions."""
        return [
            round(line["latency_s"] * 1000)
            for line in self.lines
            if line.get("latency_s") is not None and not line["barge_in"]
        ]


def espeak(text: str, voice: str = "en-us+m3", speed: int = 155) -> np.ndarray:
    """Render ``text`` with the espeak-ng program -> int16 PCM at 8 kHz."""
    exe = shutil.which("espeak-ng")
    if not exe:
        raise RuntimeError("the simulated caller needs espeak-ng: apt-get install espeak-ng")
    out = subprocess.run(
        [exe, "-v", voice, "-s", str(speed), "--stdout", text],
        check=True,
        capture_output=True,
        timeout=30,
    ).stdout
    samples, rate, _ = read_wav(out)
    pcm = resample(samples[:, 0], rate, RATE)
    peak = float(np.max(np.abs(pcm))) or 1.0
    return (pcm.astype(np.float64) * (0.5 * 32767 / peak)).astype(np.int16)


def order_call_script(order_id: str, rng: random.Random) -> list[CallerLine]:
    """A varied order-status call with one barge-in."""
    spoken = " ".join(order_id)
    opener = rng.choice(
        [
            f"Hi, I am calling about my order, the number is {spoken}.",
            f"Hello, my order number is {spoken}.",
            f"Hi there, order number {spoken}, please.",
        ]
    )
    barge = rng.choice(
        ["Sorry, when will it arrive?", "Wait, when is the delivery?", "Sorry, what date?"]
    )
    closing = rng.choice(["No, that's all. Thank you, bye.", "No thanks, that's all. Bye."])
    return [
        CallerLine(opener, pause_s=rng.uniform(0.4, 0.9)),
        CallerLine(barge, barge_in_after_s=rng.uniform(1.2, 2.0)),
        CallerLine(closing, pause_s=rng.uniform(0.4, 0.9)),
    ]


class _Speaker:
    """The caller's earpiece: agent audio plays in real time; ``clear`` stops it."""

    def __init__(self, t0: float) -> None:
        self.t0 = t0
        self.play_end = 0.0
        self.segments: list[tuple[float, float]] = []
        self.loud: list[tuple[float, float]] = []  # every loud chunk as it plays, unmerged
        self.first_audio_after: list[float] = []

    def now(self) -> float:
        return time.monotonic() - self.t0

    def receive(self, pcm: np.ndarray) -> None:
        now = self.now()
        loud = pcm.size and float(np.sqrt(np.mean(pcm.astype(np.float64) ** 2))) > 300
        start = max(self.play_end, now)
        self.play_end = start + len(pcm) / RATE
        if loud:
            self.loud.append((start, self.play_end))
            del self.loud[:-200]
            if self.segments and start - self.segments[-1][1] < 0.3:
                self.segments[-1] = (self.segments[-1][0], self.play_end)
            else:
                self.segments.append((start, self.play_end))

    def clear(self) -> None:
        now = self.now()
        self.play_end = min(self.play_end, now)
        if self.segments and self.segments[-1][1] > now:
            self.segments[-1] = (self.segments[-1][0], now)
        self.loud = [(a, min(b, now)) for a, b in self.loud if a < now]

    def audible(self, before_s: float = 0.1, after_s: float = 0.2) -> bool:
        """The agent is heard right now: loud audio played in the last ``before_s`` and more
        is queued for the next ``after_s`` (not a pause between its sentences)."""
        now = self.now()
        return any(a < now and b > now - before_s for a, b in self.loud) and any(
            b > now and a < now + after_s for a, b in self.loud
        )

    def speaking(self) -> bool:
        return bool(self.segments) and self.segments[-1][1] > self.now()

    def first_speech_after(self, t: float) -> float | None:
        starts = [s for s, _ in self.segments if s >= t]
        return min(starts) if starts else None


async def place_call(
    ws_url: str,
    lines: list[CallerLine],
    *,
    voice: str = "en-us+m3",
    speed: int = 155,
    from_number: str = "+15550100",
    to_number: str = "+15550199",
    max_call_s: float = 90.0,
    hang_up_after_s: float = 45.0,
) -> CallerReport:
    """Call the agent, say ``lines``, return what the caller saw and when."""
    audio = [await asyncio.to_thread(espeak, line.text, voice, speed) for line in lines]
    call_sid = "CA" + uuid.uuid4().hex
    stream_sid = "MZ" + uuid.uuid4().hex
    report = CallerReport(call_sid)
    outgoing: list[bytes] = []
    async with websockets.connect(ws_url, max_size=None) as ws:
        t0 = time.monotonic()
        speaker = _Speaker(t0)
        await ws.send(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
        await ws.send(
            json.dumps(
                {
                    "event": "start",
                    "sequenceNumber": "1",
                    "streamSid": stream_sid,
                    "start": {
                        "accountSid": "AC" + "0" * 32,
                        "streamSid": stream_sid,
                        "callSid": call_sid,
                        "tracks": ["inbound"],
                        "customParameters": {
                            "from_number": from_number,
                            "to_number": to_number,
                            "direction": "inbound",
                        },
                        "mediaFormat": {
                            "encoding": "audio/x-mulaw",
                            "sampleRate": RATE,
                            "channels": 1,
                        },
                    },
                }
            )
        )
        closed = asyncio.Event()

        async def send_media() -> None:
            seq, n = 2, 0
            while not closed.is_set():
                chunk = outgoing.pop(0) if outgoing else SILENCE
                payload = base64.b64encode(chunk).decode()
                msg = {
                    "event": "media",
                    "sequenceNumber": str(seq),
                    "streamSid": stream_sid,
                    "media": {
                        "track": "inbound",
                        "chunk": str(n),
                        "timestamp": str(n * 20),
                        "payload": payload,
                    },
                }
                try:
                    await ws.send(json.dumps(msg))
                except websockets.ConnectionClosed:
                    # the agent closed the stream first (the caller's own hang-up sets
                    # ``closed`` before it closes), whichever task notices it first
                    if not closed.is_set():
                        report.hung_up_by_agent = True
                    closed.set()
                    return
                seq, n = seq + 1, n + 1
                delay = t0 + n * 0.02 - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)

        async def receive() -> None:
            try:
                async for raw in ws:
                    msg = json.loads(raw)
                    if msg.get("event") == "media":
                        speaker.receive(ulaw_decode(base64.b64decode(msg["media"]["payload"])))
                    elif msg.get("event") == "clear":
                        speaker.clear()
                        report.clears.append(round(speaker.now(), 3))
            except websockets.ConnectionClosed:
                pass
            if not closed.is_set():
                report.hung_up_by_agent = True
            closed.set()

        tasks = [asyncio.create_task(send_media()), asyncio.create_task(receive())]

        def say(pcm: np.ndarray) -> tuple[float, float]:
            start = speaker.now() + len(outgoing) * 0.02
            padded = np.concatenate([pcm, np.zeros((-len(pcm)) % FRAME, np.int16)])
            data = ulaw_encode(padded)
            outgoing.extend(data[i : i + FRAME] for i in range(0, len(data), FRAME))
            return start, start + len(padded) / RATE

        async def wait_until(cond: Any, timeout: float) -> bool:
            deadline = time.monotonic() + timeout
            while not cond():
                if closed.is_set() or time.monotonic() > deadline:
                    return False
                await asyncio.sleep(0.02)
            return True

        last_said_end = 0.0
        try:
            for line, pcm in zip(lines, audio, strict=True):
                if line.barge_in_after_s is None:
                    # wait for the agent to answer what we said last (a caller who asked
                    # something waits for the reply, also after cutting the agent off),
                    # then to fall silent for the pause
                    await wait_until(
                        lambda since=last_said_end: (
                            bool(speaker.segments) and speaker.segments[-1][0] >= since
                        ),
                        REPLY_WAIT_S if report.lines else max_call_s,
                    )
                    await wait_until(
                        lambda line=line: (
                            not speaker.speaking()
                            and speaker.now() - speaker.play_end >= line.pause_s
                        ),
                        max_call_s,
                    )
                else:
                    # interrupt once the agent has been talking for a while without a break,
                    # in the middle of its speech (not in a pause between two sentences),
                    # and not while catching up on a backlog of the agent's audio that
                    # arrived late (then the agent may already be silent at its end)
                    await wait_until(
                        lambda line=line: (
                            speaker.speaking()
                            and speaker.now() - speaker.segments[-1][0] >= line.barge_in_after_s
                            and speaker.audible()
                            and speaker.play_end - speaker.now() <= MAX_BACKLOG_S
                        ),
                        max_call_s,
                    )
                if closed.is_set():
                    break
                start, end = say(pcm)
                last_said_end = end
                entry: dict[str, Any] = {
                    "text": line.text,
                    "start_s": round(start, 3),
                    "end_s": round(end, 3),
                    "barge_in": line.barge_in_after_s is not None,
                    "agent_speaking_at_start": speaker.speaking(),
                }
                report.lines.append(entry)
                await wait_until(lambda end=end: speaker.now() >= end, max_call_s)
            # after the last line: wait for the agent to answer and hang up
            await wait_until(lambda: closed.is_set(), hang_up_after_s)
        finally:
            for entry in report.lines:
                first = speaker.first_speech_after(entry["end_s"])
                entry["latency_s"] = None if first is None else round(first - entry["end_s"], 3)
            report.agent_segments = [(round(a, 3), round(b, 3)) for a, b in speaker.segments]
            report.duration_s = round(speaker.now(), 3)
            if not closed.is_set():
                closed.set()
                with_stop = {
                    "event": "stop",
                    "streamSid": stream_sid,
                    "stop": {"callSid": call_sid},
                }
                with contextlib.suppress(websockets.ConnectionClosed):
                    await ws.send(json.dumps(with_stop))
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    return report
