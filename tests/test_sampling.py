"""Tests for label_semantics.sampling: the greedy K-shot support-set sampler."""

from __future__ import annotations

import ast
import logging
import random
import re
from collections import Counter

import pytest

from label_semantics.data import read_column_file
from label_semantics.sampling import SamplingError, count_mentions, sample_support_set
from label_semantics.verbalizer import InvalidTagError, tags_to_spans


def mentions(tags) -> Counter:
    """Reference count of the mentions of one sentence, straight from the verbalizer's spans."""
    return Counter(entity_type for entity_type, _, _ in tags_to_spans(tags))


def support_counts(tag_sequences, indices) -> Counter:
    total = Counter()
    for i in indices:
        total.update(mentions(tag_sequences[i]))
    return total


def assert_k_shot_and_minimal(tag_sequences, indices, k):
    types = set(support_counts(tag_sequences, range(len(tag_sequences))))
    counts = support_counts(tag_sequences, indices)
    assert set(counts) == types
    assert min(counts.values()) >= k, counts
    for i in indices:  # minimality: every chosen sentence is needed
        without = counts - mentions(tag_sequences[i])
        assert any(without[t] < k for t in types), f"sentence {i} could be dropped"


def synthetic_corpus(seed: int, n_sentences: int = 300, types=("PER", "LOC", "ORG", "MISC")):
    """Random IOB2 sentences: entities of 1-3 tokens, several per sentence, some sentences all O."""
    rng = random.Random(seed)
    weights = [2**i for i in range(len(types))]  # skewed frequencies: the first type is the rarest
    corpus = []
    for _ in range(n_sentences):
        tags = []
        for _ in range(rng.randint(1, 12)):
            if rng.random() < 0.25:
                entity_type = rng.choices(types, weights)[0]
                tags += [f"B-{entity_type}"] + [f"I-{entity_type}"] * rng.randint(0, 2)
            else:
                tags.append("O")
        corpus.append(tags)
    return corpus


@pytest.mark.parametrize("corpus_seed", [0, 1, 2])
@pytest.mark.parametrize("k", [1, 3, 5])
def test_synthetic_support_sets_are_k_shot_and_minimal(corpus_seed, k):
    corpus = synthetic_corpus(corpus_seed)
    for seed in range(3):
        indices = sample_support_set(corpus, k, seed=seed)
        assert indices == sorted(set(indices))
        assert all(0 <= i < len(corpus) for i in indices)
        assert_k_shot_and_minimal(corpus, indices, k)


def test_deterministic_per_seed_and_seeds_differ():
    corpus = synthetic_corpus(7)
    first = sample_support_set(corpus, 3, seed=11)
    assert sample_support_set(corpus, 3, seed=11) == first
    assert sample_support_set([list(tags) for tags in corpus], 3, seed=11) == first
    others = {tuple(sample_support_set(corpus, 3, seed=seed)) for seed in range(12, 17)}
    assert len(others | {tuple(first)}) >= 4


def test_mentions_not_tokens_are_counted():
    # one 3-token PER mention is one mention: K=2 needs both sentences
    tags = [["B-PER", "I-PER", "I-PER"], ["O", "B-PER", "O"]]
    assert sample_support_set(tags, 2) == [0, 1]
    # two adjacent entities are two mentions: that sentence alone is 2-shot
    adjacent = [["O"], ["B-PER", "B-PER"]]
    assert sample_support_set(adjacent, 2) == [1]


@pytest.mark.parametrize(
    "tags",
    [
        [["S-PER", "O"], ["B-PER", "E-PER"], ["U-LOC"], ["O", "S-LOC"]],  # BIOES and BILOU letters
        [["I-PER", "O"], ["I-PER", "I-PER"], ["I-LOC"], ["O", "I-LOC"]],  # IO: I-PER I-PER is one
    ],
)
def test_any_scheme(tags):
    assert count_mentions(tags) == {"PER": 2, "LOC": 2}
    assert sample_support_set(tags, 2) == [0, 1, 2, 3]


def test_indices_follow_the_original_order():
    corpus = synthetic_corpus(3)
    indices = sample_support_set(corpus, 4, seed=5)
    assert len(indices) > 1 and indices == sorted(indices)


def test_count_mentions():
    assert count_mentions([["B-PER", "I-PER", "O", "B-LOC"], ["O"], ["B-PER"]]) == {"PER": 2, "LOC": 1}
    assert list(count_mentions([["B-ORG"], ["B-PER", "B-ORG"]])) == ["ORG", "PER"]


@pytest.mark.parametrize("k", [0, -2, 1.5, True, "5"])
def test_bad_k(k):
    with pytest.raises(SamplingError, match=rf"k={k!r} must be an int >= 1.*k=5"):
        sample_support_set([["B-PER"]], k)


def test_no_entities_is_an_error():
    with pytest.raises(SamplingError, match="the 2 sentences hold no entity"):
        sample_support_set([["O", "O"], ["O"]], 1)
    with pytest.raises(SamplingError, match="the 0 sentences hold no entity"):
        sample_support_set([], 1)


def test_type_with_too_few_mentions_names_type_count_and_fix():
    tags = [["B-PER"], ["B-PER", "B-LOC"], ["B-PER"], ["B-MISC", "I-MISC"], ["B-MISC"]]
    with pytest.raises(SamplingError, match=r"'LOC' has 1, 'MISC' has 2; use k<=1"):
        sample_support_set(tags, 3)


def test_invalid_tags_and_flat_input():
    with pytest.raises(InvalidTagError, match=r"sentence 1: invalid tag 'B_PER' at position 1"):
        sample_support_set([["O"], ["O", "B_PER"]], 1)
    with pytest.raises(SamplingError, match="flat sequence starting"):
        sample_support_set(["B-PER", "O"], 1)


@pytest.mark.parametrize(("name", "k"), [("wnut17/train.conll", 5), ("crossner/ai/train.txt", 2)])
def test_real_file(shared_data, name, k):
    tags = [row["ner_tags"] for row in read_column_file(shared_data / "ner" / name)]
    indices = sample_support_set(tags, k, seed=0)
    assert_k_shot_and_minimal(tags, indices, k)
    assert len(indices) < len(tags) // 4
    assert sample_support_set(tags, k, seed=0) == indices
    assert sample_support_set(tags, k, seed=1) != indices


def support_log(caplog) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "label_semantics.sampling" and record.levelno == logging.INFO
    ]


@pytest.mark.parametrize("seed", range(6))
def test_rarest_type_first_and_types_at_k_are_skipped(caplog, seed):
    # 'ZZ' (1 mention) is visited before 'AA' (4): its one sentence also gives 'AA' its mention, so the
    # greedy pass takes one sentence and never visits an 'AA'-only one. Visiting 'AA' first (name order),
    # or not skipping a type already at k, takes an 'AA'-only sentence first, which pruning then drops:
    # the result is the same, only the logged size before pruning shows it.
    tags = [["B-AA"], ["B-AA"], ["B-AA"], ["B-AA", "B-ZZ"]]
    with caplog.at_level(logging.INFO, logger="label_semantics.sampling"):
        assert sample_support_set(tags, 1, seed=seed) == [3]
    assert support_log(caplog) == [
        f"1-shot support set (seed {seed}): 1 sentences (1 before pruning), mentions {{'AA': 1, 'ZZ': 1}}"
    ]


def test_a_type_stops_at_k(caplog):
    # three one-mention sentences, k=2: the greedy pass stops at the second, nothing is pruned
    with caplog.at_level(logging.INFO, logger="label_semantics.sampling"):
        assert len(sample_support_set([["B-PER"], ["B-PER"], ["B-PER"]], 2, seed=0)) == 2
    assert support_log(caplog) == [
        "2-shot support set (seed 0): 2 sentences (2 before pruning), mentions {'PER': 2}"
    ]


@pytest.mark.parametrize(("k", "seed"), [(3, 0), (3, 1), (5, 4)])
def test_log_states_the_set_that_is_returned(caplog, k, seed):
    corpus = synthetic_corpus(7)
    with caplog.at_level(logging.INFO, logger="label_semantics.sampling"):
        indices = sample_support_set(corpus, k, seed=seed)
    (message,) = support_log(caplog)
    found = re.fullmatch(
        r"(\d+)-shot support set \(seed (\d+)\): (\d+) sentences \((\d+) before pruning\), mentions (\{.*\})",
        message,
    )
    assert found, message
    assert (int(found[1]), int(found[2]), int(found[3])) == (k, seed, len(indices))
    assert int(found[4]) >= len(indices)
    assert ast.literal_eval(found[5]) == dict(support_counts(corpus, indices))


def test_pruning_is_logged(caplog):
    # measured on this corpus (seed 0): the greedy pass takes 8 sentences, pruning drops one
    with caplog.at_level(logging.INFO, logger="label_semantics.sampling"):
        indices = sample_support_set(synthetic_corpus(7), 3, seed=0)
    assert len(indices) == 7
    assert "7 sentences (8 before pruning)" in support_log(caplog)[0]


def test_default_seed_is_0(caplog):
    corpus = synthetic_corpus(7)
    assert sample_support_set(corpus, 3, seed=0) != sample_support_set(corpus, 3, seed=1)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="label_semantics.sampling"):
        assert sample_support_set(corpus, 3) == sample_support_set(corpus, 3, seed=0)
    assert all("(seed 0)" in message for message in support_log(caplog))


def test_flat_input_message_shows_the_first_four_tags():
    with pytest.raises(SamplingError, match=re.escape("starting ['O', 'B-PER', 'I-PER', 'O']; pass e.g.")):
        sample_support_set(["O", "B-PER", "I-PER", "O", "B-LOC"], 1)
    # a single string is one flat sentence, shown whole, not split into characters
    with pytest.raises(SamplingError, match=re.escape("starting ['B-PER']; pass e.g.")):
        sample_support_set("B-PER", 1)
