"""Calls: search by call id, agent or transcript text; pick one to open its detail."""

from __future__ import annotations

import streamlit as st

from analytics.warehouse import queries
from dashboard.data import link_to_call, with_warehouse

LIMIT = 500

st.title("Calls")
search = st.text_input(
    "Search",
    placeholder="call id, agent id or words from the transcript",
    key="calls_search",
).strip()

calls = with_warehouse(lambda con: queries.list_calls(con, search or None, limit=LIMIT))
if calls is None:
    st.stop()

if calls.empty:
    st.write(f"No calls match “{search}”." if search else "No calls landed yet.")
    st.stop()

st.caption(
    f"{len(calls)} call(s)"
    + (f" matching “{search}”" if search else "")
    + (f" (first {LIMIT})" if len(calls) >= LIMIT else "")
)
table = st.dataframe(
    calls,
    hide_index=True,
    key="calls_table",
    on_select="rerun",
    selection_mode="single-row",
    column_config={
        "started_at": st.column_config.DatetimeColumn("started", format="YYYY-MM-DD HH:mm"),
        "duration_s": st.column_config.NumberColumn("duration s", format="%.1f"),
        "n_utterances": st.column_config.NumberColumn("utterances"),
        "snippet": st.column_config.TextColumn("first words", width="large"),
    },
)

ids = calls["call_id"].tolist()
rows = table.selection.rows if table is not None else []
preferred = ids[rows[0]] if rows else st.query_params.get("call_id")
index = ids.index(preferred) if preferred in ids else 0

col_pick, col_link = st.columns([3, 1], vertical_alignment="bottom")
call_id = col_pick.selectbox("Call", ids, index=index, help="Or select a row in the table.")
with col_link:
    link_to_call(call_id)
