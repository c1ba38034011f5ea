"""Run bookkeeping: the ``runs`` rows, crash detection and per-recording claims.

A run is ``running`` until the flow finishes it as ``completed`` or ``failed`` (with the
reason). A process that died (SIGKILL, power loss) cannot finish its row: the next run on
the same host finds the row's process gone and marks it ``crashed``; so does a run in the
same process whose earlier run ended without recording its end (the warehouse was locked).
While it runs, a run holds a claim on each object version it processes (``call_claims``),
so two runs started at once never transcribe the same recording; claims of runs that are no
longer running are void.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import uuid
from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any

import duckdb

from analytics.models import RecordingRef

log = logging.getLogger(__name__)

RUN_STATUSES = ("running", "completed", "failed", "crashed")

#: Runs started by this process and not finished (or given up) yet.
_ACTIVE: set[str] = set()
_ACTIVE_LOCK = threading.Lock()
_DIED = "the run's process died before it finished"
_UNRECORDED = "the run ended but could not record its end (the warehouse was locked or gone)"


def _now() -> datetime:
    return datetime.now(UTC)


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists on this host (zombies count as dead)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return True


class RunBook:
    """Mixed into :class:`~analytics.warehouse.db.Warehouse`: run rows and claims."""

    def connect(self) -> AbstractContextManager[duckdb.DuckDBPyConnection]:
        raise NotImplementedError

    def transaction(self) -> AbstractContextManager[duckdb.DuckDBPyConnection]:
        raise NotImplementedError

    def start_run(
        self,
        source: str,
        params: dict[str, Any],
        flow_run_id: str | None = None,
        kind: str = "ingest",
    ) -> str:
        """A new ``running`` row owned by this process; returns its id."""
        run_id = uuid.uuid4().hex
        with self.connect() as con:
            con.execute(
                "INSERT INTO runs (run_id, flow_run_id, source, started_at, status, params,"
                " kind, pid, host) VALUES (?, ?, ?, ?, 'running', ?, ?, ?, ?)",
                [
                    run_id,
                    flow_run_id,
                    source,
                    _now(),
                    json.dumps(params, default=str),
                    kind,
                    os.getpid(),
                    socket.gethostname(),
                ],
            )
        with _ACTIVE_LOCK:
            _ACTIVE.add(run_id)
        return run_id

    def finish_run(
        self,
        run_id: str,
        *,
        status: str,
        discovered: int = 0,
        processed: int = 0,
        failed: int = 0,
        skipped: int = 0,
        audio_s: float = 0.0,
        wall_s: float | None = None,
        error: str | None = None,
    ) -> None:
        """Close a run (``completed`` or ``failed`` with ``error``) and drop its claims.
        The run stops being active first: if this write fails, the next run marks the row
        ``crashed``."""
        with _ACTIVE_LOCK:
            _ACTIVE.discard(run_id)
        with self.transaction() as con:
            con.execute(
                "UPDATE runs SET finished_at = ?, status = ?, discovered = ?, processed = ?,"
                " failed = ?, skipped = ?, audio_s = ?, wall_s = ?, error = ? WHERE run_id = ?",
                [
                    _now(),
                    status,
                    discovered,
                    processed,
                    failed,
                    skipped,
                    audio_s,
                    wall_s,
                    error,
                    run_id,
                ],
            )
            con.execute("DELETE FROM call_claims WHERE run_id = ?", [run_id])

    def mark_crashed_runs(self) -> list[str]:
        """Mark ``running`` rows of this host whose process is gone, or that this process
        started and gave up on, as ``crashed`` (their claims become void); returns their
        ids. Rows of other hosts are left alone."""
        host, me = socket.gethostname(), os.getpid()
        with self.transaction() as con:
            rows = con.execute(
                "SELECT run_id, pid FROM runs WHERE status = 'running' AND host = ?", [host]
            ).fetchall()
            with _ACTIVE_LOCK:
                active = set(_ACTIVE)
            dead: dict[str, str] = {}
            for run_id, pid in rows:
                if pid is not None and not pid_alive(int(pid)):
                    dead[run_id] = _DIED
                elif pid == me and run_id not in active:
                    dead[run_id] = _UNRECORDED
            for run_id, why in dead.items():
                con.execute(
                    "UPDATE runs SET status = 'crashed', finished_at = ?, error = ?"
                    " WHERE run_id = ?",
                    [_now(), why, run_id],
                )
                con.execute("DELETE FROM call_claims WHERE run_id = ?", [run_id])
        for run_id, why in dead.items():
            log.warning("run %s: %s; marked crashed", run_id, why)
        return list(dead)

    def claim(self, run_id: str, refs: Sequence[RecordingRef]) -> list[RecordingRef]:
        """Claim the object versions this run will process, in one transaction. Returns
        the refs this run now holds: not landed meanwhile, not held by another run that
        is still running."""
        mine: list[RecordingRef] = []
        with self.transaction() as con:
            con.execute(
                "DELETE FROM call_claims WHERE run_id IN"
                " (SELECT run_id FROM runs WHERE status <> 'running')"
            )
            held = {
                (u, e, s): r
                for u, e, s, r in con.execute(
                    "SELECT source_uri, etag, sidecar_etag, run_id FROM call_claims"
                ).fetchall()
            }
            landed = {
                (u, e, s)
                for u, e, s in con.execute(
                    "SELECT source_uri, coalesce(etag, ''), coalesce(sidecar_etag, '')"
                    " FROM analyses WHERE list_contains(?, source_uri)",
                    [[r.uri for r in refs]],
                ).fetchall()
            }
            now = _now()
            for ref in refs:
                if ref.version in landed or held.get(ref.version, run_id) != run_id:
                    continue
                if ref.version not in held:
                    con.execute(
                        "INSERT INTO call_claims VALUES (?, ?, ?, ?, ?)",
                        [*ref.version, run_id, now],
                    )
                    held[ref.version] = run_id
                mine.append(ref)
        if len(mine) < len(refs):
            log.info("run %s: %d recordings held by another run or landed meanwhile",
                     run_id, len(refs) - len(mine))  # fmt: skip
        return mine
