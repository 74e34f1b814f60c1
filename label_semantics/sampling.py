"""Few-shot support sets: the greedy K-shot sampler of Yang & Katiyar (2020), Algorithm 1 of Ma et al. (2022).

"K-shot" counts entity *mentions*: a support set is K-shot when every entity type has at least K mentions
in it. Sentences hold several mentions of several types, so exactly K per type is usually impossible; the
greedy sampler gets close, and its last pass makes the set minimal: removing any one of its sentences
leaves some type with fewer than K mentions.
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from collections.abc import Sequence

from .verbalizer import InvalidTagError, tags_to_spans

logger = logging.getLogger(__name__)


class SamplingError(ValueError):
    """A support set that cannot be sampled: ``k`` < 1, no entity in the data, or a type with fewer than
    ``k`` mentions in the whole data."""


def _mentions_per_sentence(tag_sequences: Sequence[Sequence[str]]) -> list[Counter[str]]:
    sentences = [tag_sequences] if isinstance(tag_sequences, str) else list(tag_sequences)
    if sentences and isinstance(sentences[0], str):
        raise SamplingError(
            f"expected one sequence of tags per sentence, got a flat sequence starting {sentences[:4]!r}; pass "
            f"e.g. dataset['ner_tags'] or [['B-PER', 'O'], ['O', 'B-LOC']]"
        )
    mentions = []
    for index, tags in enumerate(sentences):
        try:
            spans = tags_to_spans(tags)
        except InvalidTagError as error:
            raise InvalidTagError(f"sentence {index}: {error}") from None
        mentions.append(Counter(entity_type for entity_type, _, _ in spans))
    return mentions


def count_mentions(tag_sequences: Sequence[Sequence[str]]) -> dict[str, int]:
    """Count the entity mentions of each type (an entity of three tokens is one mention).

    Args:
        tag_sequences (`Sequence[Sequence[str]]`):
            The tags of each sentence, in any scheme (read with `verbalizer.tags_to_spans`).

    Returns:
        `dict[str, int]`: type -> number of mentions, types in order of first appearance.

    Raises:
        `InvalidTagError`: a malformed tag (its sentence and position are named).

    Example:

    ```python
    >>> count_mentions([["B-PER", "I-PER", "O", "B-LOC"], ["B-PER"]])
    {'PER': 2, 'LOC': 1}
    ```
    """
    total: Counter[str] = Counter()
    for counts in _mentions_per_sentence(tag_sequences):
        total.update(counts)
    return dict(total)


def sample_support_set(tag_sequences: Sequence[Sequence[str]], k: int, *, seed: int = 0) -> list[int]:
    """Sample a K-shot support set with the greedy algorithm of Yang & Katiyar (2020).

    This is Algorithm 1 of Ma et al. (2022): the entity types are visited from the rarest (fewest
    mentions in the data) to the most frequent; for each type still below ``k`` mentions, sentences that
    contain it are taken in a seeded random order, skipping those already chosen, until it has ``k``
    (each added sentence counts for all the mentions it holds, of every type). A last pass goes through
    the chosen sentences in the order they were added and drops every one whose removal keeps all types
    at ``k`` or more, which makes the set minimal.

    Mentions are counted with `verbalizer.tags_to_spans`, so any tag scheme works (IO, IOB1, IOB2,
    BIOES/BILOU); every type present in the data must reach ``k``.

    Args:
        tag_sequences (`Sequence[Sequence[str]]`):
            The tags of each sentence, e.g. ``dataset["ner_tags"]``.
        k (`int`):
            The least number of mentions each entity type gets in the support set.
        seed (`int`, *optional*, defaults to `0`):
            Seeds the order in which sentences are tried; one seed always gives the same set.

    Returns:
        `list[int]`: indices into ``tag_sequences`` of the chosen sentences, in increasing order (use
        ``dataset.select(indices)``).

    Raises:
        `SamplingError`: ``k`` < 1, the data holds no entity, or a type has fewer than ``k`` mentions in
        the whole data (the types and their counts are named).
        `InvalidTagError`: a malformed tag (its sentence and position are named).

    Example:

    ```python
    >>> tags = [["B-PER", "O"], ["B-LOC"], ["B-PER", "B-LOC"], ["O"], ["B-PER"]]
    >>> indices = sample_support_set(tags, k=1, seed=0)
    >>> sorted(count_mentions([tags[i] for i in indices])) == ["LOC", "PER"]
    True
    ```
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise SamplingError(f"k={k!r} must be an int >= 1 (mentions per entity type), e.g. k=5")
    mentions = _mentions_per_sentence(tag_sequences)
    total: Counter[str] = Counter()
    for counts in mentions:
        total.update(counts)
    if not total:
        raise SamplingError(
            f"the {len(mentions)} sentences hold no entity (only 'O' tags), so no K-shot set exists; pass the "
            f"tags of an annotated split, e.g. sample_support_set(dataset['train']['ner_tags'], k={k})"
        )
    rare = {entity_type: count for entity_type, count in total.items() if count < k}
    if rare:
        listed = ", ".join(f"{entity_type!r} has {count}" for entity_type, count in rare.items())
        raise SamplingError(
            f"{k}-shot sampling needs {k} mentions of every type, but in the whole data {listed}; use "
            f"k<={min(total.values())}, or map the rare type's tags to 'O' before sampling"
        )

    order = list(range(len(mentions)))
    random.Random(seed).shuffle(order)
    have: Counter[str] = Counter()
    chosen: list[int] = []
    taken: set[int] = set()
    # rarest type first; sorted() is stable, so ties keep the order of first appearance
    for entity_type in sorted(total, key=total.__getitem__):
        if have[entity_type] >= k:
            continue
        for index in order:
            if index in taken or not mentions[index][entity_type]:
                continue
            chosen.append(index)
            taken.add(index)
            have.update(mentions[index])
            if have[entity_type] >= k:
                break
    greedy_size = len(chosen)

    for index in list(chosen):
        if all(have[entity_type] - count >= k for entity_type, count in mentions[index].items()):
            chosen.remove(index)
            have.subtract(mentions[index])
    logger.info(
        "%d-shot support set (seed %d): %d sentences (%d before pruning), mentions %s",
        k,
        seed,
        len(chosen),
        greedy_size,
        dict(have),
    )
    return sorted(chosen)
