"""The bad-input catalogue: each case writes one recording (and maybe a sidecar) into a
directory and says how it must end — processed, or failed at a stage with a message that
names the problem. Generated with numpy / PyAV from a committed sample call."""

from __future__ import annotations

import io
import json
import random
import shutil
import subprocess
import wave
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import av
import numpy as np

from analytics.audio import decode
from tests.audio_fixtures import hold_music, line_noise, ringback_and_dtmf
from tests.conftest import sample_audio

SPEECH_S = 8.0


@cache
def speech(rate: int = 8000) -> tuple[np.ndarray, np.ndarray]:
    """Agent and customer channels of the first seconds of a real sample call."""
    audio = decode(sample_audio("billing_resolved"), target_rate=rate)
    n = int(SPEECH_S * rate)
    return audio.channels[0][:n], audio.channels[1][:n]


def _pcm16(x: np.ndarray) -> np.ndarray:
    return (np.clip(x, -1, 1) * 32767).astype("<i2")


def write_wav(path: Path, channels: list[np.ndarray], rate: int) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(len(channels))
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.stack([_pcm16(c) for c in channels], axis=1).tobytes())


def write_av(path: Path, channels: list[np.ndarray], rate: int, codec: str, fmt: str) -> None:
    layout = {1: "mono", 2: "stereo"}[len(channels)]
    with av.open(str(path), "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=rate, layout=layout)
        data = np.stack([_pcm16(c) for c in channels], axis=1)
        step = 4608  # feed the encoder frame-sized pieces (one huge frame loses audio)
        for i in range(0, len(data), step):
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(data[i : i + step]).reshape(1, -1), format="s16", layout=layout
            )
            frame.sample_rate = rate
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


def _zero_byte(p: Path) -> None:
    p.write_bytes(b"")


def _truncated_header(p: Path) -> None:
    write_wav(p, [speech()[0]], 8000)
    p.write_bytes(p.read_bytes()[:30])


def _text_named_wav(p: Path) -> None:
    p.write_text("call notes: customer asked about the bill\n" * 20)


def _corrupt_mp3(p: Path) -> None:
    """25 s of speech as MP3 with the payload of 5 packets overwritten mid-file."""
    a, b = speech(16000)
    mono = np.tile((a + b) / 2, 4)[: 25 * 16000]
    write_av(p, [mono], 16000, "libmp3lame", "mp3")
    data = bytearray(p.read_bytes())
    with av.open(str(p)) as c:
        packets = [(pk.pos, pk.size) for pk in c.demux(c.streams.audio[0]) if pk.size]
    rnd = random.Random(5)
    mid = len(packets) // 2
    for pos, size in packets[mid : mid + 50 : 10]:
        for k in range(4, size):
            data[pos + k] = rnd.randrange(256)
    p.write_bytes(bytes(data))


def _truncated_mp3(p: Path) -> None:
    """An upload cut off after 60 % of its bytes (the header still says 25 s)."""
    _corrupt_mp3(p)
    data = p.read_bytes()
    p.write_bytes(data[: int(len(data) * 0.6)])


def _mulaw_8k(p: Path) -> None:
    a, b = speech()
    with av.open(str(p), "w", format="wav") as out:
        stream = out.add_stream("pcm_mulaw", rate=8000, layout="mono")
        frame = av.AudioFrame.from_ndarray(
            _pcm16((a + b) / 2)[None, :], format="s16", layout="mono"
        )
        frame.sample_rate = 8000
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)


def _flac_48k_stereo(p: Path) -> None:
    a, b = speech(48000)
    write_av(p, [a, b], 48000, "flac", "flac")


def _three_channels(p: Path) -> None:
    a, b = speech()
    write_wav(p, [a, b, np.zeros_like(a)], 8000)


def _silence(p: Path) -> None:
    write_wav(p, [line_noise(8.0)], 8000)


def _hold_music_and_dtmf(p: Path) -> None:
    write_wav(p, [np.concatenate([hold_music(4.0), ringback_and_dtmf(6.0)]) * 0.8], 8000)


def _speech_wav(p: Path) -> None:
    a, b = speech()
    write_wav(p, [a, b], 8000)


def espeak(text: str, voice: str, rate: int = 8000, gain: float = 0.8) -> np.ndarray:
    """espeak-ng (GPL; run as a separate program, never imported) -> float samples at
    ``rate``, scaled by ``gain``."""
    out = subprocess.run(
        ["espeak-ng", "-v", voice, "-s", "150", "--stdout", text],
        check=True,
        capture_output=True,
        timeout=60,
    ).stdout
    with wave.open(io.BytesIO(out)) as w:
        src = w.getframerate()
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32)
    t = np.arange(int(len(pcm) * rate / src)) / rate
    return (np.interp(t, np.arange(len(pcm)) / src, pcm / 32768.0) * gain).astype(np.float32)


#: A German call, agent (channel 0) and customer (channel 1) taking turns.
GERMAN_TURNS = [
    (0, "Guten Tag, hier ist der Kundendienst von Nordwind. Wie kann ich Ihnen helfen?"),
    (1, "Ich möchte meine Rechnung bezahlen, aber meine Karte funktioniert nicht."),
    (0, "Kein Problem. Ich schicke Ihnen einen neuen Zahlungslink per E-Mail."),
    (1, "Vielen Dank für Ihre Hilfe. Auf Wiederhören."),
]


def _german(p: Path) -> None:
    chans: list[list[np.ndarray]] = [[], []]
    for ch, text in GERMAN_TURNS:
        voiced = espeak(text, "de+m3" if ch == 0 else "de+f3")
        gap = np.zeros(int(0.6 * 8000), np.float32)
        chans[ch] += [voiced, gap]
        chans[1 - ch] += [np.zeros_like(voiced), gap]
    write_wav(p, [np.concatenate(c) for c in chans], 8000)


#: Seconds of ringing and IVR keypresses before the agent answers.
INTRO_S = 12.0


def _ivr_intro(p: Path) -> None:
    """Ringback (2 s on, 4 s off) and DTMF keypresses, then the call: a greeting that
    starts right after the last tone."""
    a, b = speech()
    write_wav(p, [np.concatenate([ringback_and_dtmf(INTRO_S), (a + b) / 2])], 8000)


def _link_out(p: Path) -> None:
    """A key inside the source that leads out of it: ``link_out.wav -> ../outside.wav``."""
    outside = p.parent.parent / "outside.wav"
    _speech_wav(outside)
    p.symlink_to(Path("..") / outside.name)


@dataclass(frozen=True)
class Case:
    """One bad input: how to write it and how it must end."""

    id: str
    filename: str
    write: Callable[[Path], None]
    #: Sidecar JSON text written beside the recording (None: no sidecar).
    sidecar: str | None = None
    #: None: processed. Else (stage, regex the reason must match).
    fails: tuple[str, str] | None = None
    #: Fast check at decode level (no model needed) for audio cases.
    decode_only: bool = True
    #: False: the source must not list it at all (a key that leads out of the source).
    listed: bool = True
    #: A program the case is written with; without it the case is not run.
    needs: str | None = None

    def runnable(self) -> bool:
        return self.needs is None or shutil.which(self.needs) is not None

    def make(self, folder: Path) -> Path:
        path = folder / self.filename
        self.write(path)
        if self.sidecar is not None:
            path.with_suffix(".json").write_text(self.sidecar, encoding="utf-8")
        return path


ROLES = json.dumps({"channel_roles": ["agent", "customer"]})

AUDIO_CASES = [
    Case("zero-byte", "zero_byte.wav", _zero_byte, fails=("decode", r"empty \(0 bytes\)")),
    Case("truncated-header", "truncated.wav", _truncated_header, fails=("decode", r"readable")),
    Case("text-as-wav", "notes.wav", _text_named_wav, fails=("decode", r"holds text")),
    Case("corrupt-mp3", "corrupt_frames.mp3", _corrupt_mp3),
    Case("truncated-mp3", "cut_off.mp3", _truncated_mp3),
    Case("mulaw-8k", "mulaw_8k.wav", _mulaw_8k),
    Case("flac-48k-stereo", "stereo_48k.flac", _flac_48k_stereo, sidecar=ROLES),
    Case("three-channels", "three_channels.wav", _three_channels),
    Case("silence", "silence.wav", _silence),
    Case("hold-music-dtmf", "hold_music.wav", _hold_music_and_dtmf),
    Case("ivr-intro", "ivr_intro.wav", _ivr_intro),
    Case("german", "deutsch.wav", _german, sidecar=ROLES, needs="espeak-ng"),
]

SIDECAR_CASES = [
    Case(
        "sidecar-malformed",
        "sc_malformed.wav",
        _speech_wav,
        sidecar='{"call_id": "x",',
        fails=("metadata", r"not valid JSON"),
    ),
    Case(
        "sidecar-list",
        "sc_list.wav",
        _speech_wav,
        sidecar='["agent", "customer"]',
        fails=("metadata", r"must hold a JSON object"),
    ),
    Case(
        "sidecar-unknown-role",
        "sc_role.wav",
        _speech_wav,
        sidecar=json.dumps({"channel_roles": ["agent", "caller"]}),
        fails=("metadata", r"channel_roles .* must be a list of"),
    ),
    Case(
        "sidecar-agent-agent",
        "sc_agents.wav",
        _speech_wav,
        sidecar=json.dumps({"channel_roles": ["agent", "agent"]}),
        fails=("metadata", r"one role to two channels"),
    ),
    Case(
        "sidecar-bad-date",
        "sc_date.wav",
        _speech_wav,
        sidecar=json.dumps({"started_at": "last Tuesday"}),
        fails=("metadata", r"started_at 'last Tuesday' is not an ISO-8601"),
    ),
    Case("key-with-spaces", "call with spaces.wav", _speech_wav, sidecar=ROLES),
    Case("key-unicode", "appel-été-☎.wav", _speech_wav, sidecar=ROLES),
]

#: Keys that would lead out of a local source (S3 downloads keep only the key's file name).
ESCAPE_CASES = [Case("key-dot-dot", "link_out.wav", _link_out, listed=False)]

CASES = AUDIO_CASES + SIDECAR_CASES + ESCAPE_CASES

#: One line per case for the README's reliability table.
DESCRIPTIONS = {
    "zero-byte": "zero-byte `.wav`",
    "truncated-header": "WAV cut off inside its header (30 bytes)",
    "text-as-wav": "a text file named `.wav`",
    "corrupt-mp3": "25 s MP3 with 5 packets overwritten mid-file",
    "truncated-mp3": "MP3 upload cut off after 60 % of its bytes",
    "mulaw-8k": "8 kHz G.711 μ-law WAV",
    "flac-48k-stereo": "48 kHz stereo FLAC",
    "three-channels": "3-channel WAV",
    "silence": "line noise only (no speech)",
    "hold-music-dtmf": "hold music, ringback and DTMF only",
    "ivr-intro": "12 s of ringback and IVR keypresses, then the call",
    "german": "a call in German (espeak-ng voices), default English-only model",
    "sidecar-malformed": "sidecar that is not valid JSON",
    "sidecar-list": "sidecar that is a JSON list",
    "sidecar-unknown-role": 'sidecar `channel_roles` with an unknown role ("caller")',
    "sidecar-agent-agent": 'sidecar `channel_roles` `["agent", "agent"]`',
    "sidecar-bad-date": 'sidecar `started_at` "last Tuesday"',
    "key-with-spaces": "object key with spaces",
    "key-unicode": "object key with accents and an emoji",
    "key-dot-dot": "a key inside the source leading out of it (`link_out.wav -> ../outside.wav`)",
}
