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
    argv = ["--stages", "fewshot", "goemotions", "throughput", "--backbone", str(tiny_encoder_dir)]
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
    ]
    benchmark.main(argv)

    raw = json.loads(output.with_suffix(".json").read_text())["results"]
    fewshot = raw["fewshot"]["runs"]
    # 5 models x (2 rates on seed 0 + seed 1 at the chosen rate), each scored on validation and test.
    assert len(fewshot) == 15 and len(list((cache / "fewshot").glob("*.npz"))) == 15
    for model in benchmark.FEWSHOT_MODELS:
        runs = [r for r in fewshot if (r["model"], r["init"]) == model]
        chosen = [r for r in runs if r["seed"] == 0 and r["selected"]]
        assert len(chosen) == 1
        best_val = max(r["val"]["accuracy"] for r in runs if r["seed"] == 0)
        assert chosen[0]["val"]["accuracy"] == best_val
        assert [r["lr"] for r in runs if r["seed"] == 1] == [chosen[0]["lr"]]
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
    report = output.read_text()
    for heading in (
        "## Emotion, few-shot",
        "Learning-rate selection",
        "## GoEmotions",
        "## Throughput",
        "## Summary",
    ):
        assert heading in report

    stamps = {p: p.stat().st_mtime_ns for p in cache.rglob("*.json")}
    benchmark.main(argv[:1] + ["fewshot"] + argv[4:])  # resumed from the cache: nothing retrained
    assert {p: p.stat().st_mtime_ns for p in cache.rglob("*.json")} == stamps
    assert "## GoEmotions" in output.read_text()  # the other stages' results are kept


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
