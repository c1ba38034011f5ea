"""The piper TTS service's cache of short sentences."""

from __future__ import annotations

from agent.tts import WavCache


def test_cache_keeps_short_sentences_per_voice_and_drops_the_least_recent() -> None:
    cache = WavCache(max_items=2, max_chars=20)
    cache.put("joe", "Got it.", b"RIFF1")
    cache.put("amy", "Got it.", b"RIFF2")
    assert cache.get("joe", "Got it.") == b"RIFF1"  # now the most recent
    cache.put("joe", "Of course.", b"RIFF3")
    assert cache.get("amy", "Got it.") is None
    assert cache.get("joe", "Got it.") == b"RIFF1"
    assert cache.get("joe", "Of course.") == b"RIFF3"


def test_cache_skips_long_sentences_and_can_be_off() -> None:
    cache = WavCache(max_chars=10)
    cache.put("joe", "Your oak dining table is out for delivery.", b"RIFF")
    assert cache.get("joe", "Your oak dining table is out for delivery.") is None
    off = WavCache(max_items=0)
    off.put("joe", "Hi.", b"RIFF")
    assert off.get("joe", "Hi.") is None
