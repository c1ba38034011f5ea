"""Call detail: metadata, lineage of the current analysis, talk time and the transcript."""

from __future__ import annotations

from typing import Any

import duckdb
import streamlit as st

from analytics.warehouse import queries
from dashboard.data import utterance_markdown, with_warehouse


def _ids(con: duckdb.DuckDBPyConnection) -> list[str]:
    return queries.call_ids(con)["call_id"].tolist()


def _load(con: duckdb.DuckDBPyConnection, call_id: str) -> dict[str, Any]:
    return {
        "call": queries.call_detail(con, call_id),
        "talk": queries.talk_time_by_role(con, call_id),
        "utterances": queries.call_utterances(con, call_id),
    }


def _fmt(value: Any, spec: str = "") -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "—"
    return format(value, spec)


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
m1, m2, m3, m4 = st.columns(4)
m1.metric("Duration", f"{_fmt(call['duration_s'], '.1f')} s")
m2.metric("Agent", call["agent_id"] or "—")
m3.metric("Direction", call["direction"] or "—")
m4.metric("Channels", _fmt(call["channels"]))

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
            "processing_s": _fmt(call["processing_s"], ".1f"),
        }
        cols = st.columns(len(lineage))
        for col, (name, value) in zip(cols, lineage.items(), strict=True):
            col.markdown(f"**{name}**  \n`{value}`")
        st.caption(
            f"analysis `{call['analysis_id']}` landed {call['analysed_at']:%Y-%m-%d %H:%M %Z}"
            f" · {call['n_analyses']} analysis(es) of this call · source `{call['source_uri']}`"
        )
        with st.expander("Parameters and metadata"):
            st.json(
                {
                    "params": call["params"],
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

utts = data["utterances"]
st.subheader(f"Transcript ({len(utts)} utterances)")
if utts.empty:
    st.write("The current analysis has no utterances.")
else:
    # Long transcripts scroll inside a box; short ones render inline.
    with st.container(height=600 if len(utts) > 15 else "content"):
        for u in utts.itertuples(index=False):
            st.markdown(utterance_markdown(u.start_s, u.role, u.speaker, u.text))
