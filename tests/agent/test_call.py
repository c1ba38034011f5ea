"""Full simulated calls over a real WebSocket on loopback: agent (pipecat, Whisper, piper as
a separate process) + simulated caller (espeak-ng) + real S3 API server + the analytics
pipeline reading the recording back."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from agent.audio import read_wav
from agent.caller import CallerLine, place_call
from agent.server import create_app, make_deps
from analytics.config import Settings
from analytics.models import CallMetadata
from analytics.pipeline import process_call
from tests.agent.audio_checks import barge_ins
from tests.agent.conftest import s3_objects

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

LINES = [
    CallerLine("Hello, my order number is 4 1 7 2.", pause_s=0.5),
    CallerLine("Sorry, when will it arrive?", barge_in_after_s=1.5),
    CallerLine("No thanks, that's all. Bye.", pause_s=0.5),
]


def _agent_settings(settings: Settings, bucket: str, piper_url: str, tmp: Path, **kw: Any) -> Settings:
    return settings.model_copy(
        update={
            "source": f"s3://{bucket}/recordings/",
            "agent_tts_url": piper_url,
            "agent_spool_dir": tmp / "spool",
            "agent_hash_salt": None,
            **kw,
        }
    )


def _call(s: Settings, lines: list[CallerLine], **kw: Any) -> tuple[Any, Any]:
    from agent.local import serve_in_thread

    deps = make_deps(s)
    with serve_in_thread(create_app(s, deps)) as url:
        report = asyncio.run(place_call(f"{url}/ws", lines, voice="en-us+f3", **kw))
        for _ in range(100):  # the recording is written and uploaded after the hang-up
            if deps.results:
                break
            asyncio.run(asyncio.sleep(0.1))
    assert deps.results, "the agent stored no recording"
    return report, deps.results[0]


def test_simulated_call_lands_a_stereo_recording_with_its_sidecar(
    settings: Settings, s3_client: Any, bucket: str, piper_url: str, tmp_path: Path, transcriber: Any
) -> None:
    s = _agent_settings(settings, bucket, piper_url, tmp_path)
    report, result = _call(s, LINES)

    stored = s3_objects(s3_client, bucket)
    wav_key, json_key = f"{result.key}.wav", f"{result.key}.json"
    assert set(stored) == {wav_key, json_key}
    assert wav_key.startswith("recordings/agent/20") and wav_key.count("/") == 5
    sidecar = json.loads(stored[json_key])
    assert sidecar["channel_roles"] == ["customer", "agent"]
    assert sidecar["from"].startswith("sha256:") and sidecar["numbers_hashed"]
    assert sidecar["consent"]["message"] == s.agent_consent_message
    assert sidecar["end_reason"] == "agent_hangup", sidecar["events"]
    assert report.hung_up_by_agent
    tools = [e for e in sidecar["events"] if e["type"] == "tool_call"]
    assert tools and tools[0]["args"] == {"order_id": "4172"} and tools[0]["found"]
    assert sidecar["agent_metrics"]["turns"] >= 2
    assert sidecar["agent_metrics"]["barge_ins"] >= 1
    assert all(t["latency_ms"] > 0 for t in sidecar["turns"])

    audio, rate, channels = read_wav(stored[wav_key])
    assert channels == 2 and rate == 8000
    assert abs(len(audio) / rate - sidecar["duration_s"]) < 0.05

    # the barge-in, measured from the audio: the agent channel falls quiet within 300 ms
    interruptions = barge_ins(audio, rate)
    assert interruptions, "no caller speech over agent speech found in the recording"
    assert max(ms for _, ms in interruptions) <= 300, interruptions

    # transcribing the channels back: the caller's lines on ch0, the agent's on ch1
    path = tmp_path / "call.wav"
    path.write_bytes(stored[wav_key])
    call = process_call(
        path,
        transcriber=transcriber,
        metadata=CallMetadata.from_sidecar(sidecar, "x"),
        source_uri=f"s3://{bucket}/{wav_key}",
    )
    caller = " ".join(u.text for u in call.utterances if u.channel == 0).lower()
    agent = " ".join(u.text for u in call.utterances if u.channel == 1).lower()
    assert {u.role for u in call.utterances if u.channel == 0} == {"customer"}
    assert "order number" in caller and "arrive" in caller and "bye" in caller
    assert "oak and thread" in agent and "recorded" in agent and "dining table" in agent
    assert "dining table" not in caller and "arrive" not in agent


def test_duration_cap_ends_a_long_call(
    settings: Settings, s3_client: Any, bucket: str, piper_url: str, tmp_path: Path
) -> None:
    s = _agent_settings(settings, bucket, piper_url, tmp_path, agent_max_call_s=6.0)
    report, result = _call(s, [], hang_up_after_s=60)
    assert report.hung_up_by_agent
    sidecar = result.sidecar
    assert sidecar["end_reason"] == "duration_cap"
    assert 6.0 <= sidecar["duration_s"] < 30
    assert result.upload.uploaded
