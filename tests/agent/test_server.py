"""The TwiML answer endpoint: what a Twilio number's voice webhook gets back."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from fastapi.testclient import TestClient

from agent.server import create_app
from analytics.config import Settings


def _client(settings: Settings, tmp_path: Path, **kw: object) -> TestClient:
    s = settings.model_copy(
        update={"source": "s3://bucket/recordings/", "agent_spool_dir": tmp_path / "spool", **kw}
    )
    return TestClient(create_app(s))


def test_twiml_connects_the_call_to_the_media_stream(settings: Settings, tmp_path: Path) -> None:
    with _client(settings, tmp_path) as client:
        form = "CallSid=CA1&From=%2B15550100&To=%2B15550199&Direction=inbound"
        resp = client.post(
            "/twiml", content=form, headers={"Content-Type": "application/x-www-form-urlencoded"}
        )
        health = client.get("/health").json()
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("application/xml")
    root = ET.fromstring(resp.text)
    stream = root.find("./Connect/Stream")
    assert stream is not None and stream.get("url") == "ws://testserver/ws"
    params = {p.get("name"): p.get("value") for p in stream.findall("Parameter")}
    assert params == {"from_number": "+15550100", "to_number": "+15550199", "direction": "inbound"}
    assert health == {"ok": True, "spooled": 0, "calls": 0}


def test_public_url_gives_a_secure_stream_url(settings: Settings, tmp_path: Path) -> None:
    with _client(settings, tmp_path, agent_public_url="https://agent.example.com/") as client:
        resp = client.get("/twiml", params={"From": "+1", "Direction": "outbound-api"})
    stream = ET.fromstring(resp.text).find("./Connect/Stream")
    assert stream is not None and stream.get("url") == "wss://agent.example.com/ws"
    params = {p.get("name"): p.get("value") for p in stream.findall("Parameter")}
    assert params["direction"] == "outbound" and "to_number" not in params
