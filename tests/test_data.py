"""Tests for label_semantics.data: column files, datasets, tokenisation with word alignment, collation."""

from __future__ import annotations

import logging
import re

import datasets
import pytest
import torch
from transformers import CanineTokenizer

from label_semantics import data as data_module
from label_semantics.data import (
    NER_FEATURES,
    ColumnFileError,
    NERDataCollator,
    NERDatasetError,
    SlowTokenizerError,
    UnknownLabelError,
    load_ner_dataset,
    normalize_ner_dataset,
    read_column_file,
    tokenize_and_align,
)

LABEL2ID = {"O": 0, "B-PER": 1, "I-PER": 2, "B-LOC": 3, "I-LOC": 4}

# Sentence counts from ../shared/data/README.md (crossner gives ranges per split).
README_COUNTS = {
    "conll2003/train.txt": 14041,
    "conll2003/valid.txt": 3250,
    "conll2003/test.txt": 3453,
    "wnut17/train.conll": 3394,
    "wnut17/dev.conll": 1009,
    "wnut17/test.conll": 1287,
    "mit_movie/train.txt": 9775,
    "mit_movie/test.txt": 2443,
    "mit_restaurant/train.txt": 7660,
    "mit_restaurant/test.txt": 1521,
}
CROSSNER_RANGES = {"train": (100, 200), "dev": (350, 541), "test": (416, 651)}


def write(path, text: str, encoding: str = "utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


def class_label_dataset(rows_tokens, rows_ids, names=("O", "B-PER", "I-PER", "B-LOC", "I-LOC")):
    features = datasets.Features(
        {
            "id": datasets.Value("string"),
            "tokens": datasets.List(datasets.Value("string")),
            "ner_tags": datasets.List(datasets.ClassLabel(names=list(names))),
        }
    )
    ids = [str(i) for i in range(len(rows_tokens))]
    return datasets.Dataset.from_dict(
        {"id": ids, "tokens": rows_tokens, "ner_tags": rows_ids}, features=features
    )


# ------------------------------------------------------------------------------------------ read_column_file


def test_read_two_column_tab_file_with_lone_tab_separators(tmp_path):
    path = write(tmp_path / "a.conll", "John\tB-PER\nsings\tO\n\t\nin\tO\nParis\tB-LOC\n\n\n")
    assert read_column_file(path) == [
        {"tokens": ["John", "sings"], "ner_tags": ["B-PER", "O"]},
        {"tokens": ["in", "Paris"], "ner_tags": ["O", "B-LOC"]},
    ]


def test_read_four_column_space_file_skips_docstart(tmp_path):
    text = (
        "-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\n\n"
        "-DOCSTART- -X- -X- O\n\nPeter NNP B-NP B-PER\nBlackburn NNP I-NP I-PER"
    )
    rows = read_column_file(write(tmp_path / "train.txt", text))
    assert rows == [
        {"tokens": ["EU", "rejects"], "ner_tags": ["B-ORG", "O"]},
        {"tokens": ["Peter", "Blackburn"], "ner_tags": ["B-PER", "I-PER"]},
    ]


def test_docstart_closes_a_sentence_without_blank_line(tmp_path):
    text = "A NN O\n-DOCSTART- -X- -X- O\nB NN B-PER\n"
    rows = read_column_file(write(tmp_path / "f.txt", text))
    assert [row["tokens"] for row in rows] == [["A"], ["B"]]


def test_tag_column_selects_another_column(tmp_path):
    path = write(tmp_path / "f.txt", "Ann B-PER O\nsings O O\n")
    assert read_column_file(path, tag_column=1)[0]["ner_tags"] == ["B-PER", "O"]
    assert read_column_file(path)[0]["ner_tags"] == ["O", "O"]


def test_crlf_bom_and_unicode_line_separators_inside_tokens(tmp_path):
    # U+2028 and U+0085 inside a token must not split it (str.splitlines would)
    text = "\ufeffa\u2028b\tB-PER\r\nc\x85d\tO\r\n\r\ne\tO\r\n"
    rows = read_column_file(write(tmp_path / "f.tsv", text))
    assert rows == [
        {"tokens": ["a\u2028b", "c\x85d"], "ner_tags": ["B-PER", "O"]},
        {"tokens": ["e"], "ner_tags": ["O"]},
    ]


def test_tab_separated_token_may_hold_spaces(tmp_path):
    rows = read_column_file(write(tmp_path / "f.txt", "New York\tB-LOC\n"))
    assert rows[0]["tokens"] == ["New York"]


@pytest.mark.parametrize(
    ("text", "lineno", "bad_line", "problem"),
    [
        ("a\tO\nb\tO\textra\n", 2, "b\tO\textra", "3 columns where the file's first token line has 2"),
        ("a O\n\nb\n", 3, "b", "1 columns where the file's first token line has 2"),
        ("a\tO\nb\tX-PER\n", 2, "b\tX-PER", "invalid tag 'X-PER'"),
        ("a\tO\nb\tPER\n", 2, "b\tPER", "invalid tag 'PER'"),
        ("a\tO\n\tB-PER\n", 2, "\tB-PER", "empty token"),
        ("lonely\n", 1, "lonely", "at least 2 columns"),
    ],
)
def test_malformed_line_names_file_line_number_and_text(tmp_path, text, lineno, bad_line, problem):
    path = write(tmp_path / "bad.txt", text)
    with pytest.raises(ColumnFileError) as info:
        read_column_file(path)
    message = str(info.value)
    assert f"{path}:{lineno}:" in message
    assert repr(bad_line) in message
    assert problem in message


def test_tag_column_out_of_range_is_an_error(tmp_path):
    path = write(tmp_path / "f.txt", "a O\n")
    with pytest.raises(ColumnFileError, match=r"(?s)tag_column=5 .*Pass tag_column=-1"):
        read_column_file(path, tag_column=5)
    with pytest.raises(ColumnFileError, match="tag_column=0"):
        read_column_file(path, tag_column=0)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path / "nope.txt"))):
        read_column_file(tmp_path / "nope.txt")
    with pytest.raises(FileNotFoundError, match="load_ner_dataset"):
        read_column_file(tmp_path)


@pytest.mark.parametrize("text", ["", "\n\n\t\n", "-DOCSTART- -X- -X- O\n\n"])
def test_file_without_sentences_is_an_error(tmp_path, text):
    path = write(tmp_path / "empty.txt", text)
    with pytest.raises(ColumnFileError, match=re.escape(f"{path} holds no sentence")):
        read_column_file(path)


def test_non_utf8_file_is_an_error(tmp_path):
    path = write(tmp_path / "latin.txt", "caf\u00e9\tO\n", encoding="latin-1")
    with pytest.raises(ColumnFileError, match="not UTF-8.*iconv"):
        read_column_file(path)


def test_every_shared_file_reads_with_the_readme_counts(shared_data):
    files = sorted(p for p in (shared_data / "ner").rglob("*") if p.is_file())
    assert len(files) == 25
    for path in files:
        rows = read_column_file(path)
        name = path.relative_to(shared_data / "ner").as_posix()
        if name.startswith("crossner/"):
            low, high = CROSSNER_RANGES[path.stem]
            assert low <= len(rows) <= high, name
        else:
            assert len(rows) == README_COUNTS[name], name
        assert all(len(row["tokens"]) == len(row["ner_tags"]) > 0 for row in rows)


def test_shared_files_first_sentences(shared_data):
    conll = read_column_file(shared_data / "ner/conll2003/valid.txt")
    assert conll[0] == {"tokens": ["CRICKET", "-", "LEICESTERSHIRE", "TAKE", "OVER", "AT", "TOP", "AFTER",
                                   "INNINGS", "VICTORY", "."],
                        "ner_tags": ["O", "O", "B-ORG", "O", "O", "O", "O", "O", "O", "O", "O"]}  # fmt: skip
    restaurant = read_column_file(shared_data / "ner/mit_restaurant/test.txt")
    assert restaurant[0]["tokens"][:3] == ["a", "four", "star"]
    assert restaurant[0]["ner_tags"][:3] == ["O", "B-Rating", "I-Rating"]


# ------------------------------------------------------------------------------------------ load_ner_dataset


@pytest.fixture
def column_folder(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    write(folder / "train.txt", "John\tB-PER\nsings\tO\n\nParis\tB-LOC\n")
    write(folder / "dev.conll", "Mary\tB-PER\n")
    write(folder / "test.bio", "in\tO\nBerlin\tB-LOC\n")
    write(folder / "README.md", "not data\n")
    return folder


def test_load_folder_of_column_files(column_folder):
    ds = load_ner_dataset(column_folder)
    assert sorted(ds) == ["test", "train", "validation"]
    assert ds["train"].features == NER_FEATURES
    assert ds["train"].to_list() == [
        {"tokens": ["John", "sings"], "ner_tags": ["B-PER", "O"]},
        {"tokens": ["Paris"], "ner_tags": ["B-LOC"]},
    ]
    assert ds["validation"]["tokens"][:] == [["Mary"]]


def test_load_selected_splits_with_aliases(column_folder):
    ds = load_ner_dataset(str(column_folder), splits=["train", "dev"])
    assert sorted(ds) == ["train", "validation"]
    with pytest.raises(
        KeyError, match=r"\['unlabeled'\] not found.*available: \['test', 'train', 'validation'\]"
    ):
        load_ner_dataset(column_folder, splits=["unlabeled"])


def test_folder_without_split_files_and_with_two_dev_files(tmp_path, column_folder):
    (tmp_path / "other").mkdir()
    write(tmp_path / "other" / "notes.txt", "a\tO\n")
    with pytest.raises(
        FileNotFoundError, match=r"no column file named after a split \(found \['notes.txt'\]\)"
    ):
        load_ner_dataset(tmp_path / "other")
    write(column_folder / "valid.txt", "b\tO\n")
    with pytest.raises(
        FileNotFoundError, match="two files for the 'validation' split: dev.conll and valid.txt"
    ):
        load_ner_dataset(column_folder)


def test_load_one_file_names_the_split_after_the_file(column_folder, tmp_path):
    assert list(load_ner_dataset(column_folder / "test.bio")) == ["test"]
    sample = write(tmp_path / "sample.txt", "x\tO\n")
    assert list(load_ner_dataset(sample)) == ["train"]


def test_load_column_file_errors_propagate(tmp_path):
    write(tmp_path / "train.txt", "a\tO\nb\tB_PER\n")
    with pytest.raises(ColumnFileError, match=re.escape(f"{tmp_path / 'train.txt'}:2:")):
        load_ner_dataset(tmp_path)


def test_load_class_label_dataset_converts_ids_to_names():
    ds = class_label_dataset([["John", "in", "Paris"], ["Mary"]], [[1, 0, 3], [1]])
    loaded = load_ner_dataset(ds)
    assert list(loaded) == ["train"]
    assert loaded["train"].features == NER_FEATURES  # the extra "id" column is dropped
    assert loaded["train"]["ner_tags"][:] == [["B-PER", "O", "B-LOC"], ["B-PER"]]


def test_normalize_ner_dataset_reads_hf_rows():
    ds = class_label_dataset([["John", "Smith"]], [[1, 2]])
    normalized = normalize_ner_dataset(ds)
    assert isinstance(normalized, datasets.Dataset)
    assert normalized[0] == {"tokens": ["John", "Smith"], "ner_tags": ["B-PER", "I-PER"]}
    as_dict = normalize_ner_dataset(datasets.DatasetDict({"dev": ds}))
    assert as_dict["dev"][0]["ner_tags"] == ["B-PER", "I-PER"]


def test_load_dataset_dict_and_string_tags():
    train = datasets.Dataset.from_dict({"tokens": [["a", "b"]], "ner_tags": [["O", "B-X"]]})
    loaded = load_ner_dataset(datasets.DatasetDict({"train": train, "valid": train}))
    assert sorted(loaded) == ["train", "validation"]
    assert loaded["validation"][0] == {"tokens": ["a", "b"], "ner_tags": ["O", "B-X"]}


def test_two_names_for_one_split_is_an_error():
    part = datasets.Dataset.from_dict({"tokens": [["a"]], "ner_tags": [["O"]]})
    with pytest.raises(NERDatasetError, match=r"two names for 'validation'.*k != 'validation'"):
        load_ner_dataset(datasets.DatasetDict({"dev": part, "validation": part}))


def test_load_from_save_to_disk_folder(tmp_path):
    ds = datasets.DatasetDict({"train": class_label_dataset([["Paris"]], [[3]])})
    ds.save_to_disk(str(tmp_path / "saved"))
    loaded = load_ner_dataset(tmp_path / "saved")
    assert loaded["train"][0] == {"tokens": ["Paris"], "ner_tags": ["B-LOC"]}


def test_hub_name_goes_to_load_dataset(monkeypatch):
    calls = []

    def fake_load_dataset(name, **kwargs):
        calls.append((name, kwargs))
        return datasets.DatasetDict({"train": class_label_dataset([["Mary"]], [[1]])})

    monkeypatch.setattr(data_module.datasets, "load_dataset", fake_load_dataset)
    loaded = load_ner_dataset("someone/ner-set", revision="main")
    assert calls == [("someone/ner-set", {"revision": "main"})]
    assert loaded["train"][0]["ner_tags"] == ["B-PER"]


@pytest.mark.parametrize("source", ["data/train.txt", "./corpus", "/no/such/folder"])
def test_missing_local_path_is_not_sent_to_the_hub(monkeypatch, source):
    monkeypatch.setattr(data_module.datasets, "load_dataset", lambda *a, **k: pytest.fail("hub was queried"))
    with pytest.raises(FileNotFoundError, match=re.escape(f"{source} does not exist")):
        load_ner_dataset(source)


def test_rows_of_different_lengths_name_the_row():
    ds = datasets.Dataset.from_dict({"tokens": [["a"], ["b", "c"], ["d"]], "ner_tags": [["O"], ["O"], ["O"]]})
    with pytest.raises(NERDatasetError, match=r"split 'train', row 1: 2 tokens but 1 tags.*dataset.filter"):
        load_ner_dataset(ds)


def test_missing_columns_and_bad_tags():
    words_only = datasets.Dataset.from_dict({"words": [["a"]], "tags": [["O"]]})
    with pytest.raises(
        NERDatasetError, match=r"lacks the column\(s\) \['tokens', 'ner_tags'\].*rename_column"
    ):
        load_ner_dataset(words_only)
    bad_tag = datasets.Dataset.from_dict({"tokens": [["a", "b"]], "ner_tags": [["O", "PERSON"]]})
    with pytest.raises(NERDatasetError, match=r"row 0, position 1: invalid tag 'PERSON'"):
        load_ner_dataset(bad_tag)
    bad_names = class_label_dataset([["a"]], [[0]], names=("O", "person"))
    with pytest.raises(NERDatasetError, match=r"ClassLabel names \['person'\] are not tags"):
        load_ner_dataset(bad_names)


def test_load_shared_folder(shared_data):
    ds = load_ner_dataset(shared_data / "ner/wnut17", splits=["dev"])
    assert list(ds) == ["validation"]
    assert ds["validation"].num_rows == 1009


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
    with caplog.at_level(logging.WARNING, logger="label_semantics.data"):
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
        UnknownLabelError, match=r"row 1: the tag 'B-ORG' is not in label2id.*'B-LOC'.*convert_scheme"
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
