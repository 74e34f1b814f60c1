"""A tag scheme belongs to the data, not to the model: the model scores in the scheme it was built and trained in,
labels given in another scheme are mapped to their types, and tags are converted at the boundary."""

from __future__ import annotations

import json
import logging
import random

import pytest
import torch
from datasets import Dataset
from hypothesis import given, settings
from hypothesis import strategies as st
from transformers import pipeline

import label_semantics  # noqa: F401  (registers the pipeline)
from label_semantics import LabelSemanticsForTokenClassification
from label_semantics.cli import main as cli_main
from label_semantics.evaluation import build_compute_metrics, compute_ner_metrics
from label_semantics.prediction import predict_tags
from label_semantics.training import evaluate_ner, fewshot_transfer, finetune, to_model_scheme
from label_semantics.verbalizer import (
    SCHEMES,
    SchemeError,
    convert_scheme,
    describe_type,
    is_valid_sequence,
    spans_to_tags,
    tags_to_spans,
)

IOB2 = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
IO = ["O", "I-PER", "I-LOC"]
BIOES = ["O", "B-PER", "I-PER", "E-PER", "S-PER", "B-LOC", "I-LOC", "E-LOC", "S-LOC"]


# ------------------------------------------------------------------------------------------------ conversion


@st.composite
def spans(draw, max_length: int = 12):
    """Random non-overlapping entities of two types in a sentence of random length."""
    length = draw(st.integers(min_value=0, max_value=max_length))
    out, position = [], 0
    while position < length:
        if draw(st.booleans()):
            end = draw(st.integers(min_value=position + 1, max_value=length))
            out.append((draw(st.sampled_from(["PER", "LOC"])), position, end))
            position = end
        else:
            position += 1
    return out, length


def _merge_adjacent(entities):
    """What IO keeps of a sentence: adjacent entities of one type become one."""
    merged = []
    for entity in entities:
        if merged and merged[-1][0] == entity[0] and merged[-1][2] == entity[1]:
            merged[-1] = (entity[0], merged[-1][1], entity[2])
        else:
            merged.append(entity)
    return merged


@settings(max_examples=200, deadline=None)
@given(spans(), st.sampled_from(SCHEMES), st.sampled_from(SCHEMES))
def test_conversion_between_all_schemes_keeps_entities_or_loses_only_what_io_cannot_hold(
    sample, source, target
):
    entities, length = sample
    tags = spans_to_tags(entities, length, source)
    assert is_valid_sequence(tags, source)
    converted = convert_scheme(tags, target, source=source)
    assert is_valid_sequence(converted, target)
    expected = _merge_adjacent(entities) if "IO" in (source, target) else entities
    assert tags_to_spans(converted) == expected
    if "IO" not in (source, target):  # lossless: the round trip gives the very tags back
        assert convert_scheme(converted, source, source=target) == tags


# ------------------------------------------------------------------------------------------------ set_labels


@pytest.fixture
def model(tiny_encoder_dir):
    torch.manual_seed(0)
    return LabelSemanticsForTokenClassification.from_encoder(tiny_encoder_dir, labels=IOB2)


def test_an_explicit_scheme_survives_to_the_saved_config(tiny_encoder_dir, tmp_path):
    # failed before: set_labels guessed the scheme again and saved IOB2
    model = LabelSemanticsForTokenClassification.from_encoder(
        tiny_encoder_dir, labels=IOB2, tag_scheme="IOB1"
    )
    assert model.config.tag_scheme == "IOB1" and model.config.data_scheme == "IOB1"
    model.save_pretrained(tmp_path / "m")
    loaded = LabelSemanticsForTokenClassification.from_pretrained(tmp_path / "m")
    assert loaded.config.tag_scheme == "IOB1"
    # IOB1 Viterbi keeps an entity that starts with I- (IOB2 Viterbi dropped it)
    scores = torch.full((2, 5), -5.0)
    scores[0, 2], scores[1, 0] = 0.0, 0.0  # I-PER O
    from label_semantics.prediction import decode_tags

    assert decode_tags(loaded, [scores]) == [["I-PER", "O"]]


def test_labels_in_another_scheme_are_scored_in_the_models_own(model):
    model.set_labels(IO)
    assert model.labels == IOB2 and model.config.tag_scheme == "IOB2" and model.config.data_scheme == "IO"
    assert model.config.label_descriptions[1] == "begin person"
    model.set_labels(BIOES)
    assert model.labels == IOB2 and model.config.data_scheme == "BIOES"
    model.set_labels(["O", "B-LOC", "I-LOC", "B-PER", "I-PER"])  # the model's scheme: kept as given
    assert model.labels == ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"] and model.config.data_scheme == "IOB2"
    model.set_labels(IO, model_scheme="IO")  # retraining in another scheme is explicit
    assert model.labels == IO and model.config.tag_scheme == "IO"


def test_a_tag_keyed_description_the_model_does_not_score_is_an_error(model):
    with pytest.raises(ValueError, match=r"\['S-PER'\].*IOB2"):
        model.set_labels(BIOES, descriptions={"S-PER": "a one-word person"})
    model.set_labels(BIOES, descriptions={"PER": "human being"})
    assert model.config.label_descriptions[1] == "begin human being"


def test_a_label_set_without_o_is_an_error(model):
    # failed before: accepted, then every word was tagged
    with pytest.raises(ValueError, match=r"no 'O'.*\['O', 'B-PER', 'I-PER'\]"):
        model.set_labels(["B-PER", "I-PER"])


def test_descriptions_of_unknown_tokens_only_are_an_error(model):
    # failed before: accepted, so two types could share one label vector
    with pytest.raises(ValueError, match=r"'O' tokenises to unknown tokens only"):
        model.set_labels(IOB2, descriptions={"O": "€€"})
    with pytest.raises(ValueError, match=r"'B-X' and 'B-Y' tokenise to the same ids"):
        model.set_labels(["O", "B-X", "I-X", "B-Y", "I-Y"], descriptions={"X": "☃", "Y": "★"})


def test_type_names_keep_their_non_ascii_letters():
    # failed before: "caf", "stra e"
    assert describe_type("café") == "café"
    assert describe_type("Straße_Name") == "straße name"
    assert describe_type("ÜberOrt") == "über ort"
    assert describe_type("RestaurantName") == "restaurant name" and describe_type("GPE2x") == "gpe 2 x"


# ------------------------------------------------------------------------------------------------ boundaries


def _sentences(n, seed):
    """Sentences of filler words and names; some hold two adjacent entities of one type, which IO copies join."""
    rng = random.Random(seed)
    names = {"PER": ["john", "mary", "smith"], "LOC": ["paris", "london", "berlin"]}
    filler = "the a of in to and is was at on".split()
    rows = []
    for _ in range(n):
        tokens, tags = [], []
        for _ in range(rng.randint(3, 7)):
            tokens.append(rng.choice(filler))
            tags.append("O")
            if rng.random() < 0.5:
                kind = rng.choice(["PER", "LOC"])
                for _ in range(2 if rng.random() < 0.2 else 1):  # two adjacent entities now and then
                    for i in range(rng.randint(1, 2)):
                        tokens.append(rng.choice(names[kind]))
                        tags.append(("B-" if i == 0 else "I-") + kind)
        rows.append({"tokens": tokens, "ner_tags": tags})
    return rows


def _in_scheme(rows, scheme):
    return [
        {"tokens": r["tokens"], "ner_tags": convert_scheme(r["ner_tags"], scheme, source="IOB2")}
        for r in rows
    ]


@pytest.fixture(scope="module")
def trained(_tiny_encoder_dir, tmp_path_factory):
    """A tiny model trained in IOB2 on toy sentences, saved; and unseen test sentences."""
    torch.manual_seed(0)
    model = LabelSemanticsForTokenClassification.from_encoder(_tiny_encoder_dir, labels=IOB2)
    out = tmp_path_factory.mktemp("schemes")
    finetune(
        model,
        Dataset.from_list(_sentences(60, 0)),
        output_dir=str(out / "tmp"),
        epochs=40,
        learning_rate=2e-3,
        disable_tqdm=True,
    )
    model.save_pretrained(out / "model")
    return out / "model", _sentences(20, 1)


@pytest.mark.parametrize("scheme", ["IO", "IOB1", "BIOES"])
def test_a_trained_model_scores_the_same_on_copies_of_its_test_data_in_another_scheme(
    trained, scheme, tmp_path
):
    path, test = trained
    model = LabelSemanticsForTokenClassification.from_pretrained(path)
    reference = evaluate_ner(model, test)
    assert reference["overall_f1"] > 0.5  # it learned something, so equality below means something
    copy = _in_scheme(test, scheme)

    # predict / evaluate_ner: labels given in the data's scheme
    other = LabelSemanticsForTokenClassification.from_pretrained(path)
    other.set_labels(["O", *sorted({t for r in copy for t in r["ner_tags"] if t != "O"})], tag_scheme=scheme)
    assert sorted(other.labels) == sorted(
        model.labels
    )  # id2label stays in the model scheme: what the logits mean
    tags = predict_tags(other, [r["tokens"] for r in copy])
    assert all(is_valid_sequence(t, scheme) for t in tags)
    assert tags == [
        convert_scheme(t, scheme, source="IOB2") for t in predict_tags(model, [r["tokens"] for r in test])
    ]
    expected = compute_ner_metrics(tags, [r["ner_tags"] for r in copy])["overall_f1"]
    if (
        scheme != "IO"
    ):  # lossless: the very same entities; IO joins adjacent ones in gold and prediction alike
        assert expected == pytest.approx(reference["overall_f1"])
    assert evaluate_ner(other, copy)["overall_f1"] == pytest.approx(expected)
    for words, sentence_tags in zip([r["tokens"] for r in test], tags):
        entities = [(e["label"], e["word_start"], e["word_end"]) for e in other.predict(" ".join(words))]
        assert entities == tags_to_spans(sentence_tags)

    # gold in another scheme than the labels is converted, never scored as it stands
    assert evaluate_ner(model, copy)["overall_f1"] == pytest.approx(expected)

    # the CLI
    data = tmp_path / "data"
    data.mkdir()
    (data / "test.txt").write_text(
        "\n\n".join("\n".join(f"{w}\t{t}" for w, t in zip(r["tokens"], r["ner_tags"])) for r in copy) + "\n"
    )
    other.save_pretrained(tmp_path / "other")
    assert (
        LabelSemanticsForTokenClassification.from_pretrained(tmp_path / "other").config.data_scheme == scheme
    )
    assert (
        cli_main(
            ["evaluate", "--model", str(tmp_path / "other"), "--data", str(data), "--split", "test", "--json"]
        )
        == 0
    )


def test_the_cli_and_the_pipeline_on_io_data(trained, tmp_path, capsys):
    path, test = trained
    copy = _in_scheme(test, "IO")
    data = tmp_path / "data"
    data.mkdir()
    (data / "test.txt").write_text(
        "\n\n".join("\n".join(f"{w}\t{t}" for w, t in zip(r["tokens"], r["ner_tags"])) for r in copy) + "\n"
    )
    capsys.readouterr()
    assert cli_main(["evaluate", "--model", str(path), "--data", str(data), "--split", "test", "--json"]) == 0
    io_f1 = json.loads(capsys.readouterr().out)["overall_f1"]
    model = LabelSemanticsForTokenClassification.from_pretrained(path)
    predicted = [
        convert_scheme(t, "IO", source="IOB2") for t in predict_tags(model, [r["tokens"] for r in test])
    ]
    assert io_f1 == pytest.approx(compute_ner_metrics(predicted, [r["ner_tags"] for r in copy])["overall_f1"])

    model.set_labels(IO)
    model.save_pretrained(tmp_path / "io")
    stock = pipeline("token-classification", model=str(tmp_path / "io"), aggregation_strategy="first")
    tagger = pipeline("label-semantics-ner", model=str(tmp_path / "io"))
    io_model = LabelSemanticsForTokenClassification.from_pretrained(tmp_path / "io")
    assert io_model.labels == IOB2  # what the stock pipeline sees: the model's own labels
    iob2 = LabelSemanticsForTokenClassification.from_pretrained(path)
    for row in test:
        text = " ".join(row["tokens"])
        expected = [(e["label"], e["text"]) for e in io_model.predict(text)]
        assert [(e["entity_group"], e["word"]) for e in tagger(text)] == expected  # IO: adjacent ones joined
        stock_entities = [(e["entity_group"], e["word"]) for e in stock(text)]
        assert stock_entities == [(e["label"], e["text"]) for e in iob2.predict(text)]  # the IOB2 reading


def test_finetune_converts_io_training_data_into_the_models_scheme(model, caplog):
    rows = [{"tokens": ["john", "smith", "visited", "paris"], "ner_tags": ["I-PER", "I-PER", "O", "I-LOC"]}]
    with caplog.at_level(logging.WARNING, logger="label_semantics.training"):
        converted = to_model_scheme(rows, model)
    assert converted[0]["ner_tags"] == ["B-PER", "I-PER", "O", "B-LOC"]
    assert "ONE entity" in caplog.text
    assert to_model_scheme(converted, model) is converted  # nothing to do in the model's own scheme


def test_compute_metrics_takes_the_scheme_from_a_config(model):
    model.set_labels(IOB2, model_scheme="IOB1")
    logits = torch.full((1, 3, 5), -5.0)
    logits[0, 1, 2] = 5.0  # I-PER
    logits[0, 0, 0] = logits[0, 2, 0] = 5.0
    gold = torch.tensor([[-100, 2, -100]])
    result = build_compute_metrics(model.config, viterbi=True)((logits.numpy(), gold.numpy()))
    assert result["overall_f1"] == 1.0  # decoded in IOB1: I-PER may open an entity


def test_evaluate_ner_warns_about_gold_types_the_model_does_not_predict(model, caplog):
    rows = [{"tokens": ["john", "visited", "acme"], "ner_tags": ["B-PER", "O", "B-ORG"]}]
    with caplog.at_level(logging.WARNING, logger="label_semantics.training"):
        evaluate_ner(model, rows)
    assert "['ORG']" in caplog.text and "missed" in caplog.text


def test_finetune_reads_the_data_in_the_scheme_it_is_given_and_leaves_no_empty_folder(model, tmp_path):
    rows = Dataset.from_list([{"tokens": ["john", "visited", "paris"], "ner_tags": ["B-PER", "O", "B-LOC"]}])
    with pytest.raises(SchemeError, match="BIOES"):  # the scheme passed is used, not detected again
        finetune(model, rows, output_dir=str(tmp_path / "a"), max_steps=1, scheme="BIOES", disable_tqdm=True)
    finetune(model, rows, output_dir=str(tmp_path / "b"), max_steps=1, scheme="IOB2", disable_tqdm=True)
    assert not (tmp_path / "b").exists()  # nothing was saved, so no empty Trainer folder is left


def test_an_empty_trainer_folder_removed_by_another_process_is_not_an_error(tmp_path):
    from label_semantics.training import remove_if_empty

    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "model.safetensors").write_text("x")
    (tmp_path / "empty").mkdir()
    assert remove_if_empty(tmp_path / "empty") and not (tmp_path / "empty").exists()
    assert not remove_if_empty(tmp_path / "empty")  # a second process's removal came first: no FileNotFoundError
    assert not remove_if_empty(tmp_path / "full") and (tmp_path / "full" / "model.safetensors").exists()


def test_fewshot_transfer_takes_the_target_scheme(model, tmp_path):
    target = Dataset.from_list(
        [{"tokens": ["mary", "in", "london"], "ner_tags": ["I-PER", "O", "I-LOC"]}] * 3
    )
    model, support = fewshot_transfer(
        model,
        None,
        target,
        k=1,
        output_dir=str(tmp_path),
        target_steps=1,
        target_scheme="IOB1",
        disable_tqdm=True,
    )
    assert model.config.data_scheme == "IOB1" and model.config.tag_scheme == "IOB2"
    assert len(support) == 1 and not (tmp_path / "run").exists()  # no empty Trainer folders left behind
