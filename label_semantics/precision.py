"""Reduced-precision inference: run the encoder in bfloat16 (or float16) while the label vectors, the dot product
with them and the decoding stay in float32.

CPUs with AMX or AVX-512 BF16 (and every recent GPU) multiply bfloat16 matrices several times faster than float32;
the encoder is where the time goes, so only the encoder is converted. The converted copy is made once and kept
beside the model (not as a sub-module: it is never saved) until the model's weights change."""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable

import torch

logger = logging.getLogger(__name__)

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
"""The precisions `predict(..., dtype=...)` accepts, by name (the `torch.dtype` objects work too)."""

_CACHE_ATTRIBUTE = "_reduced_precision_copy"


def native_bfloat16(device: torch.device | str = "cpu") -> bool:
    """Whether `device` multiplies bfloat16 matrices natively: a CPU with AMX or AVX-512 BF16, or a CUDA GPU that
    supports bfloat16. Elsewhere bfloat16 is emulated and slower than float32."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device.type != "cpu":
        return False
    checks = [
        getattr(torch.cpu, name, None) for name in ("_is_amx_tile_supported", "_is_avx512_bf16_supported")
    ]
    return any(check is not None and check() for check in checks)


def resolve_dtype(dtype, device: torch.device | str = "cpu") -> torch.dtype | None:
    """The `torch.dtype` named by `dtype` (`"bfloat16"`, `"bf16"`, `torch.bfloat16`, ...); `None` stays `None`
    (the model's own precision). `"auto"` is bfloat16 where `device` runs it natively ([`native_bfloat16`]) and
    `None` elsewhere: on this project's CPU (AMX) bfloat16 `predict()` ran 2.45x float32 at CoNLL-2003 test F1
    84.45 against 84.49 (BENCHMARKS.md, inference speed).

    Raises:
        `ValueError`: for a name or object that is not one of [`DTYPES`] nor `"auto"`.
    """
    if isinstance(dtype, str) and dtype.lower() == "auto":
        return torch.bfloat16 if native_bfloat16(device) else None
    if dtype is None or (isinstance(dtype, torch.dtype) and dtype in DTYPES.values()):
        return dtype
    aliases = {
        "fp32": "float32",
        "bf16": "bfloat16",
        "fp16": "float16",
        "half": "float16",
        "float": "float32",
    }
    if isinstance(dtype, str):
        name = aliases.get(dtype.lower(), dtype.lower().removeprefix("torch."))
        if name in DTYPES:
            return DTYPES[name]
    raise ValueError(
        f"dtype={dtype!r} is not a precision predict() runs in; pass one of {sorted(DTYPES)} (or the torch.dtype), "
        "e.g. dtype='bfloat16', 'auto' (bfloat16 where the hardware runs it natively), or None for the model's own "
        "precision."
    )


def _parameter_dtype(module: torch.nn.Module) -> torch.dtype | None:
    for parameter in module.parameters():
        if parameter.is_floating_point():
            return parameter.dtype
    return None


def _converted(model: torch.nn.Module, source: torch.nn.Module, dtype: torch.dtype) -> torch.nn.Module:
    """A copy of `source` (the model or its text tower) in `dtype`, cached on `model` while the weights of `source`
    are unchanged (same storage and version counters)."""
    key = (dtype, id(source), tuple((p.data_ptr(), p._version) for p in source.parameters()))
    cached = model.__dict__.get(_CACHE_ATTRIBUTE)
    if cached is not None and cached[0] == key:
        return cached[1]
    with torch.inference_mode(False), torch.no_grad():
        converted = copy.deepcopy(source).to(dtype).eval()
    for parameter in converted.parameters():
        parameter.requires_grad_(False)
    logger.info("Made a %s copy of %s for prediction", dtype, type(source).__name__)
    # a tuple is not registered as a sub-module, so the copy is never saved nor moved with the model
    model.__dict__[_CACHE_ATTRIBUTE] = (key, converted)
    return converted


def scoring_function(model, dtype=None) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    r"""
    The function prediction calls on each batch of windows: `(input_ids, attention_mask) -> logits`, float32,
    shape `(batch_size, length, num_labels)`.

    Args:
        model: a token classifier; a label-semantics model's label vectors are encoded once here and reused.
        dtype (`str` or `torch.dtype`, *optional*): the precision the encoder runs in; `None` runs the model as it
            is. For the dual-tower model only the text tower is converted: the label vectors come from the model in
            its own precision and the dot product with them is float32. Any other model is converted whole and its
            logits are cast to float32.

    Returns:
        `Callable[[torch.Tensor, torch.Tensor], torch.Tensor]`.
    """
    if isinstance(dtype, str) and dtype.lower() == "auto" and not isinstance(model, torch.nn.Module):
        dtype = None  # an exported graph runs in the precision it was exported in
    dtype = resolve_dtype(dtype, getattr(model, "device", "cpu"))
    vectors = model.get_label_embeddings() if hasattr(model, "get_label_embeddings") else None
    own = _parameter_dtype(model) if isinstance(model, torch.nn.Module) else None
    if dtype is None or dtype == own:
        extra = {"description_embeddings": vectors} if vectors is not None else {}
        return lambda ids, mask: model(input_ids=ids, attention_mask=mask, **extra).logits.float()
    if not isinstance(model, torch.nn.Module):
        raise ValueError(
            f"dtype={dtype} applies to torch models; {type(model).__name__} runs in the precision it was exported "
            "in. For int8, export with export_onnx(model, path, quantize=True) and load file_name='model_qint8.onnx'."
        )
    text_encoder = getattr(model, "text_encoder", None)
    if vectors is not None and text_encoder is not None:
        encoder = _converted(model, text_encoder, dtype)
        vectors = vectors.float()
        # the dual tower's forward in evaluation (dropout is the identity), with the product in float32
        return lambda ids, mask: (
            encoder(input_ids=ids, attention_mask=mask).last_hidden_state.float() @ vectors.T
        )
    converted = _converted(model, model, dtype)
    return lambda ids, mask: converted(input_ids=ids, attention_mask=mask).logits.float()


__all__ = ["DTYPES", "native_bfloat16", "resolve_dtype", "scoring_function"]
