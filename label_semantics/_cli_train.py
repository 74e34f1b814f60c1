"""The `label-semantics train` subcommand's helpers: the model training starts from, several --data sources
merged into one training set, the `finetune` options and the card's hyper-parameters. `cli.cmd_train` runs the
one-source case with them."""

from __future__ import annotations

from ._cli_common import (
    _argument,
    _crf_options,
    _dataset,
    _k_shot,
    _load_model,
    _load_split,
    _style_options,
    default_backbone,
)


def _train_sources(args, descriptions):
    """`train` with several --data: their training splits (K-shot each with --k), merged by multi_source's rules."""
    from .multi_source import Source, combine_sources
    from .sampling import sample_support_set
    from .verbalizer import detect_scheme

    if args.replay:
        raise SystemExit(
            f"error: --replay {' '.join(args.replay)} does not go with several --data: multi-source training already "
            f"mixes them; give the data to replay as one more --data"
        )
    for flag, value in (("--labels", args.labels), ("--eval-split", args.eval_split)):
        if value:
            raise SystemExit(
                f"error: {flag} does not go with several --data ({', '.join(args.data)}): "
                + (
                    "the label set is the union of the sources' types; leave --labels out"
                    if flag == "--labels"
                    else "evaluate each afterwards, e.g. label-semantics evaluate --model OUTPUT --data "
                    f"{args.data[0]} --split {value}"
                )
            )
    sources = []
    for name in args.data:
        train = _load_split(name, "train", "--data", args.tag_scheme)
        if args.k:
            with _k_shot(args.k):
                train = train.select(sample_support_set(train["ner_tags"], args.k, seed=args.seed))
        sources.append(Source(name, train, scheme=args.tag_scheme))
    if args.model:
        scheme = None  # the saved model's own
    else:  # the sources' common scheme, else IOB2 (every other scheme converts to it without loss)
        with _argument("--data", args.data):
            kinds = {args.tag_scheme or detect_scheme(s.dataset["ner_tags"]) for s in sources}
        scheme = kinds.pop() if len(kinds) == 1 else "IOB2"
    with _argument("--data", args.data):
        return combine_sources(sources, scheme=scheme or "IOB2", descriptions=descriptions), scheme


def _replay(args):
    """The training splits of --replay, as `finetune(replay=...)` takes them (None without --replay)."""
    from .multi_source import Source

    if args.replay_fraction is not None and not args.replay:
        raise SystemExit(
            f"error: --replay-fraction {args.replay_fraction:g} is the share of replayed rows, and no --replay data "
            f"were given; add --replay SOURCE_DATA (the data --model was trained on), or leave it out"
        )
    if not args.replay:
        return None
    return [Source(name, _load_split(name, "train", "--replay", None)) for name in args.replay]


def _training_options(args) -> dict:
    """The `finetune` options of `train`, the same with one --data or several."""
    return {
        "output_dir": args.output,
        "epochs": args.epochs,
        "max_steps": args.max_steps,
        "learning_rate": args.learning_rate,
        "batch_size": args.batch_size,
        "seed": args.seed,
        "label_learning_rate": args.label_learning_rate,
        "l2sp": args.l2sp,
    }


def _hyperparameters(args, trainer) -> dict:
    """The card's hyper-parameters of `train`: the Trainer's, and the keep-the-source options when set."""
    from .model_card import hyperparameters_from_training_args
    from .training import REPLAY_FRACTION

    kept = {
        "label_learning_rate": args.label_learning_rate,
        "l2sp": args.l2sp or None,
        "replay": " + ".join(args.replay) if args.replay else None,
        "replay_fraction": (args.replay_fraction or REPLAY_FRACTION) if args.replay else None,
    }
    return {
        **hyperparameters_from_training_args(trainer.args),
        **{k: v for k, v in kept.items() if v is not None},
    }


def _train_model(args, labels, descriptions, scheme):
    """The model `train` starts from (--model, or --backbone with --crf) with `labels`, and its source's name."""
    from .model_card import card_data_for
    from .modeling_label_semantics import LabelSemanticsForTokenClassification

    if args.model:
        if args.crf:
            raise SystemExit(
                f"error: --crf {args.crf}: a saved --model keeps the CRF it has (or has none); add one when "
                f"starting from an encoder, e.g. label-semantics train --backbone PATH --crf {args.crf}"
            )
        model = _load_model(args.model, kinds=("label-semantics",))
        with _argument("--labels", labels):
            model.set_labels(
                labels, descriptions=descriptions, tag_scheme=scheme, description_style=args.description_style
            )
        return model, card_data_for(model).dataset_name
    backbone = args.backbone or default_backbone()
    try:
        model = LabelSemanticsForTokenClassification.from_encoder(
            backbone,
            labels=labels,
            descriptions=descriptions,
            tag_scheme=scheme,
            **_crf_options(args),
            **_style_options(args),
        )
    except FileNotFoundError as err:
        raise SystemExit(f"error: --backbone {backbone!r}: {err}") from err
    except ValueError as err:
        raise SystemExit(f"error: --labels/--describe {labels}: {err}") from err
    return model, None


def _train_several(args, descriptions) -> int:
    """`train --data A --data B ...`: multi-source training of one model on the union of the label sets."""
    from .model_card import CardData
    from .training import finetune

    combined, scheme = _train_sources(args, descriptions)
    model, source = _train_model(args, combined.labels, combined.descriptions, scheme or combined.scheme)
    trainer = finetune(
        model,
        sources=combined,
        **_training_options(args),
    )
    names = [_dataset(name)["name"] for name in args.data]
    model.card_data = CardData(
        dataset_name=" + ".join(names),
        source_dataset_name=source,
        k_shot=args.k,
        support_size=len(combined) if args.k else None,
        seed=args.seed,
        hyperparameters=_hyperparameters(args, trainer),
    )
    model.save_pretrained(args.output)
    sizes = ", ".join(f"{name}: {len(rows)}" for name, rows in zip(combined.sources, combined.datasets))
    print(f"Saved to {args.output} ({len(combined)} training sentences: {sizes}; labels {combined.labels})")
    return 0
