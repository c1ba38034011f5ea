"""The LLM failing under a real nightly_ingest: the real openai SDK against the loopback
fake of the Chat Completions API. The transcript always lands; insights say why not."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from analytics.warehouse import connect_read_only
from tests.analytics.test_insights_llm import SECRET, respond
from tests.fakes import Reply
from tests.fakes.openai_server import FakeOpenAIServer
from tests.faults.conftest import Batch
from tests.faults.invariant import check_invariant
from tests.reliability import record_fault

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture
def llm(batch: Batch, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAIServer]:
    server = FakeOpenAIServer(respond)
    server.start()
    for key, value in {
        "INSIGHTS_ENGINE": "openai",
        "LLM_BASE_URL": server.base_url,
        "LLM_API_KEY": SECRET,
        "LLM_MODEL": "gpt-4o-mini",
        "LLM_TIMEOUT_S": "0.5",
        "LLM_MAX_RETRIES": "0",
    }.items():
        monkeypatch.setenv(f"CALLSCOPE_{key}", value)
    try:
        yield server
    finally:
        server.stop()


def _faults(server: FakeOpenAIServer) -> dict[str, list[Reply]]:
    return {
        "llm_timeout": [server.slow(2.0, server.text(respond({"messages": []})))],
        "llm_invalid_json": [server.text("Sure! Here is the summary: {"), server.text("{oops")],
        "llm_refusal": [server.refusal()],
    }


@pytest.mark.parametrize(
    ("fault_id", "says"),
    [
        ("llm_timeout", "timed out"),
        ("llm_invalid_json", "JSON|valid"),
        ("llm_refusal", "refused"),
    ],
)
def test_a_failing_llm_fails_the_insights_not_the_call(
    prefect_harness: None, batch: Batch, llm: FakeOpenAIServer, fault_id: str, says: str
) -> None:
    import re

    from flows.ingest import nightly_ingest

    llm.enqueue(*_faults(llm)[fault_id])  # one worker: the first call meets the fault
    summary = nightly_ingest(source=batch.source)
    assert (summary["processed"], summary["failed"]) == (2, 0)
    assert summary["insights"]["failed"] == 1 and summary["insights"]["ok"] == 1
    with connect_read_only(batch.warehouse) as con:
        ((status, error, n_utterances),) = con.execute(
            "SELECT i.status, i.error, a.n_utterances FROM current_insights i"
            " JOIN analyses a USING (analysis_id) WHERE i.status <> 'ok'"
        ).fetchall()
    assert status == "failed" and re.search(says, error), error
    assert n_utterances > 0  # the transcript landed
    assert set(check_invariant(batch.warehouse, batch.uris).values()) == {"processed"}
    record_fault(
        fault_id,
        f"both calls processed; that call's insights `failed`: {error}"
        " (`callscope reprocess --insights-status failed` retries them)",
    )
