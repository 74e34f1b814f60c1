"""A label set seen through collapsed transitions: `TagStructure`.

Transitions are *collapsed* (Hou et al., 2020): whether, and how well, a tag may follow another depends
only on their prefix classes (``O B I E S``, BILOU letters read as BIOES) and on whether both name the
same entity type. `TagStructure` holds that view of a label set (each label's class and type, the moves the
scheme allows between classes), built in ``O(L)`` once per label set and cached; `decoding` and `crf` read it.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, fields

import torch
from torch import Tensor

from .verbalizer import is_valid_transition, normalize_scheme, split_tag

PREFIX_CLASSES = ("O", "B", "I", "E", "S")
"""The abstract tags transitions are defined on; ``L-``/``U-`` are read as ``E-``/``S-``."""
NUM_PREFIX_CLASSES = len(PREFIX_CLASSES)
_CLASS_OF_PREFIX = {"O": 0, "B": 1, "I": 2, "E": 3, "S": 4, "L": 3, "U": 4}
_SCHEME_PREFIXES = {"IO": "OI", "IOB1": "OBI", "IOB2": "OBI", "BIOES": "OBIES"}

__all__ = [
    "NUM_PREFIX_CLASSES",
    "PREFIX_CLASSES",
    "TagStructure",
    "allowed_transitions",
    "scheme_from_labels",
]


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


def _abstract_rules(scheme: str) -> tuple[Tensor, Tensor, Tensor]:
    """The scheme's rules on abstract tags, read from `is_valid_transition` itself so they match exactly.

    Returns ``allowed`` (bool ``[5, 5, 2]``: previous class, next class, same type), ``start`` and ``end``
    (bool ``[5]``). Classes the scheme lacks, and "same type" next to ``O``, are never allowed.
    """
    size = NUM_PREFIX_CLASSES
    allowed = torch.zeros(size, size, 2, dtype=torch.bool)
    start = torch.zeros(size, dtype=torch.bool)
    end = torch.zeros(size, dtype=torch.bool)
    present = _SCHEME_PREFIXES[scheme]

    def tag(prefix: str, entity_type: str) -> str:
        return "O" if prefix == "O" else f"{prefix}-{entity_type}"

    for p in present:
        i = _CLASS_OF_PREFIX[p]
        start[i] = is_valid_transition(None, tag(p, "X"), scheme)
        end[i] = is_valid_transition(tag(p, "X"), None, scheme)
        for q in present:
            j = _CLASS_OF_PREFIX[q]
            allowed[i, j, 0] = is_valid_transition(tag(p, "X"), tag(q, "Y"), scheme)
            if p != "O" and q != "O":
                allowed[i, j, 1] = is_valid_transition(tag(p, "X"), tag(q, "X"), scheme)
    return allowed, start, end


@dataclass(frozen=True, eq=False)
class TagStructure:
    """A label set seen through collapsed transitions: per label, its prefix class and entity type.

    Build it with `TagStructure.from_labels` (cached per label set and scheme) and pass it to
    `viterbi_decode_batch` or `crf.CollapsedCRF`; it is small (a few ``[L]`` tensors) and immutable.

    Attributes:
        labels (`tuple[str, ...]`): the ``L`` labels in column order.
        scheme (`str`): the canonical scheme (one of `verbalizer.SCHEMES`).
        types (`tuple[str, ...]`): the ``K`` entity types in order of first appearance.
        prefix_ids (`Tensor` of shape `[L]`): each label's class, an index into `PREFIX_CLASSES`.
        type_ids (`Tensor` of shape `[L]`): each label's type index; ``K`` (the *none* slot) for ``O``.
        slot_labels (`Tensor` of shape `[5, K + 1, D]`): the labels of each (class, type) pair, ascending,
            padded with ``L``; ``D`` is the largest number of labels sharing a pair (1 unless labels repeat).
        slot_index, slot_padding (`Tensor` of shape `[5 * (K + 1) * D]`): `slot_labels` flattened with the
            padding read from label 0, and ``-inf`` there (0 elsewhere), so one ``index_select`` fills the slots.
        candidate_cells (`Tensor` of shape `[N, L]`): for each label, where its possible predecessors are
            summarised: flat indices into a ``[5, 2, K + 1]`` grid (previous class, other/same type, slot),
            one per (previous class, same type) move the scheme allows into the label's class; ``N <= 5``.
        candidate_transitions (`Tensor` of shape `[N, L]`): the matching flat index into the ``[5, 5, 2]``
            transition scores; ``50`` marks padding.
        allowed (`Tensor` of shape `[5, 5, 2]`): whether the scheme lets a tag of class ``j`` follow one of
            class ``i``, for another type (``[..., 0]``) or the same type (``[..., 1]``).
        start_allowed, end_allowed (`Tensor` of shape `[5]`): whether a class may begin / end a sentence.

    Example:

    ```python
    >>> structure = TagStructure.from_labels(["O", "B-PER", "I-PER", "B-LOC", "I-LOC"])
    >>> structure.scheme, structure.types, structure.prefix_ids.tolist()
    ('IOB2', ('PER', 'LOC'), [0, 1, 2, 1, 2])
    ```
    """

    labels: tuple[str, ...]
    scheme: str
    types: tuple[str, ...]
    prefix_ids: Tensor
    type_ids: Tensor
    slot_labels: Tensor
    slot_index: Tensor
    slot_padding: Tensor
    candidate_cells: Tensor
    candidate_transitions: Tensor
    allowed: Tensor
    start_allowed: Tensor
    end_allowed: Tensor
    _on_device: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def num_labels(self) -> int:
        """`int`: the number of labels ``L``."""
        return len(self.labels)

    @property
    def num_types(self) -> int:
        """`int`: the number of entity types ``K``."""
        return len(self.types)

    @classmethod
    def from_labels(cls, labels: Sequence[str], scheme: str | None = None) -> TagStructure:
        """The structure of a label set, built in ``O(L)`` and cached (the last 64 label sets).

        Args:
            labels (`Sequence[str]`):
                The label names in model order (``id2label`` values).
            scheme (`str`, *optional*):
                ``"IO"``, ``"IOB1"``, ``"IOB2"``, ``"BIOES"`` or ``"BILOU"``; guessed by `scheme_from_labels`
                when omitted.

        Returns:
            `TagStructure`: on the CPU; `TagStructure.to` moves it.

        Raises:
            `InvalidTagError`: a label is malformed or its prefix does not exist in ``scheme``.
        """
        if isinstance(labels, str):
            raise ValueError(
                f"labels must be a list of label names, got the string {labels!r}; e.g. ['O', 'B-PER']"
            )
        try:
            return _cached_structure(tuple(labels), scheme)
        except TypeError:  # an unhashable label: build it uncached, which names the bad label
            return cls._build(list(labels), scheme)

    @classmethod
    def _build(cls, labels: Sequence[str], scheme: str | None) -> TagStructure:
        scheme = scheme_from_labels(labels) if scheme is None else normalize_scheme(scheme)
        types: dict[str, int] = {}
        prefix_ids, type_ids = [], []
        for label in labels:
            is_valid_transition(
                None, label, scheme
            )  # raises InvalidTagError for a malformed or foreign label
            prefix, entity_type = split_tag(label)
            prefix_ids.append(_CLASS_OF_PREFIX[prefix])
            type_ids.append(-1 if entity_type is None else types.setdefault(entity_type, len(types)))
        none = len(types)
        type_ids = [none if t < 0 else t for t in type_ids]
        groups: dict[tuple[int, int], list[int]] = {}
        for index, key in enumerate(zip(prefix_ids, type_ids, strict=True)):
            groups.setdefault(key, []).append(index)
        depth = max((len(g) for g in groups.values()), default=1)
        slot_labels = torch.full((NUM_PREFIX_CLASSES, none + 1, depth), len(labels), dtype=torch.long)
        for (p, t), members in groups.items():
            slot_labels[p, t, : len(members)] = torch.tensor(members)
        allowed, start, end = _abstract_rules(scheme)
        present = sorted(set(prefix_ids))
        size, slots = NUM_PREFIX_CLASSES, none + 1
        moves = {q: [(c, s) for c in present for s in (0, 1) if allowed[c, q, s]] for q in present}
        width = max((len(m) for m in moves.values()), default=1) or 1
        cells = torch.zeros(width, len(labels), dtype=torch.long)
        scores = torch.full((width, len(labels)), size * size * 2, dtype=torch.long)
        for j, (q, k) in enumerate(zip(prefix_ids, type_ids, strict=True)):
            for n, (c, s) in enumerate(moves[q]):
                cells[n, j] = (c * 2 + s) * slots + k
                scores[n, j] = (c * size + q) * 2 + s
        return cls(
            labels=tuple(labels),
            scheme=scheme,
            types=tuple(types),
            prefix_ids=torch.tensor(prefix_ids, dtype=torch.long),
            type_ids=torch.tensor(type_ids, dtype=torch.long),
            slot_labels=slot_labels,
            slot_index=slot_labels.flatten().clamp(max=max(len(labels) - 1, 0)),
            slot_padding=torch.zeros(slot_labels.numel()).masked_fill(
                slot_labels.flatten() == len(labels), -math.inf
            ),
            candidate_cells=cells,
            candidate_transitions=scores,
            allowed=allowed,
            start_allowed=start,
            end_allowed=end,
        )

    def to(self, device: torch.device | str) -> TagStructure:
        """This structure with its tensors on ``device`` (the copy is kept, so calling again is free)."""
        device = torch.device(device)
        if self.prefix_ids.device == device:
            return self
        if device not in self._on_device:
            moved = {f.name: getattr(self, f.name).to(device) for f in fields(self) if f.type == "Tensor"}
            self._on_device[device] = TagStructure(self.labels, self.scheme, self.types, **moved)
        return self._on_device[device]

    def same_type(self) -> Tensor:
        """`Tensor` (bool ``[L, L]``): whether two labels name the same entity type (never for ``O``)."""
        return (self.type_ids[:, None] == self.type_ids[None, :]) & (self.type_ids != self.num_types)[:, None]

    def candidate_scores(self, transitions: Tensor, padding: float = float("-inf")) -> Tensor:
        """`Tensor` ``[N, L]``: the ``[5, 5, 2]`` scores read at `candidate_transitions` (``padding`` there)."""
        flat = torch.cat([transitions.flatten(), transitions.new_full((1,), padding)])
        return flat[self.candidate_transitions]

    def dense_scores(self, transitions: Tensor) -> Tensor:
        """`Tensor` ``[L, L]``: the ``[5, 5, 2]`` collapsed scores expanded to every pair of labels."""
        prefix = self.prefix_ids
        return transitions[prefix[:, None], prefix[None, :], self.same_type().long()]

    def dense_masks(self) -> tuple[Tensor, Tensor, Tensor]:
        """The ``[L, L]``, ``[L]``, ``[L]`` masks of `allowed_transitions` (``O(L^2)`` memory, vectorised)."""
        prefix = self.prefix_ids
        return self.dense_scores(self.allowed), self.start_allowed[prefix], self.end_allowed[prefix]


@functools.lru_cache(maxsize=64)
def _cached_structure(labels: tuple[str, ...], scheme: str | None) -> TagStructure:
    return TagStructure._build(labels, scheme)


def allowed_transitions(labels: Sequence[str], scheme: str | None = None) -> tuple[Tensor, Tensor, Tensor]:
    """Masks of the label transitions a tag scheme allows.

    IO allows everything; IOB2 allows ``I-X`` only after ``B-X`` or ``I-X`` (so not first); IOB1 allows
    ``B-X`` only after ``B-X`` or ``I-X``; BIOES runs the full automaton: ``B-X``/``I-X`` must be followed
    by ``I-X``/``E-X``, ``I-X``/``E-X`` must follow ``B-X``/``I-X``, and a sentence can neither start with
    ``I-``/``E-`` nor end with ``B-``/``I-``. The decoders do not need these ``[L, L]`` masks (they use
    `TagStructure`); they are kept for inspection.

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
    return TagStructure.from_labels(labels, scheme).dense_masks()
