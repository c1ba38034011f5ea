"""Recording sources: a URI picks the implementation."""

from __future__ import annotations

from pathlib import Path

from analytics.config import Settings
from analytics.sources.base import RecordingSource, is_audio_key
from analytics.sources.local import LocalSource
from analytics.sources.s3 import S3Source, make_client, parse_s3_uri

__all__ = [
    "LocalSource",
    "RecordingSource",
    "S3Source",
    "is_audio_key",
    "open_source",
    "split_object_uri",
]


def open_source(uri: str, settings: Settings) -> RecordingSource:
    """``s3://bucket/prefix`` -> S3Source; anything else is a local path."""
    if uri.startswith("s3://"):
        client = make_client(
            settings.s3_client_kwargs(),
            settings.s3_connect_timeout_s,
            settings.s3_max_attempts,
            read_timeout_s=settings.s3_read_timeout_s,
        )
        return S3Source(uri, client, presign_expires_s=settings.s3_presign_expires_s)
    return LocalSource(Path(uri.removeprefix("file://")))


def split_object_uri(uri: str) -> tuple[str, str]:
    """A URI naming one recording -> (source URI of its folder, key within it)."""
    if uri.startswith("s3://"):
        bucket, key = parse_s3_uri(uri)
        prefix = key.rsplit("/", 1)[0] + "/" if "/" in key else ""
        return f"s3://{bucket}/{prefix}", key
    path = Path(uri.removeprefix("file://")).expanduser().resolve()
    return str(path.parent), path.name
