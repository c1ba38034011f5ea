"""Recovery as a new user meets it: identity, versions, crashes, clear errors (real Prefect,
real engine on short speech clips, real DuckDB)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from analytics.errors import ConfigError
from analytics.sources import LocalSource
from analytics.warehouse import connect_read_only
from flows.cli import main
from flows.cli_support import IsoDateTime
from flows.ingest import aware
from tests.conftest import ROOT
from tests.faults.invariant import check_invariant
from tests.flows.clips import speech_clip
from tests.reliability import record_fault

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A warehouse under tmp_path; one worker and no diarizer keep the clips cheap."""
    monkeypatch.setenv("CALLSCOPE_WAREHOUSE", str(tmp_path / "w.duckdb"))
    monkeypatch.setenv("CALLSCOPE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CALLSCOPE_WORKERS", "1")
    monkeypatch.setenv("CALLSCOPE_DIARIZER", "none")
    return tmp_path / "w.duckdb"


def _rows(path: Path, sql: str) -> list[tuple[Any, ...]]:
    with connect_read_only(path) as con:
        return con.execute(sql).fetchall()


def test_same_names_fixed_and_late_sidecars_and_touched_files(
    prefect_harness: None, env: Path, tmp_path: Path
) -> None:
    from flows.ingest import nightly_ingest

    src = tmp_path / "rec"
    speech_clip(src / "a" / "0001.wav", 0.0)
    speech_clip(src / "b" / "0001.wav", 4.0)
    (src / "b" / "0001.json").write_text("{not json")

    first = nightly_ingest(source=str(src))
    assert (first["processed"], first["failed"]) == (1, 1)
    # the broken sidecar is fixed: that is a new version, retried by the next run
    (src / "b" / "0001.json").write_text(json.dumps({"agent_id": "agent-bo"}))
    second = nightly_ingest(source=str(src))
    assert (second["processed"], second["failed"], second["skipped"]) == (1, 0, 1)
    calls = dict(_rows(env, "SELECT source_uri, call_id FROM calls"))
    a, b = str(src / "a" / "0001.wav"), str(src / "b" / "0001.wav")
    assert set(calls) == {a, b} and calls[a] != calls[b]  # same name, two calls
    assert calls[a].startswith("a-0001-") and calls[b].startswith("b-0001-")

    # touching a file without changing its bytes re-processes nothing
    os.utime(a, (time.time() + 60, time.time() + 60))
    third = nightly_ingest(source=str(src))
    assert (third["processed"], third["skipped"]) == (0, 2)

    # a sidecar that arrives after its recording is picked up, and the call keeps its id
    (src / "a" / "0001.json").write_text(json.dumps({"agent_id": "agent-al"}))
    fourth = nightly_ingest(source=str(src))
    assert fourth["processed"] == 1
    assert _rows(env, f"SELECT call_id, agent_id FROM calls WHERE source_uri = '{a}'") == [
        (calls[a], "agent-al")
    ]
    assert _rows(env, "SELECT count(*) FROM calls") == [(2,)]


def test_a_bad_model_name_fails_the_run_not_the_calls(
    prefect_harness: None, env: Path, tmp_path: Path
) -> None:
    from flows.ingest import nightly_ingest

    speech_clip(tmp_path / "rec" / "x.wav", 0.0)
    with pytest.raises(ConfigError, match="huge-v9"):
        nightly_ingest(source=str(tmp_path / "rec"), settings={"model": "huge-v9"})
    ((status, error),) = _rows(env, "SELECT status, error FROM runs")
    assert status == "failed" and "huge-v9" in error
    assert _rows(env, "SELECT count(*) FROM call_errors") == [(0,)]


def test_since_with_and_without_a_time_zone(tmp_path: Path) -> None:
    old, new = speech_clip(tmp_path / "old.wav", 0.0), speech_clip(tmp_path / "new.wav", 4.0)
    os.utime(old, (0, datetime(2026, 1, 1, tzinfo=UTC).timestamp()))
    os.utime(new, (0, datetime(2026, 6, 1, 12, tzinfo=UTC).timestamp()))
    source = LocalSource(tmp_path)
    param = IsoDateTime()

    def keys(text: str, tz: str = "UTC") -> list[str]:
        since = aware(param.convert(text, None, None), tz)
        return [r.key for r in source.list(since=since)]

    assert keys("2026-03-01") == ["new.wav"]
    assert keys("2026-06-01T12:30") == []
    assert keys("2026-06-01T14:30+02:00") == []  # 12:30 UTC
    assert keys("2026-06-01T13:30+02:00") == ["new.wav"]  # 11:30 UTC
    assert keys("2026-06-01T11:00Z") == ["new.wav"]
    assert keys("2026-06-01T13:00", tz="Europe/Berlin") == ["new.wav"]  # 11:00 UTC
    assert keys("2025-12-31") == ["old.wav", "new.wav"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ingest", "x", "--limit", "-1"], "-1 is not in the range x>=0"),
        (["ingest", "x", "--since", "yesterday"], "not an ISO-8601"),
        (["analyze", "/nonexistent/dir/call.wav"], "/nonexistent/dir does not exist"),
        (["analyze", str(ROOT / "data")], "is a directory"),
    ],
)
def test_clear_cli_errors(args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, args)
    assert result.exit_code != 0 and message in result.output, result.output
    assert "Traceback" not in result.output


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[-1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_a_killed_run_is_marked_crashed_and_the_next_lands_each_call_once(
    prefect_harness: None, env: Path, tmp_path: Path
) -> None:
    from flows.ingest import nightly_ingest

    src = tmp_path / "rec"
    for i in range(4):
        speech_clip(src / f"c{i}.wav", 4.0 * i)
    clean_env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "flows.cli", "ingest", str(src)],
        cwd=ROOT,
        env={**clean_env, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 600
    landed = 0
    while landed < 1:
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        assert time.monotonic() < deadline, "the first call never landed"
        time.sleep(0.3)
        if env.exists():
            try:
                landed = _rows(env, "SELECT count(*) FROM analyses")[0][0]
            except Exception:  # the schema is being created
                landed = 0
    children = _children(proc.pid)
    assert children, "the CLI started no temporary Prefect server"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert landed < 4, "the run finished before it could be killed"
    # the temporary Prefect server died with the CLI
    deadline = time.monotonic() + 20
    while any(_alive(c) for c in children) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(_alive(c) for c in children)
    assert _rows(env, "SELECT status FROM runs") == [("running",)]

    summary = nightly_ingest(source=str(src))
    assert len(summary["crashed_runs"]) == 1
    assert summary["processed"] + summary["skipped"] == 4
    assert _rows(env, "SELECT status FROM runs ORDER BY started_at") == [
        ("crashed",),
        ("completed",),
    ]
    per_call = _rows(env, "SELECT source_uri, count(*) FROM analyses GROUP BY ALL")
    assert len(per_call) == 4 and all(n == 1 for _, n in per_call)
    states = check_invariant(env, [str(src / f"c{i}.wav") for i in range(4)])
    assert set(states.values()) == {"processed"}
    record_fault(
        "worker_killed",
        "killed after its first landing, the run stayed `running`; the next run marked it"
        " `crashed` and processed the rest; each of the 4 calls landed once",
    )


def test_a_failed_run_prints_one_clean_error_line(tmp_path: Path) -> None:
    speech_clip(tmp_path / "rec" / "x.wav", 0.0)
    clean_env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    proc = subprocess.run(
        [sys.executable, "-m", "flows.cli", "ingest", str(tmp_path / "rec"), "--model",
         "huge-v9", "--warehouse", str(tmp_path / "w.duckdb")],
        cwd=ROOT, env={**clean_env, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    assert proc.stderr.strip().splitlines()[-1].startswith("Error: configuration error:")
    assert "huge-v9" in proc.stderr


def test_a_locked_warehouse_is_reported_as_such(
    prefect_harness: None, env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "rec").mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]);"
         " print('locked', flush=True); time.sleep(120)", str(env)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        monkeypatch.setattr("analytics.warehouse.db._LOCK_WAIT_S", 0.5)
        result = CliRunner().invoke(main, ["ingest", str(tmp_path / "rec")])
    finally:
        holder.kill()
        holder.wait()
    assert result.exit_code == 1
    assert "is locked by another process" in result.output
    assert "land failed" not in result.output and "Traceback" not in result.output
