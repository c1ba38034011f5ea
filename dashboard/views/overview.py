"""Overview: headline numbers, what processing cost, outcomes, categories, calls per day and
the latest runs."""

from __future__ import annotations

from typing import Any

import duckdb
import streamlit as st

from analytics.warehouse import queries
from dashboard.data import fmt_usd, runs_table, with_warehouse


def _load(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    return {
        "overview": queries.overview(con),
        "per_day": queries.calls_per_day(con),
        "cost": queries.cost_summary(con),
        "outcomes": queries.outcome_distribution(con),
        "categories": queries.calls_per_category(con),
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

cost = data["cost"]
k1, k2, k3 = st.columns(3)
k1.metric(
    "Total cost",
    fmt_usd(cost["total_usd"]),
    border=True,
    help="Transcription plus LLM insights, over every analysis ever landed (re-processing"
    " a call costs again).",
)
k2.metric(
    "Transcription cost",
    fmt_usd(cost["transcription_usd"]),
    border=True,
    help=f"{cost['billed_minutes']:,.1f} billed audio minutes at each engine's configured"
    " price (self-hosted engines: your own price, often 0).",
)
k3.metric(
    "LLM insights cost",
    fmt_usd(cost["llm_usd"]),
    border=True,
    help=f"{cost['tokens_in']:,} tokens in and {cost['tokens_out']:,} out over"
    f" {cost['llm_calls']:,} LLM call(s); the offline engine and cache hits cost nothing.",
)

share = st.column_config.ProgressColumn(
    "share of calls", min_value=0, max_value=1, format="percent"
)
left, right = st.columns(2)
with left:
    st.subheader("Outcomes")
    outcomes = data["outcomes"]
    if outcomes.empty:
        st.write("No calls landed yet.")
    else:
        outcomes["outcome"] = outcomes["outcome"].fillna("(no insights)")
        st.dataframe(
            outcomes,
            hide_index=True,
            key="outcomes",
            column_config={"share": share},
        )
        st.caption("Outcome of each call's primary insights (newest successful run).")
with right:
    st.subheader("Calls per category")
    categories = data["categories"]
    if categories.empty:
        st.write("No call matched a category yet.")
    else:
        st.dataframe(
            categories,
            hide_index=True,
            key="categories",
            column_order=["category", "calls", "share"],
            column_config={"share": share},
        )
        versions = sorted({v for vs in categories["rule_versions"] for v in vs})
        st.caption(f"Current analyses; rules version(s) {', '.join(versions)}.")

st.subheader("Calls per day")
per_day = data["per_day"]
if per_day.empty:
    st.write("No calls landed yet.")
else:
    # Days as labels: one bar per day instead of a time axis with hourly ticks.
    per_day["day"] = per_day["day"].dt.strftime("%Y-%m-%d")
    st.bar_chart(per_day, x="day", y="calls", x_label="day (UTC)", y_label="calls", height=300)

st.subheader("Recent runs")
runs_table(data["runs"], compact=True)
