"""Who spoke when: diarizers behind one protocol, a registry, and speaker roles.

Names (setting ``diarizer``):

* ``auto`` (default): ``channels`` when the transcript has a speaker per stereo channel,
  ``engine`` when the engine labelled speakers itself, ``clustering`` otherwise (mono, or
  stereo whose channels carry the same mix);
* ``clustering``: Silero VAD + Resemblyzer GE2E embeddings + agglomerative clustering,
  offline on CPU (the ``diarization`` extra);
* ``channels``: stereo, one speaker per channel (exact);
* ``engine``: the engine's own speaker labels (e.g. AssemblyAI);
* ``pyannote``: a pyannote.audio pipeline (optional ``pyannote`` extra, local pipeline or
  hub token);
* ``none``: no diarization (mono stays one "unknown" speaker).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from analytics.audio import DecodedAudio
from analytics.config import Settings
from analytics.diarization.base import (
    METHODS,
    DiarizationError,
    DiarizationResult,
    Diarizer,
    DiarizerUnavailableError,
    OverlapRegion,
    SpeakerTurn,
)
from analytics.diarization.clustering import ClusteringDiarizer, ClusteringOptions
from analytics.diarization.counting import options_for
from analytics.diarization.passthrough import ChannelDiarizer, EngineDiarizer
from analytics.diarization.roles import (
    HeuristicRoleAssigner,
    RoleAssigner,
    RoleGuess,
    assign_roles,
)
from analytics.errors import ConfigError
from analytics.models import CallMetadata
from analytics.transcription.base import EngineTranscript

log = logging.getLogger(__name__)

__all__ = [
    "DIARIZER_NAMES",
    "METHODS",
    "AutoDiarizer",
    "ChannelDiarizer",
    "ClusteringDiarizer",
    "ClusteringOptions",
    "DiarizationError",
    "DiarizationResult",
    "Diarizer",
    "DiarizerUnavailableError",
    "EngineDiarizer",
    "HeuristicRoleAssigner",
    "OverlapRegion",
    "RoleAssigner",
    "RoleGuess",
    "SpeakerTurn",
    "assign_roles",
    "make_diarizer",
    "make_role_assigner",
]


class AutoDiarizer:
    """Picks per call: channels for real stereo, the engine's labels when it has them,
    clustering otherwise."""

    name = "auto"

    def __init__(self, clustering: ClusteringDiarizer | None = None) -> None:
        self.clustering = clustering or ClusteringDiarizer()
        self.channels = ChannelDiarizer()
        self.engine = EngineDiarizer()
        self._warned = False

    def params(self) -> dict[str, Any]:
        return {**self.clustering.params(), "diarizer": self.name}

    def choose(self, transcript: EngineTranscript) -> Diarizer:
        if transcript.diarization == "channels":
            return self.channels
        if transcript.diarization == "engine":
            return self.engine
        return self.clustering

    def diarize(
        self, audio: DecodedAudio, transcript: EngineTranscript, metadata: CallMetadata
    ) -> DiarizationResult:
        chosen = self.choose(transcript)
        try:
            return chosen.diarize(audio, transcript, metadata)
        except DiarizerUnavailableError as exc:
            if chosen is not self.clustering:
                raise
            # the default must not fail every mono call when the extra is missing
            if not self._warned:
                log.warning("auto diarization falls back to none: %s", exc)
                self._warned = True
            return DiarizationResult(
                transcript.diarization, (), transcript.streams, (), {"diarizer": "none"}
            )


def clustering_options(settings: Settings) -> ClusteringOptions:
    return options_for(
        settings.speaker_embedding,
        num_speakers=settings.diarization_speakers,
        min_speakers=settings.diarization_min_speakers,
        max_speakers=settings.diarization_max_speakers,
        vad=settings.diarization_vad,
    )


def _pyannote(settings: Settings) -> Diarizer:
    from analytics.diarization.pyannote_audio import PyannoteDiarizer

    token = settings.hf_token.get_secret_value() if settings.hf_token else None
    return PyannoteDiarizer(
        settings.pyannote_pipeline,
        token,
        num_speakers=settings.diarization_speakers,
        min_speakers=settings.diarization_min_speakers,
        max_speakers=settings.diarization_max_speakers,
    )


#: Diarizer name -> factory. "none" builds nothing.
FACTORIES: dict[str, Callable[[Settings], Diarizer]] = {
    "auto": lambda s: AutoDiarizer(ClusteringDiarizer(clustering_options(s))),
    "clustering": lambda s: ClusteringDiarizer(clustering_options(s)),
    "channels": lambda s: ChannelDiarizer(),
    "engine": lambda s: EngineDiarizer(),
    "pyannote": _pyannote,
}
DIARIZER_NAMES = (*FACTORIES, "none")


def make_diarizer(settings: Settings) -> Diarizer | None:
    """The configured diarizer, or None for ``diarizer = "none"``."""
    name = settings.diarizer
    if name == "none":
        return None
    factory = FACTORIES.get(name)
    if factory is None:
        raise ConfigError(f"unknown diarizer {name!r}; choose one of {', '.join(DIARIZER_NAMES)}")
    lo, hi, n = (
        settings.diarization_min_speakers,
        settings.diarization_max_speakers,
        settings.diarization_speakers,
    )
    if not 1 <= lo <= hi or (n is not None and n < 1):
        raise ConfigError(
            f"diarization speaker counts must satisfy 1 <= min ({lo}) <= max ({hi}) and "
            f"a forced count >= 1 (got {n})"
        )
    return factory(settings)


def make_role_assigner(settings: Settings) -> RoleAssigner:
    """The configured role assigner (only the heuristic one so far)."""
    if settings.role_assigner != "heuristic":
        raise ConfigError(f"unknown role assigner {settings.role_assigner!r}; choose heuristic")
    return HeuristicRoleAssigner()
