"""The collapsed CRF: log-partition and gradients against brute-force enumeration, decoding, storage, errors."""

from __future__ import annotations

import itertools
import json

import pytest
import torch

from label_semantics import crf as crf_module
from label_semantics import decoding, tag_structure
from label_semantics.crf import CollapsedCRF, check_scheme, pack_positions
from label_semantics.decoding import TagStructure, viterbi_decode, viterbi_decode_batch
from label_semantics.verbalizer import SchemeError, is_valid_sequence, labels_from_types

SCHEMES = ["IO", "IOB1", "IOB2", "BIOES", "BILOU"]
PATHS = {"dense": 10**12, "collapsed": 0}  # _DENSE_MAX_CELLS that forces each step
CLASS = {"O": 0, "B": 1, "I": 2, "E": 3, "S": 4, "L": 3, "U": 4}


@pytest.fixture(autouse=True)
def _fresh_structure_cache():
    """Every test builds its `TagStructure`s anew: one cached by an earlier test would hide a change to how a
    structure is built (mutation testing forks every run from a process whose cache is already full)."""
    tag_structure._cached_structure.cache_clear()
    yield


@pytest.fixture(params=list(PATHS))
def path(request, monkeypatch):
    monkeypatch.setattr(decoding, "_DENSE_MAX_CELLS", PATHS[request.param])
    monkeypatch.setattr(crf_module, "_DENSE_MAX_CELLS", PATHS[request.param])
    return request.param


def random_crf(scheme: str, seed: int) -> CollapsedCRF:
    crf = CollapsedCRF(scheme)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in crf.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator))
    return crf


def path_score(crf: CollapsedCRF, labels, scores, path):
    """A differentiable score of one path, written from the definition (no module code)."""
    tags = [labels[i].partition("-") for i in path]
    total = scores[range(len(path)), list(path)].sum()
    total = total + crf.start_transitions[CLASS[tags[0][0]]] + crf.end_transitions[CLASS[tags[-1][0]]]
    for (p_prefix, _, p_type), (prefix, _, entity_type) in itertools.pairwise(tags):
        same = int(p_prefix != "O" and prefix != "O" and p_type == entity_type)
        total = total + crf.transitions[CLASS[p_prefix], CLASS[prefix], same]
    return total


def brute_log_partition(crf, labels, scheme, scores):
    paths = [
        p
        for p in itertools.product(range(len(labels)), repeat=scores.shape[0])
        if is_valid_sequence([labels[i] for i in p], scheme)
    ]
    return torch.logsumexp(torch.stack([path_score(crf, labels, scores, p) for p in paths]), dim=0), paths


@pytest.mark.parametrize("scheme", SCHEMES)
def test_log_partition_equals_brute_force(scheme, path):
    full = labels_from_types(["PER", "LOC"], scheme)
    generator = torch.Generator().manual_seed(0)
    for trial in range(12):
        labels = full if trial % 2 == 0 else [full[i] for i in torch.randperm(len(full), generator=generator)]
        crf = random_crf(scheme, trial)
        length = 1 + trial % 4
        scores = torch.randn(length, len(labels), generator=generator, dtype=torch.float64)
        if trial % 3 == 0:
            scores[0, 1] = float("-inf")
        expected, paths = brute_log_partition(crf, labels, scheme, scores)
        got = crf.log_partition(scores.unsqueeze(0), labels)[0]
        assert got.dtype == torch.float64
        assert got.item() == pytest.approx(expected.item(), abs=1e-9)
        # and the NLL of one valid path is log Z minus its score
        gold = paths[trial % len(paths)]
        nll = crf(scores.unsqueeze(0), torch.tensor([gold]), labels)
        assert nll.item() == pytest.approx(
            (expected - path_score(crf, labels, scores, gold)).item(), abs=1e-9
        )


@pytest.mark.parametrize("scheme", ["IOB1", "IOB2", "BIOES"])
def test_gradient_equals_brute_force_gradient(scheme, path):
    labels = labels_from_types(["PER", "LOC"], scheme)
    scores = torch.randn(3, len(labels), generator=torch.Generator().manual_seed(1), requires_grad=True)
    crf = random_crf(scheme, 7)
    expected, _ = brute_log_partition(crf, labels, scheme, scores)
    expected_grads = torch.autograd.grad(expected, [scores, *crf.parameters()])
    got = crf.log_partition(scores.unsqueeze(0), labels)[0]
    grads = torch.autograd.grad(got, [scores, *crf.parameters()])
    for mine, reference in zip(grads, expected_grads, strict=True):
        assert torch.allclose(mine, reference, atol=1e-5)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_nll_gradient_flows_into_the_transitions(scheme, path):
    labels = labels_from_types(["PER", "LOC", "ORG"], scheme)
    generator = torch.Generator().manual_seed(2)
    scores = torch.randn(4, 6, len(labels), generator=generator, requires_grad=True)
    tags, mask = [], torch.ones(4, 6, dtype=torch.bool)
    mask[1, 4:] = mask[3, 1:] = False
    for _ in range(4):
        tags.append(viterbi_decode(torch.randn(6, len(labels), generator=generator), labels, scheme))
    crf = CollapsedCRF(scheme)
    loss = crf(scores, torch.tensor(tags), labels, mask)
    loss.backward()
    allowed = TagStructure.from_labels(labels, scheme).allowed
    for parameter in crf.parameters():
        assert torch.isfinite(parameter.grad).all()
    assert crf.transitions.grad[allowed].abs().sum() > 0
    assert (crf.transitions.grad[~allowed] == 0).all()  # forbidden moves learn nothing
    assert crf.start_transitions.grad.abs().sum() > 0 and crf.end_transitions.grad.abs().sum() > 0
    assert torch.isfinite(scores.grad).all() and (scores.grad[3, 1:] == 0).all()


def test_training_learns_a_transition_preference(path):
    """Gold data where entities follow each other directly: the CRF learns B-after-B of another type."""
    labels = labels_from_types(["PER", "LOC"], "IOB2")
    crf = CollapsedCRF("IOB2")
    optimizer = torch.optim.SGD(crf.parameters(), lr=0.5)
    tags = torch.tensor([[1, 3, 1, 3], [3, 1, 3, 1]])
    scores = torch.zeros(2, 4, len(labels))
    first = None
    for _ in range(30):
        optimizer.zero_grad()
        loss = crf(scores, tags, labels)
        first = loss.item() if first is None else first
        loss.backward()
        optimizer.step()
    assert loss.item() < first / 2
    assert crf.transitions[1, 1, 0] > crf.transitions[1, 0, 0]  # B -> B (other type) beats B -> O
    assert crf.decode(scores, labels)[0] in ([1, 3, 1, 3], [3, 1, 3, 1])
    assert viterbi_decode_batch(scores, TagStructure.from_labels(labels))[0] == [0, 0, 0, 0]


def test_collapsed_forward_equals_dense_on_a_large_label_set(monkeypatch):
    labels = labels_from_types([f"T{i}" for i in range(40)], "BIOES")
    generator = torch.Generator().manual_seed(3)
    scores = torch.randn(3, 7, len(labels), generator=generator, dtype=torch.float64)
    tags = torch.tensor([viterbi_decode(s, labels) for s in scores])
    results = []
    for cells in PATHS.values():
        monkeypatch.setattr(crf_module, "_DENSE_MAX_CELLS", cells)
        crf = random_crf("BIOES", 4).double()
        s = scores.clone().requires_grad_()
        loss = crf(s, tags, labels, reduction="sum")
        loss.backward()
        results.append((loss.detach(), s.grad, crf.transitions.grad))
    for dense, collapsed in zip(*results, strict=True):
        assert torch.isfinite(collapsed).all()
        assert torch.allclose(dense, collapsed, rtol=1e-9, atol=1e-9)


def test_zero_transitions_decode_like_the_hard_constraint_viterbi(path):
    labels = labels_from_types(["PER", "LOC", "ORG"], "BIOES")
    scores = torch.randn(8, 9, len(labels), generator=torch.Generator().manual_seed(5)).log_softmax(-1)
    assert CollapsedCRF("BILOU").decode(scores, labels) == [viterbi_decode(s, labels) for s in scores]


def test_batched_nll_equals_per_sentence(path):
    labels = labels_from_types(["PER", "LOC"], "IOB2")
    generator = torch.Generator().manual_seed(6)
    lengths = [3, 1, 5, 0]
    scores = torch.randn(4, 5, len(labels), generator=generator)
    mask = torch.arange(5)[None, :] < torch.tensor(lengths)[:, None]
    tags = torch.tensor([[1, 2, 0, 3, 4]] * 4)
    crf = random_crf("IOB2", 8)
    nll = crf(scores, tags, labels, mask, reduction="none")
    assert nll[3] == 0
    for b, n in enumerate(lengths[:3]):
        alone = crf(scores[b : b + 1, :n], tags[b : b + 1, :n], labels, reduction="sum")
        assert nll[b].item() == pytest.approx(alone.item(), abs=1e-5)
    assert crf(scores, tags, labels, mask).item() == pytest.approx(nll.sum().item() / 3, abs=1e-5)
    assert crf(scores, tags, labels, mask, reduction="token_mean").item() == pytest.approx(
        nll.sum().item() / 9, abs=1e-5
    )


def test_half_precision_scores_are_summed_in_float32():
    labels = labels_from_types(["PER"], "IOB2")
    scores = torch.randn(2, 4, 3).to(torch.bfloat16)
    loss = CollapsedCRF()(scores, torch.zeros(2, 4, dtype=torch.long), labels)
    assert loss.dtype == torch.float32 and torch.isfinite(loss)


def test_parameters_survive_dict_json_and_state_dict_exactly():
    crf = random_crf("BIOES", 9)
    assert sum(p.numel() for p in crf.parameters()) == 60
    data = json.loads(json.dumps(crf.to_dict()))
    assert data["scheme"] == "BIOES"
    loaded = CollapsedCRF.from_dict(data, scheme="BILOU")
    again = CollapsedCRF("BIOES")
    again.load_state_dict(crf.state_dict())
    for a, b, c in zip(crf.parameters(), loaded.parameters(), again.parameters(), strict=True):
        assert torch.equal(a, b) and torch.equal(a, c)


def test_transitions_for_another_scheme_are_refused_naming_both():
    iob2 = CollapsedCRF("IOB2")
    with pytest.raises(SchemeError, match=r"trained for the IOB2 scheme, but the labels are in the BIOES"):
        CollapsedCRF.from_dict(iob2.to_dict(), scheme="BIOES")
    with pytest.raises(SchemeError, match=r"IOB2 scheme, but the labels are in the IOB1"):
        CollapsedCRF("IOB1").load_dict(iob2.to_dict())
    with pytest.raises(SchemeError, match=r"IOB2 scheme.*BIOES scheme"):
        iob2.decode(torch.zeros(1, 2, 5), TagStructure.from_labels(labels_from_types(["PER"], "BIOES")))
    with pytest.raises(SchemeError, match=r"IO scheme.*IOB2 scheme"):
        check_scheme("IO", "iob2")
    check_scheme("BILOU", "BIOES")


def test_stored_transitions_of_the_wrong_shape_are_refused():
    data = CollapsedCRF("IOB2").to_dict()
    for name, value, shape in (
        ("transitions", [[0.0] * 3] * 3, r"\[5, 5, 2\].*got \(3, 3\)"),
        ("start_transitions", [0.0] * 4, r"\[5\].*got \(4,\)"),
        ("end_transitions", "zero", "not a nested list of numbers"),
    ):
        with pytest.raises(ValueError, match=rf"{name}.*{shape}" if "got" in shape else shape):
            CollapsedCRF.from_dict({**data, name: value})
    with pytest.raises(ValueError, match="lack 'end_transitions'"):
        CollapsedCRF.from_dict({k: v for k, v in data.items() if k != "end_transitions"})
    with pytest.raises(ValueError, match="as CollapsedCRF.to_dict\\(\\) writes"):
        CollapsedCRF.from_dict([1, 2])
    with pytest.raises(RuntimeError, match="size mismatch for transitions"):
        CollapsedCRF().load_state_dict({**CollapsedCRF().state_dict(), "transitions": torch.zeros(3, 3)})


def test_nll_rejects_bad_input():
    labels = labels_from_types(["PER"], "IOB2")
    crf = CollapsedCRF("IOB2")
    scores = torch.zeros(1, 3, 3)
    with pytest.raises(ValueError, match="NaN"):
        crf(torch.full((1, 3, 3), float("nan")), torch.zeros(1, 3, dtype=torch.long), labels)
    with pytest.raises(
        ValueError, match=r"'I-PER' cannot follow 'O'.*sentence 0|sentence 0.*'I-PER' cannot follow 'O'"
    ):
        crf(scores, torch.tensor([[0, 2, 0]]), labels)
    with pytest.raises(ValueError, match=r"tag id -100 at position 2 of sentence 0.*pack_positions"):
        crf(scores, torch.tensor([[0, 1, -100]]), labels)
    with pytest.raises(ValueError, match=r"tags must be a \[B, T\] = \[1, 3\]"):
        crf(scores, torch.zeros(3, dtype=torch.long), labels)
    with pytest.raises(ValueError, match="reduction="):
        crf(scores, torch.zeros(1, 3, dtype=torch.long), labels, reduction="avg")
    bioes = CollapsedCRF("BIOES")
    with pytest.raises(ValueError, match=r"ends with 'B-PER'"):
        bioes(torch.zeros(1, 2, 5), torch.tensor([[0, 1]]), labels_from_types(["PER"], "BIOES"))
    with pytest.raises(ValueError, match=r"no valid BIOES sequence of length 1"):
        bioes.decode(torch.zeros(1, 1, 2), ["B-PER", "E-PER"])


def test_pack_positions_gathers_tagged_positions_and_keeps_gradients():
    scores = torch.arange(2 * 5 * 2, dtype=torch.float32).view(2, 5, 2).requires_grad_()
    labels = torch.tensor([[-100, 1, -100, 0, -100], [-100, 0, 1, 1, 0]])
    packed, tags, mask = pack_positions(scores, labels)
    assert tags.tolist() == [[1, 0, 0, 0], [0, 1, 1, 0]]
    assert mask.tolist() == [[True, True, False, False], [True] * 4]
    assert torch.equal(packed[0, :2], scores[0, [1, 3]]) and torch.equal(packed[1], scores[1, 1:])
    CollapsedCRF("IO")(packed, tags, ["O", "I-PER"], mask).backward()
    assert (scores.grad[:, 0] == 0).all() and (scores.grad[1, 1:] != 0).any()
    with pytest.raises(ValueError, match=r"scores \[B, N, L\] and labels \[B, N\]"):
        pack_positions(scores, labels[:, :3])


def test_collapsed_forward_is_stable_when_one_type_dominates(monkeypatch):
    """ "Other type" sums must not be a difference of two nearly equal sums (float32, a +60 score)."""
    labels = labels_from_types([f"T{i}" for i in range(30)], "IOB2")
    scores = torch.randn(2, 6, len(labels), generator=torch.Generator().manual_seed(10))
    scores[:, :, 1] += 60.0  # B-T0 dominates its class at every step
    crf = CollapsedCRF("IOB2")
    with torch.no_grad():
        crf.transitions[:, 1, 1] = -100.0  # B-T0 -> B-T0 all but forbidden: B-T0 is reached from other types
        crf.transitions[1, 1, 0] = 8.0
    results = []
    for cells in PATHS.values():
        monkeypatch.setattr(crf_module, "_DENSE_MAX_CELLS", cells)
        results.append(crf.log_partition(scores, labels))
    reference = crf.double().log_partition(scores.double(), labels)
    for result in results:
        assert torch.allclose(result.double(), reference, rtol=1e-6)
