"""What of a call may be stored when redaction is on, beyond the transcript.

* **Engine-native extras** (AssemblyAI): sentence texts, the summary and its sections are
  redacted like the transcript; entities keep their type and times but lose their text
  (an entity *is* the personal data); anything else the engine returned is dropped.
* **Sidecar free fields** (``calls.metadata``): only the fields on the allow-list
  (``CALLSCOPE_METADATA_KEEP``) are kept, each string value redacted; fields on the hash
  list (``CALLSCOPE_METADATA_HASH``) are kept as a keyed hash (HMAC-SHA256 with
  ``CALLSCOPE_METADATA_HASH_KEY``; plain SHA-256 without a key) so analysts can group by
  them without seeing them. Every other field is dropped.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from analytics.enrich.redact import DEFAULT_NER, Names, empty_counts, redact, redact_result

if TYPE_CHECKING:
    from analytics.config import Settings
    from analytics.models import CallMetadata, CallResult

log = logging.getLogger(__name__)

#: Native fields kept (after redaction); every other key of ``CallResult.native`` goes.
_NATIVE_TEXT_LISTS = ("sentiment", "summary_sections")
_NATIVE_KEEP = ("speech_model_used",)
_SECTION_TEXT_KEYS = ("text", "headline")


@dataclass(frozen=True)
class PrivacyPolicy:
    """How a call is made safe to store. ``redact_pii=False`` stores everything as is."""

    redact_pii: bool = True
    #: Sidecar free fields (beyond call_id, started_at, agent_id, direction, channel_roles)
    #: kept in ``calls.metadata``; values are redacted.
    metadata_keep: tuple[str, ...] = ()
    #: Sidecar free fields kept as a hash of their value (for grouping, not reading).
    metadata_hash: tuple[str, ...] = ()
    #: Key of the HMAC; None hashes with plain SHA-256 (guessable for short values).
    hash_key: bytes | None = field(default=None, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> PrivacyPolicy:
        key = settings.metadata_hash_key
        return cls(
            redact_pii=settings.redact_pii,
            metadata_keep=tuple(settings.metadata_keep),
            metadata_hash=tuple(settings.metadata_hash),
            hash_key=key.get_secret_value().encode() if key is not None else None,
        )


def _add(total: dict[str, int], more: Mapping[str, int]) -> None:
    for k, v in more.items():
        total[k] = total.get(k, 0) + v


def hash_value(value: Any, key: bytes | None) -> str:
    """``sha256:<hex>`` (or ``hmac-sha256:<hex>`` with a key) of a JSON-encoded value."""
    raw = json.dumps(value, sort_keys=True, default=str, ensure_ascii=False).encode()
    if key is None:
        return "sha256:" + hashlib.sha256(raw).hexdigest()
    return "hmac-sha256:" + hmac.new(key, raw, hashlib.sha256).hexdigest()


def _redact_str(text: str, counts: dict[str, int], names: Names) -> str:
    red = redact(text, names)
    _add(counts, red.counts)
    return red.text


def _redact_value(value: Any, counts: dict[str, int], names: Names) -> Any:
    """Strings anywhere inside ``value`` (lists, dicts) redacted."""
    if isinstance(value, str):
        return _redact_str(value, counts, names)
    if isinstance(value, Mapping):
        return {k: _redact_value(v, counts, names) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value(v, counts, names) for v in value]
    return value


def redact_native(
    native: Mapping[str, Any], names: Names = DEFAULT_NER
) -> tuple[dict[str, Any], dict[str, int]]:
    """Engine extras safe to store: texts redacted, entity values and unknown keys dropped."""
    counts = empty_counts()
    out: dict[str, Any] = {}
    for key in _NATIVE_TEXT_LISTS:
        items = native.get(key)
        if items is None:
            continue
        out[key] = [
            {
                k: _redact_str(v, counts, names)
                if k in _SECTION_TEXT_KEYS and isinstance(v, str)
                else v
                for k, v in dict(item).items()
            }
            for item in items
        ]
    if isinstance(native.get("summary"), str):
        out["summary"] = _redact_str(native["summary"], counts, names)
    if native.get("entities") is not None:
        out["entities"] = [
            {k: v for k, v in dict(e).items() if k != "text"} for e in native["entities"]
        ]
    for key in _NATIVE_KEEP:
        if key in native:
            out[key] = native[key]
    dropped = sorted(set(native) - set(out))
    if dropped:
        log.debug("native fields dropped under redaction: %s", dropped)
    return out, counts


def filter_metadata(
    metadata: CallMetadata,
    policy: PrivacyPolicy,
    names: Names = DEFAULT_NER,
) -> tuple[CallMetadata, dict[str, int]]:
    """Sidecar free fields reduced to the allow-list (redacted) and the hash list."""
    counts = empty_counts()
    extra: dict[str, Any] = {}
    for key, value in metadata.extra.items():
        if key in policy.metadata_hash:
            extra[key] = hash_value(value, policy.hash_key)
        elif key in policy.metadata_keep:
            extra[key] = _redact_value(value, counts, names)
    dropped = sorted(set(metadata.extra) - set(extra))
    if dropped:
        log.debug("call %s: %d sidecar fields not kept", metadata.call_id, len(dropped))
    return replace(metadata, extra=extra), counts


def privatize_result(
    result: CallResult, policy: PrivacyPolicy, names: Names = DEFAULT_NER
) -> tuple[CallResult, dict[str, int]]:
    """The CallResult the warehouse may store under ``policy`` and the redaction counts
    (counted even when redaction is off, so the team sees what it keeps)."""
    redacted, counts = redact_result(result, names)
    if not policy.redact_pii:
        return result, counts
    native, native_counts = redact_native(result.native, names)
    metadata, md_counts = filter_metadata(result.metadata, policy, names)
    _add(counts, native_counts)
    _add(counts, md_counts)
    return replace(redacted, native=native, metadata=metadata), counts
