"""Tests for label_semantics.alignment: tokenisation with word alignment (long sentences split, never truncated),
errors that name the data set's row, and collation."""

from __future__ import annotations

import logging

import datasets
import pytest
import torch
from transformers import CanineTokenizer

from label_semantics.alignment import (
    NERDataCollator,
    SlowTokenizerError,
    UnknownLabelError,
    align_dataset,
    tokenize_and_align,
)
from label_semantics.data import NER_FEATURES, NERDatasetError

LABEL2ID = {"O": 0, "B-PER": 1, "I-PER": 2, "B-LOC": 3, "I-LOC": 4}


# ------------------------------------------------------------------------------------------ tokenize_and_align


def expected_labels(tokenizer, words, tags):
    """Independent reference: label on the first sub-token of each word, from word_ids()."""
    word_ids = tokenizer(words, is_split_into_words=True).word_ids()
    labels, previous = [], None
    for word_id in word_ids:
        labels.append(-100 if word_id is None or word_id == previous else LABEL2ID[tags[word_id]])
        previous = word_id
    return labels


def test_labels_on_first_sub_token_only(tokenizer):
    words, tags = ["john", "smith", "visited", "xyz", "paris"], ["B-PER", "I-PER", "O", "O", "B-LOC"]
    out = tokenize_and_align({"tokens": [words], "ner_tags": [tags]}, tokenizer, LABEL2ID)
    # [CLS] john smith visited x ##y ##z paris [SEP]
    assert out["labels"] == [[-100, 1, 2, 0, 0, -100, -100, 3, -100]]
    assert out["labels"][0] == expected_labels(tokenizer, words, tags)
    assert tokenizer.convert_ids_to_tokens(out["input_ids"][0])[4:7] == ["x", "##y", "##z"]
    assert set(out) == {"input_ids", "token_type_ids", "attention_mask", "labels", "tokens", "ner_tags"}
    assert out["tokens"] == [words] and out["ner_tags"] == [tags]


def labelled_word_positions(out):
    """The label of every labelled sub-token, rows concatenated in order."""
    return [label for labels in out["labels"] for label in labels if label != -100]


@pytest.mark.parametrize("stride_words", [0, 2])
def test_long_sentence_is_split_so_every_word_is_labelled_once(tokenizer, stride_words):
    words = [
        "john",
        "abc",
        "visited",
        "paris",
        "x",
        "london",
        "abcdef",
        "the",
        "city",
        "of",
        "berlin",
        "mary",
    ]
    tags = ["B-PER", "I-PER", "O", "B-LOC", "O", "B-LOC", "O", "O", "O", "O", "B-LOC", "B-PER"]
    max_length = 8
    out = tokenize_and_align(
        {"tokens": [words], "ner_tags": [tags]},
        tokenizer,
        LABEL2ID,
        max_length=max_length,
        stride_words=stride_words,
    )
    assert len(out["input_ids"]) > 2
    assert all(len(ids) <= max_length for ids in out["input_ids"])
    assert all(len(ids) == len(labels) for ids, labels in zip(out["input_ids"], out["labels"], strict=True))
    assert labelled_word_positions(out) == [LABEL2ID[tag] for tag in tags]
    assert [word for row in out["tokens"] for word in row] == words
    assert [tag for row in out["ner_tags"] for tag in row] == tags
    assert all(row_labels.count(-100) < len(row_labels) for row_labels in out["labels"])


def test_stride_words_repeat_unlabelled_context(tokenizer):
    words = "the a an of in to and is was at on for".split()  # one sub-token each
    tags = ["O", "B-PER", "I-PER", "O", "B-LOC", "O", "B-PER", "O", "B-LOC", "I-LOC", "O", "B-PER"]
    batch = {"tokens": [words], "ner_tags": [tags]}
    ids = [LABEL2ID[tag] for tag in tags]
    plain = tokenize_and_align(batch, tokenizer, LABEL2ID, max_length=8)
    assert plain["tokens"] == [words[0:6], words[6:12]]
    assert plain["labels"][1] == [-100, *ids[6:12], -100]
    # budget 6 sub-tokens; 2 context words (at most half the budget) then 4 new words per row
    strided = tokenize_and_align(batch, tokenizer, LABEL2ID, max_length=8, stride_words=2)
    assert strided["tokens"] == [words[0:6], words[6:10], words[10:12]]
    assert tokenizer.convert_ids_to_tokens(strided["input_ids"][1]) == ["[CLS]", *words[4:10], "[SEP]"]
    assert strided["labels"][1] == [-100, -100, -100, *ids[6:10], -100]
    assert strided["labels"][2] == [-100, -100, -100, *ids[10:12], -100]


def test_split_rows_through_dataset_map(tokenizer):
    ds = datasets.Dataset.from_dict(
        {"tokens": [["john"] * 10, ["paris"]], "ner_tags": [["B-PER"] + ["I-PER"] * 9, ["B-LOC"]]},
        features=NER_FEATURES,
    )
    encoded = ds.map(
        tokenize_and_align,
        batched=True,
        fn_kwargs={"tokenizer": tokenizer, "label2id": LABEL2ID, "max_length": 6},
    )
    assert encoded.num_rows == 4  # 4 + 4 + 2 words, then the short sentence
    assert encoded["tokens"][:] == [["john"] * 4, ["john"] * 4, ["john"] * 2, ["paris"]]
    assert encoded["labels"][0] == [-100, 1, 2, 2, 2, -100]


def test_word_longer_than_window_keeps_its_label_and_warns(tokenizer, caplog):
    words, tags = ["john", "abcdefghijkl", "paris"], ["B-PER", "O", "B-LOC"]
    with caplog.at_level(logging.WARNING, logger="label_semantics.alignment"):
        out = tokenize_and_align({"tokens": [words], "ner_tags": [tags]}, tokenizer, LABEL2ID, max_length=6)
    assert "'abcdefghijkl' has 12 sub-tokens" in caplog.text
    assert labelled_word_positions(out) == [1, 0, 3]
    assert all(len(ids) <= 6 for ids in out["input_ids"])


def test_word_without_sub_tokens_becomes_unknown_and_keeps_its_label(tokenizer):
    words, tags = ["john", "\u200b", "paris"], ["B-PER", "B-LOC", "I-LOC"]
    assert tokenizer(words, is_split_into_words=True).word_ids().count(1) == 0  # the premise
    out = tokenize_and_align({"tokens": [words], "ner_tags": [tags]}, tokenizer, LABEL2ID)
    assert labelled_word_positions(out) == [1, 3, 4]
    assert tokenizer.unk_token_id in out["input_ids"][0]
    assert out["tokens"] == [words]


def test_unknown_tag_names_tag_and_known_labels(tokenizer):
    batch = {"tokens": [["a"], ["b"]], "ner_tags": [["O"], ["B-ORG"]]}
    with pytest.raises(
        UnknownLabelError,
        match=r"row 1 of the batch: the tag 'B-ORG' is not in label2id.*'B-LOC'.*convert_scheme",
    ):
        tokenize_and_align(batch, tokenizer, LABEL2ID)
    with pytest.raises(UnknownLabelError, match=r"integer 7.*load_ner_dataset"):
        tokenize_and_align({"tokens": [["a"]], "ner_tags": [[7]]}, tokenizer, LABEL2ID)


def test_slow_tokenizer_is_rejected():
    with pytest.raises(
        SlowTokenizerError, match=r"CanineTokenizer is a Python \('slow'\) tokenizer.*AutoTokenizer"
    ):
        tokenize_and_align({"tokens": [["a"]], "ner_tags": [["O"]]}, CanineTokenizer(), LABEL2ID)


def test_bad_arguments_and_rows(tokenizer):
    batch = {"tokens": [["a"]], "ner_tags": [["O"]]}
    with pytest.raises(ValueError, match="max_length=2 leaves no room"):
        tokenize_and_align(batch, tokenizer, LABEL2ID, max_length=2)
    with pytest.raises(ValueError, match="stride_words=-1 must be >= 0"):
        tokenize_and_align(batch, tokenizer, LABEL2ID, stride_words=-1)
    with pytest.raises(NERDatasetError, match="row 0 of the batch has 2 tokens but 1 tags"):
        tokenize_and_align({"tokens": [["a", "b"]], "ner_tags": [["O"]]}, tokenizer, LABEL2ID)


def test_default_max_length_comes_from_the_tokenizer(tokenizer):
    tokenizer.model_max_length = 5
    out = tokenize_and_align({"tokens": [["john"] * 7], "ner_tags": [["O"] * 7]}, tokenizer, LABEL2ID)
    assert [len(ids) for ids in out["input_ids"]] == [5, 5, 3]


# ------------------------------------------------------------------------------------------ collator


def test_collator_pads_inputs_and_labels(tokenizer):
    out = tokenize_and_align(
        {"tokens": [["john", "xyz"], ["paris"]], "ner_tags": [["B-PER", "O"], ["B-LOC"]]}, tokenizer, LABEL2ID
    )
    rows = [{key: values[i] for key, values in out.items()} for i in range(2)]
    batch = NERDataCollator(tokenizer)(rows)
    assert set(batch) == {"input_ids", "token_type_ids", "attention_mask", "labels"}
    assert batch["input_ids"].shape == batch["labels"].shape == (2, 6)
    assert batch["labels"].dtype == torch.int64
    assert batch["labels"].tolist() == [[-100, 1, 0, -100, -100, -100], [-100, 3, -100, -100, -100, -100]]
    assert batch["attention_mask"].tolist() == [[1] * 6, [1, 1, 1, 0, 0, 0]]
    assert batch["input_ids"][1, 3:].tolist() == [tokenizer.pad_token_id] * 3
    assert batch["token_type_ids"][1].tolist() == [0] * 6


def test_collator_pad_to_multiple_of(tokenizer):
    batch = NERDataCollator(tokenizer, pad_to_multiple_of=8)(
        [{"input_ids": [2, 5, 3], "labels": [-100, 0, -100]}]
    )
    assert batch["input_ids"].shape == (1, 8)
    assert batch["labels"][0].tolist() == [-100, 0] + [-100] * 6


# ------------------------------------------------------------------------------------------ errors name the row


def test_align_dataset_names_the_data_set_row_past_the_first_batch(tokenizer):
    # Dataset.map hands the function batches of 1,000 rows: without the indices row 1,200 was called row 200
    tags = [["O"]] * 1300
    tags[1200] = ["B-ORG"]
    ds = datasets.Dataset.from_dict({"tokens": [["a"]] * 1300, "ner_tags": tags}, features=NER_FEATURES)
    with pytest.raises(UnknownLabelError, match=r"^row 1200: the tag 'B-ORG' is not in label2id"):
        align_dataset(ds, tokenizer, LABEL2ID)
    with pytest.raises(UnknownLabelError, match=r"^row 200 of the batch: the tag 'B-ORG'"):
        ds.map(tokenize_and_align, batched=True, fn_kwargs={"tokenizer": tokenizer, "label2id": LABEL2ID})


def test_align_dataset_encodes_every_word_and_drops_the_input_columns(tokenizer):
    ds = datasets.Dataset.from_dict(
        {"tokens": [["john"] * 10, ["paris"]], "ner_tags": [["B-PER"] + ["I-PER"] * 9, ["B-LOC"]]},
        features=NER_FEATURES,
    )
    encoded = align_dataset(ds, tokenizer, LABEL2ID, max_length=6)
    assert sorted(encoded.column_names) == ["attention_mask", "input_ids", "labels", "token_type_ids"]
    assert encoded.num_rows == 4
    assert [label for labels in encoded["labels"] for label in labels if label != -100] == [1] + [2] * 9 + [3]
    kept = align_dataset(ds, tokenizer, LABEL2ID, max_length=6, keep_words=True)
    assert kept["tokens"][:] == [["john"] * 4, ["john"] * 4, ["john"] * 2, ["paris"]]


def test_one_example_instead_of_a_batch_is_an_error(tokenizer):
    # map without batched=True passes one row: its words would have been read as sentences of characters
    ds = datasets.Dataset.from_dict(
        {"tokens": [["ab", "cd"]], "ner_tags": [["O", "O"]]}, features=NER_FEATURES
    )
    with pytest.raises(ValueError, match=r"holds strings.*batched=True"):
        ds.map(tokenize_and_align, fn_kwargs={"tokenizer": tokenizer, "label2id": LABEL2ID})


def test_max_length_beyond_the_tokenizer_limit_is_an_error(tokenizer):
    tokenizer.model_max_length = 16
    with pytest.raises(ValueError, match=r"max_length=32 is longer than the tokenizer's model_max_length=16"):
        tokenize_and_align({"tokens": [["a"]], "ner_tags": [["O"]]}, tokenizer, LABEL2ID, max_length=32)


def test_the_old_import_path_still_works():
    from label_semantics import alignment, data

    for name in (
        "tokenize_and_align",
        "align_dataset",
        "NERDataCollator",
        "UnknownLabelError",
        "SlowTokenizerError",
    ):
        assert getattr(data, name) is getattr(alignment, name)
