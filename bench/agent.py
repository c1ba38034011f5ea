"""The live agent under simulated calls: response latency and CPU per concurrent call.

Usage: python bench/agent.py [--calls 10] [--concurrency 1 2] [--piper-python PY]

Starts a loopback S3 server, piper's HTTP server and ``python -m agent serve`` (its own
process, as ``make agent`` runs it), then places varied simulated calls (espeak-ng voices,
one barge-in each). Per concurrency level it prints:

- caller stop -> first agent audio, p50/p95, from the agent's own sidecars (server clock:
  VAD-corrected end of the caller's speech to the first agent audio sent), and as heard by
  the caller (its last sample sent -> first agent audio received);
- where that latency went, per stage (p50 ms; ``stages_ms`` in the sidecars' turns): VAD
  stop confirmation, STT, turn end, brain, TTS first audio, transport;
- every barge-in found in the recordings: caller onset -> agent channel quiet (ms);
- CPU seconds the agent process used per call-minute, and its CPU share per concurrent call;
- the machine's load average, since the agent shares 2 cores with everything else.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent.__main__ import _place_all, _quiet_pipecat
from agent.audio import read_wav
from agent.local import agent_subprocess, settings_env, varied_calls
from agent.orders import OrderTable
from agent.piper_server import piper_server
from analytics.config import Settings
from analytics.sources.s3 import make_client
from flows.local_s3 import local_s3_server
from tests.agent.audio_checks import barge_ins

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def pct(values: list[float], q: int) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(sorted(values), n=100, method="inclusive")[q - 1]


def run_level(
    env: dict[str, str],
    client: Any,
    bucket: str,
    calls: int,
    concurrency: int,
    seed: int,
    keep: Path | None = None,
) -> dict[str, Any]:
    plans = varied_calls(calls, OrderTable(), seed)
    load_start = os.getloadavg()[0]
    before = {o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", [])}
    with agent_subprocess(env) as (url, pid):
        cpu0, t0 = cpu_seconds(pid), time.monotonic()
        reports = asyncio.run(_place_all(f"{url}/ws", plans, concurrency))
        cpu1, wall = cpu_seconds(pid), time.monotonic() - t0
        time.sleep(2)
    new = [
        o["Key"]
        for o in client.list_objects_v2(Bucket=bucket).get("Contents", [])
        if o["Key"].endswith(".json") and o["Key"] not in before
    ]
    sidecars = [json.loads(client.get_object(Bucket=bucket, Key=k)["Body"].read()) for k in new]
    quiet = []  # per barge-in, from the recording: caller onset -> agent channel quiet (ms)
    for k in new:
        wav = client.get_object(Bucket=bucket, Key=k[: -len(".json")] + ".wav")["Body"].read()
        audio, rate, _ = read_wav(wav)
        quiet += [ms for _, ms in barge_ins(audio, rate)]
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        for sidecar in sidecars:
            (keep / f"{sidecar['call_id']}.json").write_text(json.dumps(sidecar, indent=1))
    server = [t["latency_ms"] for s in sidecars for t in s["turns"]]
    stages: dict[str, list[float]] = {}
    for t in (t for s in sidecars for t in s["turns"]):
        for stage, ms in t.get("stages_ms", {}).items():
            stages.setdefault(stage, []).append(ms)
    heard = [ms for r in reports for ms in r.latencies_ms()]
    call_min = sum(r.duration_s for r in reports) / 60
    return {
        "concurrency": concurrency,
        "calls": len(reports),
        "recorded": len(sidecars),
        "turns": len(server),
        "server_p50": pct(server, 50),
        "server_p95": pct(server, 95),
        "heard_p50": pct(heard, 50),
        "heard_p95": pct(heard, 95),
        "stages_p50": {k: round(pct(v, 50)) for k, v in stages.items()},
        "barge_ins": sum(s["agent_metrics"]["barge_ins"] for s in sidecars),
        "barge_in_quiet_ms": sorted(quiet),
        "agent_hangups": sum(s["end_reason"] == "agent_hangup" for s in sidecars),
        "cpu_s_per_call_min": (cpu1 - cpu0) / call_min if call_min else float("nan"),
        "cpu_share_per_call": (cpu1 - cpu0) / wall / concurrency,
        "load": f"{load_start:.1f}-{os.getloadavg()[0]:.1f}",
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=10)
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--piper-python", type=Path, default=Path(".venv-tts/bin/python"))
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--keep", type=Path, default=None, help="Write the sidecars here.")
    args = ap.parse_args()
    _quiet_pipecat("ERROR")
    rows = []
    with local_s3_server() as s3, piper_server(args.piper_python) as tts:
        bucket = "bench-agent"
        overrides = {**s3.settings_overrides(), "source": f"s3://{bucket}/recordings/"}
        client = make_client(Settings(**overrides).s3_client_kwargs())
        client.create_bucket(Bucket=bucket)
        env = settings_env(
            **overrides, agent_tts_url=tts, agent_spool_dir="/tmp/callscope-bench-spool"
        )
        for level in args.concurrency:
            rows.append(run_level(env, client, bucket, args.calls, level, args.seed, args.keep))
            print(json.dumps(rows[-1]), flush=True)
    head = (
        f"{'conc':>4} {'calls':>5} {'turns':>5} {'srv p50':>8} {'srv p95':>8} {'heard p50':>9}"
        f" {'heard p95':>9} {'barge':>5} {'hangup':>6} {'cpu s/call-min':>14}"
        f" {'cpu/call':>8} {'load 1-min':>9}"
    )
    print("\ncaller stop -> first agent audio (ms); CPU of the agent process\n" + head)
    for r in rows:
        print(
            f"{r['concurrency']:>4} {r['calls']:>5} {r['turns']:>5} {r['server_p50']:>8.0f}"
            f" {r['server_p95']:>8.0f} {r['heard_p50']:>9.0f} {r['heard_p95']:>9.0f}"
            f" {r['barge_ins']:>5} {r['agent_hangups']:>6} {r['cpu_s_per_call_min']:>14.1f}"
            f" {r['cpu_share_per_call']:>8.0%} {r['load']:>9}"
        )
    print("\nbarge-ins in the recordings, caller onset -> agent quiet (ms)")
    for r in rows:
        print(f"{r['concurrency']:>4} {r['barge_in_quiet_ms']}")
    print("\nper stage, p50 ms (caller stop -> first agent audio)")
    for r in rows:
        print(f"{r['concurrency']:>4} " + "  ".join(f"{k} {v}" for k, v in r["stages_p50"].items()))


if __name__ == "__main__":
    main()
