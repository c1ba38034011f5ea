"""Uploads go to the real S3 API server on loopback; a failure keeps the files spooled."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from agent.recording import write_stereo_wav
from agent.upload import RecordingUploader
from tests.agent.conftest import s3_objects


def _spooled(uploader: RecordingUploader, tmp_path: Path, key: str) -> None:
    wav = tmp_path / f"{uuid.uuid4().hex}.wav"
    write_stereo_wav(wav, b"\x01\x00\x02\x00" * 800, 8000)
    uploader.spool(key, wav, {"call_id": key.rsplit("/", 1)[-1]})


def test_upload_sends_sidecar_and_audio_then_clears_the_spool(
    s3_client: Any, bucket: str, spool: Path, tmp_path: Path
) -> None:
    up = RecordingUploader(f"s3://{bucket}/recordings", s3_client, spool)
    key = up.full_key("agent/2026/12/01/agent-CA1")
    _spooled(up, tmp_path, key)
    result = up.upload(key)
    assert result.uploaded and result.attempts == 1
    stored = s3_objects(s3_client, bucket)
    assert set(stored) == {f"{key}.wav", f"{key}.json"}
    assert stored[f"{key}.wav"][:4] == b"RIFF"
    assert up.pending() == []


def test_failed_upload_is_retried_and_kept_until_it_succeeds(
    s3_client: Any, spool: Path, tmp_path: Path
) -> None:
    bucket = f"later-{uuid.uuid4().hex[:10]}"  # does not exist yet: every attempt fails
    waits: list[float] = []
    up = RecordingUploader(f"s3://{bucket}/rec", s3_client, spool, attempts=3, sleep=waits.append)
    key = up.full_key("agent/2026/12/01/agent-CA2")
    _spooled(up, tmp_path, key)
    result = up.upload(key)
    assert not result.uploaded and result.attempts == 3
    assert result.error and "NoSuchBucket" in result.error
    assert waits == [0.5, 1.0]  # backoff between the attempts
    assert up.pending() == [key]
    assert (spool / f"{key}.wav").exists() and (spool / f"{key}.json").exists()

    s3_client.create_bucket(Bucket=bucket)  # the store comes back
    flushed = up.flush()
    assert [r.uploaded for r in flushed] == [True]
    assert set(s3_objects(s3_client, bucket)) == {f"{key}.wav", f"{key}.json"}
    assert up.pending() == []


def test_a_non_s3_destination_names_the_setting(s3_client: Any, spool: Path) -> None:
    import pytest

    with pytest.raises(ValueError, match="CALLSCOPE_SOURCE"):
        RecordingUploader("/tmp/recordings", s3_client, spool)
