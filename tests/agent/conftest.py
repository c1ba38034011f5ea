"""Agent fixtures: piper's HTTP server (separate process, its own venv), a running agent on
loopback with a real S3 API server, and helpers to read the stored recordings back."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT

PIPER_PYTHON = ROOT / ".venv-tts" / "bin" / "python"

pytest.importorskip("pipecat", reason="the agent needs the `agent` extra (pipecat-ai)")


def _require_speech_tools() -> None:
    missing = []
    if not PIPER_PYTHON.exists():
        missing.append(".venv-tts (make tts-venv)")
    if not shutil.which("espeak-ng"):
        missing.append("espeak-ng (apt-get install espeak-ng)")
    if missing:
        pytest.fail(f"agent call tests need {', '.join(missing)}; `make test` installs them")


@pytest.fixture(scope="session")
def piper_url() -> Iterator[str]:
    _require_speech_tools()
    from agent.piper_server import piper_server

    with piper_server(PIPER_PYTHON) as url:
        yield url


def s3_objects(client: Any, bucket: str) -> dict[str, bytes]:
    listing = client.list_objects_v2(Bucket=bucket).get("Contents", [])
    return {
        o["Key"]: client.get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in listing
    }


@pytest.fixture
def spool(tmp_path: Path) -> Path:
    return tmp_path / "spool"
