"""nightly_ingest with LLM insights: the real openai SDK against a local fake of the Chat
Completions API, through the real Prefect harness and S3 API server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from analytics.config import Settings
from analytics.warehouse import connect_read_only
from flows.local_s3 import LocalS3
from tests.analytics.test_insights_llm import SECRET, respond
from tests.conftest import sample_audio, sample_sidecar
from tests.fakes.openai_server import FakeOpenAIServer

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


@pytest.fixture
def llm() -> Iterator[FakeOpenAIServer]:
    server = FakeOpenAIServer(respond)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_llm_insights_land_with_lineage_and_a_rerun_spends_nothing(
    prefect_harness: None,
    monkeypatch: pytest.MonkeyPatch,
    settings: Settings,
    s3_server: LocalS3,
    llm: FakeOpenAIServer,
    s3_client: Any,
    bucket: str,
) -> None:
    from flows.ingest import nightly_ingest

    values = {
        "WAREHOUSE": str(settings.warehouse),
        "DATA_DIR": str(settings.data_dir),
        "INSIGHTS_ENGINE": "openai",
        "LLM_BASE_URL": llm.base_url,
        "LLM_API_KEY": SECRET,
        "LLM_MODEL": "gpt-4o-mini",
        **{k.upper(): v for k, v in s3_server.settings_overrides().items()},
    }
    for key, value in values.items():
        monkeypatch.setenv(f"CALLSCOPE_{key}", value)
    name = "billing_resolved"
    s3_client.upload_file(str(sample_audio(name)), bucket, f"calls/{name}.wav")
    s3_client.put_object(
        Bucket=bucket, Key=f"calls/{name}.json", Body=json.dumps(sample_sidecar(name)).encode()
    )

    summary = nightly_ingest(source=f"s3://{bucket}/calls/")
    assert summary["processed"] == 1 and summary["insights"]["ok"] == 1
    assert summary["insights"]["llm"]["requests"] >= 1 and summary["insights"]["llm"]["tokens_in"]
    with connect_read_only(settings.warehouse) as con:
        row = con.execute(
            "SELECT engine, model, prompt_version, tokens_in, tokens_out, cost_usd, status,"
            " outcome FROM current_insights"
        ).fetchone()
    assert row is not None
    engine, model, prompt_version, t_in, t_out, cost, status, outcome = row
    assert (engine, model, status) == ("openai", "gpt-4o-mini", "ok")
    assert prompt_version and t_in > 0 and t_out > 0 and cost > 0 and outcome
    # the transcript sent to the LLM was redacted text of the real call
    assert "Northwind" in json.dumps(llm.bodies()[0])
    sent = len(llm.requests)

    again = nightly_ingest(source=f"s3://{bucket}/calls/")
    assert again["skipped"] == 1 and len(llm.requests) == sent  # nothing new: no tokens
