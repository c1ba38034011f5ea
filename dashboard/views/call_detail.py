"""Call detail: metadata, lineage of the current analysis (with billed minutes and cost),
talk time, the conversation (speaker metrics, silences, interruptions, customer sentiment),
categories with evidence, insights, and the transcript."""

from __future__ import annotations

from typing import Any

import duckdb
import streamlit as st

from analytics.warehouse import agent as agent_queries
from analytics.warehouse import queries
from dashboard import agent_section, call_sections
from dashboard.data import fmt, fmt_usd, utterance_markdown, with_warehouse

#: Diarization methods whose roles are given (stereo channels with the sidecar's
#: channel_roles) or absent; any other method guessed the roles, with a confidence.
_ROLES_NOT_GUESSED = {"channels", "none"}


def _ids(con: duckdb.DuckDBPyConnection) -> list[str]:
    return queries.call_ids(con)["call_id"].tolist()


def _load(con: duckdb.DuckDBPyConnection, call_id: str) -> dict[str, Any]:
    return {
        "call": queries.call_detail(con, call_id),
        "talk": queries.talk_time_by_role(con, call_id),
        "utterances": queries.call_utterances(con, call_id),
        "metrics": queries.conversation_metrics(con, call_id),
        "speakers": queries.speaker_metrics(con, call_id),
        "silences": queries.call_silences(con, call_id),
        "interruptions": queries.call_interruptions(con, call_id),
        "sentiment": queries.customer_sentiment_by_quarter(con, call_id),
        "categories": queries.call_categories(con, call_id),
        "insights": queries.call_insights(con, call_id),
        "agent": agent_queries.call_agent_metrics(con, call_id),
        "agent_events": agent_queries.call_agent_events(con, call_id),
    }


st.title("Call detail")
ids = with_warehouse(_ids)
if ids is None:
    st.stop()
if not ids:
    st.write("No calls landed yet.")
    st.stop()

requested = st.query_params.get("call_id")
if requested and requested not in ids:
    st.warning(f"Call `{requested}` is not in the warehouse; pick another one.")
index = ids.index(requested) if requested in ids else 0
call_id = st.selectbox("Call", ids, index=index)
if st.query_params.get("call_id") != call_id:
    st.query_params["call_id"] = call_id

data = with_warehouse(lambda con: _load(con, call_id))
if data is None:
    st.stop()
call = data["call"]
if call is None:  # deleted between the two reads
    st.warning(f"Call `{call_id}` is not in the warehouse.")
    st.stop()

st.header(call_id)
started = call["started_at"]
st.caption(f"Started {started:%Y-%m-%d %H:%M %Z}" if started is not None else "Start time unknown")
engine_insights = [row for row in data["insights"] if not row["native"]]
native_insights = [row for row in data["insights"] if row["native"]]
primary = next((row for row in engine_insights if row["status"] == "ok"), None)
m1, m2, m3, m4, m5 = st.columns(5)
m1.metric("Duration", f"{fmt(call['duration_s'], '.1f')} s")
m2.metric("Agent", call["agent_id"] or "—")
m3.metric("Direction", call["direction"] or "—")
m4.metric("Channels", fmt(call["channels"]))
m5.metric(
    "Outcome",
    (primary["outcome"] if primary else None) or "—",
    help="From the call's primary insights (the newest successful ones, see Insights).",
)

with st.container(border=True):
    st.markdown("**Lineage of the current analysis**")
    if call["analysis_id"] is None:
        st.write("This call has no current analysis.")
    else:
        lang = call["language"] or "—"
        if call["language_prob"] is not None:
            lang += f" ({call['language_prob']:.0%})"
        lineage = {
            "engine": call["engine"],
            "model": call["model"],
            "pipeline_version": call["pipeline_version"],
            "language": lang,
            "diarization": call["diarization"] or "—",
            "processing_s": fmt(call["processing_s"], ".1f"),
            "billed_minutes": fmt(call["billed_minutes"], ".2f"),
            "cost_usd": fmt_usd(call["cost_usd"]),
        }
        items = list(lineage.items())
        for row in range(0, len(items), 4):  # two rows of four: names stay readable
            for col, (name, value) in zip(st.columns(4), items[row : row + 4], strict=False):
                col.markdown(f"**{name}**  \n`{value}`")
        st.caption(
            f"analysis `{call['analysis_id']}` landed {call['analysed_at']:%Y-%m-%d %H:%M %Z}"
            f" · {call['n_analyses']} analysis(es) of this call · source `{call['source_uri']}`"
            + (f" · engine job `{call['engine_job_id']}`" if call["engine_job_id"] else "")
        )
        with st.expander("Parameters and metadata"):
            st.json(
                {
                    "params": call["params"],
                    "lineage": call["lineage"],
                    "metadata": call["metadata"],
                    "channel_roles": call["channel_roles"],
                    "etag": call["etag"],
                }
            )

talk = data["talk"]
st.subheader("Talk time by role")
if talk.empty:
    st.write("No speech recognised.")
else:
    t1, t2 = st.columns([1, 2])
    t1.dataframe(
        talk,
        hide_index=True,
        column_config={
            "talk_s": st.column_config.NumberColumn("talk s", format="%.1f"),
            "share": st.column_config.ProgressColumn(
                "share", min_value=0, max_value=1, format="percent"
            ),
        },
    )
    t2.bar_chart(talk, x="role", y="talk_s", horizontal=True)

agent_section.voice_agent(data["agent"], data["agent_events"])
call_sections.conversation(
    data["metrics"], data["speakers"], data["silences"], data["interruptions"], data["sentiment"]
)
call_sections.categories(data["categories"])
call_sections.insights(engine_insights)
call_sections.native_insights(native_insights)

utts = data["utterances"]
st.subheader(f"Transcript ({len(utts)} utterances)")
guessed_roles = (call["diarization"] or "none") not in _ROLES_NOT_GUESSED
if utts.empty:
    st.write("The current analysis has no utterances.")
else:
    if guessed_roles:
        st.caption(
            f"Speakers told apart by `{call['diarization']}` diarization; the number after"
            " a role is how sure the role guess is (0.5 = a coin flip, 1 = certain)."
        )
    # Long transcripts scroll inside a box; short ones render inline.
    with st.container(height=600 if len(utts) > 15 else "content", key="transcript"):
        for u in utts.itertuples(index=False):
            confidence = u.role_confidence if guessed_roles else None
            st.markdown(utterance_markdown(u.start_s, u.role, u.speaker, u.text, confidence))
