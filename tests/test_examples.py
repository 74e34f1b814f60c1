"""The four scripts in examples/ run, end to end, on the tiny BERT and generated data (their smoke options cut the
training to a few steps), so that they cannot rot."""

from __future__ import annotations

import json
import random
import runpy
import sys
from pathlib import Path

import pytest

from label_semantics import (
    LabelAttentionForSequenceClassification,
    LabelSemanticsForTokenClassification,
    LabelTokenForSequenceClassification,
)
from tests.conftest import write_column_file
from tests.test_modeling_label_semantics import make_model, train

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
WORDS = "the a movie was good bad great terrible happy sad film song food he she it is".split()


def run_example(name: str, argv: list[str], monkeypatch, cwd: Path) -> None:
    monkeypatch.chdir(cwd)
    monkeypatch.setattr(sys, "argv", [str(EXAMPLES / name), *argv])
    runpy.run_path(str(EXAMPLES / name), run_name="__main__")


def test_the_examples_tested_here_exist():
    names = ["finetune_ner_with_trainer.py", "predict_entities.py", "train_label_token_classifier.py"]
    assert all((EXAMPLES / name).is_file() for name in [*names, "zero_shot_labelling.py"])


def test_finetune_ner_with_trainer(tiny_encoder_dir, tmp_path, monkeypatch, capsys):
    data = tmp_path / "data"
    write_column_file(data / "source" / "train.txt", 30, ["PER", "LOC"], seed=0)
    write_column_file(data / "source" / "validation.txt", 10, ["PER", "LOC"], seed=1)
    write_column_file(data / "target" / "train.txt", 30, ["actor", "genre"], seed=2)
    write_column_file(data / "target" / "test.txt", 10, ["actor", "genre"], seed=3)
    argv = [
        "--source",
        str(data / "source"),
        "--target",
        str(data / "target"),
        "--backbone",
        str(tiny_encoder_dir),
    ]
    argv += [
        "--source-limit",
        "20",
        "--k",
        "2",
        "--source-steps",
        "2",
        "--target-steps",
        "2",
        "--output",
        "out",
    ]
    run_example("finetune_ner_with_trainer.py", argv, monkeypatch, tmp_path)
    printed = capsys.readouterr().out
    assert "label descriptions: ['other', 'begin person'" in printed
    assert "source validation: {" in printed and "2-shot support set: " in printed
    assert "zero-shot test F1 before fine-tuning:" in printed and "2-shot test F1:" in printed
    saved = LabelSemanticsForTokenClassification.from_pretrained(tmp_path / "out")
    assert sorted(saved.labels) == ["B-actor", "B-genre", "I-actor", "I-genre", "O"]


def test_predict_entities(_tiny_encoder_dir, tmp_path, monkeypatch, capsys):
    model = make_model(_tiny_encoder_dir)
    train(model)
    model.save_pretrained(tmp_path / "model")
    run_example(
        "predict_entities.py", [str(tmp_path / "model"), "john smith visited paris"], monkeypatch, tmp_path
    )
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "labels: " + str(dict(zip(model.labels, model.config.label_descriptions)))
    entities = [json.loads(line) for line in lines[1:3]]
    assert [(e["label"], e["text"]) for e in entities] == [("PER", "john smith"), ("LOC", "paris")]
    assert "'entity_group': 'PER'" in lines[3]  # the stock pipeline on the same checkpoint
    assert lines[4].startswith("[")  # the zero-shot pipeline with types named at call time


@pytest.mark.parametrize("dataset", ["emotion", "goemotions"])
def test_train_label_token_classifier(dataset, tiny_encoder_dir, tmp_path, monkeypatch, capsys):
    rng = random.Random(0)
    emotions = ["sadness", "joy", "love", "anger", "fear", "surprise"]
    (tmp_path / "emotion").mkdir()
    for split in ("train", "val", "test"):
        rows = [f"{' '.join(rng.choices(WORDS, k=5))};{label}" for label in emotions for _ in range(2)]
        (tmp_path / "emotion" / f"{split}.txt").write_text("text;label\n" + "\n".join(rows) + "\n")
    (tmp_path / "goemotions").mkdir()
    (tmp_path / "goemotions" / "labels.txt").write_text("joy\nanger\nfear\n")
    for split in ("train", "dev", "test"):
        rows = [f"{' '.join(rng.choices(WORDS, k=4))}\t{i % 3},{(i + 1) % 3}\tid{i}" for i in range(6)]
        (tmp_path / "goemotions" / f"{split}.tsv").write_text("\n".join(rows) + "\n")
    argv = ["--dataset", dataset, "--data", str(tmp_path), "--backbone", str(tiny_encoder_dir)]
    argv += ["--max-steps", "2", "--output", "out"]
    run_example("train_label_token_classifier.py", argv, monkeypatch, tmp_path)
    printed = capsys.readouterr().out
    assert "label tokens: " in printed and "test: {" in printed and "predict():" in printed
    metric = "eval_micro_f1" if dataset == "goemotions" else "eval_accuracy"
    assert metric in printed
    saved = LabelTokenForSequenceClassification.from_pretrained(tmp_path / "out" / "final")
    assert saved.config.is_multi_label == (dataset == "goemotions")


def test_zero_shot_labelling(tiny_encoder_dir, tmp_path, monkeypatch, capsys):
    rng = random.Random(0)
    (tmp_path / "fce").mkdir()
    for split in ("train", "test"):
        sentences = []
        for i in range(10):
            words = rng.choices(WORDS, k=4) + (["sold"] if i % 2 else [])
            sentences.append("\n".join(f"{w}\t{'i' if w == 'sold' else 'c'}" for w in words))
        (tmp_path / "fce" / f"{split}.tsv").write_text("\n\n".join(sentences) + "\n")
    argv = ["--data", str(tmp_path / "fce"), "--backbone", str(tiny_encoder_dir), "--train-sentences", "8"]
    argv += ["--max-steps", "2", "--max-length", "32", "--output", str(tmp_path / "out")]
    run_example("zero_shot_labelling.py", argv, monkeypatch, tmp_path)
    printed = capsys.readouterr().out
    assert printed.count("   gold: ") == 8  # the first 8 test sentences
    assert "HTML in " in printed and (tmp_path / "out" / "fce_words.html").stat().st_size > 0
    saved = LabelAttentionForSequenceClassification.from_pretrained(tmp_path / "out" / "model")
    assert list(saved.config.id2label.values()) == ["incorrect"]
