"""The few domain exceptions. Each carries the pipeline stage it happened in."""

from __future__ import annotations


class CallscopeError(Exception):
    """Base class for every error callscope raises on purpose."""

    stage = "unknown"
    #: A transient error may succeed when retried (network blip, throttling).
    transient = False
    #: A permanent error is a property of this version of the recording (corrupt audio,
    #: invalid sidecar): discovery skips that version until the object or its sidecar
    #: changes. Non-permanent failures (access, network) are tried again by the next run.
    permanent = True


class ConfigError(CallscopeError):
    """A setting or argument is invalid; the message names it and the fix. It fails the
    run (never recorded against a call)."""

    stage = "config"
    permanent = False


class SourceError(CallscopeError):
    """A recording source could not be listed or an object could not be fetched."""

    stage = "fetch"
    permanent = False


class AccessError(SourceError):
    """The store refused access (credentials, bucket policy); fixable, so not permanent."""


class TransientSourceError(SourceError):
    """A network or throttling error talking to the recording store; worth a retry."""

    transient = True


class MetadataError(CallscopeError):
    """A sidecar JSON file is unreadable or has invalid fields."""

    stage = "metadata"


class DecodeError(CallscopeError):
    """The audio could not be decoded (corrupt, empty or unsupported file)."""

    stage = "decode"


class TranscriptionError(CallscopeError):
    """The transcription engine failed on a recording."""

    stage = "transcribe"


class ModelNotFoundError(ConfigError):
    """A transcription model name does not resolve to a model on this machine."""


class WarehouseError(CallscopeError):
    """The DuckDB warehouse could not be opened, migrated or written."""

    stage = "land"
    permanent = False


class WarehouseLockedError(WarehouseError):
    """Another process holds the warehouse's write lock for longer than we wait."""

    stage = "warehouse"


class InsightsError(CallscopeError):
    """Call insights failed (LLM refusal, invalid output after one repair, API error).

    The transcript still lands; the caller records a failed insights row."""

    stage = "insights"
