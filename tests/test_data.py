"""Tests for label_semantics.data: column files, datasets, tokenisation with word alignment, collation."""

from __future__ import annotations

import logging
import re

import datasets
import pytest

from label_semantics import data as data_module
from label_semantics.data import (
    NER_FEATURES,
    SAMPLE_DATA,
    ColumnFileError,
    MixedSchemeError,
    NERDatasetError,
    check_tag_scheme,
    load_ner_dataset,
    normalize_ner_dataset,
    read_column_file,
)
from label_semantics.verbalizer import SchemeError

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
    write(tmp_path / "other" / "README.md", "no data here\n")
    (tmp_path / "other" / "ai").mkdir()
    with pytest.raises(
        FileNotFoundError, match=r"no column file named after a split \(found \['README.md', 'ai/'\]\)"
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


# ------------------------------------------------------------------------------------------ file names in the wild


@pytest.mark.parametrize(
    ("name", "split"),
    [
        ("devel.tsv", "validation"),  # the biomedical corpora (BC5CDR, NCBI-disease, ...)
        ("eng.testa", "validation"),  # CoNLL-2003 as distributed
        ("eng.testb", "test"),
        ("eng.train", "train"),
        ("test.iobes", "test"),
        ("dev.bilou", "validation"),
        ("emerging.dev.conll", "validation"),  # WNUT-17
        ("train-v2.txt", "train"),
        ("train_dev.tsv", "train_dev"),  # train and dev together: a split of its own, never dropped
    ],
)
def test_every_column_file_of_a_folder_is_read_with_its_split(tmp_path, name, split):
    write(tmp_path / name, "John\tB-PER\n")
    write(tmp_path / "LICENSE", "MIT\n")
    assert list(load_ner_dataset(tmp_path)) == [split]


def test_biomedical_folder_keeps_all_four_files(tmp_path):
    for name in ("train.tsv", "devel.tsv", "test.tsv", "train_dev.tsv"):
        write(tmp_path / name, "aspirin\tB-Chemical\n")
    loaded = load_ner_dataset(tmp_path)
    assert sorted(loaded) == ["test", "train", "train_dev", "validation"]


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("labels.txt", r"labels.txt looks like a column file but its name names no split.*'train': '"),
        ("wnut17train.conll", r"wnut17train.conll looks like a column file but its name names no split"),
        ("train.json", r"train.json names the 'train' split but .json is no column-file suffix"),
        ("test.txt.gz", r"test.txt.gz names the 'test' split but .gz is no column-file suffix"),
    ],
)
def test_a_file_that_cannot_be_read_as_a_split_is_an_error_not_skipped(tmp_path, name, problem):
    write(tmp_path / "train.txt", "John\tB-PER\n")
    write(tmp_path / name, "x\tO\n")
    with pytest.raises(FileNotFoundError, match=problem):
        load_ner_dataset(tmp_path)


def test_a_mapping_of_splits_to_files(tmp_path):
    write(tmp_path / "a.txt", "John\tB-PER\n")
    write(tmp_path / "b.conll", "Paris\tB-LOC\n")
    loaded = load_ner_dataset({"train": tmp_path / "a.txt", "dev": str(tmp_path / "b.conll")})
    assert sorted(loaded) == ["train", "validation"]
    assert loaded["validation"]["ner_tags"][:] == [["B-LOC"]]
    with pytest.raises(FileNotFoundError, match=r"split 'test': .*nope.txt does not exist"):
        load_ner_dataset({"test": tmp_path / "nope.txt"})


def test_single_file_with_a_split_alias(tmp_path):
    assert list(load_ner_dataset(write(tmp_path / "devel.tsv", "a\tO\n"))) == ["validation"]
    assert list(load_ner_dataset(write(tmp_path / "eng.testb", "a\tO\n"))) == ["test"]


# ------------------------------------------------------------------------------------------ one tag scheme


def lines(*sentences: str) -> str:
    """Sentences of 'token TAG' words, one line per token, blank lines between sentences."""
    return "\n\n".join(
        "\n".join(word.replace(" ", "\t") for word in sentence.split(",")) for sentence in sentences
    )


@pytest.mark.parametrize(
    ("text", "places", "schemes"),
    [
        # a B- entity in an otherwise IO file
        (lines("John I-PER,sings O", "in O,Paris I-LOC", "in O,Rome B-LOC"), [":1: 'I-PER'", ":8: 'B-LOC'"],
         "IO/IOB1 and IOB2"),
        # an S- tag in IOB2
        (lines("John B-PER,Smith I-PER,sings O", "in O,Paris S-LOC"), [":6: 'S-LOC'", ":3: 'O' cannot follow"],
         "BIOES and IOB2"),
        # BIOES and BILOU letters
        (lines("Ann S-PER", "Bob B-PER,Lee L-PER"), [":1: 'S-PER'", ":4: 'L-PER'"], "BIOES and BILOU"),
        # one sentence mixing IO and IOB2 by itself
        (lines("a O,b I-PER,c B-LOC"), [":2: 'I-PER'", ":3: 'B-LOC'"], "IO/IOB1 and IOB2"),
    ],
)  # fmt: skip
def test_a_file_that_mixes_schemes_names_file_lines_and_both_schemes(tmp_path, text, places, schemes):
    path = write(tmp_path / "train.txt", text + "\n")
    for read in (read_column_file, load_ner_dataset):
        with pytest.raises(MixedSchemeError) as info:
            read(path)
        message = str(info.value)
        assert f"the tags mix {schemes}" in message
        for place in places:
            assert f"{path}{place}" in message
        assert "tag_scheme='IOB2'" in message


def test_iob1_is_not_a_mix(tmp_path):
    path = write(tmp_path / "train.txt", lines("a O,b I-PER,c B-PER,d O") + "\n")
    assert read_column_file(path)[0]["ner_tags"] == ["O", "I-PER", "B-PER", "O"]


def test_files_of_one_folder_must_share_one_scheme(tmp_path):
    write(tmp_path / "train.txt", lines("John I-PER,sings O") + "\n")
    write(tmp_path / "test.txt", lines("in O,Paris B-LOC") + "\n")
    with pytest.raises(MixedSchemeError, match=r"test.txt:2: 'B-LOC'") as info:
        load_ner_dataset(tmp_path)
    assert f"{tmp_path / 'train.txt'}:1: 'I-PER'" in str(info.value)


def test_a_dataset_that_mixes_schemes_names_split_row_and_position():
    train = datasets.Dataset.from_dict({"tokens": [["a", "b"]] * 3, "ner_tags": [["O", "I-PER"]] * 3})
    test = datasets.Dataset.from_dict({"tokens": [["a", "b"]], "ner_tags": [["S-PER", "O"]]})
    with pytest.raises(MixedSchemeError) as info:
        load_ner_dataset(datasets.DatasetDict({"train": train, "test": test}))
    assert "split 'train', row 0, position 1: 'I-PER'" in str(info.value)
    assert "split 'test', row 0, position 0: 'S-PER'" in str(info.value)


def test_a_named_scheme_reads_a_mixed_file_leniently_with_a_warning(tmp_path, caplog):
    path = write(tmp_path / "train.txt", lines("John I-PER,Smith I-PER,sings O", "in O,Rome B-LOC") + "\n")
    with caplog.at_level(logging.WARNING, logger="label_semantics.scheme_check"):
        rows = load_ner_dataset(path, tag_scheme="IOB2")["train"]
    assert rows["ner_tags"][:] == [["B-PER", "I-PER", "O"], ["O", "B-LOC"]]  # valid IOB2 now
    assert "1 sentence(s) are not valid IOB2" in caplog.text and f"{path}:1: 'I-PER'" in caplog.text
    assert read_column_file(path, tag_scheme="iob2")[0]["ner_tags"] == ["B-PER", "I-PER", "O"]
    bilou = write(tmp_path / "bilou.txt", lines("Ann U-PER", "Bob B-PER") + "\n")
    assert read_column_file(bilou, tag_scheme="BILOU")[1]["ner_tags"] == ["U-PER"]


def test_a_tag_foreign_to_the_named_scheme_is_an_error(tmp_path):
    path = write(tmp_path / "train.txt", lines("John I-PER", "in O,Rome B-LOC") + "\n")
    with pytest.raises(
        MixedSchemeError, match=rf"{re.escape(str(path))}:4: 'B-LOC' does not exist in the IO"
    ):
        load_ner_dataset(path, tag_scheme="IO")
    with pytest.raises(SchemeError, match="unknown tag scheme 'IOB3'"):
        load_ner_dataset(path, tag_scheme="IOB3")


def test_check_tag_scheme_rewrites_a_dataset_only_when_a_named_scheme_needs_it():
    ds = datasets.Dataset.from_dict(
        {"tokens": [["a", "b"]] * 2, "ner_tags": [["O", "I-PER"], ["B-PER", "O"]]}
    )
    with pytest.raises(MixedSchemeError):
        check_tag_scheme(ds)
    scheme, fixed = check_tag_scheme(ds, tag_scheme="IOB2")
    assert scheme == "IOB2" and fixed["ner_tags"][:] == [["O", "B-PER"], ["B-PER", "O"]]
    clean = datasets.Dataset.from_dict({"tokens": [["a"]], "ner_tags": [["B-PER"]]})
    assert check_tag_scheme(clean) == ("IOB2", clean)


# ------------------------------------------------------------------------------------------ sources and settings


def test_a_missing_relative_path_is_no_such_folder_and_says_what_the_hub_said(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    def offline(name, **kwargs):
        raise ConnectionError(f"Couldn't reach {name!r} on the Hub (LocalEntryNotFoundError)")

    monkeypatch.setattr(data_module.datasets, "load_dataset", offline)
    with pytest.raises(FileNotFoundError) as info:
        load_ner_dataset("typo/dir")
    message = str(info.value)
    assert f"no such file or folder {tmp_path / 'typo' / 'dir'}" in message
    assert "read as a Hub data set name, it failed too: Couldn't reach 'typo/dir'" in message
    # a relative path whose first folder exists here is a path: the Hub is not asked
    (tmp_path / "data").mkdir()
    monkeypatch.setattr(data_module.datasets, "load_dataset", lambda *a, **k: pytest.fail("hub was queried"))
    with pytest.raises(FileNotFoundError, match=r"data/wnut does not exist: no such file or folder"):
        load_ner_dataset("data/wnut")


def test_settings_a_source_does_not_use_are_errors_not_ignored(tmp_path, column_folder):
    ds = datasets.Dataset.from_dict({"tokens": [["a"]], "ner_tags": [["O"]]})
    with pytest.raises(TypeError, match=r"tag_column=1 only applies to column files"):
        load_ner_dataset(ds, tag_column=1)
    with pytest.raises(TypeError, match=r"\['revision'\] only apply to a Hub name"):
        load_ner_dataset(column_folder, revision="main")


def test_class_label_id_outside_the_names_is_an_error():
    # -1 is datasets' "no label": it used to become the last name ('I-LOC') without a word
    ds = class_label_dataset([["John", "x"]], [[1, -1]])
    with pytest.raises(NERDatasetError, match=r"split 'train', row 0, position 1: the ClassLabel id -1"):
        load_ner_dataset(ds)


def test_tokens_that_are_not_word_lists_are_an_error():
    ds = datasets.Dataset.from_dict({"tokens": ["John sings"], "ner_tags": [["B-PER", "O"]]})
    with pytest.raises(NERDatasetError, match=r"tokens column has features .*list of words"):
        load_ner_dataset(ds)


def test_duplicate_split_names_keep_one_copy(column_folder):
    assert list(load_ner_dataset(column_folder, splits=["dev", "validation"])) == ["validation"]


# ------------------------------------------------------------------------------------------ shipped samples


def test_shipped_samples_load_and_give_a_5_shot_support_set():
    from label_semantics.sampling import sample_support_set

    source = load_ner_dataset(SAMPLE_DATA / "wnut17-sample")
    target = load_ner_dataset(SAMPLE_DATA / "crossner-literature-sample")
    assert {name: len(part) for name, part in source.items()} == {"train": 1000}
    assert {name: len(part) for name, part in target.items()} == {"train": 100, "test": 200}
    assert sample_support_set(target["train"]["ner_tags"], 5, seed=0)
    for folder in ("wnut17-sample", "crossner-literature-sample"):
        assert (SAMPLE_DATA / folder / "LICENSE").is_file()
    size = sum(path.stat().st_size for path in SAMPLE_DATA.rglob("*") if path.is_file())
    assert size < 300_000


@pytest.mark.parametrize(
    ("sample", "original"),
    [
        ("wnut17-sample/train.conll", "ner/wnut17/train.conll"),
        ("crossner-literature-sample/train.txt", "ner/crossner/literature/train.txt"),
        ("crossner-literature-sample/test.txt", "ner/crossner/literature/test.txt"),
    ],
)
def test_shipped_samples_are_unchanged_prefixes_of_the_originals(shared_data, sample, original):
    copied = (SAMPLE_DATA / sample).read_bytes()
    assert (shared_data / original).read_bytes().startswith(copied)


def test_a_streamed_dataset_is_refused_with_the_fix():
    streamed = datasets.Dataset.from_dict({"tokens": [["a"]], "ner_tags": [["O"]]}).to_iterable_dataset()
    for source in (streamed, datasets.IterableDatasetDict({"train": streamed})):
        with pytest.raises(NERDatasetError, match=r"streamed Iterable.*from_generator"):
            load_ner_dataset(source)
