"""Decode any audio file with PyAV into 16 kHz float32 arrays, one per channel."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np

from analytics.errors import DecodeError

log = logging.getLogger(__name__)

#: Whisper models expect 16 kHz mono input.
TARGET_RATE = 16_000


#: More channels than this are mixed down to mono (a conference bridge, a multi-track
#: export): agent/customer roles are only defined for one speaker per channel.
MAX_CHANNELS = 2
#: A recording that loses more than this share of its packets to corruption fails.
MAX_LOST_FRACTION = 0.5
#: Recordings longer than this are held in float16 (half the memory: a 3-hour channel is
#: 345 MB instead of 691 MB). float16 keeps 11 significant bits at every level, so a
#: quiet speaker loses nothing a telephone line had (G.711 carries ~38 dB SNR); every
#: reader converts the block it works on to float32. Shorter calls stay float32.
COMPACT_AFTER_S = 1800.0
#: Blocks of this many samples when a whole channel is derived (mono mix, conversion).
_BLOCK = 1 << 22


def as_float32(samples: np.ndarray) -> np.ndarray:
    """``samples`` as a contiguous float32 array (no copy when it already is one)."""
    return np.ascontiguousarray(samples, dtype=np.float32)


@dataclass(frozen=True)
class DecodedAudio:
    """Decoded recording: ``channels`` holds one float32 array per source channel."""

    channels: tuple[np.ndarray, ...]
    sample_rate: int
    source_sample_rate: int
    codec: str
    #: Seconds of audio in packets that failed to decode (replaced by silence, so the
    #: times after them stay true) or missing at the end of a file that stops before its
    #: header says (counted as one more bad packet), and how many packets that was.
    lost_s: float = 0.0
    bad_packets: int = 0
    #: Channels in the file; more than ``MAX_CHANNELS`` were mixed down to one.
    source_channels: int = 0

    @property
    def n_channels(self) -> int:
        return len(self.channels)

    @property
    def duration_s(self) -> float:
        return len(self.channels[0]) / self.sample_rate if self.channels else 0.0

    def mono(self) -> np.ndarray:
        """Average of all channels (what a mono engine hears), in the channels' dtype
        (float16 for a compacted long call; see ``COMPACT_AFTER_S``), mixed a block at a
        time: no float32 or stacked copy of the whole call."""
        if len(self.channels) == 1:
            return self.channels[0]
        return _mix(self.channels, self.channels[0].dtype)

    def notes(self) -> dict[str, float | int]:
        """What decoding had to do to the file (for the analysis parameters)."""
        out: dict[str, float | int] = {}
        if self.bad_packets:
            out["audio_lost_s"] = round(self.lost_s, 3)
            out["audio_bad_packets"] = self.bad_packets
        if self.source_channels > MAX_CHANNELS:
            out["audio_mixed_channels"] = self.source_channels
        return out


def _open(path: Path, label: str) -> av.container.InputContainer:
    if not path.is_file():
        raise DecodeError(f"{label}: the file does not exist")
    if path.stat().st_size == 0:
        raise DecodeError(f"{label}: the file is empty (0 bytes); re-export or re-upload it")
    try:
        return av.open(str(path))
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        with path.open("rb") as fh:
            head = fh.read(512)
        hint = ""
        if head and all(b in b"\t\n\r" or 32 <= b < 127 for b in head):
            hint = " it holds text, not audio;"
        raise DecodeError(
            f"{label}: not a readable audio file ({exc});{hint} expected WAV, MP3, FLAC,"
            " OGG/Opus or M4A"
        ) from exc


def _mix(channels: tuple[np.ndarray, ...], dtype: np.dtype[Any]) -> np.ndarray:
    n = min(len(c) for c in channels)
    out = np.empty(n, dtype=dtype)
    for lo in range(0, n, _BLOCK):
        hi = min(lo + _BLOCK, n)
        out[lo:hi] = np.mean([c[lo:hi].astype(np.float32) for c in channels], axis=0)
    return out


class _Buffer:
    """A (channels, samples) array filled in place as frames decode: one copy of the
    audio in memory, never a list of small frames plus their concatenation (freed small
    blocks stay in the heap, so that would double the peak). float16 from the start when
    the header says the audio is longer than ``compact_after`` samples (``compact``), else
    float32 until the audio itself grows past that length."""

    def __init__(self, n_channels: int, capacity: int, compact_after: int, compact: bool) -> None:
        self.compact_after = compact_after
        dtype = np.float16 if compact else np.float32
        self.data = np.empty((n_channels, max(capacity, 1)), dtype=dtype)
        self.n = 0

    def append(self, block: np.ndarray) -> None:
        k = block.shape[1]
        if self.n + k > self.data.shape[1]:
            size = max(self.n + k, int(self.data.shape[1] * 1.5))
            dtype = np.float16 if self.n + k > self.compact_after else self.data.dtype
            grown = np.empty((self.data.shape[0], size), dtype=dtype)
            grown[:, : self.n] = self.data[:, : self.n]
            self.data = grown
        rows = min(block.shape[0], self.data.shape[0])
        self.data[:rows, self.n : self.n + k] = block[:rows]
        self.n += k

    def result(self) -> np.ndarray:
        return self.data[:, : self.n]


def _stated_duration(container: av.container.InputContainer, stream: av.AudioStream) -> float:
    """Seconds the file's header says it holds (0 when it does not say)."""
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / 1_000_000
    return 0.0


def decode(
    path: Path | str,
    target_rate: int = TARGET_RATE,
    name: str | None = None,
    compact_after_s: float | None = None,
) -> DecodedAudio:
    """Decode ``path`` keeping channels apart, resampled to ``target_rate``; longer than
    ``compact_after_s`` (default ``COMPACT_AFTER_S``) the samples are held in float16.

    Packets that fail to decode are replaced by silence of their duration and counted
    (``lost_s``, ``bad_packets``); more than ``MAX_LOST_FRACTION`` lost fails the file.
    More than two channels are mixed down to mono. Raises DecodeError naming the file
    (``name``, default the file name) when it is empty, not audio, or mostly corrupt.
    """
    path = Path(path)
    label = name or path.name
    container = _open(path, label)
    with container:
        if not container.streams.audio:
            raise DecodeError(f"{label}: the file has no audio stream")
        stream = container.streams.audio[0]
        n_channels = stream.codec_context.channels or 1
        source_rate = stream.codec_context.sample_rate or 0
        codec = stream.codec_context.name
        resampler = av.AudioResampler(format="fltp", layout=stream.layout, rate=target_rate)
        expected_s = _stated_duration(container, stream)
        limit_s = COMPACT_AFTER_S if compact_after_s is None else compact_after_s
        buf = _Buffer(
            n_channels,
            int((expected_s or 60.0) * target_rate) + target_rate,
            int(limit_s * target_rate),
            compact=expected_s > limit_s,
        )
        good_s = lost_s = 0.0
        bad = 0
        good_packets = 0
        tb = float(stream.time_base or 0)
        try:
            for packet in container.demux(stream):
                if packet.size == 0:
                    continue
                dur = float(packet.duration or 0) * tb
                try:
                    frames = packet.decode()
                except (av.error.FFmpegError, ValueError) as exc:
                    if bad == 0:
                        log.warning("%s: corrupt audio packet at %.1f s (%s)", label, good_s, exc)
                    bad += 1
                    dur = dur or (good_s / good_packets if good_packets else 0.026)
                    lost_s += dur
                    buf.append(np.zeros((n_channels, round(dur * target_rate)), np.float32))
                    continue
                good_packets += 1
                good_s += dur
                for frame in frames:
                    frame.pts = None
                    for r in resampler.resample(frame):
                        buf.append(r.to_ndarray())
            for r in resampler.resample(None):
                buf.append(r.to_ndarray())
        except (av.error.FFmpegError, ValueError) as exc:
            if not buf.n:
                raise DecodeError(f"{label}: audio data is corrupt ({exc})") from exc
            log.warning("%s: audio ends early, the rest is unreadable (%s)", label, exc)
    if not buf.n or good_packets == 0:
        raise DecodeError(f"{label}: the audio stream decoded to no samples")
    data = buf.result()
    total_s = data.shape[1] / target_rate
    missing = expected_s - total_s
    cut = ""
    if missing > max(1.0, 0.02 * expected_s):  # the file stops before its header says
        log.warning("%s: audio ends %.1f s before its stated %.1f s", label, missing, expected_s)
        cut = f"; the file ends {missing:.1f} s before its stated {expected_s:.1f} s"
        lost_s += missing
        bad += 1
    if bad and lost_s > MAX_LOST_FRACTION * (total_s + max(missing, 0.0)):
        raise DecodeError(
            f"{label}: audio data is corrupt: {lost_s:.1f} s of"
            f" {total_s + max(missing, 0.0):.1f} s could not be decoded{cut}"
        )
    if data.shape[1] < target_rate // 10:
        raise DecodeError(
            f"{label}: only {data.shape[1] / target_rate:.3f} s of audio; too short to analyse"
        )
    channels = tuple(np.ascontiguousarray(data[i]) for i in range(min(n_channels, data.shape[0])))
    if len(channels) > MAX_CHANNELS:
        log.warning(
            "%s: %d channels; mixed down to mono (roles need one speaker per channel)",
            label,
            len(channels),
        )
        channels = (_mix(channels, channels[0].dtype),)
    if bad:
        log.warning("%s: %d corrupt packets, %.2f s replaced by silence", label, bad, lost_s)
    log.debug(
        "decoded %s: %s, %d ch, %d Hz -> %d Hz, %.1f s",
        path.name,
        codec,
        len(channels),
        source_rate,
        target_rate,
        total_s,
    )
    return DecodedAudio(
        channels,
        target_rate,
        source_rate,
        codec,
        lost_s=round(lost_s, 3),
        bad_packets=bad,
        source_channels=n_channels,
    )
