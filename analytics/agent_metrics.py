"""Agent-side metrics of calls recorded by a voice agent (callscope's own, or an adapter's
sidecar): response latency per turn, barge-ins, tool time, end reason, consent, and a
cross-check of the agent's latency against what the audio itself shows.

Pure functions of the sidecar (``CallMetadata.extra``) and the call's utterances; the
recording contract is ``docs/recording-contract.md``.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from analytics.errors import MetadataError
from analytics.models import Utterance

EVENT_TYPES = frozenset(
    {
        "consent",
        "greeting",
        "caller_start",
        "caller_stop",
        "caller_text",
        "agent_start",
        "agent_stop",
        "barge_in",
        "tool_call",
        "filler",
        "end",
    }
)


@dataclass(frozen=True)
class AgentTurn:
    turn: int
    caller_stop_s: float
    agent_audio_s: float
    latency_ms: int


@dataclass(frozen=True)
class AgentMetrics:
    """One row of ``agent_call_metrics``."""

    agent_version: str | None
    brain: str | None
    end_reason: str | None
    consent: bool | None
    turns: int
    latency_p50_ms: int | None
    latency_p95_ms: int | None
    barge_ins: int
    tool_calls: int
    tool_ms: int
    fillers: int
    spend_usd: float | None
    #: Caller utterance end -> next agent utterance start, measured from the transcript.
    audio_turns: int
    audio_latency_p50_ms: int | None
    audio_latency_p95_ms: int | None


def percentile(values: list[int], q: int) -> int | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return round(statistics.quantiles(sorted(values), n=100, method="inclusive")[q - 1])


def sidecar_events(extra: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The agent events of a sidecar, validated; None when the sidecar has none."""
    events = extra.get("events")
    if events is None:
        return None
    if not isinstance(events, list):
        raise MetadataError("sidecar events must be a list of {t, type, ...} objects")
    clean = []
    for i, ev in enumerate(events):
        if not isinstance(ev, dict) or not isinstance(ev.get("t"), int | float):
            raise MetadataError(f"sidecar event #{i} needs a numeric 't' (seconds): {ev!r}")
        if ev.get("type") not in EVENT_TYPES:
            raise MetadataError(
                f"sidecar event #{i} has type {ev.get('type')!r}; expected one of "
                f"{sorted(EVENT_TYPES)}"
            )
        clean.append(ev)
    return sorted(clean, key=lambda e: e["t"])


def agent_turns(events: list[dict[str, Any]]) -> list[AgentTurn]:
    """Caller stop -> first agent audio; speech restarting in between cancels the turn."""
    turns: list[AgentTurn] = []
    last_stop: float | None = None
    for ev in events:
        if ev["type"] == "caller_start":
            last_stop = None
        elif ev["type"] == "caller_stop":
            last_stop = float(ev["t"])
        elif ev["type"] == "agent_start" and last_stop is not None:
            t = float(ev["t"])
            turns.append(AgentTurn(len(turns) + 1, last_stop, t, round((t - last_stop) * 1000)))
            last_stop = None
    return turns


def audio_latencies(utterances: tuple[Utterance, ...] | list[Utterance]) -> list[int]:
    """From the transcript: a customer utterance's end to the next agent utterance's start,
    when the agent starts after the customer stopped (overlaps are barge-ins, not turns)."""
    ordered = sorted(utterances, key=lambda u: u.start)
    out = []
    for prev, nxt in pairwise(ordered):
        if prev.role == "customer" and nxt.role == "agent" and nxt.start >= prev.end:
            out.append(round((nxt.start - prev.end) * 1000))
    return out


def agent_metrics(
    extra: dict[str, Any], utterances: tuple[Utterance, ...] | list[Utterance]
) -> AgentMetrics | None:
    """Metrics of one agent call, or None when the sidecar carries no agent events."""
    events = sidecar_events(extra)
    if events is None:
        return None
    latencies = [t.latency_ms for t in agent_turns(events)]
    tools = [e for e in events if e["type"] == "tool_call"]
    ends = [e.get("reason") for e in events if e["type"] == "end"]
    consent = extra.get("consent")
    audio = audio_latencies(utterances)
    spend = extra.get("spend_usd")
    return AgentMetrics(
        agent_version=extra.get("agent_version"),
        brain=extra.get("brain"),
        end_reason=extra.get("end_reason") or (ends[0] if ends else None),
        consent=None if consent is None else consent not in ("none", False),
        turns=len(latencies),
        latency_p50_ms=percentile(latencies, 50),
        latency_p95_ms=percentile(latencies, 95),
        barge_ins=sum(1 for e in events if e["type"] == "barge_in"),
        tool_calls=len(tools),
        tool_ms=sum(int(e.get("duration_ms") or 0) for e in tools),
        fillers=sum(1 for e in events if e["type"] == "filler"),
        spend_usd=float(spend) if isinstance(spend, int | float) else None,
        audio_turns=len(audio),
        audio_latency_p50_ms=percentile(audio, 50),
        audio_latency_p95_ms=percentile(audio, 95),
    )
