"""Engine extras, sidecar free fields and source paths under redaction."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from analytics.enrich.privacy import PrivacyPolicy, filter_metadata, hash_value, redact_native
from analytics.errors import SourceError
from analytics.landing import Processed, land_processed
from analytics.models import CallMetadata, RecordingRef
from analytics.sources.base import download_name
from analytics.sources.local import LocalSource
from analytics.sources.s3 import S3Source
from analytics.warehouse import Warehouse
from tests.factories import call_result

NATIVE = {
    "sentiment": [
        {"text": "My card is 4111 1111 1111 1111.", "sentiment": "NEGATIVE", "start": 1.0},
        {"text": "Thanks, Maria Gonzalez.", "sentiment": "POSITIVE", "start": 5.0},
    ],
    "entities": [{"entity_type": "person_name", "text": "Maria Gonzalez", "start": 5.2}],
    "summary": "Maria Gonzalez (maria at example dot com) disputed a charge.",
    "summary_sections": [{"headline": "Call with John Smith", "text": "SSN 123-45-6789 given"}],
    "speech_model_used": "universal",
    "raw_extra": {"anything": "Maria Gonzalez"},
}
SECRETS = ("4111", "Maria", "Gonzalez", "maria at example", "John Smith", "6789")


def test_native_extras_are_redacted_and_entity_values_dropped() -> None:
    native, counts = redact_native(NATIVE)
    dumped = json.dumps(native)
    for secret in SECRETS:
        assert secret not in dumped
    assert native["entities"] == [{"entity_type": "person_name", "start": 5.2}]
    assert native["sentiment"][0]["sentiment"] == "NEGATIVE"
    assert "[CARD]" in native["sentiment"][0]["text"]
    assert native["speech_model_used"] == "universal"
    assert "raw_extra" not in native
    assert counts["card"] == 1 and counts["ssn"] == 1 and counts["email"] == 1


def test_sidecar_free_fields_follow_the_allow_list_and_hash_list() -> None:
    md = CallMetadata(
        "c1",
        agent_id="ag-7",
        extra={
            "queue": "billing, called from 555-123-4567",
            "customer_phone": "+1 555 123 4567",
            "customer_name": "Maria Gonzalez",
            "crm": {"notes": "card 4111 1111 1111 1111"},
        },
    )
    policy = PrivacyPolicy(metadata_keep=("queue", "crm"), metadata_hash=("customer_phone",))
    kept, counts = filter_metadata(md, policy)
    assert set(kept.extra) == {"queue", "crm", "customer_phone"}  # the name is dropped
    assert kept.extra["queue"] == "billing, called from [PHONE]"
    assert kept.extra["crm"] == {"notes": "card [CARD]"}
    assert kept.extra["customer_phone"] == hash_value("+1 555 123 4567", None)
    assert kept.extra["customer_phone"].startswith("sha256:")
    keyed = filter_metadata(md, PrivacyPolicy(metadata_hash=("customer_phone",), hash_key=b"k"))
    assert keyed[0].extra["customer_phone"].startswith("hmac-sha256:")
    assert keyed[0].extra["customer_phone"] != kept.extra["customer_phone"]
    assert counts["phone"] == 1 and counts["card"] == 1
    assert kept.agent_id == "ag-7"


@pytest.mark.parametrize("redact_pii", [True, False])
def test_landing_stores_no_native_or_sidecar_pii(tmp_path: Path, redact_pii: bool) -> None:
    wh = Warehouse(tmp_path / "w.duckdb")
    wh.migrate()
    md = CallMetadata("c1", channel_roles=("customer", "agent"), extra={"name": "Maria Gonzalez"})
    result = call_result(metadata=md, native=NATIVE, engine="assemblyai", model="universal")
    assert land_processed(wh, Processed(result), run_id=None, ruleset=None, redact_pii=redact_pii)
    with wh.connect() as con:
        stored = json.dumps(
            [
                con.execute("SELECT metadata FROM calls").fetchall(),
                con.execute("SELECT native FROM analyses").fetchall(),
                con.execute("SELECT summary, insights FROM insights").fetchall(),
            ],
            default=str,
        )
    for secret in SECRETS:
        assert (secret in stored) is (not redact_pii), secret


def test_local_keys_and_sidecars_cannot_leave_the_source(tmp_path: Path) -> None:
    root = tmp_path / "calls"
    root.mkdir()
    (tmp_path / "outside.wav").write_bytes(b"RIFF")
    (tmp_path / "secret.json").write_text('{"call_id": "x"}')
    source = LocalSource(root)
    with pytest.raises(SourceError, match="outside the source directory"):
        source.ref("../outside.wav")
    # a link inside the source that points out of it is skipped when listing
    (root / "link.wav").symlink_to(tmp_path / "outside.wav")
    assert [r.key for r in source.list()] == []
    # a sidecar linked to a file outside is refused
    (root / "ok.wav").write_bytes(b"RIFF")
    (root / "ok.json").symlink_to(tmp_path / "secret.json")
    (ref,) = source.list()
    with pytest.raises(SourceError, match="sidecar"):
        source.read_sidecar(ref)


def test_s3_keys_with_dot_dot_download_inside_the_cache(
    tmp_path: Path, s3_client: Any, bucket: str
) -> None:
    """An S3 key is only a name: ``calls/../../x.wav`` is downloaded as ``<etag>-x.wav``
    inside the download directory, never beside or above it."""
    key = "calls/../../escape.wav"
    s3_client.put_object(Bucket=bucket, Key=key, Body=b"RIFF")
    source = S3Source(f"s3://{bucket}/calls/", s3_client)
    ref = RecordingRef(uri=f"s3://{bucket}/{key}", key=key, etag="e1", size=4)
    cache = tmp_path / "a" / "cache"
    path = source.fetch(ref, cache)
    assert path == cache / download_name("e1", key) == cache / "e1-escape.wav"
    assert path.read_bytes() == b"RIFF"
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == ["e1-escape.wav"]
