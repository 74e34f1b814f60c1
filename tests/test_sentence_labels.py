"""Sentence labels from NER tags, per-type gold words, and tags from per-type word scores."""

from __future__ import annotations

import pytest

from label_semantics.sentence_labels import (
    SentenceLabelError,
    entity_word_labels,
    multi_hot,
    sentence_labels_from_tags,
    tags_from_word_scores,
)

TYPES = ["PER", "LOC", "ORG", "MISC"]


def test_sentence_labels_are_multi_label_and_read_from_the_tags():
    tags = [
        ["B-ORG", "O", "B-MISC", "O", "O", "O", "B-MISC", "O", "O"],  # CoNLL-2003 train sentence 1
        ["B-PER", "I-PER"],
        ["O", "O", "O"],
        ["B-LOC", "O", "B-PER", "O", "B-LOC"],  # a type twice is one label
    ]
    assert sentence_labels_from_tags(tags, TYPES) == [["ORG", "MISC"], ["PER"], [], ["PER", "LOC"]]
    assert multi_hot(sentence_labels_from_tags(tags, TYPES), TYPES) == [
        [0.0, 0.0, 1.0, 1.0],
        [1.0, 0.0, 0.0, 0.0],
        [0.0, 0.0, 0.0, 0.0],  # no entity: all zero
        [1.0, 1.0, 0.0, 0.0],
    ]
    # without types: every type of the corpus, in order of first appearance (ORG, MISC, PER, LOC)
    assert sentence_labels_from_tags(tags) == [["ORG", "MISC"], ["PER"], [], ["PER", "LOC"]]


def test_sentence_labels_in_other_schemes_and_lenient_iob1():
    assert sentence_labels_from_tags([["S-PER", "O", "B-LOC", "E-LOC"]], TYPES) == [["PER", "LOC"]]
    assert sentence_labels_from_tags([["I-ORG", "O"]], TYPES) == [["ORG"]]  # IOB1: an I- opens an entity


def test_sentence_labels_reject_a_type_outside_the_label_set():
    with pytest.raises(SentenceLabelError, match=r"\['MISC'\] that are not among types"):
        sentence_labels_from_tags([["B-PER", "B-MISC"]], ["PER", "LOC"])
    with pytest.raises(SentenceLabelError, match="'GPE', not among types"):
        multi_hot([["GPE"]], TYPES)


def test_entity_word_labels_per_type():
    tags = ["B-PER", "I-PER", "O", "B-LOC", "B-PER"]
    assert entity_word_labels(tags, "PER") == [1, 1, 0, 0, 1]
    assert entity_word_labels(tags, "LOC") == [0, 0, 0, 1, 0]
    assert entity_word_labels(tags, "ORG") == [0, 0, 0, 0, 0]


def test_tags_from_word_scores_group_adjacent_words_and_pick_the_best_type():
    scores = {"PER": [0.9, 0.8, 0.1, 0.6, 0.7], "LOC": [0.2, 0.95, 0.1, 0.1, 0.55]}
    thresholds = {"PER": 0.5, "LOC": 0.5}
    # word 1: LOC 0.95 beats PER 0.8; word 4: PER 0.7 beats LOC 0.55; words 3-4 are one PER entity
    assert tags_from_word_scores(scores, thresholds) == ["B-PER", "B-LOC", "O", "B-PER", "I-PER"]
    # a type's own threshold decides: LOC at 0.99 is never chosen, so words 0-1 are one PER entity
    assert tags_from_word_scores(scores, {"PER": 0.5, "LOC": 0.99}) == [
        "B-PER",
        "I-PER",
        "O",
        "B-PER",
        "I-PER",
    ]
    assert tags_from_word_scores(scores, thresholds, scheme="BIOES") == [
        "S-PER",
        "S-LOC",
        "O",
        "B-PER",
        "E-PER",
    ]
    assert tags_from_word_scores({"PER": []}, {"PER": 0.5}) == []


def test_tags_from_word_scores_reject_bad_input():
    with pytest.raises(SentenceLabelError, match=r"no threshold for types \['LOC'\]"):
        tags_from_word_scores({"PER": [0.1], "LOC": [0.2]}, {"PER": 0.5})
    with pytest.raises(SentenceLabelError, match="differ in length"):
        tags_from_word_scores({"PER": [0.1], "LOC": [0.2, 0.3]}, {"PER": 0.5, "LOC": 0.5})
