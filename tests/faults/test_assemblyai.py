"""The cloud engine failing under a real nightly_ingest: the real assemblyai SDK against
the loopback fake of its API (error status, a job that never finishes, 429)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from analytics.audio import decode
from analytics.warehouse import connect_read_only
from tests.fakes.assemblyai_server import API_KEY, FakeAssemblyAI, canned_from_turns
from tests.faults.conftest import Batch
from tests.faults.invariant import check_invariant
from tests.reliability import record_fault

pytestmark = [pytest.mark.e2e]

NO_AUDIO = "File does not appear to contain audio. File type is text/plain (ASCII text)."


@pytest.fixture
def fake(clips: list[Path]) -> Iterator[FakeAssemblyAI]:
    with FakeAssemblyAI() as server:
        for i, clip in enumerate(clips):
            duration = decode(clip).duration_s
            turns = [
                {"speaker": "A", "role": "agent", "start": 0.2, "end": 1.8,
                 "text": f"Thank you for calling, this is call {i}."},
                {"speaker": "B", "role": "customer", "start": 2.0, "end": duration - 0.2,
                 "text": "Hi, I have a question about my order please."},
            ]  # fmt: skip
            server.add_recording(
                clip,
                canned_from_turns(
                    turns, duration_s=duration, error=NO_AUDIO if clip.name == "call1.wav" else None
                ),
            )
        yield server


@pytest.fixture
def cloud(batch: Batch, fake: FakeAssemblyAI, monkeypatch: pytest.MonkeyPatch) -> Batch:
    for key, value in {
        "ENGINE": "assemblyai",
        "ASSEMBLYAI_API_KEY": API_KEY,
        "ASSEMBLYAI_BASE_URL": fake.base_url,
        "ASSEMBLYAI_POLL_INTERVAL_S": "0.05",
        "ASSEMBLYAI_MAX_RETRIES": "1",
    }.items():
        monkeypatch.setenv(f"CALLSCOPE_{key}", value)
    return batch


def _errors(batch: Batch) -> dict[str, tuple[Any, ...]]:
    with connect_read_only(batch.warehouse) as con:
        rows = con.execute(
            "SELECT source_uri, stage, reason, retryable FROM call_errors ORDER BY occurred_at"
        ).fetchall()
    return {Path(uri).name: (stage, reason, retryable) for uri, stage, reason, retryable in rows}


def test_an_error_status_fails_that_call_with_assemblyai_s_words(
    prefect_harness: None, cloud: Batch
) -> None:
    from flows.ingest import nightly_ingest

    first = nightly_ingest(source=cloud.source)
    assert (first["processed"], first["failed"]) == (1, 1)
    stage, reason, _ = _errors(cloud)["call1.wav"]
    assert stage == "transcribe" and NO_AUDIO in reason
    states = check_invariant(cloud.warehouse, cloud.uris)

    again = nightly_ingest(source=cloud.source)  # the same object version is not resubmitted
    assert (again["processed"], again["failed"], again["skipped"]) == (0, 0, 2)
    check_invariant(cloud.warehouse, cloud.uris)
    failed = states[cloud.uris[1]].replace("failed at transcribe", "failed at `transcribe`")
    record_fault("aai_error_status", f"that call {failed}; the other call processed")


def test_a_job_that_never_finishes_times_out_and_the_next_run_resumes_it(
    prefect_harness: None, cloud: Batch, fake: FakeAssemblyAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.ingest import nightly_ingest

    monkeypatch.setenv("CALLSCOPE_ASSEMBLYAI_POLL_TIMEOUT_S", "0.5")
    fake.never_complete = True
    first = nightly_ingest(source=cloud.source)
    assert (first["processed"], first["failed"]) == (0, 2)
    errors = _errors(cloud)
    assert all(stage == "transcribe" and retryable for stage, _, retryable in errors.values())
    reason = errors["call0.wav"][1]
    assert "0.5" in reason
    check_invariant(cloud.warehouse, cloud.uris)

    fake.never_complete = False
    created = fake.counts["create"]
    second = nightly_ingest(source=cloud.source)
    assert (second["processed"], second["failed"]) == (1, 1)  # call1 holds no audio
    assert fake.counts["create"] == created  # resumed by id: nothing submitted twice
    check_invariant(cloud.warehouse, cloud.uris)
    record_fault(
        "aai_poll_timeout",
        f"every call failed at `transcribe` (retryable): {reason}. It did: the same"
        " transcript ids, 0 new submissions, processed",
    )


def test_one_429_is_retried(prefect_harness: None, cloud: Batch, fake: FakeAssemblyAI) -> None:
    from flows.ingest import nightly_ingest

    fake.fail_next("create", 429, retry_after=0.1)
    first = nightly_ingest(source=cloud.source)
    assert (first["processed"], first["failed"]) == (1, 1)  # call1 holds no audio
    assert fake.counts["create"] == 3
    check_invariant(cloud.warehouse, cloud.uris)
    record_fault("aai_429_once", "retried after Retry-After; processed as usual (3 submissions)")


def test_lasting_429s_fail_the_calls_until_the_next_run(
    prefect_harness: None, cloud: Batch, fake: FakeAssemblyAI
) -> None:
    from flows.ingest import nightly_ingest

    fake.fail_next("create", 429, times=99, retry_after=0.1)
    first = nightly_ingest(source=cloud.source)
    assert (first["processed"], first["failed"]) == (0, 2)
    stage, reason, retryable = _errors(cloud)["call0.wav"]
    assert stage == "transcribe" and retryable and "429" in reason
    check_invariant(cloud.warehouse, cloud.uris)

    fake.clear_failures()
    second = nightly_ingest(source=cloud.source)
    assert (second["processed"], second["failed"]) == (1, 1)  # call1 holds no audio
    states = check_invariant(cloud.warehouse, cloud.uris)
    assert states[cloud.uris[0]] == "processed"
    record_fault(
        "aai_429_always",
        f"every call failed at `transcribe` (retryable): {reason}; the next run processed them",
    )
