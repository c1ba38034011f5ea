"""The download directory runs out of space: a real ``callscope ingest`` process whose
CALLSCOPE_DATA_DIR is a 32 KiB tmpfs, mounted in its own mount namespace (``unshare``:
no root needed and nothing mounted outside that process); the warehouse is on the normal
disk. The recordings are larger than the tmpfs, so every download hits ENOSPC."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from analytics.warehouse import connect_read_only
from tests.conftest import ROOT
from tests.faults.conftest import Batch
from tests.faults.invariant import check_invariant
from tests.reliability import record_fault

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _can_mount_tmpfs(where: Path) -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "-rm", "sh", "-c", 'mount -t tmpfs -o size=32k tmpfs "$1"', "sh", str(where)],
        capture_output=True,
    )
    return probe.returncode == 0


def test_a_full_download_disk_fails_each_call_with_a_reason_and_loses_none(
    prefect_harness: None, batch: Batch, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.settings import get_current_settings

    from flows.ingest import nightly_ingest

    full = tmp_path / "full"
    full.mkdir()
    if not _can_mount_tmpfs(full):
        pytest.skip("unshare cannot mount a tmpfs here (no user namespaces)")
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "PREFECT_API_URL": str(get_current_settings().api.url),
        "CALLSCOPE_DATA_DIR": str(full),
        "CALLSCOPE_S3_READ_TIMEOUT_S": "10",
    }
    script = 'mount -t tmpfs -o size=32k tmpfs "$1" && shift && exec "$@"'
    proc = subprocess.run(
        ["unshare", "-rm", "sh", "-c", script, "sh", str(full),
         sys.executable, "-m", "flows.cli", "ingest", batch.source],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stdout + proc.stderr
    with connect_read_only(batch.warehouse) as con:
        errors = con.execute("SELECT stage, reason, retryable FROM call_errors").fetchall()
    assert len(errors) == 2
    assert all(stage == "fetch" and retryable for stage, _, retryable in errors)
    reason = errors[0][1]
    assert "No space left on device" in reason and "CALLSCOPE_DATA_DIR" in reason
    assert not list(full.iterdir())  # nothing of the tmpfs leaked onto the real disk
    check_invariant(batch.warehouse, batch.uris)

    monkeypatch.setenv("CALLSCOPE_DATA_DIR", str(tmp_path / "data"))
    summary = nightly_ingest(source=batch.source)
    assert summary["processed"] == 2
    assert set(check_invariant(batch.warehouse, batch.uris).values()) == {"processed"}
    record_fault(
        "disk_full",
        f"each call failed at `fetch` (retryable, partial file removed): {reason};"
        " the next run, with room, processed 2 of 2",
    )
