"""Decode any audio file with PyAV into 16 kHz float32 arrays, one per channel."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from analytics.errors import DecodeError

log = logging.getLogger(__name__)

#: Whisper models expect 16 kHz mono input.
TARGET_RATE = 16_000


@dataclass(frozen=True)
class DecodedAudio:
    """Decoded recording: ``channels`` holds one float32 array per source channel."""

    channels: tuple[np.ndarray, ...]
    sample_rate: int
    source_sample_rate: int
    codec: str

    @property
    def n_channels(self) -> int:
        return len(self.channels)

    @property
    def duration_s(self) -> float:
        return len(self.channels[0]) / self.sample_rate if self.channels else 0.0

    def mono(self) -> np.ndarray:
        """Average of all channels (what a mono engine hears)."""
        if len(self.channels) == 1:
            return self.channels[0]
        return np.mean(np.stack(self.channels), axis=0).astype(np.float32)


def decode(
    path: Path | str, target_rate: int = TARGET_RATE, name: str | None = None
) -> DecodedAudio:
    """Decode ``path`` keeping channels apart, resampled to ``target_rate``.

    Raises DecodeError naming the file (``name``, default the file name) when it is
    corrupt, empty or has no audio stream.
    """
    path = Path(path)
    label = name or path.name
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise DecodeError(f"{label}: not a readable audio file ({exc})") from exc
    with container:
        if not container.streams.audio:
            raise DecodeError(f"{label}: the file has no audio stream")
        stream = container.streams.audio[0]
        n_channels = stream.codec_context.channels or 1
        source_rate = stream.codec_context.sample_rate or 0
        codec = stream.codec_context.name
        resampler = av.AudioResampler(format="fltp", layout=stream.layout, rate=target_rate)
        chunks: list[np.ndarray] = []
        try:
            for frame in container.decode(stream):
                frame.pts = None
                chunks.extend(r.to_ndarray() for r in resampler.resample(frame))
            chunks.extend(r.to_ndarray() for r in resampler.resample(None))
        except (av.error.FFmpegError, ValueError) as exc:
            raise DecodeError(f"{label}: audio data is corrupt ({exc})") from exc
    if not chunks:
        raise DecodeError(f"{label}: the audio stream decoded to no samples")
    data = np.concatenate(chunks, axis=1).astype(np.float32, copy=False)
    if data.shape[1] < target_rate // 10:
        raise DecodeError(
            f"{label}: only {data.shape[1] / target_rate:.3f} s of audio; too short to analyse"
        )
    channels = tuple(np.ascontiguousarray(data[i]) for i in range(min(n_channels, data.shape[0])))
    log.debug(
        "decoded %s: %s, %d ch, %d Hz -> %d Hz, %.1f s",
        path.name,
        codec,
        len(channels),
        source_rate,
        target_rate,
        data.shape[1] / target_rate,
    )
    return DecodedAudio(channels, target_rate, source_rate, codec)
