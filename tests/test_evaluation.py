"""seqeval metrics, offline, checked against hand-computed values."""

from __future__ import annotations

import logging
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from transformers import BertConfig, EvalPrediction

from label_semantics import evaluation
from label_semantics.evaluation import (
    SEQEVAL_PATH,
    build_compute_metrics,
    compute_ner_metrics,
    load_seqeval,
)
from label_semantics.verbalizer import InvalidTagError

ROOT = Path(__file__).resolve().parents[1]
ID2LABEL = {0: "O", 1: "B-PER", 2: "I-PER", 3: "B-LOC", 4: "I-LOC"}

# Gold: PER(0-1) LOC(3) | ORG(0-2). Predicted: PER cut short, LOC right | ORG right, a spurious MISC.
REFERENCES = [["B-PER", "I-PER", "O", "B-LOC", "O"], ["B-ORG", "I-ORG", "I-ORG", "O"]]
PREDICTIONS = [["B-PER", "O", "O", "B-LOC", "O"], ["B-ORG", "I-ORG", "I-ORG", "B-MISC"]]


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Every test here runs with the Hub marked offline and sockets unable to connect."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    def refuse(*args, **kwargs):
        raise OSError(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_entity_f1_differs_from_token_accuracy():
    metrics = compute_ner_metrics(PREDICTIONS, REFERENCES)
    # 7 of 9 tokens right; 2 of 4 predicted entities right, 2 of 3 gold entities found.
    expected = {
        "overall_accuracy": 7 / 9,
        "overall_precision": 2 / 4,
        "overall_recall": 2 / 3,
        "overall_f1": 4 / 7,  # 2 * (1/2) * (2/3) / (1/2 + 2/3)
        "PER_precision": 0.0,
        "PER_recall": 0.0,
        "PER_f1": 0.0,
        "PER_number": 1.0,
        "LOC_precision": 1.0,
        "LOC_recall": 1.0,
        "LOC_f1": 1.0,
        "LOC_number": 1.0,
        "ORG_precision": 1.0,
        "ORG_recall": 1.0,
        "ORG_f1": 1.0,
        "ORG_number": 1.0,
        "MISC_precision": 0.0,
        "MISC_recall": 0.0,  # no gold MISC: 0 / 0 counts as 0
        "MISC_f1": 0.0,
        "MISC_number": 0.0,
    }
    assert metrics.keys() == expected.keys()
    assert metrics == pytest.approx(expected)
    assert all(type(value) is float for value in metrics.values())


def test_lenient_and_strict_modes():
    references = [["B-PER", "I-PER", "O"]]
    predictions = [["I-PER", "I-PER", "O"]]  # ill-formed IOB2, same span
    lenient = compute_ner_metrics(predictions, references)
    strict = compute_ner_metrics(predictions, references, mode="strict")  # scheme detected: IOB2
    assert lenient["overall_f1"] == 1.0
    assert strict["overall_f1"] == 0.0
    assert lenient["overall_accuracy"] == strict["overall_accuracy"] == pytest.approx(2 / 3)


def test_strict_mode_reads_bioes_and_bilou():
    references = [["B-PER", "E-PER", "S-LOC"]]
    assert compute_ner_metrics(references, references, mode="strict")["overall_f1"] == 1.0
    bilou = [["B-PER", "L-PER", "U-LOC"]]
    assert compute_ner_metrics(bilou, bilou, mode="strict", scheme="BILOU")["overall_f1"] == 1.0


def test_strict_mode_rejects_io():
    with pytest.raises(ValueError, match=r"IO scheme.*scheme=\"IOB2\""):
        compute_ner_metrics([["I-PER"]], [["I-PER"]], mode="strict")


@pytest.mark.parametrize(
    ("predictions", "references", "message"),
    [
        ([["O"]], [["O"], ["O"]], "1 predicted sentences but 2 reference"),
        ([["O", "O"]], [["O"]], "sentence 0 has 2 predicted tags but 1 reference"),
        (["B-PER"], [["B-PER"]], r"predictions must be a list of sentences.*\[\[\"B-PER\""),
    ],
)
def test_compute_ner_metrics_rejects_mismatched_input(predictions, references, message):
    with pytest.raises(ValueError, match=message):
        compute_ner_metrics(predictions, references)


def test_compute_ner_metrics_names_a_malformed_tag():
    with pytest.raises(
        InvalidTagError, match=r"in references: invalid tag 'PER' at position 1 of sentence 0"
    ):
        compute_ner_metrics([["O", "B-PER"]], [["O", "PER"]])


def test_compute_ner_metrics_without_tags():
    assert compute_ner_metrics([], []) == {
        "overall_precision": 0.0,
        "overall_recall": 0.0,
        "overall_f1": 0.0,
        "overall_accuracy": 0.0,
    }


def test_load_seqeval_matches_the_hub_layout():
    metric = load_seqeval()
    results = metric.compute(predictions=PREDICTIONS, references=REFERENCES, zero_division=0)
    assert list(results) == [
        "LOC",
        "MISC",
        "ORG",
        "PER",
        "overall_precision",
        "overall_recall",
        "overall_f1",
        "overall_accuracy",
    ]
    assert results["LOC"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "number": 1}
    with pytest.raises(ValueError, match=r"scheme='BIO'.*IOBES"):
        metric.compute(predictions=PREDICTIONS, references=REFERENCES, scheme="BIO", mode="strict")


def test_metric_script_ships_as_package_data():
    assert SEQEVAL_PATH.is_file() and SEQEVAL_PATH.parent.name == "metrics"
    # tomllib is Python 3.11+ and the package supports 3.10: read the section as text.
    section = (ROOT / "pyproject.toml").read_text().split("[tool.setuptools.package-data]")[1].split("\n[")[0]
    assert re.search(r'^label_semantics = \[.*"metrics/\*\.py"', section, flags=re.MULTILINE), section


def test_seqeval_loads_in_a_fresh_offline_process(tmp_path):
    """A new interpreter with an empty module cache, HF_HUB_OFFLINE=1 and no sockets still computes."""
    script = (
        "import socket\n"
        "def refuse(*a, **k): raise OSError('network access attempted')\n"
        "socket.socket.connect = refuse\n"
        "socket.create_connection = refuse\n"
        "from label_semantics.evaluation import compute_ner_metrics\n"
        "print(compute_ner_metrics([['B-PER', 'O']], [['B-PER', 'B-LOC']])['overall_recall'])\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "0.5"


def one_hot_logits(ids: list[list[int]], num_labels: int = 5) -> np.ndarray:
    logits = np.full((len(ids), len(ids[0]), num_labels), -3.0, dtype=np.float32)
    for b, row in enumerate(ids):
        for t, i in enumerate(row):
            logits[b, t, i] = 3.0
    return logits


def test_build_compute_metrics_drops_ignored_positions():
    # [CLS] John ##ny Smith in Paris [SEP] [PAD] | [CLS] Paris [SEP] [PAD] ...
    labels = np.array([[-100, 1, -100, 2, 0, 3, -100, -100], [-100, 3, -100, -100, -100, -100, -100, -100]])
    # The ignored positions predict I-LOC, which would be counted (and wrong) if they were kept.
    predicted = [[4, 1, 4, 0, 0, 3, 4, 4], [4, 1, 4, 4, 4, 4, 4, 4]]
    compute_metrics = build_compute_metrics(ID2LABEL)
    metrics = compute_metrics(EvalPrediction(predictions=one_hot_logits(predicted), label_ids=labels))
    # Word tags: gold B-PER I-PER O B-LOC | B-LOC; predicted B-PER O O B-LOC | B-PER.
    assert metrics["overall_accuracy"] == pytest.approx(3 / 5)
    assert metrics["overall_precision"] == pytest.approx(1 / 3)
    assert metrics["overall_recall"] == pytest.approx(1 / 3)
    assert metrics["LOC_number"] == 2.0 and metrics["LOC_recall"] == 0.5
    assert metrics["PER_number"] == 1.0 and metrics["PER_precision"] == 0.0


def test_build_compute_metrics_with_viterbi():
    labels = np.array([[-100, 1, 2, -100]])
    logits = np.full((1, 4, 5), -10.0, dtype=np.float32)
    logits[0, 1, [0, 1]] = [2.0, 1.9]  # O narrowly beats B-PER
    logits[0, 2, [0, 2]] = [0.0, 5.0]  # I-PER clearly best
    argmax = build_compute_metrics(ID2LABEL)((logits, labels))
    viterbi = build_compute_metrics(ID2LABEL, viterbi=True)((logits, labels))
    # argmax: O I-PER, read as PER(1): wrong boundary. Viterbi: B-PER I-PER, the gold entity.
    assert argmax["overall_f1"] == 0.0 and argmax["overall_accuracy"] == 0.5
    assert viterbi["overall_f1"] == 1.0 and viterbi["overall_accuracy"] == 1.0


def test_build_compute_metrics_accepts_tuples_ids_and_string_keys():
    labels = np.array([[1, 2, 0]])
    logits = one_hot_logits([[1, 2, 0]])
    string_keys = {str(k): v for k, v in ID2LABEL.items()}
    from_tuple = build_compute_metrics(string_keys)(
        EvalPrediction(predictions=(logits, logits), label_ids=labels)
    )
    from_ids = build_compute_metrics(ID2LABEL)((np.array([[1, 2, 0]]), labels))
    assert from_tuple["overall_f1"] == from_ids["overall_f1"] == 1.0


@pytest.mark.parametrize(
    ("predictions", "labels", "viterbi", "message"),
    [
        (np.zeros((1, 3, 4)), np.zeros((1, 3), dtype=int), False, "4 labels but id2label has 5"),
        (np.zeros((1, 3, 5)), np.zeros((1, 2), dtype=int), False, r"shape \(1, 3, 5\).*\(1, 2\)"),
        (np.zeros((1, 3), dtype=int), np.zeros((1, 3), dtype=int), True, "viterbi=True needs the logits"),
    ],
)
def test_build_compute_metrics_rejects_bad_shapes(predictions, labels, viterbi, message):
    with pytest.raises(ValueError, match=message):
        build_compute_metrics(ID2LABEL, viterbi=viterbi)((predictions, labels))


def test_build_compute_metrics_rejects_gapped_ids():
    with pytest.raises(ValueError, match=r"ids \[0, 2\]"):
        build_compute_metrics({0: "O", 2: "B-PER"})


def test_load_seqeval_without_its_script_names_the_path_and_the_fix(monkeypatch, tmp_path):
    missing = tmp_path / "metrics" / "seqeval.py"
    monkeypatch.setattr(evaluation, "SEQEVAL_PATH", missing)
    with pytest.raises(FileNotFoundError, match=re.escape(f"missing at {missing}; reinstall the package")):
        load_seqeval()


def test_input_errors_name_the_side_and_show_three_items():
    with pytest.raises(
        ValueError,
        match=re.escape(
            "references must be a list of sentences, each a list of tags, got ['B-PER', 'O', 'B-LOC']...;"
        ),
    ):
        compute_ner_metrics([["B-PER"]], ["B-PER", "O", "B-LOC", "I-LOC"])
    with pytest.raises(
        InvalidTagError, match=r"^in predictions: invalid tag 'B_PER' at position 0 of sentence 1"
    ):
        compute_ner_metrics([["O"], ["B_PER"]], [["O"], ["B-PER"]])


def test_strict_mode_uses_the_scheme_passed():
    # IOB1: 'I-PER I-PER' is one PER. Detected from these references alone the scheme would be IO, which
    # strict mode refuses; seqeval's own guess (from the prefixes) supports no I-and-O-only scheme.
    tags = [["I-PER", "I-PER", "O", "I-LOC"]]
    metrics = compute_ner_metrics(tags, tags, mode="strict", scheme="IOB1")
    assert (metrics["PER_number"], metrics["LOC_number"], metrics["overall_f1"]) == (1.0, 1.0, 1.0)


def test_no_tags_warns(caplog):
    with caplog.at_level(logging.WARNING, logger="label_semantics.evaluation"):
        compute_ner_metrics([[]], [[]])
    assert [record.getMessage() for record in caplog.records] == [
        "compute_ner_metrics: no tags to evaluate; every metric is 0"
    ]


def test_an_entity_type_named_overall_is_refused():
    with pytest.raises(
        ValueError,
        match=r'^an entity type named "overall" would clash with the overall_\* metrics; rename it$',
    ):
        compute_ner_metrics([["B-overall"]], [["B-overall"]])


def test_gapped_ids_message_states_the_expected_range():
    with pytest.raises(ValueError, match=re.escape("id2label must map 0..2 to tags, got the ids [0, 1, 3];")):
        build_compute_metrics({0: "O", 1: "B-PER", 3: "I-PER"})


def test_viterbi_on_ids_message_is_whole():
    message = (
        "viterbi=True needs the logits, but the predictions are already label ids; drop "
        "preprocess_logits_for_metrics from the Trainer or use build_compute_metrics(id2label)"
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        build_compute_metrics(ID2LABEL, viterbi=True)(
            (np.zeros((1, 2), dtype=int), np.zeros((1, 2), dtype=int))
        )


def test_a_tuple_of_predictions_scores_its_first_item():
    labels = np.array([[1, 2, 0]])
    right, wrong = one_hot_logits([[1, 2, 0]]), one_hot_logits([[0, 0, 3]])

    def score(*predictions) -> float:
        compute_metrics = build_compute_metrics(ID2LABEL)
        return compute_metrics(EvalPrediction(predictions=predictions, label_ids=labels))["overall_f1"]

    assert score(right, wrong) == 1.0
    assert score(wrong, right) == 0.0


def starts_with_i_per() -> tuple[np.ndarray, np.ndarray]:
    """One word whose gold and best tag is 'I-PER': valid at a sentence start in IOB1, not in IOB2 (where
    Viterbi must give 'B-PER', the next best, and the token accuracy drops to 0)."""
    logits = np.full((1, 1, 5), -5.0, dtype=np.float32)
    logits[0, 0, 2], logits[0, 0, 1] = 5.0, 0.0
    return logits, np.array([[2]])


def test_viterbi_uses_the_scheme_passed_or_the_configs():
    logits, labels = starts_with_i_per()
    iob1_config = BertConfig(id2label=ID2LABEL, tag_scheme="IOB1")
    iob2_config = BertConfig(id2label=ID2LABEL, tag_scheme="IOB2")

    def accuracy(id2label, **options) -> float:
        return build_compute_metrics(id2label, viterbi=True, **options)((logits, labels))["overall_accuracy"]

    assert accuracy(ID2LABEL) == 0.0  # the labels look like IOB2
    assert accuracy(ID2LABEL, scheme="IOB1") == 1.0
    assert accuracy(iob1_config) == 1.0  # the config's tag_scheme
    assert accuracy(iob2_config) == 0.0
    assert accuracy(BertConfig(id2label=ID2LABEL)) == 0.0  # a config without tag_scheme
    assert accuracy(iob1_config, scheme="IOB2") == 0.0  # the argument wins over the config
    assert accuracy(iob2_config, scheme="IOB1") == 1.0
    assert build_compute_metrics(iob1_config)((logits, labels))["overall_accuracy"] == 1.0  # argmax
