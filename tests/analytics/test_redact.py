from __future__ import annotations

from pathlib import Path

import pytest

from analytics.enrich.redact import (
    PII_TYPES,
    empty_counts,
    luhn_ok,
    redact,
    redact_result,
    redact_utterances,
)
from analytics.models import Utterance, Word
from analytics.warehouse import Warehouse
from analytics.warehouse.insights import write_redaction_counts
from tests.factories import call_result


@pytest.mark.parametrize(
    ("text", "expected", "kind"),
    [
        # cards: Luhn-valid 13-19 digits, written in groups or spelled out
        ("my card is 4111 1111 1111 1111 thanks", "my card is [CARD] thanks", "card"),
        ("card 4111-1111-1111-1111.", "card [CARD].", "card"),
        ("number 4111111111111111 ok", "number [CARD] ok", "card"),
        ("amex 3782 822463 10005", "amex [CARD]", "card"),
        ("it's 4111, 1111, 1111, 1111.", "it's [CARD].", "card"),
        ("four one one one one one one one one one one one one one one one", "[CARD]", "card"),
        ("card four one one one, 1111 1111 1111 please", "card [CARD] please", "card"),
        # card-like runs whatever the Luhn check says (one misheard digit is enough)
        ("number 1234 5678 9012 3456 ok", "number [CARD] ok", "card"),
        ("4111 1111 1111 1112", "[CARD]", "card"),
        # account-like: six or more written digits, or four after "account"
        ("account 123456789 is mine", "account [ACCOUNT] is mine", "account"),
        ("order 48213377 shipped", "order [ACCOUNT] shipped", "account"),
        ("my account number is 4821", "my account number is [ACCOUNT]", "account"),
        (
            "routing number two one zero zero zero zero zero two one",
            "routing number [ACCOUNT]",
            "account",
        ),
        # emails spoken, also with the name spelled out
        ("write to john at example dot com", "write to [EMAIL]", "email"),
        ("j o h n at example dot org", "[EMAIL]", "email"),
        # addresses
        ("I live at 123 Main Street, Springfield, IL 62704", "I live at [ADDRESS]", "address"),
        ("it's one two three Oak Lane apartment 4B", "it's [ADDRESS]", "address"),
        ("send it to P.O. Box 1234", "send it to [ADDRESS]", "address"),
        ("the zip code is 90210", "the zip code is [ADDRESS]", "address"),
        # dates of birth: after "born"/"birth", or a full date with an old year
        ("my date of birth is March 5th, 1985", "my date of birth is [DOB]", "dob"),
        ("born on the fifth of March nineteen eighty five", "born on [DOB]", "dob"),
        ("DOB 03/05/1985", "DOB [DOB]", "dob"),
        ("it was July 4, 1976", "it was [DOB]", "dob"),
        # names: by rule, and by the NER model
        ("my name is John Smith", "my name is [NAME]", "name"),
        ("Northwind Telecom, Amanda speaking.", "Northwind Telecom, [NAME] speaking.", "name"),
        ("that's S-M-I-T-H", "that's [NAME]", "name"),
        # an uncased transcript (real ASR output): the strong cue still names who follows
        ("hi my name is maria ganalas I want to pay", "hi my name is [NAME] I want to pay", "name"),
        ("yeah name's peter and i'm calling", "yeah name's [NAME] and i'm calling", "name"),
        ("I talked to Jennifer yesterday", "I talked to [NAME] yesterday", "name"),
        # phones
        ("call me at (555) 123-4567 today", "call me at [PHONE] today", "phone"),
        ("it's 555-123-4567.", "it's [PHONE].", "phone"),
        ("my number is +44 20 7946 0958", "my number is [PHONE]", "phone"),
        ("try 5551234567 instead", "try [PHONE] instead", "phone"),
        ("try 555.123.4567 instead", "try [PHONE] instead", "phone"),
        ("dial 1-800-555-0199 now", "dial [PHONE] now", "phone"),
        ("the office is 020 7946 0958", "the office is [PHONE]", "phone"),
        # emails, written and spoken
        ("mail jane.doe@example.com please", "mail [EMAIL] please", "email"),
        ("J.Doe+calls@mail.example.co.uk is mine", "[EMAIL] is mine", "email"),
        ("it's jane dot doe at example dot com", "it's [EMAIL]", "email"),
        # after "my email is", a garbled spoken address up to its domain (real ASR output)
        ("My email is Maria. Gonzalez. Have an example .com.", "My email is [EMAIL].", "email"),
        ("email address is jd 42 at mail dot net", "email address is [EMAIL]", "email"),
        # SSNs
        ("my ssn is 123-45-6789", "my ssn is [SSN]", "ssn"),
        ("my SSN is 123456789", "my SSN is [SSN]", "ssn"),
        (
            "my social security number is one two three four five six seven eight nine",
            "my social security number is [SSN]",
            "ssn",
        ),
        # spelled digit sequences
        ("the code is four seven two nine one", "the code is [DIGITS]", "digits"),
        ("it's four, seven, two, nine, one.", "it's [DIGITS].", "digits"),
        ("oh double five two three", "[DIGITS]", "digits"),
        ("pin 4 7 2 9 ok", "pin [DIGITS] ok", "digits"),
        ("it is nine nine dash one two", "it is [DIGITS]", "digits"),
        ("zero zero seven three", "[DIGITS]", "digits"),
    ],
)
def test_pii_is_replaced_by_a_placeholder(text: str, expected: str, kind: str) -> None:
    result = redact(text)
    assert result.text == expected
    assert result.counts[kind] == 1
    assert sum(result.counts.values()) == 1


@pytest.mark.parametrize(
    "text",
    [
        "see you at two thirty",
        "I have one or two questions",
        "in three to five business days",
        "it costs twenty dollars a month",
        "the year 2019 and 1,000,000 dollars",
        "Oh, I must have the wrong number.",
        "I waited 3 hours on the road",
        "see you on March 5th",
        "This is great, thanks so much",
        "Thank you for calling Northwind Telecom billing.",
        "Can I have the name on the account, please?",
        "the bill was 1,250 dollars in 2024",
        "room 4 oh 2",  # three digit units
        "between nine and eleven in the morning",
        "I called 3 times in 2 days",
        "I owe $1,234.56",
        "meet me at the office",
    ],
)
def test_ordinary_speech_is_left_alone(text: str) -> None:
    result = redact(text)
    assert result.text == text
    assert sum(result.counts.values()) == 0


def test_several_kinds_in_one_text_are_counted_separately() -> None:
    text = "call 555-123-4567, 4111 1111 1111 1111, or mail a@b.io; code four four two one"
    result = redact(text)
    assert result.text == "call [PHONE], [CARD], or mail [EMAIL]; code [DIGITS]"
    assert result.counts == {**empty_counts(), "card": 1, "phone": 1, "email": 1, "digits": 1}


def test_redaction_is_idempotent() -> None:
    once = redact("card 4111 1111 1111 1111 and jane@example.com").text
    again = redact(once)
    assert again.text == once
    assert sum(again.counts.values()) == 0


@pytest.mark.parametrize(
    ("digits", "valid"),
    [("4111111111111111", True), ("378282246310005", True), ("4111111111111112", False)],
)
def test_luhn(digits: str, valid: bool) -> None:
    assert luhn_ok(digits) is valid


def _utt(tokens: list[str], role: str = "customer", t0: float = 10.0) -> Utterance:
    words = tuple(Word(w, t0 + i * 0.5, t0 + i * 0.5 + 0.4, 0.9) for i, w in enumerate(tokens))
    return Utterance(
        speaker=role,
        role=role,
        start=words[0].start,
        end=words[-1].end,
        text=" ".join(tokens),
        words=words,
        channel=0,
    )


def test_words_inside_a_span_merge_into_one_placeholder_word_keeping_times() -> None:
    u = _utt(["my", "card", "is", "4111", "1111", "1111", "1111.", "thanks"])
    (red,), counts = redact_utterances([u])
    assert [w.word for w in red.words] == ["my", "card", "is", "[CARD].", "thanks"]
    merged = red.words[3]
    assert merged.start == u.words[3].start and merged.end == u.words[6].end
    assert red.words[4] == u.words[7]
    assert red.text == "my card is [CARD]. thanks"
    assert (red.start, red.end, red.role) == (u.start, u.end, u.role)
    assert counts["card"] == 1


def test_spelled_digits_split_over_tokens_with_punctuation() -> None:
    u = _utt(["It's", "four,", "seven,", "two,", "nine,", "one.", "Okay?"])
    (red,), counts = redact_utterances([u])
    assert [w.word for w in red.words] == ["It's", "[DIGITS].", "Okay?"]
    assert red.words[1].start == u.words[1].start and red.words[1].end == u.words[5].end
    assert counts["digits"] == 1


def test_counts_sum_over_utterances_and_wordless_utterances_are_redacted() -> None:
    a = _utt(["mail", "jane.doe@example.com", "please"])
    b = Utterance("agent", "agent", 20.0, 22.0, "and your ssn 123-45-6789?", ())
    out, counts = redact_utterances([a, b])
    assert out[0].text == "mail [EMAIL] please"
    assert out[1].text == "and your ssn [SSN]?" and out[1].words == ()
    assert counts == {**empty_counts(), "email": 1, "ssn": 1}
    assert set(counts) == set(PII_TYPES)


def test_redact_result_replaces_utterances_only() -> None:
    u = _utt(["call", "555-123-4567", "please"])
    result = call_result(
        (u,), source_uri="file:///c1.wav", etag=None, duration_s=30.0, channel_roles=None
    )
    red, counts = redact_result(result)
    assert red.utterances[0].text == "call [PHONE] please"
    assert "555" not in red.text and counts["phone"] == 1
    assert red.call_id == result.call_id and red.created_at == result.created_at


def test_redaction_counts_are_stored_per_type(tmp_path: Path) -> None:
    wh = Warehouse(tmp_path / "w.duckdb")
    wh.migrate()
    u = _utt(["call", "555-123-4567", "or", "555-987-6543,", "card", "4111111111111111"])
    _, counts = redact_utterances([u])
    with wh.transaction() as con:
        write_redaction_counts(con, "a1", "c1", counts)
    with wh.connect() as con:
        rows = con.execute(
            "SELECT pii_type, count FROM redaction_counts WHERE analysis_id = 'a1' ORDER BY 1"
        ).fetchall()
    assert dict(rows) == {**empty_counts(), "card": 1, "phone": 2}
    # Writing again replaces, never duplicates.
    with wh.transaction() as con:
        write_redaction_counts(con, "a1", "c1", {**counts, "phone": 5})
    with wh.connect() as con:
        assert con.execute("SELECT sum(count) FROM redaction_counts").fetchone() == (6,)
