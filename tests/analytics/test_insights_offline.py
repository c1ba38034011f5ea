from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from analytics.config import Settings
from analytics.enrich.sentiment import score_text
from analytics.insights import CallContext, make_insights_engine
from analytics.insights.offline import SUMMARY_PREFIX, OfflineEngine, informativeness
from analytics.insights.offline_rules import RULES_VERSION
from analytics.models import Utterance

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"
SAMPLE_NAMES = sorted(p.stem for p in SAMPLES.glob("*.json"))

#: What the scenario in each sidecar says happened.
EXPECTED_OUTCOMES = {
    "billing_resolved": "resolved",
    "angry_unresolved": "unresolved",
    "wrong_number": "no_resolution_needed",
    "tech_support": "resolved",
    "appointment_reschedule": "resolved",
    "cancellation_retention": "resolved",
}


def sample_call(name: str) -> tuple[list[Utterance], CallContext]:
    """Utterances from a sample's reference turns (what a perfect transcript would give)."""
    sidecar: dict[str, Any] = json.loads((SAMPLES / f"{name}.json").read_text())
    turns = sidecar["reference"]["turns"]
    utterances = [
        Utterance(t["speaker"], t.get("role"), t["start"], t["end"], t["text"], ()) for t in turns
    ]
    context = CallContext(
        call_id=sidecar["call_id"],
        direction=sidecar.get("direction"),
        duration_s=turns[-1]["end"],
    )
    return utterances, context


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Any attempt to open a network connection fails the test."""
    attempts: list[str] = []

    def refuse(*args: Any, **kwargs: Any) -> Any:
        attempts.append(repr(args[:2]))
        raise AssertionError(f"network access attempted: {args[:2]!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    for var in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    yield attempts
    assert attempts == []


def test_offline_is_the_default_engine_and_needs_no_key(no_network: list[str]) -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.insights_engine == "offline" and settings.llm_api_key is None
    engine = make_insights_engine(settings)
    assert isinstance(engine, OfflineEngine)
    assert (engine.name, engine.model) == ("offline", RULES_VERSION)


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_every_sample_gets_summary_sentiment_and_outcome(name: str, no_network: list[str]) -> None:
    utterances, context = sample_call(name)
    result = OfflineEngine().analyze(utterances, context)

    assert result.ok and result.status == "ok"
    assert (result.engine, result.model, result.prompt_version) == (
        "offline",
        "rules-v1",
        "rules-v1",
    )
    assert (result.tokens_in, result.tokens_out, result.cost_usd, result.cached) == (0, 0, 0, False)
    assert len(result.transcript_hash) == 64
    ins = result.insights
    assert ins is not None
    assert ins.summary.startswith(SUMMARY_PREFIX) and len(ins.summary) > len(SUMMARY_PREFIX) + 20
    assert ins.reason_for_call and ins.reason_for_call != "(not stated)"
    assert ins.outcome in (
        "resolved",
        "unresolved",
        "escalated",
        "callback",
        "no_resolution_needed",
    )
    assert ins.topics
    # Per-utterance lexicon sentiment, one per utterance, equal to VADER's own score.
    assert [s.idx for s in result.utterance_sentiment] == list(range(len(utterances)))
    for s, u in zip(result.utterance_sentiment, utterances, strict=True):
        assert s.score == score_text(u.text).score and s.label == score_text(u.text).label
    assert -1.0 <= ins.customer_sentiment.score <= 1.0


@pytest.mark.parametrize(("name", "outcome"), sorted(EXPECTED_OUTCOMES.items()))
def test_outcome_matches_the_sample_scenario(name: str, outcome: str) -> None:
    utterances, context = sample_call(name)
    insights = OfflineEngine().analyze(utterances, context).insights
    assert insights is not None and insights.outcome == outcome


@pytest.mark.parametrize(
    ("name", "label"),
    [("angry_unresolved", "negative"), ("billing_resolved", "positive")],
)
def test_customer_sentiment_follows_the_customer(name: str, label: str) -> None:
    utterances, context = sample_call(name)
    insights = OfflineEngine().analyze(utterances, context).insights
    assert insights is not None and insights.customer_sentiment.label == label
    customer = [score_text(u.text).score for u in utterances if u.role == "customer"]
    assert insights.customer_sentiment.score == pytest.approx(
        sum(customer) / len(customer), abs=1e-3
    )


def test_summary_picks_informative_utterances_in_time_order_with_roles() -> None:
    utterances, context = sample_call("billing_resolved")
    insights = OfflineEngine().analyze(utterances, context).insights
    assert insights is not None
    scores = informativeness(utterances)
    k = 3 if len(utterances) > 8 else 2  # documented: 3 for calls of more than 8
    top = sorted(range(len(utterances)), key=lambda i: -scores[i])[:k]
    quoted = insights.summary.removeprefix(SUMMARY_PREFIX).strip().split(" / ")
    assert quoted == [
        f"{utterances[i].role.capitalize()}: {utterances[i].text}"  # type: ignore[union-attr]
        for i in sorted(top)
    ]
    # Greetings and short politeness never make it into a summary.
    assert scores[0] == 0.0 or "How can I help" not in insights.summary
    assert all(scores[i] == 0 for i, u in enumerate(utterances) if "thank you so much" in u.text)


A, C = "agent", "customer"


@pytest.mark.parametrize(
    ("turns", "outcome"),
    [
        ([(C, "I want to speak to your supervisor."), (A, "Let me transfer you to my manager.")],
         "escalated"),
        ([(A, "I need to check with billing."), (A, "I will call you back tomorrow.")], "callback"),
        ([(A, "Did the reset help?"), (C, "No, it is still not working. This is unacceptable.")],
         "unresolved"),
        ([(A, "Try it now."), (C, "Oh, it works now! Thank you so much.")], "resolved"),
        ([(C, "Is this the pharmacy?"), (A, "No, sorry, you have the wrong number.")],
         "no_resolution_needed"),
        # Early trouble, happy ending: how the call ends weighs more.
        ([(C, "It's still not working."), (A, "Try again now."), (C, "That works, perfect.")],
         "resolved"),
        # The agent saying "perfect" is no resolution; nothing else signals one.
        ([(C, "My router is broken and the light is red."), (A, "Perfect, let me look.")],
         "unresolved"),
    ],
)  # fmt: skip
def test_outcome_rules_are_general_phrases(turns: list[tuple[str, str]], outcome: str) -> None:
    utterances = [
        Utterance(role, role, i * 5.0, i * 5.0 + 4, text, ())
        for i, (role, text) in enumerate(turns)
    ]
    insights = OfflineEngine().analyze(utterances).insights
    assert insights is not None and insights.outcome == outcome


def test_agent_checklist_from_phrases() -> None:
    utterances, context = sample_call("billing_resolved")
    checklist = OfflineEngine().analyze(utterances, context).insights.agent_checklist  # type: ignore[union-attr]
    assert checklist.model_dump() == {
        "greeting": True,
        "identity_verification": True,
        "empathy": True,
        "clear_next_steps": True,
        "closing": True,
    }
    utterances, context = sample_call("angry_unresolved")
    checklist = OfflineEngine().analyze(utterances, context).insights.agent_checklist  # type: ignore[union-attr]
    assert checklist.closing is False and checklist.identity_verification is False


def test_mono_calls_without_roles_still_get_insights() -> None:
    utterances, context = sample_call("tech_support")
    unknown = [Utterance("speaker0", None, u.start, u.end, u.text, ()) for u in utterances]
    result = OfflineEngine().analyze(unknown, context)
    assert result.insights is not None and result.insights.outcome == "resolved"
    assert result.insights.summary.startswith(f"{SUMMARY_PREFIX} Speaker: ")


def test_stored_summary_is_redacted() -> None:
    utterances = [
        Utterance("agent", "agent", 0.0, 3.0, "Thank you for calling. How can I help?", ()),
        Utterance(
            "customer",
            "customer",
            4.0,
            12.0,
            "My card 4111 1111 1111 1111 was charged twice, email me at jane.doe@example.com"
            " about the refund for the double payment on my monthly bill",
            (),
        ),
    ]
    result = OfflineEngine().analyze(utterances)
    dumped = result.insights.model_dump_json()  # type: ignore[union-attr]
    assert "4111" not in dumped and "jane.doe" not in dumped
    assert "[CARD]" in dumped and "[EMAIL]" in dumped


def test_empty_call() -> None:
    result = OfflineEngine().analyze([])
    assert result.insights is not None
    assert result.insights.summary == f"{SUMMARY_PREFIX} (no speech transcribed)"
    assert result.insights.outcome == "no_resolution_needed"
