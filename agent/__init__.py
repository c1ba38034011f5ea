"""callscope's thin live voice agent (pipecat) and a simulated caller.

The agent answers Twilio Media Streams calls, records both legs as one stereo file plus a
sidecar in callscope's recording contract, and uploads them to the bucket the nightly flow
reads. Needs the ``agent`` extra: ``pip install 'callscope[agent]'``.
"""

from __future__ import annotations

#: Written into every sidecar (``agent_version``); bump when the dialogue or pipeline changes.
AGENT_VERSION = "callscope-agent/0.1.0"
