"""Telephone degradation chain: 8 kHz, band-pass 300-3400 Hz, G.711 mu-law, background
noise at a chosen SNR, clipping, packet-loss gaps; for stereo, each side leaking into the
other (echo / sidetone) at a chosen level.

Every function is deterministic given its ``rng``; inputs and outputs are float32 in
[-1, 1].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MU = 255.0


@dataclass(frozen=True)
class TelephoneOptions:
    """One draw of the degradation chain (see :func:`draw_options`)."""

    #: Background noise level relative to the speech (dB).
    snr_db: float = 15.0
    #: Gain before the hard clip at +-1 (dB; 0 leaves peaks below 1 untouched).
    clip_gain_db: float = 0.0
    #: Share of 20 ms packets lost (replaced by silence).
    packet_loss: float = 0.01
    #: Band edges (Hz).
    low_hz: float = 300.0
    high_hz: float = 3400.0


def draw_options(rng: np.random.Generator) -> TelephoneOptions:
    """Random chain settings in the ranges of real calls: SNR 5-20 dB, clipping on a
    third of calls, 0-3 % packet loss."""
    return TelephoneOptions(
        snr_db=float(rng.uniform(5.0, 20.0)),
        clip_gain_db=float(rng.uniform(6.0, 12.0)) if rng.random() < 1 / 3 else 0.0,
        packet_loss=float(rng.uniform(0.0, 0.03)),
    )


def resample(x: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Polyphase resampling (anti-aliased)."""
    from math import gcd

    from scipy.signal import resample_poly

    if rate_in == rate_out:
        return x.astype(np.float32, copy=False)
    g = gcd(rate_in, rate_out)
    return resample_poly(x, rate_out // g, rate_in // g).astype(np.float32)


def band_pass(x: np.ndarray, rate: int, low_hz: float, high_hz: float) -> np.ndarray:
    """4th-order Butterworth band-pass (telephone band)."""
    from scipy.signal import butter, sosfilt

    high = min(high_hz, 0.45 * rate)
    sos = butter(4, [low_hz, high], btype="bandpass", fs=rate, output="sos")
    return sosfilt(sos, x).astype(np.float32)


def mu_law(x: np.ndarray) -> np.ndarray:
    """G.711 mu-law encode to 8 bits and decode again (the codec's quantisation)."""
    x = np.clip(x, -1.0, 1.0)
    y = np.sign(x) * np.log1p(MU * np.abs(x)) / np.log1p(MU)
    q = np.round((y + 1.0) / 2.0 * 255.0) / 255.0 * 2.0 - 1.0
    return (np.sign(q) * np.expm1(np.abs(q) * np.log1p(MU)) / MU).astype(np.float32)


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if x.size else 0.0


def add_noise(
    x: np.ndarray, snr_db: float, rng: np.random.Generator, speech: np.ndarray | None = None
) -> np.ndarray:
    """Add pink-ish background noise ``snr_db`` below the speech level (RMS over the
    ``speech`` mask, else over the whole signal)."""
    level = rms(x[speech]) if speech is not None and speech.any() else rms(x)
    white = rng.standard_normal(len(x))
    # one-pole low-pass tilts white noise towards the spectrum of room / line noise
    from scipy.signal import lfilter

    noise = lfilter([1.0], [1.0, -0.9], white)
    noise *= level / max(rms(noise), 1e-12) * 10 ** (-snr_db / 20)
    return (x + noise).astype(np.float32)


def clip(x: np.ndarray, gain_db: float) -> np.ndarray:
    """Amplify by ``gain_db`` and hard-clip at +-1 (an overdriven line)."""
    if gain_db <= 0:
        return x
    return np.clip(x * 10 ** (gain_db / 20), -1.0, 1.0).astype(np.float32)


def packet_loss(
    x: np.ndarray, rate: int, share: float, rng: np.random.Generator, packet_s: float = 0.02
) -> np.ndarray:
    """Zero random 20 ms packets (``share`` of them; losses come in bursts of 1-3)."""
    out = x.copy()
    n = len(x) // int(rate * packet_s)
    if n == 0 or share <= 0:
        return out
    size = int(rate * packet_s)
    lost = np.flatnonzero(rng.random(n) < share / 2)
    for p in lost:
        burst = int(rng.integers(1, 4))
        out[p * size : (p + burst) * size] = 0.0
    return out


def telephone(
    x: np.ndarray,
    rate: int,
    opts: TelephoneOptions,
    rng: np.random.Generator,
    speech: np.ndarray | None = None,
) -> np.ndarray:
    """The whole chain on one channel: -> 8 kHz -> noise -> band-pass -> clip -> mu-law
    -> packet loss. Returns 8 kHz float32. ``speech`` (a mask at ``rate``) sets the
    speech level for the SNR."""
    y = resample(x, rate, 8000)
    mask = None
    if speech is not None:
        mask = speech[:: max(1, rate // 8000)][: len(y)]
        if len(mask) < len(y):
            mask = np.pad(mask, (0, len(y) - len(mask)))
    y = add_noise(y, opts.snr_db, rng, mask)
    y = band_pass(y, 8000, opts.low_hz, opts.high_hz)
    y = clip(y, opts.clip_gain_db)
    y = mu_law(y)
    return packet_loss(y, 8000, opts.packet_loss, rng)


def leak(
    own: np.ndarray, other: np.ndarray, level_db: float, rate: int, delay_s: float = 0.03
) -> np.ndarray:
    """``own`` plus ``other`` delayed by ``delay_s`` at ``level_db`` relative to its own
    level (echo / sidetone / crosstalk of the far side into this channel)."""
    d = int(delay_s * rate)
    shifted = np.zeros_like(own)
    n = min(len(own) - d, len(other))
    if n > 0:
        shifted[d : d + n] = other[:n]
    return (own + shifted * 10 ** (level_db / 20)).astype(np.float32)
