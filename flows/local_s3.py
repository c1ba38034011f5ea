"""A real S3 API server on loopback (moto's server mode) for the demo and the tests."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

#: moto accepts any credentials; these make boto3 sign requests without a real account.
LOCAL_CREDENTIALS = {"s3_access_key_id": "testing", "s3_secret_access_key": "testing"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class LocalS3:
    endpoint_url: str

    def settings_overrides(self) -> dict[str, Any]:
        """Settings fields that point callscope at this server."""
        return {"s3_endpoint_url": self.endpoint_url, **LOCAL_CREDENTIALS}

    def flow_overrides(self) -> dict[str, Any]:
        """The flow parameter part of :meth:`settings_overrides`: no credentials (flow
        parameters are stored by Prefect); :meth:`export_credentials` provides those."""
        return {"s3_endpoint_url": self.endpoint_url}

    def export_credentials(self) -> None:
        """Put this server's credentials in the environment, where flows read secrets."""
        for key, value in LOCAL_CREDENTIALS.items():
            os.environ[f"CALLSCOPE_{key.upper()}"] = value


@contextmanager
def local_s3_server(port: int | None = None) -> Iterator[LocalS3]:
    """Run moto's S3 server on 127.0.0.1 for the duration of the block."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise RuntimeError(
            "the local S3 server needs moto: pip install 'callscope[s3server]'"
        ) from exc
    port = port or free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    server.start()
    log.info("local S3 API server on http://127.0.0.1:%d", port)
    try:
        yield LocalS3(f"http://127.0.0.1:{port}")
    finally:
        server.stop()


def upload_dir(client: Any, bucket: str, prefix: str, folder: Path) -> list[str]:
    """Create ``bucket`` if needed and upload every file of ``folder`` under ``prefix``."""
    existing = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
    if bucket not in existing:
        client.create_bucket(Bucket=bucket)
    keys = []
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        key = f"{prefix.rstrip('/')}/{path.name}" if prefix else path.name
        client.upload_file(str(path), bucket, key)
        keys.append(key)
    return keys
