"""A conditional random field whose transitions carry to any label set: collapsed dependency transfer.

Hou et al. (ACL 2020, few-shot slot tagging) learn transition scores between *abstract* tags rather than
between labels: ``O B I E S`` (`decoding.PREFIX_CLASSES`), the next tag naming the same entity type as
the previous one or another, plus a start and an end score per abstract tag. That is 60 numbers,
whatever the label set, expanded to the ``L x L`` transitions of any label set of the same scheme; the
scheme's hard constraints stay on top (a forbidden move scores ``-inf`` whatever is learned).

`CollapsedCRF` holds the parameters and gives the negative log-likelihood (forward algorithm, batched,
masked, ``O(T * L)`` per sentence) and Viterbi decoding with the learned scores (`decoding.viterbi_decode_batch`).
Its parameters go into a state dict like any module's, or into a config as plain lists (`CollapsedCRF.to_dict`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import torch
from torch import Tensor, nn

from .decoding import (
    _DENSE_MAX_CELLS,
    NUM_PREFIX_CLASSES,
    PREFIX_CLASSES,
    TagStructure,
    _check_batch,
    _short,
    check_transitions,
    expand_transitions,
    viterbi_decode_batch,
)
from .verbalizer import SchemeError, normalize_scheme

logger = logging.getLogger(__name__)

# Forbidden moves score this instead of -inf in the forward algorithm: exp() of it is 0, but unlike -inf it
# never yields NaN gradients for states no valid path reaches. The sums are done in float32 at least.
_NEG = -1e30

__all__ = ["CollapsedCRF", "check_scheme", "pack_positions"]


def check_scheme(stored: str, target: str, what: str = "the CRF transitions") -> None:
    """Raise unless transitions trained for scheme ``stored`` may be used with labels in scheme ``target``.

    Abstract tags mean different things in different schemes (``I-`` opens an entity in IOB1 but not in
    IOB2), so collapsed transitions only carry across label sets of one scheme.

    Args:
        stored (`str`): the scheme the transitions were trained for.
        target (`str`): the scheme of the labels they are asked to score.
        what (`str`, *optional*): what holds the transitions, for the message.

    Raises:
        `SchemeError`: the schemes differ, naming both.
    """
    stored_name, target_name = normalize_scheme(stored), normalize_scheme(target)
    if stored_name != target_name:
        raise SchemeError(
            f"{what} were trained for the {stored_name} scheme, but the labels are in the {target_name} "
            f"scheme; abstract-tag transitions do not carry across schemes: write the labels in "
            f"{stored_name} (labels_from_types(types, {stored_name!r})) or train new ones with "
            f"CollapsedCRF(scheme={target_name!r})"
        )


def pack_positions(scores: Tensor, labels: Tensor, ignore_index: int = -100) -> tuple[Tensor, Tensor, Tensor]:
    """Gather the scored positions of each sequence to the front, e.g. each word's first sub-token.

    Token classification labels mark the positions that carry no tag (special tokens, later sub-tokens)
    with ``ignore_index``; the CRF needs them out of the sequence, not masked in place.

    Args:
        scores (`Tensor` of shape `[B, N, L]`): per-position scores.
        labels (`Tensor` of shape `[B, N]`): tag ids, ``ignore_index`` where a position is not tagged.
        ignore_index (`int`, *optional*, defaults to `-100`): the id of untagged positions.

    Returns:
        `tuple[Tensor, Tensor, Tensor]`: ``scores`` ``[B, W, L]``, ``tags`` ``[B, W]`` (0 at padding) and a
        left-aligned bool ``mask`` ``[B, W]``, ``W`` the most tagged positions of a sequence; gradients flow
        back to ``scores``.

    Example:

    ```python
    >>> scores, tags, mask = pack_positions(torch.zeros(1, 4, 3), torch.tensor([[-100, 1, -100, 2]]))
    >>> scores.shape, tags.tolist(), mask.tolist()
    (torch.Size([1, 2, 3]), [[1, 2]], [[True, True]])
    ```
    """
    if scores.dim() != 3 or labels.shape != scores.shape[:2]:
        raise ValueError(
            f"pack_positions takes scores [B, N, L] and labels [B, N], got {tuple(scores.shape)} and "
            f"{tuple(labels.shape)}"
        )
    keep = labels != ignore_index
    lengths = keep.sum(dim=1)
    width = int(lengths.max()) if lengths.numel() else 0
    order = torch.argsort((~keep).to(torch.int8), dim=1, stable=True)[:, :width]
    mask = torch.arange(width, device=labels.device).unsqueeze(0) < lengths.unsqueeze(1)
    packed = scores.gather(1, order.unsqueeze(-1).expand(-1, -1, scores.shape[2]))
    return packed, labels.gather(1, order).masked_fill(~mask, 0), mask


def _lse_step(
    alpha: Tensor, structure: TagStructure, slot_padding: Tensor, candidate_scores: Tensor
) -> Tensor:
    """One sum-product step in ``O(L)``: ``log sum_i exp(alpha_i + transition(i -> j))`` for every label ``j``.

    As `decoding._collapsed_step` with log-sum-exp for max. "Every tag of another type than ``k``" is the
    class total minus slot ``k``, computed relative to the class's best slot ``v1``: for ``k`` other than
    the best slot that leaves the best slot's own term 1 in the sum, so no cancellation; for ``k`` the best
    slot the remainder is summed on its own, relative to its best ``v2``. ``slot_padding`` is
    `TagStructure.slot_padding` with ``-inf`` replaced by ``_NEG``.
    """
    none = structure.num_types
    shape = structure.slot_labels.shape
    values = alpha.index_select(1, structure.slot_index) + slot_padding
    values = values.view(alpha.shape[0], *shape)
    values = values[..., 0] if shape[-1] == 1 else values.logsumexp(dim=-1)  # [B, P, S]
    v1, t1 = values.max(dim=-1, keepdim=True)
    is_t1 = torch.arange(none + 1, device=alpha.device) == t1
    terms = torch.exp(values - v1)
    total = terms.sum(dim=-1, keepdim=True)
    rest = values.masked_fill(is_t1, _NEG)
    v2 = rest.amax(dim=-1, keepdim=True)
    rest_total = torch.exp(rest - v2).sum(dim=-1, keepdim=True)
    without = v1 + torch.log(torch.where(is_t1, torch.ones_like(terms), total - terms))
    other = torch.where(is_t1, v2 + torch.log(rest_total), without)
    other = torch.cat([other[..., :none], v1 + torch.log(total)], dim=-1)  # O follows every tag as "other"
    cells = torch.stack([other, values], dim=2).flatten(1)  # [B, P * 2 * S]
    moves = cells.index_select(1, structure.candidate_cells.flatten()).view(-1, *candidate_scores.shape)
    return torch.logsumexp(moves + candidate_scores, dim=1)


class CollapsedCRF(nn.Module):
    """Learned transitions between abstract tags, usable with any label set of one tag scheme.

    Parameters (60, whatever the label set): ``transitions`` ``[5, 5, 2]`` (previous class, next class,
    other type / same type, over `decoding.PREFIX_CLASSES`), ``start_transitions`` and ``end_transitions``
    ``[5]``. All start at zero, where `decode` is exactly the hard-constraint `decoding.viterbi_decode`.
    Entries the scheme forbids (and "same type" next to ``O``) are never used and get no gradient.

    The scores it takes are per-token emissions ``[B, T, L]`` in label order, e.g. the model's logits at
    each word's first sub-token (`pack_positions`); decode with the same kind of scores it was trained on.

    Args:
        scheme (`str`, *optional*, defaults to `"IOB2"`):
            The tag scheme of every label set it will score: ``"IO"``, ``"IOB1"``, ``"IOB2"``, ``"BIOES"``
            (``"BILOU"`` is read as ``"BIOES"``).

    Example:

    ```python
    >>> crf = CollapsedCRF("IOB2")
    >>> labels = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    >>> scores = torch.randn(2, 4, len(labels))
    >>> loss = crf(scores, torch.tensor([[1, 2, 0, 3], [0, 0, 3, 4]]), labels)
    >>> loss.backward()
    >>> crf.decode(scores, labels)[0]  # a valid IOB2 sequence of 4 label ids
    [...]
    ```
    """

    def __init__(self, scheme: str = "IOB2") -> None:
        super().__init__()
        self.scheme = normalize_scheme(scheme)
        size = NUM_PREFIX_CLASSES
        self.transitions = nn.Parameter(torch.zeros(size, size, 2))
        self.start_transitions = nn.Parameter(torch.zeros(size))
        self.end_transitions = nn.Parameter(torch.zeros(size))

    def extra_repr(self) -> str:
        return f"scheme={self.scheme!r}, classes={''.join(PREFIX_CLASSES)}"

    def reset_parameters(self) -> None:
        """Set every score to zero (decoding becomes the hard-constraint Viterbi)."""
        with torch.no_grad():
            for parameter in (self.transitions, self.start_transitions, self.end_transitions):
                parameter.zero_()

    def structure(self, labels: Sequence[str] | TagStructure) -> TagStructure:
        """The `TagStructure` of ``labels`` read in this CRF's scheme (a structure is checked, not rebuilt).

        Raises:
            `SchemeError`: a structure built for another scheme, naming both.
        """
        if isinstance(labels, TagStructure):
            check_scheme(self.scheme, labels.scheme)
            return labels
        return TagStructure.from_labels(labels, self.scheme)

    def _expanded(self, structure: TagStructure, forbidden: float) -> tuple[Tensor, Tensor, Tensor]:
        return expand_transitions(
            structure, self.transitions, self.start_transitions, self.end_transitions, forbidden=forbidden
        )

    def log_partition(
        self, scores: Tensor, labels: Sequence[str] | TagStructure, mask: Tensor | None = None
    ) -> Tensor:
        """``log Z`` of each sentence: the log-sum-exp of the scores of every valid tag sequence.

        Args:
            scores (`Tensor` of shape `[B, T, L]`): emissions; ``-inf`` entries are allowed, NaN is not.
            labels (`Sequence[str]` or `TagStructure`): the ``L`` labels.
            mask (`Tensor` of shape `[B, T]`, *optional*): left-aligned, `True` at real tokens.

        Returns:
            `Tensor` of shape `[B]`: float32 (or float64 for float64 scores); 0 for an empty sentence.
        """
        structure = self.structure(labels)
        mask = _check_batch(scores, structure, mask)
        if torch.isnan(scores).any():
            raise ValueError("scores hold NaN; the CRF needs finite emissions, e.g. the model's logits")
        structure = structure.to(scores.device)
        scores = scores.to(torch.promote_types(scores.dtype, torch.float32)).clamp(min=_NEG)
        batch, length, size = scores.shape
        if length == 0:
            return scores.new_zeros(batch)
        trans, start, end = (t.to(scores.dtype) for t in self._expanded(structure, _NEG))
        prefix = structure.prefix_ids
        alpha = scores[:, 0] + start[prefix]
        dense = structure.dense_scores(trans) if batch * size * size <= _DENSE_MAX_CELLS else None
        candidates = structure.candidate_scores(trans, padding=_NEG) if dense is None else None
        padding = structure.slot_padding.to(scores.dtype).clamp(min=_NEG)
        for t in range(1, length):
            if dense is not None:
                reach = torch.logsumexp(alpha.unsqueeze(2) + dense, dim=1)
            else:
                reach = _lse_step(alpha, structure, padding, candidates)
            alpha = torch.where(mask[:, t, None], reach + scores[:, t], alpha)
        log_z = torch.logsumexp(alpha + end[prefix], dim=1)
        return log_z.masked_fill(~mask[:, 0], 0.0)

    def _check_tags(self, tags: Tensor, mask: Tensor, structure: TagStructure) -> Tensor:
        if not isinstance(tags, Tensor) or tuple(tags.shape) != tuple(mask.shape):
            got = tuple(tags.shape) if isinstance(tags, Tensor) else type(tags).__name__
            raise ValueError(f"tags must be a [B, T] = {list(mask.shape)} tensor of label ids, got {got}")
        tags = tags.to(mask.device).long()
        bad = mask & ((tags < 0) | (tags >= structure.num_labels))
        if bad.any():
            b, t = (int(i) for i in bad.nonzero()[0])
            raise ValueError(
                f"tag id {int(tags[b, t])} at position {t} of sentence {b} is not a label id in "
                f"[0, {structure.num_labels}); mask the untagged positions out, e.g. with pack_positions"
            )
        tags = tags.masked_fill(~mask, 0)
        prefix, types = structure.prefix_ids[tags], structure.type_ids[tags]
        same = (types[:, 1:] == types[:, :-1]) & (types[:, 1:] != structure.num_types)
        moves = structure.allowed[prefix[:, :-1], prefix[:, 1:], same.long()] | ~mask[:, 1:]
        first = structure.start_allowed[prefix[:, :1]] | ~mask[:, :1]
        lengths = mask.sum(dim=1)
        last = prefix.gather(1, (lengths - 1).clamp(min=0).unsqueeze(1))
        final = structure.end_allowed[last] | (lengths == 0).unsqueeze(1)
        valid = torch.cat([first, moves], dim=1)
        if not (valid.all() and final.all()):
            if not valid.all():
                b, t = (int(i) for i in (~valid).nonzero()[0])
                after = "the start" if t == 0 else repr(structure.labels[int(tags[b, t - 1])])
                problem = f"{structure.labels[int(tags[b, t])]!r} cannot follow {after}"
            else:
                b = int((~final).nonzero()[0, 0])
                problem = f"it ends with {structure.labels[int(tags[b, int(lengths[b]) - 1])]!r}"
            raise ValueError(
                f"the gold tags of sentence {b} are not a valid {structure.scheme} sequence: {problem}; "
                f"the CRF gives them probability 0. Fix the data (e.g. convert_scheme(tags, "
                f"{structure.scheme!r})) or check that truncation does not cut an entity"
            )
        return tags

    def sequence_score(
        self, scores: Tensor, tags: Tensor, labels: Sequence[str] | TagStructure, mask: Tensor | None = None
    ) -> Tensor:
        """The score of given tag sequences: emissions plus start, transition and end scores.

        Returns:
            `Tensor` of shape `[B]`; raises `ValueError` when a sequence breaks the scheme.
        """
        structure = self.structure(labels)
        mask = _check_batch(scores, structure, mask)
        structure = structure.to(scores.device)
        tags = self._check_tags(tags, mask, structure)
        scores = scores.to(torch.promote_types(scores.dtype, torch.float32)).clamp(min=_NEG)
        if scores.shape[1] == 0:
            return scores.new_zeros(scores.shape[0])
        trans, start, end = (t.to(scores.dtype) for t in self._expanded(structure, _NEG))
        on = mask.to(scores.dtype)
        total = (scores.gather(2, tags.unsqueeze(2)).squeeze(2) * on).sum(dim=1)
        prefix, types = structure.prefix_ids[tags], structure.type_ids[tags]
        same = (types[:, 1:] == types[:, :-1]) & (types[:, 1:] != structure.num_types)
        total = total + (trans[prefix[:, :-1], prefix[:, 1:], same.long()] * on[:, 1:]).sum(dim=1)
        lengths = mask.sum(dim=1)
        last = prefix.gather(1, (lengths - 1).clamp(min=0).unsqueeze(1)).squeeze(1)
        return total + (start[prefix[:, 0]] + end[last]) * on[:, 0]

    def forward(
        self,
        scores: Tensor,
        tags: Tensor,
        labels: Sequence[str] | TagStructure,
        mask: Tensor | None = None,
        reduction: str = "mean",
    ) -> Tensor:
        """The negative log-likelihood of the gold tags: ``log Z - score(tags)``.

        Args:
            scores (`Tensor` of shape `[B, T, L]`): emissions (e.g. logits at the tagged positions).
            tags (`Tensor` of shape `[B, T]`): gold label ids; any value where ``mask`` is `False`.
            labels (`Sequence[str]` or `TagStructure`): the ``L`` labels, in this CRF's scheme.
            mask (`Tensor` of shape `[B, T]`, *optional*): left-aligned, `True` at real tokens.
            reduction (`str`, *optional*, defaults to `"mean"`): ``"mean"`` over non-empty sentences,
                ``"token_mean"`` (sum over tokens), ``"sum"`` or ``"none"`` (``[B]``).

        Returns:
            `Tensor`: the loss, a scalar unless ``reduction="none"``.

        Raises:
            `ValueError`: bad shapes, NaN scores, tag ids out of range, or gold tags the scheme forbids.
        """
        if reduction not in ("mean", "token_mean", "sum", "none"):
            raise ValueError(f"reduction={reduction!r}; use 'mean', 'token_mean', 'sum' or 'none'")
        structure = self.structure(labels)
        mask = _check_batch(scores, structure, mask)
        nll = self.log_partition(scores, structure, mask) - self.sequence_score(scores, tags, structure, mask)
        if reduction == "none":
            return nll
        if reduction == "sum":
            return nll.sum()
        count = mask.sum() if reduction == "token_mean" else mask[:, :1].sum()
        return nll.sum() / count.clamp(min=1)

    def decode(
        self, scores: Tensor, labels: Sequence[str] | TagStructure, mask: Tensor | None = None
    ) -> list[list[int]]:
        """The best valid tag sequence of each sentence under the learned transitions (``O(T * L)``).

        Returns:
            `list[list[int]]`: per sentence, as many label ids as it has tokens; see
            `decoding.viterbi_decode_batch` for the errors.
        """
        return viterbi_decode_batch(
            scores,
            self.structure(labels),
            mask,
            transitions=self.transitions.detach(),
            start_transitions=self.start_transitions.detach(),
            end_transitions=self.end_transitions.detach(),
        )

    def to_dict(self) -> dict:
        """The parameters as plain lists (JSON-ready, exact for float32), with the scheme.

        Returns:
            `dict`: ``{"scheme", "transitions" [5][5][2], "start_transitions" [5], "end_transitions" [5]}``.
        """
        return {
            "scheme": self.scheme,
            "transitions": self.transitions.detach().cpu().tolist(),
            "start_transitions": self.start_transitions.detach().cpu().tolist(),
            "end_transitions": self.end_transitions.detach().cpu().tolist(),
        }

    def load_dict(self, data: Mapping) -> CollapsedCRF:
        """Copy parameters written by `to_dict` into this CRF, in place.

        Raises:
            `SchemeError`: ``data`` was written for another scheme, naming both.
            `ValueError`: a key is missing or a list has the wrong shape.
        """
        if not isinstance(data, Mapping) or "scheme" not in data:
            raise ValueError(
                f"CRF parameters must be a mapping with 'scheme', 'transitions', 'start_transitions' and "
                f"'end_transitions', as CollapsedCRF.to_dict() writes, got {_short(list(data)) if isinstance(data, Mapping) else type(data).__name__}"
            )
        check_scheme(data["scheme"], self.scheme)
        values = {}
        for name in ("transitions", "start_transitions", "end_transitions"):
            if name not in data:
                raise ValueError(f"CRF parameters lack {name!r}; write them with CollapsedCRF.to_dict()")
            try:
                values[name] = torch.tensor(data[name], dtype=torch.float32)
            except (TypeError, ValueError) as error:
                raise ValueError(f"CRF parameter {name!r} is not a nested list of numbers: {error}") from None
        check_transitions(values["transitions"], values["start_transitions"], values["end_transitions"])
        with torch.no_grad():
            for name, value in values.items():
                getattr(self, name).copy_(value)
        return self

    @classmethod
    def from_dict(cls, data: Mapping, scheme: str | None = None) -> CollapsedCRF:
        """A CRF from `to_dict` output; with ``scheme``, also check that it is the one ``data`` was trained for.

        Raises:
            `SchemeError`: ``scheme`` differs from the stored one, naming both.
        """
        if not isinstance(data, Mapping) or "scheme" not in data:
            return cls().load_dict(data)  # raises the message about the expected keys
        if scheme is not None:
            check_scheme(data["scheme"], scheme)
        return cls(data["scheme"]).load_dict(data)
