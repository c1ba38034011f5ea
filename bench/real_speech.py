"""Real human speech with word transcripts, and a telephone-band degrader, for WER benches.

Source: the pocketsphinx source distribution (PyPI, ``pocketsphinx==5.1.1``, BSD-2-Clause)
ships recordings of real people with reference transcripts in ``test/data``:

- ``librivox/*``: five utterances of a LibriVox reading of *Sense and Sensibility*
  (public domain), 16 kHz, read speech, one female reader; ``librivox/transcription``.
- ``cards/*``: five utterances of a man naming playing cards ("four queen of clubs"),
  16 kHz, spontaneous-ish short commands; ``cards/cards.transcription``.
- ``goforward.raw``: "go forward ten meters" (16 kHz 16-bit raw; the reference is the
  string the package's own decoder tests assert).

About 40 s in all: small, but real voices the project never tuned on. ``fetch`` downloads
the sdist once with pip into the cache directory (nothing is committed); ``calls`` strings
the utterances into call-like recordings (a short lead-in, the utterances with 1-3 s pauses)
so that voice activity detection and the start-of-call behaviour are exercised too.

``telephone`` degrades any 16 kHz clip the way a phone line does: 300-3400 Hz band-pass,
8 kHz, G.711 μ-law, seeded background noise at a given SNR, back to 16 kHz.
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.signal import butter, resample_poly, sosfilt

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analytics.audio import decode

PACKAGE = "pocketsphinx==5.1.1"
SDIST = "pocketsphinx-5.1.1"
RATE = 16_000


@dataclass(frozen=True)
class Utterance:
    """One real recording with its reference words."""

    id: str
    speaker: str
    audio: np.ndarray
    text: str

    @property
    def duration_s(self) -> float:
        return len(self.audio) / RATE


@dataclass(frozen=True)
class Call:
    """Utterances strung together: ``audio`` plus where each reference utterance starts."""

    id: str
    audio: np.ndarray
    text: str
    first_text: str
    first_start_s: float


def fetch(cache: Path = Path("data/cache/real-speech")) -> Path:
    """Download the pocketsphinx sdist once and extract its test data; returns its root."""
    root = cache / SDIST
    if (root / "test" / "data" / "librivox" / "transcription").exists():
        return root
    cache.mkdir(parents=True, exist_ok=True)
    archive = cache / f"{SDIST}.tar.gz"
    if not archive.exists():
        subprocess.run(
            [
                *(sys.executable, "-m", "pip", "download", "--no-deps"),
                *("--no-binary", "pocketsphinx", "-d", str(cache), PACKAGE),
            ],
            check=True,
            capture_output=True,
        )
    with tarfile.open(archive) as tar:
        members = [
            m
            for m in tar.getmembers()
            if m.name.startswith(f"{SDIST}/test/data/") or m.name == f"{SDIST}/LICENSE"
        ]
        tar.extractall(cache, members=members, filter="data")
    return root


def _sphinx_transcripts(path: Path) -> dict[str, str]:
    """``<s> words </s> (id)`` lines -> id: words."""
    out = {}
    for line in path.read_text().splitlines():
        if "(" not in line:
            continue
        words, _, rest = line.rpartition("(")
        text = words.replace("<s>", "").replace("</s>", "").split()
        out[rest.rstrip(") ").strip()] = " ".join(text)
    return out


def utterances(root: Path) -> list[Utterance]:
    """Every utterance of the set, in a fixed order."""
    data = root / "test" / "data"
    out = []
    lib = _sphinx_transcripts(data / "librivox" / "transcription")
    for uid, text in sorted(lib.items()):
        audio = decode(data / "librivox" / f"{uid}.wav").mono()
        out.append(Utterance(f"librivox-{uid[-4:]}", "librivox-reader", audio, text))
    cards = _sphinx_transcripts(data / "cards" / "cards.transcription")
    for uid, text in sorted(cards.items()):
        audio = decode(data / "cards" / f"{uid}.wav").mono()
        out.append(Utterance(f"cards-{uid}", "cards-speaker", audio, text))
    raw = np.fromfile(data / "goforward.raw", dtype="<i2").astype(np.float32) / 32768.0
    out.append(Utterance("goforward", "goforward-speaker", raw, "go forward ten meters"))
    return out


def calls(utts: list[Utterance], seed: int = 0) -> list[Call]:
    """Call-like recordings: a 0.3-1.0 s lead-in of line noise, then the utterances of one
    speaker group with 1-3 s pauses (the first utterance is the "greeting")."""
    rng = np.random.default_rng(seed)
    groups: dict[str, list[Utterance]] = {}
    for u in utts:
        groups.setdefault(u.speaker.split("-")[0], []).append(u)
    out = []
    for name, group in groups.items():
        if len(group) < 2:
            continue
        lead = float(rng.uniform(0.3, 1.0))
        parts = [_noise(rng, lead, -60.0)]
        for i, u in enumerate(group):
            if i:
                parts.append(_noise(rng, float(rng.uniform(1.0, 3.0)), -60.0))
            parts.append(u.audio)
        audio = np.concatenate(parts).astype(np.float32)
        text = " ".join(u.text for u in group)
        out.append(Call(f"call-{name}", audio, text, group[0].text, lead))
    return out


def _noise(rng: np.random.Generator, seconds: float, dbfs: float) -> np.ndarray:
    return (rng.standard_normal(int(seconds * RATE)) * 10 ** (dbfs / 20)).astype(np.float32)


def mu_law(x: np.ndarray, mu: int = 255) -> np.ndarray:
    """G.711 μ-law round trip: compand, quantize to 8 bits, expand."""
    x = np.clip(x, -1.0, 1.0)
    y = np.sign(x) * np.log1p(mu * np.abs(x)) / np.log1p(mu)
    q = np.round((y + 1) / 2 * 255) / 255 * 2 - 1
    return (np.sign(q) * ((1 + mu) ** np.abs(q) - 1) / mu).astype(np.float32)


def telephone(audio: np.ndarray, snr_db: float = 15.0, seed: int = 0) -> np.ndarray:
    """16 kHz clip -> what a phone line delivers, back at 16 kHz (see module docstring)."""
    rng = np.random.default_rng(seed)
    sos = butter(4, [300, 3400], btype="bandpass", fs=RATE, output="sos")
    band = sosfilt(sos, audio).astype(np.float32)
    active = band[np.abs(band) > 0.1 * np.max(np.abs(band))] if np.any(band) else band
    power = float(np.mean(active**2)) if active.size else 0.0
    noise = sosfilt(sos, rng.standard_normal(len(band))).astype(np.float32)
    noise *= np.sqrt(power / (10 ** (snr_db / 10)) / max(float(np.mean(noise**2)), 1e-12))
    narrow = resample_poly(band + noise, 1, 2).astype(np.float32)
    peak = float(np.max(np.abs(narrow))) or 1.0
    coded = mu_law(narrow / peak * 0.7) * peak / 0.7
    return resample_poly(coded, 2, 1).astype(np.float32)[: len(audio)]
