"""The command line on the inputs real users bring: the main job's default data with and without ../shared (the
shipped samples), data given as a file or a Hub name, split aliases, mixed tag schemes, text files with Unicode
line separators or in Latin-1, and option values that used to be accepted and then lost or misread."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import datasets
import pytest

from label_semantics import LabelSemanticsForTokenClassification, LabelTokenForSequenceClassification, cli
from label_semantics import data as data_module
from label_semantics.cli import main
from tests.test_modeling_label_semantics import TOY, make_model, train


@pytest.fixture(scope="module")
def ner_folder(_tiny_encoder_dir, tmp_path_factory) -> str:
    model = make_model(_tiny_encoder_dir)
    train(model)
    folder = tmp_path_factory.mktemp("cli-inputs-ner")
    model.save_pretrained(folder)
    return str(folder)


def column_text(sentences) -> str:
    return (
        "\n\n".join("\n".join(f"{w}\t{t}" for w, t in zip(words, tags)) for words, tags in sentences) + "\n"
    )


@pytest.fixture
def toy_folder(tmp_path) -> Path:
    """train.txt, dev.txt and test.txt holding the toy sentences."""
    folder = tmp_path / "toy"
    folder.mkdir()
    for split in ("train", "dev", "test"):
        (folder / f"{split}.txt").write_text(column_text(TOY))
    return folder


def json_lines(argv, capsys) -> list[dict]:
    assert main(argv) == 0
    return [json.loads(line) for line in capsys.readouterr().out.strip("\n").split("\n") if line]


# ------------------------------------------------------------------------------------------ predict input


TEXTS = ["john smith\u2028visited paris", "mary\x0clives in london", "he visited berlin\x85today"]


def test_predict_file_splits_lines_on_newline_only(ner_folder, tmp_path, capsys):
    # str.splitlines() also cut at U+2028, form feed and U+0085: 3 lines gave 6 records
    path = tmp_path / "texts.txt"
    path.write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    rows = json_lines(["predict", "--model", ner_folder, "--file", str(path)], capsys)
    assert [row["text"] for row in rows] == TEXTS


def test_predict_stdin_splits_lines_on_newline_only(ner_folder, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(TEXTS)))  # no newline after the last line
    rows = json_lines(["predict", "--model", ner_folder], capsys)
    assert [row["text"] for row in rows] == TEXTS


def test_predict_latin1_file_is_an_error_naming_the_file(ner_folder, tmp_path):
    path = tmp_path / "latin.txt"
    path.write_bytes("caf\u00e9 in paris\n".encode("latin-1"))
    with pytest.raises(SystemExit) as info:
        main(["predict", "--model", ner_folder, "--file", str(path)])
    assert str(info.value.code).startswith(f"error: --file {str(path)!r} is not UTF-8") and "iconv" in str(
        info.value.code
    )


def test_predict_argmax_with_a_classifier_is_an_error(_tiny_encoder_dir, tmp_path):
    model = LabelTokenForSequenceClassification.from_encoder(_tiny_encoder_dir, labels=["sadness", "joy"])
    model.save_pretrained(tmp_path / "classifier")
    with pytest.raises(SystemExit, match="--argmax only applies to NER models"):
        main(["predict", "--model", str(tmp_path / "classifier"), "--text", "i feel happy", "--argmax"])


# ------------------------------------------------------------------------------------------ data arguments


@pytest.mark.parametrize("alias", ["dev", "valid", "validation"])
def test_split_aliases_on_the_command_line(ner_folder, toy_folder, tmp_path, capsys, alias):
    (metrics,) = json_lines(
        ["evaluate", "--model", ner_folder, "--data", str(toy_folder), "--split", alias, "--json"], capsys
    )
    assert metrics["PER_number"] == 4
    out = tmp_path / "support.txt"
    assert (
        main(["sample", "--data", str(toy_folder), "--split", alias, "--k", "1", "--output", str(out)]) == 0
    )


def test_a_split_the_data_lack_is_named_with_its_alias(ner_folder, tmp_path):
    folder = tmp_path / "only-train"
    folder.mkdir()
    (folder / "train.txt").write_text(column_text(TOY))
    with pytest.raises(SystemExit, match=r"has no 'validation' \('dev'\) split; it has \['train'\]"):
        main(["evaluate", "--model", ner_folder, "--data", str(folder), "--split", "dev"])


def test_a_single_file_is_the_data_whatever_its_name(ner_folder, toy_folder, capsys):
    (metrics,) = json_lines(
        ["evaluate", "--model", ner_folder, "--data", str(toy_folder / "train.txt"), "--json"], capsys
    )
    assert metrics["PER_number"] == 4


def test_a_folder_file_that_cannot_be_read_stops_the_command(ner_folder, toy_folder):
    (toy_folder / "devel-notes.json").write_text("{}")
    with pytest.raises(SystemExit, match=r"devel-notes.json names the 'validation' split"):
        main(["evaluate", "--model", ner_folder, "--data", str(toy_folder)])


def test_mixed_schemes_are_an_error_unless_named(tiny_encoder_dir, tmp_path, capsys):
    mixed = [(["john", "smith", "sings"], ["I-PER", "I-PER", "O"]), (["in", "paris"], ["O", "B-LOC"])] * 3
    data = tmp_path / "mixed.txt"
    data.write_text(column_text(mixed))
    argv = [
        "train",
        "--data",
        str(data),
        "--backbone",
        str(tiny_encoder_dir),
        "--output",
        str(tmp_path / "o"),
    ]
    argv += ["--max-steps", "1"]
    with pytest.raises(SystemExit) as info:
        main(argv)
    message = str(info.value.code)
    assert (
        f"{data}:1: 'I-PER'" in message and f"{data}:6: 'B-LOC'" in message and "IO/IOB1 and IOB2" in message
    )
    assert main(argv + ["--tag-scheme", "IOB2"]) == 0
    saved = LabelSemanticsForTokenClassification.from_pretrained(tmp_path / "o")
    assert set(saved.labels) == {"O", "B-PER", "I-PER", "B-LOC", "I-LOC"}


def test_eval_split_of_a_single_training_file_is_an_error(tiny_encoder_dir, toy_folder, tmp_path):
    argv = ["train", "--data", str(toy_folder / "train.txt"), "--output", str(tmp_path / "o")]
    with pytest.raises(SystemExit, match=r"--eval-split 'test': --data .* is one file"):
        main(argv + ["--backbone", str(tiny_encoder_dir), "--eval-split", "test"])


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["fewshot", "--source-limit", "-1"], "argument --source-limit: '-1' is not a whole number >= 0"),
        (["fewshot", "--show", "-2"], "argument --show: '-2' is not a whole number >= 0"),
        (["fewshot", "--source-epochs", "0"], "argument --source-epochs: '0' is not a positive number"),
        (["train", "--data", "d", "--output", "o", "--epochs", "nan"], "argument --epochs: 'nan'"),
        (["train", "--data", "d", "--output", "o", "--tag-scheme", "IOB3"], "unknown tag scheme 'IOB3'"),
        (["evaluate", "--model", "m", "--data", "d", "--tag-scheme", "x"], "argument --tag-scheme"),
    ],
)
def test_option_values_that_were_accepted_and_misread(argv, message, capsys):
    # --source-limit -1 selected no sentence at all; --show -2 printed all but two
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2 and message in capsys.readouterr().err


# ------------------------------------------------------------------------------------------ the main job's data


def fewshot_argv(backbone, out, *extra) -> list[str]:
    return ["fewshot", "--backbone", str(backbone), "--k", "2", "--target-steps", "2", "--show", "1",
            "--output", str(out), *extra]  # fmt: skip


def test_main_job_defaults_to_the_shared_data_when_present(
    tiny_encoder_dir, tiny_ner_dir, tmp_path, monkeypatch, capsys
):
    monkeypatch.setattr(cli, "SHARED_DATA", tiny_ner_dir)
    assert main(fewshot_argv(tiny_encoder_dir, tmp_path / "run")) == 0
    printed = capsys.readouterr().out
    assert f"Source {tiny_ner_dir / 'conll2003'}: 40 sentences" in printed and "shipped" not in printed
    assert f"Test set of {tiny_ner_dir / 'wnut17'}" in printed
    loaded = LabelSemanticsForTokenClassification.from_pretrained(tmp_path / "run")
    assert sorted(loaded.labels) == ["B-actor", "B-genre", "I-actor", "I-genre", "O"]


def test_main_job_without_shared_data_runs_on_the_shipped_samples(
    tiny_encoder_dir, tmp_path, monkeypatch, capsys
):
    # a fresh clone: no ../shared beside the checkout
    monkeypatch.setattr(cli, "SHARED_DATA", tmp_path / "no-shared" / "data" / "ner")
    assert main(fewshot_argv(tiny_encoder_dir, tmp_path / "run", "--source-limit", "40")) == 0
    printed = capsys.readouterr().out
    assert (
        "using the samples shipped with the package (wnut17-sample -> crossner-literature-sample)" in printed
    )
    assert f"Source {cli.SAMPLE_SOURCE}: 40 sentences" in printed
    assert "2-shot support set of" in printed and "Test set of" in printed and "(200 sentences)" in printed
    assert "writer" in printed and "overall (micro)" in printed and "->" in printed
    loaded = LabelSemanticsForTokenClassification.from_pretrained(tmp_path / "run")
    assert {"B-writer", "B-book", "I-literarygenre"} <= set(loaded.labels)
    assert "crossner-literature-sample" in (tmp_path / "run" / "README.md").read_text()


def test_main_job_takes_a_file_and_a_hub_name(tiny_encoder_dir, tiny_ner_dir, tmp_path, monkeypatch, capsys):
    hub = data_module.load_ner_dataset(tiny_ner_dir / "wnut17")
    calls = []

    def fake_load_dataset(name, **kwargs):
        calls.append(name)
        return datasets.DatasetDict({"train": hub["train"], "test": hub["test"]})

    monkeypatch.setattr(data_module.datasets, "load_dataset", fake_load_dataset)
    monkeypatch.chdir(tmp_path)  # "someone/wnut" is no local path here
    source = str(tiny_ner_dir / "conll2003" / "train.txt")
    argv = fewshot_argv(tiny_encoder_dir, tmp_path / "run", "--source", source, "--target", "someone/wnut")
    assert main(argv) == 0
    assert calls == ["someone/wnut"]
    printed = capsys.readouterr().out
    assert (
        f"Source {source}: 40 sentences" in printed and "Test set of someone/wnut (30 sentences)" in printed
    )


def test_main_job_target_file_needs_a_test_file(tiny_encoder_dir, tiny_ner_dir, tmp_path, capsys):
    target = str(tiny_ner_dir / "wnut17" / "train.txt")
    argv = fewshot_argv(tiny_encoder_dir, tmp_path / "run", "--source", str(tiny_ner_dir / "conll2003"))
    with pytest.raises(SystemExit, match=r"--target .* is one file.*--target-test"):
        main(argv + ["--target", target])
    assert main(argv + ["--target", target, "--target-test", str(tiny_ner_dir / "wnut17" / "test.txt")]) == 0
    assert f"Test set of {tiny_ner_dir / 'wnut17' / 'test.txt'} (30 sentences)" in capsys.readouterr().out


@pytest.mark.parametrize("token", [" john", "jo\thn", "-DOCSTART-", ""])
def test_sample_refuses_a_token_it_cannot_write_back(tmp_path, token, monkeypatch):
    # the written support set would have been read back with another token, a sentence break or a lost line
    rows = datasets.Dataset.from_dict({"tokens": [[token, "smith"]], "ner_tags": [["B-PER", "I-PER"]]})
    monkeypatch.setattr(
        data_module.datasets, "load_dataset", lambda *a, **k: datasets.DatasetDict({"train": rows})
    )
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit, match=r"row 0: the token .* cannot be written as a column line"):
        main(["sample", "--data", "someone/set", "--k", "1", "--output", str(tmp_path / "s.txt")])
