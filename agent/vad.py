"""Silero VAD for the phone line: the loudness gate looks at each VAD frame, not at a
smoothed 400 ms window, so speech onset (a barge-in) is confirmed as soon as Silero hears it.

pipecat's ``VADAnalyzer`` only calls a frame speech when Silero's confidence *and* the
loudness reach their thresholds. Its loudness is ITU-R BS.1770 over the last 400 ms,
exponentially smoothed (factor 0.2): after silence it takes 150-250 ms of speech to climb
over ``min_volume`` 0.6, however clearly Silero already hears a voice. On a call that delay
is most of the 300 ms barge-in budget. Here the same 0..1 scale (-110..-10 dB, pipecat's
normalisation) is measured on the 32 ms frame Silero just scored, as plain RMS: the gate
still rejects line hiss and silence (``min_volume`` 0.6 = -50 dBFS) but adds no delay.
"""

from __future__ import annotations

import numpy as np
from pipecat.audio.vad.silero import SileroVADAnalyzer
from pipecat.audio.vad.vad_analyzer import VADState


def frame_volume(audio: bytes) -> float:
    """RMS level of 16-bit PCM on pipecat's volume scale: (dBFS + 110) / 100, in 0..1."""
    x = np.frombuffer(audio, dtype=np.int16).astype(np.float64) / 32768.0
    if x.size == 0:
        return 0.0
    dbfs = 20.0 * np.log10(float(np.sqrt(np.mean(x * x))) + 1e-12)
    return float(np.clip((dbfs + 110.0) / 100.0, 0.0, 1.0))


class PhoneVADAnalyzer(SileroVADAnalyzer):
    """:class:`SileroVADAnalyzer` whose volume gate has no smoothing window, scored on the
    event loop.

    pipecat hands every 20 ms of audio to a worker thread and waits for it to come back. On
    a busy 2-core machine each of those two hand-offs waits for the scheduler, 50 times a
    second, and the VAD fell hundreds of milliseconds behind the line, so barge-ins were
    confirmed late. Silero on an 8 kHz frame costs under a millisecond, so it runs inline.
    """

    async def analyze_audio(self, buffer: bytes) -> VADState:
        return self._run_analyzer(buffer)

    def _get_smoothed_volume(self, audio: bytes) -> float:  # pipecat's per-frame hook
        return frame_volume(audio)
