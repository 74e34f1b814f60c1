"""Between NER tags and sentence labels: multi-label sentence labels read off the tags ("this sentence contains a
person"), the gold words of each entity type, and entity tags built back from per-type word labels.

These are what it takes to train a label-attention model on sentence labels only and to score its per-label word
scores against the entity words: the sentence labels are its training targets, the per-type word masks the gold
of its word scores, and [`tags_from_word_scores`] turns thresholded word scores into entities for seqeval.

Example:

```python
>>> from label_semantics.sentence_labels import sentence_labels_from_tags, tags_from_word_scores
>>> sentence_labels_from_tags([["B-PER", "I-PER", "O", "B-LOC"], ["O", "O"]], ["PER", "LOC", "ORG"])
[['PER', 'LOC'], []]
>>> tags_from_word_scores({"PER": [0.9, 0.8, 0.1], "LOC": [0.2, 0.1, 0.7]}, {"PER": 0.5, "LOC": 0.5})
['B-PER', 'I-PER', 'B-LOC']
```
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from .verbalizer import entity_types, spans_to_tags, tags_to_spans

logger = logging.getLogger(__name__)


class SentenceLabelError(ValueError):
    """Tags or scores that do not fit the entity types asked for."""


def _types_of(tag_sequences: Sequence[Sequence[str]], types: Sequence[str] | None) -> list[str]:
    found = entity_types(tag for tags in tag_sequences for tag in tags)
    if types is None:
        return found
    types = list(types)
    unknown = sorted(set(found) - set(types))
    if unknown:
        raise SentenceLabelError(
            f"the tags hold entity types {unknown} that are not among types={types}; add them, or pass "
            "types=None to use every type in the tags."
        )
    return types


def sentence_labels_from_tags(
    tag_sequences: Sequence[Sequence[str]], types: Sequence[str] | None = None
) -> list[list[str]]:
    """The multi-label sentence labels of tagged sentences: each sentence gets every entity type it contains.

    Args:
        tag_sequences (`Sequence[Sequence[str]]`):
            The tags of each sentence, in any scheme (IOB1, IOB2, BIOES, BILOU).
        types (`Sequence[str]`, *optional*):
            The label set, in the order the labels are listed; defaults to every type in the tags, in order of first appearance. A type
            in the tags but not here is an error, so nothing is silently dropped.

    Returns:
        `list[list[str]]`: one list per sentence, in `types` order; empty for a sentence without entities.

    Raises:
        [`SentenceLabelError`]: a type in the tags is not in `types`.
        `InvalidTagError`: a malformed tag.
    """
    types = _types_of(tag_sequences, types)
    labels = []
    for tags in tag_sequences:
        present = {entity_type for entity_type, _, _ in tags_to_spans(tags)}
        labels.append([t for t in types if t in present])
    return labels


def multi_hot(labels: Sequence[Sequence[str]], types: Sequence[str]) -> list[list[float]]:
    """Sentence labels as 0/1 rows in `types` order (the targets of a multi-label classifier).

    Raises:
        [`SentenceLabelError`]: a label not in `types`.
    """
    index = {t: i for i, t in enumerate(types)}
    rows = []
    for row, names in enumerate(labels):
        vector = [0.0] * len(types)
        for name in names:
            if name not in index:
                raise SentenceLabelError(f"sentence {row} has label {name!r}, not among types={list(types)}.")
            vector[index[name]] = 1.0
        rows.append(vector)
    return rows


def entity_word_labels(tags: Sequence[str], entity_type: str) -> list[int]:
    """1 for each word inside an entity of `entity_type`, 0 elsewhere: the gold of that type's word scores.

    Args:
        tags (`Sequence[str]`): one sentence's tags, in any scheme.
        entity_type (`str`): e.g. `"PER"`.

    Returns:
        `list[int]`: as long as `tags`.
    """
    gold = [0] * len(tags)
    for name, start, end in tags_to_spans(tags):
        if name == entity_type:
            gold[start:end] = [1] * (end - start)
    return gold


def tags_from_word_scores(
    scores: Mapping[str, Sequence[float]], thresholds: Mapping[str, float], scheme: str = "IOB2"
) -> list[str]:
    """Entity tags of one sentence from per-type word scores: each word takes the type with the highest score
    among those at or above their threshold (none: `O`), and adjacent words of one type form one entity.

    Args:
        scores (`Mapping[str, Sequence[float]]`):
            For each entity type, one score per word (all of one length).
        thresholds (`Mapping[str, float]`):
            The threshold of each type in `scores`.
        scheme (`str`, *optional*, defaults to `"IOB2"`):
            The scheme of the tags written (see `verbalizer.spans_to_tags`).

    Returns:
        `list[str]`: one tag per word.

    Raises:
        [`SentenceLabelError`]: types of `scores` without a threshold, or score lists of different lengths.
    """
    missing = sorted(set(scores) - set(thresholds))
    if missing:
        raise SentenceLabelError(
            f"no threshold for types {missing}; pass thresholds={{type: 0.5, ...}} for each."
        )
    lengths = {len(values) for values in scores.values()}
    if len(lengths) > 1:
        raise SentenceLabelError(
            f"the types' score lists differ in length ({sorted(lengths)}); one score per word."
        )
    length = lengths.pop() if lengths else 0
    chosen: list[str | None] = []
    for position in range(length):
        best, best_score = None, None
        for entity_type, values in scores.items():
            value = values[position]
            if value >= thresholds[entity_type] and (best_score is None or value > best_score):
                best, best_score = entity_type, value
        chosen.append(best)
    spans, start = [], 0
    for position in range(1, length + 1):
        if position == length or chosen[position] != chosen[start]:
            if chosen[start] is not None:
                spans.append((chosen[start], start, position))
            start = position
    return spans_to_tags(spans, length, scheme)


__all__ = [
    "SentenceLabelError",
    "entity_word_labels",
    "multi_hot",
    "sentence_labels_from_tags",
    "tags_from_word_scores",
]
