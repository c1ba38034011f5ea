"""LLM insights end to end: the real openai/anthropic SDKs against loopback fakes."""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from analytics.config import Settings
from analytics.errors import ConfigError, InsightsError
from analytics.insights import (
    Budget,
    CallContext,
    InsightsFailure,
    MemoryLLMCache,
    analyze_safely,
    make_insights_engine,
)
from analytics.insights.llm import LLMEngine
from analytics.insights.prompts import MAP_REDUCE_VERSION, PROMPT_VERSION
from analytics.models import CallMetadata, CallResult, Utterance, Word
from analytics.warehouse import Warehouse
from analytics.warehouse.insights import WarehouseLLMCache, land_insights
from tests.factories import call_result as make_call_result
from tests.fakes import LoopbackAPIServer, Reply
from tests.fakes.anthropic_server import FakeAnthropicServer
from tests.fakes.openai_server import FakeOpenAIServer

SECRET = "sk-test-0123456789abcdef"
PROVIDERS = ("openai", "anthropic")

VALID_INSIGHTS: dict[str, Any] = {
    "summary": "The customer was charged twice; the agent refunded the second payment.",
    "reason_for_call": "Double charge on the monthly bill.",
    "issues_detected": ["charged twice"],
    "action_items": [{"text": "Refund the second payment", "owner": "agent"}],
    "outcome": "resolved",
    "customer_sentiment": {"label": "positive", "score": 0.6},
    "agent_checklist": {
        "greeting": True,
        "identity_verification": True,
        "empathy": True,
        "clear_next_steps": True,
        "closing": True,
    },
    "topics": ["billing", "refund"],
}
VALID_NOTES: dict[str, Any] = {
    "summary": "The customer explains a billing problem.",
    "reason_for_call": "billing",
    "issues": ["charged twice"],
    "action_items": [],
    "outcome_signals": [],
    "customer_sentiment": {"label": "neutral", "score": 0.0},
    "agent_behaviour": ["greeting"],
    "topics": ["billing"],
}


# --- what a request is, whatever the vendor ----------------------------------------------
def system_text(body: dict[str, Any]) -> str:
    if "system" in body:  # anthropic: top-level system parameter
        return str(body["system"])
    return next((m["content"] for m in body["messages"] if m["role"] == "system"), "")


def conversation(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in body["messages"] if m["role"] != "system"]


def kind(body: dict[str, Any]) -> str:
    system = system_text(body)
    if "take notes on one part" in system:
        return "map"
    if "combine notes" in system:
        return "reduce"
    return "single"


def is_repair(body: dict[str, Any]) -> bool:
    return len(conversation(body)) > 1


def respond(body: dict[str, Any]) -> str:
    """A well-behaved model: notes for map requests, insights for everything else."""
    return json.dumps(VALID_NOTES if kind(body) == "map" else VALID_INSIGHTS)


@dataclass
class Harness:
    provider: str
    server: Any  # FakeOpenAIServer | FakeAnthropicServer
    tmp: Path

    def settings(self, **overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "insights_engine": self.provider,
            "llm_base_url": self.server.base_url,
            "llm_api_key": SECRET,
            "llm_timeout_s": 5.0,
            "llm_max_retries": 2,
            "warehouse": self.tmp / "w.duckdb",
            **overrides,
        }
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    def engine(self, *, cache: Any = None, budget: Budget | None = None, **overrides: Any) -> Any:
        return make_insights_engine(self.settings(**overrides), cache=cache, budget=budget)

    def usage(self, reply: Reply) -> tuple[int, int]:
        u = reply.body["usage"]
        if self.provider == "openai":
            return u["prompt_tokens"], u["completion_tokens"]
        return u["input_tokens"], u["output_tokens"]

    def billed(self) -> tuple[int, int]:
        pairs = [self.usage(r) for r in self.server.replies if r.status == 200]
        return sum(p[0] for p in pairs), sum(p[1] for p in pairs)


@pytest.fixture(params=PROVIDERS)
def llm(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    server: LoopbackAPIServer
    if request.param == "openai":
        server = FakeOpenAIServer(respond)
    else:
        server = FakeAnthropicServer(respond)
    server.start()
    try:
        yield Harness(request.param, server, tmp_path)
    finally:
        server.stop()


@pytest.fixture
def openai_llm(tmp_path: Path) -> Iterator[Harness]:
    server = FakeOpenAIServer(respond)
    server.start()
    try:
        yield Harness("openai", server, tmp_path)
    finally:
        server.stop()


# --- calls ---------------------------------------------------------------------------------
BILLING = [
    ("agent", "Thank you for calling Northwind Telecom billing. How can I help you today?"),
    ("customer", "Hi. It looks like you charged me twice for this month's bill."),
    ("agent", "I'm sorry to hear that. Can I have the name on the account, please?"),
    ("customer", "Sure, my name is Sarah Brown."),
    ("agent", "I have started a refund for the second payment right now."),
    ("customer", "Great, thank you so much for your help."),
]


def utterances_of(turns: list[tuple[str, str]], step: float = 5.0) -> tuple[Utterance, ...]:
    out = []
    for i, (role, text) in enumerate(turns):
        start = i * step
        words = tuple(
            Word(w, start + j * 0.3, start + j * 0.3 + 0.25, 0.9)
            for j, w in enumerate(text.split())
        )
        out.append(Utterance(role, role, start, words[-1].end, text, words, channel=i % 2))
    return tuple(out)


def call_result(utterances: tuple[Utterance, ...], call_id: str = "c1") -> CallResult:
    return make_call_result(
        utterances,
        call_id=call_id,
        channel_roles=("agent", "customer"),
        metadata=CallMetadata(call_id, direction="inbound", channel_roles=("agent", "customer")),
    )


@pytest.fixture
def landed(tmp_path: Path) -> tuple[Warehouse, str, CallResult]:
    wh = Warehouse(tmp_path / "w.duckdb")
    wh.migrate()
    result = call_result(utterances_of(BILLING))
    analysis_id = wh.land(result)
    assert analysis_id is not None
    return wh, analysis_id, result


def insights_rows(wh: Warehouse) -> list[dict[str, Any]]:
    with wh.connect() as con:
        cur = con.execute("SELECT * FROM insights ORDER BY created_at")
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def count(wh: Warehouse, table: str) -> int:
    with wh.connect() as con:
        row = con.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(row[0]) if row else 0


# --- acceptance ------------------------------------------------------------------------------
def test_insights_are_stored_with_model_prompt_version_tokens_and_cost(
    llm: Harness, landed: tuple[Warehouse, str, CallResult]
) -> None:
    wh, analysis_id, call = landed
    engine = llm.engine(cache=WarehouseLLMCache(wh))
    result = engine.analyze(call.utterances, CallContext.from_result(call))
    land_insights(wh, analysis_id, call.call_id, result)

    assert llm.server.count == 1
    tokens_in, tokens_out = llm.billed()
    model = "gpt-4o-mini" if llm.provider == "openai" else "claude-haiku-4-5"
    price_in, price_out = (0.15, 0.60) if llm.provider == "openai" else (1.00, 5.00)
    (row,) = insights_rows(wh)
    assert row["analysis_id"] == analysis_id and row["call_id"] == "c1"
    assert (row["engine"], row["model"], row["prompt_version"]) == (
        llm.provider,
        model,
        PROMPT_VERSION,
    )
    assert (row["tokens_in"], row["tokens_out"]) == (tokens_in, tokens_out) != (0, 0)
    assert row["cost_usd"] == pytest.approx((tokens_in * price_in + tokens_out * price_out) / 1e6)
    assert (row["status"], row["cached"], row["error"]) == ("ok", False, None)
    assert row["outcome"] == "resolved" and row["summary"] == VALID_INSIGHTS["summary"]
    assert row["customer_sentiment_label"] == "positive"
    assert row["customer_sentiment_score"] == pytest.approx(0.6)
    assert json.loads(row["insights"]) == VALID_INSIGHTS
    assert count(wh, "current_insights") == 1

    (body,) = llm.server.bodies()
    assert body["model"] == model
    user = conversation(body)[0]["content"]
    assert "[00:05] CUSTOMER: Hi. It looks like you charged me twice" in user
    assert "[00:00] AGENT: Thank you for calling Northwind Telecom billing." in user
    if llm.provider == "openai":
        fmt = body["response_format"]
        assert fmt["type"] == "json_schema" and fmt["json_schema"]["name"] == "call_insights"
        assert fmt["json_schema"]["strict"] is True
        assert fmt["json_schema"]["schema"]["additionalProperties"] is False
        assert llm.server.requests[0].headers["authorization"] == f"Bearer {SECRET}"
    else:
        assert "JSON schema" in user and '"agent_checklist"' in user
        headers = llm.server.requests[0].headers
        assert SECRET in (headers.get("x-api-key"), headers.get("authorization", "")[7:])


def test_second_run_spends_no_tokens(
    llm: Harness, landed: tuple[Warehouse, str, CallResult]
) -> None:
    wh, analysis_id, call = landed
    first = llm.engine(cache=WarehouseLLMCache(wh)).analyze(call.utterances)
    land_insights(wh, analysis_id, call.call_id, first)
    assert llm.server.count == 1

    # A new process: new engine and client, same warehouse.
    second = llm.engine(cache=WarehouseLLMCache(wh)).analyze(call.utterances)
    assert llm.server.count == 1
    assert second.cached and second.ok
    assert (second.tokens_in, second.tokens_out, second.cost_usd, second.requests) == (0, 0, 0, 0)
    assert second.insights == first.insights
    assert second.transcript_hash == first.transcript_hash
    land_insights(wh, analysis_id, call.call_id, second)
    (row,) = insights_rows(wh)  # the paid-for row is kept
    assert row["cached"] is False and row["tokens_in"] == first.tokens_in

    # Another analysis with the same transcript is stored as a zero-cost cache hit.
    wh.land(call_result(call.utterances, call_id="c2"))
    land_insights(wh, "a2", "c2", second)
    assert [(r["call_id"], r["cached"], r["tokens_in"]) for r in insights_rows(wh)] == [
        ("c1", False, first.tokens_in),
        ("c2", True, 0),
    ]
    with wh.connect() as con:
        assert con.execute("SELECT count(*) FROM llm_cache").fetchone() == (1,)

    # A changed transcript is a cache miss.
    changed = utterances_of([*BILLING, ("customer", "One more thing about my plan.")])
    llm.engine(cache=WarehouseLLMCache(wh)).analyze(changed)
    assert llm.server.count == 2


def test_invalid_json_is_repaired_once(llm: Harness) -> None:
    bad = '{"summary": "cut off'
    llm.server.enqueue(llm.server.text(bad))
    result = llm.engine().analyze(utterances_of(BILLING))

    assert result.ok and result.insights.outcome == "resolved"
    assert llm.server.count == 2 and result.requests == 2
    assert (result.tokens_in, result.tokens_out) == llm.billed()
    repair = llm.server.bodies()[1]
    turns = conversation(repair)
    assert [m["role"] for m in turns] == ["user", "assistant", "user"]
    assert turns[1]["content"] == bad
    assert "not valid JSON" in turns[2]["content"]


def test_schema_mismatch_twice_records_a_failure_and_keeps_the_transcript(
    llm: Harness, landed: tuple[Warehouse, str, CallResult]
) -> None:
    wh, analysis_id, call = landed
    utterances_before = count(wh, "utterances")
    wrong = {**VALID_INSIGHTS, "outcome": "great"}
    llm.server.enqueue(llm.server.text(json.dumps(wrong)), llm.server.text("Sure! Here it is."))
    engine = llm.engine()

    with pytest.raises(InsightsError, match="after one repair") as info:
        engine.analyze(call.utterances)
    assert llm.server.count == 2  # one request, one repair, no third
    repair_prompt = conversation(llm.server.bodies()[1])[2]["content"]
    assert "does not match the schema" in repair_prompt and "outcome" in repair_prompt

    llm.server.enqueue(llm.server.text("not json"), llm.server.text("still not json"))
    result = analyze_safely(engine, call.utterances)
    assert isinstance(info.value, InsightsFailure) and info.value.result.status == "failed"
    assert result.status == "failed" and result.insights is None
    assert result.tokens_in > 0 and result.requests == 2
    land_insights(wh, analysis_id, call.call_id, result)

    (row,) = insights_rows(wh)
    assert row["status"] == "failed" and "after one repair" in row["error"]
    assert row["summary"] is None and row["insights"] is None
    assert row["tokens_in"] == result.tokens_in
    assert count(wh, "utterances") == utterances_before
    assert count(wh, "calls") == 1


def test_a_refusal_fails_without_a_repair(llm: Harness) -> None:
    llm.server.enqueue(llm.server.refusal("I can't help with that."))
    with pytest.raises(InsightsFailure, match="refused") as info:
        llm.engine().analyze(utterances_of(BILLING))
    assert llm.server.count == 1
    assert info.value.result.status == "failed" and info.value.result.requests == 1


def _transient(harness: Harness, case: str) -> list[Reply]:
    server = harness.server
    if case == "429 retry-after":
        return [server.rate_limited(retry_after_s=1.5)]
    if case == "500":
        return [server.server_error(500)]
    if case == "503/529":
        return [server.server_error(503 if harness.provider == "openai" else 529)]
    return [server.slow(3.0)]  # beyond the 1 s client timeout


@pytest.mark.parametrize("case", ["429 retry-after", "500", "503/529", "timeout"])
def test_transient_errors_are_retried(llm: Harness, case: str) -> None:
    llm.server.enqueue(*_transient(llm, case))
    result = llm.engine(llm_timeout_s=1.0).analyze(utterances_of(BILLING))

    assert result.ok
    assert llm.server.count == 2  # the failed attempt and the retry
    gap = llm.server.requests[1].at - llm.server.requests[0].at
    if case == "429 retry-after":
        assert gap >= 1.4  # Retry-After honoured (default backoff is < 1 s)
    if case == "timeout":
        assert gap >= 0.9
    # Only the successful reply is billed.
    assert (result.tokens_in, result.tokens_out) == llm.usage(llm.server.replies[-1])


def test_retries_are_bounded(llm: Harness) -> None:
    llm.server.enqueue(*(llm.server.server_error(500) for _ in range(5)))
    with pytest.raises(InsightsFailure, match="HTTP 500"):
        llm.engine(llm_max_retries=2).analyze(utterances_of(BILLING))
    assert llm.server.count == 3  # first try + llm_max_retries


@pytest.mark.parametrize("cap", ["tokens", "usd"])
def test_budget_exhaustion_skips_later_calls_without_requests(
    llm: Harness, cap: str, landed: tuple[Warehouse, str, CallResult]
) -> None:
    wh, analysis_id, call = landed
    budget = Budget(max_tokens=1) if cap == "tokens" else Budget(max_usd=1e-9)
    engine = llm.engine(budget=budget)

    first = engine.analyze(call.utterances)
    assert first.ok and llm.server.count == 1
    second = engine.analyze(utterances_of(BILLING[:4]))
    third = llm.engine(budget=budget).analyze(utterances_of(BILLING[:3]))  # shared budget

    assert llm.server.count == 1
    for skipped in (second, third):
        assert (skipped.status, skipped.error, skipped.insights) == (
            "skipped_budget",
            "budget exceeded",
            None,
        )
        assert (skipped.tokens_in, skipped.tokens_out, skipped.requests) == (0, 0, 0)
    summary = budget.summary()
    assert summary["exceeded"] is True and summary["skipped_calls"] == 2
    assert summary["requests"] == 1
    assert (summary["tokens_in"], summary["tokens_out"]) == (first.tokens_in, first.tokens_out)

    land_insights(wh, analysis_id, call.call_id, second)
    (row,) = insights_rows(wh)
    assert (row["status"], row["error"]) == ("skipped_budget", "budget exceeded")


def test_budget_is_thread_safe() -> None:
    budget = Budget(max_tokens=10_000_000)

    def spend() -> None:
        for _ in range(1000):
            budget.charge(3, 2, 0.001)

    threads = [threading.Thread(target=spend) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    s = budget.summary()
    assert (s["tokens_in"], s["tokens_out"], s["requests"]) == (24_000, 16_000, 8000)
    assert s["cost_usd"] == pytest.approx(8.0)


def test_long_call_is_map_reduced_on_utterance_boundaries(llm: Harness) -> None:
    turns = [
        (
            ("agent", "customer")[i % 2],
            f"Utterance number {i} talks about the bill, the router and the refund in some"
            f" detail so that the transcript grows long enough to need chunking {i}.",
        )
        for i in range(60)
    ]
    utterances = utterances_of(turns)
    result = llm.engine(llm_context_tokens=2500).analyze(utterances)

    kinds = [kind(b) for b in llm.server.bodies()]
    assert kinds.count("reduce") == 1 and kinds[-1] == "reduce"
    assert kinds.count("map") >= 2 and "single" not in kinds
    assert result.ok and result.prompt_version == MAP_REDUCE_VERSION
    assert result.requests == len(kinds)
    assert (result.tokens_in, result.tokens_out) == llm.billed()

    # Every utterance line lands whole in exactly one map request, in order.
    maps = [conversation(b)[0]["content"] for b in llm.server.bodies() if kind(b) == "map"]
    seen: list[int] = []
    for text in maps:
        seen += [int(n) for n in re.findall(r"Utterance number (\d+) talks", text)]
        assert re.search(r"Part \d+ of \d+", text)
    assert seen == list(range(60))
    for text in maps:
        assert len(text) // 4 < 2500
    reduce_text = conversation(llm.server.bodies()[-1])[0]["content"]
    assert reduce_text.count('"summary": "The customer explains a billing problem."') == len(maps)


# --- PII proof --------------------------------------------------------------------------------
PII_TURNS = [
    ("agent", "Thank you for calling. Can I have your card number please?"),
    ("customer", "Sure, it's 4111 1111 1111 1111, expiry next year."),
    ("agent", "Thanks. Can you read the backup card too?"),
    (
        "customer",
        "Four five five six, seven three seven five, eight six eight nine, nine eight five five.",
    ),
    ("agent", "And a phone number and email for the account?"),
    ("customer", "Call me on (555) 867-5309 or write to jane.doe@example.com any time."),
    ("agent", "Last thing, your social security number."),
    ("customer", "It's 078-05-1120. And my PIN is four seven two nine one."),
]
FILLER = [
    (("agent", "customer")[i % 2], f"Filler sentence {i} about the weather, the plan and the bill.")
    for i in range(30)
]
RAW_PII = [
    "4111 1111 1111 1111",
    "4111111111111111",
    "Four five five six",
    "four five five six",
    "4556737586899855",
    "(555) 867-5309",
    "867-5309",
    "5558675309",
    "jane.doe@example.com",
    "jane.doe",
    "078-05-1120",
    "078051120",
    "four seven two nine one",
    "47291",
]


@pytest.mark.parametrize("path", ["single pass with a repair", "map-reduce"])
def test_no_pii_reaches_the_llm(llm: Harness, path: str) -> None:
    if path == "single pass with a repair":
        llm.server.enqueue(llm.server.text("oops, not JSON"))
        overrides: dict[str, Any] = {}
    else:
        overrides = {"llm_context_tokens": 1500}
    turns = PII_TURNS if path == "single pass with a repair" else [*FILLER, *PII_TURNS, *FILLER]
    # Storing unredacted text must not change what the LLM sees.
    engine = llm.engine(redact_pii=False, **overrides)
    call = call_result(utterances_of(turns))
    result = engine.analyze(call.utterances, CallContext.from_result(call))
    assert result.ok
    if path == "map-reduce":
        assert sum(kind(b) == "map" for b in llm.server.bodies()) >= 2
    else:
        assert llm.server.count == 2

    assert llm.server.requests
    everything = "\n".join(r.raw for r in llm.server.requests)
    decoded = "\n".join(json.dumps(r.json, ensure_ascii=False) for r in llm.server.requests)
    for raw in RAW_PII:
        assert raw not in everything and raw not in decoded, raw
    digits_only = re.sub(r"\D", "", everything)
    for raw in ("4111111111111111", "4556737586899855", "5558675309", "078051120"):
        assert raw not in digits_only, raw
    for placeholder in ("[CARD]", "[PHONE]", "[EMAIL]", "[SSN]", "[DIGITS]"):
        assert placeholder in decoded, placeholder
    assert decoded.count("[CARD]") >= 2  # written and spelled-out card numbers


# --- OpenAI-compatible specifics ----------------------------------------------------------------
def test_server_without_structured_outputs_gets_json_in_text(openai_llm: Harness) -> None:
    server = openai_llm.server
    server.enqueue(server.schema_unsupported())
    engine = openai_llm.engine()
    first = engine.analyze(utterances_of(BILLING))
    second = engine.analyze(utterances_of(BILLING[:4]))

    assert first.ok and second.ok
    bodies = server.bodies()
    assert len(bodies) == 3
    assert "response_format" in bodies[0]
    for body in bodies[1:]:
        assert "response_format" not in body
        assert "JSON schema" in conversation(body)[-1]["content"]


def test_fenced_json_in_text_is_accepted(openai_llm: Harness) -> None:
    server = openai_llm.server
    server.enqueue(server.text(f"Here you go:\n```json\n{json.dumps(VALID_INSIGHTS)}\n```"))
    result = openai_llm.engine().analyze(utterances_of(BILLING))
    assert result.ok and server.count == 1


# --- registry and settings ----------------------------------------------------------------------
def test_registry_rejects_unknown_engines_listing_valid_names() -> None:
    settings = Settings.model_construct(insights_engine="gpt")
    with pytest.raises(ConfigError, match="offline, openai, anthropic"):
        make_insights_engine(settings)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_vendor_endpoint_without_a_key_is_a_config_error(
    provider: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    settings = Settings(_env_file=None, insights_engine=provider)  # type: ignore[call-arg]
    with pytest.raises(ConfigError, match="API_KEY"):
        make_insights_engine(settings)


@pytest.mark.parametrize(
    ("overrides", "model", "prices"),
    [
        ({"insights_engine": "openai"}, "gpt-4o-mini", (0.15, 0.60)),
        ({"insights_engine": "anthropic"}, "claude-haiku-4-5", (1.00, 5.00)),
        (
            {"insights_engine": "anthropic", "llm_model": "claude-x", "llm_price_in_per_mtok": 3},
            "claude-x",
            (3.0, 0.60),
        ),
        ({"insights_engine": "openai", "llm_price_out_per_mtok": 1.0}, "gpt-4o-mini", (0.15, 1.0)),
    ],
)
def test_model_and_price_defaults_follow_the_engine(
    overrides: dict[str, Any], model: str, prices: tuple[float, float]
) -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, llm_base_url="http://127.0.0.1:9", llm_api_key=SECRET, **overrides
    )
    engine = make_insights_engine(settings)
    assert isinstance(engine, LLMEngine)
    assert engine.model == model
    pricing = engine.options.pricing
    assert (pricing.in_per_mtok, pricing.out_per_mtok) == prices


def test_the_api_key_is_never_logged(llm: Harness, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    llm.server.enqueue(llm.server.server_error(500), llm.server.text("not json"))
    engine = llm.engine(cache=MemoryLLMCache())
    engine.analyze(utterances_of(BILLING))
    llm.server.enqueue(*(llm.server.server_error(500) for _ in range(3)))
    analyze_safely(engine, utterances_of(BILLING[:2]))
    assert caplog.records and SECRET not in caplog.text
    assert SECRET not in repr(engine.options)


def test_requests_time_out_per_attempt() -> None:
    """The timeout setting reaches the client (guards the slow-response test's premise)."""
    server = FakeOpenAIServer(respond)
    server.start()
    try:
        server.enqueue(server.slow(2.0), server.slow(2.0), server.slow(2.0))
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            insights_engine="openai",
            llm_base_url=server.base_url,
            llm_api_key=SECRET,
            llm_timeout_s=0.5,
            llm_max_retries=1,
        )
        started = time.monotonic()
        with pytest.raises(InsightsFailure, match="timed out"):
            make_insights_engine(settings).analyze(utterances_of(BILLING))
        assert time.monotonic() - started < 4.0
        assert server.count == 2
    finally:
        server.stop()


def test_an_empty_transcript_fails_without_a_request(llm: Harness) -> None:
    with pytest.raises(InsightsFailure, match="empty transcript") as info:
        llm.engine().analyze([])
    assert llm.server.count == 0 and info.value.result.status == "failed"


def test_a_context_too_small_for_the_prompts_fails_at_start_up(llm: Harness) -> None:
    # Anthropic prompts carry the JSON schema; 1000 tokens leave no room for a transcript.
    if llm.provider == "anthropic":
        with pytest.raises(ConfigError, match="use at least"):
            llm.engine(llm_context_tokens=1000)
    else:
        assert llm.engine(llm_context_tokens=1000).model == "gpt-4o-mini"
    with pytest.raises(ConfigError, match="at least 1000"):
        llm.engine(llm_context_tokens=500)
