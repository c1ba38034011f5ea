"""Calls: search by call id, agent or transcript text, filter by category and outcome; pick
one to open its detail."""

from __future__ import annotations

import streamlit as st

from analytics.warehouse import queries
from dashboard.data import link_to_call, with_warehouse

LIMIT = 500

st.title("Calls")
options = with_warehouse(queries.filter_options)
if options is None:
    st.stop()

col_search, col_category, col_outcome = st.columns([2, 1, 1])
search = col_search.text_input(
    "Search",
    placeholder="call id, agent id or words from the transcript",
    key="calls_search",
).strip()
category = col_category.selectbox(
    "Category",
    options["categories"],
    index=None,
    placeholder="any category",
    key="calls_category",
    help="Calls whose current analysis matched this category.",
)
outcome = col_outcome.selectbox(
    "Outcome",
    options["outcomes"],
    index=None,
    placeholder="any outcome",
    key="calls_outcome",
    help="Outcome of the call's primary insights.",
)

calls = with_warehouse(
    lambda con: queries.list_calls(
        con, search or None, limit=LIMIT, category=category, outcome=outcome
    )
)
if calls is None:
    st.stop()

filters = [f"matching “{search}”"] if search else []
filters += [f"in category {category}"] if category else []
filters += [f"with outcome {outcome}"] if outcome else []
if calls.empty:
    st.write(f"No calls {', '.join(filters)}." if filters else "No calls landed yet.")
    st.stop()

st.caption(
    f"{len(calls)} call(s)"
    + (f" {', '.join(filters)}" if filters else "")
    + (f" (first {LIMIT})" if len(calls) >= LIMIT else "")
)
table = st.dataframe(
    calls,
    hide_index=True,
    key="calls_table",
    on_select="rerun",
    selection_mode="single-row",
    column_order=[
        "call_id",
        "started_at",
        "agent_id",
        "direction",
        "duration_s",
        "outcome",
        "categories",
        "snippet",
        "channels",
        "language",
        "engine",
        "model",
        "n_utterances",
    ],
    column_config={
        "started_at": st.column_config.DatetimeColumn("started", format="YYYY-MM-DD HH:mm"),
        "duration_s": st.column_config.NumberColumn("duration s", format="%.1f"),
        "n_utterances": st.column_config.NumberColumn("utterances"),
        "categories": st.column_config.ListColumn("categories"),
        "snippet": st.column_config.TextColumn("first words", width="large"),
    },
)

ids = calls["call_id"].tolist()
rows = table.selection.rows if table is not None else []
# A selection made before the filters changed may point past the end of the new table.
preferred = ids[rows[0]] if rows and rows[0] < len(ids) else st.query_params.get("call_id")
index = ids.index(preferred) if preferred in ids else 0

col_pick, col_link = st.columns([3, 1], vertical_alignment="bottom")
call_id = col_pick.selectbox(
    "Call", ids, index=index, help="Or select a row in the table.", key="calls_pick"
)
with col_link:
    link_to_call(call_id)
