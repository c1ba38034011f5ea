"""Fixtures of the faults suite: short real-speech clips in a real S3 API server behind a
fault-injecting proxy, the flow configured through CALLSCOPE_* variables."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from analytics.sources.s3 import make_client
from flows.local_s3 import LOCAL_CREDENTIALS, LocalS3
from tests.fakes.s3_proxy import FaultProxy
from tests.flows.clips import speech_clip

#: Offsets into the sample call: distinct speech, distinct bytes.
OFFSETS = (0.0, 4.0)


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Two 4-second speech clips (mono WAV), made once."""
    folder = tmp_path_factory.mktemp("fault-clips")
    return [speech_clip(folder / f"call{i}.wav", off) for i, off in enumerate(OFFSETS)]


@pytest.fixture
def proxy(s3_server: LocalS3) -> Iterator[FaultProxy]:
    with FaultProxy(s3_server.endpoint_url) as p:
        yield p


@dataclass
class Batch:
    """A bucket of recordings and where the flow keeps its state."""

    bucket: str
    keys: list[str]
    warehouse: Path
    data_dir: Path
    direct: Any  # a boto3 client that bypasses the proxy

    @property
    def source(self) -> str:
        return f"s3://{self.bucket}/calls/"

    @property
    def uris(self) -> list[str]:
        return [f"s3://{self.bucket}/{k}" for k in self.keys]


def flow_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, endpoint: str) -> None:
    """One worker, no diarizer, no task retries, fast S3 timeouts: each fault shows at once."""
    values = {
        "WAREHOUSE": str(tmp_path / "w.duckdb"),
        "DATA_DIR": str(tmp_path / "data"),
        "WORKERS": "1",
        "DIARIZER": "none",
        "TASK_RETRIES": "0",
        "S3_ENDPOINT_URL": endpoint,
        "S3_MAX_ATTEMPTS": "2",
        "S3_READ_TIMEOUT_S": "0.5",
        "S3_CONNECT_TIMEOUT_S": "2",
        **{k.upper(): v for k, v in LOCAL_CREDENTIALS.items()},
    }
    for key, value in values.items():
        monkeypatch.setenv(f"CALLSCOPE_{key}", value)


@pytest.fixture
def batch(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    s3_server: LocalS3,
    proxy: FaultProxy,
    clips: list[Path],
) -> Batch:
    """The clips uploaded straight to S3; the flow reaches S3 through the proxy."""
    direct = make_client(
        {
            "endpoint_url": s3_server.endpoint_url,
            "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing",
            "region_name": "us-east-1",
        }
    )
    bucket = f"faults-{uuid.uuid4().hex[:10]}"
    direct.create_bucket(Bucket=bucket)
    keys = []
    for clip in clips:
        key = f"calls/{clip.name}"
        direct.upload_file(str(clip), bucket, key)
        keys.append(key)
    flow_env(monkeypatch, tmp_path, proxy.endpoint_url)
    return Batch(bucket, keys, tmp_path / "w.duckdb", tmp_path / "data", direct)
