"""The stereo recorder places the agent's audio on the line's clock."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import numpy as np
from pipecat.frames.frames import InputAudioRawFrame, OutputAudioRawFrame

from agent.recorder import CallRecorder


def _frame(cls: type, ms: int, value: int) -> object:
    return cls(audio=np.full(8 * ms, value, np.int16).tobytes(), sample_rate=8000, num_channels=1)


def test_agent_audio_goes_where_the_line_is_not_where_the_pipeline_has_got_to() -> None:
    line = SimpleNamespace(received_s=1.0)  # the socket has delivered 1 s of the caller
    rec = CallRecorder(sample_rate=8000, line=line)  # type: ignore[arg-type]

    async def run() -> None:
        await rec._add_caller(_frame(InputAudioRawFrame, 600, 100))  # the tap is at 0.6 s
        await rec._add_agent(_frame(OutputAudioRawFrame, 20, 2000))
        await rec._add_caller(_frame(InputAudioRawFrame, 400, 100))

    asyncio.run(run())
    stereo = np.frombuffer(rec.stereo_pcm(), np.int16).reshape(-1, 2)
    agent = np.flatnonzero(stereo[:, 1])
    assert agent[0] == 8000 and len(agent) == 160  # at 1.0 s, not at the tap's 0.6 s


def test_without_a_line_clock_the_caller_track_is_the_clock() -> None:
    rec = CallRecorder(sample_rate=8000)

    async def run() -> None:
        await rec._add_caller(_frame(InputAudioRawFrame, 600, 100))
        await rec._add_agent(_frame(OutputAudioRawFrame, 20, 2000))

    asyncio.run(run())
    stereo = np.frombuffer(rec.stereo_pcm(), np.int16).reshape(-1, 2)
    assert np.flatnonzero(stereo[:, 1])[0] == 4800
