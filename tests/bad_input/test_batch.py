"""The whole catalogue in one real nightly_ingest run (real Prefect, real tiny.en): every
recording ends processed, or failed with its stage and a reason naming the problem; the
batch finishes; a second run adds nothing."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

import pytest

from analytics.warehouse import connect_read_only
from tests.bad_input.inputs import CASES, DESCRIPTIONS, INTRO_S
from tests.reliability import BAD_INPUT, cell, replace_section, updating


def write_reliability_table(
    errors: dict[str, tuple[str, str]],
    calls: dict[str, tuple[int, dict[str, Any], str | None]],
    extra: dict[str, list[str]] | None = None,
    unlisted: dict[str, str] | None = None,
) -> str:
    """The observed outcome of every case as a markdown table; written into the README
    between the markers when CALLSCOPE_UPDATE_README=1 (``make reliability``). ``extra``:
    more notes per processed file; ``unlisted``: what the run said of files it did not
    list."""
    extra, unlisted = extra or {}, unlisted or {}
    rows = ["| input | observed |", "|---|---|"]
    for case in CASES:
        if not case.runnable():
            observed = f"not run: {case.needs} is not installed"
        elif case.filename in unlisted:
            observed = "not listed, never read: " + cell(unlisted[case.filename])
        elif case.filename in errors:
            stage, reason = errors[case.filename]
            reason = re.sub(r"(/[^/\s']+)+/", "", reason)  # paths of the run -> file names
            reason = reason.replace("|", "\\|")
            observed = f"failed at `{stage}`: {reason}"
        else:
            channels, params, outcome = calls[case.filename]
            notes = [f"{channels} ch"]
            if "audio_bad_packets" in params:
                notes.append(
                    f"{params['audio_lost_s']} s lost in {params['audio_bad_packets']} bad packets"
                )
            if "audio_mixed_channels" in params:
                notes.append(f"{params['audio_mixed_channels']} channels mixed to mono")
            notes += extra.get(case.filename, [])
            if "transcript_flag" in params:
                notes.append(
                    f"flagged `{params['transcript_flag']}` (mean word confidence"
                    f" {params['transcript_mean_word_prob']})"
                )
            notes.append(f"outcome `{outcome}`")
            observed = "processed: " + ", ".join(notes)
        rows.append(f"| {DESCRIPTIONS[case.id]} | {observed} |")
    table = "\n".join(rows)
    if updating():
        replace_section(BAD_INPUT, table)
    return table


pytestmark = [pytest.mark.slow, pytest.mark.e2e]


class _Collect(logging.Handler):
    """The messages of one logger."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_every_bad_input_ends_processed_or_failed_with_its_stage(
    prefect_harness: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from flows.ingest import nightly_ingest

    folder = tmp_path / "calls"
    folder.mkdir()
    cases = [c for c in CASES if c.runnable()]
    listed = [c for c in cases if c.listed]
    for case in cases:
        case.make(folder)
    monkeypatch.setenv("CALLSCOPE_WAREHOUSE", str(tmp_path / "w.duckdb"))
    monkeypatch.setenv("CALLSCOPE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CALLSCOPE_DIARIZER", "auto")

    said_by_source = _Collect()  # Prefect's logging setup keeps caplog from seeing these
    logging.getLogger("analytics.sources.local").addHandler(said_by_source)
    try:
        summary = nightly_ingest(source=str(folder))
    finally:
        logging.getLogger("analytics.sources.local").removeHandler(said_by_source)
    n_fail = sum(1 for c in listed if c.fails)
    assert (summary["processed"], summary["failed"]) == (len(listed) - n_fail, n_fail)
    assert summary["discovered"] == len(listed), summary

    with connect_read_only(tmp_path / "w.duckdb") as con:
        errors = {
            Path(uri).name: (stage, reason)
            for uri, stage, reason in con.execute(
                "SELECT source_uri, stage, reason FROM call_errors"
            ).fetchall()
        }
        calls = {
            Path(uri).name: (channels, json.loads(params), outcome)
            for uri, channels, params, outcome in con.execute(
                "SELECT c.source_uri, c.channels, a.params, i.insights->>'outcome'"
                " FROM calls c JOIN analyses a ON a.analysis_id = c.current_analysis_id"
                " LEFT JOIN insights i ON i.analysis_id = a.analysis_id"
            ).fetchall()
        }
        languages = {
            Path(uri).name: (language, prob)
            for uri, language, prob in con.execute(
                "SELECT c.source_uri, a.language, a.language_prob FROM calls c"
                " JOIN analyses a ON a.analysis_id = c.current_analysis_id"
            ).fetchall()
        }
        first = {
            Path(uri).name: (start, text)
            for uri, start, text in con.execute(
                "SELECT c.source_uri, min(u.start_s), arg_min(u.text, u.start_s)"
                " FROM current_utterances u JOIN calls c USING (call_id) GROUP BY ALL"
            ).fetchall()
        }
        roles = con.execute(
            "SELECT c.source_uri, u.channel, any_value(u.role) FROM current_utterances u"
            " JOIN calls c USING (call_id) GROUP BY ALL"
        ).fetchall()
    unlisted: dict[str, str] = {}
    for case in cases:
        if not case.listed:
            assert case.filename not in errors and case.filename not in calls, case.id
            said = [m for m in said_by_source.messages if case.filename in m]
            assert said and "outside the source directory" in said[0], (case.id, said)
            unlisted[case.filename] = said[0]
        elif case.fails:
            stage, pattern = case.fails
            assert case.filename in errors, f"{case.id} did not fail"
            assert errors[case.filename][0] == stage, (case.id, errors[case.filename])
            assert re.search(pattern, errors[case.filename][1]), (case.id, errors[case.filename])
        else:
            assert case.filename in calls, (
                f"{case.id} was not processed: {errors.get(case.filename)}"
            )
    assert calls["corrupt_frames.mp3"][1]["audio_bad_packets"] >= 3
    assert calls["three_channels.wav"][0] == 1
    assert calls["three_channels.wav"][1]["audio_mixed_channels"] == 3
    assert calls["stereo_48k.flac"][0] == 2
    for name in ("silence.wav", "hold_music.wav"):
        assert calls[name][2] == "no_conversation", (name, calls[name])
    # no file has two channels with the role agent
    agent_channels: dict[str, set[int]] = {}
    for uri, channel, role in roles:
        if role == "agent" and channel is not None:
            agent_channels.setdefault(uri, set()).add(channel)
    assert all(len(chs) <= 1 for chs in agent_channels.values())

    # the greeting after 12 s of rings and keypresses is kept, and nothing is heard in the tones
    start, text = first["ivr_intro.wav"]
    assert start > INTRO_S - 1.0 and re.match(r"thank you for calling", text, re.I), first
    assert calls["ivr_intro.wav"][2] != "no_conversation"
    extra = {"ivr_intro.wav": [f'first words at {start:.1f} s: "{" ".join(text.split()[:5])}"']}
    # foreign speech through the English-only model is flagged, never passed off as English
    if "deutsch.wav" in calls:
        params = calls["deutsch.wav"][1]
        assert params["transcript_flag"] == "possibly_not_english", params
        assert languages["deutsch.wav"] == ("en", None)  # not detected, and not claimed
        extra["deutsch.wav"] = ["language `en` not detected (English-only model)"]
    for name, (_, params, _) in calls.items():
        if name != "deutsch.wav":
            assert "transcript_flag" not in params, (name, params)

    write_reliability_table(errors, calls, extra, unlisted)

    again = nightly_ingest(source=str(folder))
    # processed calls and permanent failures are both known: nothing is redone
    assert again["processed"] == 0 and again["skipped"] == len(listed)
