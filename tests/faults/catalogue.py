"""Every injected fault of the suite, in the order of the README's table (id -> what)."""

from __future__ import annotations

FAULTS = {
    "s3_slowdown_once": "S3 answers `503 SlowDown` once to a download",
    "s3_internal_list_once": "S3 answers `500 InternalError` once to the listing",
    "s3_stall_once": "S3 stalls one download past the read timeout",
    "s3_slowdown_always": "S3 throttles one recording's downloads for the whole run",
    "s3_stall_always": "S3 stalls every download of one recording",
    "s3_list_down": "S3 answers 500 to every listing",
    "s3_deleted": "an object deleted between listing and download",
    "disk_full": "the download directory is full (a 32 KiB tmpfs)",
    "aai_error_status": "AssemblyAI ends a job with status `error`",
    "aai_poll_timeout": "AssemblyAI never finishes a job (poll timeout)",
    "aai_429_once": "AssemblyAI answers 429 to a submission, then accepts it",
    "aai_429_always": "AssemblyAI answers 429 to every submission of the run",
    "llm_timeout": "the LLM does not answer within its timeout",
    "llm_invalid_json": "the LLM answers invalid JSON twice (answer and repair)",
    "llm_refusal": "the LLM refuses",
    "worker_killed": "the worker is killed (SIGKILL) mid-batch",
    "warehouse_locked_briefly": "the warehouse is locked by another process at landing, briefly",
    "warehouse_locked": "the warehouse stays locked past the wait at landing time",
}
