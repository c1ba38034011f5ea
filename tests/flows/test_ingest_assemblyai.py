"""nightly_ingest with the cloud engine: the real assemblyai SDK against a local fake of
its API, recordings in a real S3 API server, the real Prefect harness."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from analytics.audio import decode
from analytics.config import Settings
from analytics.warehouse import connect_read_only
from flows.local_s3 import LocalS3
from tests.conftest import sample_audio, sample_sidecar
from tests.fakes.assemblyai_server import API_KEY, FakeAssemblyAI, canned_from_turns

pytestmark = [pytest.mark.e2e]

CALLS = ["billing_resolved", "tech_support"]


@pytest.fixture
def fake() -> Iterator[FakeAssemblyAI]:
    with FakeAssemblyAI() as server:
        for name in CALLS:
            side = sample_sidecar(name)
            server.add_recording(
                sample_audio(name),
                canned_from_turns(
                    side["reference"]["turns"],
                    duration_s=decode(sample_audio(name)).duration_s,
                    channel_roles=side.get("channel_roles"),
                    summary="The customer called about their account.",
                ),
            )
        yield server


@pytest.fixture
def env(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, s3_server: LocalS3, fake: FakeAssemblyAI
) -> Settings:
    values = {
        "WAREHOUSE": str(settings.warehouse),
        "DATA_DIR": str(settings.data_dir),
        "ENGINE": "assemblyai",
        "ASSEMBLYAI_API_KEY": API_KEY,
        "ASSEMBLYAI_BASE_URL": fake.base_url,
        "ASSEMBLYAI_POLL_INTERVAL_S": "0.05",
        **{k.upper(): v for k, v in s3_server.settings_overrides().items()},
    }
    for key, value in values.items():
        monkeypatch.setenv(f"CALLSCOPE_{key}", value)
    return settings


def test_cloud_calls_are_submitted_polled_together_and_never_twice(
    prefect_harness: None, env: Settings, fake: FakeAssemblyAI, s3_client: Any, bucket: str
) -> None:
    from flows.ingest import nightly_ingest

    for name in CALLS:
        audio = sample_audio(name)
        s3_client.upload_file(str(audio), bucket, f"calls/{audio.name}")
        s3_client.put_object(
            Bucket=bucket, Key=f"calls/{name}.json", Body=json.dumps(sample_sidecar(name)).encode()
        )
    summary = nightly_ingest(source=f"s3://{bucket}/calls/")
    assert (summary["processed"], summary["failed"]) == (2, 0)
    # audio reached the fake as presigned S3 URLs: nothing was uploaded again
    assert fake.counts["upload"] == 0 and fake.counts["create"] == 2
    assert all(body["audio_url"].startswith(env.s3_endpoint_url or "") for body in fake.created)
    with connect_read_only(env.warehouse) as con:
        rows = con.execute(
            "SELECT call_id, engine, diarization, engine_job_id IS NOT NULL, billed_minutes,"
            " cost_usd FROM current_analyses ORDER BY call_id"
        ).fetchall()
        native = con.execute(
            "SELECT call_id, summary FROM current_insights WHERE prompt_version = 'native'"
            " ORDER BY call_id"
        ).fetchall()
        roles = con.execute(
            "SELECT DISTINCT role FROM current_utterances WHERE call_id = 'billing_resolved'"
        ).fetchall()
    assert [r[:4] for r in rows] == [
        ("billing_resolved", "assemblyai", "channels", True),
        ("tech_support", "assemblyai", "engine", True),
    ]
    for *_, billed, cost in rows:
        assert billed > 0.5 and cost == pytest.approx(
            billed * env.price_assemblyai_per_min, abs=1e-5
        )
    assert [c for c, _ in native] == CALLS and all(s for _, s in native)
    assert {r for (r,) in roles} == {"agent", "customer"}

    again = nightly_ingest(source=f"s3://{bucket}/calls/")
    assert (again["processed"], again["skipped"]) == (0, 2)
    assert fake.counts["create"] == 2
