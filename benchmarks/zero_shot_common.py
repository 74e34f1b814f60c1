"""Shared parts of the zero-shot labelling benchmarks (`zero_shot_labelling.py` for FCE and emotion,
`zero_shot_conll.py` for CoNLL-2003): training with early stopping on a development score, word scorers for
any number of labels (label attention, gradient saliency, a token classifier), the relative-frequency
baseline, and a JSON cache of finished methods so that an interrupted run resumes where it stopped.

Word scores are kept as `scores[label][sentence][word]` (plain lists, so they go into the cache as they are).
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import math
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
from torch import nn
from transformers import get_linear_schedule_with_warmup

from label_semantics.label_attention_scoring import aggregate_word_scores

logger = logging.getLogger("zero_shot_labelling")

CACHE = Path(__file__).resolve().parent / "cache" / "zero_shot_labelling"  # git-ignored (benchmarks/cache/)

HEAD = (
    "token_projection",
    "query_projection",
    "sentence_projection",
    "output_projection",
    "attention_bias",
    "output_bias",
)


@dataclass(frozen=True)
class Settings:
    """The training settings of one method: AdamW with linear warm-up (10%) and decay over `max_epochs`,
    stopped when the development score has not improved for `patience` epochs (the best epoch is kept)."""

    lr: float = 1e-4
    head_lr: float = 1e-3
    batch_size: int = 32
    eval_batch_size: int = 64
    max_length: int = 64
    weight_decay: float = 0.01
    max_epochs: int = 5
    patience: int = 1
    seed: int = 0

    def describe(self) -> str:
        return (
            f"lr {self.lr:g} (encoder) / {self.head_lr:g} (head), batch {self.batch_size}, max_length "
            f"{self.max_length}, weight decay {self.weight_decay:g}, at most {self.max_epochs} epochs, patience "
            f"{self.patience}"
        )

    def but(self, **changes) -> Settings:
        return replace(self, **changes)


def settings_from(args) -> Settings:
    """The settings the command line gives (`--lr`, `--head-lr`, `--batch-size`, ...)."""
    return Settings(
        lr=args.lr,
        head_lr=args.head_lr,
        batch_size=args.batch_size,
        eval_batch_size=args.eval_batch_size,
        max_length=args.max_length,
        max_epochs=args.max_epochs,
        patience=args.patience,
        seed=args.seed,
    )


def seeded_sample(items: list, n: int, seed: int) -> list:
    """`n` items drawn without replacement by `random.Random(seed)`, kept in corpus order (all when `n` is 0 or
    at least `len(items)`)."""
    if not n or n >= len(items):
        return list(items)
    indices = sorted(random.Random(seed).sample(range(len(items)), n))
    return [items[i] for i in indices]


def batches(items: list, size: int):
    for first in range(0, len(items), size):
        yield items[first : first + size]


def encode_words(tokenizer, words: list[list[str]], max_length: int):
    return tokenizer(
        words,
        is_split_into_words=True,
        truncation=True,
        max_length=max_length,
        padding=True,
        return_tensors="pt",
    )


def word_features(tokenizer, words: list[list[str]], max_length: int) -> list[dict]:
    encoding = tokenizer(words, is_split_into_words=True, truncation=True, max_length=max_length)
    keys = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in encoding]
    return [{k: encoding[k][i] for k in keys} for i in range(len(words))]


# ----------------------------------------------------------------------------------------- training
def train(
    model: nn.Module,
    features: list[dict],
    collator,
    settings: Settings,
    head_prefixes: tuple[str, ...],
    evaluate: Callable[[nn.Module], float] | None = None,
) -> dict:
    """Train for up to `settings.max_epochs` epochs; after each, `evaluate(model)` (in eval mode) scores the
    development set, and training stops once it has not improved for `settings.patience` epochs. The weights of
    the best epoch are restored. Without `evaluate` every epoch runs.

    Returns:
        `dict`: `seconds` (training and development scoring), `epochs_run`, `best_epoch` (1-based), `dev` (the
        score after each epoch).
    """
    start = time.time()
    head = [p for n, p in model.named_parameters() if n.startswith(head_prefixes)]
    body = [p for n, p in model.named_parameters() if not n.startswith(head_prefixes)]
    optimizer = torch.optim.AdamW(
        [{"params": body, "lr": settings.lr}, {"params": head, "lr": settings.head_lr}],
        weight_decay=settings.weight_decay,
    )
    order = list(range(len(features)))
    steps = settings.max_epochs * math.ceil(len(order) / settings.batch_size)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(0.1 * steps), steps)
    generator = random.Random(settings.seed)
    history: list[float] = []
    best_state, best_epoch, step = None, 0, 0
    for epoch in range(1, settings.max_epochs + 1):
        model.train()
        generator.shuffle(order)
        for chunk in batches(order, settings.batch_size):
            loss = model(**collator([features[i] for i in chunk])).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            step += 1
            if step % 50 == 0:
                logger.info(
                    "  epoch %d step %d/%d loss %.4f (%.0fs)",
                    epoch,
                    step,
                    steps,
                    loss.item(),
                    time.time() - start,
                )
        model.eval()
        if evaluate is None:
            best_epoch = epoch
            continue
        history.append(float(evaluate(model)))
        logger.info("  epoch %d: dev %.4f (%.0fs)", epoch, history[-1], time.time() - start)
        if history[-1] > max(history[:-1], default=-math.inf):
            best_epoch, best_state = epoch, copy.deepcopy(model.state_dict())
        elif epoch - best_epoch >= settings.patience:
            break
    if best_state is not None and best_epoch != len(history):
        model.load_state_dict(best_state)
    model.eval()
    epochs_run = len(history) if evaluate is not None else settings.max_epochs
    return {
        "seconds": time.time() - start,
        "epochs_run": epochs_run,
        "best_epoch": best_epoch,
        "dev": history,
    }


# ------------------------------------------------------------------------------------------ scorers
def _pad(scores: list[float], length: int) -> list[float]:
    """Word scores of a sentence, with 0 for words truncated away."""
    return [round(float(s), 6) for s in scores] + [0.0] * (length - len(scores))


@torch.no_grad()
def label_attention_scores(model, words: list[list[str]], settings: Settings) -> dict[str, list]:
    """`first` and `max` word scores per label, and `sentence` probabilities per label (sigmoid: the models here
    are binary or multi-label)."""
    queries = model.encode_labels()
    num_labels = len(model.config.id2label)
    first = [[] for _ in range(num_labels)]
    maximum = [[] for _ in range(num_labels)]
    sentence = [[] for _ in range(num_labels)]
    for chunk in batches(words, settings.eval_batch_size):
        encoding = encode_words(model.tokenizer, chunk, settings.max_length)
        output = model(**encoding, query_vectors=queries)
        probabilities = torch.sigmoid(output.logits)
        for row, sentence_words in enumerate(chunk):
            ids = encoding.word_ids(row)
            by_first = aggregate_word_scores(output.token_scores[row], ids, "first")
            by_max = aggregate_word_scores(output.token_scores[row], ids, "max")
            for label in range(num_labels):
                first[label].append(_pad(by_first[:, label].tolist(), len(sentence_words)))
                maximum[label].append(_pad(by_max[:, label].tolist(), len(sentence_words)))
                sentence[label].append(round(float(probabilities[row, label]), 6))
    return {"first": first, "max": maximum, "sentence": sentence}


def saliency_scores(model, tokenizer, words: list[list[str]], settings: Settings) -> dict[str, list]:
    """Gradient saliency of a plain sequence classifier: for each label, the L2 norm of d logit / d input
    embedding at each word's first sub-token, divided by the sentence maximum; and the sigmoid probabilities."""
    embeddings = model.get_input_embeddings()
    num_labels = model.config.num_labels
    first = [[] for _ in range(num_labels)]
    sentence = [[] for _ in range(num_labels)]
    for chunk in batches(words, settings.eval_batch_size):
        encoding = encode_words(tokenizer, chunk, settings.max_length)
        inputs = embeddings(encoding["input_ids"]).detach().requires_grad_(True)
        logits = model(
            inputs_embeds=inputs,
            attention_mask=encoding["attention_mask"],
            token_type_ids=encoding.get("token_type_ids"),
        ).logits
        probabilities = torch.sigmoid(logits).detach()
        for label in range(num_labels):
            (gradient,) = torch.autograd.grad(
                logits[:, label].sum(), inputs, retain_graph=label < num_labels - 1
            )
            norms = gradient.norm(dim=-1)
            for row, sentence_words in enumerate(chunk):
                scores = aggregate_word_scores(norms[row].unsqueeze(-1), encoding.word_ids(row), "first")[
                    :, 0
                ]
                scores = (scores / scores.max().clamp_min(1e-12)).tolist() if len(scores) else []
                first[label].append(_pad(scores, len(sentence_words)))
                sentence[label].append(round(float(probabilities[row, label]), 6))
    return {"first": first, "sentence": sentence}


@torch.no_grad()
def token_classifier_scores(model, tokenizer, words: list[list[str]], settings: Settings) -> dict[str, list]:
    """P(class 1) of each word's first sub-token, for a two-class token classifier (one label)."""
    first: list[list[float]] = []
    for chunk in batches(words, settings.eval_batch_size):
        encoding = encode_words(tokenizer, chunk, settings.max_length)
        probabilities = torch.softmax(model(**encoding).logits, dim=-1)[..., 1:]
        for row, sentence_words in enumerate(chunk):
            scores = aggregate_word_scores(probabilities[row], encoding.word_ids(row), "first")[:, 0].tolist()
            first.append(_pad(scores, len(sentence_words)))
    return {"first": [first]}


def token_features(tokenizer, words: list[list[str]], gold: list[list[int]], max_length: int) -> list[dict]:
    """The first sub-token of each word labelled with its 0/1 gold; the other tokens -100."""
    encoding = tokenizer(words, is_split_into_words=True, truncation=True, max_length=max_length)
    features = []
    for row, labels_of_words in enumerate(gold):
        labels, previous = [], None
        for word in encoding.word_ids(row):
            labels.append(-100 if word is None or word == previous else int(labels_of_words[word]))
            previous = word
        features.append(
            {
                "input_ids": encoding["input_ids"][row],
                "attention_mask": encoding["attention_mask"][row],
                "labels": labels,
            }
        )
    return features


def relative_frequency(
    train_words: Sequence[Sequence[str]],
    train_labels: Sequence[Sequence[int]],
    words: Sequence[Sequence[str]],
) -> tuple[list[list[list[float]]], list[float]]:
    """Per label, a word's score is its (lower-cased) share of occurrences in training sentences that have the
    label; an unseen word scores the label's share of sentences (its prior).

    Args:
        train_words: the training sentences' words. train_labels: per sentence, one 0/1 per label.
        words: the sentences to score.

    Returns:
        `(scores[label][sentence][word], priors[label])`.
    """
    num_labels = len(train_labels[0]) if train_labels else 0
    total: Counter = Counter()
    positive = [Counter() for _ in range(num_labels)]
    for sentence, labels in zip(train_words, train_labels):
        for token in sentence:
            total[token.lower()] += 1
            for label, value in enumerate(labels):
                positive[label][token.lower()] += value
    priors = [
        sum(labels[label] for labels in train_labels) / len(train_labels) for label in range(num_labels)
    ]
    scores = [
        [
            [
                positive[label][t.lower()] / total[t.lower()] if total[t.lower()] else priors[label]
                for t in sentence
            ]
            for sentence in words
        ]
        for label in range(num_labels)
    ]
    return scores, priors


# -------------------------------------------------------------------------------------------- cache
class Cache:
    """Finished methods' scores as JSON files, named by the method and a hash of everything that makes them."""

    def __init__(self, folder: Path | None):
        self.folder = folder

    def path(self, name: str, key: dict) -> Path | None:
        if self.folder is None:
            return None
        digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:12]
        slug = "".join(c if c.isalnum() else "_" for c in name.lower()).strip("_")
        return self.folder / f"{slug}-{digest}.json"

    def get(self, name: str, key: dict) -> dict | None:
        path = self.path(name, key)
        if path is None or not path.is_file():
            return None
        logger.info("%s: cached in %s", name, path)
        return json.loads(path.read_text(encoding="utf-8"))

    def put(self, name: str, key: dict, value: dict) -> None:
        path = self.path(name, key)
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps({"key": key, **value}), encoding="utf-8")
        temporary.replace(path)  # a run killed mid-write leaves no half file behind


def settings_key(settings: Settings) -> dict:
    return asdict(settings)
