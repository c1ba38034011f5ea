"""Turns pipeline frames into the call's events (caller/agent speech, barge-ins, tokens) and
marks when each stage of a reply happened (the latency breakdown in the sidecar's turns)."""

from __future__ import annotations

import logging
import time
from typing import Any

from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    InterruptionFrame,
    LLMContextFrame,
    LLMTextFrame,
    MetricsFrame,
    TranscriptionFrame,
    TTSAudioRawFrame,
    TTSSpeakFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.metrics.metrics import LLMUsageMetricsData
from pipecat.observers.base_observer import BaseObserver, FramePushed

from agent.recording import CallRecord

log = logging.getLogger(__name__)


class CallEventsObserver(BaseObserver):
    """Records what happened when, in seconds from the start of the recording.

    Caller speech onset and end are corrected by the VAD's confirmation windows
    (``start_secs`` / ``stop_secs``), so a turn's latency runs from when the caller really
    stopped talking to the first agent audio sent on the stream. Observers run behind the
    pipeline (on their own queue), so every time is taken from when the frame was pushed,
    not from when the observer got to it.
    """

    def __init__(self, record: CallRecord, **kwargs: Any) -> None:
        super().__init__(observe_every_push=False, **kwargs)
        self.record = record
        self._last_caller_start: float | None = None
        self._barged_at: float | None = None
        self._replying = False  # a user turn ended and its reply has not been heard yet
        self._awaited: set[str] = set()  # reply stages not marked yet (one mark per turn)

    def _at(self, wall: float) -> float:
        """A wall-clock timestamp (time.time) -> seconds on the record's clock."""
        return self.record.now() - (time.time() - wall)

    def _pushed_at(self, data: FramePushed) -> float:
        """When the frame was pushed, on the record's clock (the pipeline clock's lag)."""
        try:
            lag_ns = data.source.get_clock().get_time() - data.timestamp
        except Exception:  # a processor without a clock (not set up): now is close enough
            lag_ns = 0
        return self.record.now() - max(0, lag_ns) / 1e9

    async def on_push_frame(self, data: FramePushed) -> None:
        frame = data.frame
        rec = self.record
        if isinstance(frame, VADUserStartedSpeakingFrame):
            if not rec.caller_speaking:
                onset = self._at(frame.timestamp) - frame.start_secs
                self._last_caller_start = onset
                rec.add("caller_start", t=onset)
        elif isinstance(frame, VADUserStoppedSpeakingFrame):
            if rec.caller_speaking:
                detected = self._at(frame.timestamp)
                rec.add("caller_stop", t=detected - frame.stop_secs)
                rec.mark("vad", detected)
        elif isinstance(frame, BotStartedSpeakingFrame):
            if not rec.agent_speaking:
                rec.add("agent_start", t=self._pushed_at(data))
                if self._replying:
                    self._replying = False
                    self._log_turn()
        elif isinstance(frame, BotStoppedSpeakingFrame):
            if rec.agent_speaking:
                rec.add("agent_stop", t=self._pushed_at(data))
        elif isinstance(frame, InterruptionFrame):
            onset = self._last_caller_start
            speaking = rec.caller_speaking and rec.agent_speaking
            if speaking and onset is not None and onset != self._barged_at:
                self._barged_at = onset
                rec.add("barge_in", caller_onset_s=round(onset, 3))
        elif isinstance(frame, TranscriptionFrame):
            rec.add("caller_text", t=self._pushed_at(data), text=frame.text.strip())
            rec.mark("stt", self._pushed_at(data))
        elif isinstance(frame, LLMContextFrame):
            self._replying = True
            self._awaited = {"brain", "tts"}
            rec.mark("turn", self._pushed_at(data))
        elif isinstance(frame, LLMTextFrame | TTSSpeakFrame):
            if "brain" in self._awaited:
                self._awaited.discard("brain")
                rec.mark("brain", self._pushed_at(data))
        elif isinstance(frame, TTSAudioRawFrame):
            if self._awaited == {"tts"}:
                self._awaited.clear()
                rec.mark("tts", self._pushed_at(data))
        elif isinstance(frame, MetricsFrame):
            for item in frame.data:
                if isinstance(item, LLMUsageMetricsData):
                    rec.llm_tokens += int(item.value.total_tokens or 0)

    def _log_turn(self) -> None:
        turns = self.record.turns()
        if turns:
            last = turns[-1]
            log.info(
                "call %s turn %d: %d ms %s",
                self.record.call_id,
                last["turn"],
                last["latency_ms"],
                last["stages_ms"],
            )
