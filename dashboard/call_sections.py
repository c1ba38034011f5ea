"""Sections of the call-detail page that show what enrichment found: the conversation
metrics, the categories with their evidence, and the insights (insights engine and the
transcription engine's own). Each function renders data already fetched through
:mod:`analytics.warehouse.queries`; none touches the warehouse."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from analytics.warehouse.queries import OFFLINE_ENGINE
from dashboard.data import clock, clock_span, escape_md, fmt, fmt_usd

OFFLINE_LABEL = "offline (rules, not an LLM)"
NATIVE_HELP = (
    "Produced by the transcription engine itself (e.g. AssemblyAI's summary and sentence"
    " sentiment), not by the insights engine."
)
_CHECKLIST = {
    "greeting": "greeting",
    "identity_verification": "identity verification",
    "empathy": "empathy",
    "clear_next_steps": "clear next steps",
    "closing": "closing",
}


#: Bars per quarter on a fixed -1..1 scale, every quarter on the axis (a quarter where the
#: customer said nothing has no bar), negative red, positive green.
_SENTIMENT_CHART: dict[str, Any] = {
    "mark": {"type": "bar", "tooltip": True},
    "encoding": {
        "x": {
            "field": "quarter",
            "type": "ordinal",
            "scale": {"domain": ["Q1", "Q2", "Q3", "Q4"]},
            "axis": {"labelAngle": 0, "title": "quarter of the call"},
        },
        "y": {
            "field": "sentiment",
            "type": "quantitative",
            "scale": {"domain": [-1, 1]},
            "title": "customer sentiment",
        },
        "color": {
            "condition": {"test": "datum.sentiment < 0", "value": "#d62728"},
            "value": "#2ca02c",
        },
        "tooltip": [
            {"field": "quarter"},
            {"field": "span", "title": "time"},
            {"field": "sentiment", "format": "+.2f"},
        ],
    },
}


def _seconds(value: Any) -> str:
    text = fmt(value, ".1f")
    return text if text == "—" else f"{text} s"


# --- conversation ------------------------------------------------------------------------------
def conversation(
    metrics: dict[str, Any] | None,
    speakers: pd.DataFrame,
    silences: pd.DataFrame,
    interruptions: pd.DataFrame,
    sentiment: pd.DataFrame,
) -> None:
    """Call metrics, per-speaker metrics, silences, interruptions, customer sentiment."""
    st.subheader("Conversation")
    if metrics is None:
        st.write(
            "No conversation metrics for this analysis. Run `callscope recompute-metrics`"
            " to compute them from the stored words."
        )
        return
    cols = st.columns(6)
    cols[0].metric("Talk time", _seconds(metrics["talk_s"]))
    cols[1].metric(
        "Non-talk time",
        _seconds(metrics["non_talk_s"]),
        help="Call duration minus the time anybody speaks (silences, holds, ringing).",
    )
    cols[2].metric("Silences", fmt(metrics["n_silences"]))
    cols[3].metric("Interruptions", fmt(metrics["n_interruptions"]))
    cols[4].metric(
        "Latency median",
        _seconds(metrics["latency_median_s"]),
        help="Response latency: how long the agent takes to answer once the customer stops"
        " talking (median over the call).",
    )
    cols[5].metric(
        "Latency p90",
        _seconds(metrics["latency_p90_s"]),
        help=f"90th percentile over {fmt(metrics['n_latency'])} customer-to-agent switches.",
    )

    st.markdown("**Speakers**")
    if speakers.empty:
        st.write("No speaker metrics.")
    else:
        st.dataframe(
            speakers,
            hide_index=True,
            key="speaker_metrics",
            column_order=[
                "role",
                "speaker",
                "talk_s",
                "talk_ratio",
                "wpm",
                "loudness_dbfs",
                "longest_monologue_s",
                "turns",
                "questions",
                "sentiment_mean",
            ],
            column_config={
                "talk_s": st.column_config.NumberColumn("talk s", format="%.1f"),
                "talk_ratio": st.column_config.ProgressColumn(
                    "talk ratio", min_value=0, max_value=1, format="percent"
                ),
                "wpm": st.column_config.NumberColumn("words/min", format="%.0f"),
                "loudness_dbfs": st.column_config.NumberColumn("loudness dBFS", format="%.1f"),
                "longest_monologue_s": st.column_config.NumberColumn(
                    "longest monologue s", format="%.1f"
                ),
                "sentiment_mean": st.column_config.NumberColumn(
                    "sentiment", format="%+.2f", help="Mean VADER lexicon score, -1..1."
                ),
            },
        )

    left, right = st.columns(2)
    with left:
        st.markdown(f"**Silences** ({len(silences)})")
        if silences.empty:
            st.write("No silence longer than the threshold.")
        else:
            st.dataframe(
                pd.DataFrame(
                    {
                        "from": [clock(s) for s in silences["start_s"]],
                        "to": [clock(s) for s in silences["end_s"]],
                        "duration s": silences["duration_s"],
                        "hold": silences["is_hold"],
                    }
                ),
                hide_index=True,
                key="silences",
                column_config={
                    "duration s": st.column_config.NumberColumn(format="%.1f"),
                    "hold": st.column_config.CheckboxColumn(help="Longer than the hold threshold"),
                },
            )
    with right:
        st.markdown(f"**Interruptions** ({len(interruptions)})")
        if interruptions.empty:
            st.write("Nobody talked over anybody.")
        else:
            st.dataframe(
                pd.DataFrame(
                    {
                        "at": [clock(s) for s in interruptions["start_s"]],
                        "who → whom": [
                            f"{_who(r.interrupter_role, r.interrupter)} →"
                            f" {_who(r.interrupted_role, r.interrupted)}"
                            for r in interruptions.itertuples(index=False)
                        ],
                        "overlap s": interruptions["overlap_s"],
                    }
                ),
                hide_index=True,
                key="interruptions",
                column_config={"overlap s": st.column_config.NumberColumn(format="%.1f")},
            )

    st.markdown("**Customer sentiment by quarter of the call**")
    if sentiment.empty:
        st.write("No speaker has the customer role, so there is no customer sentiment trend.")
        return
    chart = pd.DataFrame(
        {
            "quarter": [f"Q{q}" for q in sentiment["quarter"]],
            "span": [
                clock_span(a, b)
                for a, b in zip(sentiment["start_s"], sentiment["end_s"], strict=True)
            ],
            "sentiment": sentiment["sentiment"],
        }
    )
    st.vega_lite_chart(chart, _SENTIMENT_CHART, height=200)
    trend = metrics["customer_trend_label"]
    if trend:
        st.caption(
            f"Customer sentiment {trend}: {metrics['customer_sentiment_first']:+.2f} →"
            f" {metrics['customer_sentiment_last']:+.2f} (first vs last quarter the customer"
            " spoke in; lexicon scores, -1..1). Empty quarters: the customer said nothing."
        )
    else:
        st.caption("The customer spoke in one quarter only: no trend.")


def _who(role: Any, speaker: Any) -> str:
    role_s = role if isinstance(role, str) and role else None
    return f"{role_s} ({speaker})" if role_s else f"speaker {speaker}"


# --- categories ----------------------------------------------------------------------------------
def categories(matches: pd.DataFrame) -> None:
    """Matched categories with the time ranges of their evidence."""
    names = list(dict.fromkeys(matches["category"])) if not matches.empty else []
    st.subheader(f"Categories ({len(names)})")
    if not names:
        st.write("No category matched this call.")
        return
    st.markdown(" ".join(f":blue-badge[{escape_md(n)}]" for n in names))
    st.dataframe(
        pd.DataFrame(
            {
                "category": matches["category"],
                "evidence at": [
                    clock_span(a, b)
                    for a, b in zip(matches["start_s"], matches["end_s"], strict=True)
                ],
                "detail": matches["detail"],
                "kind": matches["kind"],
                "rules version": matches["rule_version"],
            }
        ),
        hide_index=True,
        key="categories",
        column_config={"detail": st.column_config.TextColumn(width="large")},
    )


# --- insights ------------------------------------------------------------------------------------
def _lineage_line(row: dict[str, Any]) -> str:
    return (
        f"**{escape_md(row['engine'])}** · model `{row['model']}`"
        f" · prompt version `{row['prompt_version']}`"
    )


def _usage(row: dict[str, Any]) -> str:
    tokens = f"{row['tokens_in']:,} tokens in / {row['tokens_out']:,} out"
    cached = " · from cache (no tokens spent)" if row["cached"] else ""
    created = row["created_at"]
    when = f" · {created:%Y-%m-%d %H:%M %Z}" if created is not None else ""
    return f"{tokens} · cost {fmt_usd(row['cost_usd'])}{cached}{when}"


def insights(rows: list[dict[str, Any]]) -> None:
    """The insights engine's rows (newest successful first = the call's primary)."""
    st.subheader("Insights")
    if not rows:
        st.write("No insights for this analysis (the insights stage did not run).")
        return
    for i, row in enumerate(rows):
        with st.container(border=True):
            primary = i == 0 and row["status"] == "ok"
            st.markdown(_lineage_line(row) + (" · primary" if primary else ""))
            if row["engine"] == OFFLINE_ENGINE:
                st.badge(OFFLINE_LABEL, icon=":material/rule:", color="gray")
            else:
                st.badge("LLM", icon=":material/smart_toy:", color="violet")
            st.caption(_usage(row))
            if row["status"] != "ok":
                st.warning(
                    f"Insights {row['status']}: {row['error'] or 'no reason recorded'}",
                    icon=":material/warning:",
                )
                continue
            _insight_fields(row)


def _insight_fields(row: dict[str, Any]) -> None:
    data = row["insights"]
    score = row["customer_sentiment_score"]
    sentiment = row["customer_sentiment_label"] or "—"
    if fmt(score) != "—":
        sentiment += f" ({score:+.2f})"
    lines = [
        f"**Outcome:** {escape_md(str(row['outcome'] or '—'))}",
        f"**Customer sentiment:** {escape_md(sentiment)}",
        f"**Reason for call:** {escape_md(str(row['reason_for_call'] or '—'))}",
        f"**Summary:** {escape_md(str(row['summary'] or '—'))}",
    ]
    st.markdown("  \n".join(lines))
    issues = data.get("issues_detected") or []
    if issues:
        st.markdown("**Issues**  \n" + "  \n".join(f"- {escape_md(str(x))}" for x in issues))
    items = data.get("action_items") or []
    st.markdown(
        "**Action items**  \n"
        + (
            "  \n".join(
                f"- {escape_md(str(a.get('text', '')))} ({escape_md(str(a.get('owner', '?')))})"
                for a in items
            )
            if items
            else "none"
        )
    )
    checklist = data.get("agent_checklist") or {}
    if checklist:
        marks = [
            f":green[✓ {label}]" if checklist.get(key) else f":red[✗ {label}]"
            for key, label in _CHECKLIST.items()
            if key in checklist
        ]
        st.markdown("**Agent checklist:** " + " · ".join(marks))
    topics = data.get("topics") or []
    st.markdown(
        "**Topics:** "
        + (" ".join(f":gray-badge[{escape_md(str(t))}]" for t in topics) if topics else "none")
    )


def native_insights(rows: list[dict[str, Any]]) -> None:
    """What the transcription engine produced itself, kept apart from the insights."""
    if not rows:
        return
    st.subheader("Transcription engine's own insights", help=NATIVE_HELP)
    for row in rows:
        with st.container(border=True):
            st.markdown(
                f"**{escape_md(row['engine'])}** · model `{row['model']}` · native"
                " (not the insights engine)"
            )
            data = row["insights"]
            score = row["customer_sentiment_score"]
            sentiment = row["customer_sentiment_label"] or "—"
            if fmt(score) != "—":
                sentiment += f" ({score:+.2f})"
            n_sentences = len(data.get("sentiment") or [])
            if n_sentences:
                sentiment += f", mean over {n_sentences} sentences of all speakers"
            st.markdown(
                f"**Summary:** {escape_md(str(row['summary'] or '—'))}  \n"
                f"**Sentiment:** {escape_md(sentiment)}  \n"
                f"**Entities found:** {len(data.get('entities') or [])}"
            )
            with st.expander("Everything the engine returned"):
                st.json(data, expanded=False)
