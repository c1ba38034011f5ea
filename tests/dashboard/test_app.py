"""Every dashboard page, run headless with Streamlit's AppTest against a real warehouse."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from analytics.enrich.redact import redact
from analytics.warehouse import connect_read_only, queries
from analytics.warehouse.migrations import MIGRATIONS
from dashboard.data import fmt_usd

DASHBOARD = Path(__file__).resolve().parents[2] / "dashboard"
PAGES = ["views/overview.py", "views/calls.py", "views/call_detail.py", "views/runs.py"]
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


def frame_with(at: AppTest, *columns: str) -> pd.DataFrame:
    """The first dataframe on the page that has all ``columns``."""
    for frame in at.dataframe:
        if set(columns) <= set(frame.value.columns):
            return frame.value
    raise AssertionError(f"no dataframe with columns {columns}")


def metrics_of(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def page_text(at: AppTest) -> str:
    return "\n".join([*markdown_texts(at), *(c.value for c in at.caption)])


@pytest.mark.parametrize("page", [*PAGES, "app.py"])
def test_every_page_renders(warehouse, page: str) -> None:
    at = run_page(page)
    assert at.title, "each page has a title"
    assert not at.info, [i.value for i in at.info]


def test_overview_metrics(warehouse) -> None:
    at = run_page("views/overview.py")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Calls"] == str(warehouse.n_calls)
    assert metrics["Audio minutes"] == f"{warehouse.audio_s / 60:.1f}"
    assert metrics["Failed calls"] == "1"
    assert metrics["Analyses"] == "4"
    assert any(warehouse.run_id[:8] in c.value and "completed" in c.value for c in at.caption)
    runs = frame_with(at, "run_id")
    assert runs["run_id"].tolist() == [warehouse.run_id]


def test_overview_cost_outcomes_and_categories(warehouse) -> None:
    at = run_page("views/overview.py")
    metrics = metrics_of(at)
    total = warehouse.TRANSCRIPTION_USD + warehouse.LLM_USD
    assert metrics["Total cost"] == fmt_usd(total) == "$0.0022"
    assert metrics["Transcription cost"] == fmt_usd(warehouse.TRANSCRIPTION_USD) == "$0.0020"
    assert metrics["LLM insights cost"] == "$0.0002"
    outcomes = frame_with(at, "outcome", "calls")
    assert sorted(outcomes["outcome"]) == ["callback", "escalated", "resolved", "unresolved"]
    assert outcomes["calls"].sum() == warehouse.n_calls
    categories = frame_with(at, "category", "calls").set_index("category")["calls"]
    assert categories.index[0] == "long_silence"
    assert categories["long_silence"] == 2
    assert categories["escalation_request"] == 1


ALL_NEWEST_FIRST = ["call-mono-002", "call-diarized-005", "call-stereo-003", "call-stereo-001"]


def test_calls_table_and_search(warehouse) -> None:
    at = run_page("views/calls.py")
    table = at.dataframe[0].value
    assert table["call_id"].tolist() == ALL_NEWEST_FIRST
    assert at.selectbox(key="calls_pick").value == warehouse.MONO_ID
    # Outside st.navigation the detail link falls back to a relative markdown link.
    assert f"call_detail?call_id={warehouse.MONO_ID}" in " ".join(markdown_texts(at))

    at.text_input[0].input("router").run()
    assert not at.exception
    assert at.dataframe[0].value["call_id"].tolist() == [warehouse.STEREO_ID]
    assert at.selectbox(key="calls_pick").options == [warehouse.STEREO_ID]

    at.text_input[0].input("no such words anywhere").run()
    assert not at.exception
    assert not at.dataframe
    assert any("No calls match" in m for m in markdown_texts(at))


def test_calls_preselects_query_param(warehouse) -> None:
    at = run_page("views/calls.py", call_id=warehouse.STEREO_ID)
    assert at.selectbox(key="calls_pick").value == warehouse.STEREO_ID


def test_calls_outcome_and_category_columns(warehouse) -> None:
    at = run_page("views/calls.py")
    table = at.dataframe[0].value.set_index("call_id")
    assert table.loc[warehouse.STEREO_ID, "outcome"] == "resolved"
    assert table.loc[warehouse.DIARIZED_ID, "outcome"] == "escalated"
    assert table.loc[warehouse.RETRIED_ID, "outcome"] == "callback"
    assert list(table.loc[warehouse.MONO_ID, "categories"]) == [
        "long_silence",
        "unresolved_outcome",
    ]


def test_calls_filter_by_category_and_outcome(warehouse) -> None:
    at = run_page("views/calls.py")
    category, outcome = at.selectbox(key="calls_category"), at.selectbox(key="calls_outcome")
    assert category.value is None and outcome.value is None
    assert "escalation_request" in category.options
    assert outcome.options == ["callback", "escalated", "resolved", "unresolved"]

    category.select("long_silence").run()
    assert not at.exception
    table = at.dataframe[0].value
    assert table["call_id"].tolist() == [warehouse.MONO_ID, warehouse.STEREO_ID]
    assert any("in category long_silence" in c.value for c in at.caption)
    assert at.selectbox(key="calls_pick").options == [warehouse.MONO_ID, warehouse.STEREO_ID]

    at.selectbox(key="calls_outcome").select("resolved").run()
    assert not at.exception
    assert at.dataframe[0].value["call_id"].tolist() == [warehouse.STEREO_ID]
    assert at.selectbox(key="calls_pick").value == warehouse.STEREO_ID

    at.selectbox(key="calls_category").select("escalation_request").run()
    assert not at.exception
    assert not at.dataframe
    assert any(
        "No calls in category escalation_request, with outcome resolved" in m
        for m in markdown_texts(at)
    )

    at.selectbox(key="calls_outcome").select(None).run()
    assert not at.exception
    assert at.dataframe[0].value["call_id"].tolist() == [warehouse.DIARIZED_ID]


def test_call_detail_stereo_transcript_in_order(warehouse) -> None:
    at = run_page("views/call_detail.py", call_id=warehouse.STEREO_ID)
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
        # the stored text is redacted ("this is [NAME].", brackets escaped in markdown)
        assert line.replace("\\[", "[").replace("\\]", "]").endswith(redact(text).text)
        # roles from the sidecar are certain: no confidence shown
        assert f"{role.upper()} ({speaker})**" in line
    assert lines[0].startswith("`[00:00]`")
    assert lines[-1].startswith("`[01:10]`")
    talk = at.dataframe[0].value
    assert talk["role"].tolist() == ["customer", "agent"]
    assert metrics["Outcome"] == "resolved"
    for value in ("billed_minutes", "2.08", "cost_usd", "$0.00"):
        assert value in lineage


def test_call_detail_conversation(warehouse) -> None:
    at = run_page("views/call_detail.py", call_id=warehouse.STEREO_ID)
    assert "Conversation" in [h.value for h in at.subheader]
    metrics = metrics_of(at)
    assert metrics["Talk time"] == "22.2 s"
    assert metrics["Non-talk time"] == "102.8 s"
    assert (metrics["Silences"], metrics["Interruptions"]) == ("2", "1")
    assert metrics["Latency median"] == "0.6 s"
    assert metrics["Latency p90"] == "38.9 s"
    speakers = frame_with(at, "speaker", "loudness_dbfs", "wpm").set_index("role")
    assert speakers.index.tolist() == ["customer", "agent"]
    assert speakers.loc["agent", "loudness_dbfs"] == warehouse.AGENT_DBFS
    assert (speakers.loc["agent", "turns"], speakers.loc["customer", "questions"]) == (4, 1)
    silences = frame_with(at, "from", "to", "hold")
    assert silences[["from", "to"]].values.tolist() == [["00:13", "01:02"], ["01:13", "02:05"]]
    interruptions = frame_with(at, "who → whom")
    assert interruptions.to_dict("records") == [
        {"at": "00:11", "who → whom": "customer (ch1) → agent (ch0)", "overlap s": 0.8}
    ]
    # talk time by role and the customer's sentiment by quarter
    assert len(at.get("vega_lite_chart")) == 2
    assert any(
        c.value.startswith("Customer sentiment improving: +0.00 → +0.62") for c in at.caption
    )


def test_call_detail_categories_and_offline_insights(warehouse) -> None:
    at = run_page("views/call_detail.py", call_id=warehouse.STEREO_ID)
    categories = frame_with(at, "category", "evidence at")
    assert categories.to_dict("records") == [
        {
            "category": "long_silence",
            "evidence at": "01:13–02:05",
            "detail": "max_silence_s = 52 (> 30)",
            "kind": "metric",
            "rules version": "1",
        }
    ]
    assert "Categories (1)" in [h.value for h in at.subheader]
    text = page_text(at)
    assert "offline (rules, not an LLM)" in text
    assert "**offline** · model `rules-v1` · prompt version `rules-v1` · primary" in text
    assert "**Outcome:** resolved" in text
    assert "**Reason for call:** Hi, my router keeps dropping the connection." in text
    assert "0 tokens in / 0 out · cost $0.00" in text
    assert ":green[✓ greeting]" in text and ":red[✗ identity verification]" in text
    assert "**Topics:** :gray-badge[technical support]" in text
    assert "Transcription engine's own insights" not in [h.value for h in at.subheader]


def test_call_detail_llm_insights_before_offline(warehouse) -> None:
    at = run_page("views/call_detail.py", call_id=warehouse.RETRIED_ID)
    assert metrics_of(at)["Outcome"] == "callback"  # the newer LLM run is primary
    text = page_text(at)
    primary = f"**openai** · model `{warehouse.LLM_MODEL}` · prompt version `call_insights_v1`"
    assert f"{primary} · primary" in text
    assert ":violet-badge[:material/smart_toy: LLM]" in text
    assert "850 tokens in / 120 out · cost $0.0002" in text
    assert "- Call the customer back about the refund. (agent)" in text
    # the older offline run is still shown, labelled, but not primary
    assert "**offline** · model `rules-v1` · prompt version `rules-v1`" in markdown_texts(at)
    assert "offline (rules, not an LLM)" in text
    assert text.index(primary) < text.index("**offline**")
    categories = frame_with(at, "category", "evidence at")["category"].tolist()
    assert categories == ["agent_no_greeting", "refund_discussed"]


def test_call_detail_diarized_call(warehouse) -> None:
    at = run_page("views/call_detail.py", call_id=warehouse.DIARIZED_ID)
    with connect_read_only(warehouse.path) as con:
        utts = queries.call_utterances(con, warehouse.DIARIZED_ID)
    confidence = f"{utts['role_confidence'].iloc[0]:.2f}"
    lines = transcript_lines(at)
    assert len(lines) == len(warehouse.DIARIZED_TURNS)
    assert f"CUSTOMER ({confidence}) · B**]: No, I want to speak to a manager." in lines[3]
    assert f"AGENT ({confidence}) · A**" in lines[0]
    assert any("`engine` diarization" in c.value for c in at.caption)
    # lineage: billed minutes, cost and the engine's job id
    text = page_text(at)
    assert "**billed_minutes**  \n`0.80`" in text
    assert "**cost_usd**  \n`$0.0020`" in text
    assert "engine job `aai-transcript-5f2c`" in text
    # the engine's own insights are shown apart from the insights engine's
    headers = [h.value for h in at.subheader]
    assert headers.index("Insights") < headers.index("Transcription engine's own insights")
    assert "**assemblyai** · model `universal` · native (not the insights engine)" in text
    assert f"**Summary:** {warehouse.DIARIZED_SUMMARY}" in text
    assert "**Sentiment:** negative (-0.17), mean over 6 sentences of all speakers" in text
    assert "**Outcome:** escalated" in text
    assert metrics_of(at)["Outcome"] == "escalated"
    assert frame_with(at, "category", "evidence at")["evidence at"].tolist() == ["00:11–00:14"]
    assert frame_with(at, "who → whom")["who → whom"].tolist() == ["customer (B) → agent (A)"]


def test_call_detail_mono_shows_unknown_speaker(warehouse) -> None:
    at = run_page("views/call_detail.py", call_id=warehouse.MONO_ID)
    lines = transcript_lines(at)
    assert [line.split("]: ", 1)[1] for line in lines] == [line[5] for line in warehouse.MONO_LINES]
    assert all("unknown speaker" in line for line in lines)
    assert at.dataframe[0].value["role"].tolist() == ["unknown"]
    assert metrics_of(at)["Interruptions"] == "0"
    assert "Nobody talked over anybody." in markdown_texts(at)
    assert "No speaker has the customer role, so there is no customer sentiment trend." in (
        markdown_texts(at)
    )
    assert frame_with(at, "from", "to")[["from", "to"]].values.tolist() == [["00:09", "01:05"]]
    assert frame_with(at, "category", "evidence at")["category"].tolist() == [
        "long_silence",
        "unresolved_outcome",
    ]
    assert metrics_of(at)["Outcome"] == "unresolved"


def test_call_detail_selectbox_switches_call(warehouse) -> None:
    at = run_page("views/call_detail.py")
    assert at.selectbox[0].value == warehouse.MONO_ID  # newest call by default
    at.selectbox[0].select(warehouse.STEREO_ID).run()
    assert not at.exception
    assert at.query_params["call_id"] == warehouse.STEREO_ID
    first = transcript_lines(at)[0].replace("\\[", "[").replace("\\]", "]")
    assert first.endswith(redact(warehouse.STEREO_LINES[0][5]).text)


def test_call_detail_unknown_call_id(warehouse) -> None:
    at = run_page("views/call_detail.py", call_id="no-such-call")
    assert "no-such-call" in at.warning[0].value
    assert at.selectbox[0].value == warehouse.MONO_ID


def test_runs_and_errors(warehouse) -> None:
    at = run_page("views/runs.py")
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

    at.switch_page("views/calls.py").run()
    assert not at.exception
    assert at.title[0].value == "Calls"
    link = at.get("page_link")[0].proto
    assert link.page == "call_detail"
    assert link.query_string == f"call_id={warehouse.MONO_ID}"

    at.switch_page("views/runs.py").run()
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
    at = run_page("views/overview.py")
    assert "not migrated" in at.info[0].value


@pytest.mark.parametrize("page", PAGES)
def test_older_schema_shows_message(tmp_path, monkeypatch, page: str) -> None:
    # Migrations 1-4 only: no billed minutes, cost or role confidence columns yet.
    path = tmp_path / "old.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR,"
            " applied_at TIMESTAMPTZ)"
        )
        for m in MIGRATIONS[:4]:
            con.execute(m.sql)
            con.execute("INSERT INTO schema_migrations VALUES (?, ?, now())", [m.version, m.name])
        con.execute(
            "INSERT INTO calls (call_id, source_uri, current_analysis_id, first_seen_at,"
            " updated_at) VALUES ('old-1', 's3://b/old-1.wav', NULL, now(), now())"
        )
    monkeypatch.setenv("CALLSCOPE_WAREHOUSE", str(path))
    at = run_page(page)
    # cost, lineage, confidence; the calls list's snippet column (migration 40)
    if page in ("views/overview.py", "views/call_detail.py", "views/calls.py"):
        assert "callscope migrate" in at.info[0].value
    else:  # the runs page needs no column added after migration 4
        assert not at.info, [i.value for i in at.info]


def test_missing_column_in_a_current_schema_is_not_hidden(warehouse) -> None:
    # Only an older schema turns a missing column into the "migrate" message: on an up to
    # date warehouse it is a bug in a query and must show as one.
    def script() -> None:
        from dashboard.data import with_warehouse

        with_warehouse(lambda con: con.execute("SELECT no_such_column FROM calls").fetchall())

    at = AppTest.from_function(script, default_timeout=TIMEOUT).run()
    assert at.exception and "no_such_column" in at.exception[0].value
    assert not at.info


def test_the_calls_page_reads_a_ducklake(warehouse, tmp_path: Path, monkeypatch) -> None:
    from analytics.config import Settings
    from analytics.warehouse.lake import LakeWarehouse, copy_into_lake

    monkeypatch.setenv("CALLSCOPE_LAKE_CATALOG", str(tmp_path / "catalog.ducklake"))
    monkeypatch.setenv("CALLSCOPE_LAKE_DATA_PATH", str(tmp_path / "lake") + "/")
    monkeypatch.setenv("CALLSCOPE_DATA_DIR", str(tmp_path / "data"))
    copy_into_lake(warehouse.path, LakeWarehouse(Settings()))
    with connect_read_only(warehouse.path) as con:
        expected = queries.list_calls(con)["call_id"].tolist()
    monkeypatch.setenv("CALLSCOPE_WAREHOUSE", str(tmp_path / "absent.duckdb"))  # not read
    at = run_page("views/calls.py")
    assert not at.info, [i.value for i in at.info]
    assert frame_with(at, "call_id")["call_id"].tolist() == expected
