"""Pipelines on saved checkpoints: the stock token-classification pipeline on a dual tower (every aggregation
strategy, stride), the registered label-semantics-ner pipeline (zero-shot labels at call time, cached label
vectors), and the stock text-classification pipeline on a label-token classifier."""

from __future__ import annotations

import pytest
import torch
from transformers import BertForTokenClassification, pipeline

from label_semantics import LabelSemanticsForTokenClassification, LabelTokenForSequenceClassification
from label_semantics.pipelines import TASK, LabelSemanticsNERPipeline, LabelSetError, resolve_label_set
from tests.test_modeling_label_semantics import TOY, make_model, train

TEXT = "john smith visited paris"
EXPECTED = [("PER", "john smith", 0, 10), ("LOC", "paris", 19, 24)]


def spans(entities, key="entity_group"):
    return [(e[key], e["word"], e["start"], e["end"]) for e in entities]


@pytest.fixture(scope="module")
def ner(_tiny_encoder_dir, tmp_path_factory):
    """A tiny dual tower trained on the toy sentences, saved; returns (model, folder)."""
    model = make_model(_tiny_encoder_dir)
    train(model)
    folder = tmp_path_factory.mktemp("ner-checkpoint")
    model.save_pretrained(folder)
    return model, str(folder)


@pytest.mark.parametrize("strategy", ["simple", "first", "average", "max"])
def test_stock_pipeline_with_every_aggregation_strategy(ner, strategy):
    model, folder = ner
    tagger = pipeline("token-classification", model=folder, aggregation_strategy=strategy)
    assert isinstance(tagger.model, LabelSemanticsForTokenClassification)
    found = tagger(TEXT)
    assert spans(found) == EXPECTED
    assert all(0.5 < e["score"] <= 1.0 for e in found)
    assert [(e["label"], e["start"], e["end"]) for e in model.predict(TEXT)] == [
        (label, start, end) for label, _, start, end in EXPECTED
    ]


def test_stock_pipeline_without_aggregation_gives_tags(ner):
    _, folder = ner
    tokens = pipeline("token-classification", model=folder)(TEXT)
    assert [(e["entity"], e["word"]) for e in tokens] == [
        ("B-PER", "john"),
        ("I-PER", "smith"),
        ("B-LOC", "paris"),
    ]


def test_stock_pipeline_stride_tags_texts_longer_than_the_window(ner):
    model, folder = ner
    tagger = pipeline("token-classification", model=folder, aggregation_strategy="first")
    text = " ".join(" ".join(words) for words, _ in TOY * 6)
    assert len(tagger.tokenizer(text)["input_ids"]) > model.config.text_config.max_position_embeddings
    found = tagger(text, stride=16)
    predicted = {(e["label"], e["start"], e["end"]) for e in model.predict(text)}
    assert {(e["entity_group"], e["start"], e["end"]) for e in found} == predicted
    assert max(e["end"] for e in found) > len(text) - 10  # the last window was tagged
    # without stride the text is truncated to one window (the saved tokenizer knows the limit: no crash)
    assert max(e["end"] for e in tagger(text)) < len(text) * 0.8


def test_registered_pipeline_defaults_to_the_models_labels(ner):
    _, folder = ner
    tagger = pipeline(TASK, model=folder)
    assert isinstance(tagger, LabelSemanticsNERPipeline)
    assert spans(tagger(TEXT)) == EXPECTED  # entities: aggregation_strategy defaults to "first"
    assert spans(tagger(TEXT, aggregation_strategy="simple")) == EXPECTED


@pytest.mark.parametrize(
    "labels, descriptions, groups",
    [
        (["person", "location"], None, ["person", "location"]),
        ({"human": "person", "city": "location"}, None, ["human", "city"]),
        (["someone", "town"], {"someone": "person", "town": "location"}, ["someone", "town"]),
        (["PER", "LOC"], None, ["PER", "LOC"]),  # built-in descriptions: person, location
    ],
)
def test_zero_shot_labels_by_name_or_description(ner, labels, descriptions, groups):
    _, folder = ner
    tagger = pipeline(TASK, model=folder)
    found = tagger(TEXT, labels=labels, descriptions=descriptions)
    assert spans(found) == [(g, word, s, e) for g, (_, word, s, e) in zip(groups, EXPECTED)]


def test_zero_shot_type_written_as_a_description(ner):
    _, folder = ner
    labels = ["person", "geographical location"]
    tagger = pipeline(TASK, model=folder, aggregation_strategy="first", labels=labels)
    found = tagger([TEXT, "mary lives in london"], batch_size=2)
    assert [[(e["entity_group"], e["word"]) for e in row] for row in found] == [
        [("person", "john smith"), ("geographical location", "paris")],
        [("person", "mary"), ("geographical location", "london")],
    ]
    tags = [e["entity"] for e in tagger(TEXT, aggregation_strategy="none")]
    assert tags == ["B-person", "I-person", "B-geographical_location"]


def test_label_vectors_encoded_once_per_label_set_and_user_model_untouched(ner, monkeypatch):
    model, folder = ner
    tagger = pipeline(TASK, model=folder)
    loaded = tagger.model
    calls = []
    original = LabelSemanticsForTokenClassification.encode_labels

    def counting(self, *args, **kwargs):
        calls.append(tuple(self.config.labels))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(LabelSemanticsForTokenClassification, "encode_labels", counting)
    for _ in range(3):
        tagger(TEXT, labels=["person", "location"])
    assert calls == [("O", "B-person", "I-person", "B-location", "I-location")]
    tagger([TEXT, TEXT], labels=["city"])
    tagger(TEXT, labels=["person", "location"])
    assert len(calls) == 2
    # new weights, new vectors
    with torch.no_grad():
        loaded.text_encoder.embeddings.word_embeddings.weight.mul_(1.0)
    tagger(TEXT, labels=["person", "location"])
    assert len(calls) == 3
    # the model the user holds keeps its labels, and the pipeline still answers with them
    assert loaded.config.labels == model.config.labels
    assert loaded.config.label_descriptions == model.config.label_descriptions
    assert spans(tagger(TEXT)) == EXPECTED
    assert sum(p.numel() for p in loaded.parameters()) == sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize(
    "labels, descriptions, match",
    [
        ([], None, "labels is empty"),
        (["B-PER"], None, r"not tags: got 'B-PER'.*labels=\['PER'\]"),
        (["O", "city"], None, "not tags"),
        (["city", "city"], None, "appears twice"),
        (["city", ""], None, "non-empty entity type"),
        (["city"], {"city": " "}, "description of 'city'"),
        (42, None, "got int"),
    ],
)
def test_bad_label_sets_name_the_argument(labels, descriptions, match):
    with pytest.raises(LabelSetError, match=match):
        resolve_label_set(labels, descriptions)


def test_resolve_label_set():
    assert resolve_label_set(["PER", "musical artist"]) == (
        ["PER", "musical_artist"],
        {"PER": "person", "musical_artist": "musical artist"},
        {"PER": "PER", "musical_artist": "musical artist"},
    )
    assert resolve_label_set("city")[1] == {"city": "city"}


def test_labels_need_a_label_semantics_model(ner, tiny_encoder_dir, tmp_path):
    _, folder = ner
    bert = BertForTokenClassification.from_pretrained(tiny_encoder_dir, num_labels=3)
    bert.save_pretrained(tmp_path)
    tagger = pipeline(TASK, model=str(tmp_path), tokenizer=folder)
    assert len(tagger(TEXT)) > 0  # the stock behaviour without labels=
    with pytest.raises(LabelSetError, match="labels= needs a label-semantics model"):
        tagger(TEXT, labels=["person"])
    with pytest.raises(LabelSetError, match="descriptions= was given without labels="):
        tagger(TEXT, descriptions={"person": "a human"})


@pytest.fixture(scope="module")
def label_token_folders(_tiny_encoder_dir, tmp_path_factory):
    folders = {}
    for problem_type in ("single_label_classification", "multi_label_classification"):
        torch.manual_seed(0)
        model = LabelTokenForSequenceClassification.from_encoder(
            _tiny_encoder_dir, labels=["sadness", "joy", "anger"], problem_type=problem_type
        ).eval()
        folders[problem_type] = (model, str(tmp_path_factory.mktemp(problem_type)))
        model.save_pretrained(folders[problem_type][1])
    return folders


@pytest.mark.parametrize("problem_type", ["single_label_classification", "multi_label_classification"])
def test_stock_text_classification_pipeline_on_a_label_token_checkpoint(label_token_folders, problem_type):
    model, folder = label_token_folders[problem_type]
    classifier = pipeline("text-classification", model=folder)
    assert isinstance(classifier.model, LabelTokenForSequenceClassification)
    texts = ["i feel happy", "anger at the company"]
    with torch.no_grad():
        logits = model(**model.tokenizer(texts, padding=True, return_tensors="pt")).logits
    probs = logits.sigmoid() if problem_type.startswith("multi") else logits.softmax(-1)
    everything = classifier(texts, top_k=None)
    for row, expected in zip(everything, probs.tolist()):
        assert {r["label"]: r["score"] for r in row} == {
            label: pytest.approx(p, abs=1e-5) for label, p in zip(["sadness", "joy", "anger"], expected)
        }
        assert [r["score"] for r in row] == sorted((r["score"] for r in row), reverse=True)
    top2 = classifier(texts[0], top_k=2)
    assert [r["label"] for r in top2] == [r["label"] for r in everything[0][:2]]
    if problem_type.startswith("multi"):
        assert sum(r["score"] for r in everything[0]) != pytest.approx(1.0, abs=1e-3)
    else:
        assert sum(r["score"] for r in everything[0]) == pytest.approx(1.0, abs=1e-5)
