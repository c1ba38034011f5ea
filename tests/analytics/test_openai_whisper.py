"""openai-whisper engine: the adapter's plumbing, NOT recognition accuracy.

Recognition with real weights (tiny.en converted from its CTranslate2 package) is tested in
test_ct2_to_openai.py; here the tests build a tiny randomly-initialised checkpoint
(seeded, ~14 MB) and check what the adapter is responsible for: loading a ``.pt`` file,
options reaching ``model.transcribe``, the mapping of whisper's segments/words into
``ChannelTranscript`` and ``CallResult``, lineage with the checkpoint's checksum, loading
once per process, clear errors for missing checkpoints and for the missing extra. The seeded
random model emits garbage words (another seed might emit none): only structure is asserted.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("whisper")
import torch
import whisper
from whisper.model import ModelDimensions

from analytics.audio import decode
from analytics.config import Settings
from analytics.errors import ModelNotFoundError
from analytics.models import CallMetadata
from analytics.pipeline import process_call
from analytics.transcription import make_transcriber
from analytics.transcription.channels import ChannelCallTranscriber
from analytics.transcription.openai_whisper import (
    OpenAIWhisperOptions,
    OpenAIWhisperTranscriber,
)
from tests.conftest import ROOT, sample_audio

pytestmark = pytest.mark.slow

#: A whisper shaped like the real ones (80 mels, 30 s context, English-only vocabulary),
#: one layer of 64 dims: loads and decodes in seconds on a CPU.
TINY_DIMS: dict[str, int] = dict(
    n_mels=80,
    n_audio_ctx=1500,
    n_audio_state=64,
    n_audio_head=2,
    n_audio_layer=1,
    n_vocab=51864,
    n_text_ctx=448,
    n_text_state=64,
    n_text_head=2,
    n_text_layer=1,
)
#: Deterministic decoding: greedy at temperature 0 only, no fallback.
FAST: dict[str, Any] = dict(temperatures=(0.0,), beam_size=1, language="en")


def _random_checkpoint(path: Path, **overrides: int) -> Path:
    dims = ModelDimensions(**{**TINY_DIMS, **overrides})
    torch.manual_seed(0)
    model = whisper.Whisper(dims)
    # whisper allocates the decoder's positional embedding with torch.empty (real weights
    # overwrite it): fill it from the seed too, or decoding differs run to run (even NaN).
    torch.nn.init.normal_(model.decoder.positional_embedding, std=0.5)
    torch.save({"dims": asdict(dims), "model_state_dict": model.state_dict()}, path)
    return path


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _random_checkpoint(tmp_path_factory.mktemp("ow") / "tiny-random.pt")


@pytest.fixture(scope="module")
def transcriber(checkpoint: Path) -> OpenAIWhisperTranscriber:
    return OpenAIWhisperTranscriber(OpenAIWhisperOptions(checkpoint=str(checkpoint), **FAST))


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_random_checkpoint_transcribes_into_well_formed_words(
    transcriber: OpenAIWhisperTranscriber,
) -> None:
    audio = decode(sample_audio("wrong_number")).channels[0][: 6 * 16000]
    duration = len(audio) / 16000
    out = transcriber.transcribe(audio)
    assert out.language == "en" and out.language_prob == 1.0
    assert out.words, "the seeded random model emits (garbage) words on this clip"
    for w in out.words:
        assert w.word == w.word.strip() and w.word
        assert 0.0 <= w.start <= w.end <= duration
        assert 0.0 <= w.prob <= 1.0
    assert all(0.0 <= s <= e <= duration for s, e in out.segments)
    # the same seed, audio and options decode the same way
    assert transcriber.transcribe(audio) == out


def test_process_call_lands_engine_model_params_and_checksum(
    transcriber: OpenAIWhisperTranscriber, checkpoint: Path
) -> None:
    path = sample_audio("wrong_number")
    result = process_call(
        path,
        transcriber=ChannelCallTranscriber(transcriber),
        metadata=CallMetadata("wrong_number"),
        source_uri=str(path),
    )
    assert result.engine == "openai-whisper"
    assert result.model == str(checkpoint)
    assert result.lineage["model_sha256"] == _sha256(checkpoint)
    assert result.lineage["model_path"] == str(checkpoint.resolve())
    assert result.lineage["official_name"] is None
    assert result.language == "en"
    assert result.diarization == "none" and result.channels == 1
    params = result.params
    assert params["checkpoint"] == str(checkpoint)
    assert params["temperatures"] == [0.0] and params["beam_size"] == 1
    assert params["fp16"] is False and params["device"] == "cpu"
    assert params["condition_on_previous_text"] is False
    assert "download_root" not in params and "allow_download" not in params
    assert result.utterances and result.words  # garbage text, but it went all the way through
    for w in result.words:
        assert 0.0 <= w.start <= w.end <= result.duration_s
        assert 0.0 <= w.prob <= 1.0


class _RecordingModel:
    """Stands in for the whisper model: records the call, returns a canned result."""

    is_multilingual = False

    def __init__(self, result: dict[str, Any]) -> None:
        self.result = result
        self.calls: list[dict[str, Any]] = []

    def transcribe(self, audio: np.ndarray, **kwargs: Any) -> dict[str, Any]:
        self.calls.append({"audio": audio, **kwargs})
        return self.result


def test_options_reach_model_transcribe_and_words_map_exactly(
    checkpoint: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opts = OpenAIWhisperOptions(
        checkpoint=str(checkpoint),
        beam_size=3,
        best_of=2,
        language="en",
        temperatures=(0.0, 0.5),
        no_speech_threshold=0.7,
        logprob_threshold=-0.8,
        compression_ratio_threshold=2.2,
        hallucination_silence_threshold=None,
        initial_prompt="Northwind FiberMax",
    )
    t = OpenAIWhisperTranscriber(opts)
    fake = _RecordingModel(
        {
            "language": "en",
            "segments": [
                {
                    "start": 0.5,
                    "end": 1.7,
                    "words": [
                        {"word": " Hello", "start": 0.5, "end": 0.91234, "probability": 0.987654},
                        {"word": " ", "start": 0.9, "end": 0.9, "probability": 0.1},
                        {"word": " there.", "start": 1.0, "end": 1.7, "probability": 0.5},
                    ],
                },
                {"start": 2.0, "end": 2.5, "words": []},
            ],
        }
    )
    monkeypatch.setattr(t, "model", fake)
    out = t.transcribe(np.zeros(3 * 16000, dtype=np.float64))
    (call,) = fake.calls
    assert call["audio"].dtype == np.float32
    assert call["word_timestamps"] is True
    expected = {
        "language": "en",
        "beam_size": 3,
        "best_of": 2,
        "temperature": (0.0, 0.5),
        "no_speech_threshold": 0.7,
        "logprob_threshold": -0.8,
        "compression_ratio_threshold": 2.2,
        "hallucination_silence_threshold": None,
        "initial_prompt": "Northwind FiberMax",
        "condition_on_previous_text": False,
        "fp16": False,
    }
    assert {k: call[k] for k in expected} == expected
    assert [(w.word, w.start, w.end, w.prob) for w in out.words] == [
        ("Hello", 0.5, 0.912, 0.9877),
        ("there.", 1.0, 1.7, 0.5),
    ]
    assert out.segments == ((0.5, 1.7), (2.0, 2.5))
    assert out.language == "en"


def test_model_is_loaded_once_per_process(
    transcriber: OpenAIWhisperTranscriber, checkpoint: Path
) -> None:
    other = OpenAIWhisperTranscriber(
        OpenAIWhisperOptions(checkpoint=str(checkpoint), beam_size=4, language="en")
    )
    assert other.model is transcriber.model
    assert other.loaded.lock is transcriber.loaded.lock
    assert other.params() != transcriber.params()


def test_multilingual_checkpoint_detects_a_language(tmp_path: Path) -> None:
    path = _random_checkpoint(tmp_path / "multi-random.pt", n_vocab=51865)
    t = OpenAIWhisperTranscriber(
        OpenAIWhisperOptions(checkpoint=str(path), **{**FAST, "language": None})
    )
    assert t.multilingual
    lang, prob = t.detect_language(decode(sample_audio("wrong_number")).channels[0])
    assert lang in whisper.tokenizer.LANGUAGES and 0.0 <= prob <= 1.0


@pytest.fixture
def as_official(checkpoint: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Register the random checkpoint as if it were an official name (whisper's name ->
    URL table, whose URLs carry the file's sha256), so resolving names needs no network."""
    url = f"https://example.invalid/models/{_sha256(checkpoint)}/tiny-random.pt"
    monkeypatch.setitem(whisper._MODELS, "tiny-random", url)

    def no_network(*args: Any) -> None:
        raise AssertionError("tried to download")

    monkeypatch.setattr(whisper, "_download", no_network)
    return "tiny-random"


def test_official_name_resolves_from_the_download_root_without_fetching(
    as_official: str, checkpoint: Path, tmp_path: Path
) -> None:
    (tmp_path / "tiny-random.pt").write_bytes(checkpoint.read_bytes())
    t = OpenAIWhisperTranscriber(OpenAIWhisperOptions(as_official, download_root=tmp_path))
    assert t.model_name == "tiny-random"
    assert t.lineage() == {
        "model_path": str((tmp_path / "tiny-random.pt").resolve()),
        "model_sha256": _sha256(checkpoint),
        "official_name": "tiny-random",
    }


def test_a_corrupt_official_checkpoint_is_not_silently_refetched(
    as_official: str, tmp_path: Path
) -> None:
    (tmp_path / "tiny-random.pt").write_bytes(b"truncated")
    with pytest.raises(ModelNotFoundError, match="expected"):
        OpenAIWhisperTranscriber(OpenAIWhisperOptions(as_official, download_root=tmp_path))


def test_downloads_happen_only_when_allowed(
    as_official: str, checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fetched: list[str] = []

    def fake_download(url: str, root: str, in_memory: bool) -> str:
        fetched.append(url)
        target = Path(root) / "tiny-random.pt"
        target.write_bytes(checkpoint.read_bytes())
        return str(target)

    monkeypatch.setattr(whisper, "_download", fake_download)
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        OpenAIWhisperTranscriber(OpenAIWhisperOptions(as_official, download_root=tmp_path))
    assert fetched == []
    opts = OpenAIWhisperOptions(as_official, download_root=tmp_path, allow_download=True)
    t = OpenAIWhisperTranscriber(opts)
    assert len(fetched) == 1 and t.lineage()["model_sha256"] == _sha256(checkpoint)


def test_missing_checkpoint_name_says_how_to_provide_one(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError) as err:
        OpenAIWhisperTranscriber(OpenAIWhisperOptions("small", download_root=tmp_path / "root"))
    msg = str(err.value)
    assert "'small'" in msg and str(tmp_path / "root" / "small.pt") in msg
    assert ".pt checkpoint" in msg and "CALLSCOPE_MODEL" in msg
    assert "CALLSCOPE_OPENAI_WHISPER_DOWNLOAD_ROOT" in msg
    assert not (tmp_path / "root" / "small.pt").exists()  # nothing was fetched


def test_missing_checkpoint_path_and_unknown_name(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="no such file"):
        OpenAIWhisperTranscriber(OpenAIWhisperOptions(str(tmp_path / "nope.pt")))
    with pytest.raises(ModelNotFoundError, match="unknown name"):
        OpenAIWhisperTranscriber(OpenAIWhisperOptions("tiny-random", download_root=tmp_path))


def test_a_file_that_is_not_a_checkpoint_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a torch file")
    with pytest.raises(
        ModelNotFoundError, match=r"could not load .* as an openai-whisper checkpoint"
    ):
        OpenAIWhisperTranscriber(OpenAIWhisperOptions(str(bad)))


def test_registry_builds_the_engine_from_settings(checkpoint: Path) -> None:
    settings = Settings(
        engine="openai-whisper",
        model=str(checkpoint),
        beam_size=2,
        temperatures=(0.0,),
        language="en",
        initial_prompt="Acme",
        _env_file=None,  # type: ignore[call-arg]
    )
    engine = make_transcriber(settings)
    assert engine.engine == "openai-whisper" and engine.model_name == str(checkpoint)
    params = engine.params()
    assert params["beam_size"] == 2 and params["initial_prompt"] == "Acme"
    assert params["logprob_threshold"] == settings.log_prob_threshold
    assert engine.lineage()["model_sha256"] == _sha256(checkpoint)


def test_without_the_extra_constructing_says_how_to_install_it() -> None:
    code = (
        "import sys\n"
        "sys.modules['whisper'] = None\n"
        "from analytics.errors import ConfigError\n"
        "from analytics.transcription.openai_whisper import OpenAIWhisperTranscriber\n"
        "try:\n"
        "    OpenAIWhisperTranscriber()\n"
        "except ConfigError as exc:\n"
        "    sys.stdout.write(str(exc))\n"
        "else:\n"
        "    sys.exit('no ConfigError')\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert "pip install 'callscope[openai-whisper]'" in proc.stdout
