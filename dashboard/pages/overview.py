"""Overview: headline numbers, calls per day and the latest runs."""

from __future__ import annotations

from typing import Any

import duckdb
import streamlit as st

from analytics.warehouse import queries
from dashboard.data import with_warehouse


def _load(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    return {
        "overview": queries.overview(con),
        "per_day": queries.calls_per_day(con),
        "runs": queries.recent_runs(con, limit=5),
    }


st.title("Overview")
data = with_warehouse(_load)
if data is None:
    st.stop()

ov = data["overview"]
c1, c2, c3, c4 = st.columns(4)
c1.metric("Calls", f"{ov['calls']:,}", border=True)
c2.metric("Audio minutes", f"{ov['audio_minutes']:,.1f}", border=True)
c3.metric("Analyses", f"{ov['analyses']:,}", border=True)
c4.metric(
    "Failed calls",
    f"{ov['failed_calls']:,}",
    border=True,
    help="Recordings whose last attempt failed and that have not landed since.",
)

last = ov["last_run"]
if last:
    started = f"{last['started_at']:%Y-%m-%d %H:%M %Z}"
    st.caption(
        f"Last run `{last['run_id'][:8]}` — {last['status']}, started {started}:"
        f" {last['processed'] or 0} processed, {last['failed'] or 0} failed,"
        f" {last['skipped'] or 0} skipped of {last['discovered'] or 0} discovered."
    )
else:
    st.caption("No pipeline runs recorded yet.")

st.subheader("Calls per day")
per_day = data["per_day"]
if per_day.empty:
    st.write("No calls landed yet.")
else:
    # Days as labels: one bar per day instead of a time axis with hourly ticks.
    per_day["day"] = per_day["day"].dt.strftime("%Y-%m-%d")
    st.bar_chart(per_day, x="day", y="calls", x_label="day (UTC)", y_label="calls", height=300)

st.subheader("Recent runs")
runs = data["runs"]
if runs.empty:
    st.write("No runs yet.")
else:
    st.dataframe(
        runs,
        hide_index=True,
        column_config={
            "run_id": st.column_config.TextColumn("run", width="small"),
            "audio_minutes": st.column_config.NumberColumn("audio min", format="%.1f"),
            "wall_s": st.column_config.NumberColumn("wall s", format="%.1f"),
        },
    )
