"""Transition masks, Viterbi and argmax decoding, spans."""

from __future__ import annotations

import itertools

import pytest
import torch

from label_semantics import decoding
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
    is_valid_transition,
    labels_from_types,
    normalize_scheme,
)

TYPES = ["PER", "LOC"]


@pytest.fixture(autouse=True)
def _fresh_structure_cache():
    """Every test builds its `TagStructure`s anew: one cached by an earlier test would hide a change to how a
    structure is built (mutation testing forks every run from a process whose cache is already full)."""
    decoding._cached_structure.cache_clear()
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
    original = decoding.is_valid_transition
    monkeypatch.setattr(decoding, "is_valid_transition", lambda *a: calls.append(a) or original(*a))
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
    shapes = []
    original = decoding.pad_sentences

    def pad(block, num_labels=None):
        padded = original(block, num_labels)
        shapes.append(tuple(padded[0].shape))
        return padded

    monkeypatch.setattr(decoding, "pad_sentences", pad)
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
