"""Secrets reach a flow only through the environment or Prefect Secret blocks, and nothing
of them is left behind: a full nightly_ingest (real Prefect harness, loopback S3 with its
own secret key, the AssemblyAI and OpenAI fakes checking their keys) is followed by a scan
of every log record (captured and stored by Prefect), every flow-run and task-run record
(parameters included) and artifact in Prefect's API, and every warehouse row."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from analytics.audio import decode
from analytics.errors import ConfigError
from analytics.sources.s3 import make_client
from analytics.warehouse import connect_read_only
from flows.local_s3 import LocalS3
from flows.secrets import REDACTED, block_name
from tests.analytics.test_insights_llm import respond
from tests.fakes.assemblyai_server import FakeAssemblyAI, canned_from_turns
from tests.fakes.openai_server import FakeOpenAIServer
from tests.flows.clips import speech_clip
from tests.privacy.scan import prefect_records, warehouse_rows

pytestmark = [pytest.mark.e2e]

AAI_SECRET = "aai-" + uuid.uuid4().hex
LLM_SECRET = "sk-proj-" + uuid.uuid4().hex
S3_SECRET = "s3sec/" + uuid.uuid4().hex
SECRETS = {"assemblyai": AAI_SECRET, "llm": LLM_SECRET, "s3": S3_SECRET}


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    return speech_clip(tmp_path / "clip" / "secret_call.wav", 0.0)


@pytest.fixture
def services(clip: Path) -> Iterator[tuple[FakeAssemblyAI, FakeOpenAIServer]]:
    llm = FakeOpenAIServer(respond)
    llm.start()
    with FakeAssemblyAI(api_key=AAI_SECRET) as aai:
        turns = [
            {"speaker": "A", "role": "agent", "start": 0.2, "end": 1.8,
             "text": "Thank you for calling, how can I help?"},
            {"speaker": "B", "role": "customer", "start": 2.0, "end": 3.8,
             "text": "Hi, I have a question about my order please."},
        ]  # fmt: skip
        aai.add_recording(clip, canned_from_turns(turns, duration_s=decode(clip).duration_s))
        try:
            yield aai, llm
        finally:
            llm.stop()


@pytest.fixture
def env(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    s3_server: LocalS3,
    services: tuple[FakeAssemblyAI, FakeOpenAIServer],
) -> Path:
    aai, llm = services
    values = {
        "WAREHOUSE": str(tmp_path / "w.duckdb"),
        "DATA_DIR": str(tmp_path / "data"),
        "WORKERS": "1",
        "DIARIZER": "none",
        "S3_ENDPOINT_URL": s3_server.endpoint_url,
        "S3_ACCESS_KEY_ID": "AKIDSECRETSTEST",
        "S3_SECRET_ACCESS_KEY": S3_SECRET,
        "ASSEMBLYAI_API_KEY": AAI_SECRET,
        "ASSEMBLYAI_BASE_URL": aai.base_url,
        "ASSEMBLYAI_POLL_INTERVAL_S": "0.05",
        "INSIGHTS_ENGINE": "openai",
        "LLM_BASE_URL": llm.base_url,
        "LLM_MODEL": "gpt-4o-mini",
    }  # the LLM key comes from a Prefect Secret block
    for key, value in values.items():
        monkeypatch.setenv(f"CALLSCOPE_{key}", value)
    monkeypatch.delenv("CALLSCOPE_LLM_API_KEY", raising=False)
    return tmp_path / "w.duckdb"


@pytest.fixture
def llm_key_block(prefect_harness: None) -> Iterator[None]:
    from prefect.blocks.system import Secret

    Secret(value=LLM_SECRET).save(block_name("llm_api_key"), overwrite=True)
    try:
        yield
    finally:
        from prefect.client.orchestration import get_client

        with get_client(sync_client=True) as client:
            doc = client.read_block_document_by_name(block_name("llm_api_key"), "secret")
            client.delete_block_document(doc.id)


def _upload(s3_server: LocalS3, clip: Path) -> str:
    client = make_client(
        {
            "endpoint_url": s3_server.endpoint_url,
            "aws_access_key_id": "AKIDSECRETSTEST",
            "aws_secret_access_key": S3_SECRET,
            "region_name": "us-east-1",
        }
    )
    bucket = f"secrets-{uuid.uuid4().hex[:10]}"
    client.create_bucket(Bucket=bucket)
    client.upload_file(str(clip), bucket, f"calls/{clip.name}")
    return f"s3://{bucket}/calls/"


@pytest.mark.parametrize(
    "engine", ["assemblyai", pytest.param("faster-whisper", marks=pytest.mark.slow)]
)
def test_no_secret_is_logged_stored_or_kept_as_a_parameter(
    prefect_harness: None,
    llm_key_block: None,
    env: Path,
    s3_server: LocalS3,
    clip: Path,
    services: tuple[FakeAssemblyAI, FakeOpenAIServer],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    engine: str,
) -> None:
    from flows.ingest import nightly_ingest

    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("CALLSCOPE_ENGINE", engine)
    aai, llm = services
    summary = nightly_ingest(source=_upload(s3_server, clip), settings={"workers": 1})
    assert (summary["processed"], summary["failed"]) == (1, 0)
    assert summary["insights"].get("ok") == 1
    # every secret was used: the fakes checked them, S3 signed with the secret key
    assert llm.requests[0].headers["authorization"] == f"Bearer {LLM_SECRET}"
    assert (aai.counts["create"] == 1) == (engine == "assemblyai")

    with connect_read_only(env) as con:
        ((flow_run_id,),) = con.execute("SELECT flow_run_id FROM runs").fetchall()
    places = {
        "captured logs": caplog.text + json.dumps([str(r.args) for r in caplog.records]),
        **{f"prefect {k}": v for k, v in prefect_records(flow_run_id).items()},
        **{f"warehouse {k}": v for k, v in warehouse_rows(env).items()},
    }
    # the scan sees real records: the run's parameters, its logs, the landed call
    assert '"settings":{"workers":1}' in places["prefect flow run"].replace(" ", "")
    assert flow_run_id in places["prefect logs"] and places["warehouse utterances"] != "[]"
    for name, secret in SECRETS.items():
        for where, text in places.items():
            assert secret not in text, f"the {name} secret is in {where}"


def test_a_secret_passed_as_a_flow_parameter_fails_the_run_and_is_wiped(
    prefect_harness: None, env: Path
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.sorting import FlowRunSort

    from flows.ingest import nightly_ingest

    with pytest.raises(ConfigError, match="CALLSCOPE_LLM_API_KEY") as raised:
        nightly_ingest(source=str(env.parent), settings={"llm_api_key": LLM_SECRET})
    assert LLM_SECRET not in str(raised.value) and "callscope-llm-api-key" in str(raised.value)
    with get_client(sync_client=True) as client:
        (run,) = client.read_flow_runs(sort=FlowRunSort.START_TIME_DESC, limit=1)
    assert run.parameters["settings"] == {"llm_api_key": REDACTED}
    assert LLM_SECRET not in run.model_dump_json()
    assert not env.exists() or not warehouse_rows(env).get("runs", "[]").count(LLM_SECRET)
