"""Call detail section for calls recorded by a voice agent: its own metrics next to what the
audio shows."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from dashboard.data import fmt, fmt_usd


def voice_agent(metrics: dict[str, Any] | None, events: list[dict[str, Any]]) -> None:
    """Nothing for calls without agent events (most recordings)."""
    if metrics is None:
        return
    st.subheader("Voice agent")
    st.caption(
        f"{metrics['agent_version'] or 'agent'} · brain {metrics['brain'] or '—'} · consent "
        f"{'played' if metrics['consent'] else 'none'} · ended by {metrics['end_reason'] or '—'}"
        f" · spend {fmt_usd(metrics['spend_usd'])}"
    )
    c = st.columns(5)
    c[0].metric(
        "Response p50 / p95",
        f"{fmt(metrics['latency_p50_ms'])} / {fmt(metrics['latency_p95_ms'])} ms",
        help="Caller stops talking -> first agent audio, from the agent's own events.",
    )
    c[1].metric(
        "From the audio p50 / p95",
        f"{fmt(metrics['audio_latency_p50_ms'])} / {fmt(metrics['audio_latency_p95_ms'])} ms",
        help="Customer utterance end -> next agent utterance start, from the transcript.",
    )
    c[2].metric("Barge-ins", fmt(metrics["barge_ins"]))
    c[3].metric("Tool calls", f"{fmt(metrics['tool_calls'])} ({fmt(metrics['tool_ms'])} ms)")
    c[4].metric("Fillers", fmt(metrics["fillers"]))
    if events:
        with st.expander(f"Agent events ({len(events)})"):
            st.dataframe(pd.DataFrame(events), hide_index=True)
