"""One settings object, read at the edges (CLI, flows, dashboard) and passed down.

Every field can be set with an environment variable ``CALLSCOPE_<FIELD>`` (upper case)
or in a ``.env`` file; ``.env.example`` lists them all.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """callscope settings. Defaults run fully offline on a laptop."""

    model_config = SettingsConfigDict(
        env_prefix="CALLSCOPE_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # --- storage -------------------------------------------------------------------
    data_dir: Path = Field(Path("data"), description="Root of local runtime state.")
    warehouse: Path = Field(Path("data/warehouse.duckdb"), description="DuckDB warehouse file.")
    source: str = Field(
        "s3://callscope-recordings/recordings/",
        description="Default recording source: s3://bucket/prefix or a local directory.",
    )

    # --- S3 (any S3-compatible store) ----------------------------------------------
    s3_endpoint_url: str | None = Field(
        None, description="S3 endpoint URL; unset means AWS. E.g. http://127.0.0.1:9000."
    )
    s3_region: str = Field("us-east-1", description="S3 region name.")
    s3_access_key_id: SecretStr | None = Field(
        None, description="Access key; unset means boto3's default credential chain."
    )
    s3_secret_access_key: SecretStr | None = Field(None, description="Secret key.")
    s3_connect_timeout_s: float = Field(10.0, description="Connect timeout for S3 calls.")
    s3_max_attempts: int = Field(4, description="botocore retry attempts per S3 call.")

    # --- transcription ----------------------------------------------------------------
    engine: Literal["faster-whisper"] = Field("faster-whisper", description="Transcription engine.")
    model: str = Field("tiny.en", description="Model name or local CTranslate2 directory.")
    device: str = Field("cpu", description="cpu or cuda.")
    compute_type: str = Field("int8", description="CTranslate2 compute type.")
    cpu_threads: int = Field(0, description="Threads per model; 0 lets CTranslate2 pick.")
    beam_size: int = Field(5, description="Beam size for decoding.")
    language: str | None = Field(
        None, description="Force a language code; unset detects (English-only models: en)."
    )
    vad_filter: bool = Field(True, description="Skip non-speech with Silero VAD.")

    # --- alignment --------------------------------------------------------------------
    utterance_gap_s: float = Field(
        1.0, description="A pause longer than this starts a new utterance."
    )

    # --- flows --------------------------------------------------------------------------
    workers: int = Field(2, description="Calls processed concurrently in one flow run.")
    task_retries: int = Field(2, description="Retries for transient errors per call.")
    timezone: str = Field("UTC", description="Time zone of the nightly schedule.")

    def s3_client_kwargs(self) -> dict[str, object]:
        """Keyword arguments for ``boto3.client('s3', ...)`` (secrets unwrapped here only)."""
        kwargs: dict[str, object] = {"region_name": self.s3_region}
        if self.s3_endpoint_url:
            kwargs["endpoint_url"] = self.s3_endpoint_url
        if self.s3_access_key_id and self.s3_secret_access_key:
            kwargs["aws_access_key_id"] = self.s3_access_key_id.get_secret_value()
            kwargs["aws_secret_access_key"] = self.s3_secret_access_key.get_secret_value()
        return kwargs
