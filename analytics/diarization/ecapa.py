"""ECAPA-TDNN speaker embeddings (Desplanques et al., 2020) with the VoxCeleb weights of
``speechbrain/spkrec-ecapa-voxceleb`` (Apache-2.0), in plain torch.

The weights are fetched once by ``scripts/fetch_speaker_model.py`` (run by ``make setup``)
into ``<model_cache_dir>/speaker/ecapa-voxceleb/embedding_model.ckpt``; the network below
is laid out so that its parameter names are the checkpoint's keys.

Features: 80 log-mel bands of 16 kHz audio (25 ms Hamming windows every 10 ms, 400-point
FFT, power spectrum, symmetric triangular filters evenly spaced in mel from 0 to 8 kHz,
10*log10 floored at 1e-10 and at 80 dB below the input's maximum), as the model was
trained on; each embedded span is floored and mean-normalised over time on its own (no
variance scaling).
"""

from __future__ import annotations

import functools
import logging
import math
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from analytics.diarization.base import DiarizerUnavailableError

log = logging.getLogger(__name__)

RATE = 16_000
N_FFT = 400
HOP = 160
N_MELS = 80
TOP_DB = 80.0
AMIN = 1e-10
EMBED_DIM = 192
#: Shorter spans get a zero embedding (the widest reflect padding needs 5 frames).
MIN_FRAMES = 5
#: Spans per forward pass. The activations of a batch of 1.5 s spans (C = 1024, the
#: pooling's 3 x 3,072 channels) held ~400 MB above the process at 16 and ~60 MB at 4,
#: and 4 ran as fast as 8 and 16 on two cores (318 spans: 21.4 / 22.3 / 21.8 s).
BATCH = 4
#: Features of long calls are computed in blocks of this many seconds (bounded memory).
BLOCK_S = 60.0
#: The checkpoint's place under the model cache, and its sha256.
CHECKPOINT = Path("speaker") / "ecapa-voxceleb" / "embedding_model.ckpt"
CHECKPOINT_SHA256 = "0575cb64845e6b9a10db9bcb74d5ac32b326b8dc90352671d345e2ee3d0126a2"

_MODEL: EcapaTdnn | None = None
_MODEL_PATH: Path | None = None
_LOCK = threading.Lock()


def default_checkpoint(cache_dir: Path | None = None) -> Path:
    """Where ``make setup`` puts the weights (``model_cache_dir`` from the settings)."""
    if cache_dir is None:
        from analytics.config import Settings

        cache_dir = Settings().model_cache_dir  # type: ignore[call-arg]  # env and .env
    return cache_dir / CHECKPOINT


# --- features ---------------------------------------------------------------------------


def _mel_matrix() -> torch.Tensor:
    """(n_fft // 2 + 1, N_MELS) triangular filters, each as wide on both sides as the
    distance from its centre down to the centre below it."""

    def to_mel(hz: float) -> float:
        return 2595.0 * math.log10(1.0 + hz / 700.0)

    mels = torch.linspace(to_mel(0.0), to_mel(RATE / 2), N_MELS + 2)
    hz = 700.0 * (10.0 ** (mels / 2595.0) - 1.0)
    centre, width = hz[1:-1], (hz[1:] - hz[:-1])[:-1]
    freqs = torch.linspace(0.0, RATE // 2, N_FFT // 2 + 1)
    dist = (freqs[:, None] - centre[None, :]) / width[None, :]
    return torch.clamp(1.0 - dist.abs(), min=0.0)


def fbank(samples: np.ndarray, top_db: float | None = None) -> np.ndarray:
    """Log-mel features of 16 kHz mono audio: (1 + len // 160, 80) float32, frame k
    centred on sample 160 k (zeros beyond the ends). Computed in blocks of ``BLOCK_S``
    with the same frames as one pass.

    Values are floored at -100 dB only: :func:`embed_spans` floors each span at
    ``TOP_DB`` below the span's own maximum, as the model saw its training crops (a floor
    set by the loudest moment of the whole call would change quiet bands of every span).
    ``top_db`` applies that floor to the whole input instead (the model's own feature
    extractor on this input)."""
    n_frames = 1 + len(samples) // HOP
    out = np.empty((n_frames, N_MELS), dtype=np.float32)
    per_block = max(1, int(BLOCK_S * RATE) // HOP)
    for k0 in range(0, n_frames, per_block):
        k1 = min(k0 + per_block, n_frames)
        out[k0:k1] = fbank_frames(samples, k0, k1)
    if top_db is not None and n_frames:
        np.maximum(out, out.max() - top_db, out=out)
    return out


def fbank_frames(samples: np.ndarray, k0: int, k1: int) -> np.ndarray:
    """Frames ``k0 .. k1 - 1`` of :func:`fbank` (the same values as the whole pass)."""
    a, b = k0 * HOP - N_FFT // 2, (k1 - 1) * HOP + N_FFT // 2
    seg = np.zeros(b - a, dtype=np.float32)
    lo, hi = max(a, 0), min(b, len(samples))
    if hi > lo:
        seg[lo - a : hi - a] = samples[lo:hi]
    with torch.inference_mode():
        spec = torch.stft(
            torch.from_numpy(seg),
            N_FFT,
            HOP,
            N_FFT,
            _window(),
            center=False,
            return_complex=True,
        )
        power = spec.real.square() + spec.imag.square()
        db = 10.0 * torch.log10(torch.clamp(power.T @ _mel(), min=AMIN))
    return np.asarray(db.numpy(), dtype=np.float32)


@functools.cache
def _window() -> torch.Tensor:
    return torch.hamming_window(N_FFT)


@functools.cache
def _mel() -> torch.Tensor:
    return _mel_matrix()


def embed_call(
    samples: np.ndarray, spans: Sequence[tuple[int, int]], batch_size: int = BATCH
) -> np.ndarray:
    """:func:`embed_spans` of frame ``spans`` of a whole call, features computed one
    ``BLOCK_S`` block at a time (the spans starting in it), so a 3-hour call never holds
    its whole feature matrix (345 MB); the same values as ``embed_spans(fbank(x), spans)``."""
    out = np.zeros((len(spans), EMBED_DIM), dtype=np.float32)
    per_block = max(1, int(BLOCK_S * RATE) // HOP)
    by_block: dict[int, list[int]] = {}
    for i, (a, _) in enumerate(spans):
        by_block.setdefault(a // per_block, []).append(i)
    for block, idx in sorted(by_block.items()):
        k0 = block * per_block
        k1 = max(spans[i][1] for i in idx)
        feats = fbank_frames(samples, k0, k1)
        local = [(spans[i][0] - k0, spans[i][1] - k0) for i in idx]
        out[idx] = embed_spans(feats, local, batch_size)
    return out


# --- network ----------------------------------------------------------------------------


class _Conv(nn.Module):
    """1-D convolution keeping the length (reflect padding)."""

    def __init__(self, c_in: int, c_out: int, kernel: int = 1, dilation: int = 1) -> None:
        super().__init__()
        pad = dilation * (kernel - 1) // 2
        self.conv = nn.Conv1d(
            c_in, c_out, kernel, dilation=dilation, padding=pad,
            padding_mode="reflect" if pad else "zeros",
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class _Norm(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm1d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x)


class _Tdnn(nn.Module):
    """Convolution, ReLU, batch norm."""

    def __init__(self, c_in: int, c_out: int, kernel: int = 1, dilation: int = 1) -> None:
        super().__init__()
        self.conv = _Conv(c_in, c_out, kernel, dilation)
        self.norm = _Norm(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(torch.relu(self.conv(x)))


class _Res2Net(nn.Module):
    """Channels split in ``scale`` groups; group i > 0 goes through its own dilated TDNN
    after adding the output of group i - 1 (group 0 passes unchanged)."""

    def __init__(self, channels: int, kernel: int, dilation: int, scale: int = 8) -> None:
        super().__init__()
        self.scale = scale
        width = channels // scale
        self.blocks = nn.ModuleList(_Tdnn(width, width, kernel, dilation) for _ in range(scale - 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        parts = torch.chunk(x, self.scale, dim=1)
        outs = [parts[0]]
        prev: torch.Tensor | None = None
        for block, part in zip(self.blocks, parts[1:], strict=True):
            prev = block(part if prev is None else part + prev)
            outs.append(prev)
        return torch.cat(outs, dim=1)


class _SqueezeExcite(nn.Module):
    def __init__(self, channels: int, bottleneck: int = 128) -> None:
        super().__init__()
        self.conv1 = _Conv(channels, bottleneck)
        self.conv2 = _Conv(bottleneck, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = torch.relu(self.conv1(x.mean(dim=2, keepdim=True)))
        return x * torch.sigmoid(self.conv2(s))


class _SeRes2Block(nn.Module):
    def __init__(self, channels: int, kernel: int, dilation: int) -> None:
        super().__init__()
        self.tdnn1 = _Tdnn(channels, channels)
        self.res2net_block = _Res2Net(channels, kernel, dilation)
        self.tdnn2 = _Tdnn(channels, channels)
        self.se_block = _SqueezeExcite(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.tdnn2(self.res2net_block(self.tdnn1(x)))
        return x + self.se_block(y)


def _mean_std(x: torch.Tensor, weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    mean = (weights * x).sum(dim=2)
    var = (weights * (x - mean[:, :, None]).square()).sum(dim=2)
    return mean, torch.sqrt(var.clamp(min=1e-12))


class _AttentivePooling(nn.Module):
    """Channel-wise attentive statistics pooling with global context (the frame features
    concatenated with their utterance mean and std)."""

    def __init__(self, channels: int, attention: int = 128) -> None:
        super().__init__()
        self.tdnn = _Tdnn(channels * 3, attention)
        self.conv = _Conv(attention, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        length = x.shape[2]
        mean, std = _mean_std(x, torch.full_like(x[:1, :1], 1.0 / length))
        context = torch.cat(
            [x, mean[:, :, None].expand(-1, -1, length), std[:, :, None].expand(-1, -1, length)],
            dim=1,
        )
        attn = torch.softmax(self.conv(torch.tanh(self.tdnn(context))), dim=2)
        mean, std = _mean_std(x, attn)
        return torch.cat([mean, std], dim=1)[:, :, None]


class EcapaTdnn(nn.Module):
    """ECAPA-TDNN, C = 1024: (batch, frames, 80) features -> (batch, 192) embeddings."""

    def __init__(self, n_mels: int = N_MELS, channels: int = 1024, embed: int = EMBED_DIM):
        super().__init__()
        self.blocks = nn.ModuleList(
            [
                _Tdnn(n_mels, channels, 5, 1),
                _SeRes2Block(channels, 3, 2),
                _SeRes2Block(channels, 3, 3),
                _SeRes2Block(channels, 3, 4),
            ]
        )
        self.mfa = _Tdnn(channels * 3, channels * 3)
        self.asp = _AttentivePooling(channels * 3)
        self.asp_bn = _Norm(channels * 6)
        self.fc = _Conv(channels * 6, embed)

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        x = feats.transpose(1, 2)
        outs = []
        for block in self.blocks:
            x = block(x)
            outs.append(x)
        x = self.mfa(torch.cat(outs[1:], dim=1))
        return self.fc(self.asp_bn(self.asp(x)))[:, :, 0]


def load_ecapa(path: Path | None = None) -> EcapaTdnn:
    """The network with its weights, in eval mode, loaded once per process (thread-safe;
    another ``path`` reloads)."""
    global _MODEL, _MODEL_PATH
    path = path or default_checkpoint()
    with _LOCK:
        if _MODEL is None or path != _MODEL_PATH:
            if not path.is_file():
                raise DiarizerUnavailableError(
                    f"the ECAPA speaker model is not at {path}: run `make setup` "
                    "(or python scripts/fetch_speaker_model.py)"
                )
            model = EcapaTdnn()
            state = torch.load(path, map_location="cpu", weights_only=True)
            model.load_state_dict(state, strict=True)
            _MODEL, _MODEL_PATH = model.eval(), path
            log.info("loaded the ECAPA-TDNN speaker model from %s", path)
        return _MODEL


def embed_spans(
    feats: np.ndarray,
    spans: Sequence[tuple[int, int]],
    batch_size: int = BATCH,
    model: EcapaTdnn | None = None,
) -> np.ndarray:
    """L2-normalised embeddings of feature frame spans [a, b) -> (len(spans), 192).

    Each span is floored at 80 dB below its own maximum and mean-normalised over time,
    as the model saw its training crops; spans of equal length run in batches of
    ``BATCH``. Spans shorter than ``MIN_FRAMES`` get zeros."""
    model = model or load_ecapa()
    out = np.zeros((len(spans), EMBED_DIM), dtype=np.float32)
    by_len: dict[int, list[int]] = {}
    for i, (a, b) in enumerate(spans):
        by_len.setdefault(b - a, []).append(i)
    with torch.inference_mode():
        for length, idx in by_len.items():
            if length < MIN_FRAMES:
                continue
            for k in range(0, len(idx), batch_size):
                chunk = idx[k : k + batch_size]
                batch = torch.from_numpy(
                    np.stack([feats[spans[i][0] : spans[i][0] + length] for i in chunk])
                )
                floor = batch.amax(dim=(1, 2), keepdim=True) - TOP_DB
                batch = torch.maximum(batch, floor)
                batch = batch - batch.mean(dim=1, keepdim=True)
                out[chunk] = model(batch).numpy()
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.maximum(norms, 1e-9)
