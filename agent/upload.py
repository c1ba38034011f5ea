"""Upload finished recordings to the bucket the nightly flow reads; never lose one.

Every call is first written to the spool directory under its final key
(``<spool>/<key>.wav`` + ``.json``). An upload sends the sidecar first, then the audio (so the
nightly flow never sees audio without its metadata), and deletes the spooled files only when
both are stored. A failed upload is retried with backoff; what still fails stays in the spool
and is retried by :meth:`RecordingUploader.flush` (at agent start, after every call and on a
timer).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from boto3.exceptions import S3UploadFailedError
from botocore.exceptions import BotoCoreError, ClientError

from analytics.sources.s3 import parse_s3_uri

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class UploadResult:
    key: str
    uploaded: bool
    attempts: int
    error: str | None = None


class RecordingUploader:
    """Spool + upload to ``s3://bucket/prefix`` with retries."""

    def __init__(
        self,
        destination: str,
        client: Any,
        spool_dir: Path,
        attempts: int = 4,
        backoff_s: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not destination.startswith("s3://"):
            raise ValueError(
                f"agent recordings go to an s3:// source, got {destination!r}; set "
                "CALLSCOPE_SOURCE=s3://bucket/prefix (and CALLSCOPE_S3_ENDPOINT_URL for a "
                "local S3-compatible store)"
            )
        self.bucket, self.prefix = parse_s3_uri(destination)
        self.client = client
        self.spool_dir = spool_dir
        self.attempts = max(1, attempts)
        self.backoff_s = backoff_s
        self._sleep = sleep
        self._lock = threading.Lock()

    def spool(self, key: str, wav_path: Path, sidecar: dict[str, Any]) -> Path:
        """Move the recording + sidecar into the spool under ``key``; returns the WAV path."""
        target = self.spool_dir / f"{key}.wav"
        target.parent.mkdir(parents=True, exist_ok=True)
        if wav_path.resolve() != target.resolve():
            wav_path.replace(target)
        target.with_suffix(".json").write_text(json.dumps(sidecar, indent=2, default=str))
        return target

    def pending(self) -> list[str]:
        """Keys still waiting in the spool, oldest first."""
        wavs = sorted(self.spool_dir.rglob("*.wav"), key=lambda p: p.stat().st_mtime)
        return [str(p.relative_to(self.spool_dir).with_suffix("")) for p in wavs]

    def upload(self, key: str) -> UploadResult:
        """Upload one spooled call, retrying; on success the spooled files are removed."""
        wav = self.spool_dir / f"{key}.wav"
        side = wav.with_suffix(".json")
        error: str | None = None
        with self._lock:
            if not wav.exists():
                return UploadResult(key, True, 0)  # another flush got it
            for attempt in range(1, self.attempts + 1):
                try:
                    if side.exists():
                        self.client.upload_file(str(side), self.bucket, f"{key}.json")
                    self.client.upload_file(str(wav), self.bucket, f"{key}.wav")
                except (ClientError, BotoCoreError, S3UploadFailedError, OSError) as exc:
                    error = f"{type(exc).__name__}: {exc}"
                    log.warning(
                        "upload of %s to s3://%s failed (attempt %d/%d): %s",
                        key,
                        self.bucket,
                        attempt,
                        self.attempts,
                        error,
                    )
                    if attempt < self.attempts:
                        self._sleep(self.backoff_s * 2 ** (attempt - 1))
                    continue
                side.unlink(missing_ok=True)
                wav.unlink(missing_ok=True)
                log.info("uploaded s3://%s/%s.wav (+ .json)", self.bucket, key)
                return UploadResult(key, True, attempt)
        log.error("recording %s stays spooled in %s: %s", key, self.spool_dir, error)
        return UploadResult(key, False, self.attempts, error)

    def flush(self) -> list[UploadResult]:
        """Retry everything in the spool."""
        return [self.upload(key) for key in self.pending()]

    def full_key(self, relative: str) -> str:
        """Prefix a key relative to the source with the source's own prefix."""
        return "/".join(p.strip("/") for p in (self.prefix, relative) if p.strip("/"))
