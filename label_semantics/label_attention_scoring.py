"""The label-attention model's arithmetic as pure tensor functions: attention weights from energies, the sentence
loss with the attention losses of Rei & Søgaard (2018), and word scores from sub-token scores.

Each function takes tensors (and plain settings) only, so it is tested on hand-made tensors; the model
(`modeling_label_attention.py`) and prediction (`label_attention_prediction.py`) call them.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import torch
from torch import nn

from .configuration_label_attention import LabelAttentionConfigError, UnknownLabelError

logger = logging.getLogger(__name__)

MULTI_LABEL = "multi_label_classification"


def check_threshold(value: float, name: str = "threshold") -> float:
    """Return `value` as a float after checking it lies in [0, 1].

    Args:
        value (`float`):
            The threshold to check.
        name (`str`, *optional*, defaults to `"threshold"`):
            The argument name used in the error message.

    Returns:
        `float`: the threshold.

    Raises:
        [`LabelAttentionConfigError`]: when `value` is not a number in [0, 1] (a `bool` is not a number here).
    """
    try:
        number = float("nan") if isinstance(value, bool) else float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if math.isnan(number) or not 0.0 <= number <= 1.0:
        raise LabelAttentionConfigError(
            f"`{name}` must be a number in [0, 1], got {value!r}; e.g. {name}=0.5."
        )
    return number


def attention_weights(
    energies: torch.Tensor, token_mask: torch.Tensor, function: str = "sigmoid", square: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """Token scores and normalised attention weights from unnormalised attention energies.

    Args:
        energies (`torch.Tensor` of shape `(batch, seq_len, num_labels)`):
            The unnormalised scores e_i, one column per label.
        token_mask (`torch.Tensor` of shape `(batch, seq_len)`):
            True (or 1) on the real tokens; padding and special tokens are 0 and get weight 0.
        function (`str`, *optional*, defaults to `"sigmoid"`):
            `"sigmoid"`: scores ã_i = sigmoid(e_i) and weights a_i = ã_i / sum_k ã_k; `"softmax"`: weights
            a_i = softmax(e_i) over the real tokens, and the scores are the weights.
        square (`bool`, *optional*, defaults to `False`):
            With `"sigmoid"`: weights a_i = ã_i^2 / sum_k ã_k^2 (Bujel, Yannakoudakis & Rei, 2021), which
            sharpens the attention; the token scores stay ã_i. Ignored by `"softmax"`.

    Returns:
        `tuple[torch.Tensor, torch.Tensor]`: `(token_scores, weights)`, both `(batch, seq_len, num_labels)`,
        zero outside `token_mask`; the weights sum to one over the real tokens (to zero for a sentence
        without any).
    """
    mask = token_mask.bool().unsqueeze(-1)
    if function == "softmax":
        masked = energies.masked_fill(~mask, torch.finfo(energies.dtype).min)
        weights = torch.softmax(masked, dim=1) * mask
        return weights, weights
    scores = torch.sigmoid(energies) * mask
    pooled = scores * scores if square else scores
    weights = pooled / pooled.sum(dim=1, keepdim=True).clamp_min(1e-12)
    return scores, weights


def attention_losses(
    token_scores: torch.Tensor, token_mask: torch.Tensor, targets: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The attention losses of Rei & Søgaard (2018), averaged over sentences and labels.

    L2 = (min_i ã_i - 0)^2 says some tokens of every sentence are negative; L3 = (max_i ã_i - y)^2 says a
    positive token exists only in a positive sentence. Padding and special tokens never take part, and a
    sentence without real tokens is left out.

    Args:
        token_scores (`torch.Tensor` of shape `(batch, seq_len, num_labels)`):
            The token scores ã_i in [0, 1].
        token_mask (`torch.Tensor` of shape `(batch, seq_len)`):
            True (or 1) on the real tokens.
        targets (`torch.Tensor` of shape `(batch, num_labels)`):
            The sentence label y per label, 0 or 1 (a one-hot row for single-label data).

    Returns:
        `tuple[torch.Tensor, torch.Tensor]`: the scalars `(l2, l3)`.
    """
    mask = token_mask.bool().unsqueeze(-1).expand_as(token_scores)
    minimum = token_scores.masked_fill(~mask, 2.0).amin(dim=1)
    maximum = token_scores.masked_fill(~mask, -1.0).amax(dim=1)
    has_tokens = token_mask.bool().any(dim=1, keepdim=True).to(token_scores.dtype).expand_as(minimum)
    count = has_tokens.sum().clamp_min(1.0)
    l2 = ((minimum.clamp(0, 1) ** 2) * has_tokens).sum() / count
    l3 = (((maximum.clamp(0, 1) - targets.to(token_scores.dtype)) ** 2) * has_tokens).sum() / count
    return l2, l3


def lowest_attention_loss(token_scores: torch.Tensor, token_mask: torch.Tensor, count: int) -> torch.Tensor:
    """The mean of ã_i^2 over the `count` lowest-scoring real tokens of each sentence and label (all of them in a
    shorter sentence), averaged over sentences with real tokens and labels: L2 widened from the one lowest token to
    `count` of them (Bujel, Yannakoudakis & Rei, 2021, `zero_n`).

    Args:
        token_scores (`torch.Tensor` of shape `(batch, seq_len, num_labels)`):
            The token scores ã_i in [0, 1].
        token_mask (`torch.Tensor` of shape `(batch, seq_len)`):
            True (or 1) on the real tokens.
        count (`int`):
            How many of the lowest tokens are pushed to 0; at least 1.

    Returns:
        `torch.Tensor`: the scalar loss (0 for a batch without real tokens).
    """
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise LabelAttentionConfigError(f"`count` must be an int of at least 1, got {count!r}; e.g. count=3.")
    mask = token_mask.bool().unsqueeze(-1).expand_as(token_scores)
    lowest = token_scores.masked_fill(~mask, 2.0).sort(dim=1).values[:, :count]  # padding sorts last
    real = lowest <= 1.0
    squares = (lowest.clamp(0, 1) ** 2) * real
    per_sentence = squares.sum(dim=1) / real.sum(dim=1).clamp_min(1)  # (batch, num_labels)
    has_tokens = token_mask.bool().any(dim=1, keepdim=True).to(token_scores.dtype).expand_as(per_sentence)
    return (per_sentence * has_tokens).sum() / has_tokens.sum().clamp_min(1.0)


def sentence_loss(
    logits: torch.Tensor,
    token_scores: torch.Tensor,
    token_mask: torch.Tensor,
    labels: torch.Tensor,
    *,
    problem_type: str | None,
    label_names: Sequence[str] = (),
    sentence_loss_weight: float = 1.0,
    min_attention_loss_weight: float = 0.0,
    max_attention_loss_weight: float = 0.0,
    zero_attention_loss_weight: float = 0.0,
    zero_attention_tokens: int = 0,
) -> torch.Tensor:
    """The training loss: `sentence_loss_weight * L1 + min_attention_loss_weight * L2 + max_attention_loss_weight *
    L3 + zero_attention_loss_weight * L5`, where L1 is binary cross-entropy (one label, or multi-label) or
    cross-entropy (single-label) on the sentence logits, L2, L3 are [`attention_losses`] and L5 is
    [`lowest_attention_loss`] over `zero_attention_tokens` tokens (off while either is 0).

    Args:
        logits (`torch.Tensor` of shape `(batch, num_labels)`): the sentence logits.
        token_scores (`torch.Tensor` of shape `(batch, seq_len, num_labels)`): the token scores ã_i.
        token_mask (`torch.Tensor` of shape `(batch, seq_len)`): True on the real tokens.
        labels (`torch.Tensor`): `(batch,)` class ids (binary: 0/1), or `(batch, num_labels)` 0/1 targets.
        problem_type (`str`, *optional*): `"multi_label_classification"` or `"single_label_classification"`; a
            single label is always binary.
        label_names (`Sequence[str]`, *optional*): the labels, named in error messages.
        sentence_loss_weight, min_attention_loss_weight, max_attention_loss_weight (`float`): the weights.
        zero_attention_loss_weight (`float`), zero_attention_tokens (`int`): the weight of L5 and its token count.

    Returns:
        `torch.Tensor`: the scalar loss.

    Raises:
        [`UnknownLabelError`]: for targets that are not 0/1 or class ids outside the labels.
    """
    num_labels = logits.shape[-1]
    labels = labels.to(logits.device)
    if num_labels == 1 or problem_type == MULTI_LABEL:
        targets = labels.reshape(logits.shape).to(logits.dtype)
        if ((targets != 0) & (targets != 1)).any():
            bad = sorted({float(v) for v in targets[(targets != 0) & (targets != 1)].tolist()})[:5]
            raise UnknownLabelError(
                f"Binary / multi-label targets must be 0 or 1, got {bad}; the labels are {list(label_names)} "
                "(prepare targets with model.prepare_dataset)."
            )
        l1 = nn.functional.binary_cross_entropy_with_logits(logits, targets)
    else:
        if labels.dim() != 1:
            raise UnknownLabelError(
                f"Single-label targets must be class ids of shape (batch,), got shape {tuple(labels.shape)}; "
                "for several labels per sentence build the model with problem_type='multi_label_classification'."
            )
        if ((labels < 0) | (labels >= num_labels)).any():
            bad = sorted({int(v) for v in labels[(labels < 0) | (labels >= num_labels)].tolist()})
            raise UnknownLabelError(
                f"Label ids {bad} are outside the {num_labels} configured labels {list(label_names)}; use ids "
                f"0..{num_labels - 1}."
            )
        l1 = nn.functional.cross_entropy(logits, labels.long())
        targets = nn.functional.one_hot(labels.long(), num_labels).to(logits.dtype)
    loss = sentence_loss_weight * l1
    if min_attention_loss_weight or max_attention_loss_weight:
        l2, l3 = attention_losses(token_scores, token_mask, targets)
        loss = loss + min_attention_loss_weight * l2 + max_attention_loss_weight * l3
    if zero_attention_loss_weight and zero_attention_tokens:
        loss = loss + zero_attention_loss_weight * lowest_attention_loss(
            token_scores, token_mask, zero_attention_tokens
        )
    return loss


def aggregate_word_scores(
    token_scores: torch.Tensor, word_ids: Sequence[int | None], how: str = "first"
) -> torch.Tensor:
    """Collapse sub-token scores to word scores, following a fast tokenizer's `word_ids()`.

    Args:
        token_scores (`torch.Tensor` of shape `(seq_len, num_labels)`):
            Scores of one sentence's tokens.
        word_ids (`Sequence[int | None]`):
            `encoding.word_ids()`: the word index of each token, `None` for special tokens and padding.
        how (`str`, *optional*, defaults to `"first"`):
            `"first"`: a word takes its first sub-token's score; `"max"`: the maximum over its sub-tokens.

    Returns:
        `torch.Tensor` of shape `(num_words, num_labels)`, where `num_words` is one more than the largest
        word id (0 when there is none). A word all of whose tokens were truncated away scores 0.
    """
    if how not in ("first", "max"):
        raise LabelAttentionConfigError(f"`how` must be 'first' or 'max', got {how!r}; e.g. how='first'.")
    ids = [w for w in word_ids if w is not None]
    num_words = max(ids) + 1 if ids else 0
    out = token_scores.new_zeros((num_words, token_scores.shape[-1]))
    seen: set[int] = set()
    for position, word in enumerate(word_ids):
        if word is None or position >= token_scores.shape[0]:
            continue
        if word not in seen:
            out[word] = token_scores[position]
            seen.add(word)
        elif how == "max":
            out[word] = torch.maximum(out[word], token_scores[position])
    return out


__all__ = [
    "aggregate_word_scores",
    "attention_losses",
    "attention_weights",
    "check_threshold",
    "lowest_attention_loss",
    "sentence_loss",
]
