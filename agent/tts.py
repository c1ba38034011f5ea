"""A pipecat TTS service for piper's own HTTP server, which runs as a separate process.

piper is GPL-licensed, so it never enters callscope's process: ``make agent`` starts
``python -m piper.http_server`` from its own virtualenv and this service POSTs
``{"text", "voice"}`` to ``/synthesize`` and streams the returned WAV (22050 Hz mono) into
the pipeline, resampled to the pipeline's output rate. (pipecat's own ``PiperHttpTTSService``
lives in a module that imports ``piper`` at load time, which is why this one exists.)

pipecat's sentence aggregation sends a reply one sentence at a time, so the first audio
waits only for the first sentence. Short sentences (the opening with its consent line,
"Got it.", the filler, goodbyes) recur in every call; their WAV is kept (a small LRU per
process), so they play without a round trip to piper, which on a loaded 2-core machine
took 1-4 s even for two words.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
from pipecat.frames.frames import ErrorFrame, Frame, TTSStoppedFrame
from pipecat.services.settings import TTSSettings
from pipecat.services.tts_service import TTSService


@dataclass
class PiperServerTTSSettings(TTSSettings):
    """Settings of :class:`PiperServerTTSService` (voice = piper voice name)."""


class WavCache:
    """The WAV of short sentences, by (voice, text); least recently used out first."""

    def __init__(self, max_items: int = 128, max_chars: int = 120) -> None:
        self.max_items = max_items
        self.max_chars = max_chars
        self._items: OrderedDict[tuple[str, str], bytes] = OrderedDict()

    def get(self, voice: str, text: str) -> bytes | None:
        wav = self._items.get((voice, text))
        if wav is not None:
            self._items.move_to_end((voice, text))
        return wav

    def put(self, voice: str, text: str, wav: bytes) -> None:
        if len(text) > self.max_chars or self.max_items <= 0:
            return
        self._items[(voice, text)] = wav
        self._items.move_to_end((voice, text))
        while len(self._items) > self.max_items:
            self._items.popitem(last=False)


#: Shared by every call in the process.
WAV_CACHE = WavCache()


class PiperServerTTSService(TTSService):
    """Text to speech through a piper HTTP server (``POST <base_url>/synthesize``)."""

    Settings = PiperServerTTSSettings
    _settings: PiperServerTTSSettings

    def __init__(
        self,
        *,
        base_url: str,
        voice: str,
        session: aiohttp.ClientSession,
        timeout_s: float = 20.0,
        cache: WavCache | None = WAV_CACHE,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            push_start_frame=True,
            push_stop_frames=True,
            settings=self.Settings(model=None, voice=voice, language=None),
            **kwargs,
        )
        self._url = base_url.rstrip("/") + "/synthesize"
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._cache = cache

    def can_generate_metrics(self) -> bool:
        return True

    async def run_tts(self, text: str, context_id: str) -> AsyncGenerator[Frame | None, None]:
        voice = str(self._settings.voice)
        cached = self._cache.get(voice, text) if self._cache is not None else None
        if cached is not None:
            await self.start_tts_usage_metrics(text)
            async for frame in self._stream_audio_frames_from_iterator(
                _chunks(cached, self.chunk_size), strip_wav_header=True, context_id=context_id
            ):
                await self.stop_ttfb_metrics()
                yield frame
            return
        body = {"text": text, "voice": voice}
        wav = bytearray()
        try:
            async with self._session.post(self._url, json=body, timeout=self._timeout) as resp:
                if resp.status != 200:
                    detail = (await resp.text())[:200]
                    yield ErrorFrame(error=f"piper server {self._url}: {resp.status} {detail}")
                    yield TTSStoppedFrame(context_id=context_id)
                    return
                await self.start_tts_usage_metrics(text)
                async for frame in self._stream_audio_frames_from_iterator(
                    _kept(resp.content.iter_chunked(self.chunk_size), wav),
                    strip_wav_header=True,
                    context_id=context_id,
                ):
                    await self.stop_ttfb_metrics()
                    yield frame
            if self._cache is not None and wav:
                self._cache.put(voice, text, bytes(wav))
        except (aiohttp.ClientError, TimeoutError) as exc:
            yield ErrorFrame(
                error=f"piper server {self._url} unreachable ({exc}); start it with `make agent`"
            )
        finally:
            await self.stop_ttfb_metrics()


async def _chunks(data: bytes, size: int) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


async def _kept(chunks: AsyncIterator[bytes], into: bytearray) -> AsyncIterator[bytes]:
    """Pass ``chunks`` on, keeping a copy of them in ``into``."""
    async for chunk in chunks:
        into.extend(chunk)
        yield chunk
