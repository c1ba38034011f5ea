"""Spoken personal data through the whole service: a stereo call synthesized with the
espeak-ng program (customer reads a card number in two chunks over a pause, an SSN, an
email and an address; a sidecar carries the phone and name) goes through a real
nightly_ingest (S3 on loopback, tiny.en, LLM insights from a fake that quotes its whole
input back). Nothing of it may be in any warehouse column, LLM request, log record or
Prefect record."""

from __future__ import annotations

import json
import logging
import re
import shutil
import uuid
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from analytics.warehouse import connect_read_only
from flows.local_s3 import LocalS3
from tests.bad_input.inputs import espeak
from tests.fakes.openai_server import FakeOpenAIServer
from tests.privacy.conftest import ingest_env
from tests.privacy.scan import prefect_records, warehouse_rows

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

RATE = 16000
TURNS = [  # (role, text, pause after)
    ("agent", "Thank you for calling Northwind Telecom. How can I help you today?", 0.6),
    ("customer", "Hi, my name is Maria Gonzalez. I want to pay my bill.", 0.6),
    ("agent", "Sure. What is the card number?", 0.6),
    ("customer", "It is four five three nine, one four eight eight.", 1.6),
    ("agent", "Mhm, go on.", 0.6),
    ("customer", "zero three four three, six four six seven.", 0.6),
    ("agent", "And your social security number?", 0.6),
    ("customer", "one two three, four five, six seven eight nine.", 0.6),
    ("agent", "Where should we send the receipt?", 0.6),
    ("customer", "My email is maria dot gonzalez at example dot com.", 0.6),
    ("agent", "And the billing address?", 0.6),
    ("customer", "I live at forty two Elm Street, Springfield.", 0.6),
    ("agent", "Thank you, the payment is done. Goodbye.", 0.5),
]
SIDECAR = {
    "call_id": "spoken-pii",
    "channel_roles": ["customer", "agent"],
    "customer_phone": "+1 555 867 5309",
    "customer_name": "Maria Gonzalez",
}


def _digits(*runs: str) -> str:
    """Digit runs as ASR may write them (4539, 4-5-3-9, 4 5 3 9, 4,539), not inside an
    id, a hash or a decimal."""
    return "|".join(r"(?<![\w.])" + r"\D?".join(run) + r"(?!\w)" for run in runs)


#: What must not survive anywhere, as patterns (digits in any grouping, words spelled).
#: Not checked, a known gap: tiny.en hears "I live at forty two Elm Street, Springfield" as
#: "I limit 42m3, Springfield"; with no street word left, no address rule fires and the
#: town (and a mangled house number) are stored.
FORBIDDEN = {
    "name": r"maria|gonzal",
    "card": _digits("4539", "1488", "0343", "6467"),
    "card (words)": r"four five three nine|zero three four three|six four six seven",
    "ssn": _digits("6789") + r"|(?<![\w.])1\D?2\D?3\D{1,3}4\D?5(?!\w)|six seven eight nine",
    "email": r"example\s*(dot|\.)\s*com|gonzalez\s*(at|@)",
    "address": r"elm street|forty.two elm|(?<!\w)42\s+elm",
    "phone": _digits("5309") + r"|(?<![\w.])8\D?6\D?7\D{0,3}5\D?3\D?0\D?9",
}


def _speak(text: str, voice: str) -> np.ndarray:
    """espeak-ng (a separate program) -> float samples at 16 kHz."""
    return espeak(text, voice, rate=RATE, gain=1.0)


def _call(path: Path) -> Path:
    """The stereo call: customer on channel 0, agent on channel 1."""
    chans: dict[str, list[np.ndarray]] = {"customer": [], "agent": []}
    for role, text, pause in TURNS:
        speech = _speak(text, "en-us+f3" if role == "customer" else "en-us+m3")
        gap = np.zeros(int(pause * RATE), np.float32)
        other = "agent" if role == "customer" else "customer"
        chans[role] += [speech, gap]
        chans[other] += [np.zeros(len(speech), np.float32), gap]
    left, right = (np.concatenate(chans[r]) for r in ("customer", "agent"))
    stereo = np.stack([left, right], axis=1)
    pcm = (np.clip(stereo, -1, 1) * 0.8 * 32767).astype("<i2")
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(pcm.tobytes())
    return path


def test_spoken_personal_data_is_nowhere(
    prefect_harness: None,
    tmp_path: Path,
    s3_server: LocalS3,
    s3_client: Any,
    llm: FakeOpenAIServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    from flows.ingest import nightly_ingest

    caplog.set_level(logging.DEBUG)
    bucket = f"pii-{uuid.uuid4().hex[:10]}"
    s3_client.create_bucket(Bucket=bucket)
    s3_client.upload_file(str(_call(tmp_path / "call" / "pii.wav")), bucket, "calls/pii.wav")
    s3_client.put_object(Bucket=bucket, Key="calls/pii.json", Body=json.dumps(SIDECAR).encode())
    ingest_env(monkeypatch, tmp_path, llm, s3_server)

    summary = nightly_ingest(source=f"s3://{bucket}/calls/")
    assert (summary["processed"], summary["insights"].get("ok")) == (1, 1)
    with connect_read_only(tmp_path / "w.duckdb") as con:
        ((flow_run_id,),) = con.execute("SELECT flow_run_id FROM runs").fetchall()
        counts = dict(con.execute("SELECT pii_type, count FROM redaction_counts").fetchall())
        text = " ".join(r[0] for r in con.execute("SELECT text FROM utterances").fetchall())
    # the call was heard: the redactor found each kind, and plain words survived
    assert {"card", "ssn", "email"} <= set(counts), (counts, text)
    assert "northwind" in text.lower()

    places = {
        "captured logs": caplog.text + json.dumps([str(r.args) for r in caplog.records]),
        **{f"LLM request {i}": r.raw for i, r in enumerate(llm.requests)},
        **{f"prefect {k}": v for k, v in prefect_records(flow_run_id).items()},
        **{f"warehouse {k}": v for k, v in warehouse_rows(tmp_path / "w.duckdb").items()},
    }
    assert llm.requests, "no LLM request was made"
    found = [
        f"{kind} in {where}: {m.group(0)!r}"
        for kind, pattern in FORBIDDEN.items()
        for where, blob in places.items()
        if (m := re.search(pattern, blob, re.IGNORECASE))
    ]
    assert not found, "\n".join(found) + f"\nstored transcript: {text}"
