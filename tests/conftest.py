"""Shared fixtures: real sample audio, a real S3 API server on loopback, temp warehouses."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "analytics")

from analytics.config import Settings
from analytics.sources.s3 import make_client
from flows.local_s3 import LocalS3, local_s3_server

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data" / "samples"


def sample_audio(name: str) -> Path:
    """The audio file of a committed sample call, whatever its container."""
    matches = [p for p in SAMPLES.glob(f"{name}.*") if p.suffix != ".json"]
    assert matches, f"sample {name} missing from {SAMPLES}"
    return matches[0]


def sample_sidecar(name: str) -> dict[str, Any]:
    return json.loads((SAMPLES / f"{name}.json").read_text())


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    return SAMPLES


@pytest.fixture
def corrupt_wav(tmp_path: Path) -> Path:
    """A file that claims to be a WAV but holds garbage."""
    path = tmp_path / "corrupt_call.wav"
    path.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + os.urandom(200))
    return path


@pytest.fixture(scope="session")
def s3_server() -> Iterator[LocalS3]:
    """moto's S3 API server on a random loopback port, for the whole session."""
    with local_s3_server() as server:
        yield server


@pytest.fixture
def settings(tmp_path: Path, s3_server: LocalS3) -> Settings:
    """Settings pointing at the loopback S3 server and a fresh warehouse file."""
    return Settings(
        data_dir=tmp_path / "data",
        warehouse=tmp_path / "data" / "warehouse.duckdb",
        **s3_server.settings_overrides(),
    )


@pytest.fixture
def s3_client(settings: Settings) -> Any:
    return make_client(settings.s3_client_kwargs())


@pytest.fixture
def bucket(s3_client: Any) -> str:
    """A new, empty bucket per test."""
    name = f"test-{uuid.uuid4().hex[:12]}"
    s3_client.create_bucket(Bucket=name)
    return name


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """A real, temporary Prefect server (own database) for flow tests."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="session")
def transcriber() -> Any:
    """The default engine (tiny.en, int8), loaded once for the session."""
    from analytics.transcription import make_transcriber

    return make_transcriber(Settings())
