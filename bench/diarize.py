"""DER, role accuracy and speed per diarizer on labelled sets.

Usage: python bench/diarize.py [--set data/diarization] [--set data/samples]
                               [--diarizers clustering channels auto none pyannote]

Every call is decoded and transcribed once (tiny.en, the default engine); each diarizer
then runs on the same decoded audio and transcript, timed alone (the Resemblyzer encoder
is loaded before timing; its one-off load time is printed). Per diarizer and set: calls,
the methods actually used, DER with its parts (pyannote.metrics, optimal mapping, 0.25 s
collar each side, overlap scored), role accuracy (heuristic roles unless the sidecar
gives channel_roles), seconds of diarization per audio minute and the worst call's DER.
"channels" runs on the stereo calls of a set only (it has nothing to split in mono).

"none" is the baseline without diarization: the engine's streams (mono: one speaker),
turns from word times. "pyannote" is skipped with the reason when it cannot load.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analytics.audio import DecodedAudio, decode
from analytics.config import Settings
from analytics.diarization import (
    AutoDiarizer,
    ChannelDiarizer,
    ClusteringDiarizer,
    DiarizerUnavailableError,
    EngineDiarizer,
    HeuristicRoleAssigner,
    assign_roles,
    make_diarizer,
)
from analytics.diarization.embeddings import voice_encoder
from analytics.evaluation import (
    DiarizationScore,
    LabelledCall,
    RoleAttribution,
    diarization_error,
    labelled_set,
    role_accuracy,
)
from analytics.models import CallMetadata
from analytics.transcription import make_transcriber
from analytics.transcription.base import EngineTranscript, Media

Prepared = tuple[LabelledCall, CallMetadata, DecodedAudio, EngineTranscript]


def _diarizer(name: str) -> Any:
    if name == "clustering":
        return ClusteringDiarizer()
    if name == "channels":
        return ChannelDiarizer()
    if name == "auto":
        return AutoDiarizer()
    if name == "none":
        return EngineDiarizer()  # passes the engine's streams through as they are
    return make_diarizer(Settings(diarizer=name))


def _prepare(folder: Path) -> list[Prepared]:
    transcriber = make_transcriber(Settings())
    out = []
    for call in labelled_set(folder):
        md = CallMetadata.from_sidecar(call.sidecar, default_call_id=call.audio.stem)
        audio = decode(call.audio)
        transcript = transcriber.transcribe_call(audio, md, Media(call.audio))
        out.append((call, md, audio, transcript))
    return out


def _run(diarizer: Any, calls: list[Prepared]) -> dict[str, Any]:
    der = DiarizationScore(0.0, 0.0, 0.0, 0.0)
    roles = RoleAttribution(0.0, 0.0, 0.0, 0.0)
    seconds = audio_s = 0.0
    methods: set[str] = set()
    worst = (0.0, "")
    assigner = HeuristicRoleAssigner()
    for call, md, audio, transcript in calls:
        t0 = time.perf_counter()
        result = diarizer.diarize(audio, transcript, md)
        guesses = assign_roles(result, md, assigner) if result.method != "none" else {}
        seconds += time.perf_counter() - t0
        audio_s += audio.duration_s
        methods.add(result.method)
        ref = call.reference["turns"]
        d = diarization_error(ref, result.turns, 0.25, audio.duration_s)
        r = role_accuracy(ref, result.turns, {s: g.role for s, g in guesses.items()})
        der = der + d
        roles = RoleAttribution(
            roles.reference_s + r.reference_s,
            roles.correct_s + r.correct_s,
            roles.wrong_s + r.wrong_s,
            roles.missed_s + r.missed_s,
        )
        worst = max(worst, (d.der, call.call_id))
    return {
        "methods": ",".join(sorted(methods)),
        "der": der,
        "roles": roles.accuracy,
        "s_per_min": seconds / (audio_s / 60),
        "worst": worst,
        "calls": len(calls),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--set", dest="sets", action="append", type=Path, default=None)
    ap.add_argument(
        "--diarizers", nargs="+", default=["clustering", "channels", "auto", "none", "pyannote"]
    )
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    # "channels" on mono calls and the "none" baseline warn per call that they keep the
    # transcript's speakers: expected here
    logging.getLogger("analytics.diarization.passthrough").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=UserWarning)
    sets = args.sets or [Path("data/diarization"), Path("data/samples")]

    t0 = time.perf_counter()
    voice_encoder()
    print(f"Resemblyzer encoder load (once per process): {time.perf_counter() - t0:.2f} s")
    prepared = {}
    for folder in sets:
        t0 = time.perf_counter()
        prepared[folder] = _prepare(folder)
        minutes = sum(a.duration_s for _, _, a, _ in prepared[folder]) / 60
        print(
            f"{folder}: {len(prepared[folder])} calls, {minutes:.1f} audio min, "
            f"decoded + transcribed once in {time.perf_counter() - t0:.1f} s"
        )

    head = (
        f"{'diarizer':<11} {'set':<25} {'calls':>5} {'used':<20} {'DER':>6} {'miss':>6} "
        f"{'FA':>6} {'conf':>6} {'roles':>6} {'s/audio min':>11}  worst call (DER)"
    )
    print()
    print(head)
    print("-" * len(head))
    for name in args.diarizers:
        try:
            diarizer = _diarizer(name)
        except DiarizerUnavailableError as exc:
            print(f"{name:<11} skipped: {exc}")
            continue
        for folder in sets:
            calls, label = prepared[folder], str(folder)
            if name == "channels":  # one speaker per channel: stereo calls only
                calls = [c for c in calls if c[3].diarization == "channels"]
                label += " (stereo)"
            if not calls:
                continue
            r = _run(diarizer, calls)
            d: DiarizationScore = r["der"]
            ref = d.reference_s or 1.0
            print(
                f"{name:<11} {label:<25} {r['calls']:>5} {r['methods']:<20} "
                f"{d.der:>6.3f} {d.missed_s / ref:>6.3f} {d.false_alarm_s / ref:>6.3f} "
                f"{d.confusion_s / ref:>6.3f} {r['roles']:>6.3f} {r['s_per_min']:>11.2f}  "
                f"{r['worst'][1]} ({r['worst'][0]:.3f})"
            )


if __name__ == "__main__":
    main()
