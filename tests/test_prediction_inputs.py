"""Inputs that `predict()` must not lose or crash on: scripts without spaces, bad batch sizes."""

from __future__ import annotations

import copy
from types import SimpleNamespace

import pytest
import torch
from tokenizers.pre_tokenizers import ByteLevel, WhitespaceSplit
from transformers import BertConfig, BertForTokenClassification, PretrainedConfig

from label_semantics import LabelSemanticsForTokenClassification, prediction
from label_semantics.prediction import _window_limit, predict_entities, predict_tags, score_words, split_words

from .conftest import tiny_tokenizer


@pytest.fixture
def model(tiny_encoder_dir):
    return LabelSemanticsForTokenClassification.from_encoder(tiny_encoder_dir, labels=["O", "B-PER", "I-PER"])


def test_chinese_and_japanese_text_is_split_into_characters(model):
    # failed before: "张三住在北京" was one word, so an entity could only be the whole string
    words = split_words("张三住在北京 and パリ", model.tokenizer)
    assert [w for w, _ in words] == ["张", "三", "住", "在", "北", "京", "and", "パ", "リ"]
    assert words[1] == ("三", (1, 2)) and words[-1] == ("リ", (12, 13))
    assert [w for w, _ in split_words("ab北cd", model.tokenizer)] == ["ab", "北", "cd"]
    # the pieces around the characters keep their offsets when the word does not open the text
    assert split_words("ab x東京y", model.tokenizer) == [
        ("ab", (0, 2)),
        ("x", (3, 4)),
        ("東", (4, 5)),
        ("京", (5, 6)),
        ("y", (6, 7)),
    ]
    assert len(model.predict(["张三住在北京"], viterbi=False)[0]) <= 6


def with_pre_tokenizer(tokenizer, pre_tokenizer):
    """A copy of a fast tokenizer that splits words with `pre_tokenizer` (`None`: no pre-tokenizer)."""
    tokenizer = copy.deepcopy(tokenizer)
    tokenizer.backend_tokenizer.pre_tokenizer = pre_tokenizer
    return tokenizer


def test_words_are_those_of_the_tokenizers_own_pre_tokenizer(tokenizer):
    text = "in Paris. now"
    assert [w for w, _ in split_words(text, tokenizer)] == ["in", "Paris", ".", "now"]  # BERT's
    whitespace = with_pre_tokenizer(tokenizer, WhitespaceSplit())
    assert split_words(text, whitespace) == [("in", (0, 2)), ("Paris.", (3, 9)), ("now", (10, 13))]


def test_byte_level_words_leave_out_the_space_the_pre_tokenizer_attaches(tokenizer):
    text = "ab  cd x. "  # ByteLevel yields "ab", " ", " cd", " x", ".", " "
    words = split_words(text, with_pre_tokenizer(tokenizer, ByteLevel(add_prefix_space=False)))
    assert words == [("ab", (0, 2)), ("cd", (4, 6)), ("x", (7, 8)), (".", (8, 9))]


def test_without_a_pre_tokenizer_words_and_punctuation_are_split(tokenizer):
    text = "in Paris. 北京"
    expected = [("in", (0, 2)), ("Paris", (3, 8)), (".", (8, 9)), ("北", (10, 11)), ("京", (11, 12))]
    assert split_words(text, with_pre_tokenizer(tokenizer, None)) == expected
    assert split_words(text, None) == expected  # no backend tokenizer at all (a slow one, or none)


def test_an_input_of_the_wrong_type_is_a_clear_error(model):
    with pytest.raises(
        TypeError,
        match=r"^predict\(\) takes a str, a list of str, or pre-tokenised words, got int\. "
        r"Example: model\.predict\('John lives in Paris\.'\)$",
    ):
        model.predict(42)
    for inputs, kind in ((["john", 42], "int"), ([["john", 1]], "list")):
        with pytest.raises(
            TypeError,
            match=rf"^predict\(\) got a list holding {kind}; give a list of str \(texts\) or a list of lists of str "
            r"\(pre-tokenised sentences\)\.$",
        ):
            model.predict(inputs)


@pytest.mark.parametrize("batch_size", [0, -1, 2.5, True])
def test_a_bad_batch_size_is_a_clear_error(model, batch_size):
    # failed before: batch_size=-1 raised TypeError: 'NoneType' object is not subscriptable, 0 a range() error
    with pytest.raises(ValueError, match=rf"batch_size={batch_size!r} must be a positive whole number"):
        model.predict("john smith", batch_size=batch_size)


@pytest.mark.parametrize("max_length", [2, 0, 64.0, True, "64"])
def test_a_bad_max_length_is_a_clear_error(model, max_length):
    with pytest.raises(
        ValueError,
        match=rf"^max_length={max_length!r} must be a whole number of tokens above 2, e\.g\. max_length=128\.$",
    ):
        model.predict("john smith", max_length=max_length)


def test_the_smallest_window_and_batch(model):
    # max_length=3: [CLS], one token, [SEP]; stride 0 (a quarter of 3, rounded down)
    assert len(predict_tags(model, [["john", "smith", "visited"]], max_length=3, batch_size=1)[0]) == 3


def test_a_bad_stride_is_a_clear_error(model):
    with pytest.raises(
        ValueError,
        match=r"^stride=62 must be at least 0 and smaller than max_length - 2 = 62; e\.g\. stride=16\.$",
    ):
        model.predict("john", stride=62)  # max_length defaults to the encoder's 64
    with pytest.raises(
        ValueError,
        match=r"^stride=-1 must be at least 0 and smaller than max_length - 2 = 9; e\.g\. stride=2\.$",
    ):
        model.predict("john", max_length=11, stride=-1)


def test_stride_defaults_to_a_quarter_of_the_window(model):
    words = ("john smith visited paris and " * 4).split()
    (default,) = score_words(model, [words], max_length=12)
    (quarter,) = score_words(model, [words], max_length=12, stride=3)
    (fifth,) = score_words(model, [words], max_length=12, stride=2)
    assert torch.equal(default, quarter) and not torch.allclose(default, fifth)


def test_a_tokenizer_that_is_not_fast_is_a_clear_error(model):
    fix = (
        r"^Prediction needs a fast tokenizer: load the model with from_pretrained/from_encoder on a folder that "
        r"holds one, or pass tokenizer=AutoTokenizer\.from_pretrained\(path\)\.$"
    )
    for tokenizer in (SimpleNamespace(is_fast=False), object()):  # a slow tokenizer; something else
        with pytest.raises(ValueError, match=fix):
            model.predict("john", tokenizer=tokenizer)


def test_any_token_classifier_with_tag_labels_predicts(tiny_encoder_dir):
    # a stock transformers model: no `tokenizer`, no `tag_scheme` in its config
    labels = ["O", "B-PER", "I-PER"]
    model = BertForTokenClassification.from_pretrained(
        tiny_encoder_dir, id2label=dict(enumerate(labels)), label2id={x: i for i, x in enumerate(labels)}
    )
    tokenizer = tiny_tokenizer()
    with pytest.raises(ValueError, match="Prediction needs a fast tokenizer"):
        predict_entities(model, "john smith")
    for viterbi in (True, False):
        tags = predict_tags(model, [["john", "smith"], []], tokenizer=tokenizer, viterbi=viterbi)
        assert [len(t) for t in tags] == [2, 0] and set(tags[0]) <= set(labels)
        assert isinstance(predict_entities(model, "john smith", tokenizer=tokenizer, viterbi=viterbi), list)


def test_the_tokenizers_own_limit_sets_the_window(model):
    short = copy.deepcopy(model.tokenizer)
    short.model_max_length = 12
    words = ("john smith visited paris and " * 4).split()
    (own,) = score_words(model, [words], tokenizer=short)
    (asked,) = score_words(model, [words], max_length=12)
    (whole,) = score_words(model, [words])
    assert torch.equal(own, asked) and not torch.allclose(own, whole)


def test_a_corrupt_label_tokenizer_is_a_clear_error(tiny_encoder_dir, tmp_path):
    # failed before: KeyError: 'added_tokens'
    model = LabelSemanticsForTokenClassification.from_encoder(
        tiny_encoder_dir, labels=["O", "B-PER", "I-PER"], label_encoder_name_or_path=tiny_encoder_dir
    )
    model.save_pretrained(tmp_path / "m")
    (tmp_path / "m" / "label_tokenizer" / "tokenizer.json").write_text("{}")
    with pytest.raises(ValueError, match=r"label_tokenizer.*cannot be loaded.*save the model again"):
        LabelSemanticsForTokenClassification.from_pretrained(tmp_path / "m")


def test_windows_fit_the_encoder_when_the_tokenizer_sets_no_limit(model):
    unlimited = tiny_tokenizer()  # model_max_length 1e30: the limit is the encoder's 64 positions
    assert unlimited.model_max_length > 10**6 and model.config.get_text_config().max_position_embeddings == 64
    words = ("john smith visited paris and " * 20).split()  # 100 words, 100 tokens
    assert predict_tags(model, [words], tokenizer=unlimited) == predict_tags(model, [words])


def test_window_limit_of_a_config_without_position_embeddings():
    model = SimpleNamespace(config=PretrainedConfig())  # e.g. an encoder with relative positions only
    assert _window_limit(model, SimpleNamespace(model_max_length=128)) == 128
    assert _window_limit(model, SimpleNamespace(model_max_length=10**30)) == 512
    bert = SimpleNamespace(config=BertConfig(max_position_embeddings=40))
    assert _window_limit(bert, SimpleNamespace()) == 40  # a tokenizer that states no limit
    assert _window_limit(bert, SimpleNamespace(model_max_length=0)) == 40  # nor a usable one


def test_a_word_left_without_a_prediction_is_an_error_not_a_gap(model, monkeypatch):
    windows = prediction._windows

    def losing_a_word(*args):
        found, best = windows(*args)
        del best[0][1]
        return found, best

    monkeypatch.setattr(prediction, "_windows", losing_a_word)
    with pytest.raises(
        RuntimeError, match=r"^words \[1\] of sentence 0 received no prediction; please report this$"
    ):
        model.predict(["john", "smith"], is_split_into_words=True)
