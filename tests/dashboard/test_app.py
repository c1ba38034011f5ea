"""Every dashboard page, run headless with Streamlit's AppTest against a real warehouse."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

DASHBOARD = Path(__file__).resolve().parents[2] / "dashboard"
PAGES = ["pages/overview.py", "pages/calls.py", "pages/call_detail.py", "pages/runs.py"]
TIMEOUT = 30


def run_page(page: str, **query: str) -> AppTest:
    at = AppTest.from_file(str(DASHBOARD / page), default_timeout=TIMEOUT)
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def markdown_texts(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown]


def transcript_lines(at: AppTest) -> list[str]:
    return [m for m in markdown_texts(at) if m.startswith("`[")]


@pytest.mark.parametrize("page", [*PAGES, "app.py"])
def test_every_page_renders(warehouse, page: str) -> None:
    at = run_page(page)
    assert at.title, "each page has a title"
    assert not at.info, [i.value for i in at.info]


def test_overview_metrics(warehouse) -> None:
    at = run_page("pages/overview.py")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Calls"] == str(warehouse.n_calls)
    assert metrics["Audio minutes"] == f"{warehouse.audio_s / 60:.1f}"
    assert metrics["Failed calls"] == "1"
    assert metrics["Analyses"] == "3"
    assert any(warehouse.run_id[:8] in c.value and "completed" in c.value for c in at.caption)
    runs = at.dataframe[0].value
    assert runs["run_id"].tolist() == [warehouse.run_id]


def test_calls_table_and_search(warehouse) -> None:
    at = run_page("pages/calls.py")
    table = at.dataframe[0].value
    assert table["call_id"].tolist() == [
        warehouse.MONO_ID,
        warehouse.RETRIED_ID,
        warehouse.STEREO_ID,
    ]
    assert at.selectbox[0].value == warehouse.MONO_ID
    # Outside st.navigation the detail link falls back to a relative markdown link.
    assert f"call_detail?call_id={warehouse.MONO_ID}" in " ".join(markdown_texts(at))

    at.text_input[0].input("router").run()
    assert not at.exception
    assert at.dataframe[0].value["call_id"].tolist() == [warehouse.STEREO_ID]
    assert at.selectbox[0].options == [warehouse.STEREO_ID]

    at.text_input[0].input("no such words anywhere").run()
    assert not at.exception
    assert not at.dataframe
    assert any("No calls match" in m for m in markdown_texts(at))


def test_calls_preselects_query_param(warehouse) -> None:
    at = run_page("pages/calls.py", call_id=warehouse.STEREO_ID)
    assert at.selectbox[0].value == warehouse.STEREO_ID


def test_call_detail_stereo_transcript_in_order(warehouse) -> None:
    at = run_page("pages/call_detail.py", call_id=warehouse.STEREO_ID)
    assert at.selectbox[0].value == warehouse.STEREO_ID
    assert at.header[0].value == warehouse.STEREO_ID
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Agent"] == "ag-7"
    assert metrics["Direction"] == "inbound"
    lineage = " ".join(markdown_texts(at))
    for value in ("faster-whisper", "tiny.en", "0.1.0", "channels", "en (98%)", "1.5"):
        assert value in lineage
    lines = transcript_lines(at)
    assert len(lines) == len(warehouse.STEREO_LINES)
    for line, (speaker, role, _ch, _start, _end, text) in zip(
        lines, warehouse.STEREO_LINES, strict=True
    ):
        assert line.endswith(text)
        assert f"{role.upper()} ({speaker})" in line
    assert lines[0].startswith("`[00:00]`")
    assert lines[-1].startswith("`[01:05]`")
    talk = at.dataframe[0].value
    assert talk["role"].tolist() == ["customer", "agent"]


def test_call_detail_mono_shows_unknown_speaker(warehouse) -> None:
    at = run_page("pages/call_detail.py", call_id=warehouse.MONO_ID)
    lines = transcript_lines(at)
    assert [line.split("]: ", 1)[1] for line in lines] == [line[5] for line in warehouse.MONO_LINES]
    assert all("unknown speaker" in line for line in lines)
    assert at.dataframe[0].value["role"].tolist() == ["unknown"]


def test_call_detail_selectbox_switches_call(warehouse) -> None:
    at = run_page("pages/call_detail.py")
    assert at.selectbox[0].value == warehouse.MONO_ID  # newest call by default
    at.selectbox[0].select(warehouse.STEREO_ID).run()
    assert not at.exception
    assert at.query_params["call_id"] == warehouse.STEREO_ID
    assert transcript_lines(at)[0].endswith(warehouse.STEREO_LINES[0][5])


def test_call_detail_unknown_call_id(warehouse) -> None:
    at = run_page("pages/call_detail.py", call_id="no-such-call")
    assert "no-such-call" in at.warning[0].value
    assert at.selectbox[0].value == warehouse.MONO_ID


def test_runs_and_errors(warehouse) -> None:
    at = run_page("pages/runs.py")
    runs, errors = (d.value for d in at.dataframe)
    assert runs["run_id"].tolist() == [warehouse.run_id]
    assert errors["stage"].tolist() == ["decode", "fetch"]
    assert errors["reason"].iloc[0] == "invalid data found when decoding"
    assert errors["resolved"].tolist() == [False, True]
    at.toggle[0].set_value(True).run()
    assert not at.exception
    assert at.dataframe[1].value["stage"].tolist() == ["decode"]


def test_app_navigation(warehouse) -> None:
    at = run_page("app.py")
    assert at.title[0].value == "Overview"
    assert {m.label: m.value for m in at.metric}["Calls"] == str(warehouse.n_calls)

    at.switch_page("pages/calls.py").run()
    assert not at.exception
    assert at.title[0].value == "Calls"
    link = at.get("page_link")[0].proto
    assert link.page == "call_detail"
    assert link.query_string == f"call_id={warehouse.MONO_ID}"

    at.switch_page("pages/runs.py").run()
    assert not at.exception
    assert at.title[0].value == "Runs & errors"


@pytest.mark.parametrize("page", [*PAGES, "app.py"])
def test_missing_warehouse_shows_message(missing_warehouse, page: str) -> None:
    at = run_page(page)
    assert at.info, "a clear message instead of content"
    assert "make demo" in at.info[0].value
    assert str(missing_warehouse) in at.info[0].value
    assert not at.dataframe
    assert not missing_warehouse.exists(), "the dashboard never creates the warehouse"


def test_unmigrated_warehouse_shows_message(tmp_path, monkeypatch) -> None:
    path = tmp_path / "empty.duckdb"
    duckdb.connect(str(path)).close()
    monkeypatch.setenv("CALLSCOPE_WAREHOUSE", str(path))
    at = run_page("pages/overview.py")
    assert "not migrated" in at.info[0].value
