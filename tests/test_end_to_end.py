"""End-to-end: the stock Trainer, the main job's command, the benchmark harness, and the real backbone."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch
from transformers import Trainer, TrainingArguments

from label_semantics import LabelSemanticsForTokenClassification
from label_semantics.cli import main as cli_main
from label_semantics.data import NERDataCollator, load_ner_dataset, tokenize_and_align
from label_semantics.evaluation import build_compute_metrics
from label_semantics.training import evaluate_ner, finetune

ROOT = Path(__file__).resolve().parents[1]
LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-MISC", "I-MISC"]


def test_stock_trainer_with_default_arguments(tiny_encoder_dir, tiny_ner_dir, tmp_path):
    torch.manual_seed(0)
    data = load_ner_dataset(tiny_ner_dir / "conll2003")
    model = LabelSemanticsForTokenClassification.from_encoder(tiny_encoder_dir, labels=LABELS)

    def encode(split):
        return split.map(
            tokenize_and_align,
            batched=True,
            fn_kwargs={"tokenizer": model.tokenizer, "label2id": model.config.label2id},
        )  # the raw columns stay: Trainer's remove_unused_columns drops what forward() does not take

    trainer = Trainer(
        model=model,
        args=TrainingArguments(output_dir=str(tmp_path), report_to="none"),
        train_dataset=encode(data["train"]),
        eval_dataset=encode(data["test"]),
        data_collator=NERDataCollator(model.tokenizer),
        compute_metrics=build_compute_metrics(model.config.id2label),
    )
    before = trainer.evaluate()
    trainer.train()
    after = trainer.evaluate()
    assert after["eval_loss"] < before["eval_loss"]
    assert {"eval_overall_f1", "eval_PER_f1"} <= set(after)
    assert after["eval_overall_f1"] > before["eval_overall_f1"]


def test_main_job_command_on_tiny_data(tiny_encoder_dir, tiny_ner_dir, tmp_path, capsys):
    out = tmp_path / "run"
    code = cli_main(
        [
            "fewshot",
            "--source", str(tiny_ner_dir / "conll2003"),
            "--target", str(tiny_ner_dir / "wnut17"),
            "--backbone", str(tiny_encoder_dir),
            "--k", "2",
            "--target-steps", "10",
            "--output", str(out),
        ]
    )  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert "actor" in printed and "genre" in printed and "overall (micro)" in printed
    assert "2-shot support set of" in printed and "->" in printed
    loaded = LabelSemanticsForTokenClassification.from_pretrained(out)
    assert sorted(loaded.labels) == ["B-actor", "B-genre", "I-actor", "I-genre", "O"]


def test_main_job_reports_a_missing_source(tmp_path, capsys):
    with pytest.raises(SystemExit, match="--source"):
        cli_main(["fewshot", "--source", str(tmp_path / "missing"), "--target", str(tmp_path)])


def _harness():
    spec = importlib.util.spec_from_file_location("fewshot_ner", ROOT / "benchmarks" / "fewshot_ner.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmark_harness_small_configuration_and_resume(tiny_encoder_dir, tiny_ner_dir, tmp_path):
    harness = _harness()
    common = ["--backbone", str(tiny_encoder_dir), "--data", str(tiny_ner_dir), "--targets", "wnut17"]
    common += ["--results", str(tmp_path / "results"), "--cache", str(tmp_path / "cache"), "--tag", "tiny"]
    harness.main(["grid", "--ks", "1", "--seeds", "1", *common])
    cells = tmp_path / "results" / "cells" / "tiny"
    names = sorted(p.name for p in cells.glob("*.json"))
    assert names == ["conll2003_full.json", "wnut17_k1_seed0.json", "wnut17_zeroshot.json"]
    cell = json.loads((cells / "wnut17_k1_seed0.json").read_text())
    assert set(cell["models"]) == {"dual", "transfer"}
    assert 0.0 <= cell["models"]["dual"]["viterbi"]["overall_f1"] <= 1.0
    stamp = (cells / "wnut17_k1_seed0.json").stat().st_mtime_ns
    harness.main(["grid", "--ks", "1", "--seeds", "1", *common])  # resumed: nothing recomputed
    assert (cells / "wnut17_k1_seed0.json").stat().st_mtime_ns == stamp
    (cells / "wnut17_k1_seed0.json").unlink()
    zeroshot = (cells / "wnut17_zeroshot.json").stat().st_mtime_ns
    harness.main(["grid", "--ks", "1", "--seed", "0", *common])  # a single cell, computed again
    assert json.loads((cells / "wnut17_k1_seed0.json").read_text())["seed"] == 0
    assert not (cells / "wnut17_k1_seed1.json").exists()  # only the seed asked for
    assert (cells / "wnut17_zeroshot.json").stat().st_mtime_ns == zeroshot
    harness.main(["report", *common])
    report = (tmp_path / "results" / "report.md").read_text()
    assert "| wnut17 |" in report and "K=1 dual" in report
    assert (tmp_path / "results" / "f1_vs_k.png").stat().st_size > 1000


@pytest.mark.slow
def test_real_backbone_learns_conll(minilm_path, shared_data, tmp_path):
    """The default backbone on real data: 40 steps on 320 CoNLL-2003 sentences lift entity F1 well above the
    untrained model's."""
    torch.manual_seed(0)
    data = load_ner_dataset(shared_data / "ner" / "conll2003")
    model = LabelSemanticsForTokenClassification.from_encoder(minilm_path, labels=LABELS)
    assert model.config.label_descriptions[1] == "begin person"
    train = data["train"].shuffle(seed=0).select(range(320))
    validation = data["validation"].select(range(200))
    before = evaluate_ner(model, validation)["overall_f1"]
    finetune(
        model, train, output_dir=str(tmp_path), epochs=2, learning_rate=1e-4, batch_size=16, disable_tqdm=True
    )
    after = evaluate_ner(model, validation)["overall_f1"]
    assert after > 0.15 and after > before + 0.1, (before, after)
    text = "Angela Merkel met Emmanuel Macron in Paris on Monday."
    entities = model.predict(text)
    assert all(text[e["start"] : e["end"]] == e["text"] for e in entities)
    model.save_pretrained(tmp_path / "saved")
    assert LabelSemanticsForTokenClassification.from_pretrained(tmp_path / "saved").predict(text) == entities
