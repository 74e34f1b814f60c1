"""The `label-semantics fewshot` subcommand, the main job: pre-finetune on a source, fine-tune K-shot on a target,
evaluate, print per-type scores and a few predictions, save the model with its card. `cli.cmd_fewshot` resolves
the default data and calls [`run_fewshot`]."""

from __future__ import annotations

from pathlib import Path

from ._cli_common import (
    _crf_options,
    _dataset,
    _k_shot,
    _load_data,
    _load_split,
    _print_metrics,
    _split,
    _style_options,
    default_backbone,
)

TARGET_LEARNING_RATE = 5e-5
"""The learning rate of `fewshot`'s K-shot stage (`fewshot_transfer`'s default)."""


def run_fewshot(args, source_name: str, target: str) -> int:
    """`fewshot` on the source `source_name` and the target `target` (--source and --target, or their defaults)."""
    from .model_card import CardData
    from .modeling_label_semantics import LabelSemanticsForTokenClassification
    from .training import TARGET_LABEL_RATE, evaluate_ner, fewshot_transfer
    from .verbalizer import detect_scheme, entity_types, labels_from_types

    source = _load_split(source_name, "train", "--source", args.source_scheme)
    target_data = _load_data(target, "--target", args.target_scheme)
    if args.target_test is not None:
        test_name = args.target_test
        target_test = _load_split(args.target_test, "test", "--target-test", args.target_scheme)
    elif Path(target).is_file():
        raise SystemExit(
            f"error: --target {target!r} is one file, and the model is not tested on its training data; pass the "
            f"test data with --target-test FILE, or a folder holding train and test files"
        )
    else:
        test_name, target_test = target, _split(target_data, target, "test", "--target")
    target_train = _split(target_data, target, "train", "--target")
    if args.source_limit and args.source_limit < len(source):
        source = source.shuffle(seed=args.seed).select(range(args.source_limit))
    scheme = args.source_scheme or detect_scheme(source["ner_tags"])
    labels = labels_from_types(entity_types(t for s in source["ner_tags"] for t in s), scheme)
    backbone = args.backbone or default_backbone()
    print(f"Backbone {backbone}\nSource {source_name}: {len(source)} sentences, labels {labels}")
    model = LabelSemanticsForTokenClassification.from_encoder(
        backbone, labels=labels, tag_scheme=scheme, **_crf_options(args), **_style_options(args)
    )
    label_rate = args.target_label_learning_rate
    if label_rate is None:
        label_rate = TARGET_LABEL_RATE * TARGET_LEARNING_RATE
    with _k_shot(args.k):
        model, support = fewshot_transfer(
            model,
            source,
            target_train,
            k=args.k,
            seed=args.seed,
            output_dir=args.output,
            source_epochs=args.source_epochs,
            target_steps=args.target_steps,
            source_scheme=scheme,
            target_scheme=args.target_scheme,
            target_learning_rate=TARGET_LEARNING_RATE,
            target_label_learning_rate=label_rate,
            target_l2sp=args.target_l2sp,
            target_replay_fraction=args.target_replay_fraction,
        )
    print(f"Target {target}: {args.k}-shot support set of {len(support)} sentences (seed {args.seed})")
    metrics = evaluate_ner(model, target_test)
    _print_metrics(metrics, f"Test set of {test_name} ({len(target_test)} sentences), entity-level seqeval")
    print("\nA few predictions:")
    for words in target_test["tokens"][: args.show]:
        text = " ".join(words)
        found = ", ".join(f"{e['text']!r}:{e['label']}" for e in model.predict(text)) or "(no entities)"
        print(f"  {text}\n    -> {found}")
    model.card_data = CardData(
        dataset_name=_dataset(target)["name"],
        dataset_id=_dataset(target)["id"],
        source_dataset_name=_dataset(source_name)["name"],
        source_dataset_id=_dataset(source_name)["id"],
        k_shot=args.k,
        support_size=len(support),
        seed=args.seed,
        hyperparameters={
            "source_sentences": len(source),
            "source_epochs": args.source_epochs,
            "target_steps": args.target_steps,
            "target_learning_rate": TARGET_LEARNING_RATE,
            "target_label_learning_rate": label_rate,
            **({"target_l2sp": args.target_l2sp} if args.target_l2sp else {}),
            **(
                {"target_replay_fraction": args.target_replay_fraction}
                if args.target_replay_fraction is not None
                else {}
            ),
        },
        eval_results=metrics,
    )
    model.save_pretrained(args.output)
    print(f"\nSaved the few-shot model to {args.output}")
    return 0
