"""Call detail shows the voice agent's metrics (and its events) only for agent calls."""

from __future__ import annotations

from pathlib import Path

import pytest

from analytics.landing import Processed, land_processed
from analytics.models import CallMetadata
from analytics.warehouse import Warehouse
from tests.analytics.test_agent_metrics import UTTERANCES, _extra
from tests.dashboard.test_app import metrics_of, run_page
from tests.factories import call_result


@pytest.fixture
def agent_warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    wh = Warehouse(tmp_path / "warehouse.duckdb")
    wh.migrate()
    meta = CallMetadata("agent-CA9", channel_roles=("customer", "agent"), extra=_extra())
    agent_call = call_result(UTTERANCES, call_id="agent-CA9", metadata=meta)
    for result in (agent_call, call_result(UTTERANCES, call_id="plain-1", etag="e2")):
        land_processed(wh, Processed(result), run_id=None, ruleset=None, redact_pii=True)
    monkeypatch.setenv("CALLSCOPE_WAREHOUSE", str(wh.path))
    return wh.path


def test_agent_call_shows_agent_metrics_next_to_the_audio(agent_warehouse: Path) -> None:
    at = run_page("views/call_detail.py", call_id="agent-CA9")
    assert "Voice agent" in [h.value for h in at.subheader]
    metrics = metrics_of(at)
    assert metrics["Response p50 / p95"] == "850 / 1075 ms"
    assert metrics["From the audio p50 / p95"] == "950 / 1175 ms"
    assert metrics["Barge-ins"] == "1"
    assert metrics["Tool calls"] == "1 (850 ms)"
    assert any("ended by agent_hangup" in c.value for c in at.caption)


def test_other_calls_have_no_agent_section(agent_warehouse: Path) -> None:
    at = run_page("views/call_detail.py", call_id="plain-1")
    assert "Voice agent" not in [h.value for h in at.subheader]
