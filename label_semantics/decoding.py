"""From per-token label scores to tag sequences and entities.

`argmax_decode` picks the best label of each token on its own; `viterbi_decode` picks the best
sequence among those the tag scheme allows (no ``I-PER`` after ``O`` in IOB2, every BIOES entity
closed), using the masks of `allowed_transitions`. `tags_to_spans` reads the entities of any scheme.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import torch
from torch import Tensor

from .verbalizer import is_valid_transition, normalize_scheme, split_tag, tags_to_spans

logger = logging.getLogger(__name__)

_VERY_NEGATIVE = -1e30  # -inf scores are clamped here so that only forbidden transitions are -inf

__all__ = ["allowed_transitions", "argmax_decode", "scheme_from_labels", "tags_to_spans", "viterbi_decode"]


def scheme_from_labels(labels: Sequence[str]) -> str:
    """Guess the scheme a label set is written in.

    A label set cannot tell IOB1 from IOB2 (both have ``B-`` and ``I-``), so it is read as ``IOB2``,
    the far more common one; pass ``scheme="IOB1"`` explicitly for IOB1 data.

    Args:
        labels (`Sequence[str]`):
            The label names, e.g. ``["O", "B-PER", "I-PER"]``.

    Returns:
        `str`: ``"BIOES"`` when a label has an ``E``/``S``/``L``/``U`` prefix, else ``"IOB2"`` when one has
        ``B``, else ``"IO"``.
    """
    prefixes = {split_tag(label)[0] for label in labels}
    if prefixes & set("ESLU"):
        return "BIOES"
    return "IOB2" if "B" in prefixes else "IO"


def allowed_transitions(labels: Sequence[str], scheme: str | None = None) -> tuple[Tensor, Tensor, Tensor]:
    """Masks of the label transitions a tag scheme allows.

    IO allows everything; IOB2 allows ``I-X`` only after ``B-X`` or ``I-X`` (so not first); IOB1 allows
    ``B-X`` only after ``B-X`` or ``I-X``; BIOES runs the full automaton: ``B-X``/``I-X`` must be followed
    by ``I-X``/``E-X``, ``I-X``/``E-X`` must follow ``B-X``/``I-X``, and a sentence can neither start with
    ``I-``/``E-`` nor end with ``B-``/``I-``.

    Args:
        labels (`Sequence[str]`):
            The label names in model order (``id2label`` values), ``L`` of them.
        scheme (`str`, *optional*):
            One of ``"IO"``, ``"IOB1"``, ``"IOB2"``, ``"BIOES"``, ``"BILOU"``; guessed from the labels by
            `scheme_from_labels` when omitted.

    Returns:
        `tuple[Tensor, Tensor, Tensor]`: ``transitions`` (bool ``[L, L]``, ``transitions[i, j]`` is whether
        label ``j`` may follow label ``i``), ``start`` (bool ``[L]``, may begin a sentence) and ``end``
        (bool ``[L]``, may end one).

    Raises:
        `InvalidTagError`: a label is malformed or its prefix does not exist in ``scheme``.
    """
    scheme = scheme_from_labels(labels) if scheme is None else normalize_scheme(scheme)
    size = len(labels)
    transitions = torch.zeros(size, size, dtype=torch.bool)
    for i, previous in enumerate(labels):
        for j, tag in enumerate(labels):
            transitions[i, j] = is_valid_transition(previous, tag, scheme)
    start = torch.tensor([is_valid_transition(None, tag, scheme) for tag in labels], dtype=torch.bool)
    end = torch.tensor([is_valid_transition(tag, None, scheme) for tag in labels], dtype=torch.bool)
    return transitions, start, end


def _check_scores(scores: Tensor, labels: Sequence[str] | None = None) -> None:
    if not isinstance(scores, Tensor) or scores.dim() != 2:
        shape = tuple(scores.shape) if isinstance(scores, Tensor) else type(scores).__name__
        raise ValueError(
            f"scores must be a [T, L] tensor for one sentence, got {shape}; decode a batch one sentence "
            f"at a time, e.g. viterbi_decode(logits[0].log_softmax(-1), labels)"
        )
    if labels is not None and scores.shape[1] != len(labels):
        raise ValueError(
            f"scores have {scores.shape[1]} columns but {len(labels)} labels were given; pass the labels in "
            f"model order, e.g. [model.config.id2label[i] for i in range(model.config.num_labels)]"
        )


def argmax_decode(scores: Tensor) -> list[int]:
    """The best label of each token, chosen independently.

    Args:
        scores (`Tensor` of shape `[T, L]`):
            Scores (logits or log-probabilities) of one sentence.

    Returns:
        `list[int]`: ``T`` label ids; the result may break the tag scheme (use `viterbi_decode` for that).
    """
    _check_scores(scores)
    return scores.argmax(dim=-1).tolist()


def viterbi_decode(scores: Tensor, labels: Sequence[str], scheme: str | None = None) -> list[int]:
    """The highest-scoring label sequence that the tag scheme allows.

    The score of a sequence is the sum of its tokens' scores; the transitions of `allowed_transitions`
    are the only constraint (no learned transition weights). The dynamic programme is vectorised over
    labels and loops over tokens: ``O(T * L^2)``.

    Args:
        scores (`Tensor` of shape `[T, L]`):
            Log-probabilities of one sentence (``logits.log_softmax(-1)``); ``-inf`` entries are allowed.
        labels (`Sequence[str]`):
            The ``L`` label names in column order.
        scheme (`str`, *optional*):
            The tag scheme; guessed from ``labels`` when omitted (see `scheme_from_labels`).

    Returns:
        `list[int]`: ``T`` label ids forming a valid sequence; ``[]`` when ``T`` is 0.

    Raises:
        `ValueError`: ``scores`` is not ``[T, len(labels)]`` or holds NaN, or no valid sequence exists
        (e.g. a BIOES label set without ``O`` or ``S-`` tags for a one-token sentence).

    Example:

    ```python
    >>> labels = ["O", "B-PER", "I-PER"]
    >>> scores = torch.tensor([[0.0, -2.0, -0.1], [-3.0, -2.0, -0.1]])
    >>> argmax_decode(scores)  # O I-PER: invalid in IOB2
    [0, 2]
    >>> viterbi_decode(scores, labels)  # O B-PER (-2.0) beats B-PER I-PER (-2.1)
    [0, 1]
    ```
    """
    _check_scores(scores, labels)
    if scores.shape[0] == 0:
        return []
    if torch.isnan(scores).any():
        raise ValueError("scores hold NaN; decode finite log-probabilities, e.g. logits.log_softmax(-1)")
    transitions, start, end = (mask.to(scores.device) for mask in allowed_transitions(labels, scheme))
    # A -inf score only rules out its label; -inf is kept for forbidden transitions.
    scores = scores.float().clamp(min=_VERY_NEGATIVE)
    forbidden = torch.tensor(float("-inf"), device=scores.device)
    transition_scores = torch.where(transitions, 0.0, forbidden)  # [L, L]
    best = torch.where(start, scores[0], forbidden)  # [L]
    backpointers = []
    for t in range(1, scores.shape[0]):
        candidates = best.unsqueeze(1) + transition_scores  # [L previous, L next]
        best, pointer = candidates.max(dim=0)
        best = best + scores[t]
        backpointers.append(pointer)
    best = torch.where(end, best, forbidden)
    if not torch.isfinite(best.max()):
        raise ValueError(
            f"no valid {scheme or scheme_from_labels(labels)} sequence of length {scores.shape[0]} exists "
            f"for the labels {list(labels)!r}; build a complete label set, e.g. "
            f"labels_from_types(types, scheme)"
        )
    path = [int(best.argmax())]
    for pointer in reversed(backpointers):
        path.append(int(pointer[path[-1]]))
    path.reverse()
    return path
