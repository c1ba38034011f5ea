"""What one call leaves behind: a time-aligned stereo WAV and a sidecar in callscope's
recording contract (docs/recording-contract.md), built from the agent's own events.

Pure Python (no pipecat): the pipeline feeds a :class:`CallRecord`; this module turns it into
files. Times in events are seconds from the start of the recording.
"""

from __future__ import annotations

import hashlib
import statistics
import time
import wave
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from agent import AGENT_VERSION

#: Channel 0 carries the caller, channel 1 the agent (pipecat's AudioBufferProcessor order).
CHANNEL_ROLES = ("customer", "agent")

#: The stages of one reply, in pipeline order, as marked by the observer (agent/observer.py):
#: the VAD confirms the caller stopped (``stop_secs`` after the real end of speech), the
#: transcript arrives, the user turn ends (speech timeout), the brain's reply text, the first
#: synthesized audio. ``turns()`` reports the ms spent before each, then ``transport`` (first
#: audio -> first audio sent on the stream).
STAGES = ("vad", "stt", "turn", "brain", "tts")

END_REASONS = (
    "caller_hangup",  # the caller (or Twilio) closed the stream
    "agent_hangup",  # the dialogue finished and the agent hung up
    "duration_cap",  # CALLSCOPE_AGENT_MAX_CALL_S reached
    "spend_cap",  # CALLSCOPE_AGENT_MAX_SPEND_USD reached
    "error",  # the pipeline failed
)


def hash_number(number: str | None, salt: str) -> str | None:
    """A stable pseudonym for a phone number: ``sha256:<hex16>`` of salt + digits."""
    if not number:
        return None
    digits = "".join(ch for ch in number if ch.isdigit() or ch == "+")
    return "sha256:" + hashlib.sha256((salt + digits).encode()).hexdigest()[:16]


@dataclass
class CallRecord:
    """Everything the agent knows about one call while it runs."""

    call_id: str
    direction: str = "inbound"
    from_number: str | None = None
    to_number: str | None = None
    stream_sid: str | None = None
    call_sid: str | None = None
    brain: str = "script"
    consent_message: str | None = None
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    t0: float = field(default_factory=time.monotonic)
    events: list[dict[str, Any]] = field(default_factory=list)
    end_reason: str | None = None
    ended_at: datetime | None = None
    llm_tokens: int = 0
    #: When each stage of a reply happened (``(t, stage)``, same clock as events); kept out of
    #: ``events`` (the contract's list) and folded into ``turns()`` as a latency breakdown.
    marks: list[tuple[float, str]] = field(default_factory=list)
    caller_speaking: bool = False
    agent_speaking: bool = False

    # --- feeding ----------------------------------------------------------------------
    def now(self) -> float:
        return time.monotonic() - self.t0

    def restart_clock(self) -> None:
        """Time zero = the first recorded sample (the recording starts with the stream)."""
        self.t0 = time.monotonic()
        self.started_at = datetime.now(UTC)

    def add(self, kind: str, t: float | None = None, **data: Any) -> dict[str, Any]:
        event = {"t": round(self.now() if t is None else max(0.0, t), 3), "type": kind, **data}
        self.events.append(event)
        if kind == "caller_start":
            self.caller_speaking = True
        elif kind == "caller_stop":
            self.caller_speaking = False
        elif kind == "agent_start":
            self.agent_speaking = True
        elif kind == "agent_stop":
            self.agent_speaking = False
        return event

    def mark(self, stage: str, t: float | None = None) -> None:
        """Note when a stage of the pipeline (one of :data:`STAGES`) handled the turn."""
        self.marks.append((self.now() if t is None else t, stage))

    def align_to_recording(self, first_agent_audio_s: float | None) -> float:
        """Shift events so t=0 is the recording's first sample.

        The recording holds every media frame the caller sent, including those buffered
        while the pipeline was starting, so it begins before this record's clock did. The
        first agent audio is in both: its position in the agent channel anchors the shift.
        Returns the shift applied (s).
        """
        first = next((e["t"] for e in self.events if e["type"] == "agent_start"), None)
        if first_agent_audio_s is None or first is None:
            return 0.0
        shift = round(first_agent_audio_s - first, 3)
        if abs(shift) < 0.02:
            return 0.0
        for event in self.events:
            if event["type"] in ("consent", "greeting"):
                continue  # queued at connect: stays at 0
            event["t"] = round(max(0.0, event["t"] + shift), 3)
            if event.get("caller_onset_s") is not None:
                event["caller_onset_s"] = round(max(0.0, event["caller_onset_s"] + shift), 3)
        self.marks = [(max(0.0, t + shift), stage) for t, stage in self.marks]
        self.started_at -= timedelta(seconds=max(0.0, shift))
        return shift

    def end(self, reason: str) -> None:
        """First reason wins (a cap that ends the call is not overwritten by the hang-up)."""
        if reason not in END_REASONS:
            raise ValueError(f"end reason {reason!r} is not one of {END_REASONS}")
        if self.end_reason is None:
            self.end_reason = reason
            self.add("end", reason=reason)

    def spend_usd(self, cost_per_min: float, llm_usd_per_token: float = 0.0) -> float:
        return self.now() / 60.0 * cost_per_min + self.llm_tokens * llm_usd_per_token

    # --- derived metrics -------------------------------------------------------------
    def turns(self) -> list[dict[str, Any]]:
        """Caller stop -> first agent audio, one row per agent reply that followed speech."""
        rows: list[dict[str, Any]] = []
        last_stop: float | None = None
        for ev in sorted(self.events, key=lambda e: e["t"]):
            if ev["type"] == "caller_start":
                last_stop = None
            elif ev["type"] == "caller_stop":
                last_stop = ev["t"]
            elif ev["type"] == "agent_start" and last_stop is not None:
                rows.append(
                    {
                        "turn": len(rows) + 1,
                        "caller_stop_s": last_stop,
                        "agent_audio_s": ev["t"],
                        "latency_ms": round((ev["t"] - last_stop) * 1000),
                        "stages_ms": self._stages(last_stop, ev["t"]),
                    }
                )
                last_stop = None
        return rows

    def _stages(self, stop: float, agent_audio: float) -> dict[str, int]:
        """Where a turn's latency went: ms from the previous stage to each stage's first mark
        in (caller stop, first agent audio], in :data:`STAGES` order; missing stages skipped."""
        seen: dict[str, float] = {}
        for t, stage in sorted(self.marks):
            if stop - 0.001 <= t <= agent_audio + 0.001 and stage not in seen:
                seen[stage] = t
        out: dict[str, int] = {}
        prev = stop
        for stage in STAGES:
            if stage in seen:
                t = min(max(seen[stage], prev), agent_audio)
                out[stage] = round((t - prev) * 1000)
                prev = t
        out["transport"] = round((agent_audio - prev) * 1000)
        return out

    def summary(self) -> dict[str, Any]:
        latencies = [t["latency_ms"] for t in self.turns()]
        tools = [e for e in self.events if e["type"] == "tool_call"]
        return {
            "turns": len(latencies),
            "latency_p50_ms": _percentile(latencies, 50),
            "latency_p95_ms": _percentile(latencies, 95),
            "barge_ins": sum(1 for e in self.events if e["type"] == "barge_in"),
            "tool_calls": len(tools),
            "tool_ms": sum(int(e.get("duration_ms", 0)) for e in tools),
            "fillers": sum(1 for e in self.events if e["type"] == "filler"),
            "end_reason": self.end_reason,
        }

    # --- output ------------------------------------------------------------------------
    def sidecar(
        self,
        *,
        duration_s: float,
        hash_salt: str | None,
        hash_numbers: bool = True,
        stt: str = "",
        tts: str = "",
        spend_usd: float | None = None,
    ) -> dict[str, Any]:
        """The sidecar JSON (callscope's recording contract)."""
        ended = self.ended_at or self.started_at + timedelta(seconds=duration_s)
        if hash_numbers:
            salt = hash_salt or ""
            numbers = {
                "from": hash_number(self.from_number, salt),
                "to": hash_number(self.to_number, salt),
                "numbers_hashed": True,
            }
        else:
            numbers = {"from": self.from_number, "to": self.to_number, "numbers_hashed": False}
        return {
            "call_id": self.call_id,
            "started_at": self.started_at.isoformat(),
            "ended_at": ended.isoformat(),
            "duration_s": round(duration_s, 3),
            "direction": self.direction,
            "agent_id": "callscope-agent",
            **numbers,
            "channel_roles": list(CHANNEL_ROLES),
            "source": "callscope-agent",
            "agent_version": AGENT_VERSION,
            "transport": {
                "protocol": "twilio-media-streams",
                "stream_sid": self.stream_sid,
                "call_sid": self.call_sid,
            },
            "consent": (
                {"message": self.consent_message, "played": True}
                if self.consent_message
                else "none"
            ),
            "brain": self.brain,
            "stt": stt,
            "tts": tts,
            "end_reason": self.end_reason or "caller_hangup",
            "spend_usd": None if spend_usd is None else round(spend_usd, 5),
            "agent_metrics": self.summary(),
            "turns": self.turns(),
            "events": sorted(self.events, key=lambda e: e["t"]),
        }


def _percentile(values: list[int], q: int) -> int | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return round(statistics.quantiles(sorted(values), n=100, method="inclusive")[q - 1])


def write_stereo_wav(path: Path, pcm: bytes, sample_rate: int, channels: int = 2) -> float:
    """Write interleaved 16-bit PCM; returns the duration in seconds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frame_bytes = 2 * channels
    pcm = pcm[: len(pcm) - len(pcm) % frame_bytes]
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(pcm)
    return len(pcm) / frame_bytes / sample_rate


def first_sound_s(pcm: bytes, sample_rate: int, channels: int, channel: int) -> float | None:
    """Time of the first non-silent sample on ``channel`` of interleaved 16-bit PCM."""
    samples = np.frombuffer(pcm[: len(pcm) - len(pcm) % (2 * channels)], dtype=np.int16)
    track = samples.reshape(-1, channels)[:, channel]
    loud = np.flatnonzero(np.abs(track.astype(np.int32)) > 64)
    return round(float(loud[0]) / sample_rate, 3) if loud.size else None


def recording_key(base_prefix: str, agent_prefix: str, started_at: datetime, call_id: str) -> str:
    """``<source prefix>/<agent prefix>/YYYY/MM/DD/<call_id>`` (no extension)."""
    parts = [p.strip("/") for p in (base_prefix, agent_prefix) if p.strip("/")]
    day = started_at.astimezone(UTC).strftime("%Y/%m/%d")
    return "/".join([*parts, day, call_id])
