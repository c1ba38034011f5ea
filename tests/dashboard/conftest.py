"""A small hand-made warehouse for the dashboard and query tests.

Three calls land: a stereo call with agent/customer roles, a mono call whose speaker is
unknown, and a short stereo call that failed once before it landed. One more object
failed and never landed, so exactly one failure is still open.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

import pytest

from analytics.models import CallMetadata, CallResult, Utterance, Word
from analytics.warehouse import Warehouse

ROOT = Path(__file__).resolve().parents[2]

STEREO_ID = "call-stereo-001"
MONO_ID = "call-mono-002"
RETRIED_ID = "call-stereo-003"
BROKEN_URI = "s3://callscope-recordings/recordings/broken-004.wav"

STEREO_LINES = [
    ("ch0", "agent", 0, 0.5, 3.0, "Thank you for calling Acme support, this is Dana."),
    ("ch1", "customer", 1, 3.4, 7.9, "Hi, my router keeps dropping the connection."),
    ("ch0", "agent", 0, 8.2, 12.0, "Sorry to hear that, let me check your line."),
    ("ch1", "customer", 1, 65.0, 70.0, "Great, it works now."),
]
MONO_LINES = [
    ("unknown", None, None, 1.0, 4.0, "Hello, I am calling about my invoice."),
    ("unknown", None, None, 5.0, 9.5, "The total looks wrong to me."),
]
RETRIED_LINES = [("ch0", "agent", 0, 0.8, 4.0, "Quick follow-up about your refund.")]


@dataclass(frozen=True)
class DemoWarehouse:
    """What the ``warehouse`` fixture landed; tests read the constants from here."""

    path: Path
    run_id: str
    n_calls: ClassVar[int] = 3
    audio_s: ClassVar[float] = 125.0 + 65.0 + 30.0
    STEREO_ID: ClassVar[str] = STEREO_ID
    MONO_ID: ClassVar[str] = MONO_ID
    RETRIED_ID: ClassVar[str] = RETRIED_ID
    BROKEN_URI: ClassVar[str] = BROKEN_URI
    STEREO_LINES: ClassVar[list[tuple]] = STEREO_LINES
    MONO_LINES: ClassVar[list[tuple]] = MONO_LINES
    ROOT: ClassVar[Path] = ROOT


def _utterance(
    speaker: str, role: str | None, channel: int | None, start: float, end: float, text: str
) -> Utterance:
    tokens = text.split()
    step = (end - start) / len(tokens)
    words = tuple(
        Word(w, round(start + i * step, 3), round(start + (i + 1) * step, 3), 0.9)
        for i, w in enumerate(tokens)
    )
    return Utterance(speaker, role, start, end, text, words, channel)


def make_result(
    call_id: str,
    *,
    lines: list[tuple],
    duration_s: float,
    channels: int,
    started_at: datetime,
    agent_id: str,
    direction: str,
    etag: str,
) -> CallResult:
    roles = ("agent", "customer") if channels == 2 else None
    return CallResult(
        call_id=call_id,
        source_uri=f"s3://callscope-recordings/recordings/{call_id}.wav",
        etag=etag,
        duration_s=duration_s,
        channels=channels,
        sample_rate=8000,
        language="en",
        language_prob=0.98,
        engine="faster-whisper",
        model="tiny.en",
        pipeline_version="0.1.0",
        params={"beam_size": 5, "vad_filter": True},
        metadata=CallMetadata(
            call_id=call_id,
            started_at=started_at,
            agent_id=agent_id,
            direction=direction,
            channel_roles=roles,
            extra={"scenario": "test"},
        ),
        utterances=tuple(_utterance(*line) for line in lines),
        diarization="channels" if channels == 2 else "none",
        processing_s=1.5,
    )


def build_warehouse(path: Path) -> DemoWarehouse:
    wh = Warehouse(path)
    wh.migrate()
    run_id = wh.start_run("s3://callscope-recordings/recordings/", {"workers": 2})
    wh.land(
        make_result(
            STEREO_ID,
            lines=STEREO_LINES,
            duration_s=125.0,
            channels=2,
            started_at=datetime(2024, 5, 1, 9, 0, tzinfo=UTC),
            agent_id="ag-7",
            direction="inbound",
            etag="etag-a",
        ),
        run_id,
    )
    wh.land(
        make_result(
            MONO_ID,
            lines=MONO_LINES,
            duration_s=65.0,
            channels=1,
            started_at=datetime(2024, 5, 2, 14, 30, tzinfo=UTC),
            agent_id="ag-9",
            direction="outbound",
            etag="etag-b",
        ),
        run_id,
    )
    retried = make_result(
        RETRIED_ID,
        lines=RETRIED_LINES,
        duration_s=30.0,
        channels=2,
        started_at=datetime(2024, 5, 1, 17, 0, tzinfo=UTC),
        agent_id="ag-7",
        direction="inbound",
        etag="etag-c",
    )
    # The retried call failed first, then landed: its failure must not count as open.
    wh.record_error(
        run_id=run_id,
        source_uri=retried.source_uri,
        etag=retried.etag,
        call_id=RETRIED_ID,
        stage="fetch",
        error_type="TransientSourceError",
        reason="connection reset",
        retryable=True,
    )
    wh.land(retried, run_id)
    wh.record_error(
        run_id=run_id,
        source_uri=BROKEN_URI,
        etag="etag-x",
        call_id="broken-004",
        stage="decode",
        error_type="DecodeError",
        reason="invalid data found when decoding",
        retryable=False,
    )
    wh.finish_run(
        run_id,
        status="completed",
        discovered=4,
        processed=3,
        failed=1,
        skipped=0,
        audio_s=220.0,
        wall_s=12.5,
    )
    return DemoWarehouse(path=path, run_id=run_id)


@pytest.fixture
def warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> DemoWarehouse:
    """A migrated warehouse with three calls and two errors; CALLSCOPE_WAREHOUSE points at it."""
    demo = build_warehouse(tmp_path / "warehouse.duckdb")
    monkeypatch.setenv("CALLSCOPE_WAREHOUSE", str(demo.path))
    return demo


@pytest.fixture
def missing_warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """CALLSCOPE_WAREHOUSE points at a file that does not exist."""
    path = tmp_path / "nowhere" / "warehouse.duckdb"
    monkeypatch.setenv("CALLSCOPE_WAREHOUSE", str(path))
    return path
