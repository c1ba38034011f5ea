from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from analytics.config import Settings
from analytics.errors import MetadataError, SourceError, TransientSourceError
from analytics.models import RecordingRef
from analytics.sources import LocalSource, S3Source, open_source, split_object_uri
from analytics.sources.s3 import make_client, parse_s3_uri
from tests.conftest import sample_audio


def _put(client: Any, bucket: str, key: str, body: bytes) -> None:
    client.put_object(Bucket=bucket, Key=key, Body=body)


def test_s3_lists_audio_with_etags_and_detects_sidecars(
    settings: Settings, s3_client: Any, bucket: str
) -> None:
    _put(s3_client, bucket, "rec/2026/a.wav", b"RIFFaaaa")
    _put(s3_client, bucket, "rec/2026/a.json", b'{"call_id": "A"}')
    _put(s3_client, bucket, "rec/2026/b.mp3", b"ID3bbbb")
    _put(s3_client, bucket, "rec/notes.txt", b"ignore me")
    _put(s3_client, bucket, "other/c.wav", b"outside the prefix")
    source = open_source(f"s3://{bucket}/rec/", settings)
    assert isinstance(source, S3Source)
    refs = {r.key: r for r in source.list()}
    assert set(refs) == {"rec/2026/a.wav", "rec/2026/b.mp3"}
    assert refs["rec/2026/a.wav"].sidecar_key == "rec/2026/a.json"
    assert refs["rec/2026/b.mp3"].sidecar_key is None
    assert refs["rec/2026/a.wav"].etag and '"' not in refs["rec/2026/a.wav"].etag
    assert source.read_sidecar(refs["rec/2026/a.wav"]) == {"call_id": "A"}
    assert source.read_sidecar(refs["rec/2026/b.mp3"]) is None


def test_s3_fetch_downloads_once_and_a_changed_object_gets_a_new_etag(
    settings: Settings, s3_client: Any, bucket: str, tmp_path: Path
) -> None:
    _put(s3_client, bucket, "x/call.wav", b"version one")
    source = open_source(f"s3://{bucket}/x/", settings)
    (ref,) = source.list()
    path = source.fetch(ref, tmp_path / "cache")
    assert path.read_bytes() == b"version one"
    assert source.fetch(ref, tmp_path / "cache") == path
    _put(s3_client, bucket, "x/call.wav", b"version two!")
    (ref2,) = source.list()
    assert ref2.etag != ref.etag
    assert source.fetch(ref2, tmp_path / "cache").read_bytes() == b"version two!"


def test_s3_ref_by_key_and_split_uri(settings: Settings, s3_client: Any, bucket: str) -> None:
    _put(s3_client, bucket, "d/e/f.flac", b"fLaC")
    _put(s3_client, bucket, "d/e/f.json", b"{}")
    folder, key = split_object_uri(f"s3://{bucket}/d/e/f.flac")
    assert (folder, key) == (f"s3://{bucket}/d/e/", "d/e/f.flac")
    ref = open_source(folder, settings).ref(key)
    assert ref.uri == f"s3://{bucket}/d/e/f.flac" and ref.sidecar_key == "d/e/f.json"
    assert ref.stem == "f"


def test_missing_bucket_is_a_clear_permanent_error(settings: Settings) -> None:
    with pytest.raises(SourceError, match="not found") as err:
        list(open_source("s3://no-such-bucket-here/x/", settings).list())
    assert not err.value.transient


def test_unreachable_endpoint_is_transient(settings: Settings) -> None:
    dead = settings.model_copy(
        update={
            "s3_endpoint_url": "http://127.0.0.1:9",
            "s3_max_attempts": 1,
            "s3_connect_timeout_s": 1.0,
        }
    )
    client = make_client(dead.s3_client_kwargs(), 1.0, 1)
    with pytest.raises(TransientSourceError, match="cannot reach S3"):
        list(S3Source("s3://bucket/p/", client).list())


def test_invalid_sidecar_json_is_a_metadata_error(
    settings: Settings, s3_client: Any, bucket: str
) -> None:
    _put(s3_client, bucket, "p/a.wav", b"RIFF")
    _put(s3_client, bucket, "p/a.json", b"{not json")
    source = open_source(f"s3://{bucket}/p/", settings)
    (ref,) = source.list()
    with pytest.raises(MetadataError, match=r"p/a\.json"):
        source.read_sidecar(ref)


@pytest.mark.parametrize("uri", ["bucket/x", "s3:///x"])
def test_bad_s3_uris_are_rejected(uri: str) -> None:
    with pytest.raises(Exception, match="s3://"):
        parse_s3_uri(uri)


def test_local_source_lists_reads_sidecars_and_tracks_changes(tmp_path: Path) -> None:
    shutil.copy(sample_audio("wrong_number"), tmp_path / "w.wav")
    (tmp_path / "w.json").write_text(json.dumps({"call_id": "W"}))
    (tmp_path / "readme.txt").write_text("not audio")
    source = LocalSource(tmp_path)
    (ref,) = source.list()
    assert ref.key == "w.wav" and ref.sidecar_key == "w.json"
    assert source.read_sidecar(ref) == {"call_id": "W"}
    assert source.fetch(ref, tmp_path / "unused") == tmp_path / "w.wav"
    # touching the file without changing its bytes is not a new version
    st = (tmp_path / "w.wav").stat()
    os.utime(tmp_path / "w.wav", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    (touched,) = source.list()
    assert touched.version == ref.version
    # changed bytes are; so is a changed sidecar
    with (tmp_path / "w.wav").open("ab") as f:
        f.write(b"\0\0")
    (changed,) = source.list()
    assert changed.etag != ref.etag and changed.sidecar_etag == ref.sidecar_etag
    (tmp_path / "w.json").write_text(json.dumps({"call_id": "W", "agent_id": "a"}))
    (fixed,) = source.list()
    assert fixed.etag == changed.etag and fixed.sidecar_etag != ref.sidecar_etag


def test_default_call_ids_are_unique_per_recording_and_stable() -> None:
    a = RecordingRef("s3://b/a/0001.wav", "a/0001.wav", "e", 1)
    b = RecordingRef("s3://b/b/0001.wav", "b/0001.wav", "e", 1)
    other_bucket = RecordingRef("s3://c/a/0001.wav", "a/0001.wav", "e", 1)
    ids = {a.default_call_id, b.default_call_id, other_bucket.default_call_id}
    assert len(ids) == 3
    assert a.default_call_id.startswith("a-0001-") and b.default_call_id.startswith("b-0001-")
    again = RecordingRef("s3://b/a/0001.wav", "a/0001.wav", "e2", 2)
    assert again.default_call_id == a.default_call_id  # a new version is the same call


def test_local_source_missing_directory() -> None:
    with pytest.raises(SourceError, match="does not exist"):
        LocalSource("/nonexistent/recordings")
