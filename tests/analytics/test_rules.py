"""Category rules: every condition kind, windows, negation, evidence, rule-file validation,
and re-categorizing stored calls after a rule change without transcribing anything."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from analytics.enrich.metrics import CallMetrics, compute_metrics
from analytics.enrich.rules import (
    DEFAULT_RULES_PATH,
    CategoryMatch,
    Evidence,
    RuleSet,
    apply_rules,
    load_rules,
    normalize,
)
from analytics.errors import ConfigError
from analytics.models import CallResult, Utterance, Word
from analytics.warehouse import Warehouse, connect_read_only
from analytics.warehouse.enrichment import categorize_all, write_metrics
from tests.factories import call_result


def utt(start: float, end: float, text: str, role: str | None, speaker: str = "") -> Utterance:
    tokens = text.split()
    step = (end - start) / len(tokens)
    words = tuple(
        Word(t, round(start + i * step, 3), round(start + (i + 1) * step, 3), 0.9)
        for i, t in enumerate(tokens)
    )
    channel = {"customer": 0, "agent": 1}.get(role or "")
    return Utterance(speaker or (role or "unknown"), role, start, end, text, words, channel)


# 80 s: greeting at 1 s, cancellation at 20 s, a 35 s silence 30-65, interruptions at
# 66-70, a manager request at the very end.
CALL = (
    utt(1.0, 4.0, "Hello, thanks for calling Northwind.", "agent"),
    utt(5.0, 9.0, "Hi. My bill is wrong again.", "customer"),
    utt(10.0, 14.0, "Let me look at your account.", "agent"),
    utt(20.0, 25.0, "Honestly I want to CANCEL my account today.", "customer"),
    utt(26.0, 30.0, "I can offer you a refund for the extra charge.", "agent"),
    utt(65.0, 68.0, "Sorry for the wait, I checked everything.", "agent"),
    utt(66.0, 67.0, "wait", "customer"),
    utt(67.5, 70.0, "no no", "customer"),
    utt(69.0, 71.0, "please", "agent"),
    utt(72.0, 79.0, "This is awful. I want to speak to a manager.", "customer"),
)
DURATION = 80.0


@pytest.fixture(scope="module")
def metrics() -> CallMetrics:
    return compute_metrics(CALL, DURATION)


def rules(tmp_path: Path, body: str, version: str = "1", name: str = "r.yaml") -> RuleSet:
    path = tmp_path / name
    path.write_text(
        f"version: {version}\ncategories:\n" + textwrap.indent(textwrap.dedent(body), "  ")
    )
    return load_rules(path)


def match(ruleset: RuleSet, metrics: CallMetrics, insights: Any = None) -> dict[str, Any]:
    return {m.category: m for m in apply_rules(ruleset, CALL, metrics, insights)}


def one(cond: str) -> str:
    return "- name: cat\n  all:\n" + textwrap.indent(textwrap.dedent(cond), "    ")


# --- phrase -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("cond", "hit"),
    [
        ("- {kind: phrase, any_of: [cancel my account]}", True),
        ("- {kind: phrase, any_of: ['cancel my account'], role: customer}", True),
        ("- {kind: phrase, any_of: ['cancel my account'], role: agent}", False),
        ("- {kind: phrase, any_of: ['Speak to a Manager!']}", True),  # case, punctuation
        ("- {kind: phrase, any_of: [cancellation]}", False),  # whole words only
        ("- {kind: phrase, any_of: [cance]}", False),
        ("- {kind: phrase, any_of: [refund], role: agent}", True),
        ("- {kind: phrase, any_of: [supervisor, escalate]}", False),
    ],
)
def test_phrase_matches_and_does_not(
    tmp_path: Path, metrics: CallMetrics, cond: str, hit: bool
) -> None:
    assert ("cat" in match(rules(tmp_path, one(cond)), metrics)) is hit


def test_phrase_evidence_is_the_utterance_span(tmp_path: Path, metrics: CallMetrics) -> None:
    rs = rules(tmp_path, one("- {kind: phrase, any_of: [cancel my account, refund]}"))
    m = match(rs, metrics)["cat"]
    assert [(e.kind, e.start_s, e.end_s) for e in m.evidence] == [
        ("phrase", 20.0, 25.0),
        ("phrase", 26.0, 30.0),
    ]
    assert "customer said 'cancel my account'" in m.evidence[0].detail


@pytest.mark.parametrize(
    ("window", "hit"),
    [
        ("first_s: 30", True),  # said at ~22 s
        ("first_s: 21", False),  # the phrase starts after 21 s (word times)
        ("last_s: 60", True),  # window 20-80 s
        ("last_s: 50", False),  # window 30-80 s
    ],
)
def test_phrase_windows(tmp_path: Path, metrics: CallMetrics, window: str, hit: bool) -> None:
    cond = f"- {{kind: phrase, any_of: [cancel my account], {window}}}"
    assert ("cat" in match(rules(tmp_path, one(cond)), metrics)) is hit


def test_negated_phrase_holds_when_not_said_in_window(tmp_path: Path, metrics: CallMetrics) -> None:
    greeted = (
        "- {kind: phrase, role: agent, first_s: 15, negate: true, any_of: [hello, good morning]}"
    )
    assert "cat" not in match(rules(tmp_path, one(greeted)), metrics)
    late = "- {kind: phrase, role: agent, last_s: 10, negate: true, any_of: [hello]}"
    m = match(rules(tmp_path, one(late)), metrics)["cat"]
    assert [(e.start_s, e.end_s) for e in m.evidence] == [(70.0, 80.0)]
    assert "agent said none of ['hello']" in m.evidence[0].detail


def test_role_conditions_never_hold_without_that_role(tmp_path: Path) -> None:
    mono = (utt(1.0, 5.0, "hello I want to cancel", None),)
    m = compute_metrics(mono, 10.0)
    rs = rules(
        tmp_path,
        one("- {kind: phrase, role: agent, negate: true, any_of: [hello]}")
        + "\n"
        + "- name: said\n  all:\n    - {kind: phrase, any_of: [want to cancel]}\n",
    )
    assert [x.category for x in apply_rules(rs, mono, m)] == ["said"]


def test_normalize() -> None:
    assert normalize("  Don’t—STOP, please!! ‘ok’ ") == "don't stop please ok"


# --- metric, sentiment, outcome -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "op", "value", "hit"),
    [
        ("max_silence_s", ">", 30, True),
        ("max_silence_s", ">", 40, False),
        ("n_interruptions", ">=", 2, True),
        ("n_interruptions", "<", 2, False),
        ("n_holds", "==", 1, True),
        ("latency_p90_s", "<=", 100, True),
        ("customer_questions", "==", 0, True),
        ("agent_talk_ratio", ">", 0.9, False),
        ("customer_turns", ">=", 4, True),
    ],
)
def test_metric_condition(
    tmp_path: Path, metrics: CallMetrics, name: str, op: str, value: float, hit: bool
) -> None:
    rs = rules(tmp_path, one(f"- {{kind: metric, name: {name}, op: '{op}', value: {value}}}"))
    assert ("cat" in match(rs, metrics)) is hit


def test_metric_evidence_points_at_silences_and_interruptions(
    tmp_path: Path, metrics: CallMetrics
) -> None:
    rs = rules(
        tmp_path,
        """\
        - name: silent
          all: [{kind: metric, name: max_silence_s, op: '>', value: 30}]
        - name: interrupted
          all: [{kind: metric, name: n_interruptions, op: '>', value: 1}]
        - name: long
          all: [{kind: metric, name: duration_s, op: '>', value: 60}]
        """,
    )
    got = match(rs, metrics)
    assert [(e.start_s, e.end_s) for e in got["silent"].evidence] == [(30.0, 65.0)]
    assert [(e.start_s, e.end_s) for e in got["interrupted"].evidence] == [
        (i.start, i.end) for i in metrics.interruptions
    ]
    assert len(got["interrupted"].evidence) == len(metrics.interruptions) >= 2
    assert [(e.start_s, e.end_s) for e in got["long"].evidence] == [(0.0, 80.0)]
    assert got["silent"].evidence[0].detail == "max_silence_s = 35 (> 30)"


@pytest.mark.parametrize(
    ("quarter", "op", "value", "hit", "span"),
    [
        ("last", "<", -0.05, True, (60.0, 80.0)),  # "This is awful..." in quarter 4
        (4, "<", -0.05, True, (60.0, 80.0)),
        ("first", "<", -0.05, True, (0.0, 20.0)),  # "My bill is wrong again."
        ("first", ">", 0, False, None),
        (2, ">", -1, True, (20.0, 40.0)),
        (3, ">", -1, False, None),  # the customer is silent in quarter 3
    ],
)
def test_sentiment_condition(
    tmp_path: Path,
    metrics: CallMetrics,
    quarter: Any,
    op: str,
    value: float,
    hit: bool,
    span: Any,
) -> None:
    cond = f"- {{kind: sentiment, role: customer, quarter: {quarter}, op: '{op}', value: {value}}}"
    got = match(rules(tmp_path, one(cond)), metrics)
    assert ("cat" in got) is hit
    if hit:
        (ev,) = got["cat"].evidence
        assert (ev.kind, ev.start_s, ev.end_s) == ("sentiment", *span)


@pytest.mark.parametrize(
    ("insights", "hit"),
    [
        ({"outcome": "unresolved"}, True),
        ({"outcome": "Unresolved"}, True),
        ({"outcome": "resolved"}, False),
        ({"outcome": None}, False),
        (None, False),
    ],
)
def test_outcome_condition(tmp_path: Path, metrics: CallMetrics, insights: Any, hit: bool) -> None:
    rs = rules(tmp_path, one("- {kind: outcome, equals: [unresolved, escalated]}"))
    got = match(rs, metrics, insights)
    assert ("cat" in got) is hit
    if hit:
        assert got["cat"].evidence == (
            Evidence("outcome", 0.0, 80.0, f"outcome is {insights['outcome']!r}"),
        )


def test_all_and_any_combine(tmp_path: Path, metrics: CallMetrics) -> None:
    rs = rules(
        tmp_path,
        """\
        - name: both
          all: [{kind: phrase, any_of: [cancel my account]}]
          any:
            - {kind: phrase, any_of: [no such words]}
            - {kind: metric, name: n_interruptions, op: '>', value: 0}
        - name: any_fails
          all: [{kind: phrase, any_of: [cancel my account]}]
          any: [{kind: phrase, any_of: [no such words]}]
        - name: all_fails
          all:
            - {kind: phrase, any_of: [cancel my account]}
            - {kind: phrase, any_of: [no such words]}
        """,
    )
    got = match(rs, metrics)
    assert list(got) == ["both"]
    kinds = [e.kind for e in got["both"].evidence]
    assert kinds == ["phrase"] + ["metric"] * len(metrics.interruptions)


def test_match_to_dict() -> None:
    m = CategoryMatch("x", (Evidence("metric", 1.0, 2.0, "d"),))
    assert m.to_dict() == {
        "category": "x",
        "evidence": [{"kind": "metric", "start_s": 1.0, "end_s": 2.0, "detail": "d"}],
    }


# --- the rule file --------------------------------------------------------------------------------
def test_repository_rule_file_loads_and_categorizes(metrics: CallMetrics) -> None:
    rs = load_rules(DEFAULT_RULES_PATH)
    assert 6 <= len(rs.categories) <= 8
    got = match(rs, metrics, {"outcome": "unresolved"})
    assert set(got) == {
        "cancellation_intent",
        "escalation_request",
        "long_silence",
        "negative_ending",
        "refund_discussed",
        "unresolved_outcome",
    }


@pytest.mark.parametrize(
    ("body", "category", "field", "message"),
    [
        (
            "- name: a\n  all: [{kind: phrase, role: agent}]",
            "'a'",
            "all[0].any_of",
            "Field required",
        ),
        (
            "- name: b\n  all: [{kind: metric, name: n_interruptions, op: '>>', value: 1}]",
            "'b'",
            "all[0].op",
            "Input should be",
        ),
        (
            "- name: c\n  any: [{kind: metric, name: bogus_metric, op: '>', value: 1}]",
            "'c'",
            "any[0].name",
            "unknown metric 'bogus_metric'",
        ),
        (
            "- name: d\n  all: [{kind: telepathy}]",
            "'d'",
            "all[0]",
            "does not match any of the expected tags",
        ),
        (
            "- name: e\n  all: [{kind: phrase, any_of: [x], colour: red}]",
            "'e'",
            "all[0].colour",
            "Extra inputs",
        ),
        ("- name: f\n  description: nothing", "'f'", "(whole entry)", "needs conditions"),
        (
            "- name: g\n  all: [{kind: sentiment, quarter: 5, op: '<', value: 0}]",
            "'g'",
            "all[0].quarter",
            "Input should be",
        ),
        (
            "- name: h\n  all: [{kind: phrase, any_of: [x], first_s: 5, last_s: 5}]",
            "'h'",
            "all[0]",
            "not both",
        ),
        (
            "- name: Bad Name\n  all: [{kind: outcome, equals: x}]",
            "'Bad Name'",
            "name",
            "should match pattern",
        ),
        ("- all: [{kind: outcome, equals: x}]", "categories[0]", "name", "Field required"),
    ],
)
def test_invalid_rules_name_category_and_field(
    tmp_path: Path, body: str, category: str, field: str, message: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("version: 2\ncategories:\n" + textwrap.indent(body, "  ") + "\n")
    with pytest.raises(ConfigError) as info:
        load_rules(path)
    text = str(info.value)
    assert str(path) in text
    assert f"{category}, field {field}:" in text
    assert message in text


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("version: 1\ncategories: [\n", "not valid YAML"),
        ("- just a list", "must be a mapping"),
        ("categories: []\n", "field version"),
        (
            "version: 1\ncategories:\n"
            "  - {name: x, all: [{kind: outcome, equals: a}]}\n"
            "  - {name: x, all: [{kind: outcome, equals: b}]}\n",
            "duplicate category names: x",
        ),
    ],
)
def test_invalid_rule_files(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(content)
    with pytest.raises(ConfigError, match=message):
        load_rules(path)


def test_missing_rule_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read rule file"):
        load_rules(tmp_path / "nope.yaml")


# --- re-categorizing stored calls ------------------------------------------------------------
def result(call_id: str, utterances: tuple[Utterance, ...], duration: float) -> CallResult:
    return call_result(
        utterances,
        call_id=call_id,
        etag=f"etag-{call_id}",
        duration_s=duration,
        pipeline_version="test",
    )


RULES_A = """\
- name: cancellation_intent
  any: [{kind: phrase, role: customer, any_of: [cancel my account]}]
- name: refund_discussed
  any: [{kind: phrase, any_of: [refund]}]
"""
RULES_B = """\
- name: cancellation_intent
  any: [{kind: phrase, role: customer, any_of: [cancel my account, close my account]}]
- name: long_silence
  all: [{kind: metric, name: max_silence_s, op: '>', value: 30}]
- name: unresolved_outcome
  all: [{kind: outcome, equals: unresolved}]
"""


def _stored(wh: Warehouse) -> set[tuple[str, str, str]]:
    with connect_read_only(wh.path) as con:
        rows = con.execute(
            "SELECT call_id, category, rule_version FROM current_category_matches"
        ).fetchall()
    return {(c, k, v) for c, k, v in rows}


def test_changed_rules_recategorize_all_past_calls_without_transcription(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import analytics.transcription as transcription
    import analytics.transcription.faster_whisper as fw

    def no_transcription(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("re-categorizing must not transcribe")

    monkeypatch.setattr(transcription, "make_transcriber", no_transcription)
    monkeypatch.setattr(fw, "load_model", no_transcription)
    monkeypatch.setattr(fw.FasterWhisperTranscriber, "__init__", no_transcription)

    wh = Warehouse(tmp_path / "w.duckdb")
    wh.migrate()
    other = (
        utt(0.5, 3.0, "Hello, how can I help?", "agent"),
        utt(4.0, 8.0, "I would like to close my account.", "customer"),
    )
    landed = {}
    for call_id, utts, duration in (("one", CALL, DURATION), ("two", other, 10.0)):
        analysis_id = wh.land(result(call_id, utts, duration))
        assert analysis_id
        landed[call_id] = analysis_id
    # Only "one" has stored metrics; "two" gets them computed from its stored words.
    with wh.transaction() as con:
        write_metrics(con, landed["one"], "one", compute_metrics(CALL, DURATION))

    counts_a = categorize_all(wh, rules(tmp_path, RULES_A, version="a", name="a.yaml"))
    assert counts_a == {"cancellation_intent": 1, "refund_discussed": 1}
    assert _stored(wh) == {("one", "cancellation_intent", "a"), ("one", "refund_discussed", "a")}

    with wh.transaction() as con:  # the later insights stage says call two is unresolved
        con.execute(
            "INSERT INTO insights (analysis_id, call_id, engine, model, prompt_version, outcome,"
            " status, created_at) VALUES (?, 'two', 'e', 'm', 'p1', 'unresolved', 'ok', now())",
            [landed["two"]],
        )
    counts_b = categorize_all(wh, rules(tmp_path, RULES_B, version="b", name="b.yaml"))
    assert counts_b == {"cancellation_intent": 2, "long_silence": 1, "unresolved_outcome": 1}
    assert _stored(wh) == {
        ("one", "cancellation_intent", "b"),
        ("one", "long_silence", "b"),
        ("two", "cancellation_intent", "b"),
        ("two", "unresolved_outcome", "b"),
    }
    with connect_read_only(wh.path) as con:
        (evidence,) = con.execute(
            "SELECT evidence FROM category_matches WHERE call_id = 'one'"
            " AND category = 'long_silence'"
        ).fetchone()  # type: ignore[misc]
        assert '"start_s": 30.0' in evidence and '"end_s": 65.0' in evidence
        assert con.execute("SELECT count(*) FROM category_matches").fetchone() == (4,)
