"""The `label-semantics` command line. Thin: it parses arguments and calls the package's modules.

The parser of every subcommand is here ([`build_parser`], entry point [`main`]); what the subcommands share (argument
types, loading data and models, the metrics table) is in `_cli_common.py`, the bigger subcommands' work in
`_cli_fewshot.py`, `_cli_predict.py` and `_cli_train.py`.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from ._cli_common import (
    CRF_HELP,
    CRF_LOSSES,
    KEEP_SOURCE_HELP,
    SCHEME_HELP,
    STYLE_OPTION,
    _argument,
    _count,
    _dataset,
    _description,
    _existing,
    _fraction,
    _k_shot,
    _load_data,
    _load_model,
    _load_split,
    _non_negative_float,
    _Once,
    _positive_float,
    _positive_int,
    _print_metrics,
    _scheme,
    _split,
)
from ._cli_predict import cmd_predict
from ._cli_train import _hyperparameters, _replay, _train_model, _train_several, _training_options

logger = logging.getLogger(__name__)

SHARED_DATA = Path("../shared/data/ner")
"""Where the main job finds its default data, CoNLL-2003 and WNUT-17, when the checkout sits beside them."""
SAMPLE_SOURCE = Path(__file__).resolve().parent / "samples" / "wnut17-sample"
SAMPLE_TARGET = Path(__file__).resolve().parent / "samples" / "crossner-literature-sample"
"""The main job's data without ``../shared``: samples shipped with the package (see samples/README.md)."""


def _fewshot_data(args) -> tuple[str, str]:
    """--source and --target, or their defaults: CoNLL-2003 -> WNUT-17 from ../shared when both are there,
    else the samples shipped with the package (WNUT-17 -> CrossNER literature)."""
    shared = (SHARED_DATA / "conll2003", SHARED_DATA / "wnut17")
    if all(path.is_dir() for path in shared):
        defaults = shared
    else:
        defaults = (SAMPLE_SOURCE, SAMPLE_TARGET)
        if args.source is None or args.target is None:
            print(
                f"No {shared[0]} and {shared[1]} here: using the samples shipped with the package "
                f"({defaults[0].name} -> {defaults[1].name}); pass --source/--target for other data"
            )
    return args.source or str(defaults[0]), args.target or str(defaults[1])


# ---------------------------------------------------------------------------------------------- commands


def cmd_fewshot(args) -> int:
    from ._cli_fewshot import run_fewshot

    return run_fewshot(args, *_fewshot_data(args))


def cmd_evaluate(args) -> int:
    from .training import evaluate_ner

    model = _load_model(args.model, kinds=("label-semantics",))
    split = _load_split(args.data, args.split, "--data", args.tag_scheme)
    metrics = evaluate_ner(model, split, batch_size=args.batch_size, viterbi=not args.argmax)
    if args.json:
        print(json.dumps(metrics))
    else:
        _print_metrics(metrics, f"{args.data} [{args.split}], {len(split)} sentences")
    return 0


def cmd_sample(args) -> int:
    from .sampling import sample_support_set

    split = _load_split(args.data, args.split, "--data", args.tag_scheme)
    with _k_shot(args.k):
        indices = sample_support_set(split["ner_tags"], args.k, seed=args.seed)
    lines = []
    for i in indices:
        for word in split[i]["tokens"]:
            if not word or word != word.strip() or "\t" in word or "\n" in word or word == "-DOCSTART-":
                raise SystemExit(
                    f"error: --data {args.data!r}, row {i}: the token {word!r} cannot be written as a column line "
                    f"and read back unchanged (empty, surrounding whitespace, a tab or newline, or -DOCSTART-); "
                    f"fix the token in the data"
                )
        lines += [f"{w}\t{t}" for w, t in zip(split[i]["tokens"], split[i]["ner_tags"])] + [""]
    Path(args.output).write_text("\n".join(lines), encoding="utf-8")
    print(f"Wrote {len(indices)} sentences ({args.k}-shot, seed {args.seed}) to {args.output}")
    return 0


def cmd_train(args) -> int:
    from .model_card import CardData
    from .sampling import sample_support_set
    from .training import evaluate_ner, finetune
    from .verbalizer import detect_scheme, entity_types, labels_from_types

    descriptions = dict(args.describe) if args.describe else None
    if len(args.data) > 1:
        return _train_several(args, descriptions)
    args.data = args.data[0]
    data = _load_data(args.data, "--data", args.tag_scheme)
    if args.eval_split and Path(args.data).is_file():
        raise SystemExit(
            f"error: --eval-split {args.eval_split!r}: --data {args.data!r} is one file, the training data; pass a "
            f"folder holding both splits, or evaluate afterwards with `label-semantics evaluate --data TEST_FILE`"
        )
    train = _split(data, args.data, "train", "--data")
    if args.k:
        with _k_shot(args.k):
            train = train.select(sample_support_set(train["ner_tags"], args.k, seed=args.seed))
    scheme = args.tag_scheme or detect_scheme(train["ner_tags"])
    labels = args.labels or labels_from_types(entity_types(t for s in train["ner_tags"] for t in s), scheme)
    replay = _replay(args)
    model, source = _train_model(args, labels, descriptions, scheme)
    trainer = finetune(
        model,
        train,
        scheme=scheme,
        replay=replay,
        replay_fraction=args.replay_fraction,
        **_training_options(args),
    )
    metrics = (
        evaluate_ner(model, _split(data, args.data, args.eval_split, "--data")) if args.eval_split else {}
    )
    model.card_data = CardData(
        dataset_name=_dataset(args.data)["name"],
        dataset_id=_dataset(args.data)["id"],
        source_dataset_name=source,
        k_shot=args.k,
        support_size=len(train) if args.k else None,
        seed=args.seed,
        hyperparameters=_hyperparameters(args, trainer),
        eval_results=metrics,
        eval_split=args.eval_split,
    )
    model.save_pretrained(args.output)
    print(f"Saved to {args.output} ({len(train)} training sentences, labels {labels})")
    if metrics:
        _print_metrics(metrics, args.eval_split)
    return 0


def cmd_card(args) -> int:
    from .model_card import card_data_for, render_model_card

    model = _load_model(args.model)
    metrics = None
    if args.metrics:
        with _argument("--metrics", args.metrics):
            metrics = json.loads(Path(_existing(args.metrics, "--metrics")).read_text(encoding="utf-8"))
            if not isinstance(metrics, dict):
                raise ValueError("expected one JSON object of metric -> number, as `evaluate --json` prints")
    language = args.language[0] if args.language and len(args.language) == 1 else args.language
    fields = {
        "model_name": args.name,
        "language": language,
        "license": args.license,
        "tags": args.tags,
        "base_model": args.base_model,
        "dataset_name": args.dataset and _dataset(args.dataset)["name"],
        "dataset_id": args.dataset_id,
        "source_dataset_name": args.source_dataset,
        "k_shot": args.k,
        "seed": args.seed,
        "eval_results": metrics,
        "eval_dataset_name": args.eval_dataset,
        "eval_split": args.eval_split,
    }
    with _argument("--metrics", args.metrics):
        data = card_data_for(model, **fields)
    card = render_model_card(model, data, model_id=args.model_id or data.model_id or args.model)
    if args.output:
        Path(args.output).write_text(card, encoding="utf-8")
        print(f"Wrote the model card of {args.model} to {args.output}")
    else:
        print(card, end="")
    return 0


# ---------------------------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="label-semantics",
        description="Few-shot NER with label semantics (Ma et al., 2022) on Hugging Face transformers.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    data_help_short = "a folder of column files, a column file, a saved dataset or a datasets Hub name"
    p = sub.add_parser(
        "fewshot",
        help="the main job: pre-finetune on a source set, fine-tune K-shot on a target, evaluate",
        description="Pre-finetune on the source's training split, sample a K-shot support set from the target's "
        "training split (greedy sampler of Ma et al.), fine-tune on it, evaluate on the target's test split, print "
        "per-type F1 and a few predictions, save the model.",
    )
    p.add_argument(
        "--source",
        action=_Once,
        help=f"source data: {data_help_short} (default: {SHARED_DATA / 'conll2003'} when present, else the "
        f"WNUT-17 sample shipped with the package)",
    )
    p.add_argument(
        "--target",
        action=_Once,
        help=f"target data with train and test splits: {data_help_short} (default: {SHARED_DATA / 'wnut17'} "
        f"when present, else the CrossNER literature sample shipped with the package)",
    )
    p.add_argument(
        "--target-test",
        action=_Once,
        help="test the model on this data instead of the target's test split (e.g. a file)",
    )
    p.add_argument("--source-scheme", type=_scheme, help="--source: " + SCHEME_HELP)
    p.add_argument("--target-scheme", type=_scheme, help="--target and --target-test: " + SCHEME_HELP)
    p.add_argument("--crf", choices=CRF_LOSSES, help=CRF_HELP)
    p.add_argument("--description-style", **STYLE_OPTION)
    p.add_argument("--backbone", help="BERT-like encoder folder or Hub id (default: all-MiniLM-L6-v2)")
    p.add_argument(
        "--k", type=_positive_int, default=5, help="mentions per entity type in the support set (default: 5)"
    )
    p.add_argument("--seed", type=int, default=0, help="sampling and training seed (default: 0)")
    p.add_argument(
        "--source-limit",
        type=_count,
        default=4000,
        help="use this many source sentences, seeded sample; 0 = all (default: %(default)s)",
    )
    p.add_argument(
        "--source-epochs", type=_positive_float, default=1.0, help="epochs on the source (default: 1)"
    )
    p.add_argument(
        "--target-steps",
        type=_positive_int,
        default=100,
        help="optimiser steps on the support set (default: 100)",
    )
    p.add_argument(
        "--target-label-learning-rate",
        type=_non_negative_float,
        help="target stage: "
        + KEEP_SOURCE_HELP["label-learning-rate"].replace(
            "default: the learning rate", "default: 0.1 x the target stage's rate of 5e-5, the best measured"
        ),
    )
    p.add_argument(
        "--target-l2sp",
        type=_non_negative_float,
        default=0.0,
        help="target stage: " + KEEP_SOURCE_HELP["l2sp"],
    )
    p.add_argument(
        "--target-replay-fraction",
        type=_fraction,
        help="target stage: " + KEEP_SOURCE_HELP["replay-fraction"],
    )
    p.add_argument(
        "--show", type=_count, default=5, help="test sentences to print with predictions (default: 5)"
    )
    p.add_argument(
        "--output", default="runs/fewshot", help="where the final model is saved (default: %(default)s)"
    )
    p.set_defaults(func=cmd_fewshot)

    data_help = "folder of column files, one column file, a saved dataset or a datasets Hub name"
    p = sub.add_parser(
        "train",
        help="fine-tune on column files or a datasets name (source or K-shot target)",
        description="Fine-tune a label-semantics NER model with the stock Trainer on the training split of --data "
        "(all of it, or a K-shot support set with --k), starting from an encoder (--backbone) or a saved model "
        "(--model, e.g. one pre-finetuned on a source data set). Saves the model with its card.",
    )
    p.add_argument(
        "--data",
        required=True,
        action="append",
        help=data_help + "; repeat it to train one model on several data sets at once, each sentence scored "
        "against its own data set's labels (types with one description are merged, see multi_source.py)",
    )
    p.add_argument("--output", required=True, help="folder to save the model (and the Trainer's files) to")
    p.add_argument("--model", help="start from this saved label-semantics model (its labels are replaced)")
    p.add_argument("--backbone", help="start from this encoder when --model is not given (default: MiniLM)")
    p.add_argument("--labels", nargs="+", help="label set, e.g. O B-PER I-PER (default: read off the data)")
    p.add_argument(
        "--describe",
        nargs="+",
        type=_description,
        metavar="TYPE=TEXT",
        help="descriptions of entity types, e.g. PER=person (default: built-in ones, else the type's words)",
    )
    p.add_argument("--description-style", **STYLE_OPTION)
    p.add_argument("--k", type=_positive_int, help="train on a K-shot support set sampled from the data")
    p.add_argument("--seed", type=int, default=0, help="sampling and training seed (default: %(default)s)")
    p.add_argument(
        "--epochs", type=_positive_float, default=3.0, help="training epochs (default: %(default)s)"
    )
    p.add_argument("--max-steps", type=int, default=-1, help="optimiser steps; overrides --epochs when > 0")
    p.add_argument(
        "--learning-rate",
        type=_positive_float,
        default=5e-5,
        help="peak learning rate (default: %(default)s)",
    )
    p.add_argument(
        "--batch-size", type=_positive_int, default=16, help="sentences per step (default: %(default)s)"
    )
    p.add_argument(
        "--label-learning-rate", type=_non_negative_float, help=KEEP_SOURCE_HELP["label-learning-rate"]
    )
    p.add_argument("--l2sp", type=_non_negative_float, default=0.0, help=KEEP_SOURCE_HELP["l2sp"])
    p.add_argument(
        "--replay",
        action="append",
        help="the source data --model was trained on (" + data_help + "; repeatable): its training rows are "
        "mixed into training, each scored against its own labels, to keep what the source taught",
    )
    p.add_argument(
        "--replay-fraction",
        type=_fraction,
        help="with --replay: the share of replayed rows in training (default: 0.5)",
    )
    p.add_argument("--eval-split", help="evaluate on this split of --data after training, e.g. test")
    p.add_argument("--tag-scheme", type=_scheme, help=SCHEME_HELP)
    p.add_argument("--crf", choices=CRF_LOSSES, help=CRF_HELP)
    p.set_defaults(func=cmd_train)

    model_help = "a saved model folder: a label-semantics NER model or a label-token classifier"
    p = sub.add_parser(
        "predict",
        help="tag text, a file (one text per line), stdin, or a whole corpus into a file",
        description="Run a saved model on --text, on every line of --file, or on every line of stdin, and print "
        'one JSON object per text: {"text": ..., "entities": [...]} for NER (label, text, score, character and '
        'word offsets), {"text": ..., "label": ...} or {"text": ..., "labels": [...]} for a classifier. '
        "With --input CORPUS --output FILE, a corpus of any size is streamed in chunks into FILE (one record per "
        'input record, in input order, with its "index"); an interrupted run resumes where it stopped when the '
        "same command is run again, and under `accelerate launch` the chunks are shared among the processes.",
    )
    p.add_argument("--model", required=True, help=model_help)
    source = p.add_mutually_exclusive_group()
    source.add_argument("--text", help="one text to tag")
    source.add_argument("--file", help="a UTF-8 file with one text per line (default: read stdin)")
    source.add_argument(
        "--input",
        help="a corpus: JSON Lines (*.jsonl, one object per line), Parquet, a folder saved by datasets, or a "
        "datasets Hub name; needs --output",
    )
    p.add_argument("--output", help="with --input: the file to write, *.jsonl or *.parquet")
    p.add_argument(
        "--field",
        help="with --input: the field to tag, a string (raw text) or a list of strings (pre-split words) "
        "(default: text, else tokens)",
    )
    p.add_argument(
        "--keep", nargs="+", metavar="FIELD", help="with --input: input fields copied to the output"
    )
    p.add_argument("--split", help="with --input: the split of a datasets corpus (default: its only split)")
    p.add_argument(
        "--chunk-size",
        type=_positive_int,
        default=1024,
        help="with --input: records read, tagged and written at a time; the unit of resuming (default: 1024)",
    )
    p.add_argument("--overwrite", action="store_true", help="with --input: start over, replacing --output")
    p.add_argument(
        "--batch-size", type=_positive_int, default=32, help="texts per forward pass (default: 32)"
    )
    p.add_argument(
        "--argmax", action="store_true", help="NER: plain argmax instead of valid-transition Viterbi"
    )
    p.add_argument(
        "--dtype",
        choices=["auto", "float32", "bfloat16", "float16"],
        help="NER: run the encoder in this precision; label vectors and decoding stay float32 (default: auto, "
        "bfloat16 on CPUs with AMX or AVX-512 BF16 and on GPUs that support it, else the model's own; float32 gives "
        "the scores of the Python API's default)",
    )
    p.add_argument(
        "--backend",
        choices=["torch", "onnx"],
        default="torch",
        help="NER: onnx runs the graphs export_onnx wrote into the model's onnx/ folder with ONNX Runtime "
        "(default: torch)",
    )
    p.add_argument(
        "--quantized", action="store_true", help="with --backend onnx: the int8 graph (onnx/model_qint8.onnx)"
    )
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser(
        "evaluate",
        help="entity-level seqeval scores of a saved model on a data split",
        description="Tag every sentence of a split with a saved NER model and print entity-level precision, "
        "recall and F1 (seqeval), per type and overall, as a table or as one JSON object (--json, which "
        "`label-semantics card --metrics` reads).",
    )
    p.add_argument("--model", required=True, help="a saved label-semantics NER model folder")
    p.add_argument("--data", required=True, action=_Once, help=data_help)
    p.add_argument("--split", default="test", help="split to evaluate, e.g. dev (default: test)")
    p.add_argument(
        "--batch-size", type=_positive_int, default=64, help="windows per forward pass (default: 64)"
    )
    p.add_argument("--argmax", action="store_true", help="plain argmax instead of valid-transition Viterbi")
    p.add_argument("--json", action="store_true", help="print the metrics as one JSON object")
    p.add_argument("--tag-scheme", type=_scheme, help=SCHEME_HELP)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser(
        "sample",
        help="write a K-shot support set (greedy sampler) as a column file",
        description="Sample a K-shot support set from a split with the greedy algorithm of Yang & Katiyar "
        "(2020), as Ma et al. (2022) do: every entity type gets at least K mentions, and no sentence can be "
        "dropped without one falling below K. Written as a column file (token TAB tag, blank line between "
        "sentences) that every command reads back.",
    )
    p.add_argument("--data", required=True, action=_Once, help=data_help)
    p.add_argument("--split", default="train", help="split to sample from (default: train)")
    p.add_argument("--k", type=_positive_int, required=True, help="mentions per entity type, e.g. 5")
    p.add_argument("--seed", type=int, default=0, help="sampling seed; one seed gives one set (default: 0)")
    p.add_argument("--output", required=True, help="column file to write (token TAB tag)")
    p.add_argument("--tag-scheme", type=_scheme, help=SCHEME_HELP)
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser(
        "card",
        help="render the model card (README.md) of a saved model",
        description="Render the model card of a saved model: type, backbone, labels with their descriptions, "
        "training data, K-shot setting, hyper-parameters, scores (also as model-index metadata), a usage "
        "snippet, limitations, framework versions. What the folder's current card records is kept unless an "
        "option below changes it. Needs no network.",
    )
    p.add_argument("--model", required=True, help=model_help)
    p.add_argument("--output", help="write the card to this file, e.g. MODEL/README.md (default: print it)")
    p.add_argument(
        "--model-id", help="Hub id the usage snippet loads, e.g. me/my-ner (default: the --model path)"
    )
    p.add_argument("--name", help="title of the card and name in model-index")
    p.add_argument("--language", nargs="+", help="ISO 639 code(s) of the data (default: kept, else en)")
    p.add_argument("--license", help="Hub license id, e.g. apache-2.0")
    p.add_argument("--tags", nargs="+", help="extra tags for the Hub")
    p.add_argument("--base-model", help="the backbone's Hub id (default: read off the config when known)")
    p.add_argument("--dataset", help="the training data: a name, folder or datasets Hub name")
    p.add_argument("--dataset-id", help="the training data's Hub id, listed in the metadata")
    p.add_argument("--source-dataset", help="the data the model was pre-finetuned on")
    p.add_argument("--k", type=_positive_int, help="K of the K-shot support set it was fine-tuned on")
    p.add_argument("--seed", type=int, help="the sampling and training seed")
    p.add_argument("--metrics", help="JSON file of scores, e.g. saved from `label-semantics evaluate --json`")
    p.add_argument("--eval-dataset", help="where the scores were measured (default: the training data)")
    p.add_argument("--eval-split", help="split the scores were measured on (default: test)")
    p.set_defaults(func=cmd_card)
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
