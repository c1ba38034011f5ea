"""Landed calls for the warehouse tests: realistic text, agents, days, roles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from analytics.models import CallMetadata, CallResult, Utterance, Word
from tests.factories import call_result

LINES = [
    ("agent", "Thank you for calling Acme, how can I help?"),
    ("customer", "I was charged twice and I want a refund for the second charge."),
    ("agent", "I am sorry about that, let me look at your billing history."),
    ("customer", "The router keeps dropping my connection every evening."),
    ("agent", "I issued the refund, it will arrive within five days."),
]


def landed_call(
    call_id: str,
    *,
    agent: str = "agent-ana",
    day: int = 1,
    lines: list[tuple[str, str]] | None = None,
    etag: str = "e1",
) -> CallResult:
    """A stereo call on 2026-11-<day> with one utterance per line (words included)."""
    utts = []
    for i, (role, text) in enumerate(lines or LINES):
        start = i * 5.0
        tokens = text.split()
        words = tuple(
            Word(w, start + j * 0.3, start + j * 0.3 + 0.25, 0.9) for j, w in enumerate(tokens)
        )
        utts.append(
            Utterance(
                speaker=f"ch{int(role == 'customer')}",
                role=role,
                start=start,
                end=start + 0.3 * len(tokens),
                text=text,
                words=words,
                channel=int(role == "customer"),
            )
        )
    started = datetime(2026, 11, day, 9, 0, tzinfo=UTC) + timedelta(minutes=len(call_id))
    return call_result(
        tuple(utts),
        call_id=call_id,
        etag=etag,
        duration_s=30.0,
        metadata=CallMetadata(
            call_id,
            started_at=started,
            agent_id=agent,
            direction="inbound",
            channel_roles=("agent", "customer"),
        ),
    )
