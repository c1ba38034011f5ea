"""Runs & errors: the latest pipeline runs and the calls that failed."""

from __future__ import annotations

from typing import Any

import duckdb
import streamlit as st

from analytics.warehouse import queries
from dashboard.data import runs_table, with_warehouse


def _load(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    return {"runs": queries.recent_runs(con, limit=50), "errors": queries.call_errors(con)}


st.title("Runs & errors")
data = with_warehouse(_load)
if data is None:
    st.stop()

st.subheader("Recent runs")
runs_table(data["runs"])

st.subheader("Call errors")
errors = data["errors"]
if errors.empty:
    st.success("No failed calls recorded.", icon=":material/check_circle:")
else:
    hide_resolved = st.toggle("Hide failures that later succeeded", value=False)
    shown = errors[~errors["resolved"]] if hide_resolved else errors
    open_count = int((~errors["resolved"]).sum())
    st.caption(f"{len(errors)} error(s) recorded, {open_count} not resolved by a later run.")
    st.dataframe(
        shown,
        hide_index=True,
        column_config={
            "reason": st.column_config.TextColumn("reason", width="large"),
            "resolved": st.column_config.CheckboxColumn("resolved"),
            "retryable": st.column_config.CheckboxColumn("retryable"),
        },
    )
