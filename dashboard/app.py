"""callscope dashboard entry point: ``streamlit run dashboard/app.py``.

Pages (URL paths): Overview (``/``), Calls (``/calls``), Call detail
(``/call_detail?call_id=...``), Runs & errors (``/runs``). The warehouse is opened
read-only; its path comes from ``Settings().warehouse`` (env ``CALLSCOPE_WAREHOUSE``).
"""

from __future__ import annotations

import streamlit as st

from dashboard.data import missing_warehouse_message, warehouse_path

st.set_page_config(page_title="callscope", page_icon=":material/headset_mic:", layout="wide")

pages = [
    st.Page("views/overview.py", title="Overview", icon=":material/dashboard:", default=True),
    st.Page("views/calls.py", title="Calls", icon=":material/list:", url_path="calls"),
    st.Page(
        "views/call_detail.py", title="Call detail", icon=":material/call:", url_path="call_detail"
    ),
    st.Page("views/runs.py", title="Runs & errors", icon=":material/history:", url_path="runs"),
]
page = st.navigation(pages)

st.sidebar.caption(f"Warehouse: `{warehouse_path()}` (read-only)")

if not warehouse_path().exists():
    st.title("callscope")
    st.info(missing_warehouse_message(warehouse_path()), icon=":material/database:")
    st.stop()

page.run()
