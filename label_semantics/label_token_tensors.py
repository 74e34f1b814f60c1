"""Pure tensor functions of the label-as-token classifier, each with its shapes in its docstring: the label tokens'
starting embeddings, the attention mask of isolated label tokens, mean pooling, and the combination of a long
text's windows."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import torch

logger = logging.getLogger(__name__)

LABEL_INITS = ("description", "random", "cls", "mean")


def initial_label_embeddings(
    embeddings: torch.Tensor,
    description_ids: Sequence[Sequence[int]],
    init: str = "description",
    *,
    cls_token_id: int | None = None,
    std: float = 0.02,
) -> torch.Tensor:
    r"""
    Starting vectors for the label tokens' input embeddings.

    Args:
        embeddings (`torch.Tensor` of shape `(vocab_size, hidden_size)`):
            The encoder's input embedding matrix, without the label tokens.
        description_ids (`Sequence[Sequence[int]]`):
            For every label, the token ids of its description (no special tokens).
        init (`str`, *optional*, defaults to `"description"`):
            `"description"`: the mean of the embeddings of the description's word pieces; `"random"`: drawn from
            `N(0, std)`; `"cls"`: a copy of the `[CLS]` embedding; `"mean"`: the mean of the whole vocabulary.
        cls_token_id (`int`, *optional*):
            Needed for `init="cls"`.
        std (`float`, *optional*, defaults to `0.02`):
            Standard deviation for `init="random"`.

    Returns:
        `torch.Tensor` of shape `(num_labels, hidden_size)`.
    """
    num_labels = len(description_ids)
    if init == "description":
        return torch.stack([embeddings[list(ids)].mean(0) for ids in description_ids])
    if init == "random":
        return (
            torch.randn(num_labels, embeddings.shape[1], dtype=embeddings.dtype, device=embeddings.device)
            * std
        )
    if init == "cls":
        if cls_token_id is None:
            raise ValueError(
                "init='cls' needs the tokenizer's [CLS] id: pass cls_token_id=tokenizer.cls_token_id."
            )
        return embeddings[cls_token_id].expand(num_labels, -1).clone()
    if init == "mean":
        return embeddings.mean(0).expand(num_labels, -1).clone()
    raise ValueError(f"init={init!r} is not supported; use one of {LABEL_INITS}, e.g. init='description'.")


def label_attention_mask(
    attention_mask: torch.Tensor, num_label_tokens: int, *, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    r"""
    The additive 4D attention mask of isolated label tokens, for `[CLS] <label_1> ... <label_n> [SEP] text [SEP]`:
    label token `i` attends to `[CLS]`, itself, the `[SEP]` after the labels and the text; every other token attends
    to every token but the label tokens. No label token sees another, and the text is read as if none were there.

    Args:
        attention_mask (`torch.Tensor` of shape `(batch_size, sequence_length)`):
            1 on real tokens, 0 on padding, over the whole sequence with the label tokens at positions `1 .. n`.
        num_label_tokens (`int`):
            `n`, the number of label tokens after `[CLS]`.
        dtype (`torch.dtype`, *optional*, defaults to `torch.float32`):
            The encoder's dtype; a blocked place holds its most negative value.

    Returns:
        `torch.Tensor` of shape `(batch_size, 1, sequence_length, sequence_length)`: 0 where a query (row) may
        attend to a key (column), `torch.finfo(dtype).min` where it may not.
    """
    length = attention_mask.shape[1]
    is_label = torch.zeros(length, dtype=torch.bool, device=attention_mask.device)
    is_label[1 : 1 + num_label_tokens] = True
    allowed = (~is_label).expand(length, -1) | torch.eye(length, dtype=torch.bool, device=is_label.device)
    allowed = allowed.unsqueeze(0) & attention_mask.bool().unsqueeze(1)
    mask = torch.zeros(allowed.shape, dtype=dtype, device=allowed.device)
    return mask.masked_fill_(~allowed, torch.finfo(dtype).min).unsqueeze(1)


def mean_pool(states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    r"""
    The mean of the states where `mask` is 1 (sentence-transformers' mean pooling).

    Args:
        states (`torch.Tensor` of shape `(batch_size, length, hidden_size)`).
        mask (`torch.Tensor` of shape `(batch_size, length)`): 1 on the tokens to average, at least one per row.

    Returns:
        `torch.Tensor` of shape `(batch_size, hidden_size)`.
    """
    weights = mask.to(states.dtype).unsqueeze(-1)
    return (states * weights).sum(1) / weights.sum(1).clamp_min(1.0)


def combine_window_probabilities(
    probabilities: torch.Tensor, owners: Sequence[int], num_texts: int, *, multi_label: bool
) -> torch.Tensor:
    r"""
    One row of label probabilities per text from the rows of its windows.

    Args:
        probabilities (`torch.Tensor` of shape `(num_windows, num_labels)`):
            Each window's probabilities: softmax rows (single-label) or sigmoids (multi-label).
        owners (`Sequence[int]`):
            For every window, the index of its text (`overflow_to_sample_mapping`).
        num_texts (`int`):
            How many texts there are; each must own at least one window.
        multi_label (`bool`):
            `False`: the mean of a text's windows (again a distribution over the labels); `True`: the maximum per
            label (a label shown in any window is shown in the text).

    Returns:
        `torch.Tensor` of shape `(num_texts, num_labels)`.
    """
    index = torch.as_tensor(list(owners), dtype=torch.long)
    if index.numel() != probabilities.shape[0] or set(index.tolist()) != set(range(num_texts)):
        raise ValueError(
            f"{probabilities.shape[0]} windows with owners {index.tolist()} do not cover the {num_texts} texts once "
            "each at least; pass the tokenizer's overflow_to_sample_mapping."
        )
    out = probabilities.new_zeros((num_texts, probabilities.shape[1]))
    if multi_label:
        return out.index_reduce_(0, index, probabilities, "amax", include_self=False)
    counts = torch.bincount(index, minlength=num_texts).clamp_min(1).to(probabilities.dtype)
    return out.index_add_(0, index, probabilities) / counts.unsqueeze(1)


__all__ = [
    "LABEL_INITS",
    "combine_window_probabilities",
    "initial_label_embeddings",
    "label_attention_mask",
    "mean_pool",
]
