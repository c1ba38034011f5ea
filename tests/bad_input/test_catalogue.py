"""Each bad input at the stage that meets it first (no model): decode or sidecar parsing."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from analytics.audio import decode
from analytics.errors import CallscopeError, SourceError
from analytics.models import CallMetadata
from analytics.sources.local import LocalSource
from tests.bad_input.inputs import AUDIO_CASES, ESCAPE_CASES, INTRO_S, SIDECAR_CASES, Case


@pytest.mark.parametrize("case", AUDIO_CASES, ids=lambda c: c.id)
def test_audio_case_decodes_or_fails_naming_the_file(case: Case, tmp_path: Path) -> None:
    if not case.runnable():
        pytest.skip(f"{case.needs} is not installed (apt-get install {case.needs})")
    path = case.make(tmp_path)
    if case.fails is None:
        audio = decode(path)
        assert audio.duration_s > 4 and all(len(c) for c in audio.channels)
        return
    stage, pattern = case.fails
    with pytest.raises(CallscopeError) as info:
        decode(path)
    assert info.value.stage == stage
    assert case.filename in str(info.value) and re.search(pattern, str(info.value))


def test_corrupt_mp3_keeps_what_decodes_and_counts_the_loss(tmp_path: Path) -> None:
    (case,) = [c for c in AUDIO_CASES if c.id == "corrupt-mp3"]
    audio = decode(case.make(tmp_path))
    assert audio.bad_packets >= 3 and 0.05 < audio.lost_s < 1.0
    assert abs(audio.duration_s - 25.0) < 0.2  # lost packets become silence: times stay true
    assert audio.notes()["audio_bad_packets"] == audio.bad_packets


def test_a_file_cut_short_records_the_missing_seconds(tmp_path: Path) -> None:
    (case,) = [c for c in AUDIO_CASES if c.id == "truncated-mp3"]
    audio = decode(case.make(tmp_path))
    assert 13 < audio.duration_s < 17 and audio.duration_s + audio.lost_s == pytest.approx(25, 0.05)


def test_more_than_two_channels_mix_down_to_mono(tmp_path: Path) -> None:
    (case,) = [c for c in AUDIO_CASES if c.id == "three-channels"]
    audio = decode(case.make(tmp_path))
    assert audio.n_channels == 1 and audio.source_channels == 3
    assert audio.notes() == {"audio_mixed_channels": 3}


@pytest.mark.parametrize("case", [c for c in SIDECAR_CASES if c.fails], ids=lambda c: c.id)
def test_bad_sidecar_fails_with_a_message_naming_the_problem(case: Case, tmp_path: Path) -> None:
    case.make(tmp_path)
    source = LocalSource(tmp_path)
    (ref,) = source.list()
    stage, pattern = case.fails  # type: ignore[misc]
    with pytest.raises(CallscopeError) as info:
        CallMetadata.from_sidecar(source.read_sidecar(ref) or {}, default_call_id=ref.stem)
    assert info.value.stage == stage
    assert re.search(pattern, str(info.value)), str(info.value)


@pytest.mark.parametrize("case", [c for c in SIDECAR_CASES if not c.fails], ids=lambda c: c.id)
def test_odd_keys_are_listed_and_read(case: Case, tmp_path: Path) -> None:
    case.make(tmp_path)
    (ref,) = LocalSource(tmp_path).list()
    assert ref.key == case.filename and ref.sidecar_key is not None
    assert decode(ref.uri).n_channels == 2


def test_ivr_intro_keeps_the_call_after_the_tones(tmp_path: Path) -> None:
    (case,) = [c for c in AUDIO_CASES if c.id == "ivr-intro"]
    audio = decode(case.make(tmp_path))
    call = audio.channels[0][int(INTRO_S * audio.sample_rate) :]
    assert audio.duration_s == pytest.approx(INTRO_S + 8.0, abs=0.05)
    assert float((call**2).mean()) > 1e-4  # speech follows the tones


@pytest.mark.parametrize("case", ESCAPE_CASES, ids=lambda c: c.id)
def test_a_key_leading_out_of_the_source_is_never_listed_nor_read(
    case: Case, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "calls"
    folder.mkdir()
    case.make(folder)
    assert (tmp_path / "outside.wav").is_file() and (folder / case.filename).is_symlink()
    source = LocalSource(folder)
    assert list(source.list()) == []
    assert "resolves outside the source directory" in caplog.text
    for key in (case.filename, "../outside.wav", "sub/../../outside.wav"):
        with pytest.raises(SourceError, match="outside the source directory"):
            source.ref(key)
