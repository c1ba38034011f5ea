"""Full simulated calls over a real WebSocket on loopback: agent (pipecat, Whisper, piper as
a separate process) + simulated caller (espeak-ng) + real S3 API server + the analytics
pipeline reading the recording back."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest

from agent.audio import read_wav
from agent.caller import CallerLine, place_call
from agent.local import agent_subprocess, settings_env
from analytics.config import Settings
from analytics.models import CallMetadata
from analytics.pipeline import process_call
from tests.agent.audio_checks import agent_quiet_after, barge_ins
from tests.agent.conftest import s3_objects

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

LINES = [
    CallerLine("Hello, my order number is 4 1 7 2.", pause_s=0.5),
    CallerLine("Sorry, when will it arrive?", barge_in_after_s=1.5),
    CallerLine("No thanks, that's all. Bye.", pause_s=0.5),
]


def _call(
    settings: Settings,
    s3_client: Any,
    bucket: str,
    piper_url: str,
    tmp: Path,
    lines: list[CallerLine],
    agent: dict[str, Any] | None = None,
    **caller: Any,
) -> tuple[Any, str, dict[str, Any], bytes]:
    """Start ``python -m agent serve`` against the loopback S3 bucket, place one call, and
    wait for the recording + sidecar to land; returns (caller report, key, sidecar, wav)."""
    env = settings_env(
        s3_endpoint_url=settings.s3_endpoint_url,
        s3_access_key_id=settings.s3_access_key_id,
        s3_secret_access_key=settings.s3_secret_access_key,
        source=f"s3://{bucket}/recordings/",
        agent_tts_url=piper_url,
        agent_spool_dir=tmp / "spool",
        data_dir=tmp / "data",
        **(agent or {}),
    )
    with agent_subprocess(env) as (url, _pid):
        report = asyncio.run(place_call(f"{url}/ws", lines, voice="en-us+f3", **caller))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            stored = s3_objects(s3_client, bucket)
            if len(stored) >= 2:
                break
            time.sleep(0.3)
    assert len(stored) == 2, f"expected a recording + sidecar in the bucket, got {list(stored)}"
    json_key = next(k for k in stored if k.endswith(".json"))
    key = json_key[: -len(".json")]
    return report, key, json.loads(stored[json_key]), stored[f"{key}.wav"]


def test_simulated_call_lands_a_stereo_recording_with_its_sidecar(
    settings: Settings,
    s3_client: Any,
    bucket: str,
    piper_url: str,
    tmp_path: Path,
    transcriber: Any,
) -> None:
    report, key, sidecar, wav = _call(settings, s3_client, bucket, piper_url, tmp_path, LINES)
    wav_key = f"{key}.wav"
    assert wav_key.startswith("recordings/agent/20") and wav_key.count("/") == 5
    assert sidecar["channel_roles"] == ["customer", "agent"]
    assert sidecar["from"].startswith("sha256:") and sidecar["numbers_hashed"]
    assert sidecar["consent"]["message"] == settings.agent_consent_message
    assert sidecar["end_reason"] == "agent_hangup", sidecar["events"]
    assert report.hung_up_by_agent
    tools = [e for e in sidecar["events"] if e["type"] == "tool_call"]
    assert tools and tools[0]["args"] == {"order_id": "4172"} and tools[0]["found"]
    assert sidecar["agent_metrics"]["turns"] >= 2, sidecar["events"]
    assert sidecar["agent_metrics"]["barge_ins"] >= 1, sidecar["events"]
    assert all(t["latency_ms"] > 0 for t in sidecar["turns"])

    audio, rate, channels = read_wav(wav)
    assert channels == 2 and rate == 8000
    assert abs(len(audio) / rate - sidecar["duration_s"]) < 0.05

    # the barge-in, measured from the audio: the agent channel falls quiet within 300 ms
    barge = next(line for line in report.lines if line["barge_in"])
    assert barge["agent_speaking_at_start"], report
    onset, agent_talking, quiet_ms = agent_quiet_after(audio, rate, barge["start_s"])
    assert agent_talking, f"agent silent at the caller's interruption ({onset}s): {report}"
    assert quiet_ms <= 300, (onset, quiet_ms, barge_ins(audio, rate))

    # transcribing the channels back: the caller's lines on ch0, the agent's on ch1
    path = tmp_path / "call.wav"
    path.write_bytes(wav)
    call = process_call(
        path,
        transcriber=transcriber,
        metadata=CallMetadata.from_sidecar(sidecar, "x"),
        source_uri=f"s3://{bucket}/{wav_key}",
    )
    caller = " ".join(u.text for u in call.utterances if u.channel == 0).lower()
    agent = " ".join(u.text for u in call.utterances if u.channel == 1).lower()
    assert {u.role for u in call.utterances if u.channel == 0} == {"customer"}
    # one word per line; tiny.en hears the barge-in line's "arrive" in this voice as
    # "derive" or "leave the rhyme" depending on what came before, but always "sorry"
    assert all(w in caller for w in ("number", "sorry", "bye")), caller
    assert all(w in agent for w in ("calling", "recorded", "order")), agent
    assert "recorded" not in caller and "furniture" not in caller and "arrive" not in agent


def test_duration_cap_ends_a_long_call(
    settings: Settings, s3_client: Any, bucket: str, piper_url: str, tmp_path: Path
) -> None:
    report, _key, sidecar, _wav = _call(
        settings,
        s3_client,
        bucket,
        piper_url,
        tmp_path,
        [],
        agent={"agent_max_call_s": 6.0},
        hang_up_after_s=60,
    )
    assert report.hung_up_by_agent
    assert sidecar["end_reason"] == "duration_cap"
    assert 6.0 <= sidecar["duration_s"] < 30
