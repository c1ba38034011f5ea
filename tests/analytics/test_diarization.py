"""Diarization: word attribution by interval index, speaker-count detection, the
clustering diarizer on the labelled mono set, channels on stereo, pyannote adapter, DER."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from analytics.align import SpeakerStream
from analytics.audio import decode
from analytics.config import Settings
from analytics.diarization import (
    AutoDiarizer,
    ChannelDiarizer,
    ClusteringDiarizer,
    ClusteringOptions,
    DiarizerUnavailableError,
    SpeakerTurn,
    make_diarizer,
)
from analytics.diarization.attribution import (
    TurnIndex,
    assemble,
    attribute_words,
    merge_turns,
    overlap_regions,
    snap_turns,
)
from analytics.diarization.counting import (
    EMBEDDING_THRESHOLDS,
    anderson_darling,
    cluster_embeddings,
    options_for,
)
from analytics.errors import ConfigError
from analytics.evaluation import DiarizationScore, diarization_error
from analytics.models import CallMetadata, Word
from analytics.transcription.base import EngineTranscript
from tests.conftest import ROOT, sample_audio, sample_sidecar

DIARIZATION_SET = ROOT / "data" / "diarization"
STEREO = ["billing_resolved", "angry_unresolved", "sales_outbound", "appointment_reschedule"]


def _w(start: float, end: float, text: str = "w") -> Word:
    return Word(text, start, end, 0.9)


def _t(speaker: str, start: float, end: float) -> SpeakerTurn:
    return SpeakerTurn(speaker, start, end)


# --- interval index and word attribution ----------------------------------------------

TURNS = [_t("A", 0.0, 5.0), _t("B", 5.0, 9.0), _t("A", 10.0, 12.0)]


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        pytest.param((1.0, 1.4), "A", id="inside-first-turn"),
        pytest.param((6.0, 6.5), "B", id="inside-second-turn"),
        pytest.param((4.6, 5.2), "A", id="straddles-boundary-mostly-before"),
        pytest.param((4.9, 5.6), "B", id="straddles-boundary-mostly-after"),
        pytest.param((9.1, 9.3), "B", id="in-a-gap-nearer-the-earlier-turn"),
        pytest.param((9.7, 9.9), "A", id="in-a-gap-nearer-the-later-turn"),
        pytest.param((13.0, 13.5), "A", id="after-the-last-turn"),
        pytest.param((8.8, 10.2), "B", id="spans-a-gap-more-in-b"),
    ],
)
def test_a_word_goes_to_the_turn_it_overlaps_most(word: tuple[float, float], expected: str) -> None:
    assert attribute_words([_w(*word)], TURNS) == [expected]


OVERLAP = [_t("A", 0.0, 5.0), _t("B", 4.0, 8.0)]


@pytest.mark.parametrize(
    ("words", "prefer", "expected"),
    [
        pytest.param([(4.2, 4.6)], None, ["A"], id="overlap-tie-goes-to-earlier-turn"),
        pytest.param(
            [(3.0, 3.5), (4.2, 4.6)], None, ["A", "A"], id="overlap-tie-keeps-previous-speaker"
        ),
        pytest.param(
            [(6.0, 6.3), (4.2, 4.6)], None, ["B", "A"], id="order-of-input-words-does-not-matter"
        ),
        pytest.param([(4.2, 4.6)], "B", ["B"], id="overlap-tie-goes-to-the-better-embedding"),
        pytest.param([(4.8, 5.6)], "A", ["B"], id="clear-majority-ignores-the-preference"),
    ],
)
def test_overlapped_speech_attribution(
    words: list[tuple[float, float]], prefer: str | None, expected: list[str]
) -> None:
    chooser = None if prefer is None else (lambda w, cands: prefer if prefer in cands else cands[0])
    assert attribute_words([_w(*w) for w in words], OVERLAP, chooser) == expected


def test_interval_index_matches_brute_force() -> None:
    rng = np.random.default_rng(7)
    starts = np.sort(rng.uniform(0, 100, 300))
    turns = [_t(f"s{i % 3}", s, s + rng.uniform(0.1, 4.0)) for i, s in enumerate(starts)]
    index = TurnIndex(turns)
    for _ in range(500):
        a = float(rng.uniform(-1, 101))
        b = a + float(rng.uniform(0, 2))
        expected = [i for i, t in enumerate(index.turns) if t.end >= a and t.start <= b]
        assert index.overlapping(a, b) == expected


def test_attribution_is_not_quadratic() -> None:
    turns = [_t(f"s{i % 2}", i * 1.0, i * 1.0 + 0.9) for i in range(20_000)]
    words = [_w(i * 0.25, i * 0.25 + 0.2) for i in range(80_000)]
    # an interval index: a quadratic loop would need ~1.6e9 comparisons here (its speed
    # is measured in bench/diarize.py, not asserted)
    speakers = attribute_words(words, turns)
    assert speakers[0] == "s0" and speakers[4] == "s1"


def test_snapping_moves_edges_out_of_words() -> None:
    words = [_w(4.5, 5.4, "extends"), _w(8.8, 9.5, "other")]
    turns = [_t("A", 0.0, 5.0), _t("B", 5.2, 9.0), _t("A", 9.2, 12.0)]
    speakers = ["A", "A"]  # both words are A's
    snapped = snap_turns(turns, words, speakers)
    # A's first turn grows to the end of its word; B's turn starts after that word and
    # ends before A's next word
    assert snapped[0] == _t("A", 0.0, 5.4)
    assert snapped[1] == _t("B", 5.4, 8.8)
    # A's last turn grows back to the start of its word
    assert snapped[2] == _t("A", 8.8, 12.0)


def test_overlap_regions_and_merging() -> None:
    turns = [_t("A", 0, 5), _t("B", 4, 8), _t("C", 4.5, 6), _t("A", 7.5, 9)]
    regions = overlap_regions(turns)
    assert [(r.start, r.end, r.speakers) for r in regions] == [
        (4, 4.5, ("A", "B")),
        (4.5, 5, ("A", "B", "C")),
        (5, 6, ("B", "C")),
        (7.5, 8, ("A", "B")),
    ]
    assert merge_turns([_t("A", 0, 1), _t("A", 1.2, 2)], gap_s=0.3) == [_t("A", 0, 2)]


def test_assemble_keeps_every_word_once_and_lists_overlaps() -> None:
    words = [_w(0.5, 1.0, "hello"), _w(4.3, 4.6, "yes"), _w(6.0, 6.5, "bye")]
    result = assemble("test", OVERLAP, words)
    assert sorted(w.word for s in result.streams for w in s.words) == ["bye", "hello", "yes"]
    assert [s.speaker for s in result.streams] == ["A", "B"]
    assert [(r.start, r.end) for r in result.overlaps] == [(4.0, 5.0)]


# --- speaker count ----------------------------------------------------------------------


def _voices(sizes: list[int], spread: float = 0.35, seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(len(sizes), 256))
    rows = [c + spread * rng.normal(size=(n, 256)) for c, n in zip(centers, sizes, strict=True)]
    emb = np.concatenate(rows)
    return emb / np.linalg.norm(emb, axis=1, keepdims=True)


@pytest.mark.parametrize("sizes", [[40], [30, 20], [30, 20, 15], [20, 20, 15, 15]])
def test_speaker_count_is_detected(sizes: list[int]) -> None:
    clusters = cluster_embeddings(_voices(sizes), ClusteringOptions())
    assert clusters.labels.max() + 1 == len(sizes)


def test_a_tiny_cluster_is_not_a_speaker_and_a_forced_count_wins() -> None:
    emb = _voices([40, 3])  # 3 windows x 0.75 s < min_speaker_s
    assert cluster_embeddings(emb, ClusteringOptions()).labels.max() == 0
    assert cluster_embeddings(emb, ClusteringOptions(num_speakers=2)).labels.max() == 1
    two = _voices([30, 20])
    assert cluster_embeddings(two, ClusteringOptions(max_speakers=1)).labels.max() == 0
    assert cluster_embeddings(_voices([40]), ClusteringOptions(min_speakers=2)).labels.max() == 1


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def test_anderson_darling_tells_one_bump_from_two() -> None:
    rng = np.random.default_rng(0)
    one = rng.normal(size=60)
    two = np.concatenate([rng.normal(-4, 1, 30), rng.normal(4, 1, 30)])
    assert anderson_darling(one) < 1.0
    assert anderson_darling(two) > ClusteringOptions().min_bimodality
    assert anderson_darling(np.ones(10)) == 0.0


def test_a_few_outlying_windows_do_not_hide_a_quieter_second_voice() -> None:
    """Two similar voices (30 and 10 windows) and 3 odd windows (a cough, a door): the
    tree's first split isolates the odd windows; they are folded into a voice and the
    second voice is still found."""
    rng = np.random.default_rng(5)
    a = _unit(rng.normal(size=256))
    b = _unit(0.8 * a + 0.6 * _unit(rng.normal(size=256)))
    odd = _unit(rng.normal(size=256))
    rows = [c + 0.04 * rng.normal(size=(n, 256)) for c, n in ((a, 30), (b, 10), (odd, 3))]
    clusters = cluster_embeddings(_unit(np.concatenate(rows)), ClusteringOptions())
    assert clusters.labels.max() == 1
    assert len(set(clusters.labels[:30])) == 1 and len(set(clusters.labels[30:40])) == 1
    assert clusters.labels[0] != clusters.labels[30]


def test_many_odd_windows_do_not_shatter_two_clear_voices() -> None:
    """Two clearly different voices and a dozen odd windows, each unlike anything else:
    the tree splits off one odd window after another and never reaches the voices, so
    the k-means partition (best silhouette of seeded restarts) finds them."""
    rng = np.random.default_rng(11)
    a = _unit(rng.normal(size=256))
    b = _unit(0.6 * a + 0.8 * _unit(rng.normal(size=256)))  # centroids 0.6 apart
    rows = [c + 0.03 * rng.normal(size=(n, 256)) for c, n in ((a, 25), (b, 20))]
    odd = _unit(rng.normal(size=(12, 256)))  # each unlike both voices and each other
    emb = _unit(np.concatenate([*rows, odd]))
    tree_only = cluster_embeddings(emb, ClusteringOptions(kmeans=False))
    assert tree_only.labels.max() == 0
    clusters = cluster_embeddings(emb, ClusteringOptions())
    assert clusters.labels.max() == 1
    assert len(set(clusters.labels[:25])) == 1 and len(set(clusters.labels[25:45])) == 1
    assert clusters.labels[0] != clusters.labels[25]


def test_one_voice_that_drifts_is_not_split_in_two() -> None:
    """One voice whose windows drift along one direction (loudness, line noise): a split
    in the middle gives centroids far enough apart, but the windows form one normal bump
    along that line, so it stays one speaker (and two when the bimodality test is off).
    GE2E's thresholds: the test is on for that embedding."""
    rng = np.random.default_rng(7)
    c, drift = _unit(rng.normal(size=256)), _unit(rng.normal(size=256))
    t = rng.normal(size=(60, 1))
    emb = _unit(c + 0.45 * t * drift + 0.02 * rng.normal(size=(60, 256)))
    assert cluster_embeddings(emb, options_for("ge2e")).labels.max() == 0
    off = options_for("ge2e", min_bimodality=0.0, min_silhouette=0.0)
    assert cluster_embeddings(emb, off).labels.max() == 1


# --- DER ----------------------------------------------------------------------------------


def test_der_maps_speakers_optimally_and_uses_a_collar_per_side() -> None:
    ref = [{"speaker": "a", "start": 0, "end": 10}, {"speaker": "b", "start": 10, "end": 20}]
    assert diarization_error(ref, [_t("x", 0, 10), _t("y", 10, 20)]).der == 0.0
    shifted = diarization_error(ref, [_t("x", 0, 10.2), _t("y", 10.2, 20)], collar_s=0.25)
    assert shifted.der == 0.0
    late = diarization_error(ref, [_t("x", 0, 11), _t("y", 11, 20)], collar_s=0.0)
    assert late.confusion_s == pytest.approx(1.0) and late.der == pytest.approx(0.05)
    one = diarization_error(ref, [_t("x", 0, 20)], collar_s=0.0)
    assert one.der == pytest.approx(0.5)
    assert (one + late).reference_s == pytest.approx(40.0)
    assert DiarizationScore(0, 0, 0, 0).der == 0.0


# --- registry -----------------------------------------------------------------------------


def test_registry_builds_each_diarizer() -> None:
    assert make_diarizer(Settings(diarizer="none")) is None
    assert isinstance(make_diarizer(Settings()), AutoDiarizer)
    clustering = make_diarizer(Settings(diarizer="clustering", diarization_speakers=2))
    assert isinstance(clustering, ClusteringDiarizer)
    assert clustering.options.num_speakers == 2
    assert isinstance(make_diarizer(Settings(diarizer="channels")), ChannelDiarizer)
    with pytest.raises(ConfigError, match="unknown diarizer"):
        make_diarizer(Settings(diarizer="magic"))
    with pytest.raises(ConfigError, match="min"):
        make_diarizer(Settings(diarization_min_speakers=3, diarization_max_speakers=2))


def test_each_speaker_embedding_brings_its_own_thresholds() -> None:
    default = make_diarizer(Settings(diarizer="clustering"))
    assert isinstance(default, ClusteringDiarizer)
    assert default.options == ClusteringDiarizer().options
    assert default.options.embedding == "fused"
    for name in ("ecapa", "ge2e"):
        chosen = make_diarizer(
            Settings(diarizer="clustering", speaker_embedding=name, diarization_speakers=2)
        )
        assert isinstance(chosen, ClusteringDiarizer)
        expected = EMBEDDING_THRESHOLDS[name]["max_centroid_similarity"]
        assert chosen.options.embedding == name
        assert chosen.options.max_centroid_similarity == expected
        assert chosen.options.num_speakers == 2
        assert chosen.params()["embedding"] == name  # in every analysis's lineage
    with pytest.raises(ValueError, match="fused, ge2e, ecapa"):
        options_for("xvector")


def test_without_the_ecapa_weights_clustering_falls_back_to_ge2e(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from analytics.diarization import ecapa
    from analytics.diarization.base import DiarizerUnavailableError

    def missing(*_: object, **__: object) -> None:
        raise DiarizerUnavailableError("the ECAPA speaker model is not at X: run `make setup`")

    monkeypatch.setattr(ecapa, "embed_call", missing)
    diarizer = ClusteringDiarizer()
    audio = decode(sample_audio("wrong_number"))
    result = diarizer.diarize(audio, _no_words(), CallMetadata(call_id="fallback"))
    assert result.params["embedding"] == "ge2e"
    assert (
        result.params["max_centroid_similarity"]
        == EMBEDDING_THRESHOLDS["ge2e"]["max_centroid_similarity"]
    )
    assert len(result.speakers) == 2


# --- pyannote (optional extra) ------------------------------------------------------------


def test_pyannote_import_guard_names_the_extra() -> None:
    pytest.importorskip("pyannote.core")  # pyannote.metrics brings it; pyannote.audio not
    try:
        import pyannote.audio  # noqa: F401
    except ImportError:
        pass
    else:  # pragma: no cover - only where the extra is installed
        pytest.skip("pyannote.audio is installed here")
    with pytest.raises(DiarizerUnavailableError, match=r"callscope\[pyannote\]"):
        make_diarizer(Settings(diarizer="pyannote", pyannote_pipeline=Path("/nonexistent")))


class _Segment:
    def __init__(self, start: float, end: float) -> None:
        self.start, self.end = start, end


class _DuckAnnotation:
    """Shaped like pyannote.core.Annotation's itertracks(yield_label=True)."""

    def __init__(self, tracks: list[tuple[float, float, str]]) -> None:
        self.tracks = tracks

    def itertracks(self, yield_label: bool = False) -> Iterator[tuple[Any, ...]]:
        for i, (s, e, label) in enumerate(self.tracks):
            yield (_Segment(s, e), f"t{i}", label) if yield_label else (_Segment(s, e), f"t{i}")


def _expected_turns() -> list[SpeakerTurn]:
    return [_t("spk0", 0.5, 3.0), _t("spk1", 2.5, 6.0), _t("spk0", 6.5, 9.0)]


def test_annotation_conversion_with_a_duck_typed_annotation() -> None:
    from analytics.diarization.pyannote_audio import annotation_to_turns

    tracks = [(6.5, 9.0, "SPEAKER_01"), (0.5, 3.0, "SPEAKER_01"), (2.5, 6.0, "SPEAKER_00")]
    assert annotation_to_turns(_DuckAnnotation(tracks)) == _expected_turns()


def test_annotation_conversion_with_a_real_pyannote_annotation() -> None:
    core = pytest.importorskip("pyannote.core")
    from analytics.diarization.pyannote_audio import annotation_to_turns

    ann = core.Annotation()
    ann[core.Segment(0.5, 3.0)] = "SPEAKER_01"
    ann[core.Segment(2.5, 6.0)] = "SPEAKER_00"
    ann[core.Segment(6.5, 9.0)] = "SPEAKER_01"
    assert annotation_to_turns(ann) == _expected_turns()


# --- on real audio (Resemblyzer; no transcription) ----------------------------------------


def _no_words(diarization: str = "none", streams: tuple[SpeakerStream, ...] = ()) -> Any:
    return EngineTranscript(streams, "en", 1.0, diarization, 0.0)


@pytest.fixture(scope="module")
def clustering() -> ClusteringDiarizer:
    pytest.importorskip("resemblyzer")
    return ClusteringDiarizer()


@pytest.fixture(scope="module")
def generated_set(clustering: ClusteringDiarizer) -> dict[str, tuple[dict, float, Any]]:
    """Every call of the generated mono set diarized once from audio alone:
    call id -> (sidecar, duration, result)."""
    out = {}
    for side_path in sorted(DIARIZATION_SET.glob("*.json")):
        side = json.loads(side_path.read_text())
        audio = decode(side_path.with_suffix(".flac"))
        assert audio.n_channels == 1 and audio.source_sample_rate == 8000
        result = clustering.diarize(audio, _no_words(), CallMetadata(side["call_id"]))
        out[side["call_id"]] = (side, audio.duration_s, result)
    return out


def test_voicemail_is_one_speaker(generated_set: dict[str, tuple[dict, float, Any]]) -> None:
    _, _, result = generated_set["dz_voicemail"]
    assert result.method == "clustering" and result.speakers == ("spk0",)
    assert not result.overlaps


def test_three_party_call_is_three_speakers(
    generated_set: dict[str, tuple[dict, float, Any]],
) -> None:
    side, _, result = generated_set["dz_supervisor_transfer"]
    assert len(result.speakers) == 3
    assert diarization_error(side["reference"]["turns"], result.turns).der <= 0.10


def test_clustering_keeps_der_003_on_the_generated_mono_set(
    generated_set: dict[str, tuple[dict, float, Any]],
) -> None:
    """The synthetic set must not get worse: DER <= 0.03 (pyannote collar 0.25, i.e.
    0.125 s each side; measured 0.023), every call with the right speaker count."""
    total = DiarizationScore(0.0, 0.0, 0.0, 0.0)
    assert len(generated_set) >= 12
    for call_id, (side, duration, result) in generated_set.items():
        ref = side["reference"]["turns"]
        assert len(result.speakers) == len({t["speaker"] for t in ref}), call_id
        total = total + diarization_error(ref, result.turns, 0.125, duration)
    assert total.der <= 0.03  # seconds per audio second: bench/accuracy.py, bench/diarize.py


@pytest.mark.parametrize("name", STEREO)
def test_stereo_through_channels_is_exact(name: str) -> None:
    pytest.importorskip("resemblyzer")
    side = sample_sidecar(name)
    audio = decode(sample_audio(name))
    roles = side["channel_roles"]
    streams = tuple(SpeakerStream(f"ch{i}", roles[i], (), channel=i) for i in range(2))
    result = ChannelDiarizer().diarize(audio, _no_words("channels", streams), CallMetadata(name))
    assert result.method == "channels" and result.streams == streams
    role_of = {f"ch{i}": roles[i] for i in range(2)}
    ref = [{**t, "speaker": t["role"]} for t in side["reference"]["turns"]]
    hyp = [SpeakerTurn(role_of[t.speaker], t.start, t.end) for t in result.turns]
    assert diarization_error(ref, hyp, 0.25, audio.duration_s).der <= 0.05


def test_auto_picks_clustering_for_mono_and_channels_for_stereo() -> None:
    auto = AutoDiarizer()
    assert auto.choose(_no_words("none")) is auto.clustering
    assert auto.choose(_no_words("channels")) is auto.channels
    assert auto.choose(_no_words("engine")) is auto.engine


# --- pipeline hook (fake engine and diarizer; no models) ------------------------------------


class _FakeEngine:
    engine, model_name, wants_url = "fake", "m", False

    def __init__(self, words: list[Word]) -> None:
        self.words = words

    def transcribe_call(self, audio: Any, metadata: Any, media: Any) -> EngineTranscript:
        stream = SpeakerStream("unknown", None, tuple(self.words))
        return EngineTranscript((stream,), "en", 1.0, "none", 0.0)

    def params(self) -> dict[str, Any]:
        return {}

    def lineage(self) -> dict[str, Any]:
        return {}


class _FixedDiarizer:
    name = "clustering"

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail

    def params(self) -> dict[str, Any]:
        return {"diarizer": self.name}

    def diarize(self, audio: Any, transcript: EngineTranscript, metadata: Any) -> Any:
        if self.fail:
            raise RuntimeError("boom")
        words = list(transcript.streams[0].words)
        turns = [_t("spk0", 0, 2.0), _t("spk1", 2.5, 5.0)]
        return assemble(self.name, turns, words, None, self.params())


def _wav(tmp_path: Path) -> Path:
    from tests.audio_fixtures import line_noise, write_wav

    return write_wav(tmp_path / "call.wav", line_noise(5.0))


def test_pipeline_applies_the_diarizer_and_roles(tmp_path: Path) -> None:
    from analytics.pipeline import process_call

    words = [
        _w(0.1, 0.5, "thank"), _w(0.5, 0.8, "you"), _w(0.8, 1.0, "for"), _w(1.0, 1.5, "calling"),
        _w(2.6, 3.0, "i'm"), _w(3.0, 3.4, "calling"), _w(3.4, 3.8, "about"),
        _w(3.8, 4.0, "my"), _w(4.0, 4.5, "bill"),
    ]  # fmt: skip
    path = _wav(tmp_path)
    md = CallMetadata("c", direction="inbound")
    result = process_call(
        path, transcriber=_FakeEngine(words), metadata=md, source_uri=str(path),
        diarizer=_FixedDiarizer(),  # type: ignore[arg-type]
    )  # fmt: skip
    assert result.diarization == "clustering"
    assert [(u.speaker, u.role) for u in result.utterances] == [
        ("spk0", "agent"),
        ("spk1", "customer"),
    ]
    assert all(0.5 < (u.role_confidence or 0) <= 1 for u in result.utterances)
    assert result.params["diarization"] == {"diarizer": "clustering", "roles": "heuristic"}
    plain = process_call(path, transcriber=_FakeEngine(words), metadata=md, source_uri="x")
    assert plain.diarization == "none" and {u.speaker for u in plain.utterances} == {"unknown"}
    assert "diarization" not in plain.params


def test_a_failing_diarizer_fails_the_diarize_stage(tmp_path: Path) -> None:
    from analytics.diarization import DiarizationError
    from analytics.pipeline import process_call

    path = _wav(tmp_path)
    with pytest.raises(DiarizationError, match="boom") as err:
        process_call(
            path, transcriber=_FakeEngine([_w(0.1, 0.5)]), metadata=CallMetadata("c"),
            source_uri=str(path), diarizer=_FixedDiarizer(fail=True),  # type: ignore[arg-type]
        )  # fmt: skip
    assert err.value.stage == "diarize" and not err.value.transient
