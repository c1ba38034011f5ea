"""A sample-accurate stereo recorder on the Media Streams clock: caller ch0, agent ch1.

pipecat's AudioBufferProcessor aligns its two tracks by wall-clock arrival at one point
after ``transport.output()`` and pads each track to the other's length. With a telephone
stream both tracks are continuous, and that padding drifts: in our loopback calls on a busy
2-core machine the caller's track slid up to a second late against the agent's, so a
barge-in looked like a polite turn in the recording. This recorder uses the caller's
inbound stream itself as the clock (Twilio sends a frame every 20 ms, silence included):

- a tap right after ``transport.input()`` appends every caller frame to channel 0;
- a tap right after ``transport.output()`` places each agent frame on channel 1 at the
  line position current when it was sent (never before the end of the agent audio
  already placed, so one utterance stays contiguous). The line position is what the
  WebSocket has delivered (:class:`LineClockSerializer` counts it as it decodes), not what
  has reached the caller tap: on a loaded machine the pipeline's queues held the caller's
  audio back by up to a second, which placed the agent's audio that much too early and
  put barge-ins into the agent's silence.

That is the server's view of the call, the same one a carrier's dual-channel recording has.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pipecat.audio.utils import create_stream_resampler
from pipecat.frames.frames import Frame, InputAudioRawFrame, OutputAudioRawFrame
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.serializers.twilio import TwilioFrameSerializer


class LineClockSerializer(TwilioFrameSerializer):
    """Twilio's serializer, counting the caller's samples as they come off the socket."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.received_s = 0.0

    async def deserialize(self, data: str | bytes) -> Frame | None:
        frame = await super().deserialize(data)
        if isinstance(frame, InputAudioRawFrame) and frame.sample_rate:
            self.received_s += len(frame.audio) / 2 / frame.num_channels / frame.sample_rate
        return frame


class CallRecorder:
    """Holds both tracks; :meth:`caller_tap` and :meth:`agent_tap` go into the pipeline."""

    def __init__(self, sample_rate: int = 8000, line: LineClockSerializer | None = None) -> None:
        self.sample_rate = sample_rate
        self._line = line
        self.recording = False
        self._caller = bytearray()
        self._agent = bytearray()
        self._in_resampler = create_stream_resampler()
        self._out_resampler = create_stream_resampler()

    def start(self) -> None:
        self.recording = True

    def stop(self) -> None:
        self.recording = False

    def caller_tap(self) -> FrameProcessor:
        return _Tap(self, InputAudioRawFrame, self._add_caller)

    def agent_tap(self) -> FrameProcessor:
        return _Tap(self, OutputAudioRawFrame, self._add_agent)

    async def _resampled(self, frame: Any, resampler: Any) -> bytes:
        audio: bytes = frame.audio
        if frame.num_channels > 1:
            mono = np.frombuffer(audio, dtype=np.int16).reshape(-1, frame.num_channels)[:, 0]
            audio = mono.tobytes()
        if frame.sample_rate != self.sample_rate:
            audio = await resampler.resample(audio, frame.sample_rate, self.sample_rate)
        return audio

    async def _add_caller(self, frame: Any) -> None:
        self._caller.extend(await self._resampled(frame, self._in_resampler))

    async def _add_agent(self, frame: Any) -> None:
        audio = await self._resampled(frame, self._out_resampler)
        now = len(self._caller)
        if self._line is not None:
            now = max(now, round(self._line.received_s * self.sample_rate) * 2)
        if len(self._agent) < now:
            self._agent.extend(b"\x00" * (now - len(self._agent)))
        self._agent.extend(audio)

    def stereo_pcm(self) -> bytes:
        """Interleaved 16-bit stereo, both tracks padded to the same length."""
        n = max(len(self._caller), len(self._agent)) // 2
        out = np.zeros((n, 2), dtype=np.int16)
        caller = np.frombuffer(bytes(self._caller[: len(self._caller) // 2 * 2]), np.int16)
        agent = np.frombuffer(bytes(self._agent[: len(self._agent) // 2 * 2]), np.int16)
        out[: len(caller), 0] = caller
        out[: len(agent), 1] = agent
        return out.tobytes()


class _Tap(FrameProcessor):
    def __init__(self, recorder: CallRecorder, kind: type, add: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._recorder = recorder
        self._kind = kind
        self._add = add

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if (
            self._recorder.recording
            and isinstance(frame, self._kind)
            and direction == FrameDirection.DOWNSTREAM
        ):
            await self._add(frame)
        await self.push_frame(frame, direction)
