"""Diarizers that keep the transcript's own speakers: one per stereo channel (exact), or
the engine's speaker labels (e.g. AssemblyAI)."""

from __future__ import annotations

import logging
from typing import Any

from analytics.align import SpeakerStream
from analytics.audio import DecodedAudio
from analytics.diarization.attribution import (
    merge_turns,
    overlap_regions,
    snap_turns,
    turns_from_words,
)
from analytics.diarization.base import DiarizationResult, SpeakerTurn
from analytics.diarization.embeddings import speech_regions
from analytics.diarization.leakage import LeakageGate, frame_levels, own_regions, own_words
from analytics.models import CallMetadata
from analytics.transcription.base import EngineTranscript

log = logging.getLogger(__name__)

DEFAULT_GATE = LeakageGate()


def _passthrough(method: str, transcript: EngineTranscript, gap_s: float) -> DiarizationResult:
    """The transcript's streams as they are; turns from each stream's word times."""
    turns = [t for s in transcript.streams for t in turns_from_words(s.words, s.speaker, gap_s)]
    turns.sort(key=lambda t: (t.start, t.end))
    return DiarizationResult(
        method=method,
        turns=tuple(turns),
        streams=transcript.streams,
        overlaps=tuple(overlap_regions(turns)),
        params={"diarizer": method},
    )


class ChannelDiarizer:
    """Stereo: one speaker per channel, as transcribed. Turns are each channel's speech
    (Silero VAD on that channel, pauses up to ``fill_gap_s`` joined, edges snapped to the
    channel's words); words stay with their channel, so attribution is exact and both
    voices keep their turns where they talk at once.

    Two-channel calls are gated for leakage (echo, sidetone, crosstalk; see
    :mod:`analytics.diarization.leakage`): words and speech a channel only hears from the
    other side are dropped from it, so nothing is attributed twice; ``gate=None`` turns
    this off."""

    name = "channels"

    def __init__(self, fill_gap_s: float = 0.5, gate: LeakageGate | None = DEFAULT_GATE) -> None:
        self.fill_gap_s = fill_gap_s
        self.gate = gate

    def params(self) -> dict[str, Any]:
        gate = self.gate.threshold_db if self.gate else None
        return {"diarizer": self.name, "fill_gap_s": self.fill_gap_s, "leak_threshold_db": gate}

    def diarize(
        self, audio: DecodedAudio, transcript: EngineTranscript, metadata: CallMetadata
    ) -> DiarizationResult:
        if transcript.diarization != "channels":
            log.warning(
                "call %s: the channels diarizer needs a stereo call with a speaker per "
                "channel; got %s: speakers left as transcribed",
                metadata.call_id,
                transcript.diarization,
            )
            return _passthrough(transcript.diarization, transcript, self.fill_gap_s)
        turns: list[SpeakerTurn] = []
        levels = frame_levels(audio.channels) if self.gate and audio.n_channels == 2 else None
        streams: list[SpeakerStream] = []
        dropped = 0
        for stream in transcript.streams:
            if levels is not None and self.gate and stream.channel in (0, 1):
                kept, leaked = own_words(stream.words, levels, stream.channel, self.gate)
                dropped += len(leaked)
                stream = SpeakerStream(stream.speaker, stream.role, tuple(kept), stream.channel)
            streams.append(stream)
            if stream.channel is None or stream.channel >= audio.n_channels:
                turns.extend(turns_from_words(stream.words, stream.speaker, self.fill_gap_s))
                continue
            regions = speech_regions(audio.channels[stream.channel])
            if levels is not None and self.gate:
                regions = own_regions(regions, levels, stream.channel, self.gate)
            own = merge_turns(
                [SpeakerTurn(stream.speaker, a, b) for a, b in regions], self.fill_gap_s
            )
            words = list(stream.words)
            if words and own:
                own = snap_turns(own, words, [stream.speaker] * len(words))
            turns.extend(own or turns_from_words(words, stream.speaker, self.fill_gap_s))
        turns.sort(key=lambda t: (t.start, t.end))
        if dropped:
            log.info("call %s: %d leaked word(s) dropped", metadata.call_id, dropped)
        return DiarizationResult(
            method=self.name,
            turns=tuple(turns),
            streams=tuple(streams),
            overlaps=tuple(overlap_regions(turns)),
            params=self.params(),
        )


class EngineDiarizer:
    """The engine's own speaker labels (e.g. AssemblyAI ``speaker_labels``), passed
    through; turns from word times."""

    name = "engine"

    def __init__(self, gap_s: float = 0.5) -> None:
        self.gap_s = gap_s

    def params(self) -> dict[str, Any]:
        return {"diarizer": self.name}

    def diarize(
        self, audio: DecodedAudio, transcript: EngineTranscript, metadata: CallMetadata
    ) -> DiarizationResult:
        if transcript.diarization != "engine":
            log.warning(
                "call %s: the engine diarizer needs an engine with speaker labels; "
                "got %s: speakers left as transcribed",
                metadata.call_id,
                transcript.diarization,
            )
            return _passthrough(transcript.diarization, transcript, self.gap_s)
        return _passthrough(self.name, transcript, self.gap_s)
