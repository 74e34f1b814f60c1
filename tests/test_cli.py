"""The `label-semantics` command line on a tiny trained model and tiny column files: complete --help, errors that
name the bad argument, predict (text, file, stdin -> JSON lines), sample, evaluate, train, card; the console
script once, in a subprocess."""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from label_semantics import LabelTokenForSequenceClassification
from label_semantics.cli import build_parser, main
from label_semantics.data import read_column_file
from label_semantics.verbalizer import tags_to_spans
from tests.test_model_card import CARD
from tests.test_modeling_label_semantics import TOY, make_model, train

TEXT = "john smith visited paris"


@pytest.fixture(scope="module")
def ner_folder(_tiny_encoder_dir, tmp_path_factory) -> str:
    model = make_model(_tiny_encoder_dir)
    train(model)
    folder = tmp_path_factory.mktemp("cli-ner")
    model.save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="module")
def classifier_folder(_tiny_encoder_dir, tmp_path_factory) -> str:
    torch.manual_seed(0)
    model = LabelTokenForSequenceClassification.from_encoder(_tiny_encoder_dir, labels=["sadness", "joy"])
    folder = tmp_path_factory.mktemp("cli-classifier")
    model.save_pretrained(folder)
    return str(folder)


@pytest.fixture
def column_data(tmp_path) -> Path:
    """train.txt and test.txt: the toy sentences, token TAB tag."""
    folder = tmp_path / "toy"
    folder.mkdir()
    text = "\n\n".join("\n".join(f"{w}\t{t}" for w, t in zip(words, tags)) for words, tags in TOY) + "\n"
    for split in ("train", "test"):
        (folder / f"{split}.txt").write_text(text)
    return folder


def subcommands() -> dict[str, argparse.ArgumentParser]:
    (action,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


def test_every_subcommand_is_there():
    assert set(subcommands()) >= {"fewshot", "train", "predict", "evaluate", "sample", "card"}


@pytest.mark.parametrize("command", sorted(subcommands()))  # any subcommand added later is checked too
def test_help_of_every_subcommand_is_complete(command, capsys):
    parser = subcommands()[command]
    assert parser.description and len(parser.description) > 40
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    shown = "".join(capsys.readouterr().out.split())  # help lines wrap anywhere, even after hyphens
    for action in parser._actions:
        assert action.help and action.help.strip(), f"{command} {action.option_strings} has no help"
        for flag in action.option_strings:
            assert flag in shown
        assert "".join(action.help.replace("%(default)s", str(action.default)).split()) in shown


def run(argv, capsys) -> list[dict]:
    assert main(argv) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_predict_text_file_and_stdin_give_json_lines(ner_folder, tmp_path, capsys, monkeypatch):
    (line,) = run(["predict", "--model", ner_folder, "--text", TEXT], capsys)
    assert line["text"] == TEXT
    assert [(e["label"], e["text"], e["start"], e["end"]) for e in line["entities"]] == [
        ("PER", "john smith", 0, 10),
        ("LOC", "paris", 19, 24),
    ]
    texts = [TEXT, "mary lives in london", ""]
    (tmp_path / "texts.txt").write_text("\n".join(texts) + "\n")
    from_file = run(
        ["predict", "--model", ner_folder, "--file", str(tmp_path / "texts.txt"), "--argmax"], capsys
    )
    assert [row["text"] for row in from_file] == texts
    assert [e["text"] for e in from_file[1]["entities"]] == ["mary", "london"] and from_file[2][
        "entities"
    ] == []
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(texts) + "\n"))
    assert run(["predict", "--model", ner_folder, "--batch-size", "1"], capsys) == from_file


def test_predict_with_a_classifier(classifier_folder, capsys):
    (line,) = run(["predict", "--model", classifier_folder, "--text", "i feel happy"], capsys)
    assert line["text"] == "i feel happy" and line["label"]["label"] in {"sadness", "joy"}


def test_sample_writes_a_support_set(column_data, tmp_path, capsys):
    out = tmp_path / "support.txt"
    assert main(["sample", "--data", str(column_data), "--k", "2", "--seed", "3", "--output", str(out)]) == 0
    assert f"-shot, seed 3) to {out}" in capsys.readouterr().out
    rows = read_column_file(out)
    assert 0 < len(rows) <= len(TOY)
    for entity_type in ("PER", "LOC"):
        assert sum(span[0] == entity_type for row in rows for span in tags_to_spans(row["ner_tags"])) >= 2
    assert {tuple(row["tokens"]) for row in rows} <= {tuple(words) for words, _ in TOY}
    again = tmp_path / "again.txt"
    main(["sample", "--data", str(column_data), "--k", "2", "--seed", "3", "--output", str(again)])
    assert again.read_text() == out.read_text()


def test_evaluate_on_a_tiny_column_file(ner_folder, column_data, capsys):
    (metrics,) = run(["evaluate", "--model", ner_folder, "--data", str(column_data), "--json"], capsys)
    assert metrics["overall_f1"] == 1.0 and metrics["PER_number"] == 4 and metrics["LOC_number"] == 3
    assert main(["evaluate", "--model", ner_folder, "--data", str(column_data / "test.txt")]) == 0
    table = capsys.readouterr().out
    assert "overall (micro)" in table and "PER" in table and "LOC" in table


def test_train_then_card(tiny_encoder_dir, column_data, tmp_path, capsys):
    out = tmp_path / "trained"
    argv = ["train", "--data", str(column_data), "--backbone", str(tiny_encoder_dir), "--output", str(out)]
    argv += ["--k", "1", "--max-steps", "2", "--describe", "LOC=location", "--eval-split", "test"]
    assert main(argv) == 0
    assert f"Saved to {out}" in capsys.readouterr().out
    card = (out / "README.md").read_text()
    match = CARD.fullmatch(card)
    assert match, card
    assert "- **Training data:** toy\n" in match["training"] and "1-shot" in match["training"]
    assert "| learning_rate | 5e-05 |" in match["hyper"] and "| max_steps | 2 |" in match["hyper"]
    assert "overall_f1" in match["evaluation"]
    # the card command keeps what the folder's card records and changes what it is told to
    metrics = tmp_path / "metrics.json"
    metrics.write_text(json.dumps({"overall_f1": 0.75, "overall_precision": 0.5, "overall_recall": 1.0}))
    argv = [
        "card",
        "--model",
        str(out),
        "--model-id",
        "me/tiny-ner",
        "--name",
        "Tiny NER",
        "--license",
        "mit",
    ]
    argv += ["--metrics", str(metrics), "--eval-dataset", "toy test", "--tags", "toy"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    match = CARD.fullmatch(printed)
    assert match, printed
    assert match["title"] == "Tiny NER" and 'model="me/tiny-ner"' in match["usage"]
    assert "1-shot" in match["training"] and "| max_steps | 2 |" in match["hyper"]
    assert (
        "Measured on toy test (test split)." in match["evaluation"] and "| overall_f1 | 0.7500 |" in printed
    )
    assert "license: mit\n" in printed and "- toy\n" in printed
    written = tmp_path / "README.md"
    assert main(argv + ["--output", str(written)]) == 0
    assert written.read_text() == printed


def test_card_of_a_classifier(classifier_folder, capsys):
    assert main(["card", "--model", classifier_folder, "--dataset", "emotion", "--k", "8"]) == 0
    match = CARD.fullmatch(capsys.readouterr().out)
    assert match and "8-shot" in match["training"] and "text-classification" in match["usage"]


@pytest.mark.parametrize(
    "argv, flag",
    [
        (["predict", "--model", "{tmp}/missing", "--text", "x"], "--model '{tmp}/missing'"),
        (["predict", "--model", "{tmp}", "--text", "x"], "--model '{tmp}'"),
        (["evaluate", "--model", "{classifier}", "--data", "{data}"], "'label-token' checkpoint"),
        (
            ["evaluate", "--model", "{ner}", "--data", "{data}", "--split", "validation"],
            "no 'validation' split",
        ),
        (["evaluate", "--model", "{ner}", "--data", "{tmp}/nowhere"], "--data '{tmp}/nowhere'"),
        (["sample", "--data", "{data}", "--k", "50", "--output", "{tmp}/s.txt"], "--k 50:"),
        (["train", "--data", "{data}", "--output", "{tmp}/o", "--backbone", "{tmp}/none"], "--backbone"),
        (
            ["train", "--data", "{data}", "--output", "{tmp}/o", "--model", "{ner}", "--labels", "X-PER"],
            "--labels",
        ),
        (["card", "--model", "{ner}", "--metrics", "{tmp}/missing.json"], "--metrics '{tmp}/missing.json'"),
        (["card", "--model", "{ner}", "--metrics", "{bad_metrics}"], "--metrics"),
    ],
)
def test_errors_name_the_bad_argument(argv, flag, ner_folder, classifier_folder, column_data, tmp_path):
    (tmp_path / "bad.json").write_text('{"overall_f1": "high"}')
    values = {"tmp": tmp_path, "ner": ner_folder, "classifier": classifier_folder, "data": column_data}
    values["bad_metrics"] = tmp_path / "bad.json"
    with pytest.raises(SystemExit) as exit_info:
        main([arg.format(**values) for arg in argv])
    message = str(exit_info.value.code)
    assert message.startswith("error: ") and flag.format(**values) in message


@pytest.mark.parametrize(
    "argv, flag",
    [
        (
            ["sample", "--data", "d", "--k", "0", "--output", "o"],
            "argument --k: '0' is not a positive whole number",
        ),
        (
            ["train", "--data", "d", "--output", "o", "--describe", "PER"],
            "argument --describe: 'PER' is not TYPE=TEXT",
        ),
        (["predict", "--model", "m", "--batch-size", "-1"], "argument --batch-size"),
        (
            ["predict", "--model", "m", "--text", "a", "--file", "f"],
            "argument --file: not allowed with argument --text",
        ),
        (["card"], "the following arguments are required: --model"),
    ],
)
def test_usage_errors_name_the_bad_argument(argv, flag, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert flag in capsys.readouterr().err


def test_console_script(ner_folder, tmp_path):
    script = Path(sys.executable).with_name("label-semantics")
    done = subprocess.run(
        [str(script), "predict", "--model", ner_folder],
        input=TEXT + "\n",
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    (line,) = done.stdout.splitlines()
    assert [e["label"] for e in json.loads(line)["entities"]] == ["PER", "LOC"]
