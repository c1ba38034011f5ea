"""Sidecar adapters: what other voice stacks report about a recorded call, mapped into
callscope's recording contract (docs/recording-contract.md), so their recordings can be
ingested like the agent's own. Each adapter is a pure function of the vendor payload."""

from __future__ import annotations

from analytics.sources.adapters.base import AdaptedRecording
from analytics.sources.adapters.livekit import from_livekit_egress
from analytics.sources.adapters.retell import from_retell_call
from analytics.sources.adapters.twilio import from_twilio_recording
from analytics.sources.adapters.vapi import from_vapi_report

ADAPTERS = {
    "twilio": from_twilio_recording,
    "vapi": from_vapi_report,
    "retell": from_retell_call,
    "livekit": from_livekit_egress,
}

__all__ = [
    "ADAPTERS",
    "AdaptedRecording",
    "from_livekit_egress",
    "from_retell_call",
    "from_twilio_recording",
    "from_vapi_report",
]
