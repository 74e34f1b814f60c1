"""A small configuration of the zero-shot labelling benchmark (FCE with a dev split, CoNLL-2003 sentence labels,
emotion word evidence), so that its harness cannot silently break; its pure parts checked on hand-made cases."""

from __future__ import annotations

import importlib.util
import json
import os
import random
from pathlib import Path

import pytest
import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
WORDS = "the a movie was good bad great terrible happy sad film song food he she it is".split()
ERRORS = ["sold", "bought"]  # the words tagged `i` in the generated FCE data
NAMES = {"PER": ["john", "mary"], "LOC": ["paris", "rome"], "ORG": ["acme"], "MISC": ["french"]}


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
    for split, n in (("train", 100), ("test", 10)):
        sentences = []
        for i in range(n):
            words = rng.choices(WORDS, k=rng.randint(3, 6))
            if i % 2:  # every other sentence holds an error word
                words.insert(rng.randint(0, len(words)), rng.choice(ERRORS))
            sentences.append("\n".join(f"{w}\t{'i' if w in ERRORS else 'c'}" for w in words))
        (fce / f"{split}.tsv").write_text("\n\n".join(sentences) + "\n", encoding="utf-8")
    conll = folder / "ner" / "conll2003"
    conll.mkdir(parents=True)
    for split, n in (("train", 24), ("valid", 12), ("test", 12)):
        sentences = ["-DOCSTART- -X- -X- O"]
        for i in range(n):
            rows = [f"{w} NN O O" for w in ("the", "film", "is")]  # in every sentence, with a type or not
            for entity_type in [list(NAMES)[i % 5 - 1]] if i % 5 else []:  # one type or none
                rows.insert(
                    rng.randint(0, len(rows)), f"{rng.choice(NAMES[entity_type])} NNP O B-{entity_type}"
                )
            sentences.append("\n".join(rows))
        (conll / f"{split}.txt").write_text("\n\n".join(sentences) + "\n", encoding="utf-8")
    emotion = folder / "classification" / "emotion"
    emotion.mkdir(parents=True)
    for split, per_label in (("train", 3), ("test", 2)):
        rows = [
            f"{' '.join(rng.choices(WORDS, k=5))};{label}" for label in emotions for _ in range(per_label)
        ]
        (emotion / f"{split}.txt").write_text("text;label\n" + "\n".join(rows) + "\n", encoding="utf-8")


def _main(benchmark, argv):
    threads = torch.get_num_threads()
    try:
        benchmark.main(argv)
    finally:
        torch.set_num_threads(threads)  # main() sets one thread for the benchmark; the suite keeps its own


def _table(report: str, header: str) -> list[list[str]]:
    lines = report.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("| "):
            break
        rows.append(line[2:-2].split(" | "))
    return rows


def test_zero_shot_labelling_benchmark_small_configuration(tiny_encoder_dir, tmp_path, monkeypatch):
    benchmark = _benchmark()
    _write_data(tmp_path / "data", benchmark.EMOTIONS)
    out = tmp_path / "results"
    monkeypatch.setattr(os, "getloadavg", lambda: (0.37, 0.0, 0.0))
    argv = ["--backbone", str(tiny_encoder_dir), "--data", str(tmp_path / "data"), "--max-epochs", "2"]
    argv += [
        "--bujel-epochs",
        "2",
        "--bujel-max-length",
        "48",
        "--train-sentences",
        "0",
        "20",
        "--batch-size",
        "8",
        "--max-length",
        "32",
    ]
    argv += ["--seed", "1", "--output", str(out / "fce.md"), "--html", str(out / "evidence.html")]
    argv += ["--emotion-output", str(out / "evidence.md"), "--conll-output", str(out / "conll.md")]
    argv += ["--cache", str(tmp_path / "cache")]
    _main(benchmark, argv)

    report = (out / "fce.md").read_text()
    assert "dev: 10 sentences" in report and "train: the other 90; test: 10 sentences" in report
    assert "`fce_dev_split(train, 0.1, seed=0)`" in report and "- commit: " in report
    main = _table(report, "| method | word / sentence threshold")
    names = [row[0] for row in main]
    assert names == [
        "Relative frequency",
        "Gradient saliency, plain [CLS] classifier",
        "Label attention: softmax (first sub-token)",
        "Label attention: softmax (max over sub-tokens)",
        "Label attention: sigmoid, no L2/L3 (first sub-token)",
        "Label attention: sigmoid, no L2/L3 (max over sub-tokens)",
        "Label attention: sigmoid + L2/L3 (first sub-token)",
        "Label attention: sigmoid + L2/L3 (max over sub-tokens)",
        "Label attention: Bujel et al. (2021) settings (first sub-token)",
        "Label attention: Bujel et al. (2021) settings (max over sub-tokens)",
        "Supervised token classifier (upper bound)",
    ]
    assert "## 90 (all) training sentences" in report and "## 20 training sentences" in report
    for row in main:
        assert all(0.0 <= float(x) <= 1.0 for x in row[2:10])
        epochs = row[10]
        assert epochs == "-" or epochs in ("1 / 1", "1 / 2", "2 / 2")  # best / run, at most --max-epochs
    # an error word occurs only in incorrect sentences: the tuned relative frequency finds exactly the `i` words
    relative = main[0]
    assert relative[1].endswith("/ -") and relative[2:8] == ["1.000"] * 6  # threshold; P R F1 F0.5 MAP AP
    assert main[1][1].split(" / ")[1] != "-"  # saliency has sentence probabilities: a tuned gate
    trend = _table(report, "| method | F0.5 at 90 (all) | F0.5 at 20 | MAP at 90 (all) | MAP at 20 |")
    assert [row[0] for row in trend] == names
    hardware = next(line for line in report.splitlines() if line.startswith("- hardware: "))
    assert "torch threads 1, models on the CPU" in hardware and "load average 0.37 at the start" in hardware

    conll = (out / "conll.md").read_text()
    token = _table(conll, "| method | PER F0.5")
    assert [row[0] for row in token] == [
        "Relative frequency per type",
        "Gradient saliency per type, plain multi-label [CLS] classifier",
        "Label attention: sigmoid + L2/L3, one query per type (first sub-token)",
        "Label attention: sigmoid + L2/L3, one query per type (max sub-token)",
    ]
    assert token[0][1:11] == ["1.000"] * 10  # a name word occurs only in sentences with its type
    entities = _table(conll, "| method | PER F1")
    assert len(entities) == 4 and entities[0][-1] == "1.000"  # and its entities come back whole
    assert "train 24 sentences" in conll and "dev (`valid.txt`) 12, test 12" in conll

    evidence = (out / "evidence.md").read_text()
    assert "18 of 18 training sentences" in evidence
    assert (out / "evidence.html").read_text().startswith("<!DOCTYPE html>")

    # resumable: every finished method is cached, and a second run trains nothing
    cached = sorted((tmp_path / "cache").glob("*.json"))
    assert len(cached) == 2 * 7 + 3
    assert json.loads(cached[0].read_text())["key"]["stage"] in ("fce", "conll")
    monkeypatch.setattr(
        benchmark, "run_fce_method", lambda *a: pytest.fail("FCE retrained despite the cache")
    )
    monkeypatch.setattr(benchmark.zero_shot_conll, "run_method", lambda *a: pytest.fail("CoNLL retrained"))
    _main(benchmark, [*argv, "--skip-emotion", "--output", str(out / "again.md")])
    assert _table((out / "again.md").read_text(), "| method | word / sentence threshold") == main


def test_skip_flags_leave_the_reports_alone(tiny_encoder_dir, tmp_path):
    benchmark = _benchmark()
    _write_data(tmp_path / "data", benchmark.EMOTIONS)
    (tmp_path / "fce.md").write_text("kept\n")
    (tmp_path / "conll.md").write_text("kept\n")
    argv = [
        "--backbone",
        str(tiny_encoder_dir),
        "--data",
        str(tmp_path / "data"),
        "--skip-fce",
        "--skip-conll",
    ]
    argv += [
        "--batch-size",
        "6",
        "--max-length",
        "16",
        "--output",
        str(tmp_path / "fce.md"),
        "--cache",
        "none",
    ]
    argv += ["--html", str(tmp_path / "e.html"), "--emotion-output", str(tmp_path / "e.md")]
    argv += ["--conll-output", str(tmp_path / "conll.md")]
    _main(benchmark, argv)
    assert (tmp_path / "fce.md").read_text() == "kept\n" and (tmp_path / "conll.md").read_text() == "kept\n"
    assert (tmp_path / "e.md").exists()
    with pytest.raises(SystemExit):
        benchmark.parse_args(["--skip-fce", "--skip-emotion", "--skip-conll", "--backbone", "x"])


def test_quick_mode_sizes_and_outputs_in_tmp():
    benchmark = _benchmark()
    args = benchmark.parse_args(["--quick", "--backbone", "x", "--max-epochs", "3"])
    assert args.train_sentences == [40, 20] and args.test_sentences == 30 and args.conll_train_sentences == 40
    assert args.max_epochs == 3  # an explicit value wins over --quick
    assert str(args.output).startswith("/tmp/") and str(args.conll_output).startswith("/tmp/")
    assert str(args.cache.folder).startswith("/tmp/")
    full = benchmark.parse_args(["--backbone", "x"])
    assert full.output == ROOT / "benchmarks" / "results" / "zero_shot_labelling.md"
    assert full.cache.folder == ROOT / "benchmarks" / "cache" / "zero_shot_labelling"
    assert full.train_sentences == [0, 7000]


def test_fce_dev_split_is_seeded_disjoint_and_sized():
    benchmark = _benchmark()
    sentences = [{"tokens": [str(i)], "tags": ["c"]} for i in range(200)]
    train, dev = benchmark.fce_dev_split(sentences, 0.1, seed=0)
    assert (len(train), len(dev)) == (180, 20)
    ids = lambda part: [s["tokens"][0] for s in part]  # noqa: E731
    assert not set(ids(train)) & set(ids(dev)) and len(set(ids(train)) | set(ids(dev))) == 200
    assert ids(dev) == sorted(ids(dev), key=int) and ids(train) == sorted(ids(train), key=int)  # corpus order
    assert benchmark.fce_dev_split(sentences, 0.1, seed=0) == (train, dev)  # same seed, same split
    assert ids(benchmark.fce_dev_split(sentences, 0.1, seed=1)[1]) != ids(dev)  # another seed, another split
    assert ids(dev) == [str(i) for i in sorted(random.Random(0).sample(range(200), 20))]
    assert len(benchmark.fce_dev_split(sentences, 0.25, seed=0)[1]) == 50
    for fraction in (0.0, 1.0, 1.5):
        with pytest.raises(ValueError, match="fraction"):
            benchmark.fce_dev_split(sentences, fraction)
    with pytest.raises(ValueError, match="leaves train or dev empty"):
        benchmark.fce_dev_split(sentences[:3], 0.1)


class _Counter(nn.Module):
    """A one-parameter model whose loss pushes its weight up by one step per batch."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        return type("Out", (), {"loss": -(self.weight * x).sum()})()


def test_training_stops_early_and_keeps_the_best_epoch():
    benchmark = _benchmark()
    common = benchmark.common
    model = _Counter()
    scores = iter([0.1, 0.3, 0.2, 0.25, 0.9])
    seen = []

    def evaluate(m):
        seen.append(m.weight.item())
        return next(scores)

    settings = common.Settings(lr=0.1, head_lr=0.1, batch_size=1, max_epochs=5, patience=2, weight_decay=0.0)
    features = [{"x": torch.ones(1)}]
    record = common.train(model, features, lambda rows: rows[0], settings, ("none",), evaluate)
    # dev 0.1, 0.3 (best), 0.2, 0.25: two epochs without a better score stop training at epoch 4
    assert (record["best_epoch"], record["epochs_run"], record["dev"]) == (2, 4, [0.1, 0.3, 0.2, 0.25])
    assert model.weight.item() == pytest.approx(seen[1]) and seen[3] != seen[1]  # epoch 2's weights are back
    model = _Counter()
    record = common.train(model, features, lambda rows: rows[0], settings.but(max_epochs=3), ("none",))
    assert (record["best_epoch"], record["epochs_run"], record["dev"]) == (
        3,
        3,
        [],
    )  # no evaluate: all epochs


def test_relative_frequency_and_sentence_f1_by_hand():
    benchmark = _benchmark()
    common = benchmark.common
    scores, priors = common.relative_frequency([["A", "b"], ["a", "c"]], [[1, 0], [0, 1]], [["a", "b", "z"]])
    assert priors == [0.5, 0.5]
    assert scores == [[[0.5, 1.0, 0.5]], [[0.5, 0.0, 0.5]]]  # per label; "a" is in one sentence of each
    assert benchmark.sentence_f1([True, True], [True, False]) == pytest.approx(2 / 3)
    assert common.seeded_sample(list(range(10)), 3, seed=0) == sorted(random.Random(0).sample(range(10), 3))
    assert common.seeded_sample(list(range(10)), 0, seed=0) == list(range(10))  # 0: all


def test_entity_threshold_and_span_f1():
    conll = _benchmark().zero_shot_conll
    gold = [["B-PER", "I-PER", "O"], ["O", "B-PER", "O"]]
    predicted = [["B-PER", "I-PER", "O"], ["B-PER", "I-PER", "O"]]
    assert conll.span_f1(predicted, gold, "PER") == pytest.approx(2 * 1 / (2 * 1 + 1 + 1))
    # up to 0.3 the words of sentence 1 join into one wrong entity; 0.35 (the lowest of the grid above 0.3)
    # to 0.65 keep both entities right
    scores = [[0.9, 0.7, 0.1], [0.3, 0.65, 0.1]]
    assert conll.tune_entity_threshold(scores, gold, "PER", extra=0.5) == pytest.approx(0.35)
