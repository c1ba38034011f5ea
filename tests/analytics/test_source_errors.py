"""Source errors name the cause: missing credentials are a configuration error."""

from __future__ import annotations

import pytest

from analytics.config import Settings
from analytics.errors import ConfigError
from analytics.sources import open_source
from flows.local_s3 import LocalS3


def test_missing_s3_credentials_are_not_reported_as_unreachable_s3(
    s3_server: LocalS3, monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    cfg = Settings(s3_endpoint_url=s3_server.endpoint_url)
    with pytest.raises(
        ConfigError, match="no S3 credentials found: set CALLSCOPE_S3_ACCESS_KEY_ID"
    ):
        list(open_source("s3://bucket/prefix/", cfg).list())
