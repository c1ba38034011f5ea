"""Nothing personal in any warehouse column, LLM request or log line.

A call with a card number read in two chunks over a pause, an SSN, a spoken email, a
street address and names; a sidecar with the customer's phone and name and a CRM note;
engine extras (entities, summary) that repeat them. It goes through insights (the real
OpenAI client against a loopback fake that echoes what it was sent into its answer) and
landing, then every table, every request body and every log record is searched."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from analytics.config import Settings
from analytics.enrich.privacy import PrivacyPolicy
from analytics.insights import make_insights_engine
from analytics.landing import add_insights, land_processed
from analytics.models import CallMetadata, Utterance, Word
from analytics.warehouse import Warehouse
from tests.factories import call_result
from tests.fakes.openai_server import FakeOpenAIServer

TURNS = [
    ("agent", "Thank you for calling Northwind Telecom, this is Kevin. How can I help?"),
    ("customer", "Hi, my name is Maria Gonzalez, I want to pay my bill."),
    ("agent", "Sure. What is the card number?"),
    ("customer", "It's 4539 1488"),
    ("agent", "Mhm, go on."),
    ("customer", "0343 6467, expiry next year."),
    ("agent", "And for verification your social security number?"),
    ("customer", "It's 123-45-6789."),
    ("agent", "Where should we send the receipt?"),
    ("customer", "Email is maria dot gonzalez at example dot com."),
    ("agent", "And the billing address?"),
    ("customer", "I live at 42 Elm Street, Springfield, IL 62704. Thanks so much."),
]
SIDECAR = {
    "customer_phone": "+1 555 867 5309",
    "customer_name": "Maria Gonzalez",
    "crm": {"note": "VIP since 2019, call back on 555-867-5309, ask for Maria Gonzalez"},
    "queue": "billing",
}
NATIVE = {
    "entities": [
        {"entity_type": "person_name", "text": "Maria Gonzalez", "start": 5.0},
        {"entity_type": "credit_card_number", "text": "4539 1488 0343 6467", "start": 15.0},
    ],
    "summary": "Maria Gonzalez paid with card 4539 1488 0343 6467 and gave SSN 123-45-6789.",
    "sentiment": [{"text": "I live at 42 Elm Street", "sentiment": "NEUTRAL", "start": 55.0}],
}
SECRETS = [
    "Maria", "Gonzalez", "Kevin", "4539", "1488", "0343", "6467", "123-45", "6789",
    "maria dot", "example dot com", "42 Elm", "Elm Street", "62704", "867", "5309",
]  # fmt: skip


def _utterances() -> tuple[Utterance, ...]:
    out = []
    t = 0.0
    for role, text in TURNS:
        words = tuple(
            Word(w, t + j * 0.35, t + j * 0.35 + 0.3, 0.9) for j, w in enumerate(text.split())
        )
        out.append(
            Utterance(role, role, t, words[-1].end, text, words, channel=int(role == "agent"))
        )
        t = words[-1].end + 1.5  # a pause between turns: the card is read in two chunks
    return tuple(out)


def _all_rows(wh: Warehouse) -> dict[str, str]:
    with wh.connect() as con:
        tables = [
            r[0]
            for r in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE'"
            ).fetchall()
        ]
        return {
            t: json.dumps(_text_only(con.execute(f'SELECT * FROM "{t}"').fetchall()))
            for t in tables
        }


def _text_only(value: Any) -> Any:
    """The text a stored value holds (nested lists, dicts and JSON kept); numbers and
    timestamps become None: personal data is stored as text, and a run's microseconds or
    a duration can hold "867" by chance."""
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)):
        return [_text_only(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _text_only(v) for k, v in value.items()}
    return None


def test_nothing_personal_is_stored_sent_or_logged(
    tmp_path: Path, llm: FakeOpenAIServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        insights_engine="openai",
        llm_base_url=llm.base_url,
        llm_api_key="sk-test-e2e",
        llm_max_retries=0,
        warehouse=tmp_path / "w.duckdb",
        metadata_keep=("crm", "queue"),
        metadata_hash=("customer_phone",),
    )
    md = CallMetadata.from_sidecar(
        {"call_id": "pii-call", "channel_roles": ["customer", "agent"], **SIDECAR}, "pii-call"
    )
    result = call_result(_utterances(), call_id="pii-call", metadata=md, native=NATIVE)
    wh = Warehouse(settings.warehouse)
    wh.migrate()

    processed = add_insights(result, make_insights_engine(settings))
    assert processed.insights is not None and processed.insights.ok
    analysis_id = land_processed(
        wh,
        processed,
        run_id=None,
        ruleset=None,
        redact_pii=True,
        privacy=PrivacyPolicy.from_settings(settings),
    )
    assert analysis_id is not None

    stored = _all_rows(wh)
    sent = [r.raw for r in llm.requests]
    logged = [caplog.text, *(str(r.args) for r in caplog.records)]
    assert len(sent) == 1 and "[CARD]" in sent[0] and "[SSN]" in sent[0]
    for secret in SECRETS:
        for table, rows in stored.items():
            assert secret.lower() not in rows.lower(), f"{secret!r} stored in {table}"
        for body in sent:
            assert secret.lower() not in body.lower(), f"{secret!r} sent to the LLM"
        for line in logged:
            assert secret.lower() not in line.lower(), f"{secret!r} logged"

    with wh.connect() as con:
        counts = dict(
            con.execute(
                "SELECT pii_type, count FROM redaction_counts WHERE analysis_id = ?", [analysis_id]
            ).fetchall()
        )
        metadata = json.loads(con.execute("SELECT metadata FROM calls").fetchone()[0])  # type: ignore[index]
        words = [r[0] for r in con.execute("SELECT word FROM words ORDER BY start_s").fetchall()]
    # one card in the transcript (two chunks, one number) and one in the engine's summary
    assert counts["card"] == 2 and counts["ssn"] >= 1 and counts["email"] >= 1
    assert counts["address"] >= 1 and counts["name"] >= 2
    assert "[CARD]" in words and "[EMAIL]." in words
    # the sidecar: allow-listed fields redacted, the phone hashed, the name dropped
    assert set(metadata) == {"crm", "queue", "customer_phone"}
    assert metadata["queue"] == "billing" and metadata["customer_phone"].startswith("sha256:")
