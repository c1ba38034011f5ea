"""A pipecat TTS service for piper's own HTTP server, which runs as a separate process.

piper is GPL-licensed, so it never enters callscope's process: ``make agent`` starts
``python -m piper.http_server`` from its own virtualenv and this service POSTs
``{"text", "voice"}`` to ``/synthesize`` and streams the returned WAV (22050 Hz mono) into
the pipeline, resampled to the pipeline's output rate. (pipecat's own ``PiperHttpTTSService``
lives in a module that imports ``piper`` at load time, which is why this one exists.)
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any

import aiohttp
from pipecat.frames.frames import ErrorFrame, Frame, TTSStoppedFrame
from pipecat.services.settings import TTSSettings
from pipecat.services.tts_service import TTSService


@dataclass
class PiperServerTTSSettings(TTSSettings):
    """Settings of :class:`PiperServerTTSService` (voice = piper voice name)."""


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

    def can_generate_metrics(self) -> bool:
        return True

    async def run_tts(self, text: str, context_id: str) -> AsyncGenerator[Frame | None, None]:
        body = {"text": text, "voice": self._settings.voice}
        try:
            async with self._session.post(self._url, json=body, timeout=self._timeout) as resp:
                if resp.status != 200:
                    detail = (await resp.text())[:200]
                    yield ErrorFrame(error=f"piper server {self._url}: {resp.status} {detail}")
                    yield TTSStoppedFrame(context_id=context_id)
                    return
                await self.start_tts_usage_metrics(text)
                async for frame in self._stream_audio_frames_from_iterator(
                    resp.content.iter_chunked(self.chunk_size),
                    strip_wav_header=True,
                    context_id=context_id,
                ):
                    await self.stop_ttfb_metrics()
                    yield frame
        except (aiohttp.ClientError, TimeoutError) as exc:
            yield ErrorFrame(
                error=f"piper server {self._url} unreachable ({exc}); start it with `make agent`"
            )
        finally:
            await self.stop_ttfb_metrics()
