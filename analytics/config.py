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
    download_cache_mb: int = Field(
        0,
        ge=0,
        description="Keep downloaded recordings in data/cache/recordings up to this many MB"
        " (newest first); 0 deletes each download once its call is processed.",
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
    engine: Literal["faster-whisper", "assemblyai", "openai-whisper"] = Field(
        "faster-whisper", description="Transcription engine."
    )
    model: str = Field(
        "tiny.en",
        description="Model name (tiny.en, base, a hub name when online) or a local model dir.",
    )
    model_cache_dir: Path = Field(
        Path("data/cache/models"), description="Where packaged models are reassembled once."
    )
    model_download: bool = Field(
        False, description="Allow hub downloads of models that are not installed (online only)."
    )
    openai_whisper_download_root: Path = Field(
        Path("data/cache/openai-whisper"),
        description="Where openai-whisper looks for official <name>.pt checkpoints.",
    )
    device: str = Field("cpu", description="cpu or cuda.")
    compute_type: str = Field("int8", description="CTranslate2 compute type.")
    cpu_threads: int = Field(0, description="Threads per model worker; 0 = cores / workers.")
    beam_size: int = Field(5, description="Beam size for decoding.")
    batch_size: int = Field(
        0, description="faster-whisper BatchedInferencePipeline batch size; 0 = sequential."
    )
    language: str | None = Field(
        None, description="Force a language code; unset detects it on speech only."
    )
    vad_filter: bool = Field(True, description="Skip non-speech with Silero VAD.")
    vad_threshold: float = Field(0.5, description="Silero speech probability threshold.")
    vad_min_silence_ms: int = Field(500, description="Silence that splits speech (ms).")
    vad_speech_pad_ms: int = Field(200, description="Padding around detected speech (ms).")
    initial_prompt: str | None = Field(
        None, description="Context text for the first window (custom vocabulary)."
    )
    hotwords: str | None = Field(
        None, description="Product/company names to bias decoding towards, space-separated."
    )
    temperatures: tuple[float, ...] = Field(
        (0.0, 0.2, 0.4, 0.6, 0.8, 1.0),
        description="Temperature fallback sequence when a window fails the quality checks.",
    )
    no_speech_threshold: float = Field(
        0.6, description="Drop a window whose no-speech probability is above this."
    )
    log_prob_threshold: float = Field(-1.0, description="Fallback below this avg log prob.")
    compression_ratio_threshold: float = Field(
        2.4, description="Fallback above this gzip ratio (repetition guard)."
    )
    hallucination_silence_threshold: float | None = Field(
        2.0, description="Skip silent stretches (s) around suspected hallucinations."
    )
    price_faster_whisper_per_min: float = Field(
        0.0, description="Cost per audio minute of the self-hosted engine (your compute), USD."
    )
    price_openai_whisper_per_min: float = Field(
        0.0, description="Cost per audio minute of openai-whisper (self-hosted), USD."
    )
    price_assemblyai_per_min: float = Field(
        0.0025, description="AssemblyAI list price per audio minute (Universal, $0.15/h), USD."
    )

    # --- alignment --------------------------------------------------------------------
    utterance_gap_s: float = Field(
        1.0, description="A pause longer than this starts a new utterance."
    )

    # --- diarization ------------------------------------------------------------------
    diarizer: str = Field(
        "auto",
        description="Who spoke when: auto (channels for stereo, clustering for mono),"
        " clustering, channels, engine (the engine's speaker labels), pyannote, none.",
    )
    diarization_speakers: int | None = Field(
        None, description="Force the number of speakers; unset detects it."
    )
    diarization_min_speakers: int = Field(1, description="Fewest speakers to detect.")
    diarization_max_speakers: int = Field(4, description="Most speakers to detect.")
    role_assigner: str = Field(
        "heuristic", description="How speakers get agent/customer roles: heuristic."
    )
    pyannote_pipeline: Path | None = Field(
        None, description="Local pyannote.audio pipeline directory (diarizer=pyannote)."
    )
    hf_token: SecretStr | None = Field(
        None, description="Hugging Face token for pyannote's hub pipeline (online only)."
    )

    # --- rules ---------------------------------------------------------------------------
    rules_path: Path = Field(
        Path("config/categories.yaml"), description="Category rules applied to every call."
    )

    # --- flows --------------------------------------------------------------------------
    workers: int = Field(2, description="Calls processed concurrently in one flow run.")
    task_retries: int = Field(2, description="Retries for transient errors per call.")
    timezone: str = Field("UTC", description="Time zone of the nightly schedule.")

    # --- insights ---------------------------------------------------------------------
    redact_pii: bool = Field(
        True,
        description="Store redacted transcript text; text sent to an LLM is always redacted.",
    )
    insights_engine: Literal["offline", "openai", "anthropic"] = Field(
        "offline",
        description="offline (rules + VADER, no network), openai (any OpenAI-compatible chat"
        " endpoint) or anthropic (Messages API).",
    )
    llm_base_url: str | None = Field(
        None,
        description="LLM endpoint; unset means the vendor's. E.g. http://127.0.0.1:11434/v1.",
    )
    llm_api_key: SecretStr | None = Field(
        None, description="LLM API key; unset falls back to OPENAI_API_KEY / ANTHROPIC_API_KEY."
    )
    llm_model: str = Field(
        "gpt-4o-mini",
        description="LLM model; when left unset with the anthropic engine: claude-haiku-4-5.",
    )
    llm_timeout_s: float = Field(60.0, description="Timeout per LLM request (s).")
    llm_max_retries: int = Field(
        3, description="Retries per LLM request on timeouts, 429 and 5xx (backoff, Retry-After)."
    )
    llm_context_tokens: int = Field(
        16000, description="Context window to plan for; longer calls are map-reduced in chunks."
    )
    llm_budget_tokens: int | None = Field(
        None, description="Max LLM tokens (in + out) per run; later calls are skipped."
    )
    llm_budget_usd: float | None = Field(
        None, description="Max LLM spend per run in USD; later calls are skipped."
    )
    llm_price_in_per_mtok: float = Field(
        0.15,
        description="USD per million input tokens (gpt-4o-mini list price; claude-haiku-4-5:"
        " 1.00 when left unset with the anthropic engine).",
    )
    llm_price_out_per_mtok: float = Field(
        0.60,
        description="USD per million output tokens (gpt-4o-mini list price; claude-haiku-4-5:"
        " 5.00 when left unset with the anthropic engine).",
    )

    # --- assemblyai ------------------------------------------------------------------
    assemblyai_api_key: SecretStr | None = Field(
        None, description="AssemblyAI API key (engine=assemblyai); never logged."
    )
    assemblyai_base_url: str = Field(
        "https://api.assemblyai.com",
        description="AssemblyAI API root; https://api.eu.assemblyai.com keeps data in the EU.",
    )
    assemblyai_speech_model: str | None = Field(
        None,
        description="Speech model sent as speech_models=[...] (e.g. universal-3-pro,"
        " universal-2); unset uses the API's default (lineage model name: universal).",
    )
    assemblyai_speaker_labels: bool = Field(
        True, description="Mono calls: let AssemblyAI tell speakers apart (speaker_labels)."
    )
    assemblyai_speakers_expected: int | None = Field(
        None, description="Mono calls: number of speakers to expect; unset lets the API decide."
    )
    assemblyai_language_detection: bool = Field(
        True, description="Detect the language; CALLSCOPE_LANGUAGE, when set, forces it instead."
    )
    assemblyai_word_boost: tuple[str, ...] = Field(
        (),
        description="Custom vocabulary (product and company names), sent as keyterms_prompt.",
    )
    assemblyai_redact_pii: bool = Field(
        False, description="Have AssemblyAI redact PII in the transcript it returns."
    )
    assemblyai_sentiment: bool = Field(
        True, description="Per-sentence sentiment from AssemblyAI (kept in analyses.native)."
    )
    assemblyai_entities: bool = Field(
        True, description="Entity detection from AssemblyAI (kept in analyses.native)."
    )
    assemblyai_summarization: bool = Field(
        True, description="A call summary from AssemblyAI Speech Understanding summarization."
    )
    assemblyai_poll_interval_s: float = Field(
        3.0, description="Seconds between polling rounds over all pending transcripts."
    )
    assemblyai_poll_timeout_s: float = Field(
        1800,
        description="Give up polling after this long (a transient error; the next run resumes"
        " the same transcript id).",
    )
    assemblyai_max_retries: int = Field(
        4, description="Retries per API request on 429, 5xx and network errors (backoff)."
    )

    def price_per_minute(self, engine: str) -> float:
        """Configured price of one billed audio minute for ``engine``."""
        return float(getattr(self, f"price_{engine.replace('-', '_')}_per_min", 0.0))

    def s3_client_kwargs(self) -> dict[str, object]:
        """Keyword arguments for ``boto3.client('s3', ...)`` (secrets unwrapped here only)."""
        kwargs: dict[str, object] = {"region_name": self.s3_region}
        if self.s3_endpoint_url:
            kwargs["endpoint_url"] = self.s3_endpoint_url
        if self.s3_access_key_id and self.s3_secret_access_key:
            kwargs["aws_access_key_id"] = self.s3_access_key_id.get_secret_value()
            kwargs["aws_secret_access_key"] = self.s3_secret_access_key.get_secret_value()
        return kwargs
