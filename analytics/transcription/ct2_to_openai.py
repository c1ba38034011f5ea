"""Turn a CTranslate2 whisper model directory (what faster-whisper loads) back into an
openai-whisper checkpoint (``{"dims": ..., "model_state_dict": ...}`` as ``torch.save``s).

The packaged models (tiny.en, base) ship only as CTranslate2 ``model.bin`` files in float16;
openai-whisper needs its own ``.pt`` layout. The conversion is exact up to float16: every
CTranslate2 variable maps onto one openai-whisper tensor (fused q/k/v and k/v projections are
split back; the key projection has no bias in whisper, its zero bias slice is checked and
dropped). The word-timing alignment heads from the model's ``config.json`` are stored in the
checkpoint too, encoded the way openai-whisper encodes its official ones.

torch is only needed to write the ``.pt`` file (``save_checkpoint``), not to read model.bin.
"""

from __future__ import annotations

import base64
import gzip
import json
import logging
import re
import struct
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from analytics.errors import ModelNotFoundError

log = logging.getLogger(__name__)

#: CTranslate2 binary format versions this reader understands.
_SUPPORTED_VERSIONS = (5, 6)
#: CTranslate2 DataType ids -> numpy dtypes (float16 / float32 models; int8 is refused).
_DTYPES: dict[int, Any] = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}
_BF16 = 5


@dataclass(frozen=True)
class WhisperDims:
    """openai-whisper's ``ModelDimensions``, read off the CTranslate2 weights."""

    n_mels: int
    n_audio_ctx: int
    n_audio_state: int
    n_audio_head: int
    n_audio_layer: int
    n_vocab: int
    n_text_ctx: int
    n_text_state: int
    n_text_head: int
    n_text_layer: int


def _read(fh: BinaryIO, fmt: str) -> int:
    size = struct.calcsize(fmt)
    raw = fh.read(size)
    if len(raw) != size:
        raise ValueError("truncated file")
    return int(struct.unpack(fmt, raw)[0])


def _read_string(fh: BinaryIO) -> str:
    n = _read(fh, "H")
    return fh.read(n)[:-1].decode("utf-8")


def read_ct2_variables(model_bin: Path) -> tuple[str, dict[str, np.ndarray]]:
    """(spec name, variable name -> array) from a CTranslate2 ``model.bin``; aliases are
    resolved to the arrays they name."""
    variables: dict[str, np.ndarray] = {}
    try:
        with model_bin.open("rb") as fh:
            version = _read(fh, "I")
            if version not in _SUPPORTED_VERSIONS:
                raise ValueError(f"binary version {version} (supported: {_SUPPORTED_VERSIONS})")
            spec = _read_string(fh)
            _read(fh, "I")  # spec revision
            for _ in range(_read(fh, "I")):
                name = _read_string(fh)
                shape = [_read(fh, "I") for _ in range(_read(fh, "B"))]
                dtype_id = _read(fh, "B")
                nbytes = _read(fh, "I")
                raw = fh.read(nbytes)
                if len(raw) != nbytes:
                    raise ValueError(f"truncated variable {name}")
                if dtype_id == _BF16:
                    bits = np.frombuffer(raw, dtype=np.uint16).astype(np.uint32) << 16
                    array = bits.view(np.float32)
                elif dtype_id in _DTYPES:
                    array = np.frombuffer(raw, dtype=_DTYPES[dtype_id])
                else:
                    raise ValueError(f"variable {name} has unknown dtype id {dtype_id}")
                variables[name] = array.reshape(shape) if shape else array.reshape(())
            for _ in range(_read(fh, "I")):
                alias, target = _read_string(fh), _read_string(fh)
                variables[alias] = variables[target]
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise ModelNotFoundError(
            f"{model_bin} is not a readable CTranslate2 model.bin: {exc}; point at the "
            f"directory of a float16/float32 faster-whisper model (tiny.en, base)"
        ) from exc
    return spec, variables


def _layers(variables: dict[str, np.ndarray], prefix: str) -> int:
    found = {int(m.group(1)) for k in variables if (m := re.match(prefix + r"/layer_(\d+)/", k))}
    return max(found) + 1 if found else 0


def _scalar(variables: dict[str, np.ndarray], name: str) -> int:
    return int(variables[name].reshape(-1)[0])


def dims_of(variables: dict[str, np.ndarray]) -> WhisperDims:
    """Model dimensions from the shapes (and stored head counts) of the weights."""
    conv1 = variables["encoder/conv1/weight"]
    emb = variables["decoder/embeddings/weight"]
    return WhisperDims(
        n_mels=int(conv1.shape[1]),
        n_audio_ctx=int(variables["encoder/position_encodings/encodings"].shape[0]),
        n_audio_state=int(conv1.shape[0]),
        n_audio_head=_scalar(variables, "encoder/num_heads"),
        n_audio_layer=_layers(variables, "encoder"),
        n_vocab=int(emb.shape[0]),
        n_text_ctx=int(variables["decoder/position_encodings/encodings"].shape[0]),
        n_text_state=int(emb.shape[1]),
        n_text_head=_scalar(variables, "decoder/num_heads"),
        n_text_layer=_layers(variables, "decoder"),
    )


def _split(
    out: dict[str, np.ndarray], src: dict[str, np.ndarray], ct2: str, names: list[str]
) -> None:
    """A fused projection (q|k|v or k|v) -> one weight (and bias) per whisper projection."""
    weights = np.split(src[f"{ct2}/weight"], len(names), axis=0)
    biases = np.split(src[f"{ct2}/bias"], len(names), axis=0)
    for name, weight, bias in zip(names, weights, biases, strict=True):
        out[f"{name}.weight"] = weight
        if name.endswith(".key"):
            if np.any(bias != 0):
                raise ModelNotFoundError(f"{ct2}: non-zero key bias; not a whisper model")
        else:
            out[f"{name}.bias"] = bias


def _copy(out: dict[str, np.ndarray], src: dict[str, np.ndarray], ct2: str, name: str) -> None:
    out[f"{name}.weight"] = src[f"{ct2}/weight"]
    out[f"{name}.bias"] = src[f"{ct2}/bias"]


def _norm(out: dict[str, np.ndarray], src: dict[str, np.ndarray], ct2: str, name: str) -> None:
    out[f"{name}.weight"] = src[f"{ct2}/gamma"]
    out[f"{name}.bias"] = src[f"{ct2}/beta"]


def _block(out: dict[str, np.ndarray], src: dict[str, np.ndarray], ct2: str, wh: str) -> None:
    """Self-attention + feed-forward of one encoder or decoder layer."""
    _norm(out, src, f"{ct2}/self_attention/layer_norm", f"{wh}.attn_ln")
    _split(
        out,
        src,
        f"{ct2}/self_attention/linear_0",
        [f"{wh}.attn.query", f"{wh}.attn.key", f"{wh}.attn.value"],
    )
    _copy(out, src, f"{ct2}/self_attention/linear_1", f"{wh}.attn.out")
    _norm(out, src, f"{ct2}/ffn/layer_norm", f"{wh}.mlp_ln")
    _copy(out, src, f"{ct2}/ffn/linear_0", f"{wh}.mlp.0")
    _copy(out, src, f"{ct2}/ffn/linear_1", f"{wh}.mlp.2")


def state_dict_of(variables: dict[str, np.ndarray], dims: WhisperDims) -> dict[str, np.ndarray]:
    """openai-whisper state dict names -> float32 arrays."""
    v = variables
    out: dict[str, np.ndarray] = {}
    _copy(out, v, "encoder/conv1", "encoder.conv1")
    _copy(out, v, "encoder/conv2", "encoder.conv2")
    out["encoder.positional_embedding"] = v["encoder/position_encodings/encodings"]
    for i in range(dims.n_audio_layer):
        _block(out, v, f"encoder/layer_{i}", f"encoder.blocks.{i}")
    _norm(out, v, "encoder/layer_norm", "encoder.ln_post")
    out["decoder.token_embedding.weight"] = v["decoder/embeddings/weight"]
    out["decoder.positional_embedding"] = v["decoder/position_encodings/encodings"]
    for i in range(dims.n_text_layer):
        ct2, wh = f"decoder/layer_{i}", f"decoder.blocks.{i}"
        _block(out, v, ct2, wh)
        _norm(out, v, f"{ct2}/attention/layer_norm", f"{wh}.cross_attn_ln")
        out[f"{wh}.cross_attn.query.weight"] = v[f"{ct2}/attention/linear_0/weight"]
        out[f"{wh}.cross_attn.query.bias"] = v[f"{ct2}/attention/linear_0/bias"]
        _split(
            out, v, f"{ct2}/attention/linear_1", [f"{wh}.cross_attn.key", f"{wh}.cross_attn.value"]
        )
        _copy(out, v, f"{ct2}/attention/linear_2", f"{wh}.cross_attn.out")
    _norm(out, v, "decoder/layer_norm", "decoder.ln")
    return {k: np.ascontiguousarray(a, dtype=np.float32) for k, a in out.items()}


def encode_alignment_heads(heads: list[list[int]], dims: WhisperDims) -> str:
    """(layer, head) pairs -> openai-whisper's base85(gzip(bool mask)) encoding, the form
    ``Whisper.set_alignment_heads`` takes."""
    mask = np.zeros((dims.n_text_layer, dims.n_text_head), dtype=bool)
    for layer, head in heads:
        mask[int(layer), int(head)] = True
    return base64.b85encode(gzip.compress(mask.tobytes(), mtime=0)).decode("ascii")


@dataclass(frozen=True)
class Converted:
    """A converted model in memory: what ``save_checkpoint`` writes."""

    dims: WhisperDims
    state_dict: dict[str, np.ndarray]
    alignment_heads: str | None
    source: Path


def convert(model_dir: Path) -> Converted:
    """Read a CTranslate2 whisper model directory into openai-whisper's layout."""
    model_bin = Path(model_dir) / "model.bin"
    if not model_bin.is_file():
        raise ModelNotFoundError(
            f"{model_dir} holds no model.bin: point at a faster-whisper (CTranslate2) model "
            f"directory, or a packaged model name (tiny.en, base)"
        )
    spec, variables = read_ct2_variables(model_bin)
    if spec != "WhisperSpec":
        raise ModelNotFoundError(f"{model_bin} is a {spec} model, not a whisper model")
    if variables["decoder/embeddings/weight"].dtype == np.int8:
        raise ModelNotFoundError(
            f"{model_bin} is quantized to int8; only float16/float32 models convert exactly"
        )
    dims = dims_of(variables)
    state = state_dict_of(variables, dims)
    config_path = Path(model_dir) / "config.json"
    heads = None
    if config_path.is_file():
        pairs = json.loads(config_path.read_text()).get("alignment_heads")
        if pairs:
            heads = encode_alignment_heads(pairs, dims)
    return Converted(dims, state, heads, Path(model_dir))


def save_checkpoint(converted: Converted, target: Path) -> Path:
    """Write ``target`` (.pt) atomically: dims, model_state_dict, alignment_heads."""
    import torch

    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    checkpoint = {
        "dims": asdict(converted.dims),
        "model_state_dict": {k: torch.from_numpy(a) for k, a in converted.state_dict.items()},
        "alignment_heads": converted.alignment_heads,
        "converted_from": str(converted.source),
    }
    tmp = target.with_suffix(target.suffix + ".part")
    torch.save(checkpoint, tmp)
    tmp.replace(target)
    log.info("wrote openai-whisper checkpoint %s from %s", target, converted.source)
    return target


def read_alignment_heads(checkpoint: Path) -> str | None:
    """The encoded alignment heads stored in a converted checkpoint (None for others)."""
    import torch

    try:
        data = torch.load(checkpoint, map_location="cpu", mmap=True, weights_only=True)
    except Exception:  # not a zip checkpoint (mmap needs one), or not ours: no heads
        return None
    heads = data.get("alignment_heads") if isinstance(data, dict) else None
    return heads if isinstance(heads, str) else None


def packaged_checkpoint(name: str, cache_dir: Path) -> Path | None:
    """openai-whisper checkpoint for a packaged faster-whisper model (tiny.en, base),
    converted once into ``cache_dir/openai-whisper/<name>.pt``; None when the package is
    not installed. Reconverted when the source model.bin changes (its sha256 is stamped)."""
    from analytics.transcription.models import PACKAGED, file_sha256, resolve

    if name not in PACKAGED:
        return None
    try:
        source = resolve(name, cache_dir)
    except ModelNotFoundError:
        return None
    target = Path(cache_dir) / "openai-whisper" / f"{name}.pt"
    stamp = target.with_suffix(".pt.source-sha256")
    if target.is_file() and stamp.is_file() and stamp.read_text().strip() == source.sha256:
        return target
    log.info("converting packaged whisper %s to an openai-whisper checkpoint", name)
    save_checkpoint(convert(source.path), target)
    stamp.write_text(file_sha256(source.path / "model.bin") + "\n")
    return target
