"""Turns pipeline frames into the call's events (caller/agent speech, barge-ins, tokens)."""

from __future__ import annotations

import time
from typing import Any

from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    InterruptionFrame,
    MetricsFrame,
    TranscriptionFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.metrics.metrics import LLMUsageMetricsData
from pipecat.observers.base_observer import BaseObserver, FramePushed

from agent.recording import CallRecord


class CallEventsObserver(BaseObserver):
    """Records what happened when, in seconds from the start of the recording.

    Caller speech onset and end are corrected by the VAD's confirmation windows
    (``start_secs`` / ``stop_secs``), so a turn's latency runs from when the caller really
    stopped talking to the first agent audio sent on the stream.
    """

    def __init__(self, record: CallRecord, **kwargs: Any) -> None:
        super().__init__(observe_every_push=False, **kwargs)
        self.record = record
        self._last_caller_start: float | None = None
        self._barged_at: float | None = None

    def _at(self, wall: float) -> float:
        """A wall-clock timestamp (time.time) -> seconds on the record's clock."""
        return self.record.now() - (time.time() - wall)

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
                rec.add("caller_stop", t=self._at(frame.timestamp) - frame.stop_secs)
        elif isinstance(frame, BotStartedSpeakingFrame):
            if not rec.agent_speaking:
                rec.add("agent_start")
        elif isinstance(frame, BotStoppedSpeakingFrame):
            if rec.agent_speaking:
                rec.add("agent_stop")
        elif isinstance(frame, InterruptionFrame):
            onset = self._last_caller_start
            speaking = rec.caller_speaking and rec.agent_speaking
            if speaking and onset is not None and onset != self._barged_at:
                self._barged_at = onset
                rec.add("barge_in", caller_onset_s=round(onset, 3))
        elif isinstance(frame, TranscriptionFrame):
            rec.add("caller_text", text=frame.text.strip())
        elif isinstance(frame, MetricsFrame):
            for item in frame.data:
                if isinstance(item, LLMUsageMetricsData):
                    rec.llm_tokens += int(item.value.total_tokens or 0)
