"""Reduced-precision prediction: `dtype="bfloat16"` runs the encoder in bf16, label vectors and decoding in fp32."""

from __future__ import annotations

import pytest
import torch
from transformers import BertForTokenClassification

from label_semantics.precision import resolve_dtype, scoring_function
from label_semantics.prediction import predict_tags, score_words

from .conftest import tiny_bert_config, tiny_tokenizer
from .test_modeling_label_semantics import make_model, train

SENTENCES = [
    "john smith visited paris".split(),
    "mary jones works at acme corp in new york city".split(),
    "the film was great and berlin was sad".split(),
    "google bought apple in london".split(),
    ("john lives in berlin and mary lives in paris " * 8).split(),  # several windows
]


@pytest.fixture(scope="module")
def model(_tiny_encoder_dir):
    model = make_model(_tiny_encoder_dir)
    train(model, steps=60)
    return model


def test_bfloat16_tags_mostly_match_float32(model):
    fp32 = predict_tags(model, SENTENCES)
    bf16 = predict_tags(model, SENTENCES, dtype="bfloat16")
    words = sum(len(s) for s in SENTENCES)
    same = sum(a == b for x, y in zip(fp32, bf16) for a, b in zip(x, y))
    assert [len(t) for t in bf16] == [len(s) for s in SENTENCES]
    assert same / words >= 0.9
    # the log-probabilities come back float32 and close to the fp32 ones
    a, b = score_words(model, SENTENCES[:2]), score_words(model, SENTENCES[:2], dtype=torch.bfloat16)
    assert all(x.dtype == torch.float32 == y.dtype for x, y in zip(a, b))
    assert max((x - y).abs().max().item() for x, y in zip(a, b)) < 0.5
    entities = model.predict(" ".join(SENTENCES[0]), dtype="bf16")
    assert all(isinstance(e["score"], float) for e in entities)


def test_the_model_keeps_its_weights_and_the_copy_is_never_saved(model):
    before = {k: v.clone() for k, v in model.state_dict().items()}
    predict_tags(model, SENTENCES[:1], dtype="bfloat16")
    after = model.state_dict()
    assert after.keys() == before.keys()  # the bf16 copy is not a sub-module
    assert all(after[k].dtype == torch.float32 and torch.equal(after[k], before[k]) for k in before)
    run = scoring_function(model, "bfloat16")
    assert scoring_function(model, "bfloat16") is not run  # a new closure ...
    copy = model.__dict__["_reduced_precision_copy"][1]
    scoring_function(model, "bfloat16")
    assert model.__dict__["_reduced_precision_copy"][1] is copy  # ... over the same cached copy
    assert next(copy.parameters()).dtype == torch.bfloat16


def test_the_copy_follows_new_weights(model):
    predict_tags(model, SENTENCES[:1], dtype="bfloat16")
    old = model.__dict__["_reduced_precision_copy"][1]
    with torch.no_grad():
        model.text_encoder.embeddings.word_embeddings.weight.add_(0.0)  # bumps the version counter
    predict_tags(model, SENTENCES[:1], dtype="bfloat16")
    assert model.__dict__["_reduced_precision_copy"][1] is not old


def test_any_token_classifier_runs_in_bfloat16():
    torch.manual_seed(0)
    tokenizer = tiny_tokenizer()
    config = tiny_bert_config(len(tokenizer))
    config.id2label = {0: "O", 1: "B-PER", 2: "I-PER"}
    config.label2id = {v: k for k, v in config.id2label.items()}
    classifier = BertForTokenClassification(config).eval()
    fp32 = predict_tags(classifier, SENTENCES, tokenizer=tokenizer)
    bf16 = predict_tags(classifier, SENTENCES, tokenizer=tokenizer, dtype="bfloat16")
    assert [len(t) for t in bf16] == [len(t) for t in fp32]


def test_unknown_precision_is_explained(model):
    with pytest.raises(ValueError, match=r"dtype='int4' is not a precision .* e.g. dtype='bfloat16'"):
        model.predict("john", dtype="int4")
    with pytest.raises(ValueError, match="dtype=torch.int8"):
        predict_tags(model, [[]], dtype=torch.int8)  # checked even when there is nothing to tag
    assert resolve_dtype(None) is None and resolve_dtype("FP32") is torch.float32


@pytest.mark.parametrize(
    "amx, avx512_bf16, expected",
    [(True, False, torch.bfloat16), (False, True, torch.bfloat16), (False, False, None)],
)
def test_auto_is_bfloat16_only_where_the_cpu_runs_it_natively(monkeypatch, amx, avx512_bf16, expected):
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16, raising=False)
    assert resolve_dtype("auto") is expected and resolve_dtype("AUTO", "cpu") is expected
    assert resolve_dtype("auto", "meta") is None  # no device but the CPU and CUDA is known to run it natively


def test_auto_runs_the_encoder_in_the_resolved_precision(model, monkeypatch):
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False, raising=False)
    model.__dict__.pop("_reduced_precision_copy", None)
    assert (
        score_words(model, SENTENCES[:2], dtype="auto")[0].tolist()
        == score_words(model, SENTENCES[:2])[0].tolist()
    )
    assert "_reduced_precision_copy" not in model.__dict__  # float32: no copy made
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True, raising=False)
    score_words(model, SENTENCES[:2], dtype="auto")
    assert next(model.__dict__["_reduced_precision_copy"][1].parameters()).dtype == torch.bfloat16
