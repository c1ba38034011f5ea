"""The recording-source protocol and helpers shared by implementations."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

from analytics.errors import MetadataError
from analytics.models import RecordingRef

log = logging.getLogger(__name__)

AUDIO_EXTENSIONS = frozenset({".wav", ".mp3", ".flac", ".ogg", ".opus", ".m4a", ".aac", ".webm"})


def is_audio_key(key: str) -> bool:
    return Path(key).suffix.lower() in AUDIO_EXTENSIONS


def sidecar_key_for(key: str) -> str:
    """``calls/a.wav`` -> ``calls/a.json``."""
    return str(Path(key).with_suffix(".json")) if "/" in key else Path(key).stem + ".json"


def download_name(etag: str, key: str) -> str:
    """File name of a downloaded object in the download cache: its ETag and the key's last
    part (``calls/../a.wav`` -> ``<etag>-a.wav``), so no key can lead out of the cache."""
    return f"{etag}-{PurePosixPath(key).name}"


def release_download(path: Path, cache_dir: Path, max_bytes: int) -> None:
    """After processing: drop a downloaded copy (``max_bytes`` 0), or keep the newest
    downloads in ``cache_dir`` up to ``max_bytes`` in total. Files outside the cache
    (local recordings read in place) are never touched."""
    try:
        path.resolve().relative_to(cache_dir.resolve())
    except ValueError:
        return
    if max_bytes <= 0:
        path.unlink(missing_ok=True)
        return
    files = sorted(
        (p for p in cache_dir.iterdir() if p.is_file() and not p.name.endswith(".part")),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    total = 0
    for f in files:
        total += f.stat().st_size
        if total > max_bytes:
            f.unlink(missing_ok=True)


def parse_sidecar(raw: bytes, where: str) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise MetadataError(f"sidecar {where} is not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise MetadataError(f"sidecar {where} must hold a JSON object")
    return data


class RecordingSource(Protocol):
    """Where recordings come from (an S3 prefix, a local directory...)."""

    uri: str

    def list(self, since: datetime | None = None) -> Iterator[RecordingRef]:
        """Audio objects under the source, oldest first, each with its ETag."""
        ...

    def ref(self, key: str) -> RecordingRef:
        """One object by key (relative to the source)."""
        ...

    def fetch(self, ref: RecordingRef, dest_dir: Path) -> Path:
        """Download (or locate) the audio; return a local path."""
        ...

    def read_sidecar(self, ref: RecordingRef) -> dict[str, Any] | None:
        """The parsed sidecar JSON next to the recording, or None if there is none."""
        ...

    def presign(self, ref: RecordingRef, expires_s: int | None = None) -> str | None:
        """A short-lived URL a cloud engine can fetch the audio from, or None."""
        ...
