"""A reader process keeps its connection open through a real nightly ingest."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from analytics.config import Settings
from analytics.warehouse import Warehouse
from analytics.warehouse.snapshot import publish
from tests.conftest import ROOT, sample_audio, sample_sidecar

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

# The shortest sample (25 s) three times over, as three calls (own sidecar call ids).
CALLS = ["wrong_number-a", "wrong_number-b", "wrong_number-c"]

# Opens the published snapshot once and queries it in a loop until told to stop; every
# answer (or error) is one JSON line. "torn" counts calls whose utterances or words are
# not all there: a reader must only ever see whole calls.
READER = """
import json, pathlib, sys, time
from analytics.warehouse.snapshot import open_reader
warehouse, out, stop = sys.argv[1:4]
reader = open_reader(warehouse)
with open(out, "w") as f:
    while not pathlib.Path(stop).exists():
        try:
            calls = reader.execute("SELECT count(*) FROM calls").fetchone()[0]
            torn = reader.execute(
                "SELECT count(*) FROM v_calls c WHERE n_utterances <> (SELECT count(*)"
                " FROM utterances u WHERE u.analysis_id = c.analysis_id) OR n_words <>"
                " (SELECT count(*) FROM words w WHERE w.analysis_id = c.analysis_id)"
            ).fetchone()[0]
            hits = len(reader.execute(
                "SELECT * FROM search_utterances('calling help') LIMIT 5").fetchall())
            f.write(json.dumps({"calls": calls, "torn": torn, "hits": hits}) + "\\n")
        except Exception as exc:
            f.write(json.dumps({"error": repr(exc)}) + "\\n")
        f.flush()
        time.sleep(0.05)
"""


def _lines(path: Path) -> list[dict[str, object]]:
    if not path.exists():
        return []
    return [json.loads(x) for x in path.read_text().splitlines() if x.endswith("}")]


def test_reader_process_during_a_real_ingest(
    prefect_harness: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.ingest import nightly_ingest

    source = tmp_path / "recordings"
    source.mkdir()
    audio = sample_audio("wrong_number")
    for call_id in CALLS:
        shutil.copy(audio, source / f"{call_id}{audio.suffix}")
        (source / f"{call_id}.json").write_text(
            json.dumps({**sample_sidecar("wrong_number"), "call_id": call_id})
        )
    warehouse = tmp_path / "data" / "warehouse.duckdb"
    monkeypatch.setenv("CALLSCOPE_WAREHOUSE", str(warehouse))
    monkeypatch.setenv("CALLSCOPE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CALLSCOPE_SNAPSHOT_INTERVAL_S", "0")  # publish after every call
    assert Settings().snapshot_interval_s == 0
    wh = Warehouse(warehouse)
    wh.migrate()
    publish(wh)

    out, stop = tmp_path / "reader.jsonl", tmp_path / "stop"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-c", READER, str(warehouse), str(out), str(stop)], env=env
    )
    try:
        deadline = time.monotonic() + 60
        while not _lines(out) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _lines(out), "the reader process did not start"

        summary = nightly_ingest(source=str(source))
        assert (summary["processed"], summary["failed"]) == (len(CALLS), 0)

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and _lines(out)[-1].get("calls") != len(CALLS):
            time.sleep(0.1)
    finally:
        stop.touch()
        proc.wait(timeout=30)
    seen = _lines(out)
    assert [x for x in seen if "error" in x] == []
    assert all(x["torn"] == 0 for x in seen)
    counts = [int(str(x["calls"])) for x in seen]
    assert counts == sorted(counts)  # snapshots only move forward
    assert counts[-1] == len(CALLS)  # the new calls, without reconnecting
    assert len(set(counts)) > 2  # and batches became visible during the run
    assert int(str(seen[-1]["hits"])) > 0
