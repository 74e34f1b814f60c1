"""The `label-semantics` command line on a tiny trained model and tiny column files: complete --help, errors that
name the bad argument, predict (text, file, stdin -> JSON lines), sample, evaluate, train, card; the console
script once, in a subprocess."""

from __future__ import annotations

import argparse
import io
import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from label_semantics import LabelSemanticsForTokenClassification, LabelTokenForSequenceClassification
from label_semantics.cli import build_parser, main
from label_semantics.data import read_column_file
from label_semantics.training import evaluate_ner
from label_semantics.verbalizer import tags_to_spans
from tests.test_model_card import CARD
from tests.test_modeling_label_semantics import TOY, make_model, train
from tests.test_prediction import ARGMAX_IS_INVALID, scripted_forward

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


# Sentences the CLI models never train on (they train on TOY): the same names in new orders and contexts.
UNSEEN = [
    (["mary", "smith", "visited", "berlin"], ["B-PER", "I-PER", "O", "B-LOC"]),
    (["jones", "lives", "in", "london"], ["B-PER", "O", "O", "B-LOC"]),
    (["he", "met", "john", "in", "paris"], ["O", "O", "B-PER", "O", "B-LOC"]),
]


def column_text(rows) -> str:
    return "\n\n".join("\n".join(f"{w}\t{t}" for w, t in zip(words, tags)) for words, tags in rows) + "\n"


@pytest.fixture
def column_data(tmp_path) -> Path:
    """train.txt holds the toy sentences, test.txt sentences not among them; token TAB tag."""
    folder = tmp_path / "toy"
    folder.mkdir()
    (folder / "train.txt").write_text(column_text(TOY))
    (folder / "test.txt").write_text(column_text(UNSEEN))
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
    texts = ["i feel happy", "this is a sad song"]
    model = LabelTokenForSequenceClassification.from_pretrained(classifier_folder).eval()
    with torch.no_grad():
        probabilities = model(**model.tokenizer(texts, padding=True, return_tensors="pt")).logits.softmax(-1)
    lines = run(["predict", "--model", classifier_folder, "--text", texts[0]], capsys)
    lines += run(["predict", "--model", classifier_folder, "--text", texts[1]], capsys)
    assert [line["text"] for line in lines] == texts
    for line, row in zip(lines, probabilities):
        assert line["label"] == {
            "label": model.config.id2label[int(row.argmax())],
            "score": pytest.approx(row.max()),
        }


def test_predict_with_a_multi_label_classifier(_tiny_encoder_dir, tmp_path, capsys):
    torch.manual_seed(0)
    labels = ["sadness", "joy", "anger"]
    model = LabelTokenForSequenceClassification.from_encoder(  # the linear head: the tiny model's untrained
        _tiny_encoder_dir, labels=labels, problem_type="multi_label_classification", label_head="linear"
    ).eval()  # description head gives sigmoids of 1.0 to all three labels, which no threshold separates
    text = "i feel happy"
    with torch.no_grad():
        scores = model(**model.tokenizer([text], return_tensors="pt")).logits.sigmoid()[0].tolist()
    ranked = sorted(scores, reverse=True)
    model.config.threshold = (ranked[1] + ranked[2]) / 2  # the two best labels pass, the third does not
    model.save_pretrained(tmp_path / "multi")
    (line,) = run(["predict", "--model", str(tmp_path / "multi"), "--text", text], capsys)
    assert "label" not in line
    expected = sorted(zip(scores, labels), reverse=True)[:2]
    assert line["labels"] == [{"label": label, "score": pytest.approx(score)} for score, label in expected]


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


def test_evaluate_on_sentences_the_model_never_saw(ner_folder, column_data, capsys):
    (metrics,) = run(["evaluate", "--model", ner_folder, "--data", str(column_data), "--json"], capsys)
    rows = [{"tokens": words, "ner_tags": tags} for words, tags in UNSEEN]
    model = LabelSemanticsForTokenClassification.from_pretrained(ner_folder)
    assert metrics == pytest.approx(evaluate_ner(model, rows))
    assert metrics["PER_number"] == 3 and metrics["LOC_number"] == 3
    assert metrics["overall_f1"] > 0.5  # it learned more than the four toy sentences
    assert main(["evaluate", "--model", ner_folder, "--data", str(column_data / "test.txt")]) == 0
    table = capsys.readouterr().out
    assert "overall (micro)" in table and "PER" in table and "LOC" in table
    assert f"{metrics['overall_f1']:>10.3f}" in table.splitlines()[-1]


def test_evaluate_argmax_and_batch_size(ner_folder, tmp_path, capsys, monkeypatch):
    model = LabelSemanticsForTokenClassification.from_pretrained(ner_folder)
    calls: list[int] = []
    forward = scripted_forward(model, ARGMAX_IS_INVALID, calls)
    monkeypatch.setattr(
        LabelSemanticsForTokenClassification, "forward", lambda self, **kwargs: forward(**kwargs)
    )
    rows = [(["john", "smith"], ["B-PER", "I-PER"])] * 3
    (tmp_path / "test.txt").write_text(column_text(rows))
    argv = ["evaluate", "--model", ner_folder, "--data", str(tmp_path / "test.txt"), "--json"]
    (viterbi,) = run(argv, capsys)
    assert viterbi["overall_f1"] == 1.0 and calls == [3]  # default batch size 64: one forward pass
    calls.clear()
    (argmax,) = run([*argv, "--argmax", "--batch-size", "2"], capsys)
    assert argmax["overall_f1"] == 0.0 and argmax["PER_number"] == 3
    assert calls == [2, 1]


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


def spy_on_finetune(monkeypatch) -> list:
    """Record the `Trainer` of every `label_semantics.training.finetune` call (the real one still runs)."""
    import label_semantics.training

    trainers = []
    real = label_semantics.training.finetune

    def finetune(*args, **kwargs):
        trainers.append(real(*args, **kwargs))
        return trainers[-1]

    monkeypatch.setattr(label_semantics.training, "finetune", finetune)
    return trainers


def test_train_epochs_learning_rate_and_batch_size(
    tiny_encoder_dir, column_data, tmp_path, capsys, monkeypatch
):
    trainers = spy_on_finetune(monkeypatch)
    out = tmp_path / "trained"
    argv = ["train", "--data", str(column_data), "--backbone", str(tiny_encoder_dir), "--output", str(out)]
    assert main([*argv, "--epochs", "2", "--learning-rate", "0.001", "--batch-size", "3"]) == 0
    (trainer,) = trainers
    assert trainer.args.num_train_epochs == 2 and trainer.args.learning_rate == 0.001
    assert trainer.args.per_device_train_batch_size == 3
    assert trainer.state.global_step == 2 * 2  # 4 toy sentences in batches of 3: 2 steps an epoch
    hyper = CARD.fullmatch((out / "README.md").read_text())["hyper"]
    assert "| learning_rate | 0.001 |" in hyper and "| per_device_train_batch_size | 3 |" in hyper
    assert "| num_train_epochs | 2.0 |" in hyper and "max_steps" not in hyper
    trainers.clear()
    assert main(argv) == 0  # the defaults: 3 epochs, batch 16, lr 5e-5
    assert trainers[0].state.global_step == 3 and trainers[0].args.learning_rate == 5e-5


def test_train_from_a_saved_model_with_new_labels(ner_folder, column_data, tmp_path, capsys):
    labels = ["O", "B-LOC", "I-LOC", "B-PER", "I-PER", "B-ORG", "I-ORG"]
    out = tmp_path / "relabelled"
    argv = ["train", "--data", str(column_data), "--model", ner_folder, "--output", str(out)]
    # --learning-rate 1e-12: one step leaves the saved weights all but unchanged
    assert main([*argv, "--labels", *labels, "--max-steps", "1", "--learning-rate", "1e-12"]) == 0
    assert f"labels {labels}" in capsys.readouterr().out
    new = LabelSemanticsForTokenClassification.from_pretrained(out).eval()
    old = LabelSemanticsForTokenClassification.from_pretrained(ner_folder).eval()
    assert new.labels == labels
    assert new.config.label_descriptions[5:] == ["begin organization", "inside organization"]
    inputs = old.tokenizer(["john smith visited paris"], return_tensors="pt")
    with torch.no_grad():
        old_logits, new_logits = old(**inputs).logits, new(**inputs).logits
    # started from --model, not from a fresh encoder: the shared labels score as before, in the new order
    torch.testing.assert_close(new_logits[..., :5], old_logits[..., [0, 3, 4, 1, 2]], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "flags, level", [(["-v"], logging.INFO), (["--verbose"], logging.INFO), ([], logging.WARNING)]
)
def test_verbose_sets_the_log_level(flags, level, column_data, tmp_path, capsys, monkeypatch):
    configured = []
    monkeypatch.setattr(logging, "basicConfig", lambda **kwargs: configured.append(kwargs))
    argv = ["sample", "--data", str(column_data), "--k", "1", "--output", str(tmp_path / "s.txt")]
    assert main([*flags, *argv]) == 0
    assert configured == [{"level": level}]


def test_card_options_each_change_the_card(ner_folder, tmp_path, capsys):
    assert main(["card", "--model", ner_folder]) == 0
    plain = capsys.readouterr().out
    metrics = tmp_path / "metrics.json"
    metrics.write_text(json.dumps({"overall_f1": 0.5, "overall_precision": 0.25, "overall_recall": 1.0}))
    argv = ["card", "--model", ner_folder, "--language", "en", "de", "--base-model", "google/bert-tiny"]
    argv += ["--dataset", "toy data", "--dataset-id", "me/toy", "--source-dataset", "CoNLL-2003", "--k", "3"]
    argv += ["--seed", "7", "--metrics", str(metrics), "--eval-split", "validation"]
    assert main(argv) == 0
    card = capsys.readouterr().out
    assert CARD.fullmatch(card) and CARD.fullmatch(plain)
    meta = yaml.safe_load(card.split("---\n")[1])
    before = yaml.safe_load(plain.split("---\n")[1])
    assert (before["language"], meta["language"]) == ("en", ["en", "de"])
    assert "base_model" not in before and meta["base_model"] == "google/bert-tiny"
    assert "datasets" not in before and meta["datasets"] == ["me/toy"]
    recorded = meta["label_semantics"]
    assert "label_semantics" not in before
    assert recorded["dataset_name"] == "toy data" and recorded["source_dataset_name"] == "CoNLL-2003"
    assert (recorded["k_shot"], recorded["seed"], recorded["eval_split"]) == (3, 7, "validation")
    (result,) = meta["model-index"][0]["results"]
    assert result["dataset"] == {"name": "toy data", "type": "me/toy", "split": "validation"}
    assert (
        "- **Pre-finetuning data:** CoNLL-2003\n" in card
        and "- **Few-shot setting:** 3-shot, seed 7\n" in card
    )
    assert "Measured on toy data (validation split)." in card
    assert "English and German" in card and "English and German" not in plain


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
