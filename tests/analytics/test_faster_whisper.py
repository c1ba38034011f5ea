"""faster-whisper done properly: model registry, guards against invented text, language
detection on speech only, telephone mu-law audio. Real models, real audio."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from analytics.audio import decode
from analytics.errors import ModelNotFoundError
from analytics.evaluation import wer
from analytics.transcription import models as registry
from analytics.transcription.faster_whisper import FasterWhisperOptions, FasterWhisperTranscriber
from tests.audio_fixtures import hold_music, line_noise, ringback_and_dtmf, write_wav
from tests.conftest import sample_audio, sample_sidecar

pytestmark = pytest.mark.slow

NON_SPEECH = {
    "silence": lambda: line_noise(30, dbfs=-35),
    "hold_music": lambda: hold_music(30),
    "ring_and_dtmf": lambda: ringback_and_dtmf(30),
}
UNGUARDED = dict(
    vad_filter=False,
    no_speech_threshold=None,
    log_prob_threshold=None,
    compression_ratio_threshold=None,
    hallucination_silence_threshold=None,
    temperatures=(0.0,),
)


def _channel(path: Path) -> np.ndarray:
    return decode(path).channels[0]


@pytest.fixture(scope="module")
def tiny() -> FasterWhisperTranscriber:
    return FasterWhisperTranscriber(FasterWhisperOptions())


@pytest.mark.parametrize("kind", sorted(NON_SPEECH))
def test_non_speech_yields_no_invented_words(
    kind: str, tmp_path: Path, tiny: FasterWhisperTranscriber
) -> None:
    audio = _channel(write_wav(tmp_path / f"{kind}.wav", NON_SPEECH[kind]()))
    assert tiny.transcribe(audio).words == ()
    # each guard layer holds on its own: without VAD, the decoding guards still do
    no_vad = FasterWhisperTranscriber(FasterWhisperOptions(vad_filter=False))
    assert no_vad.transcribe(audio).words == ()
    # and the batched pipeline (bench/engines.py's fastest mode) invents nothing either
    batched = FasterWhisperTranscriber(FasterWhisperOptions(batch_size=8))
    assert batched.transcribe(audio).words == ()


@pytest.mark.parametrize("kind", sorted(NON_SPEECH))
def test_the_same_audio_makes_an_unguarded_model_hallucinate(kind: str, tmp_path: Path) -> None:
    """Control: proves the inputs above are real hallucination traps for this model."""
    audio = _channel(write_wav(tmp_path / f"{kind}.wav", NON_SPEECH[kind]()))
    raw = FasterWhisperTranscriber(FasterWhisperOptions(**UNGUARDED))  # type: ignore[arg-type]
    assert len(raw.transcribe(audio).words) > 0


def test_hold_music_in_the_middle_of_a_call_stays_wordless(
    tmp_path: Path, tiny: FasterWhisperTranscriber
) -> None:
    speech = _channel(sample_audio("wrong_number"))
    music = _channel(write_wav(tmp_path / "m.wav", hold_music(20)))
    half = len(speech) // 2
    audio = np.concatenate([speech[:half], music, speech[half:]]).astype(np.float32)
    t0, t1 = half / 16000, half / 16000 + 20.0
    words = tiny.transcribe(audio).words
    assert len(words) > 20
    inside = [w for w in words if w.start > t0 + 1.0 and w.end < t1 - 1.0]
    assert inside == []


def test_mulaw_telephone_audio_transcribes_like_pcm(
    tmp_path: Path, tiny: FasterWhisperTranscriber
) -> None:
    pcm = decode(sample_audio("tech_support"))
    raw8k = pcm.channels[0][::2]  # the sample is 8 kHz; decode gave 16 kHz
    mulaw = write_wav(tmp_path / "ulaw.wav", raw8k, codec="mulaw")
    decoded = decode(mulaw)
    assert decoded.codec == "pcm_mulaw" and decoded.source_sample_rate == 8000
    ref = sample_sidecar("tech_support")["reference"]["text"]
    text_pcm = " ".join(w.word for w in tiny.transcribe(pcm.channels[0]).words)
    text_ulaw = " ".join(w.word for w in tiny.transcribe(decoded.channels[0]).words)
    assert wer(ref, text_ulaw) <= wer(ref, text_pcm) + 0.05


def test_language_is_detected_on_speech_not_on_a_long_ring_and_music_intro(
    tmp_path: Path, settings_cache: Path
) -> None:
    base = FasterWhisperTranscriber(FasterWhisperOptions(model="base", cache_dir=settings_cache))
    assert base.multilingual
    intro = _channel(
        write_wav(tmp_path / "i.wav", np.concatenate([ringback_and_dtmf(14), hold_music(14)]))
    )
    audio = np.concatenate([intro, _channel(sample_audio("tech_support"))]).astype(np.float32)
    language, prob = base.detect_language(audio)
    assert language == "en" and prob > 0.9
    out = base.transcribe(audio)
    assert out.language == "en" and out.words and out.words[-1].start > 28


@pytest.fixture(scope="module")
def settings_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


def test_registry_reassembles_base_once_and_verifies_it(settings_cache: Path) -> None:
    first = registry.resolve("base", settings_cache)
    model_bin = first.path / "model.bin"
    stamp = model_bin.stat().st_mtime_ns
    again = registry.resolve("base", settings_cache)
    assert again.path == first.path and model_bin.stat().st_mtime_ns == stamp  # not re-copied
    assert first.sha256 == registry.BASE_MODEL_SHA256 and first.multilingual
    assert {"config.json", "tokenizer.json", "vocabulary.json"} <= {
        p.name for p in first.path.iterdir()
    }


def test_a_bad_reassembly_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "BASE_MODEL_SHA256", "0" * 64)
    with pytest.raises(ModelNotFoundError, match="expected 0000"):
        registry.resolve("base", tmp_path)
    assert not (tmp_path / "whisper-base" / "model.bin").exists()


def test_registry_accepts_a_local_model_directory(tmp_path: Path) -> None:
    tiny = registry.resolve("tiny.en", tmp_path)
    local = registry.resolve(str(tiny.path), tmp_path)
    assert local.path == tiny.path and local.sha256 == tiny.sha256 and not tiny.multilingual


def test_unknown_names_list_what_is_installed(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError) as err:
        registry.resolve("large-v3", tmp_path)
    assert "tiny.en" in str(err.value) and "base" in str(err.value)
    assert "CALLSCOPE_MODEL_DOWNLOAD" in str(err.value)


def test_options_and_checksum_are_lineage(tiny: FasterWhisperTranscriber) -> None:
    t = FasterWhisperTranscriber(
        FasterWhisperOptions(hotwords="Northwind FiberMax", initial_prompt="Northwind Telecom")
    )
    assert t.model is tiny.model  # loaded once per process
    params = t.params()
    assert params["hotwords"] == "Northwind FiberMax" and params["beam_size"] == 5
    assert "cache_dir" not in params
    assert t.lineage()["model_sha256"] == registry.file_sha256(t.resolved.path / "model.bin")
