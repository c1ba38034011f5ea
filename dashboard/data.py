"""Small helpers shared by the dashboard pages: settings, warehouse access, formatting.

All SQL lives in :mod:`analytics.warehouse.queries`; pages fetch through
:func:`with_warehouse`, which opens the warehouse's published read snapshot for the
duration of one loader function (so the dashboard never blocks the nightly writer) and
turns "no warehouse yet" into a friendly message.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import duckdb
import streamlit as st
from streamlit.errors import StreamlitAPIException

from analytics.config import Settings
from analytics.errors import WarehouseError
from analytics.warehouse import connect_read_only
from analytics.warehouse.lake import read_lake
from analytics.warehouse.migrations import MIGRATIONS
from analytics.warehouse.snapshot import read_snapshot, snapshot_path

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Relative to dashboard/app.py, as registered with st.navigation.
DETAIL_PAGE = "views/call_detail.py"
DETAIL_URL_PATH = "call_detail"

ROLE_COLORS = {"agent": "blue", "customer": "green"}
_UNKNOWN_SPEAKERS = {"", "unknown", "none"}
_MD_SPECIAL = "\\`*_[]<>$~|"
#: The schema version this dashboard's queries are written for.
SCHEMA_VERSION = max(m.version for m in MIGRATIONS)


class OlderSchemaError(Exception):
    """A query needs a column that a migration newer than the file's schema adds."""


def settings() -> Settings:
    """Settings for this browser session (read once per session from env / .env)."""
    if "callscope_settings" not in st.session_state:
        st.session_state["callscope_settings"] = Settings()
    return st.session_state["callscope_settings"]


def warehouse_path() -> Path:
    return Path(settings().warehouse)


def missing_warehouse_message(path: Path) -> str:
    return (
        f"No warehouse at `{path}` yet. Run `make demo` (or `callscope ingest`) to build "
        "it, then reload this page."
    )


def with_warehouse(load: Callable[[duckdb.DuckDBPyConnection], T]) -> T | None:
    """Run ``load`` on a read-only connection; on warehouse trouble show st.info, return None.

    Keep ``load`` to queries only and render afterwards, so the file is not held open
    (a writer waits for readers to close).
    """
    cfg = settings()
    path = warehouse_path()
    reader: AbstractContextManager[duckdb.DuckDBPyConnection]
    if cfg.lake_catalog:  # DuckLake: every commit is a snapshot readers may query
        path = Path(cfg.lake_data_path or "lake")  # named by its data, never the catalog DSN
        reader = read_lake(cfg)
    elif not path.exists():
        st.info(missing_warehouse_message(path), icon=":material/database:")
        return None
    elif snapshot_path(path).exists():
        reader = read_snapshot(path)  # the published snapshot
    else:
        # A warehouse from before snapshots is read directly (and waits out a writer)
        # until its next run publishes one.
        reader = connect_read_only(path)
    try:
        with reader as con:
            try:
                return load(con)
            except duckdb.BinderException as exc:
                # A missing column: an older schema, unless the file is up to date (a bug).
                row = con.execute("SELECT max(version) FROM schema_migrations").fetchone()
                version = int(row[0]) if row and row[0] is not None else 0
                if version >= SCHEMA_VERSION:
                    raise
                raise OlderSchemaError(f"schema version {version}: {exc}") from exc
    except WarehouseError as exc:
        log.warning("dashboard: warehouse unavailable: %s", exc)
        st.info(str(exc), icon=":material/database:")
    except OlderSchemaError as exc:
        log.warning("dashboard: warehouse %s has an older schema: %s", path, exc)
        st.info(
            f"The warehouse `{path}` has an older schema than this dashboard (version"
            f" {SCHEMA_VERSION}). Run `callscope migrate` (or the next `callscope ingest`)"
            " to upgrade it.",
            icon=":material/database:",
        )
    except duckdb.CatalogException as exc:
        log.warning("dashboard: warehouse %s has no schema yet: %s", path, exc)
        st.info(
            f"The warehouse `{path}` has no tables yet (not migrated). Run `make demo` or "
            "`callscope ingest` first.",
            icon=":material/database:",
        )
    return None


def link_to_call(call_id: str, label: str = "Open call detail") -> None:
    """A link to the call-detail page for ``call_id``.

    Uses st.page_link inside the navigation app; when a page file runs on its own
    (tests, ``streamlit run dashboard/views/...``) falls back to a plain relative link.
    """
    try:
        st.page_link(
            DETAIL_PAGE, label=label, icon=":material/call:", query_params={"call_id": call_id}
        )
    except StreamlitAPIException:
        st.markdown(f"[{label}]({DETAIL_URL_PATH}?call_id={quote(call_id)})")


def escape_md(text: str) -> str:
    """Escape characters Streamlit markdown would interpret inside a line of text."""
    return "".join("\\" + ch if ch in _MD_SPECIAL else ch for ch in text)


def clock(seconds: float) -> str:
    """``mm:ss`` (``h:mm:ss`` from one hour) for a time offset in seconds."""
    total = max(int(seconds), 0)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def fmt(value: Any, spec: str = "") -> str:
    """``format(value, spec)``, or "—" for a missing value (None, NaN, pd.NA)."""
    if _clean(value) is None:
        return "—"
    return format(value, spec)


def fmt_usd(value: Any) -> str:
    """Dollars: cents from one dollar up, four decimals below (LLM calls cost fractions of
    a cent); "—" when unknown."""
    if _clean(value) is None:
        return "—"
    amount = float(value)
    return f"${amount:,.2f}" if abs(amount) >= 1 or amount == 0 else f"${amount:,.4f}"


def clock_span(start_s: Any, end_s: Any) -> str:
    """A time range of the call as two ``mm:ss`` joined by an en dash ("—" when unknown)."""
    if _clean(start_s) is None or _clean(end_s) is None:
        return "—"
    return f"{clock(float(start_s))}–{clock(float(end_s))}"


def _clean(value: Any) -> str | None:
    """None for missing values (None, NaN, pd.NA), else the value as a string."""
    if value is None:
        return None
    try:
        if isinstance(value, float) and math.isnan(value):
            return None
        if value != value:  # pd.NA and friends
            return None
    except TypeError:
        return None
    return str(value)


def speaker_label(role: Any, speaker: Any, role_confidence: Any = None) -> tuple[str, str]:
    """(label, color) for an utterance: "AGENT (spk0)", or "unknown speaker" in gray.

    With ``role_confidence`` (diarized speakers, whose role is a guess) the label shows
    how sure the role is: "CUSTOMER (0.82) · B".
    """
    role_s = _clean(role)
    speaker_s = _clean(speaker)
    if speaker_s is not None and speaker_s.strip().lower() in _UNKNOWN_SPEAKERS:
        speaker_s = None
    if role_s:
        color = ROLE_COLORS.get(role_s.lower(), "violet")
        if _clean(role_confidence) is not None:
            label = f"{role_s.upper()} ({float(role_confidence):.2f})"
            return label + (f" · {speaker_s}" if speaker_s else ""), color
        return role_s.upper() + (f" ({speaker_s})" if speaker_s else ""), color
    if speaker_s:
        return f"speaker {speaker_s}", "orange"
    return "unknown speaker", "gray"


def utterance_markdown(
    start_s: float, role: Any, speaker: Any, text: str, role_confidence: Any = None
) -> str:
    """One transcript line: ``[mm:ss] ROLE (speaker): text`` with the label colored."""
    label, color = speaker_label(role, speaker, role_confidence)
    return f"`[{clock(start_s)}]` :{color}[**{escape_md(label)}**]: {escape_md(str(text))}"


def runs_table(runs: Any, compact: bool = False) -> None:
    """The recent-runs table shared by the overview and the runs page."""
    if runs.empty:
        st.write("No runs yet.")
        return
    config = {
        "audio_minutes": st.column_config.NumberColumn("audio min", format="%.1f"),
        "wall_s": st.column_config.NumberColumn("wall s", format="%.1f"),
    }
    if compact:
        config["run_id"] = st.column_config.TextColumn("run", width="small")
    st.dataframe(runs, hide_index=True, column_config=config)
