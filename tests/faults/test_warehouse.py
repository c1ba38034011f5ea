"""Another process takes the warehouse's write lock while a real nightly_ingest is
mid-batch: the lock is taken when the second recording is downloaded, so it is held when
the flow comes to land."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from analytics.errors import WarehouseLockedError
from analytics.warehouse import connect_read_only
from tests.fakes.s3_proxy import Fault, FaultProxy
from tests.faults.conftest import Batch
from tests.faults.invariant import check_invariant
from tests.reliability import record_fault

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

_HOLDER = """
import sys, time, duckdb
while True:
    try:
        con = duckdb.connect(sys.argv[1])
        break
    except duckdb.Error:
        time.sleep(0.02)
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
"""


class Locker:
    """Starts a process that holds the warehouse's write lock for ``hold_s`` seconds."""

    def __init__(self, path: Path, hold_s: float) -> None:
        self.path, self.hold_s = path, hold_s
        self.proc: subprocess.Popen[str] | None = None

    def __call__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _HOLDER, str(self.path), str(self.hold_s)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline().strip() == "locked"

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def locker(batch: Batch) -> Iterator[Locker]:
    lock = Locker(batch.warehouse, 0)
    yield lock
    lock.stop()


def test_a_brief_lock_at_landing_is_waited_out(
    prefect_harness: None, batch: Batch, proxy: FaultProxy, locker: Locker
) -> None:
    from flows.ingest import nightly_ingest

    locker.hold_s = 2.0
    proxy.inject(Fault("forward", key="call1.wav", before=locker))
    summary = nightly_ingest(source=batch.source)
    assert locker.proc is not None and locker.proc.wait(timeout=30) == 0
    assert (summary["processed"], summary["failed"]) == (2, 0)
    assert set(check_invariant(batch.warehouse, batch.uris).values()) == {"processed"}
    record_fault(
        "warehouse_locked_briefly", "landing waited for the lock; processed: 2 of 2, failed: 0"
    )


def test_a_lasting_lock_fails_the_run_and_the_next_run_lands_each_call_once(
    prefect_harness: None,
    batch: Batch,
    proxy: FaultProxy,
    locker: Locker,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from flows.ingest import nightly_ingest

    monkeypatch.setattr("analytics.warehouse.db._LOCK_WAIT_S", 1.0)
    locker.hold_s = 120.0
    proxy.inject(Fault("forward", key="call1.wav", before=locker))
    with pytest.raises(WarehouseLockedError, match="locked by another process") as raised:
        nightly_ingest(source=batch.source)
    locker.stop()

    summary = nightly_ingest(source=batch.source)
    assert len(summary["crashed_runs"]) == 1
    assert summary["processed"] + summary["skipped"] == 2 and summary["failed"] == 0
    with connect_read_only(batch.warehouse) as con:
        runs = con.execute("SELECT status, error FROM runs ORDER BY started_at").fetchall()
    assert [s for s, _ in runs] == ["crashed", "completed"]
    assert "could not record its end" in runs[0][1]
    assert set(check_invariant(batch.warehouse, batch.uris).values()) == {"processed"}
    reason = str(raised.value).split(";")[0].replace(str(batch.warehouse), "w.duckdb")
    record_fault(
        "warehouse_locked",
        f"the run failed ({reason}); nothing half-landed; the next run marked it `crashed`"
        " and processed what had not landed; each call landed once",
    )
