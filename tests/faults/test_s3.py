"""S3 misbehaving under a real nightly_ingest: throttling, 5xx, stalls, a vanished object.
boto3 reaches the loopback S3 server through a fault-injecting proxy."""

from __future__ import annotations

from typing import Any

import pytest

from analytics.errors import TransientSourceError
from analytics.warehouse import connect_read_only
from tests.fakes.s3_proxy import Fault, FaultProxy
from tests.faults.conftest import Batch
from tests.faults.invariant import check_invariant
from tests.reliability import record_fault

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _errors(batch: Batch) -> list[tuple[Any, ...]]:
    with connect_read_only(batch.warehouse) as con:
        return con.execute(
            "SELECT source_uri, stage, error_type, reason, retryable FROM call_errors"
        ).fetchall()


@pytest.mark.parametrize(
    ("fault_id", "fault"),
    [
        ("s3_slowdown_once", Fault("slowdown", key="call1.wav")),
        ("s3_internal_list_once", Fault("internal", list=True)),
        ("s3_stall_once", Fault("stall", key="call1.wav", stall_s=1.5)),
    ],
)
def test_a_blip_is_retried_by_the_client_and_every_call_lands(
    prefect_harness: None, batch: Batch, proxy: FaultProxy, fault_id: str, fault: Fault
) -> None:
    from flows.ingest import nightly_ingest

    proxy.inject(fault)
    summary = nightly_ingest(source=batch.source)
    assert fault.injected == 1, proxy.log
    assert (summary["processed"], summary["failed"]) == (2, 0)
    states = check_invariant(batch.warehouse, batch.uris)
    assert set(states.values()) == {"processed"}
    record_fault(fault_id, "retried by the S3 client; processed: 2 of 2, failed: 0")


@pytest.mark.parametrize(
    ("fault_id", "fault", "says"),
    [
        ("s3_slowdown_always", Fault("slowdown", key="call1.wav", times=99), "SlowDown"),
        ("s3_stall_always", Fault("stall", key="call1.wav", times=99, stall_s=0.8), "timeout"),
    ],
)
def test_a_lasting_fault_fails_that_call_and_the_next_run_lands_it(
    prefect_harness: None,
    batch: Batch,
    proxy: FaultProxy,
    fault_id: str,
    fault: Fault,
    says: str,
) -> None:
    from flows.ingest import nightly_ingest

    proxy.inject(fault)
    first = nightly_ingest(source=batch.source)
    assert (first["processed"], first["failed"]) == (1, 1)
    ((uri, stage, error_type, reason, retryable),) = _errors(batch)
    assert uri.endswith("call1.wav") and stage == "fetch" and retryable
    assert error_type == TransientSourceError.__name__ and says in reason
    states = check_invariant(batch.warehouse, batch.uris)
    observed = f"that call failed at `fetch`: {states[uri].split(': ', 1)[1]}"

    proxy.faults.clear()
    second = nightly_ingest(source=batch.source)
    assert (second["processed"], second["skipped"]) == (1, 1)
    assert set(check_invariant(batch.warehouse, batch.uris).values()) == {"processed"}
    record_fault(fault_id, f"{observed}; the other call processed; the next run processed it")


def test_a_listing_that_keeps_failing_fails_the_run_and_loses_nothing(
    prefect_harness: None, batch: Batch, proxy: FaultProxy
) -> None:
    from flows.ingest import nightly_ingest

    proxy.inject(Fault("internal", list=True, times=99))
    with pytest.raises(TransientSourceError, match="InternalError"):
        nightly_ingest(source=batch.source)
    with connect_read_only(batch.warehouse) as con:
        ((status, error),) = con.execute("SELECT status, error FROM runs").fetchall()
    assert status == "failed" and "listing" in error
    check_invariant(batch.warehouse, [])  # nothing was discovered

    proxy.faults.clear()
    summary = nightly_ingest(source=batch.source)
    assert summary["processed"] == 2
    check_invariant(batch.warehouse, batch.uris)
    record_fault(
        "s3_list_down",
        f"the run failed (`runs.error`: {error.split(';')[0]}); the next run processed 2 of 2",
    )


def test_an_object_deleted_after_listing_fails_at_fetch_and_is_gone_next_run(
    prefect_harness: None, batch: Batch, proxy: FaultProxy
) -> None:
    from flows.ingest import nightly_ingest

    gone = batch.keys[1]
    proxy.inject(
        Fault(
            "forward",
            method="HEAD",
            key=gone,
            before=lambda: batch.direct.delete_object(Bucket=batch.bucket, Key=gone),
        )
    )
    first = nightly_ingest(source=batch.source)
    assert (first["processed"], first["failed"]) == (1, 1)
    ((uri, stage, _, reason, retryable),) = _errors(batch)
    assert uri.endswith(gone) and stage == "fetch" and retryable
    assert "deleted after it was listed" in reason
    states = check_invariant(batch.warehouse, batch.uris)

    second = nightly_ingest(source=batch.source)
    assert (second["discovered"], second["processed"], second["failed"]) == (1, 0, 0)
    check_invariant(batch.warehouse, batch.uris)
    record_fault(
        "s3_deleted",
        f"{states[uri].replace('failed at fetch', 'failed at `fetch`')};"
        " the other call processed; the next run no longer lists it",
    )
