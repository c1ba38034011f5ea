"""The per-call pipeline on real sample audio with the real tiny.en model."""

from __future__ import annotations

import itertools
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from analytics.audio import decode
from analytics.config import Settings
from analytics.errors import DecodeError, ModelNotFoundError
from analytics.evaluation import role_attribution, wer
from analytics.models import CallMetadata
from analytics.pipeline import UNKNOWN_SPEAKER, PipelineOptions, process_call
from analytics.transcription.models import resolve
from tests.conftest import sample_audio, sample_sidecar

pytestmark = pytest.mark.slow

STEREO = ["billing_resolved", "angry_unresolved", "sales_outbound"]


def _run(name: str, transcriber: Any, **kwargs: Any) -> Any:
    side = sample_sidecar(name)
    md = CallMetadata.from_sidecar(side, default_call_id=name)
    return process_call(
        sample_audio(name),
        transcriber=transcriber,
        metadata=md,
        source_uri=str(sample_audio(name)),
        etag="t",
        **kwargs,
    )


@pytest.mark.parametrize("name", STEREO)
def test_stereo_call_is_accurate_and_attributed_to_the_right_roles(
    name: str, transcriber: Any
) -> None:
    result = _run(name, transcriber)
    ref = sample_sidecar(name)["reference"]
    assert result.diarization == "channels" and result.channels == 2
    assert wer(ref["text"], result.text) <= 0.35
    assert role_attribution(ref["turns"], result.utterances).accuracy >= 0.90
    # utterances interleave across channels in time order
    starts = [u.start for u in result.utterances]
    assert starts == sorted(starts)
    roles = [u.role for u in result.utterances]
    switches = sum(a != b for a, b in itertools.pairwise(roles))
    assert switches >= len(ref["turns"]) // 2
    for u in result.utterances:
        assert all(u.start - 0.01 <= w.start <= w.end <= u.end + 0.01 for w in u.words)


def test_mono_call_without_a_diarizer_has_one_labelled_unknown_speaker(
    transcriber: Any,
) -> None:
    result = _run("tech_support", transcriber, diarizer=None)
    assert result.diarization == "none" and result.channels == 1
    assert {u.speaker for u in result.utterances} == {UNKNOWN_SPEAKER}
    assert {u.role for u in result.utterances} == {None}
    assert {u.role_confidence for u in result.utterances} == {None}
    assert wer(sample_sidecar("tech_support")["reference"]["text"], result.text) <= 0.35


def test_mono_call_with_the_default_diarizer_has_two_speakers_with_roles(
    transcriber: Any,
) -> None:
    pytest.importorskip("resemblyzer")
    result = _run("tech_support", transcriber, options=PipelineOptions.from_settings(Settings()))
    ref = sample_sidecar("tech_support")["reference"]
    assert result.diarization == "clustering" and result.channels == 1
    assert len({u.speaker for u in result.utterances}) == 2
    assert {u.role for u in result.utterances} == {"agent", "customer"}
    assert role_attribution(ref["turns"], result.utterances).accuracy >= 0.90
    assert wer(ref["text"], result.text) <= 0.35


def test_stereo_call_with_the_default_diarizer_keeps_channels_and_sidecar_roles(
    transcriber: Any,
) -> None:
    pytest.importorskip("resemblyzer")
    options = PipelineOptions.from_settings(Settings())
    result = _run("billing_resolved", transcriber, options=options)
    assert result.diarization == "channels"
    assert {u.speaker for u in result.utterances} == {"ch0", "ch1"}
    assert {u.role_confidence for u in result.utterances} == {1.0}
    ref = sample_sidecar("billing_resolved")["reference"]
    assert role_attribution(ref["turns"], result.utterances).accuracy >= 0.90


def test_identical_stereo_channels_are_treated_as_mono(tmp_path: Path, transcriber: Any) -> None:
    mono = decode(sample_audio("wrong_number"))
    pcm = (mono.channels[0] * 32767).astype("<i2")
    path = tmp_path / "dual_mono.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(mono.sample_rate)
        w.writeframes(np.stack([pcm, pcm], axis=1).tobytes())
    result = process_call(
        path, transcriber=transcriber, metadata=CallMetadata("d"), source_uri=str(path)
    )
    assert result.channels == 2 and result.diarization == "none"
    assert {u.speaker for u in result.utterances} == {UNKNOWN_SPEAKER}


def test_roles_mismatching_the_channel_count_are_not_guessed(transcriber: Any) -> None:
    md = CallMetadata("x", channel_roles=("agent",))
    path = sample_audio("appointment_reschedule")
    result = process_call(path, transcriber=transcriber, metadata=md, source_uri=str(path))
    assert {u.role for u in result.utterances} == {None}
    assert {u.speaker for u in result.utterances} == {"ch0", "ch1"}


def test_lineage_params_are_recorded(transcriber: Any) -> None:
    result = _run("wrong_number", transcriber)
    assert result.engine == "faster-whisper" and result.model == "tiny.en"
    assert result.params["beam_size"] == 5 and result.params["compute_type"] == "int8"
    assert result.language == "en"


def test_corrupt_audio_fails_in_the_decode_stage(corrupt_wav: Path, transcriber: Any) -> None:
    with pytest.raises(DecodeError):
        process_call(
            corrupt_wav,
            transcriber=transcriber,
            metadata=CallMetadata("c"),
            source_uri=str(corrupt_wav),
        )


def test_unknown_model_lists_what_is_available(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match=r"tiny\.en"):
        resolve("large-v9", tmp_path)
