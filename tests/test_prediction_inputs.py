"""Inputs that `predict()` must not lose or crash on: scripts without spaces, bad batch sizes."""

from __future__ import annotations

import pytest

from label_semantics import LabelSemanticsForTokenClassification
from label_semantics.prediction import split_words


@pytest.fixture
def model(tiny_encoder_dir):
    return LabelSemanticsForTokenClassification.from_encoder(tiny_encoder_dir, labels=["O", "B-PER", "I-PER"])


def test_chinese_and_japanese_text_is_split_into_characters(model):
    # failed before: "张三住在北京" was one word, so an entity could only be the whole string
    words = split_words("张三住在北京 and パリ", model.tokenizer)
    assert [w for w, _ in words] == ["张", "三", "住", "在", "北", "京", "and", "パ", "リ"]
    assert words[1] == ("三", (1, 2)) and words[-1] == ("リ", (12, 13))
    assert [w for w, _ in split_words("ab北cd", model.tokenizer)] == ["ab", "北", "cd"]
    assert len(model.predict(["张三住在北京"], viterbi=False)[0]) <= 6


@pytest.mark.parametrize("batch_size", [0, -1, 2.5, True])
def test_a_bad_batch_size_is_a_clear_error(model, batch_size):
    # failed before: batch_size=-1 raised TypeError: 'NoneType' object is not subscriptable, 0 a range() error
    with pytest.raises(ValueError, match=rf"batch_size={batch_size!r} must be a positive whole number"):
        model.predict("john smith", batch_size=batch_size)


def test_a_corrupt_label_tokenizer_is_a_clear_error(tiny_encoder_dir, tmp_path):
    # failed before: KeyError: 'added_tokens'
    model = LabelSemanticsForTokenClassification.from_encoder(
        tiny_encoder_dir, labels=["O", "B-PER", "I-PER"], label_encoder_name_or_path=tiny_encoder_dir
    )
    model.save_pretrained(tmp_path / "m")
    (tmp_path / "m" / "label_tokenizer" / "tokenizer.json").write_text("{}")
    with pytest.raises(ValueError, match=r"label_tokenizer.*cannot be loaded.*save the model again"):
        LabelSemanticsForTokenClassification.from_pretrained(tmp_path / "m")
