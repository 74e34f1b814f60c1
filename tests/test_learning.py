"""The few-shot recipe learns, checked on generated data (no ``../shared``): `fewshot_transfer` pre-finetunes on a
source with person and location names, swaps in a target label set of new types, trains on the sampler's K-shot
support set, and tags sentences it never saw far better than right after the swap."""

from __future__ import annotations

import random

import pytest
import torch
from datasets import Dataset

from label_semantics import LabelSemanticsForTokenClassification
from label_semantics.sampling import sample_support_set
from label_semantics.training import evaluate_ner, fewshot_transfer

FILLER = "the a of in to and is was at on for with by from it he she they this that".split()
SOURCE_NAMES = {"PER": ["john", "mary", "smith", "jones"], "LOC": ["paris", "london", "berlin", "york"]}
# target types the source never had, named by words the encoder has never been trained to tag
TARGET_NAMES = {"company": ["acme", "google", "apple", "corp"], "food": ["pizza", "food", "bad", "good"]}
K = 5
# Target F1 after K-shot training minus target F1 right after set_labels, on unseen sentences. Measured: 0.0 right
# after set_labels, 0.65 after (0.52 and 0.56 with sampler seeds 0 and 1 instead of 3).
MARGIN = 0.4


def sentences(names: dict[str, list[str]], n: int, seed: int) -> Dataset:
    """`n` sentences of 3 to 8 filler words with one or two entities (B- and sometimes I-) among them."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        words = rng.choices(FILLER, k=rng.randint(3, 8))
        tags = ["O"] * len(words)
        for _ in range(rng.randint(1, 2)):
            entity_type = rng.choice(sorted(names))
            length = rng.choice([1, 1, 2])
            at = rng.choice([i for i in range(len(words) + 1) if i == len(words) or tags[i] == "O"])
            words[at:at] = rng.sample(names[entity_type], length)
            tags[at:at] = [f"B-{entity_type}"] + [f"I-{entity_type}"] * (length - 1)
        rows.append({"tokens": words, "ner_tags": tags})
    return Dataset.from_list(rows)


def test_fewshot_transfer_learns_the_target_from_the_samplers_support_set(_tiny_encoder_dir, tmp_path):
    torch.manual_seed(0)
    source = sentences(SOURCE_NAMES, 64, seed=1)
    target_train, target_test = sentences(TARGET_NAMES, 40, seed=2), sentences(TARGET_NAMES, 40, seed=3)
    seen = {tuple(row) for row in target_train["tokens"]}
    assert not any(tuple(row) in seen for row in target_test["tokens"])  # the test sentences are unseen
    model = LabelSemanticsForTokenClassification.from_encoder(
        _tiny_encoder_dir, labels=["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    )
    zero_shot = []
    set_labels = model.set_labels

    def set_labels_then_evaluate(*args, **kwargs):  # the zero-shot F1, right after the label swap
        set_labels(*args, **kwargs)
        zero_shot.append(evaluate_ner(model, target_test))

    model.set_labels = set_labels_then_evaluate
    model, support = fewshot_transfer(
        model,
        source,
        target_train,
        k=K,
        seed=3,
        output_dir=str(tmp_path),
        source_epochs=2,
        learning_rate=3e-3,
        target_steps=60,
        target_learning_rate=1e-3,
        disable_tqdm=True,
    )
    expected = target_train.select(sample_support_set(target_train["ner_tags"], K, seed=3))
    assert support["tokens"] == expected["tokens"] and support["ner_tags"] == expected["ner_tags"]
    assert len(support) < len(target_train)
    assert sorted(model.labels) == ["B-company", "B-food", "I-company", "I-food", "O"]
    (before,) = zero_shot
    after = evaluate_ner(model, target_test)
    assert after["overall_f1"] >= before["overall_f1"] + MARGIN, (before["overall_f1"], after["overall_f1"])
    assert after["company_f1"] > before["company_f1"] and after["food_f1"] > before["food_f1"]
    assert after["company_number"] + after["food_number"] == pytest.approx(
        sum(tag.startswith("B-") for tags in target_test["ner_tags"] for tag in tags)
    )
