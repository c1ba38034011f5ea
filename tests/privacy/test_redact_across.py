"""Redaction across utterance and word boundaries, and the NER model's checksum."""

from __future__ import annotations

from pathlib import Path

import pytest

from analytics.enrich import pii_ner
from analytics.enrich.redact import redact_utterances
from analytics.errors import ConfigError
from analytics.models import Utterance, Word


def _utt(text: str, speaker: str, t0: float) -> Utterance:
    tokens = text.split()
    words = tuple(Word(w, t0 + i * 0.5, t0 + i * 0.5 + 0.4, 0.9) for i, w in enumerate(tokens))
    return Utterance(speaker, speaker, t0, words[-1].end, text, words, channel=0)


def _all_text(utterances: tuple[Utterance, ...]) -> str:
    return " ".join([u.text for u in utterances] + [w.word for u in utterances for w in u.words])


@pytest.mark.parametrize(
    ("chunks", "kind"),
    [
        (["my card is 4111 1111", "1111 1111 thanks"], "card"),
        (["it's four one one one, one one one one,", "one one one one, one one one two"], "card"),
        (["the email is john dot smith", "at example dot com"], "email"),
        (["my social is 123 45", "6789"], "ssn"),
    ],
)
def test_pii_read_in_chunks_over_a_pause_is_redacted_whole(chunks: list[str], kind: str) -> None:
    # The customer reads in chunks; the agent says "mhm" in between.
    utts = []
    t = 0.0
    for chunk in chunks:
        utts.append(_utt(chunk, "customer", t))
        utts.append(_utt("Mhm.", "agent", t + 6))
        t += 10
    out, counts = redact_utterances(utts)
    assert counts[kind] == 1, counts
    text = _all_text(out)
    for digit_word in ("4111", "6789", "john", "smith", "example", "four one one"):
        assert digit_word not in text
    assert [u.text for u in out if u.speaker == "agent"] == ["Mhm."] * len(chunks)
    # every part is a placeholder in the text and in the words, times kept
    for before, after in zip(utts, out, strict=True):
        assert (after.start, after.end) == (before.start, before.end)
        if after.speaker == "customer":
            assert f"[{kind.upper()}]" in after.text
            assert any(f"[{kind.upper()}]" in w.word for w in after.words)


def test_another_speakers_digits_do_not_join_a_run() -> None:
    utts = [_utt("my pin is 12", "customer", 0.0), _utt("34 minutes ago", "agent", 5.0)]
    out, counts = redact_utterances(utts)
    assert out[1].text == "34 minutes ago"
    assert sum(counts.values()) == 0


def test_words_table_holds_placeholders_not_values() -> None:
    utts = [_utt("I'm Maria Gonzalez at 42 Elm Street, born March 5th, 1985", "customer", 0)]
    (red,), counts = redact_utterances(utts)
    words = [w.word for w in red.words]
    assert not {"Maria", "Gonzalez", "42", "Elm", "1985"} & set(words)
    assert counts["name"] == 1 and counts["address"] == 1 and counts["dob"] == 1
    assert red.text == " ".join(words)


def test_a_changed_model_file_is_refused(tmp_path: Path) -> None:
    src = pii_ner.model_dir()
    for rel in pii_ner.MODEL_FILES_SHA256:
        dst = tmp_path / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_bytes((src / rel).read_bytes())
    pii_ner.verify_model(tmp_path)  # an exact copy passes
    with (tmp_path / "ner" / "model").open("ab") as fh:
        fh.write(b"\0")
    with pytest.raises(ConfigError, match="sha256"):
        pii_ner.verify_model(tmp_path)
    (tmp_path / "ner" / "model").write_bytes((src / "ner" / "model").read_bytes())
    (tmp_path / "tokenizer").unlink()
    with pytest.raises(ConfigError, match="missing"):
        pii_ner.verify_model(tmp_path)


def test_llm_transcript_lines_redact_numbers_spelled_in_chunks() -> None:
    from analytics.insights.prompts import transcript_lines

    # read three digits at a time: no chunk alone looks like a number worth redacting
    chunks = ["four five three", "nine one four", "eight eight zero", "three four three"]
    utts = [_utt("the card is " + chunks[0], "customer", 0.0), _utt("Mhm.", "agent", 6.0)]
    for i, chunk in enumerate([*chunks[1:], "six four six seven"]):
        utts.append(_utt(chunk, "customer", 10.0 + 5 * i))
    lines = transcript_lines(utts)
    joined = " ".join(lines)
    for word in ("four", "five", "nine", "eight", "zero", "seven"):
        assert word not in joined, lines
    assert lines[0].endswith("CUSTOMER: the card is [CARD]") and lines[1].endswith("AGENT: Mhm.")
