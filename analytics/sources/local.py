"""Recordings in a local directory (or a single local file)."""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from analytics.errors import SourceError
from analytics.models import RecordingRef
from analytics.sources.base import is_audio_key, parse_sidecar

log = logging.getLogger(__name__)

_HASHES: dict[tuple[str, int, int], str] = {}
_HASHES_LOCK = threading.Lock()


def content_hash(path: Path) -> str:
    """sha256 of the file's bytes (first 32 hex digits), memoised per (path, size, mtime)
    so a listing hashes each file once per process."""
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    with _HASHES_LOCK:
        known = _HASHES.get(key)
    if known is not None:
        return known
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    digest = h.hexdigest()[:32]
    with _HASHES_LOCK:
        _HASHES[key] = digest
    return digest


class LocalSource:
    """A directory tree of recordings. The ETag is a hash of the file's bytes, so touching
    a file without changing it is not a new version; the sidecar's version likewise."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).expanduser().resolve()
        self.uri = str(self.root)
        if not self.root.exists():
            raise SourceError(f"recording directory {self.root} does not exist")

    def _ref(self, path: Path) -> RecordingRef:
        st = path.stat()
        key = path.relative_to(self.root).as_posix() if self.root.is_dir() else path.name
        sidecar = path.with_suffix(".json")
        has_sidecar = sidecar.is_file()
        return RecordingRef(
            uri=str(path),
            key=key,
            etag=content_hash(path),
            size=st.st_size,
            last_modified=datetime.fromtimestamp(st.st_mtime, UTC),
            sidecar_key=sidecar.name if has_sidecar else None,
            sidecar_etag=content_hash(sidecar) if has_sidecar else None,
        )

    def _inside(self, path: Path, what: str) -> Path:
        """``path`` resolved (symlinks too); SourceError when it lies outside the source."""
        resolved = path.resolve()
        if self.root.is_dir() and not resolved.is_relative_to(self.root):
            raise SourceError(
                f"{what} {path} resolves outside the source directory {self.root}; keys and"
                " sidecars must stay inside it (no '..', no links out)"
            )
        return resolved

    def _path(self, ref: RecordingRef) -> Path:
        return self._inside(Path(ref.uri), "recording")

    def list(self, since: datetime | None = None) -> Iterator[RecordingRef]:
        if self.root.is_file():
            paths = [self.root]
        else:
            paths = sorted(
                p
                for p in self.root.rglob("*")
                if p.is_file() and is_audio_key(p.name) and self._stays_inside(p)
            )
        refs = [self._ref(p) for p in paths]
        refs.sort(key=lambda r: (r.last_modified or datetime.min.replace(tzinfo=UTC), r.key))
        for ref in refs:
            if since is None or (ref.last_modified and ref.last_modified >= since):
                yield ref

    def _stays_inside(self, path: Path) -> bool:
        try:
            self._inside(path, "recording")
        except SourceError as exc:
            log.warning("skipped: %s", exc)
            return False
        return True

    def ref(self, key: str) -> RecordingRef:
        path = self.root / key if self.root.is_dir() else self.root
        if self.root.is_dir():
            path = self._inside(path, f"recording key {key!r}:")
        if not path.is_file():
            raise SourceError(f"recording {path} does not exist")
        return self._ref(path)

    def fetch(self, ref: RecordingRef, dest_dir: Path) -> Path:
        path = self._path(ref)
        if not path.is_file():
            raise SourceError(f"recording {path} vanished before it could be read")
        return path

    def read_sidecar(self, ref: RecordingRef) -> dict[str, Any] | None:
        sidecar = self._path(ref).with_suffix(".json")
        if not sidecar.is_file():
            return None
        sidecar = self._inside(sidecar, "sidecar")
        return parse_sidecar(sidecar.read_bytes(), str(sidecar))

    def presign(self, ref: RecordingRef, expires_s: int | None = None) -> str | None:
        """Local files have no URL: cloud engines upload them instead."""
        return None
