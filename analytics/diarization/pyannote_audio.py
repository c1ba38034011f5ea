"""pyannote.audio diarization, an optional extra (``callscope[pyannote]``).

pyannote.audio needs torchaudio (a multi-GB CUDA torch build on most machines) and its
pretrained pipelines come from a gated model hub, so it is never required: install the
extra and point ``CALLSCOPE_PYANNOTE_PIPELINE`` at a local pipeline directory (or a
``config.yaml``), or give a Hugging Face token (``CALLSCOPE_HF_TOKEN``) on a machine that
can reach the hub.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any, Protocol

from analytics.audio import DecodedAudio, as_float32
from analytics.diarization.attribution import assemble
from analytics.diarization.base import DiarizationResult, DiarizerUnavailableError, SpeakerTurn
from analytics.models import CallMetadata
from analytics.transcription.base import EngineTranscript

log = logging.getLogger(__name__)

#: The hub pipeline used with a token when no local pipeline is configured.
HUB_PIPELINE = "pyannote/speaker-diarization-3.1"
EXTRA_HINT = (
    "the pyannote diarizer needs the optional extra: pip install 'callscope[pyannote]' "
    "(pyannote.audio; it pulls torchaudio)"
)

_PIPELINES: dict[str, Any] = {}
_LOCK = threading.Lock()


class AnnotationLike(Protocol):
    """What we use of ``pyannote.core.Annotation``."""

    def itertracks(self, yield_label: bool = ...) -> Any: ...


def annotation_to_turns(annotation: AnnotationLike) -> list[SpeakerTurn]:
    """``pyannote.core.Annotation`` -> turns; labels renamed spk0, spk1... by first
    appearance (pyannote's SPEAKER_00 numbering is arbitrary)."""
    tracks = sorted(
        ((float(seg.start), float(seg.end), str(label)) for seg, _, label in
         annotation.itertracks(yield_label=True)),
        key=lambda t: (t[0], t[1]),
    )  # fmt: skip
    names: dict[str, str] = {}
    turns = []
    for start, end, label in tracks:
        name = names.setdefault(label, f"spk{len(names)}")
        if end > start:
            turns.append(SpeakerTurn(name, start, end))
    return turns


def require_pyannote() -> Any:
    """The ``pyannote.audio.Pipeline`` class; DiarizerUnavailableError naming the extra
    when pyannote.audio is not installed."""
    try:
        from pyannote.audio import Pipeline
    except ImportError as exc:
        raise DiarizerUnavailableError(f"{EXTRA_HINT} ({exc})") from exc
    return Pipeline


def load_pipeline(source: str, token: str | None) -> Any:
    """A pyannote ``Pipeline`` from a local directory / config file or the hub, once per
    process. Raises DiarizerUnavailableError when pyannote.audio is not installed."""
    with _LOCK:
        if source in _PIPELINES:
            return _PIPELINES[source]
        pipeline_class = require_pyannote()
        path = Path(source)
        if path.is_dir():
            path = path / "config.yaml"
        target = str(path) if path.exists() else source
        try:
            pipeline = pipeline_class.from_pretrained(target, token=token)
        except TypeError:  # pyannote.audio 3.x spells it use_auth_token
            pipeline = pipeline_class.from_pretrained(target, use_auth_token=token)
        if pipeline is None:
            raise DiarizerUnavailableError(
                f"pyannote could not load the pipeline {target!r} (gated hub model without "
                "a token, or no local copy): set CALLSCOPE_PYANNOTE_PIPELINE to a local "
                "pipeline directory"
            )
        _PIPELINES[source] = pipeline
        return pipeline


class PyannoteDiarizer:
    """Runs a pyannote.audio speaker-diarization pipeline on the mono mix."""

    name = "pyannote"

    def __init__(
        self,
        pipeline: str | Path | None = None,
        token: str | None = None,
        num_speakers: int | None = None,
        min_speakers: int = 1,
        max_speakers: int = 4,
    ) -> None:
        require_pyannote()
        if pipeline is None and token is None:
            raise DiarizerUnavailableError(
                "the pyannote diarizer needs a local pipeline (CALLSCOPE_PYANNOTE_PIPELINE) "
                "or a Hugging Face token (CALLSCOPE_HF_TOKEN)"
            )
        self.source = str(pipeline) if pipeline is not None else HUB_PIPELINE
        self.token = token
        self.num_speakers = num_speakers
        self.min_speakers = min_speakers
        self.max_speakers = max_speakers
        load_pipeline(self.source, token)  # fail fast, at configuration time

    def params(self) -> dict[str, Any]:
        return {
            "diarizer": self.name,
            "pipeline": self.source,
            "num_speakers": self.num_speakers,
            "min_speakers": self.min_speakers,
            "max_speakers": self.max_speakers,
        }

    def diarize(
        self, audio: DecodedAudio, transcript: EngineTranscript, metadata: CallMetadata
    ) -> DiarizationResult:
        import torch

        pipeline = load_pipeline(self.source, self.token)
        waveform = torch.from_numpy(as_float32(audio.mono())).unsqueeze(0)
        counts: dict[str, int] = (
            {"num_speakers": self.num_speakers}
            if self.num_speakers
            else {"min_speakers": self.min_speakers, "max_speakers": self.max_speakers}
        )
        output = pipeline({"waveform": waveform, "sample_rate": audio.sample_rate}, **counts)
        # pyannote.audio 4 returns an object holding the annotation; 3.x the annotation
        annotation = getattr(output, "speaker_diarization", output)
        turns = annotation_to_turns(annotation)
        words = [w for s in transcript.streams for w in s.words]
        log.info("call %s: pyannote found %d turns", metadata.call_id, len(turns))
        return assemble(self.name, turns, words, None, self.params())
