"""Transition masks, Viterbi and argmax decoding, spans."""

from __future__ import annotations

import dataclasses
import itertools

import pytest
import torch

from label_semantics import decoding, tag_structure
from label_semantics.decoding import (
    TagStructure,
    allowed_transitions,
    argmax_decode,
    pad_sentences,
    scheme_from_labels,
    tags_to_spans,
    viterbi_decode,
    viterbi_decode_batch,
)
from label_semantics.verbalizer import (
    InvalidTagError,
    SchemeError,
    is_valid_transition,
    labels_from_types,
    normalize_scheme,
)

TYPES = ["PER", "LOC"]


@pytest.fixture(autouse=True)
def _fresh_structure_cache():
    """Every test builds its `TagStructure`s anew: one cached by an earlier test would hide a change to how a
    structure is built (mutation testing forks every run from a process whose cache is already full)."""
    tag_structure._cached_structure.cache_clear()
    yield


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


# --- The O(T * L) decoder: TagStructure, batched Viterbi, learned collapsed transitions ---------------

CLASS = {"O": 0, "B": 1, "I": 2, "E": 3, "S": 4, "L": 3, "U": 4}
SCHEMES = ["IO", "IOB1", "IOB2", "BIOES", "BILOU"]
# How each way of decoding is forced: decoding._DENSE_MAX_CELLS and decoding._ARGMAX_SHORTCUT. "dense" and
# "collapsed" run the dynamic programme on every sentence; "shortcut" skips it where the argmax is allowed.
PATHS = {"dense": (10**12, False), "collapsed": (0, False), "shortcut": (0, True)}


def use_path(monkeypatch, path: str) -> None:
    cells, shortcut = PATHS[path]
    monkeypatch.setattr(decoding, "_DENSE_MAX_CELLS", cells)
    monkeypatch.setattr(decoding, "_ARGMAX_SHORTCUT", shortcut)


def path_score(path, labels, scores, transitions=None, start=None, end=None) -> float:
    """The score of one label path, written from the definition of collapsed transitions."""
    total = sum(float(scores[t, i]) for t, i in enumerate(path))
    if transitions is None:
        return total
    tags = [labels[i].partition("-") for i in path]
    total += float(start[CLASS[tags[0][0]]]) + float(end[CLASS[tags[-1][0]]])
    for (p_prefix, _, p_type), (prefix, _, entity_type) in itertools.pairwise(tags):
        same = int(p_prefix != "O" and prefix != "O" and p_type == entity_type)
        total += float(transitions[CLASS[p_prefix], CLASS[prefix], same])
    return total


def brute_force(labels, scheme, scores, transitions=None, start=None, end=None):
    """The best valid path and its score by enumeration, or None when no path has a finite score."""
    best, best_score = None, float("-inf")
    for path in itertools.product(range(len(labels)), repeat=scores.shape[0]):
        if valid([labels[i] for i in path], scheme):
            score = path_score(path, labels, scores.clamp(min=-1e30), transitions, start, end)
            if score > best_score:
                best, best_score = list(path), score
    return best, best_score


def random_label_set(full: list[str], generator: torch.Generator) -> list[str]:
    """A random subset of ``full`` in random order, sometimes with a repeated label."""
    order = torch.randperm(len(full), generator=generator).tolist()
    labels = [full[i] for i in order[: int(torch.randint(1, len(full) + 1, (1,), generator=generator))]]
    if torch.rand(1, generator=generator) < 0.3:
        labels.append(labels[0])
    return labels


def random_transitions(generator: torch.Generator, forbid: float = 0.0):
    transitions, start, end = (torch.randn(*shape, generator=generator) for shape in ((5, 5, 2), (5,), (5,)))
    if forbid:
        for tensor in (transitions, start, end):
            tensor[torch.rand(tensor.shape, generator=generator) < forbid] = float("-inf")
    return transitions, start, end


@pytest.mark.parametrize("scheme", SCHEMES)
def test_structure_masks_equal_is_valid_transition(scheme):
    generator = torch.Generator().manual_seed(3)
    full = labels_from_types(["PER", "LOC", "ORG"], scheme)
    for _ in range(40):
        labels = random_label_set(full, generator)
        transitions, start, end = allowed_transitions(labels, scheme)
        for i, previous in enumerate(labels):
            assert start[i] == is_valid_transition(None, previous, scheme)
            assert end[i] == is_valid_transition(previous, None, scheme)
            for j, tag in enumerate(labels):
                assert transitions[i, j] == is_valid_transition(previous, tag, scheme), (previous, tag)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("learned", ["none", "random", "with -inf"])
@pytest.mark.parametrize("scheme", SCHEMES)
def test_decoder_equals_brute_force(scheme, learned, path, monkeypatch):
    use_path(monkeypatch, path)
    generator = torch.Generator().manual_seed(4)
    full = labels_from_types(["PER", "LOC"], scheme)
    checked = errors = 0
    for trial in range(40):
        labels = full if trial % 4 == 0 else random_label_set(full, generator)
        length = int(torch.randint(1, 5, (1,), generator=generator))
        scores = torch.randn(length, len(labels), generator=generator)
        if trial % 3 == 0:
            scores[torch.rand(scores.shape, generator=generator) < 0.25] = float("-inf")
        learned_scores = {}
        if learned != "none":
            names = ("transitions", "start_transitions", "end_transitions")
            forbid = 0.2 if learned == "with -inf" else 0.0
            learned_scores = dict(zip(names, random_transitions(generator, forbid), strict=True))
        best, best_score = brute_force(labels, scheme, scores, *learned_scores.values())
        structure = TagStructure.from_labels(labels, scheme)
        if best_score == float("-inf"):
            with pytest.raises(ValueError, match=f"no valid {normalize_scheme(scheme)} sequence"):
                viterbi_decode_batch(scores.unsqueeze(0), structure, **learned_scores)
            errors += 1
            continue
        decoded = viterbi_decode_batch(scores.unsqueeze(0), structure, **learned_scores)[0]
        assert path_score(
            decoded, labels, scores.clamp(min=-1e30), *learned_scores.values()
        ) == pytest.approx(best_score, rel=1e-5, abs=1e-4)
        if best_score > -1e29:  # through a -inf score (clamped to -1e30) paths tie
            assert decoded == best
        checked += 1
    assert checked >= 20 and (errors > 0 or learned == "none" and scheme == "IO") or checked >= 30


@pytest.mark.parametrize("scheme", SCHEMES)
def test_collapsed_and_dense_steps_break_ties_alike(scheme, monkeypatch):
    """Integer scores tie often; both steps then pick the smallest predecessor id, like the old decoder."""
    generator = torch.Generator().manual_seed(5)
    labels = labels_from_types(["PER", "LOC", "ORG"], scheme)
    scores = torch.randint(-2, 1, (64, 7, len(labels)), generator=generator).float()
    transitions = torch.randint(-1, 1, (5, 5, 2), generator=generator).float()
    structure = TagStructure.from_labels(labels, scheme)
    results = []
    for path in PATHS:
        use_path(monkeypatch, path)
        results.append(viterbi_decode_batch(scores, structure, transitions=transitions))
        results.append(viterbi_decode_batch(scores, structure))
    assert results[0] == results[2] == results[4] and results[1] == results[3] == results[5]
    for sentence in range(4):  # and the hard-constraint result is what the one-sentence API gives
        assert results[1][sentence] == viterbi_decode(scores[sentence], labels, scheme)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("scheme", ["IOB2", "BIOES"])
def test_batched_equals_per_sentence(scheme, path, monkeypatch):
    use_path(monkeypatch, path)
    generator = torch.Generator().manual_seed(6)
    labels = labels_from_types([f"T{i}" for i in range(6)], scheme)
    structure = TagStructure.from_labels(labels, scheme)
    sentences = [torch.randn(n, len(labels), generator=generator).log_softmax(-1) for n in (3, 0, 9, 1, 5)]
    scores, mask = pad_sentences(sentences)
    assert scores.shape == (5, 9, len(labels)) and mask.sum(1).tolist() == [3, 0, 9, 1, 5]
    transitions = random_transitions(generator)
    for learned in (
        {},
        dict(zip(("transitions", "start_transitions", "end_transitions"), transitions, strict=True)),
    ):
        batched = viterbi_decode_batch(scores, structure, mask, **learned)
        one_by_one = [viterbi_decode_batch(s.unsqueeze(0), structure, **learned)[0] for s in sentences]
        assert batched == one_by_one
    assert viterbi_decode_batch(scores, structure, mask) == [viterbi_decode(s, labels) for s in sentences]


def test_structure_is_cached_and_built_in_linear_time(monkeypatch):
    labels = labels_from_types([f"T{i}" for i in range(300)], "BIOES")
    first = TagStructure.from_labels(labels)
    assert TagStructure.from_labels(tuple(labels), None) is first
    assert first.scheme == "BIOES" and first.num_types == 300 and first.num_labels == 1201
    assert first.candidate_cells.shape == (5, 1201)
    calls = []
    original = tag_structure.is_valid_transition
    monkeypatch.setattr(tag_structure, "is_valid_transition", lambda *a: calls.append(a) or original(*a))
    fresh = labels_from_types([f"U{i}" for i in range(300)], "BIOES")
    viterbi_decode(torch.randn(30, len(fresh)).log_softmax(-1), fresh)
    assert len(calls) <= len(fresh) + 100  # one check per label plus the abstract rules, not L * L
    structure = TagStructure.from_labels(fresh)
    assert structure.to("cpu") is structure


@pytest.mark.parametrize("scheme", SCHEMES)
def test_argmax_shortcut_equals_the_programme_and_skips_only_allowed_sentences(scheme, monkeypatch):
    """Sharp scores, as a trained model gives: most argmax sequences are allowed and skip the programme, the
    rest (a stray inside tag, a tie, an unclosed BIOES entity) go through it; the result is the programme's."""
    generator = torch.Generator().manual_seed(7)
    labels = labels_from_types(["PER", "LOC", "ORG"], scheme)
    structure = TagStructure.from_labels(labels, scheme)
    lengths = [int(n) for n in torch.randint(0, 9, (48,), generator=generator)]
    sentences = []
    for n in lengths:
        chosen = torch.randint(0, len(labels), (n,), generator=generator)
        if torch.rand(1, generator=generator) < 0.5:  # all O: an allowed argmax in every scheme
            chosen = torch.zeros_like(chosen)
        sharp = torch.randn(n, len(labels), generator=generator) - 6.0
        sharp[torch.arange(n), chosen] = 0.0
        if n and torch.rand(1, generator=generator) < 0.15:
            sharp[0, (chosen[0] + 1) % len(labels)] = 0.0  # two best labels tie at the first token
        sentences.append(sharp.log_softmax(-1) if n else None)
    scores, mask = pad_sentences(sentences, len(labels))
    decoded_rows = []
    programme = decoding._viterbi_rows
    monkeypatch.setattr(decoding, "_viterbi_rows", lambda *a: decoded_rows.extend(a[6]) or programme(*a))
    for learned in ({}, {"transitions": torch.zeros(5, 5, 2)}):
        use_path(monkeypatch, "collapsed")
        reference = viterbi_decode_batch(scores, structure, mask, **learned)
        decoded_rows.clear()
        use_path(monkeypatch, "shortcut")
        assert viterbi_decode_batch(scores, structure, mask, **learned) == reference
        if learned:  # learned transitions (here zero) never take the shortcut
            assert decoded_rows == list(range(len(lengths)))
            continue
        argmax = [[] if s is None else s.argmax(-1).tolist() for s in sentences]
        allowed = [
            valid([labels[i] for i in ids], scheme)
            and (s is None or (s.topk(2).values.diff(dim=-1) < 0).all())
            for ids, s in zip(argmax, sentences, strict=True)
        ]
        assert decoded_rows == [b for b, ok in enumerate(allowed) if not ok]
        assert 0 < len(decoded_rows) < len(lengths) - 10
        assert all(reference[b] == argmax[b] for b, ok in enumerate(allowed) if ok)
        # the list-of-sentences entry point: the same paths, and only the disallowed sentences, in one block,
        # named by their position in the input
        decoded_rows.clear()
        assert decoding.viterbi_decode_sentences(sentences, structure) == reference
        by_length = sorted((b for b, ok in enumerate(allowed) if not ok), key=lambda b: lengths[b])
        assert decoded_rows == by_length


def record_padded_shapes(monkeypatch) -> list[tuple[int, int, int]]:
    """The ``[B, T, L]`` shape of every block `decoding.pad_sentences` pads from now on, in order."""
    shapes = []
    original = decoding.pad_sentences

    def pad(block, num_labels=None):
        padded = original(block, num_labels)
        shapes.append(tuple(padded[0].shape))
        return padded

    monkeypatch.setattr(decoding, "pad_sentences", pad)
    return shapes


@pytest.mark.parametrize("path", PATHS)
def test_decode_sentences_blocks_and_names_the_sentence(path, monkeypatch):
    use_path(monkeypatch, path)
    monkeypatch.setattr(decoding, "_DECODE_CELLS", 3 * 9 * 5)  # 3 sentences of 9 tokens over 5 labels
    labels = labels_from_types(["PER", "LOC"], "IOB2")
    structure = TagStructure.from_labels(labels)
    generator = torch.Generator().manual_seed(8)
    sentences = [
        None if n is None else torch.randn(n, len(labels), generator=generator).log_softmax(-1)
        for n in (3, None, 9, 0, 1, 5, 9, 2, 7, 4)
    ]
    shapes = record_padded_shapes(monkeypatch)
    expected = [[] if s is None else viterbi_decode(s, labels) for s in sentences]
    shapes.clear()
    assert decoding.viterbi_decode_sentences(sentences, structure) == expected
    assert all(b * t * n <= 3 * 9 * 5 for b, t, n in shapes) and len(shapes) >= 3
    if path != "shortcut":  # every sentence once, in blocks of similar length
        assert sum(b for b, _, _ in shapes) == 9 and [t for _, t, _ in shapes] == sorted(
            t for _, t, _ in shapes
        )
    learned = dict(
        zip(("transitions", "start_transitions", "end_transitions"), random_transitions(generator))
    )
    assert decoding.viterbi_decode_sentences(sentences, structure, **learned) == [
        [] if s is None else viterbi_decode_batch(s.unsqueeze(0), structure, **learned)[0] for s in sentences
    ]
    inside_only = TagStructure.from_labels(["I-PER"], "IOB2")  # no IOB2 sequence can begin with I-PER
    with pytest.raises(ValueError, match=r"length 2 .*\(sentence 1 of the batch\)"):
        decoding.viterbi_decode_sentences([None, torch.zeros(2, 1)], inside_only)


def test_decoding_a_thousand_types_is_not_quadratic():
    """One 30-word sentence over 2001 BIOES... IOB2 labels; the old decoder took about a minute."""
    labels = labels_from_types([f"T{i}" for i in range(1000)], "IOB2")
    structure = TagStructure.from_labels(labels)
    scores = torch.randn(4, 30, len(labels)).log_softmax(-1)
    paths = viterbi_decode_batch(scores, structure)
    assert all(valid([labels[i] for i in p], "IOB2") for p in paths)


def test_batched_decoder_rejects_bad_input():
    structure = TagStructure.from_labels(["O", "B-PER", "I-PER"])
    with pytest.raises(ValueError, match=r"\[B, T, L\] tensor with L = 3.*\(2, 3\)"):
        viterbi_decode_batch(torch.zeros(2, 3), structure)
    with pytest.raises(ValueError, match="TagStructure.from_labels"):
        viterbi_decode_batch(torch.zeros(1, 2, 3), ["O", "B-PER", "I-PER"])
    with pytest.raises(ValueError, match="left-aligned"):
        viterbi_decode_batch(torch.zeros(1, 3, 3), structure, torch.tensor([[True, False, True]]))
    with pytest.raises(ValueError, match=r"mask must be a \[B, T\]"):
        viterbi_decode_batch(torch.zeros(1, 3, 3), structure, torch.ones(1, 2, dtype=torch.bool))
    scores = torch.zeros(2, 2, 3)
    scores[1, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        viterbi_decode_batch(scores, structure)
    for bad, name in ((torch.zeros(3, 3), "transitions"), (torch.zeros(4), "start_transitions")):
        keyword = "transitions" if name == "transitions" else "start_transitions"
        with pytest.raises(ValueError, match=rf"{name} must be a tensor of shape \[.*got \({bad.shape[0]}"):
            viterbi_decode_batch(torch.zeros(1, 2, 3), structure, **{keyword: bad})
    with pytest.raises(ValueError, match="NaN or \\+inf"):
        viterbi_decode_batch(torch.zeros(1, 2, 3), structure, end_transitions=torch.full((5,), float("inf")))


def test_no_valid_sequence_names_the_sentence_of_the_batch():
    structure = TagStructure.from_labels(["O", "B-PER", "I-PER"])
    no_o, no_b = torch.zeros(5), torch.zeros(5)
    no_o[0] = no_b[1] = float(
        "-inf"
    )  # never end with O, never start with B: O B-PER is the shortest sentence
    scores = torch.zeros(3, 2, 3)
    mask = torch.tensor([[True, True], [True, False], [False, False]])
    paths = viterbi_decode_batch(scores, structure, mask)
    assert paths[2] == [] and len(paths[1]) == 1
    assert viterbi_decode_batch(scores[:1], structure, start_transitions=no_b, end_transitions=no_o) == [
        [0, 1]
    ]
    with pytest.raises(
        ValueError, match=r"no valid IOB2 sequence of length 1 exists under the learned .*sentence 1"
    ):
        viterbi_decode_batch(scores, structure, mask, start_transitions=no_b, end_transitions=no_o)
    many = labels_from_types([f"T{i}" for i in range(20)], "BIOES")[1:]
    with pytest.raises(ValueError, match=r"\.\.\.\] \(80 labels\)"):
        viterbi_decode(torch.zeros(1, 80), [label for label in many if label[0] in "BI"] * 2, "BIOES")


# --------------------------------------------------------------------------------------------------------------
# Mutation testing (README, "Mutation score"): the helpers' exact results and messages.


def test_short_label_lists():
    assert decoding._short(["O"] * 12) == repr(["O"] * 12)
    labels = [f"L{i}" for i in range(13)]
    assert decoding._short(labels) == "[" + ", ".join(map(repr, labels[:12])) + ", ...] (13 labels)"
    assert decoding._short(labels[:3], limit=2) == "['L0', 'L1', ...] (3 labels)"


def test_check_scores_messages():
    hint = (
        "; decode a batch with viterbi_decode_batch(scores, TagStructure.from_labels(labels), mask), or one "
        "sentence at a time, e.g. viterbi_decode(logits[0].log_softmax(-1), labels)"
    )
    with pytest.raises(ValueError) as info:
        argmax_decode([[0.0, 1.0]])
    assert str(info.value) == "scores must be a [T, L] tensor for one sentence, got list" + hint
    with pytest.raises(ValueError) as info:
        viterbi_decode(torch.zeros(1, 2, 3), ["O", "B-PER", "I-PER"])
    assert str(info.value) == "scores must be a [T, L] tensor for one sentence, got (1, 2, 3)" + hint
    with pytest.raises(ValueError) as info:
        viterbi_decode(torch.zeros(2, 2), ["O", "B-PER", "I-PER"])
    assert str(info.value) == (
        "scores have 2 columns but 3 labels were given; pass the labels in model order, e.g. "
        "[model.config.id2label[i] for i in range(model.config.num_labels)]"
    )


def test_argmax_decode_reads_the_label_axis():
    scores = torch.tensor([[0.0, 5.0, 1.0], [3.0, 0.0, 1.0]])
    assert argmax_decode(scores) == [1, 0]


def test_viterbi_decode_nan_and_empty():
    labels = ["O", "B-PER", "I-PER"]
    assert viterbi_decode(torch.zeros(0, 3), labels) == []
    with pytest.raises(ValueError) as info:
        viterbi_decode(torch.tensor([[0.0, float("nan"), 0.0]]), labels)
    assert str(info.value) == "scores hold NaN; decode finite log-probabilities, e.g. logits.log_softmax(-1)"
    # a zero-column score matrix with tokens is not "empty": it has no labels to decode
    with pytest.raises(ValueError):
        viterbi_decode(torch.zeros(2, 0), [])


def test_pad_sentences_exact():
    a = torch.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=torch.float64)
    b = torch.tensor([[5.0, 6.0]], dtype=torch.float64)
    padded, mask = pad_sentences([None, a, b])
    assert padded.dtype == torch.float64 and padded.shape == (3, 2, 2)
    assert torch.equal(padded[0], torch.zeros(2, 2, dtype=torch.float64))
    assert torch.equal(padded[1], a) and torch.equal(
        padded[2], torch.tensor([[5.0, 6.0], [0.0, 0.0]], dtype=torch.float64)
    )
    assert mask.tolist() == [[False, False], [True, True], [True, False]]
    # the first real sentence sets the width, even after a None
    padded, mask = pad_sentences([b.float(), a.float()])
    assert padded.dtype == torch.float32 and padded.shape == (2, 2, 2)
    assert mask.tolist() == [[True, False], [True, True]]
    empty, mask = pad_sentences([None, None], num_labels=4)
    assert empty.shape == (2, 0, 4) and empty.dtype == torch.float32 and empty.device.type == "cpu"
    assert mask.shape == (2, 0) and mask.dtype == torch.bool
    assert pad_sentences([None])[0].shape == (1, 0, 0)
    assert pad_sentences([None], num_labels=None)[0].shape == (1, 0, 0)
    with pytest.raises(ValueError) as info:
        pad_sentences([torch.zeros(1, 3), torch.zeros(2, 2), torch.zeros(1, 4)])
    assert str(info.value) == "every sentence needs 3 label columns, got [2, 3, 4]"


# --------------------------------------------------------------------------------------------------------------
# Mutation testing, second round (issue 17): what the first measurement's survivors showed to be untested.


def test_structure_to_moves_every_tensor_and_keeps_the_copy():
    structure = TagStructure.from_labels(["O", "B-PER", "I-PER", "B-LOC", "I-LOC"])
    moved = structure.to("meta")
    assert moved is not structure
    assert structure.to(torch.device("meta")) is moved and moved.to("meta") is moved  # kept, not rebuilt
    assert (moved.labels, moved.scheme, moved.types) == (structure.labels, structure.scheme, structure.types)
    tensors = [
        f.name
        for f in dataclasses.fields(TagStructure)
        if isinstance(getattr(structure, f.name), torch.Tensor)
    ]
    assert len(tensors) == 10
    for name in tensors:
        original, copy = getattr(structure, name), getattr(moved, name)
        assert copy.device.type == "meta", name
        assert (copy.shape, copy.dtype) == (original.shape, original.dtype), name
        assert original.device.type == "cpu", name  # the cached CPU structure is left as it was


def test_tensors_stay_on_the_scores_device():
    """The meta device stands in for a GPU: each helper that runs on the scores' device leaves its tensors
    there (on a CPU-only machine a dropped ``device=`` is otherwise invisible). The whole decoder cannot run on
    meta, which holds no values (it checks for NaN and returns lists)."""
    meta = torch.device("meta")
    structure = TagStructure.from_labels(["O", "B-PER", "I-PER"]).to(meta)
    padded, mask = pad_sentences([torch.zeros(2, 3, device=meta), torch.zeros(1, 3, device=meta)])
    assert padded.device == meta and mask.device == meta and tuple(mask.shape) == (2, 2)
    assert decoding._check_batch(padded, structure, None).device == meta
    learned = (
        torch.zeros(5, 5, 2),
        torch.zeros(5),
        torch.zeros(5),
    )  # CPU parameters, e.g. a CRF not yet moved
    for tensor in decoding.expand_transitions(structure, *learned):
        assert tensor.device == meta
    transitions = decoding.expand_transitions(structure)[0]
    assert transitions.device == meta
    step = decoding._collapsed_step(
        torch.zeros(2, 3, device=meta), structure, structure.candidate_scores(transitions)
    )
    assert step.device == meta and tuple(step.shape) == (2, 3)
    single = TagStructure.from_labels(["O"]).to(meta)
    solved, ids = decoding._valid_argmax(
        torch.zeros(2, 2, 1, device=meta), torch.ones(2, 2, dtype=torch.bool, device=meta), single
    )
    assert solved.device == meta and ids.device == meta


def test_expand_transitions_dtype_and_forbidden_moves():
    structure = TagStructure.from_labels(["O", "B-PER", "I-PER"])
    hard = decoding.expand_transitions(structure, dtype=torch.float64)
    assert [t.dtype for t in hard] == [torch.float64] * 3
    masks = (structure.allowed, structure.start_allowed, structure.end_allowed)
    for tensor, mask in zip(hard, masks, strict=True):
        assert torch.equal(
            tensor, torch.zeros(mask.shape, dtype=torch.float64).masked_fill(~mask, float("-inf"))
        )
    generator = torch.Generator().manual_seed(11)
    learned = [torch.randn(*shape, generator=generator) for shape in ((5, 5, 2), (5,), (5,))]
    expanded = decoding.expand_transitions(structure, *learned, forbidden=-1e4, dtype=torch.bfloat16)
    for tensor, value, mask in zip(expanded, learned, masks, strict=True):
        assert tensor.dtype == torch.bfloat16
        assert torch.equal(tensor, value.to(torch.bfloat16).masked_fill(~mask, -1e4))


def test_batched_decoder_messages_name_the_value_and_the_fix():
    structure = TagStructure.from_labels(["O", "B-PER", "I-PER"])
    scores = torch.zeros(1, 3, 3)
    cases = [
        (
            (scores, ["O", "B-PER", "I-PER"]),
            {},
            "structure must be a TagStructure, got list; build it once per label set: "
            "TagStructure.from_labels(labels, scheme)",
        ),
        (
            ([[[0.0, 0.0, 0.0]]], structure),
            {},
            "scores must be a [B, T, L] tensor with L = 3 labels, got list; for one sentence use "
            "scores.unsqueeze(0)",
        ),
        ((scores, structure, [[True] * 3]), {}, "mask must be a [B, T] = [1, 3] tensor, got list"),
        (
            (scores, structure, torch.ones(1, 2, dtype=torch.bool)),
            {},
            "mask must be a [B, T] = [1, 3] tensor, got (1, 2)",
        ),
        (
            (scores, structure, torch.tensor([[True, False, True]])),
            {},
            "mask must be left-aligned (every sentence's positions first, padding after); gather word "
            "positions first, e.g. crf.pack_positions(scores, labels)",
        ),
        (
            (torch.full((1, 2, 3), float("nan")), structure),
            {},
            "scores hold NaN; decode finite log-probabilities, e.g. logits.log_softmax(-1)",
        ),
        (
            (scores, structure),
            {"transitions": [[0.0]]},
            "transitions must be a tensor of shape [5, 5, 2] (previous class x next class x same type over "
            "the classes O/B/I/E/S), got list; use the parameters of a CollapsedCRF, e.g. crf.transitions",
        ),
        (
            (scores, structure),
            {"end_transitions": torch.zeros(4)},
            "end_transitions must be a tensor of shape [5] (previous class x next class x same type over "
            "the classes O/B/I/E/S), got (4,); use the parameters of a CollapsedCRF, e.g. crf.transitions",
        ),
        (
            (scores, structure),
            {"start_transitions": torch.full((5,), float("nan"))},
            "start_transitions hold NaN or +inf; only finite scores and -inf (forbidden) are allowed",
        ),
    ]
    for args, keywords, message in cases:
        with pytest.raises(ValueError) as info:
            viterbi_decode_batch(*args, **keywords)
        assert str(info.value) == message


def test_an_integer_mask_decodes_like_the_bool_mask():
    """A tokenizer's ``attention_mask`` is 0/1 integers; it must mean what the bool mask means."""
    labels = labels_from_types(["PER", "LOC"], "IOB2")
    structure = TagStructure.from_labels(labels)
    sentences = [torch.randn(n, len(labels), generator=torch.Generator().manual_seed(n)) for n in (4, 1, 3)]
    scores, mask = pad_sentences(sentences)
    expected = [viterbi_decode(s.log_softmax(-1), labels) for s in sentences]
    for learned in ({}, {"transitions": torch.zeros(5, 5, 2)}):
        for as_int in (mask.long(), mask.int()):
            assert viterbi_decode_batch(scores.log_softmax(-1), structure, as_int, **learned) == expected


def test_no_valid_sequence_messages():
    labels = ["B-PER", "E-PER"]  # BIOES without O or S-: no sentence of one token
    help_text = "; build a complete label set, e.g. labels_from_types(types, scheme)"
    with pytest.raises(ValueError) as info:
        viterbi_decode(torch.zeros(1, 2), labels)  # one sentence: no "sentence 0 of the batch"
    assert (
        str(info.value)
        == "no valid BIOES sequence of length 1 exists for the labels ['B-PER', 'E-PER']" + help_text
    )
    structure = TagStructure.from_labels(labels)
    for batch in (1, 2):
        where = "" if batch == 1 else " (sentence 0 of the batch)"
        with pytest.raises(ValueError) as info:
            viterbi_decode_batch(torch.zeros(batch, 1, 2), structure)
        assert str(info.value) == (
            f"no valid BIOES sequence of length 1 exists for the labels ['B-PER', 'E-PER']{where}" + help_text
        )


@pytest.mark.parametrize("path", ["collapsed", "shortcut"])
def test_an_empty_sentence_needs_no_valid_sequence(path, monkeypatch):
    """A label set with no one-token sequence still decodes a batch holding an empty (padding) sentence."""
    use_path(monkeypatch, path)
    structure = TagStructure.from_labels(["B-PER", "E-PER"])
    scores, mask = torch.zeros(2, 2, 2), torch.tensor([[True, True], [False, False]])
    for learned in ({}, {"transitions": torch.zeros(5, 5, 2)}):
        assert viterbi_decode_batch(scores, structure, mask, **learned) == [[0, 1], []]


@pytest.mark.parametrize("scheme", SCHEMES)
def test_each_batch_takes_the_step_its_size_and_transitions_call_for(scheme, monkeypatch):
    """Up to `_DENSE_MAX_CELLS` cells (``B * L * L``) the dense step; beyond, `_hard_step` under the scheme's
    constraints alone and `_collapsed_step` with learned transitions. All give the same paths."""
    labels = labels_from_types(["PER", "LOC"], scheme)
    structure = TagStructure.from_labels(labels, scheme)
    generator = torch.Generator().manual_seed(9)
    scores = torch.randn(3, 4, len(labels), generator=generator)
    learned = {"transitions": torch.randn(5, 5, 2, generator=generator)}
    calls = []
    for name in ("_collapsed_step", "_hard_step"):
        step = getattr(decoding, name)
        monkeypatch.setattr(
            decoding, name, lambda *a, _name=name, _step=step: calls.append(_name) or _step(*a)
        )
    monkeypatch.setattr(decoding, "_ARGMAX_SHORTCUT", False)
    cells = 3 * len(labels) ** 2
    expected = {}
    for limit, steps in ((cells, ([], [])), (cells - 1, (["_hard_step"] * 3, ["_collapsed_step"] * 3))):
        monkeypatch.setattr(decoding, "_DENSE_MAX_CELLS", limit)
        for extra, step_calls in zip(({}, learned), steps, strict=True):
            calls.clear()
            paths = viterbi_decode_batch(scores, structure, **extra)
            assert calls == step_calls, (limit, extra)
            assert expected.setdefault(bool(extra), paths) == paths


@pytest.mark.parametrize("scheme", SCHEMES)
def test_one_entity_type_decodes_like_brute_force(scheme, monkeypatch):
    """With a single type, slot indices and padding cells of the O(L) steps coincide more easily."""
    use_path(monkeypatch, "collapsed")
    labels = labels_from_types(["PER"], scheme)
    structure = TagStructure.from_labels(labels, scheme)
    generator = torch.Generator().manual_seed(12)
    cases = (
        [torch.tensor([[-5.0, 0.0, -5.0, -5.0, -3.0], [0.0, -5.0, -5.0, -1.0, -5.0]])]
        if len(labels) == 5
        else []
    )
    cases += [torch.randn(n, len(labels), generator=generator) * 3 for n in (1, 2, 3, 4) * 6]
    for scores in cases:
        best, _ = brute_force(labels, scheme, scores)
        assert viterbi_decode_batch(scores.unsqueeze(0), structure)[0] == best


def test_decode_blocks_hold_as_many_sentences_as_the_bounds_allow(monkeypatch):
    use_path(monkeypatch, "collapsed")
    shapes = record_padded_shapes(monkeypatch)
    labels = ["O", "B-PER", "I-PER"]
    generator = torch.Generator().manual_seed(13)
    sentences = [torch.randn(n, 3, generator=generator).log_softmax(-1) for n in (10, 1, 12, 3, 2)]
    expected = [viterbi_decode(s, labels) for s in sentences]
    monkeypatch.setattr(decoding, "_DECODE_BATCH", 2)
    monkeypatch.setattr(decoding, "_DECODE_CELLS", 30)  # one sentence of 10 tokens over 3 labels
    assert decoding.viterbi_decode_sentences(sentences, TagStructure.from_labels(labels)) == expected
    # by length: 1 and 2 together (2 x 2 x 3 = 12 cells), 3 alone (3 and 10 would take 60), 10, and 12 alone
    # (36: a sentence larger than the bound is decoded by itself)
    assert shapes == [(2, 2, 3), (1, 3, 3), (1, 10, 3), (1, 12, 3)]
    shapes.clear()
    monkeypatch.setattr(decoding, "_DECODE_BATCH", 64)
    monkeypatch.setattr(decoding, "_DECODE_CELLS", 2)  # two one-token sentences over one label
    assert (
        decoding.viterbi_decode_sentences([torch.zeros(1, 1)] * 3, TagStructure.from_labels(["O"]))
        == [[0]] * 3
    )
    assert shapes == [(2, 1, 1), (1, 1, 1)]


def test_the_programme_runs_only_where_the_shortcut_cannot_decide(monkeypatch):
    labels = ["O", "B-PER", "I-PER"]
    structure = TagStructure.from_labels(labels)
    sentences = [torch.tensor([[0.0, -9.0, -9.0]] * n) for n in (2, 3)]  # every argmax O: an allowed path
    scores, mask = pad_sentences(sentences)
    rows = []
    programme = decoding._viterbi_rows
    monkeypatch.setattr(decoding, "_viterbi_rows", lambda *a: rows.append(a[0].shape[0]) or programme(*a))
    for path, programme_rows in (("shortcut", []), ("collapsed", [2])):
        use_path(monkeypatch, path)
        for decode in (
            lambda: viterbi_decode_batch(scores, structure, mask),
            lambda: decoding.viterbi_decode_sentences(sentences, structure),
        ):
            rows.clear()
            assert decode() == [[0, 0], [0, 0, 0]]
            assert rows == programme_rows, path


def test_decode_sentences_edge_cases():
    structure = TagStructure.from_labels(["O", "B-PER", "I-PER"])
    assert decoding.viterbi_decode_sentences([], structure) == []
    padded, mask = pad_sentences([], num_labels=3)
    assert padded.shape == (0, 0, 3) and mask.shape == (0, 0)
    with pytest.raises(ValueError) as info:
        decoding.viterbi_decode_sentences([torch.zeros(2, 3), torch.full((1, 3), float("nan"))], structure)
    assert str(info.value) == "scores hold NaN; decode finite log-probabilities, e.g. logits.log_softmax(-1)"


def test_an_empty_label_set():
    empty = TagStructure.from_labels([])
    assert empty.num_labels == 0 and empty.num_types == 0
    assert [tuple(m.shape) for m in allowed_transitions([])] == [(0, 0), (0,), (0,)]
    with pytest.raises(ValueError) as info:
        viterbi_decode_batch(torch.zeros(1, 2, 0), empty)
    assert str(info.value) == (
        "the label set is empty; decode over at least one label, e.g. ['O', 'B-PER', 'I-PER']"
    )


def test_from_labels_errors_name_the_value():
    with pytest.raises(ValueError) as info:
        TagStructure.from_labels("O B-PER")
    assert str(info.value) == (
        "labels must be a list of label names, got the string 'O B-PER'; e.g. ['O', 'B-PER']"
    )
    # an unhashable label cannot be cached; the structure is built directly and names it
    with pytest.raises(InvalidTagError, match=r"invalid tag \['B-PER'\]"):
        TagStructure.from_labels(["O", ["B-PER"]], "IOB2")
    for labels in (["O", "B-PER"], ["O", ["B-PER"]]):  # both ways check the scheme first
        with pytest.raises(SchemeError, match="unknown tag scheme 'IOB3'"):
            TagStructure.from_labels(labels, "IOB3")


@pytest.mark.parametrize("scheme", SCHEMES)
def test_same_type_moves_never_touch_o(scheme):
    """`TagStructure.allowed[..., 1]` is "same entity type": ``O`` has none, so no such move reaches or leaves it."""
    allowed = TagStructure.from_labels(labels_from_types(["PER"], scheme), scheme).allowed
    assert not allowed[0, :, 1].any() and not allowed[:, 0, 1].any()
    assert allowed[0, 0, 0]  # O after O: allowed in every scheme
