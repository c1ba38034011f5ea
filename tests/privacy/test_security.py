"""Model checksums, short presigned URLs, read-only warehouse reads, bound filters."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import duckdb
import pytest

from analytics.config import Settings
from analytics.errors import ModelNotFoundError
from analytics.landing import Processed, land_processed
from analytics.models import Utterance, Word
from analytics.sources import open_source
from analytics.transcription import models
from analytics.warehouse import Warehouse, connect_read_only, queries
from tests.factories import call_result


def test_packaged_tiny_en_is_loaded_only_with_its_pinned_checksum(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = models.resolve("tiny.en", tmp_path)
    assert real.sha256 == models.TINY_EN_SHA256
    fake = tmp_path / "model"
    fake.mkdir()
    (fake / "model.bin").write_bytes(b"not the weights")
    monkeypatch.setattr(models, "_tiny_en", lambda: fake)
    with pytest.raises(ModelNotFoundError, match=r"sha256 .* expected .*refusing"):
        models.resolve("tiny.en", tmp_path)


@pytest.mark.parametrize(
    ("override", "expected"), [({}, "900"), ({"s3_presign_expires_s": 120}, "120")]
)
def test_presigned_urls_are_short_lived(
    settings: Settings, s3_client: Any, bucket: str, override: dict[str, int], expected: str
) -> None:
    s3_client.put_object(Bucket=bucket, Key="calls/a.wav", Body=b"RIFF")
    cfg = settings.model_copy(update=override)
    source = open_source(f"s3://{bucket}/calls/", cfg)
    (ref,) = source.list()
    url = source.presign(ref)
    assert url is not None
    query = parse_qs(urlparse(url).query)
    if "X-Amz-Expires" in query:  # SigV4: the lifetime in seconds
        assert query["X-Amz-Expires"] == [expected]
    else:  # SigV2: an absolute expiry time
        left = int(query["Expires"][0]) - time.time()
        assert int(expected) - 60 < left <= int(expected) + 1


def _landed(tmp_path: Path) -> Path:
    wh = Warehouse(tmp_path / "w.duckdb")
    wh.migrate()
    words = tuple(
        Word(w, i * 0.4, i * 0.4 + 0.3, 0.9) for i, w in enumerate(["my", "bill", "is", "wrong"])
    )
    u = Utterance("customer", "customer", 0.0, 1.5, "my bill is wrong", words, channel=0)
    land_processed(wh, Processed(call_result((u,))), run_id=None, ruleset=None, redact_pii=True)
    return wh.path


INJECTIONS = [
    "'; DROP TABLE calls; --",
    "' OR 1=1 --",
    "x') OR ('1'='1",
    "%' OR '%'='",
    "\\'; DELETE FROM analyses; --",
]


@pytest.mark.parametrize("evil", INJECTIONS)
def test_dashboard_filters_are_bound_parameters(tmp_path: Path, evil: str) -> None:
    path = _landed(tmp_path)
    with connect_read_only(path) as con:
        assert len(queries.list_calls(con)) == 1
        for kwargs in ({"search": evil}, {"category": evil}, {"outcome": evil}):
            assert len(queries.list_calls(con, **kwargs)) == 0, kwargs  # a value, not SQL
        assert queries.call_detail(con, evil) is None
    with connect_read_only(path) as con:
        assert con.execute("SELECT count(*) FROM calls").fetchone() == (1,)
        assert con.execute("SELECT count(*) FROM analyses").fetchone() == (1,)


@pytest.mark.parametrize(
    "sql",
    [
        "DELETE FROM calls",
        "DROP TABLE calls",
        "INSERT INTO runs (run_id) VALUES ('x')",
        "CREATE TABLE t (x INT)",
    ],
)
def test_dashboard_connections_cannot_write(tmp_path: Path, sql: str) -> None:
    path = _landed(tmp_path)
    with connect_read_only(path) as con, pytest.raises(duckdb.Error, match="read-only"):
        con.execute(sql)
