"""End-to-end: the stock Trainer, the main job's command, the benchmark harness, and the real backbone."""

from __future__ import annotations

import importlib.util
import json
import os
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


def test_main_job_command_on_tiny_data(tiny_encoder_dir, tiny_ner_dir, tmp_path, capsys, monkeypatch):
    import label_semantics.training

    trainers, real = [], label_semantics.training.finetune
    monkeypatch.setattr(
        label_semantics.training, "finetune", lambda *a, **k: trainers.append(real(*a, **k)) or trainers[-1]
    )
    out = tmp_path / "run"
    code = cli_main(
        [
            "fewshot",
            "--source", str(tiny_ner_dir / "conll2003"),
            "--target", str(tiny_ner_dir / "wnut17"),
            "--backbone", str(tiny_encoder_dir),
            "--k", "2",
            "--target-steps", "10",
            "--source-limit", "20",
            "--source-epochs", "2",
            "--show", "3",
            "--output", str(out),
        ]
    )  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert "actor" in printed and "genre" in printed and "overall (micro)" in printed
    assert "2-shot support set of" in printed
    assert f"Source {tiny_ner_dir / 'conll2003'}: 20 sentences" in printed  # --source-limit of 40
    assert printed.count("\n    -> ") == 3  # --show
    source, target = trainers
    assert source.args.num_train_epochs == 2 and source.state.global_step == 2 * 2  # 20 sentences, batch 16
    assert len(source.train_dataset) == 20 and target.state.global_step == 10
    loaded = LabelSemanticsForTokenClassification.from_pretrained(out)
    assert sorted(loaded.labels) == ["B-actor", "B-genre", "I-actor", "I-genre", "O"]
    card = (out / "README.md").read_text()
    assert "| source_sentences | 20 |" in card and "| source_epochs | 2.0 |" in card


def test_main_job_defaults_show_five_and_limit_the_source(tiny_encoder_dir, tiny_ner_dir, tmp_path, capsys):
    argv = ["fewshot", "--source", str(tiny_ner_dir / "conll2003"), "--target", str(tiny_ner_dir / "wnut17")]
    argv += [
        "--backbone",
        str(tiny_encoder_dir),
        "--k",
        "1",
        "--target-steps",
        "1",
        "--output",
        str(tmp_path),
    ]
    assert cli_main([*argv, "--source-epochs", "0.1"]) == 0
    printed = capsys.readouterr().out
    assert printed.count("\n    -> ") == 5
    assert f"Source {tiny_ner_dir / 'conll2003'}: 40 sentences" in printed  # fewer than the default 4,000


def test_main_job_reports_a_missing_source(tmp_path, capsys):
    with pytest.raises(SystemExit, match="--source"):
        cli_main(["fewshot", "--source", str(tmp_path / "missing"), "--target", str(tmp_path)])


def _harness():
    spec = importlib.util.spec_from_file_location("fewshot_ner", ROOT / "benchmarks" / "fewshot_ner.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmark_harness_small_configuration_and_resume(
    tiny_encoder_dir, tiny_ner_dir, tmp_path, monkeypatch
):
    harness = _harness()
    loads = iter(range(100))
    monkeypatch.setattr(os, "getloadavg", lambda: (float(next(loads)), 0.0, 0.0))
    common = ["--backbone", str(tiny_encoder_dir), "--data", str(tiny_ner_dir), "--targets", "wnut17"]
    common += ["--results", str(tmp_path / "results"), "--cache", str(tmp_path / "cache"), "--tag", "tiny"]
    harness.main(
        ["grid", "--ks", "1", "--seeds", "1", "--source-epochs", "2", "--target-lr", "0.001", *common]
    )
    cells = tmp_path / "results" / "cells" / "tiny"
    names = sorted(p.name for p in cells.glob("*.json"))
    assert names == ["conll2003_full.json", "wnut17_k1_seed0.json", "wnut17_zeroshot.json"]
    cell = json.loads((cells / "wnut17_k1_seed0.json").read_text())
    assert set(cell["models"]) == {"dual", "transfer"}
    assert 0.0 <= cell["models"]["dual"]["viterbi"]["overall_f1"] <= 1.0
    assert (cell["target_lr"], cell["steps"]) == (0.001, harness.steps_for(1))
    before, after = cell["machine"]["load_1min"]  # os.getloadavg() just before and just after the cell
    assert after == before + 1 and cell["machine"]["cpus"] == os.cpu_count()
    assert cell["machine"]["cuda"] is torch.cuda.is_available()
    conll = json.loads((cells / "conll2003_full.json").read_text())
    settings = {"sentences": 40, "epochs": 2.0, "learning_rate": 5e-5, "batch_size": 16}
    assert all(conll["models"][m]["source_settings"] == settings for m in ("dual", "transfer"))
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
    assert "Source: 40 CoNLL-2003 training sentences, 2 epoch(s), lr 5e-05, batch 16." in report
    assert "AdamW, lr 0.0001, batch 8" in report  # the recomputed cell ran with the default --target-lr
    assert (tmp_path / "results" / "f1_vs_k.png").stat().st_size > 1000


def _scores(dual: float, transfer: float | None = None) -> dict:
    models = {"dual": dual} if transfer is None else {"dual": dual, "transfer": transfer}
    return {
        m: {d: {"overall_f1": f1 - (0.1 if d == "argmax" else 0)} for d in ("viterbi", "argmax")}
        for m, f1 in models.items()
    }


def _write_cells(folder: Path, machine: bool = True) -> None:
    """wnut17: K=1 dual F1 30 and 40, TransferBERT 20 and 20 (argmax 10 points lower), zero-shot 10; mit_movie:
    K=1 infeasible; the source checkpoints' settings in the CoNLL cell."""
    folder.mkdir(parents=True)
    cells = {
        "wnut17_k1_seed0": {"target": "wnut17", "k": 1, "seed": 0, "models": _scores(0.30, 0.20)},
        "wnut17_k1_seed1": {"target": "wnut17", "k": 1, "seed": 1, "models": _scores(0.40, 0.20)},
        "wnut17_zeroshot": {"target": "wnut17", "k": 0, "models": _scores(0.10)},
        "mit_movie_k1_seed0": {
            "target": "mit_movie",
            "k": 1,
            "seed": 0,
            "infeasible": "too few",
            "models": {},
        },
        "conll2003_full": {"target": "conll2003", "models": _scores(0.85, 0.80)},
    }
    source = {"sentences": 4000, "epochs": 3.0, "learning_rate": 5e-5, "batch_size": 16}
    for model, train_seconds in (("dual", 100.0), ("transfer", 90.0)):
        cells["conll2003_full"]["models"][model].update(
            source_settings=source, source_train_seconds=train_seconds
        )
    for i, (name, cell) in enumerate(cells.items()):
        if cell.get("k") and "infeasible" not in cell:
            cell.update(target_lr=2e-4, steps=40)
        if machine:
            cell["machine"] = {"load_1min": [0.25 * i, 0.25 * i + 1.5], "cpus": 2, "cuda": False}
        (folder / f"{name}.json").write_text(json.dumps(cell))


def test_benchmark_report_on_cells_with_known_scores(tmp_path):
    harness = _harness()
    results, cells = tmp_path / "results", tmp_path / "results" / "cells" / "syn"
    _write_cells(cells)
    harness.main(
        [
            "report",
            "--tag",
            "syn",
            "--targets",
            "wnut17",
            "mit_movie",
            "--backbone",
            "tiny-bert",
            "--results",
            str(results),
        ]
    )
    lines = (results / "report.md").read_text().splitlines()
    assert (
        "; 2 CPU cores, no GPU, 1-minute load average 0.00 to 2.50 before and after each cell; tables"
        in lines[2]
    )
    assert lines[9].startswith("Source: 4000 CoNLL-2003 training sentences, 3 epoch(s), lr 5e-05, batch 16. ")
    assert lines[10].startswith("both models): AdamW, lr 0.0002, batch 8, steps K=1: 40. Micro-F1")
    for decoder, (dual, transfer, zero) in {"viterbi": (35, 20, 10), "argmax": (25, 10, 0)}.items():
        at = lines.index(f"### Decoding: {decoder}")
        assert (
            lines[at + 2 : at + 9]
            == [
                "| target | K=1 dual | K=1 TransferBERT | zero-shot dual |",
                "|---|---|---|---|",
                f"| wnut17 | {dual}.0 ± 7.1 (n=2) | {transfer}.0 ± 0.0 (n=2) | {zero}.0 |",  # std of 30 and 40: 7.07
                "| mit_movie | infeasible¹ | infeasible¹ | – |",
                f"| **average over targets** | **{dual}.0** (1 targets) | **{transfer}.0** (1 targets) | {zero}.0 |",
                "",
                f"- K=1: dual − TransferBERT = +15.0 F1 points averaged over 1 targets ({decoder}).",
            ]
        )
    assert "¹ mit_movie, K=1: no support set could be sampled: too few" in lines
    assert "| dual | 85.0 | 75.0 | 100 |" in lines and "| transfer | 80.0 | 70.0 | 90 |" in lines
    assert not any("target ≥" in line or "shared with other jobs" in line for line in lines)


def test_benchmark_report_says_what_old_cells_did_not_record(tmp_path):
    harness = _harness()
    results = tmp_path / "results"
    _write_cells(results / "cells" / "old", machine=False)
    for path in (results / "cells" / "old").glob(
        "*.json"
    ):  # as cells written before the settings were recorded
        cell = json.loads(path.read_text())
        cell.pop("target_lr", None)
        for model in cell["models"].values():
            model.pop("source_settings", None)
        path.write_text(json.dumps(cell))
    argv = [
        "report",
        "--tag",
        "old",
        "--targets",
        "wnut17",
        "--backbone",
        "tiny-bert",
        "--results",
        str(results),
    ]
    harness.main([*argv, "--source-epochs", "1.5", "--target-lr", "3e-4"])
    text = (results / "report.md").read_text()
    assert "; CPU cores, GPU and load average not recorded by the cells; tables written" in text
    assert "Source: CoNLL-2003 train, 1.5 epoch(s) (`--source-epochs` of the report command" in text
    assert "lr 0.0003 (`--target-lr` of the report command; 2 cells did not record it)" in text
    assert "no GPU" not in text and "shared with other jobs" not in text


def test_benchmark_report_changes_benchmarks_md_only_between_its_markers(tmp_path):
    harness = _harness()
    results = tmp_path / "results"
    _write_cells(results / "cells" / "syn")
    before, after = "# Benchmarks\n\nHand-written text.\n\n", "\n## Other benchmark\n\nIts table.\n"
    old_body = "<!-- fewshot_ner:start -->\nold tables\n<!-- fewshot_ner:end -->"
    (tmp_path / "BENCHMARKS.md").write_text(before + old_body + after)
    harness.ROOT, harness.RESULTS_DEFAULT = tmp_path, results  # the real BENCHMARKS.md is never touched
    argv = [
        "report",
        "--tag",
        "syn",
        "--targets",
        "wnut17",
        "--backbone",
        "tiny-bert",
        "--results",
        str(results),
    ]
    harness.main(argv)
    text = (tmp_path / "BENCHMARKS.md").read_text()
    head, rest = text.split("<!-- fewshot_ner:start -->\n")
    body, tail = rest.split("<!-- fewshot_ner:end -->")
    assert head == before and tail == after
    report = (results / "report.md").read_text()
    assert body == report + "\n![F1 against K](benchmarks/results/fewshot_ner/f1_vs_k.png)\n"
    harness.main(argv)  # once more: the same file
    assert (tmp_path / "BENCHMARKS.md").read_text() == text


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
