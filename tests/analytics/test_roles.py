"""Agent/customer roles: the cue heuristic, sidecar roles, confidences, and roles on
diarized mono calls end to end."""

from __future__ import annotations

import json
from typing import Any

import pytest

from analytics.align import SpeakerStream
from analytics.diarization import (
    DiarizationResult,
    HeuristicRoleAssigner,
    RoleGuess,
    SpeakerTurn,
    assign_roles,
)
from analytics.evaluation import evaluate_call, labelled_set, overall_score
from analytics.models import CallMetadata, CallResult, Utterance, Word
from analytics.pipeline import PipelineOptions, process_call, process_call_detailed
from analytics.transcription.channels import UNKNOWN_SPEAKER
from tests.conftest import ROOT, sample_audio, sample_sidecar


def _result(*lines: tuple[str, float, float, str]) -> DiarizationResult:
    """A diarization from (speaker, start, end, text) lines; words spread over the line."""
    words: dict[str, list[Word]] = {}
    turns = []
    for speaker, start, end, text in lines:
        tokens = text.split()
        step = (end - start) / len(tokens)
        words.setdefault(speaker, []).extend(
            Word(tok, start + i * step, start + (i + 1) * step, 0.9) for i, tok in enumerate(tokens)
        )
        turns.append(SpeakerTurn(speaker, start, end))
    streams = tuple(SpeakerStream(s, None, tuple(ws)) for s, ws in words.items())
    return DiarizationResult("clustering", tuple(turns), streams)


def _roles(result: DiarizationResult, direction: str | None = "inbound") -> dict[str, RoleGuess]:
    return HeuristicRoleAssigner().assign(result, CallMetadata("c", direction=direction))


CASES: list[Any] = [
    pytest.param(
        "inbound",
        [
            ("spk0", 0, 4, "Thank you for calling Northwind, my name is Ana. How can I help you?"),
            ("spk1", 5, 9, "Hi, I'm calling about my bill, it looks wrong."),
            ("spk0", 10, 14, "Can I have your account number, please? Let me check."),
            ("spk1", 15, 17, "Sure, it's one two three."),
            ("spk0", 18, 21, "Is there anything else I can help you with?"),
        ],
        {"spk0": "agent", "spk1": "customer"},
        id="inbound-script",
    ),
    pytest.param(
        "inbound",
        [
            ("spk0", 0, 3, "Hello, I want to cancel my internet service."),
            ("spk1", 4, 8, "I can help with that. Can you verify your date of birth?"),
            ("spk0", 9, 11, "March third."),
        ],
        {"spk0": "customer", "spk1": "agent"},
        id="customer-talks-first-but-agent-verifies",
    ),
    pytest.param(
        "outbound",
        [
            ("spk0", 0, 1, "Hello?"),
            (
                "spk1",
                2,
                6,
                "Hi, this is Chloe calling from Northwind. Am I speaking with Mr Garcia?",
            ),
            ("spk0", 7, 9, "Yes, who is calling?"),
            ("spk1", 10, 14, "I'm calling because you qualify for an upgrade."),
            ("spk0", 15, 17, "Okay. Thanks for calling."),
        ],
        {"spk0": "customer", "spk1": "agent"},
        id="outbound-customer-picks-up-and-thanks-for-the-call",
    ),
    pytest.param(
        "inbound",
        [
            ("spk0", 0, 4, "Thanks for calling, this is Chloe. How can I help?"),
            ("spk1", 5, 9, "My internet is down again. I want to speak to a supervisor."),
            ("spk0", 10, 13, "Please hold for a moment while I transfer you."),
            ("spk2", 20, 26, "Hello, this is Robert, the supervisor. I'm sorry about the trouble."),
            ("spk1", 27, 29, "Thank you."),
            ("spk2", 30, 34, "I'm adding a credit. Is there anything else I can help you with?"),
        ],
        {"spk0": "agent", "spk1": "customer", "spk2": "agent"},
        id="three-party-supervisor-is-company-side",
    ),
]


@pytest.mark.parametrize(("direction", "lines", "expected"), CASES)
def test_heuristic_roles(
    direction: str, lines: list[tuple[str, float, float, str]], expected: dict[str, str]
) -> None:
    guesses = _roles(_result(*lines), direction)
    assert {s: g.role for s, g in guesses.items()} == expected
    for guess in guesses.values():
        assert guess.confidence is not None and 0.5 < guess.confidence <= 1.0


def test_without_cues_the_first_speaker_on_inbound_is_the_agent_with_low_confidence() -> None:
    guesses = _roles(_result(("spk0", 0, 3, "Hello there."), ("spk1", 4, 7, "Hi, good morning.")))
    assert guesses["spk0"].role == "agent" and guesses["spk1"].role == "customer"
    assert guesses["spk0"].confidence is not None and guesses["spk0"].confidence < 0.8


@pytest.mark.parametrize(
    ("direction", "text", "role"),
    [
        (
            "outbound",
            "Hi, this is Mike from Northwind about your appointment. Call us back.",
            "agent",
        ),
        ("inbound", "Hi, I'm calling about my bill. Please call me back.", "customer"),
        ("outbound", "Hmm.", "agent"),  # no cue at all: the caller of an outbound call
    ],
)
def test_single_speaker_voicemail(direction: str, text: str, role: str) -> None:
    guesses = _roles(_result(("spk0", 0, 5, text)), direction)
    assert guesses["spk0"].role == role


def test_sidecar_roles_are_kept_with_full_confidence() -> None:
    streams = (
        SpeakerStream("ch0", "customer", (Word("thank you for calling", 0, 1, 0.9),), 0),
        SpeakerStream("ch1", None, (Word("hi", 2, 3, 0.9),), 1),
    )
    turns = (SpeakerTurn("ch0", 0, 1), SpeakerTurn("ch1", 2, 3))
    result = DiarizationResult("channels", turns, streams)
    guesses = assign_roles(result, CallMetadata("c"), HeuristicRoleAssigner())
    assert guesses["ch0"] == RoleGuess("customer", 1.0)
    assert guesses["ch1"].role in ("agent", "customer")
    assert assign_roles(result, CallMetadata("c"), None)["ch1"] == RoleGuess(None, None)


def test_role_confidence_survives_the_json_round_trip() -> None:
    side = sample_sidecar("wrong_number")
    md = CallMetadata.from_sidecar(side, default_call_id="x")
    utt = Utterance("spk0", "agent", 0.0, 1.0, "hi", (Word("hi", 0, 1, 0.9),), None, 0.87)
    result = CallResult(
        call_id="x",
        source_uri="s",
        etag=None,
        duration_s=1.0,
        channels=1,
        sample_rate=8000,
        language="en",
        language_prob=1.0,
        engine="e",
        model="m",
        pipeline_version="v",
        params={},
        metadata=md,
        utterances=(utt,),
        diarization="clustering",
    )
    back = CallResult.from_dict(json.loads(result.to_json()))
    assert back.utterances[0].role_confidence == 0.87 and back == result
    legacy = json.loads(result.to_json())
    del legacy["utterances"][0]["role_confidence"]  # stored before the field existed
    assert CallResult.from_dict(legacy).utterances[0].role_confidence is None


# --- end to end (tiny.en + clustering) ----------------------------------------------------


@pytest.mark.slow
def test_mono_sample_gets_two_speakers_with_roles(transcriber: Any) -> None:
    pytest.importorskip("resemblyzer")
    from analytics.diarization import ClusteringDiarizer

    name = "tech_support"
    md = CallMetadata.from_sidecar(sample_sidecar(name), default_call_id=name)
    path = sample_audio(name)
    plain = process_call(path, transcriber=transcriber, metadata=md, source_uri=str(path))
    assert plain.diarization == "none"
    assert {u.speaker for u in plain.utterances} == {UNKNOWN_SPEAKER}
    result = process_call(
        path, transcriber=transcriber, metadata=md, source_uri=str(path),
        diarizer=ClusteringDiarizer(),
    )  # fmt: skip
    assert result.diarization == "clustering"
    assert len({u.speaker for u in result.utterances}) == 2
    assert {u.role for u in result.utterances} == {"agent", "customer"}
    assert result.utterances[0].role == "agent"  # the agent answers
    assert all(
        u.role_confidence is not None and 0 <= u.role_confidence <= 1 for u in result.utterances
    )
    assert result.params["diarization"]["diarizer"] == "clustering"


SUBSET = ["dz_upgrade_offer", "dz_password_reset", "dz_supervisor_transfer", "dz_voicemail",
          "dz_device_return"]  # fmt: skip


@pytest.mark.slow
def test_roles_on_the_generated_mono_set(transcriber: Any) -> None:
    """A subset (outbound, both same-gender pairs, three-party, voicemail) to keep the
    suite fast; bench/diarize.py and `callscope eval` run the whole set."""
    pytest.importorskip("resemblyzer")
    from analytics.config import Settings

    options = PipelineOptions.from_settings(Settings())
    scores = []
    for call in labelled_set(ROOT / "data" / "diarization", SUBSET):
        md = CallMetadata.from_sidecar(call.sidecar, default_call_id=call.audio.stem)
        processed = process_call_detailed(
            call.audio, transcriber=transcriber, metadata=md, source_uri=str(call.audio),
            options=options,
        )  # fmt: skip
        assert processed.result.diarization == "clustering"
        scores.append(evaluate_call(call, processed))
    assert len(scores) == len(SUBSET)
    overall = overall_score(scores)
    assert overall.roles.accuracy >= 0.95
    assert overall.diarization.der <= 0.10
