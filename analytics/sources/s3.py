"""Recordings in an S3 bucket (AWS or any S3-compatible store) via boto3."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
from boto3.exceptions import RetriesExceededError
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    PartialCredentialsError,
)

from analytics.errors import AccessError, ConfigError, SourceError, TransientSourceError
from analytics.models import RecordingRef
from analytics.sources.base import download_name, is_audio_key, parse_sidecar, sidecar_key_for

log = logging.getLogger(__name__)

_TRANSIENT_CODES = frozenset(
    {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "RequestTimeout",
        "InternalError",
        "ServiceUnavailable",
        "503",
        "500",
    }
)


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` -> ``("bucket", "some/prefix")``."""
    if not uri.startswith("s3://"):
        raise ConfigError(f"{uri!r} is not an s3:// URI")
    bucket, _, prefix = uri[5:].partition("/")
    if not bucket:
        raise ConfigError(f"{uri!r} has no bucket name; expected s3://bucket/prefix")
    return bucket, prefix


_NO_CREDENTIALS = (
    "no S3 credentials found: set CALLSCOPE_S3_ACCESS_KEY_ID and"
    " CALLSCOPE_S3_SECRET_ACCESS_KEY (or AWS_ACCESS_KEY_ID / ~/.aws / an instance role)"
)


def _wrap(exc: Exception, what: str) -> SourceError | ConfigError:
    """Turn a boto error into a SourceError, transient when a retry may help."""
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        msg = exc.response.get("Error", {}).get("Message", "")
        if code in _TRANSIENT_CODES:
            return TransientSourceError(f"{what}: S3 said {code} ({msg}); will retry")
        if code in ("NoSuchBucket", "404", "NoSuchKey"):
            return SourceError(f"{what}: not found ({code}); check the bucket and key")
        if code in ("AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
            return AccessError(f"{what}: access denied ({code}); check the S3 credentials")
        return SourceError(f"{what}: S3 error {code} ({msg})")
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return ConfigError(f"{what}: {_NO_CREDENTIALS}")
    if isinstance(exc, EndpointConnectionError | BotoCoreError):
        return TransientSourceError(f"{what}: cannot reach S3 ({exc})")
    return SourceError(f"{what}: {exc}")


def make_client(
    client_kwargs: dict[str, Any],
    connect_timeout_s: float = 10.0,
    max_attempts: int = 4,
    read_timeout_s: float = 60.0,
) -> Any:
    """A boto3 S3 client with bounded timeouts and standard retries."""
    cfg = Config(
        connect_timeout=connect_timeout_s,
        read_timeout=read_timeout_s,
        retries={"max_attempts": max_attempts, "mode": "standard"},
        s3={"addressing_style": "path"},
    )
    return boto3.client("s3", config=cfg, **client_kwargs)


def _download_error(exc: Exception, ref: RecordingRef) -> SourceError | ConfigError:
    """A failed download; an object deleted after it was listed is named as such."""
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in ("NoSuchKey", "404"):
            return SourceError(
                f"downloading {ref.uri}: the object was deleted after it was listed (S3 said"
                f" {code}); nothing to do unless it is uploaded again"
            )
    return _wrap(exc, f"downloading {ref.uri}")


class S3Source:
    """All audio objects under ``s3://bucket/prefix``; a ``.json`` next to one is its sidecar."""

    def __init__(self, uri: str, client: Any, presign_expires_s: int = 900) -> None:
        self.uri = uri
        self.bucket, self.prefix = parse_s3_uri(uri)
        self.client = client
        #: Lifetime of presigned URLs handed to cloud engines (short: a leaked URL expires).
        self.presign_expires_s = presign_expires_s

    def _ref(
        self,
        key: str,
        etag: str,
        size: int,
        modified: datetime | None,
        sidecar: str | None,
        sidecar_etag: str | None = None,
    ) -> RecordingRef:
        return RecordingRef(
            uri=f"s3://{self.bucket}/{key}",
            key=key,
            etag=etag.strip('"'),
            size=size,
            last_modified=modified,
            sidecar_key=sidecar,
            sidecar_etag=sidecar_etag.strip('"') if sidecar_etag else None,
        )

    def list(self, since: datetime | None = None) -> Iterator[RecordingRef]:
        objects: dict[str, dict[str, Any]] = {}
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.prefix
            )
            for page in pages:
                for obj in page.get("Contents", []):
                    objects[obj["Key"]] = obj
        except (ClientError, BotoCoreError) as exc:
            raise _wrap(exc, f"listing {self.uri}") from exc
        refs = []
        for key, obj in objects.items():
            if not is_audio_key(key):
                continue
            sidecar = sidecar_key_for(key)
            side = objects.get(sidecar)
            refs.append(
                self._ref(
                    key,
                    obj["ETag"],
                    obj["Size"],
                    obj.get("LastModified"),
                    sidecar if side else None,
                    side["ETag"] if side else None,
                )
            )
        refs.sort(key=lambda r: (r.last_modified or datetime.min, r.key))
        log.info("listed %s: %d recordings", self.uri, len(refs))
        for ref in refs:
            if since is None or (ref.last_modified and ref.last_modified >= since):
                yield ref

    def ref(self, key: str) -> RecordingRef:
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=key)
        except (ClientError, BotoCoreError) as exc:
            raise _wrap(exc, f"s3://{self.bucket}/{key}") from exc
        sidecar: str | None = sidecar_key_for(key)
        sidecar_etag = None
        try:
            sidecar_etag = self.client.head_object(Bucket=self.bucket, Key=sidecar)["ETag"]
        except ClientError:
            sidecar = None
        return self._ref(
            key,
            head["ETag"],
            head["ContentLength"],
            head.get("LastModified"),
            sidecar,
            sidecar_etag,
        )

    def fetch(self, ref: RecordingRef, dest_dir: Path) -> Path:
        dest_dir.mkdir(parents=True, exist_ok=True)
        dest = dest_dir / download_name(ref.etag, ref.key)
        if dest.exists() and dest.stat().st_size == ref.size:
            return dest
        tmp = dest.with_suffix(dest.suffix + ".part")
        try:
            self.client.download_file(self.bucket, ref.key, str(tmp))
        except (ClientError, BotoCoreError) as exc:
            tmp.unlink(missing_ok=True)
            raise _download_error(exc, ref) from exc
        except RetriesExceededError as exc:  # the transfer's own retries of a stalled body
            tmp.unlink(missing_ok=True)
            raise TransientSourceError(
                f"downloading {ref.uri}: S3 stopped answering"
                f" ({getattr(exc, 'last_exception', exc)}); will retry"
            ) from exc
        except OSError as exc:  # the local disk: full, read-only, gone
            tmp.unlink(missing_ok=True)
            raise SourceError(
                f"downloading {ref.uri} to {dest_dir}: {exc.strerror or exc}; free space there"
                " or point CALLSCOPE_DATA_DIR at a disk with room (the call is tried again by"
                " the next run)"
            ) from exc
        tmp.replace(dest)
        return dest

    def read_sidecar(self, ref: RecordingRef) -> dict[str, Any] | None:
        if ref.sidecar_key is None:
            return None
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=ref.sidecar_key)["Body"].read()
        except (ClientError, BotoCoreError) as exc:
            raise _wrap(exc, f"reading sidecar s3://{self.bucket}/{ref.sidecar_key}") from exc
        return parse_sidecar(body, f"s3://{self.bucket}/{ref.sidecar_key}")

    def presign(self, ref: RecordingRef, expires_s: int | None = None) -> str | None:
        """A presigned GET URL, so a cloud engine reads the object without a re-upload;
        valid for ``expires_s`` (default ``presign_expires_s``, 15 minutes)."""
        expires = expires_s if expires_s is not None else self.presign_expires_s
        try:
            url = self.client.generate_presigned_url(
                "get_object", Params={"Bucket": self.bucket, "Key": ref.key}, ExpiresIn=expires
            )
        except (ClientError, BotoCoreError) as exc:
            raise _wrap(exc, f"presigning {ref.uri}") from exc
        return str(url)
