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
    snapshot_interval_s: float = Field(
        300.0,
        description="During a run, publish the read snapshot (<warehouse>.read.duckdb) at"
        " most this often (s); always after the run. 0 = after every landed call.",
    )
    lake_catalog: str | None = Field(
        None,
        description="DuckLake mode: the catalog, e.g. postgres:dbname=callscope host=127.0.0.1"
        " (many writers) or a local catalog.ducklake file; unset = the embedded file.",
    )
    lake_data_path: str | None = Field(
        None, description="DuckLake mode: where Parquet data goes, e.g. s3://bucket/lake/."
    )
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
    s3_read_timeout_s: float = Field(
        60.0, gt=0, description="Read timeout for S3 calls (a stalled response is retried)."
    )
    s3_max_attempts: int = Field(4, description="botocore retry attempts per S3 call.")
    s3_presign_expires_s: int = Field(
        900, ge=60, le=86400, description="Lifetime of presigned URLs given to cloud engines."
    )

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
    vad_threshold: float = Field(
        0.35,
        description="Silero speech probability threshold (0.35: best WER and first-words"
        " recall on phone-line real speech, bench/transcription_real.py).",
    )
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
        2.0,
        description="Skip silent stretches (s) around suspected hallucinations; applied only"
        " when VAD is off (with VAD it dropped a real call's quiet first words).",
    )
    transcribe_window_s: float = Field(
        600.0,
        description="faster-whisper: longer audio is transcribed in windows of at most this"
        " many seconds, cut at a pause, so memory stays bounded; 0 = one pass.",
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
    speaker_embedding: Literal["ge2e", "ecapa", "fused"] = Field(
        "fused",
        description="Speaker embeddings of the clustering diarizer: fused (GE2E + ECAPA),"
        " ecapa (ECAPA-TDNN, weights fetched by make setup) or ge2e (Resemblyzer); each"
        " has its own thresholds. README's accuracy table compares them per set.",
    )
    diarization_max_speakers: int = Field(4, description="Most speakers to detect.")
    diarization_vad: Literal["segmentation", "silero"] = Field(
        "segmentation",
        description="Where the clustering diarizer finds speech: segmentation (pyannote"
        " segmentation-3.0, also overlapped speech; fetched by make setup, Silero when"
        " missing) or silero (Silero VAD alone).",
    )
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
    metadata_keep: tuple[str, ...] = Field(
        (),
        description="Sidecar free fields kept in calls.metadata (values redacted) when"
        " redact_pii is on; every other free field is dropped. JSON list.",
    )
    metadata_hash: tuple[str, ...] = Field(
        (),
        description="Sidecar free fields kept only as a hash of their value (group by, never"
        " read) when redact_pii is on. JSON list.",
    )
    metadata_hash_key: SecretStr | None = Field(
        None, description="HMAC key for metadata_hash; unset uses plain SHA-256 (guessable)."
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

    # --- live voice agent (agent/, extra `agent`) ------------------------------------
    agent_host: str = Field("127.0.0.1", description="Address the voice agent listens on.")
    agent_port: int = Field(8765, description="Port of the voice agent (TwiML + WebSocket).")
    agent_public_url: str | None = Field(
        None,
        description="Public base URL Twilio reaches the agent at (e.g. https://x.example.com);"
        " unset uses the Host header of the TwiML request.",
    )
    agent_brain: Literal["script", "openai"] = Field(
        "script",
        description="script (order-status dialogue, no network) or openai (any OpenAI-compatible"
        " endpoint in CALLSCOPE_LLM_BASE_URL with function calling).",
    )
    agent_stt_model: str = Field(
        "tiny.en", description="Whisper model name or local CTranslate2 dir for the agent's STT."
    )
    agent_tts_url: str = Field(
        "http://127.0.0.1:5002",
        description="piper HTTP server (a separate process; POST /synthesize).",
    )
    agent_tts_voice: str = Field("en_US-joe-medium", description="piper voice name.")
    agent_consent_message: str = Field(
        "This call is recorded for quality and training.",
        description="Recording-consent line spoken first; empty disables it (and the sidecar"
        " says consent: none).",
    )
    agent_vad_confidence: float = Field(
        0.5,
        description="Silero speech probability from which a 32 ms frame counts as speech"
        " (Silero's own threshold; pipecat's default 0.7 confirms a barge-in one frame later).",
    )
    agent_vad_start_s: float = Field(
        0.08,
        description="Speech (s) Silero VAD needs to say the caller started (barge-in); 0.08"
        " rounds to two 32 ms VAD frames.",
    )
    agent_vad_stop_s: float = Field(
        0.2, description="Silence (s) after which Silero VAD says the caller stopped."
    )
    agent_turn_timeout_s: float = Field(
        0.2, description="Extra wait (s) after VAD stop before the caller's turn ends."
    )
    agent_filler_after_ms: int = Field(
        700, description="Speak a filler phrase when a tool call takes longer than this (ms)."
    )
    agent_filler_phrase: str = Field(
        "One moment while I look that up.", description="The filler phrase."
    )
    agent_max_call_s: float = Field(
        600,
        description="Server-side cap on call duration (s); the agent says goodbye and hangs up.",
    )
    agent_cost_per_min_usd: float = Field(
        0.02,
        description="Running cost of a call per minute (telephony + compute), USD, for the spend"
        " cap; LLM tokens are added at the CALLSCOPE_LLM_PRICE_* rates.",
    )
    agent_max_spend_usd: float = Field(
        1.0, description="Server-side cap on the spend of one call, USD."
    )
    agent_orders_path: Path | None = Field(
        None, description="CSV order table for the lookup tool; unset uses the bundled demo table."
    )
    agent_tool_delay_ms: int = Field(
        0, description="Added latency of the local order lookup (rehearses a slow back-end)."
    )
    agent_recordings_prefix: str = Field(
        "agent",
        description="Key prefix under CALLSCOPE_SOURCE for agent recordings"
        " (<source>/<prefix>/YYYY/MM/DD/<call_id>.wav + .json).",
    )
    agent_spool_dir: Path = Field(
        Path("data/agent/spool"),
        description="Recordings whose upload failed wait here until a retry succeeds.",
    )
    agent_upload_attempts: int = Field(
        4, description="Upload attempts at hang-up before the recording stays spooled."
    )
    agent_hash_numbers: bool = Field(
        True, description="Store caller/callee numbers as salted SHA-256 hashes in sidecars."
    )
    agent_hash_salt: SecretStr | None = Field(
        None, description="Salt for hashed phone numbers (keep it stable to join calls)."
    )
    agent_twilio_account_sid: str | None = Field(
        None, description="Twilio account SID; with the auth token, hang-up uses Twilio's API."
    )
    agent_twilio_auth_token: SecretStr | None = Field(
        None, description="Twilio auth token (hang-up through the REST API); never logged."
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
