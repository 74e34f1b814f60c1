"""A small configuration of the label-token classifier benchmark, so that its harness cannot silently break."""

from __future__ import annotations

import importlib.util
import json
import math
import random
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EMOTIONS = ["sadness", "joy", "love", "anger", "fear", "surprise"]
WORDS = "the movie was good bad great terrible happy sad film song food".split()


def _benchmark():
    path = ROOT / "benchmarks" / "label_token_classifier.py"
    spec = importlib.util.spec_from_file_location("label_token_classifier", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _write_data(folder: Path) -> None:
    rng = random.Random(0)
    emotion = folder / "emotion"
    emotion.mkdir(parents=True)
    for split, per_label in (("train", 4), ("val", 2), ("test", 2)):
        rows = [
            f"{' '.join(rng.choices(WORDS, k=5))};{label}" for label in EMOTIONS for _ in range(per_label)
        ]
        (emotion / f"{split}.txt").write_text("text;label\n" + "\n".join(rows) + "\n", encoding="utf-8")
    sst5 = folder / "sst5"
    sst5.mkdir()
    for split, per_label in (("train", 4), ("dev", 2), ("test", 2)):
        rows = [
            f"{label} {' '.join(rng.choices(WORDS, k=5))}" for label in range(5) for _ in range(per_label)
        ]
        (sst5 / f"{split}.txt").write_text("\n".join(rows) + "\n", encoding="utf-8")
    go = folder / "goemotions"
    go.mkdir()
    labels = ["joy", "anger", "fear"]
    (go / "labels.txt").write_text("\n".join(labels) + "\n", encoding="utf-8")
    for split in ("train", "dev", "test"):
        rows = [f"{' '.join(rng.choices(WORDS, k=4))}\t{i % 3},{(i + 1) % 3}\tid{i}" for i in range(8)]
        (go / f"{split}.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")


def test_label_token_benchmark_small_configuration_and_resume(tiny_encoder_dir, tmp_path):
    benchmark = _benchmark()
    _write_data(tmp_path / "data")
    output, cache = tmp_path / "results" / "out.md", tmp_path / "cache"
    argv = ["--stages", "fewshot", "goemotions", "throughput", "passes", "--backbone", str(tiny_encoder_dir)]
    argv += [
        "--data",
        str(tmp_path / "data"),
        "--max-length",
        "16",
        "--output",
        str(output),
        "--cache",
        str(cache),
    ]
    argv += ["--shots", "2", "--seeds", "2", "--fewshot-steps", "2", "--fewshot-lrs", "1e-4", "2e-4"]
    argv += ["--fewshot-datasets", "emotion", "sst5", "--fewshot-rows", "label-token", "shared-linear"]
    argv += ["standard", "zero-shot", "--fewshot-test-sizes", "sst5=7"]
    argv += [
        "--goemotions-train",
        "8",
        "--goemotions-lrs",
        "1e-4",
        "2e-4",
        "--batch-size",
        "4",
        "--label-counts",
        "2",
        "--throughput-steps",
        "1",
        "--labels-per-pass",
        "3",
        "1",
        "--passes-texts",
        "4",
    ]
    benchmark.main(argv)

    raw = json.loads(output.with_suffix(".json").read_text())["results"]
    fewshot = raw["fewshot"]["runs"]
    # 2 data sets x (1 zero-shot run + 3 rows x (2 rates on seed 0 + seed 1 at the chosen rate)), each scored on
    # validation and test.
    assert len(fewshot) == 20 and len(list((cache / "fewshot").glob("*.npz"))) == 20
    assert raw["fewshot"]["test_examples"] == {"emotion": 12, "sst5": 7}
    for dataset in ("emotion", "sst5"):
        assert [r["row"] for r in fewshot if r["dataset"] == dataset and r["k"] == 0] == ["zero-shot"]
        for row in ("label-token", "shared-linear", "standard"):
            runs = [r for r in fewshot if (r["dataset"], r["row"]) == (dataset, row)]
            chosen = [r for r in runs if r["seed"] == 0 and r["selected"]]
            assert len(chosen) == 1
            best_val = max(r["val"]["accuracy"] for r in runs if r["seed"] == 0)
            assert chosen[0]["val"]["accuracy"] == best_val
            assert [r["lr"] for r in runs if r["seed"] == 1] == [chosen[0]["lr"]]
    designs = {r["row"]: r["design"] for r in fewshot}
    assert designs["label-token"] == {} and designs["shared-linear"] == benchmark.OLD_DESIGN
    # the support sets the SetFit script reads are the ones trained on
    support = json.loads((cache / "support_sets" / "sst5.json").read_text())
    assert support["labels"] == benchmark.SST5_LABELS and sorted(support["support"]) == [
        "k2_seed0",
        "k2_seed1",
    ]
    pool = benchmark.read_sst5(tmp_path / "data" / "sst5", "train")
    chosen = support["support"]["k2_seed1"]
    assert chosen["texts"] == [pool[0][i] for i in chosen["indices"]]
    assert chosen["indices"] == benchmark.sample_per_label(pool[1], 2, 1)
    assert sorted(chosen["labels"]) == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    go = raw["goemotions"]["runs"]
    assert sorted((r["model"], r["lr"], r["bias_init"]) for r in go) == [
        ("label-token", 1e-4, "prior"),
        ("label-token", 1e-4, "zero"),
        ("label-token", 2e-4, "prior"),
        ("label-token", 2e-4, "zero"),
        ("standard", 1e-4, "prior"),
        ("standard", 1e-4, "zero"),
        ("standard", 2e-4, "prior"),
        ("standard", 2e-4, "zero"),
    ]
    assert all(r["threshold"] in benchmark.THRESHOLDS and "at_0.5" in r for r in go)
    passes = raw["passes"]["rows"]
    assert [(r["labels_per_pass"], r["passes"]) for r in passes] == [(3, 1), (1, 3)]
    assert passes[1]["max_logit_difference"] < 1e-4
    report = output.read_text()
    for heading in (
        "## Few-shot classification",
        "### emotion",
        "### sst5",
        "Learning-rate sweeps",
        "## GoEmotions",
        "## Throughput",
        "## Several passes",
        "## Summary",
    ):
        assert heading in report

    stamps = {p: p.stat().st_mtime_ns for p in (cache / "fewshot").rglob("*.json")}
    setfit = [
        {
            "dataset": "sst5",
            "k": 2,
            "seed": s,
            "model": "setfit",
            "init": None,
            "lr": None,
            "test_examples": n,
        }
        for s, n in ((0, 7), (1, 7), (2, 10))  # the last was scored on another test set: left out
    ]
    # the tuned variant: rate 1e-5 chosen on seed 0, 3e-5 tried there and not chosen
    for seed, lr, selected in ((0, 1e-5, True), (0, 3e-5, False), (1, 1e-5, True)):
        setfit.append(
            {
                **setfit[0],
                "seed": seed,
                "variant": "tuned",
                "lr": lr,
                "selected": selected,
                "val": {"accuracy": 0.1},
            }
        )
    for record in setfit:
        record.update(accuracy=0.5, macro_f1=0.4, top_class_share=0.3, inference_examples_per_s=10.0)
        record["train"] = {"seconds": 1.0}
    (cache / "setfit").mkdir()
    (cache / "setfit" / "records.json").write_text(json.dumps(setfit))
    benchmark.main(argv[:1] + ["fewshot"] + argv[5:] + ["--cached-only"])  # resumed from the cache
    assert {p: p.stat().st_mtime_ns for p in (cache / "fewshot").rglob("*.json")} == stamps
    report = output.read_text()
    assert "## GoEmotions" in report  # the other stages' results are kept
    assert (
        "| SetFit, default recipe (setfit 1.2.0) | 2 | 2 | 50.0 ± 0.0 | 40.0 ± 0.0 | 0 / 2 | 1 | 10 | – "
        "| 0: 50.0/40.0, 1: 50.0/40.0 |" in report
    )
    assert (
        "| SetFit, body learning rate chosen on validation (setfit 1.2.0) | 2 | 2 | 50.0 ± 0.0 | 40.0 ± 0.0 | 0 / 2 "
        "| 1 | 10 | 1e-05 | 0: 50.0/40.0, 1: 50.0/40.0 |" in report
    )
    assert (
        "- SetFit, body learning rate chosen on validation (setfit 1.2.0), k=2, lr 3e-05: 10.0 / 50.0"
        in report
    )


def test_output_bias_starts_at_the_label_log_odds(tiny_encoder_dir):
    import torch

    benchmark = _benchmark()
    targets = [[1.0, 0.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 0.0], [1.0, 0.0, 0.0]]  # rates 3/4, 1/4, 0
    standard, _ = benchmark.build(
        "standard", str(tiny_encoder_dir), ["joy", "anger", "fear"], "multi_label_classification"
    )
    benchmark.init_output_bias(standard, targets)
    expected = torch.tensor([3.0, 1 / 3, 1e-4 / (1 - 1e-4)]).log()
    assert torch.allclose(standard.classifier.bias, expected, atol=1e-5)
    label_token, _ = benchmark.build(
        "label-token", str(tiny_encoder_dir), ["joy", "anger", "fear"], "multi_label_classification"
    )
    benchmark.init_output_bias(label_token, targets)
    mean = (0.75 + 0.25 + 1e-4) / 3
    assert label_token.classifier.bias.item() == pytest.approx(math.log(mean / (1 - mean)), abs=1e-5)


def test_a_support_set_short_of_examples_names_the_label_and_count():
    benchmark = _benchmark()
    with pytest.raises(ValueError, match=r"label 'joy' has 2 examples, fewer than the k=3 asked for"):
        benchmark.sample_per_label([0, 0, 0, 1, 1], 3, seed=0, labels=["sadness", "joy"])
    with pytest.raises(ValueError, match=r"label 'fear' has 1 examples, fewer than the k=2"):
        benchmark.sample_multi_label([[1, 0], [1, 1], [1, 0]], 2, seed=0, labels=["joy", "fear"])
    chosen = benchmark.sample_multi_label([[1, 0], [1, 1], [1, 0], [0, 1]], 2, seed=0, labels=["joy", "fear"])
    # the rarer label first (both of its texts), then one more text for the other label's second example
    assert len(chosen) == 3 and {1, 3} <= set(chosen)


def test_report_states_the_measured_machine_and_backbone(tiny_encoder_dir, tmp_path, monkeypatch):
    import os

    import torch

    benchmark = _benchmark()
    # reported as measured; the models stay on the CPU
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    loads = iter([0.5, 1.25])
    monkeypatch.setattr(os, "getloadavg", lambda: (next(loads), 0.0, 0.0))
    output = tmp_path / "out.md"
    argv = ["--stages", "throughput", "--backbone", str(tiny_encoder_dir), "--output", str(output)]
    threads = torch.get_num_threads()
    try:
        benchmark.main([*argv, "--cache", str(tmp_path), "--label-counts", "2", "--throughput-steps", "1"])
    finally:
        torch.set_num_threads(threads)
    lines = output.read_text().splitlines()
    assert f"- backbone: {tiny_encoder_dir} (bert, 2 layers, hidden 32), the same for both models" in lines
    hardware = next(line for line in lines if line.startswith("- hardware: "))
    assert hardware.endswith(
        f", {os.cpu_count()} cores, torch.set_num_threads(1), models on the CPU (torch.cuda.is_available(): True)"
    )
    assert "- 1-minute load average before -> after each stage: throughput 0.50 -> 1.25" in lines
    assert not any("shared with other jobs" in line for line in lines)
    old = {"emotion": {}, "throughput": {"load_1min": [0.5, 1.25]}}  # results measured before the load was
    assert benchmark.load_lines(old) == [
        "- 1-minute load average before -> after each stage: throughput 0.50 -> 1.25, emotion not recorded"
    ]


def test_multi_label_fewshot_scores_use_the_validation_threshold_and_count_one_label_set_as_collapse():
    import numpy as np

    benchmark = _benchmark()
    targets = [[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]]
    # sigmoid scores 0.2 for the gold label, 0.1 for the other: only thresholds in (0.1, 0.2] are right
    logit = {0.2: math.log(0.2 / 0.8), 0.1: math.log(0.1 / 0.9)}
    scores = np.array([[logit[0.2] if y else logit[0.1] for y in row] for row in targets])
    data = {
        "problem_type": "multi_label_classification",
        "val": ([""] * 4, targets),
        "test": ([""] * 4, targets),
    }
    scorer, metric = benchmark.fewshot_scores(data)
    result = scorer({"val": scores, "test": scores})
    assert metric == "micro_f1" and result["threshold"] in (0.15, 0.2)
    assert result["micro_f1"] == 1.0 and result["at_0.5"]["micro_f1"] == 0.0
    assert result["top_set_share"] == 0.5  # two label sets, two texts each
    same = benchmark.multi_label_scores(np.zeros((4, 2)) + 3.0, targets)  # every text: both labels
    assert same["top_set_share"] == 1.0


def test_label_warmup_moves_only_the_label_tokens_and_the_head(tiny_encoder_dir):
    import torch

    benchmark = _benchmark()
    model, tokenizer = benchmark.build(
        "label-token", str(tiny_encoder_dir), ["joy", "anger"], "single_label_classification", design={}
    )
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    texts, targets = ["the movie was good", "the food was bad"] * 2, [0, 1] * 2
    fit = benchmark.train(
        model,
        tokenizer,
        texts,
        targets,
        steps=0,
        batch_size=2,
        lr=1e-3,
        seed=0,
        max_length=16,
        label_warmup=3,
    )
    assert fit["steps"] == 3 and fit["examples"] == 6
    changed = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
    embedding = "encoder.embeddings.word_embeddings.weight"
    assert embedding in changed and "classifier.weight" in changed
    assert all(not n.startswith("encoder.") for n in changed - {embedding})
    rows = (model.encoder.get_input_embeddings().weight != before[embedding]).any(-1).nonzero().flatten()
    assert sorted(rows.tolist()) == sorted(model.config.label_token_ids)
    # the hook is gone: the main phase gets every embedding row's gradient again
    weight = model.encoder.get_input_embeddings().weight
    loss = model(**tokenizer(texts[:1], return_tensors="pt"), labels=torch.tensor([0])).loss
    loss.backward()
    word = tokenizer.convert_tokens_to_ids("movie")
    assert weight.grad[word].abs().sum() > 0


def test_support_sets_of_other_k_are_kept_when_the_test_texts_are_the_same(tmp_path):
    from types import SimpleNamespace

    benchmark = _benchmark()
    data = {
        "labels": ["joy", "anger"],
        "problem_type": "single_label_classification",
        "pool": ([f"text {i}" for i in range(8)], [0, 1] * 4),
        "val": (["v"], [0]),
        "test": (["t"], [1]),
    }
    args = SimpleNamespace(cache=tmp_path, shots=[2], seeds=1)
    path = benchmark.write_support_sets(args, "emotion", data)
    args.shots = [1]
    benchmark.write_support_sets(args, "emotion", data)
    assert sorted(json.loads(path.read_text())["support"]) == ["k1_seed0", "k2_seed0"]
    data["test"] = (["other"], [1])  # another test set: the earlier support sets are not carried over
    benchmark.write_support_sets(args, "emotion", data)
    assert sorted(json.loads(path.read_text())["support"]) == ["k1_seed0"]


def test_per_data_set_test_sizes_are_parsed_and_bad_ones_named():
    import argparse

    benchmark = _benchmark()
    assert benchmark.dataset_size("goemotions=1000") == ("goemotions", 1000)
    for bad in ("goemotion=1000", "goemotions=0", "goemotions", "sst5=x"):
        with pytest.raises(argparse.ArgumentTypeError, match=repr(bad)):
            benchmark.dataset_size(bad)
