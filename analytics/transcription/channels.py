"""Run a per-channel local model over a whole call: stereo channels apart, mono as one."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from analytics.align import SpeakerStream
from analytics.audio import DecodedAudio
from analytics.models import CallMetadata
from analytics.transcription.base import ChannelTranscript, EngineTranscript, Media, Transcriber

log = logging.getLogger(__name__)

UNKNOWN_SPEAKER = "unknown"


#: Long channels are compared a block of this many samples at a time (bounded memory).
_BLOCK = 1 << 22


def is_fake_stereo(audio: DecodedAudio, threshold: float = 0.98) -> bool:
    """True when every channel carries the same signal (a mono mix saved as stereo).
    Compared in blocks with float64 sums: no whole-call difference or float64 copy."""
    if audio.n_channels < 2:
        return False
    a, b = audio.channels[0], audio.channels[1]
    n = min(len(a), len(b))
    diff = 0.0
    sums = np.zeros(5)  # a, b, a*a, b*b, a*b
    for lo in range(0, n, _BLOCK):
        x = a[lo : lo + _BLOCK].astype(np.float64)
        y = b[lo : lo + _BLOCK].astype(np.float64)
        diff = max(diff, float(np.abs(x - y).max(initial=0.0)))
        sums += (x.sum(), y.sum(), np.dot(x, x), np.dot(y, y), np.dot(x, y))
    if diff < 1e-4:
        return True
    if n == 0:
        return False
    ma, mb = sums[0] / n, sums[1] / n
    va, vb = sums[2] / n - ma * ma, sums[3] / n - mb * mb
    if va < 1e-12 or vb < 1e-12:  # a channel with no signal (std < 1e-6)
        return False
    return float((sums[4] / n - ma * mb) / np.sqrt(va * vb)) > threshold


@dataclass
class ChannelCallTranscriber:
    """Adapts a per-channel ``Transcriber`` to the whole-call protocol."""

    transcriber: Transcriber
    #: Transcribe stereo channels concurrently (the model must allow parallel calls).
    parallel_channels: bool = False
    #: Channels correlated above this are one signal copied twice: treated as mono.
    duplicate_channel_corr: float = 0.98
    wants_url: bool = False

    @property
    def engine(self) -> str:
        return self.transcriber.engine

    @property
    def model_name(self) -> str:
        return self.transcriber.model_name

    def params(self) -> dict[str, Any]:
        return self.transcriber.params()

    def lineage(self) -> dict[str, Any]:
        fn = getattr(self.transcriber, "lineage", None)
        return dict(fn()) if callable(fn) else {}

    def transcribe_call(
        self, audio: DecodedAudio, metadata: CallMetadata, media: Media
    ) -> EngineTranscript:
        roles = metadata.channel_roles
        transcripts: list[ChannelTranscript]
        if audio.n_channels >= 2 and not is_fake_stereo(audio, self.duplicate_channel_corr):
            if self.parallel_channels:
                with ThreadPoolExecutor(max_workers=audio.n_channels) as pool:
                    transcripts = list(pool.map(self.transcriber.transcribe, audio.channels))
            else:
                transcripts = [self.transcriber.transcribe(ch) for ch in audio.channels]
            if roles is not None and len(roles) != audio.n_channels:
                log.warning(
                    "call %s: channel_roles %s does not match %d channels; roles left unknown",
                    metadata.call_id,
                    list(roles),
                    audio.n_channels,
                )
                roles = None
            streams = tuple(
                SpeakerStream(f"ch{i}", roles[i] if roles else None, t.words, channel=i)
                for i, t in enumerate(transcripts)
            )
            diarization = "channels"
        else:
            transcripts = [self.transcriber.transcribe(audio.mono())]
            streams = (SpeakerStream(UNKNOWN_SPEAKER, None, transcripts[0].words),)
            diarization = "none"
        # The channel with the most words decides the call's language.
        main = max(transcripts, key=lambda t: len(t.words))
        return EngineTranscript(
            streams=streams,
            language=main.language,
            language_prob=main.language_prob,
            diarization=diarization,
            billed_s=0.0,
        )
