"""From per-token label scores to tag sequences and entities.

`argmax_decode` picks the best label of each token on its own; `viterbi_decode` picks the best
sequence among those the tag scheme allows (no ``I-PER`` after ``O`` in IOB2, every BIOES entity
closed). `tags_to_spans` reads the entities of any scheme.

Transitions are *collapsed* (Hou et al., 2020): whether, and how well, a tag may follow another depends
only on their prefix classes (``O B I E S``, BILOU letters read as BIOES) and on whether both name the
same entity type. `tag_structure.TagStructure` holds that view of a label set, built once and cached; with it
`viterbi_decode_batch` runs in ``O(T * L)`` for ``L`` labels instead of ``O(T * L^2)``: the best
predecessor of a tag of type ``X`` is, per prefix class, either the best tag of type ``X`` or the best
tag of another type, and the latter is the best of the class unless that one has type ``X``, in which
case it is the second best. Learned collapsed transitions (`crf.CollapsedCRF`) plug into the same decoder.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import torch
from torch import Tensor

from .tag_structure import (
    NUM_PREFIX_CLASSES,
    PREFIX_CLASSES,
    TagStructure,
    allowed_transitions,
    scheme_from_labels,
)
from .verbalizer import tags_to_spans

logger = logging.getLogger(__name__)

_VERY_NEGATIVE = -1e30  # -inf scores are clamped here so that only forbidden transitions are -inf
# A dense [B, L, L] step takes two tensor calls, the O(L) collapsed one about fifteen: below this many
# B * L * L cells (inclusive) the dense one is faster (measured: L up to ~250 alone, ~45 in batches of 32).
_DENSE_MAX_CELLS = 65536
# Without learned transitions, sentences whose per-token argmax the scheme allows skip the programme
# (`_valid_argmax`); the tests switch this off to check the programme alone.
_ARGMAX_SHORTCUT = True
_DECODE_CELLS = 2**22  # sentences x tokens x labels that `viterbi_decode_sentences` pads at once (16 MB)
_DECODE_BATCH = 64  # and at most this many sentences

__all__ = [
    "NUM_PREFIX_CLASSES",
    "PREFIX_CLASSES",
    "TagStructure",
    "allowed_transitions",
    "argmax_decode",
    "pad_sentences",
    "scheme_from_labels",
    "tags_to_spans",
    "viterbi_decode",
    "viterbi_decode_batch",
    "viterbi_decode_sentences",
]


def _check_scores(scores: Tensor, labels: Sequence[str] | None = None) -> None:
    if not isinstance(scores, Tensor) or scores.dim() != 2:
        shape = tuple(scores.shape) if isinstance(scores, Tensor) else type(scores).__name__
        raise ValueError(
            f"scores must be a [T, L] tensor for one sentence, got {shape}; decode a batch with "
            f"viterbi_decode_batch(scores, TagStructure.from_labels(labels), mask), or one sentence at a "
            f"time, e.g. viterbi_decode(logits[0].log_softmax(-1), labels)"
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


def _short(labels: Sequence[str], limit: int = 12) -> str:
    if len(labels) <= limit:
        return repr(list(labels))
    return f"[{', '.join(map(repr, labels[:limit]))}, ...] ({len(labels)} labels)"


def check_transitions(
    transitions: Tensor | None, start_transitions: Tensor | None, end_transitions: Tensor | None
) -> None:
    """Check learned collapsed transition scores: shapes ``[5, 5, 2]``, ``[5]``, ``[5]``, no NaN or ``+inf``.

    Raises:
        `ValueError`: naming the bad tensor, its shape and the expected one.
    """
    size = NUM_PREFIX_CLASSES
    for name, value, shape in (
        ("transitions", transitions, (size, size, 2)),
        ("start_transitions", start_transitions, (size,)),
        ("end_transitions", end_transitions, (size,)),
    ):
        if value is None:
            continue
        if not isinstance(value, Tensor) or tuple(value.shape) != shape:
            got = tuple(value.shape) if isinstance(value, Tensor) else type(value).__name__
            raise ValueError(
                f"{name} must be a tensor of shape {list(shape)} (previous class x next class x same type over "
                f"the classes {'/'.join(PREFIX_CLASSES)}), got {got}; use the parameters of a "
                f"CollapsedCRF, e.g. crf.transitions"
            )
        if torch.isnan(value).any() or (value == float("inf")).any():
            raise ValueError(f"{name} hold NaN or +inf; only finite scores and -inf (forbidden) are allowed")


def expand_transitions(
    structure: TagStructure,
    transitions: Tensor | None = None,
    start_transitions: Tensor | None = None,
    end_transitions: Tensor | None = None,
    forbidden: float = float("-inf"),
    dtype: torch.dtype = torch.float32,
) -> tuple[Tensor, Tensor, Tensor]:
    """Learned collapsed scores plus the scheme's hard constraints (``forbidden`` where not allowed).

    Returns:
        `tuple[Tensor, Tensor, Tensor]`: ``[5, 5, 2]``, ``[5]`` and ``[5]`` on the structure's device; all
        zero where allowed when no learned scores are given.
    """
    check_transitions(transitions, start_transitions, end_transitions)
    out = []
    for mask, learned in (
        (structure.allowed, transitions),
        (structure.start_allowed, start_transitions),
        (structure.end_allowed, end_transitions),
    ):
        base = torch.zeros(mask.shape, dtype=dtype, device=mask.device)
        if learned is not None:
            base = base + learned.to(device=mask.device, dtype=dtype).clamp(min=forbidden)
        out.append(base.masked_fill(~mask, forbidden))
    return tuple(out)


def _slot_values(alpha: Tensor, structure: TagStructure) -> Tensor:
    """``[B, 5, K + 1]``: per (class, type) slot, the best ``alpha`` of its labels (``-inf`` if none)."""
    shape = structure.slot_labels.shape
    values = alpha.index_select(1, structure.slot_index) + structure.slot_padding
    values = values.view(alpha.shape[0], *shape)
    return values[..., 0] if shape[-1] == 1 else values.amax(dim=-1)


def _collapsed_step(alpha: Tensor, structure: TagStructure, candidate_scores: Tensor) -> Tensor:
    """One max-product step in ``O(L)``: for every next label, the score of its best predecessor.

    Per class, the best slot ``v1`` (of type ``t1``) and the best slot of another type ``v2`` answer "best
    previous tag of another type than ``k``" for every ``k`` at once: ``v2`` when ``k`` is ``t1``, ``v1``
    otherwise (and always for ``O``, which has no type). Each label then takes the best of its at most
    five allowed (previous class, same type) moves, listed in `TagStructure.candidate_cells`.

    Args:
        alpha (`Tensor` of shape `[B, L]`): best scores of paths ending in each label.
        candidate_scores (`Tensor` of shape `[N, L]`): the transition score of each candidate move
            (``-inf`` for padding and forbidden moves).

    Returns:
        `Tensor` of shape `[B, L]`: the best score of a path reaching each label, before its emission.
    """
    none = structure.num_types
    values = _slot_values(alpha, structure)  # [B, P, S]
    v1, t1 = values.max(dim=-1, keepdim=True)
    slot_range = torch.arange(none + 1, device=alpha.device)
    is_t1 = slot_range == t1
    v2 = values.masked_fill(is_t1, float("-inf")).amax(dim=-1, keepdim=True)
    other = torch.where(is_t1 & (slot_range != none), v2, v1)
    cells = torch.stack([other, values], dim=2).flatten(1)  # [B, P * 2 * S]
    moves = cells.index_select(1, structure.candidate_cells.flatten()).view(-1, *candidate_scores.shape)
    return (moves + candidate_scores).amax(dim=1)


def _hard_tables(structure: TagStructure) -> tuple[Tensor, Tensor, Tensor] | None:
    """What `_hard_step` reads, or `None` when the scheme needs the general step.

    Under hard constraints alone every allowed move scores 0. A label of class ``q`` and type ``k`` may then
    follow the best tag of a previous class ``c`` whenever both "same type" and "other type" are allowed
    (or ``c`` is ``O``, which has no type), and only the best of type ``k`` when just "same type" is; "other
    type only" from a typed class (which needs the second-best type) occurs in no scheme, and returns `None`.

    Returns:
        ``[5 + 1, 5]`` 0/``-inf``: which previous classes' best values reach each next class (row 5: ``O``,
        the label without type); ``[L]``: each label's row; ``[M, L]``: each label's "same type only" slots,
        flat indices into the ``[5 * (K + 1)]`` slot values, ``5 * (K + 1)`` (a ``-inf`` cell) for padding.
    """
    allowed = structure.allowed
    other, same = allowed[..., 0], allowed[..., 1]
    typed = torch.arange(NUM_PREFIX_CLASSES, device=allowed.device) != 0
    if bool((other & ~same & typed[:, None])[:, typed].any()):
        return None
    reach = torch.cat(
        [(other & (same | ~typed[:, None])).T, other[:, :1].T]
    )  # [next class (+ none), previous]
    slots = structure.num_types + 1
    none = structure.type_ids == structure.num_types
    rows = torch.where(none, NUM_PREFIX_CLASSES, structure.prefix_ids)
    only_same = (same & ~other & typed[:, None])[:, structure.prefix_ids] & ~none  # [previous class, L]
    count = int(only_same.sum(dim=0).max()) if only_same.numel() else 0
    cells = torch.full((count, structure.num_labels), NUM_PREFIX_CLASSES * slots, dtype=torch.long)
    for c in only_same.nonzero()[:, 0].unique().tolist():
        where = only_same[c]
        rank = only_same[:c].sum(dim=0)  # this class's place among the label's "same type only" classes
        cells[rank[where], where.nonzero()[:, 0]] = c * slots + structure.type_ids[where]
    bias = torch.zeros(reach.shape).masked_fill(~reach, float("-inf"))
    return bias, rows, cells


def _hard_step(alpha: Tensor, structure: TagStructure, tables: tuple[Tensor, Tensor, Tensor]) -> Tensor:
    """`_collapsed_step` under hard constraints alone, in a few ``[B, L]`` operations (see `_hard_tables`)."""
    bias, rows, cells = tables
    values = _slot_values(alpha, structure)  # [B, 5, K + 1]
    best = (values.amax(dim=-1).unsqueeze(1) + bias).amax(dim=-1).index_select(1, rows)  # [B, L]
    if len(cells):
        flat = torch.cat([values.flatten(1), values.new_full((alpha.shape[0], 1), float("-inf"))], dim=1)
        best = torch.maximum(best, flat.index_select(1, cells.flatten()).view(-1, *cells.shape).amax(dim=1))
    return best


def _predecessor_columns(structure: TagStructure, transitions: Tensor) -> tuple[Tensor, Tensor]:
    """``[5, L]`` twice: the score of moving from each label to a next class, for another / the same type."""
    prefix = structure.prefix_ids
    return transitions[prefix, :, 0].T.contiguous(), transitions[prefix, :, 1].T.contiguous()


def _best_predecessor(
    alpha: Tensor, current: Tensor, structure: TagStructure, columns: tuple[Tensor, Tensor]
) -> Tensor:
    """``[B]``: the best label before ``current`` (``[B]``), the smallest id among ties, in ``O(B * L)``."""
    none = structure.num_types
    types = structure.type_ids
    current_type = types.index_select(0, current).unsqueeze(1)
    same = (types.unsqueeze(0) == current_type) & (current_type != none)  # [B, L]
    next_class = structure.prefix_ids.index_select(0, current)
    column = torch.where(same, columns[1].index_select(0, next_class), columns[0].index_select(0, next_class))
    return (alpha + column).argmax(dim=1)


def _check_batch(scores: Tensor, structure: TagStructure, mask: Tensor | None) -> Tensor:
    """Validate ``[B, T, L]`` scores and a left-aligned ``[B, T]`` mask; return the bool mask."""
    if not isinstance(structure, TagStructure):
        raise ValueError(
            f"structure must be a TagStructure, got {type(structure).__name__}; build it once per label set: "
            f"TagStructure.from_labels(labels, scheme)"
        )
    if structure.num_labels == 0:
        raise ValueError(
            "the label set is empty; decode over at least one label, e.g. ['O', 'B-PER', 'I-PER']"
        )
    if not isinstance(scores, Tensor) or scores.dim() != 3 or scores.shape[2] != structure.num_labels:
        shape = tuple(scores.shape) if isinstance(scores, Tensor) else type(scores).__name__
        raise ValueError(
            f"scores must be a [B, T, L] tensor with L = {structure.num_labels} labels, got {shape}; for one "
            f"sentence use scores.unsqueeze(0)"
        )
    if mask is None:
        return torch.ones(scores.shape[:2], dtype=torch.bool, device=scores.device)
    if not isinstance(mask, Tensor) or tuple(mask.shape) != tuple(scores.shape[:2]):
        shape = tuple(mask.shape) if isinstance(mask, Tensor) else type(mask).__name__
        raise ValueError(f"mask must be a [B, T] = {list(scores.shape[:2])} tensor, got {shape}")
    mask = mask.to(device=scores.device, dtype=torch.bool)
    if (mask[:, 1:] & ~mask[:, :-1]).any():
        raise ValueError(
            "mask must be left-aligned (every sentence's positions first, padding after); gather word "
            "positions first, e.g. crf.pack_positions(scores, labels)"
        )
    return mask


def viterbi_decode_batch(
    scores: Tensor,
    structure: TagStructure,
    mask: Tensor | None = None,
    *,
    transitions: Tensor | None = None,
    start_transitions: Tensor | None = None,
    end_transitions: Tensor | None = None,
) -> list[list[int]]:
    """The highest-scoring valid label sequence of each sentence of a batch, in ``O(B * T * L)``.

    A sequence scores the sum of its tokens' scores plus, when given, the learned collapsed transition
    scores (`crf.CollapsedCRF`); transitions the scheme forbids are ``-inf`` whatever is learned. With
    no learned scores this is the hard-constraint Viterbi of `viterbi_decode`, and a sentence whose tokens'
    own best labels (each strictly best) already form an allowed sequence gets that sequence without the
    dynamic programme, since no sequence can score more.

    Args:
        scores (`Tensor` of shape `[B, T, L]`):
            Per-token scores: log-probabilities for hard-constraint decoding, the CRF's emissions (logits)
            with learned transitions. ``-inf`` entries are allowed, NaN is not.
        structure (`TagStructure`):
            The label set, from `TagStructure.from_labels`.
        mask (`Tensor` of shape `[B, T]`, *optional*):
            `True` at the real tokens, left-aligned; all tokens when omitted. A sentence may be empty.
        transitions (`Tensor` of shape `[5, 5, 2]`, *optional*):
            Learned scores for (previous class, next class, same type) over `PREFIX_CLASSES`.
        start_transitions, end_transitions (`Tensor` of shape `[5]`, *optional*):
            Learned scores for beginning / ending a sentence with each class.

    Returns:
        `list[list[int]]`: per sentence, as many label ids as it has tokens.

    Raises:
        `ValueError`: bad shapes, NaN scores, a mask that is not left-aligned, or a sentence for which no
        valid sequence exists.

    Example:

    ```python
    >>> structure = TagStructure.from_labels(["O", "B-PER", "I-PER"])
    >>> scores = torch.tensor([[[0.0, -2.0, -0.1], [-3.0, -2.0, -0.1]]])
    >>> viterbi_decode_batch(scores, structure)
    [[0, 1]]
    ```
    """
    mask = _check_batch(scores, structure, mask)
    given = {
        "transitions": transitions,
        "start_transitions": start_transitions,
        "end_transitions": end_transitions,
    }
    return _decode_padded(scores, structure, mask, given, _ARGMAX_SHORTCUT, None)


def _check_no_nan(scores: Tensor) -> None:
    if torch.isnan(scores).any():
        raise ValueError("scores hold NaN; decode finite log-probabilities, e.g. logits.log_softmax(-1)")


def _decode_padded(
    scores: Tensor,
    structure: TagStructure,
    mask: Tensor,
    given: dict,
    shortcut: bool,
    names: Sequence[int] | None,
    check_nan: bool = True,
) -> list[list[int]]:
    """`viterbi_decode_batch` after the shape checks; ``names`` are the sentences' numbers for the error,
    ``check_nan=False`` where the caller has checked the scores already."""
    if check_nan:
        _check_no_nan(scores)
    batch, length, size = scores.shape
    if length == 0 or batch == 0:
        return [[] for _ in range(batch)]
    structure = structure.to(scores.device)
    learned = any(x is not None for x in given.values())
    trans, start, end = expand_transitions(structure, **given)
    # A -inf score only rules out its label; -inf is kept for forbidden transitions.
    scores = scores.float().clamp(min=_VERY_NEGATIVE)
    lengths = mask.sum(dim=1)
    if learned or not shortcut:
        ids, rows = torch.zeros(batch, length, dtype=torch.long, device=scores.device), torch.arange(batch)
    else:
        solved, ids = _valid_argmax(scores, mask, structure)
        rows = (~solved).nonzero().squeeze(1).cpu()
    longest = int(lengths[rows].max()) if len(rows) else 0
    if longest:
        where = None if names is None and batch == 1 else [int(i) for i in rows] if names is None else names
        ids[rows, :longest] = _viterbi_rows(
            scores[rows, :longest], mask[rows, :longest], structure, trans, start, end, where, learned
        )
    return [row[:n] for row, n in zip(ids.tolist(), lengths.tolist(), strict=True)]


def viterbi_decode_sentences(
    scores: Sequence[Tensor | None],
    structure: TagStructure,
    *,
    transitions: Tensor | None = None,
    start_transitions: Tensor | None = None,
    end_transitions: Tensor | None = None,
) -> list[list[int]]:
    """`viterbi_decode_batch` over sentences of different lengths, in bounded, length-sorted batches.

    Sentences are padded in blocks of similar length, at most 64 sentences and ``2**22`` scores (16 MB of
    float32) a block. Without learned transitions, the sentences whose tokens' best labels already form an
    allowed sequence are settled first, and only the others go through the dynamic programme, together.

    Args:
        scores (`Sequence[Tensor | None]`):
            One ``[T_i, L]`` tensor per sentence, as for `viterbi_decode`; `None` for an empty sentence.
        structure, transitions, start_transitions, end_transitions:
            As for `viterbi_decode_batch`.

    Returns:
        `list[list[int]]`: per sentence, in input order, as many label ids as it has tokens.

    Raises:
        `ValueError`: as `viterbi_decode_batch`; a sentence without a valid sequence is named by its position
        in ``scores``.
    """
    given = {
        "transitions": transitions,
        "start_transitions": start_transitions,
        "end_transitions": end_transitions,
    }
    out: list[list[int]] = [[] for _ in scores]
    order = sorted((i for i, s in enumerate(scores) if s is not None), key=lambda i: scores[i].shape[0])
    shortcut = _ARGMAX_SHORTCUT and all(x is None for x in given.values())
    for settle in (True, False) if shortcut else (False,):
        remaining = []
        for block in _length_blocks(scores, order, structure.num_labels):
            padded, mask = pad_sentences([scores[i] for i in block], structure.num_labels)
            mask = _check_batch(padded, structure, mask)
            if not settle:  # after a settling pass, these scores were checked for NaN there
                decoded = _decode_padded(padded, structure, mask, given, False, block, check_nan=not shortcut)
                for i, ids in zip(block, decoded, strict=True):
                    out[i] = ids
                continue
            _check_no_nan(padded)
            solved, ids = _valid_argmax(
                padded.float().clamp(min=_VERY_NEGATIVE), mask, structure.to(padded.device)
            )
            for i, ok, row, n in zip(
                block, solved.tolist(), ids.tolist(), mask.sum(dim=1).tolist(), strict=True
            ):
                if ok:
                    out[i] = row[:n]
                else:
                    remaining.append(i)
        order = remaining
    return out


def _length_blocks(scores: Sequence[Tensor | None], order: list[int], num_labels: int):
    """Consecutive slices of ``order`` (sentence ids by length) of at most 64 sentences and `_DECODE_CELLS`."""
    start = 0
    while start < len(order):
        longest = scores[order[min(start + _DECODE_BATCH, len(order)) - 1]].shape[0]
        size = max(1, min(_DECODE_BATCH, _DECODE_CELLS // max(1, longest * num_labels)))
        yield order[start : start + size]
        start += size


def _valid_argmax(scores: Tensor, mask: Tensor, structure: TagStructure) -> tuple[Tensor, Tensor]:
    """``[B]`` bool, ``[B, T]``: which sentences Viterbi can skip, and each token's best label.

    Without learned transitions a sequence scores the sum of its tokens' scores, so no sequence beats the
    tokens' own best labels; when that sequence is allowed by the scheme and every token's best label is
    strictly best (no tie that Viterbi might break otherwise), it is the unique Viterbi path. A trained model's
    argmax is allowed for most sentences, which leaves the ``O(T * L)`` programme to the few that are not.
    """
    if scores.shape[2] > 1:
        top = scores.topk(2, dim=2)
        ids, strict = top.indices[..., 0], top.values[..., 0] > top.values[..., 1]
    else:
        ids, strict = torch.zeros(scores.shape[:2], dtype=torch.long, device=scores.device), mask
    prefix, types = structure.prefix_ids[ids], structure.type_ids[ids]
    same = (types[:, 1:] == types[:, :-1]) & (types[:, 1:] != structure.num_types)
    steps = structure.allowed[prefix[:, :-1], prefix[:, 1:], same.long()] | ~mask[:, 1:]
    last = (mask.sum(dim=1) - 1).clamp(min=0).unsqueeze(1)
    empty = ~mask[:, 0]
    solved = (strict | ~mask).all(dim=1) & steps.all(dim=1)
    solved &= (
        structure.start_allowed[prefix[:, 0]] & structure.end_allowed[prefix.gather(1, last)[:, 0]]
    ) | empty
    return solved, ids


def _viterbi_rows(
    scores: Tensor,
    mask: Tensor,
    structure: TagStructure,
    trans: Tensor,
    start: Tensor,
    end: Tensor,
    names: Sequence[int] | None,
    learned: bool,
) -> Tensor:
    """The dynamic programme over clamped ``[R, T, L]`` scores: ``[R, T]`` label ids (padding arbitrary).

    ``names`` number the ``R`` sentences in the error message (none for a lone sentence).
    """
    count, length, size = scores.shape
    alpha = scores[:, 0] + start[structure.prefix_ids]
    dense = structure.dense_scores(trans) if count * size * size <= _DENSE_MAX_CELLS else None
    candidate_scores = structure.candidate_scores(trans) if dense is None else None
    hard = None if dense is not None or learned else _hard_tables(structure)
    if hard is not None:
        hard = tuple(x.to(scores.device) for x in hard)
    identity = torch.arange(size, device=scores.device).expand(count, size)
    history = []  # dense: the backpointers; collapsed: the scores, to find the backpointers again
    for t in range(1, length):
        on = mask[:, t, None]
        if dense is not None:
            best, pointer = (alpha.unsqueeze(2) + dense).max(dim=1)  # ties: the smallest predecessor id
            history.append(torch.where(on, pointer, identity))
        else:
            history.append(alpha)
            best = (
                _collapsed_step(alpha, structure, candidate_scores)
                if hard is None
                else _hard_step(alpha, structure, hard)
            )
        alpha = torch.where(on, best + scores[:, t], alpha)
    alpha = alpha + end[structure.prefix_ids]
    lengths = mask.sum(dim=1)
    final = alpha.max(dim=1).values
    bad = (lengths > 0) & ~torch.isfinite(final)
    if bad.any():
        b = int(bad.nonzero()[0])
        learned_text = " under the learned transitions" if learned else ""
        where = "" if names is None else f" (sentence {names[b]} of the batch)"
        raise ValueError(
            f"no valid {structure.scheme} sequence of length {int(lengths[b])} exists{learned_text} for the "
            f"labels {_short(structure.labels)}{where}; build a complete label set, e.g. labels_from_types("
            f"types, scheme)"
        )
    current = alpha.argmax(dim=1)
    path = [current]
    columns = _predecessor_columns(structure, trans) if dense is None else None
    for t in range(length - 1, 0, -1):
        if dense is not None:
            current = history[t - 1].gather(1, current.unsqueeze(1)).squeeze(1)
        else:  # the best predecessor of the chosen label, found again in O(B * L)
            previous = _best_predecessor(history[t - 1], current, structure, columns)
            current = torch.where(mask[:, t], previous, current)
        path.append(current)
    return torch.stack(path[::-1], dim=1)


def pad_sentences(scores: Sequence[Tensor | None], num_labels: int | None = None) -> tuple[Tensor, Tensor]:
    """Stack per-sentence ``[T_i, L]`` scores into ``[B, max T_i, L]`` with a left-aligned mask.

    Args:
        scores (`Sequence[Tensor | None]`):
            One tensor per sentence; `None` (an empty sentence) counts as zero tokens.
        num_labels (`int`, *optional*):
            ``L``, needed only when every entry is `None`.

    Returns:
        `tuple[Tensor, Tensor]`: the padded scores (padding is 0) and the bool mask.
    """
    real = [s for s in scores if s is not None]
    for s in real:
        _check_scores(s)
    size = real[0].shape[1] if real else (num_labels or 0)
    if any(s.shape[1] != size for s in real):
        raise ValueError(
            f"every sentence needs {size} label columns, got {sorted({s.shape[1] for s in real})}"
        )
    lengths = torch.tensor([0 if s is None else s.shape[0] for s in scores], dtype=torch.long)
    device, dtype = (real[0].device, real[0].dtype) if real else (torch.device("cpu"), torch.float32)
    padded = torch.zeros(len(scores), int(lengths.max()) if real else 0, size, dtype=dtype, device=device)
    for b, s in enumerate(scores):
        if s is not None:
            padded[b, : s.shape[0]] = s
    return padded, torch.arange(padded.shape[1], device=device) < lengths.to(device).unsqueeze(1)


def viterbi_decode(scores: Tensor, labels: Sequence[str], scheme: str | None = None) -> list[int]:
    """The highest-scoring label sequence that the tag scheme allows.

    The score of a sequence is the sum of its tokens' scores; the scheme's transitions are the only
    constraint (no learned transition weights). Runs `viterbi_decode_batch` on a batch of one, in
    ``O(T * L)``, with the label set's `TagStructure` cached; decode many sentences with
    `viterbi_decode_batch` directly.

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
    return viterbi_decode_batch(scores.unsqueeze(0), TagStructure.from_labels(labels, scheme))[0]
