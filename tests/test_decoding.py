"""Transition masks, Viterbi and argmax decoding, spans."""

from __future__ import annotations

import itertools

import pytest
import torch

from label_semantics import decoding
from label_semantics.decoding import (
    allowed_transitions,
    argmax_decode,
    scheme_from_labels,
    tags_to_spans,
    viterbi_decode,
)
from label_semantics.verbalizer import InvalidTagError, labels_from_types

TYPES = ["PER", "LOC"]


def valid(tags: list[str], scheme: str) -> bool:
    """An oracle written from the scheme definitions, independent of the module's automaton."""
    padded = ["O", *tags, "O"]
    for previous, tag in itertools.pairwise(padded):
        p_prefix, _, p_type = previous.partition("-")
        prefix, _, entity_type = tag.partition("-")
        same = p_type == entity_type and previous != "O"
        if scheme == "IOB2" and prefix == "I" and not same:
            return False
        if scheme == "IOB1" and prefix == "B" and not same:
            return False
        if scheme in ("BIOES", "BILOU"):
            opens = p_prefix == "B" or p_prefix == "I"
            continues = prefix in ("I", "E", "L")
            if opens != continues or (opens and not same):
                return False
    return True


@pytest.mark.parametrize(
    ("labels", "scheme"),
    [
        (["O", "B-PER", "I-PER"], "IOB2"),
        (["O", "I-PER"], "IO"),
        (["O", "B-PER", "I-PER", "E-PER", "S-PER"], "BIOES"),
        (["O", "U-PER", "L-PER", "B-PER"], "BIOES"),
        (["O"], "IO"),
    ],
)
def test_scheme_from_labels(labels, scheme):
    assert scheme_from_labels(labels) == scheme


def test_allowed_transitions_iob2():
    labels = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    transitions, start, end = allowed_transitions(labels, "IOB2")
    assert transitions.dtype == torch.bool and transitions.shape == (5, 5)
    expected = torch.tensor(
        [
            # O  B-P  I-P  B-L  I-L      (next)
            [1, 1, 0, 1, 0],  # O
            [1, 1, 1, 1, 0],  # B-PER
            [1, 1, 1, 1, 0],  # I-PER
            [1, 1, 0, 1, 1],  # B-LOC
            [1, 1, 0, 1, 1],  # I-LOC
        ],
        dtype=torch.bool,
    )
    assert torch.equal(transitions, expected)
    assert start.tolist() == [True, True, False, True, False]
    assert end.tolist() == [True] * 5


def test_allowed_transitions_iob1():
    labels = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    transitions, start, end = allowed_transitions(labels, "IOB1")
    expected = torch.tensor(
        [
            [1, 0, 1, 0, 1],  # O: no B- after it
            [1, 1, 1, 0, 1],  # B-PER: B-PER may follow, B-LOC may not
            [1, 1, 1, 0, 1],
            [1, 0, 1, 1, 1],
            [1, 0, 1, 1, 1],
        ],
        dtype=torch.bool,
    )
    assert torch.equal(transitions, expected)
    assert start.tolist() == [True, False, True, False, True]
    assert end.all()


def test_allowed_transitions_bioes():
    labels = ["O", "B-PER", "I-PER", "E-PER", "S-PER", "B-LOC"]
    transitions, start, end = allowed_transitions(labels)
    expected = torch.tensor(
        [
            # O  B-P I-P E-P S-P B-L
            [1, 1, 0, 0, 1, 1],  # O
            [0, 0, 1, 1, 0, 0],  # B-PER: only I-PER or E-PER
            [0, 0, 1, 1, 0, 0],  # I-PER
            [1, 1, 0, 0, 1, 1],  # E-PER: like O
            [1, 1, 0, 0, 1, 1],  # S-PER
            [0, 0, 0, 0, 0, 0],  # B-LOC: its I-/E- are not in the label set
        ],
        dtype=torch.bool,
    )
    assert torch.equal(transitions, expected)
    assert start.tolist() == [True, True, False, False, True, True]
    assert end.tolist() == [True, False, False, True, True, False]


def test_allowed_transitions_bilou_equals_bioes():
    bioes = allowed_transitions(labels_from_types(TYPES, "BIOES"), "BIOES")
    bilou = allowed_transitions(labels_from_types(TYPES, "BILOU"), "BILOU")
    for a, b in zip(bioes, bilou, strict=True):
        assert torch.equal(a, b)


def test_allowed_transitions_io_allows_everything():
    transitions, start, end = allowed_transitions(["O", "I-PER", "I-LOC"])
    assert transitions.all() and start.all() and end.all()


def test_allowed_transitions_rejects_labels_foreign_to_the_scheme():
    with pytest.raises(InvalidTagError, match=r"'E-PER'.*IOB2"):
        allowed_transitions(["O", "B-PER", "E-PER"], "IOB2")


@pytest.mark.parametrize("scheme", ["IOB2", "IOB1", "BIOES", "BILOU", "IO"])
def test_viterbi_never_emits_an_invalid_sequence(scheme):
    labels = labels_from_types(["PER", "LOC", "ORG"], scheme)
    generator = torch.Generator().manual_seed(0)
    invalid_argmax = 0
    for length in [1, 2, 3, 5, 8, 13] * 10:
        scores = torch.randn(length, len(labels), generator=generator).mul(3).log_softmax(-1)
        path = viterbi_decode(scores, labels, scheme)
        assert len(path) == length
        assert valid([labels[i] for i in path], scheme), [labels[i] for i in path]
        invalid_argmax += not valid([labels[i] for i in argmax_decode(scores)], scheme)
    if scheme != "IO":
        assert invalid_argmax > 0  # the random scores do exercise the constraints


@pytest.mark.parametrize("scheme", ["IOB2", "IOB1", "BIOES", "IO"])
def test_viterbi_equals_argmax_when_argmax_is_valid(scheme):
    labels = labels_from_types(["PER", "LOC"], scheme)
    generator = torch.Generator().manual_seed(1)
    checked = 0
    for _ in range(400):
        scores = torch.randn(
            int(torch.randint(1, 6, (1,), generator=generator)), len(labels), generator=generator
        )
        scores = scores.log_softmax(-1)
        greedy = argmax_decode(scores)
        if valid([labels[i] for i in greedy], scheme):
            assert viterbi_decode(scores, labels, scheme) == greedy
            checked += 1
    assert checked >= 20


def test_viterbi_finds_the_best_valid_sequence_by_brute_force():
    labels = labels_from_types(["PER", "LOC"], "BIOES")
    generator = torch.Generator().manual_seed(2)
    for length in (1, 2, 3, 4):
        scores = torch.randn(length, len(labels), generator=generator).log_softmax(-1)
        candidates = [
            path
            for path in itertools.product(range(len(labels)), repeat=length)
            if valid([labels[i] for i in path], "BIOES")
        ]
        best = max(candidates, key=lambda path: sum(scores[t, i].item() for t, i in enumerate(path)))
        assert viterbi_decode(scores, labels) == list(best)


def test_viterbi_repairs_a_stray_inside_tag():
    labels = ["O", "B-PER", "I-PER"]
    scores = torch.tensor([[0.0, -2.0, -0.1], [-3.0, -2.0, -0.1]])
    assert argmax_decode(scores) == [0, 2]
    assert viterbi_decode(scores, labels) == [0, 1]


def test_viterbi_tolerates_minus_infinity_scores():
    labels = ["O", "B-PER", "I-PER"]
    scores = torch.tensor([[float("-inf"), 0.0, float("-inf")], [float("-inf"), float("-inf"), 0.0]])
    assert viterbi_decode(scores, labels) == [1, 2]


def test_viterbi_empty_sentence_and_dtype():
    labels = ["O", "B-PER", "I-PER"]
    assert viterbi_decode(torch.zeros(0, 3), labels) == []
    scores = torch.tensor([[-1.0, -0.5, -0.1]], dtype=torch.float16)
    assert viterbi_decode(scores, labels) == [1]


@pytest.mark.parametrize(
    ("scores", "labels", "message"),
    [
        (torch.zeros(2, 2, 3), ["O", "B-PER", "I-PER"], r"\[T, L\].*\(2, 2, 3\)"),
        (torch.zeros(2, 4), ["O", "B-PER", "I-PER"], "4 columns but 3 labels"),
        (torch.full((1, 2), float("nan")), ["O", "B-PER"], "NaN"),
        (torch.zeros(1, 2), ["B-PER", "E-PER"], r"no valid BIOES sequence of length 1.*labels_from_types"),
    ],
)
def test_viterbi_rejects_bad_input(scores, labels, message):
    with pytest.raises(ValueError, match=message):
        viterbi_decode(scores, labels)


def test_argmax_decode():
    assert argmax_decode(torch.tensor([[0.1, 0.9], [0.8, 0.2]])) == [1, 0]
    with pytest.raises(ValueError, match=r"\[T, L\]"):
        argmax_decode(torch.zeros(3))


def test_tags_to_spans_is_the_verbalizer_function():
    assert decoding.tags_to_spans(["B-PER", "E-PER", "O", "U-LOC"]) == [("PER", 0, 2), ("LOC", 3, 4)]
    assert tags_to_spans(["O", "I-PER", "I-PER"]) == [("PER", 1, 3)]
