"""CTranslate2 -> openai-whisper conversion on the packaged tiny.en: exact names, shapes and
values, and the same words through both engines on a real recording."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("whisper")
import whisper
from whisper.model import ModelDimensions

from analytics.audio import decode
from analytics.errors import ModelNotFoundError
from analytics.transcription.ct2_to_openai import (
    Converted,
    convert,
    encode_alignment_heads,
    read_ct2_variables,
    save_checkpoint,
)
from analytics.transcription.faster_whisper import FasterWhisperOptions, FasterWhisperTranscriber
from analytics.transcription.models import resolve
from analytics.transcription.openai_whisper import (
    OpenAIWhisperOptions,
    OpenAIWhisperTranscriber,
    resolve_checkpoint,
)
from tests.conftest import ROOT

#: A real person (LibriVox reading, public domain; from the pocketsphinx test data).
REAL_CLIP = ROOT / "tests" / "data" / "real" / "librivox-0880.wav"
REAL_TEXT = "he was not an ill disposed young man"


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return resolve("tiny.en", tmp_path_factory.mktemp("cache")).path


@pytest.fixture(scope="module")
def converted(tiny_dir: Path) -> Converted:
    return convert(tiny_dir)


def test_state_dict_has_openai_whisper_names_shapes_and_the_source_values(
    tiny_dir: Path, converted: Converted
) -> None:
    dims = ModelDimensions(**vars(converted.dims))
    assert (dims.n_audio_layer, dims.n_text_layer, dims.n_audio_head, dims.n_vocab) == (
        4,
        4,
        6,
        51864,
    )
    expected = whisper.Whisper(dims).state_dict()
    got = converted.state_dict
    assert set(got) == set(expected)
    assert all(tuple(expected[k].shape) == got[k].shape for k in got)
    _, ct2 = read_ct2_variables(tiny_dir / "model.bin")
    qkv = ct2["decoder/layer_2/self_attention/linear_0/weight"].astype(np.float32)
    d = dims.n_text_state
    assert np.array_equal(got["decoder.blocks.2.attn.value.weight"], qkv[2 * d :])
    kv = ct2["decoder/layer_1/attention/linear_1/bias"].astype(np.float32)
    assert np.array_equal(got["decoder.blocks.1.cross_attn.value.bias"], kv[d:])
    assert "decoder.blocks.1.cross_attn.key.bias" not in got  # whisper keys have no bias


def test_alignment_heads_encode_the_way_whisper_decodes_them(converted: Converted) -> None:
    model = whisper.Whisper(ModelDimensions(**vars(converted.dims)))
    assert converted.alignment_heads is not None
    model.set_alignment_heads(converted.alignment_heads.encode("ascii"))
    pairs = model.alignment_heads.indices().T.tolist()
    assert sorted(pairs) == [[1, 0], [2, 0], [2, 5], [3, 0], [3, 1], [3, 2], [3, 3], [3, 4]]
    assert encode_alignment_heads([[0, 1]], converted.dims) != converted.alignment_heads


def test_what_is_not_a_whisper_ctranslate2_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match=r"holds no model\.bin"):
        convert(tmp_path)
    (tmp_path / "model.bin").write_bytes(b"\x06\x00\x00\x00garbage")
    with pytest.raises(ModelNotFoundError, match=r"not a readable CTranslate2 model\.bin"):
        convert(tmp_path)


@pytest.mark.slow
def test_same_words_through_both_engines_and_the_engine_converts_offline(
    tmp_path: Path,
) -> None:
    audio = decode(REAL_CLIP).mono()
    greedy = dict(beam_size=1, temperatures=(0.0,), language="en")
    fw = FasterWhisperTranscriber(
        FasterWhisperOptions(
            "tiny.en", compute_type="float32", vad_filter=False, cpu_threads=2, **greedy
        )
    )
    opts = OpenAIWhisperOptions(
        "tiny.en", download_root=tmp_path / "none", cache_dir=tmp_path, best_of=1, **greedy
    )
    ow = OpenAIWhisperTranscriber(opts)  # no .pt anywhere: converted from the package
    converted = tmp_path / "openai-whisper" / "tiny.en.pt"
    assert ow.lineage()["model_path"] == str(converted.resolve())
    mtime = os.stat(converted).st_mtime_ns
    fw_words, ow_words = fw.transcribe(audio).words, ow.transcribe(audio).words
    assert [w.word for w in ow_words] == [w.word for w in fw_words]
    assert " ".join(w.word for w in ow_words).lower().startswith(REAL_TEXT[:13])
    # word timings come from the same alignment heads
    assert all(abs(a.start - b.start) <= 0.1 for a, b in zip(ow_words, fw_words, strict=True))
    assert resolve_checkpoint(opts, whisper)[0] == converted.resolve()
    assert os.stat(converted).st_mtime_ns == mtime  # converted once, then reused
    save_checkpoint(convert(resolve("tiny.en", tmp_path).path), tmp_path / "copy.pt")
    assert (
        OpenAIWhisperTranscriber(OpenAIWhisperOptions(str(tmp_path / "copy.pt"), **greedy))
        .transcribe(audio)
        .words
        == ow_words
    )
