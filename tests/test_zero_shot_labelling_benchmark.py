"""A small configuration of the zero-shot labelling benchmark (FCE word labels from sentence labels, and the
emotion word evidence), so that its harness cannot silently break; its metrics checked on hand-made examples."""

from __future__ import annotations

import importlib.util
import math
import os
import random
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
WORDS = "the a movie was good bad great terrible happy sad film song food he she it is".split()
ERRORS = ["sold", "bought"]  # the words tagged `i` in the generated FCE data


def _benchmark():
    path = ROOT / "benchmarks" / "zero_shot_labelling.py"
    spec = importlib.util.spec_from_file_location("zero_shot_labelling", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _write_data(folder: Path, emotions: list[str]) -> None:
    rng = random.Random(0)
    fce = folder / "fce"
    fce.mkdir(parents=True)
    for split, n in (("train", 24), ("test", 8)):
        sentences = []
        for i in range(n):
            words = rng.choices(WORDS, k=rng.randint(3, 6))
            if i % 2:  # every other sentence holds an error word
                words.insert(rng.randint(0, len(words)), rng.choice(ERRORS))
            sentences.append("\n".join(f"{w}\t{'i' if w in ERRORS else 'c'}" for w in words))
        (fce / f"{split}.tsv").write_text("\n\n".join(sentences) + "\n", encoding="utf-8")
    emotion = folder / "classification" / "emotion"
    emotion.mkdir(parents=True)
    for split, per_label in (("train", 3), ("test", 2)):
        rows = [
            f"{' '.join(rng.choices(WORDS, k=5))};{label}" for label in emotions for _ in range(per_label)
        ]
        (emotion / f"{split}.txt").write_text("text;label\n" + "\n".join(rows) + "\n", encoding="utf-8")


def test_zero_shot_labelling_benchmark_small_configuration(tiny_encoder_dir, tmp_path, monkeypatch):
    benchmark = _benchmark()
    _write_data(tmp_path / "data", benchmark.EMOTIONS)
    out = tmp_path / "results"
    loads = iter([0.37, 1.25, 1.5, 1.75])
    monkeypatch.setattr(os, "getloadavg", lambda: (next(loads), 0.0, 0.0))
    monkeypatch.setattr(
        torch.cuda, "is_available", lambda: True
    )  # reported as measured; the models stay on CPU
    argv = ["--backbone", str(tiny_encoder_dir), "--data", str(tmp_path / "data"), "--epochs", "1"]
    argv += ["--batch-size", "4", "--max-length", "32", "--examples", "2", "--seed", "1"]
    argv += ["--output", str(out / "fce.md"), "--html", str(out / "evidence.html")]
    argv += ["--emotion-output", str(out / "evidence.md")]
    threads = torch.get_num_threads()
    try:
        benchmark.main(argv)
    finally:
        torch.set_num_threads(threads)  # main() sets one thread for the benchmark; the suite keeps its own

    report = (out / "fce.md").read_text()
    rows = [line for line in report.splitlines() if line.startswith("| ") and not line.startswith("| method")]
    names = [row.split(" | ")[0][2:] for row in rows]
    assert names == [
        "Relative frequency",
        "Gradient saliency, plain [CLS] classifier",
        "Label attention: softmax (first sub-token)",
        "Label attention: softmax (max over sub-tokens)",
        "Label attention: sigmoid, no L2/L3 (first sub-token)",
        "Label attention: sigmoid, no L2/L3 (max over sub-tokens)",
        "Label attention: sigmoid + L2/L3 (first sub-token)",
        "Label attention: sigmoid + L2/L3 (max over sub-tokens)",
        "Supervised token classifier (upper bound)",
    ]
    for row in rows:
        assert all(0.0 <= float(x) <= 1.0 for x in row.split(" | ")[1:8])
    # the relative-frequency baseline on this data: an error word occurs only in incorrect sentences, so it
    # scores 1.0 and every other word less: it finds every `i` word, and the ranking of all words is perfect
    relative = rows[0].split(" | ")
    assert relative[2] == "1.000" and relative[5] == "1.000" and relative[6] == "1.000"  # R, MAP, AP
    assert "24 of 24 training sentences, drawn with `random.Random(1).sample`" in report
    assert "all 8 test sentences" in report and report.count("  |  gold: ") == 2  # --examples 2
    hardware = next(line for line in report.splitlines() if line.startswith("- hardware: "))
    assert f"{os.cpu_count()} cores, torch threads 1, models on the CPU" in hardware
    assert "(torch.cuda.is_available(): True)" in hardware
    assert (
        "1-minute load average 0.37 at the start, 1.75 when this was written" in hardware
    )  # the last report
    assert "shared with other jobs" not in report and "no GPU" not in report
    assert "- training: 1 epoch(s), batch 4," in report and "max_length 32, seed 1" in report

    evidence = (out / "evidence.md").read_text()
    assert (
        "Written by `benchmarks/zero_shot_labelling.py`" in evidence
        and "18 of 18 training sentences" in evidence
    )
    assert "1-minute load average 0.37 at the start, 1.50 when this was written" in evidence
    table = [line for line in evidence.splitlines() if line.startswith("| ")]
    assert table[0] == "| " + " | ".join(benchmark.EMOTIONS) + " |"
    assert len(table) == 3 + 2 * len(benchmark.EMOTIONS)  # F1 header and row, the two examples of each label
    assert (out / "evidence.html").read_text().startswith("<!DOCTYPE html>")


def test_skip_fce_leaves_the_fce_report_alone(tiny_encoder_dir, tmp_path):
    benchmark = _benchmark()
    _write_data(tmp_path / "data", benchmark.EMOTIONS)
    (tmp_path / "fce.md").write_text("kept\n")
    argv = ["--backbone", str(tiny_encoder_dir), "--data", str(tmp_path / "data"), "--skip-fce"]
    argv += ["--batch-size", "6", "--max-length", "16", "--output", str(tmp_path / "fce.md")]
    argv += ["--html", str(tmp_path / "e.html"), "--emotion-output", str(tmp_path / "e.md")]
    threads = torch.get_num_threads()
    try:
        benchmark.main(argv)
    finally:
        torch.set_num_threads(threads)
    assert (tmp_path / "fce.md").read_text() == "kept\n" and (tmp_path / "e.md").exists()
    with pytest.raises(SystemExit):
        benchmark.parse_args(["--skip-fce", "--skip-emotion", "--backbone", "x"])


def test_metrics_on_hand_made_examples():
    benchmark = _benchmark()
    # ranking [0.9 (i), 0.8 (c), 0.7 (i)]: precision 1/1 at the first hit and 2/3 at the second
    assert benchmark.average_precision([0.9, 0.8, 0.7], [1, 0, 1]) == pytest.approx((1 + 2 / 3) / 2)
    assert math.isnan(benchmark.average_precision([0.5], [0]))
    test = [{"tokens": ["a", "b", "c"], "tags": ["i", "c", "i"]}, {"tokens": ["d", "e"], "tags": ["c", "c"]}]
    m = benchmark.token_metrics([[0.9, 0.8, 0.2], [0.1, 0.5]], test, threshold=0.5)
    # predicted i (score >= 0.5): a (right), b, e (wrong); c missed: P 1/3, R 1/2
    assert (m["P"], m["R"]) == (pytest.approx(1 / 3), pytest.approx(1 / 2))
    assert m["F1"] == pytest.approx(2 * (1 / 3) * (1 / 2) / (1 / 3 + 1 / 2))
    assert m["F0.5"] == pytest.approx(1.25 * (1 / 3) * (1 / 2) / (0.25 * (1 / 3) + 1 / 2))
    assert m["MAP"] == pytest.approx((1 + 2 / 3) / 2)  # only the first sentence has an `i`
    assert m["AP"] == pytest.approx((1 + 2 / 4) / 2)  # all words: a 0.9 (i), b 0.8, e 0.5, c 0.2 (i), d 0.1
    at_threshold = benchmark.token_metrics([[0.5, 0.49]], [{"tokens": ["x", "y"], "tags": ["i", "i"]}], 0.5)
    assert (at_threshold["P"], at_threshold["R"]) == (1.0, 0.5)  # a score equal to the threshold is an `i`
    assert benchmark.sentence_f1([True, True], test) == pytest.approx(2 / 3)
    train = [{"tokens": ["A", "b"], "tags": ["i", "c"]}, {"tokens": ["a", "c"], "tags": ["c", "c"]}]
    scores, prior = benchmark.relative_frequency(train, [{"tokens": ["a", "b", "z"], "tags": ["c"] * 3}])
    assert prior == 0.5 and scores == [[0.5, 1.0, 0.5]]  # "a" is in one incorrect and one correct sentence
    assert benchmark.seeded_sample(list(range(10)), 3, seed=0) == sorted(
        random.Random(0).sample(range(10), 3)
    )
