"""Per-label word evidence on CoNLL-2003, measured: the CoNLL stage of `zero_shot_labelling.py`.

Each sentence gets the multi-label sentence labels "contains a PER / LOC / ORG / MISC entity", read off its tags
(`label_semantics.sentence_labels`); a multi-label `LabelAttentionForSequenceClassification` (one attention
query per type, from the type's description) is trained on those sentence labels only, and each type's word
scores are scored against that type's gold entity words: per-type and macro token F0.5 (thresholds tuned on the
CoNLL dev split, `valid.txt`) and MAP. The baselines are relative frequency per type and the gradient saliency of
each type's logit in a plain multi-label [CLS] classifier. Finally the thresholded word labels are grouped into
entities (adjacent words of one type; a word claimed by several types takes the highest score) and scored with
seqeval: zero-shot NER from sentence labels. Run it through `zero_shot_labelling.py` (`--skip-fce --skip-emotion`
for this stage alone).
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path

import torch
import zero_shot_common as common
from transformers import AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding

from label_semantics.column_files import read_column_file
from label_semantics.evaluation import compute_ner_metrics
from label_semantics.modeling_label_attention import LabelAttentionForSequenceClassification
from label_semantics.sentence_labels import (
    entity_word_labels,
    multi_hot,
    sentence_labels_from_tags,
    tags_from_word_scores,
)
from label_semantics.thresholds import gate_by_sentence, token_metrics, tune_threshold, tune_thresholds
from label_semantics.verbalizer import tags_to_spans

logger = logging.getLogger("zero_shot_labelling")
TYPES = ["PER", "LOC", "ORG", "MISC"]
METHODS = {
    "frequency": "Relative frequency per type",
    "saliency": "Gradient saliency per type, plain multi-label [CLS] classifier",
    "label_attention": "Label attention: sigmoid + L2/L3, one query per type",
}
ENTITY_CANDIDATES = tuple(round(0.05 * i, 2) for i in range(1, 20))


def add_arguments(parser) -> None:
    parser.add_argument(
        "--conll-train-sentences", type=int, default=0, help="CoNLL-2003 train subsample (0: all)"
    )
    parser.add_argument("--conll-dev-sentences", type=int, default=0, help="first N of valid.txt (0: all)")
    parser.add_argument("--conll-test-sentences", type=int, default=0, help="first N of test.txt (0: all)")
    parser.add_argument("--conll-methods", nargs="+", choices=list(METHODS), default=list(METHODS))
    parser.add_argument("--conll-output", type=Path, default=None, help="default results/zero_shot_conll.md")


def span_f1(predicted: list[list[str]], gold: list[list[str]], entity_type: str) -> float:
    """Exact-match entity F1 of one type (what seqeval's default mode counts, for well-formed tags)."""
    tp = fp = fn = 0
    for p, g in zip(predicted, gold):
        ps = {s for s in tags_to_spans(p) if s[0] == entity_type}
        gs = {s for s in tags_to_spans(g) if s[0] == entity_type}
        tp, fp, fn = tp + len(ps & gs), fp + len(ps - gs), fn + len(gs - ps)
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def tune_entity_threshold(
    scores: list[list[float]], gold_tags: list[list[str]], entity_type: str, extra: float
) -> float:
    """The threshold of one type that maximises its entity F1 on dev (grid 0.05..0.95 and `extra`)."""
    best, best_f1 = extra, -1.0
    for threshold in sorted({*ENTITY_CANDIDATES, extra}):
        predicted = [tags_from_word_scores({entity_type: s}, {entity_type: threshold}) for s in scores]
        f1 = span_f1(predicted, gold_tags, entity_type)
        if f1 > best_f1:
            best, best_f1 = threshold, f1
    return best


def _macro_dev(scores: dict, gold: list[list[list[int]]]) -> float:
    """The development criterion: the macro over types of the tuned word-threshold F0.5, best aggregation."""
    values = []
    for how in (h for h in scores if h != "sentence"):
        per_type = []
        for k in range(len(TYPES)):
            flat_gold = [g for sentence in gold[k] for g in sentence]
            if any(flat_gold):
                per_type.append(
                    tune_threshold([s for sentence in scores[how][k] for s in sentence], flat_gold).f_beta
                )
        values.append(sum(per_type) / len(per_type) if per_type else 0.0)
    return max(values)


def run_method(key: str, args, settings: common.Settings, data: dict) -> dict:
    train_words, targets = data["train"]["words"], data["train"]["targets"]
    dev_words, test_words = data["dev"]["words"], data["test"]["words"]
    if key == "frequency":
        start = time.time()
        flags = [[int(v) for v in row] for row in targets]
        dev, _ = common.relative_frequency(train_words, flags, dev_words)
        test, _ = common.relative_frequency(train_words, flags, test_words)
        record = {"seconds": time.time() - start, "epochs_run": None, "best_epoch": None, "dev": []}
        return {"dev": {"first": dev}, "test": {"first": test}, "record": record}
    torch.manual_seed(settings.seed)
    if key == "saliency":
        tokenizer = AutoTokenizer.from_pretrained(args.backbone)
        model = AutoModelForSequenceClassification.from_pretrained(
            args.backbone, num_labels=len(TYPES), problem_type="multi_label_classification"
        )
        features = [
            {**f, "labels": row}
            for f, row in zip(common.word_features(tokenizer, train_words, settings.max_length), targets)
        ]

        def score(m, w):
            return common.saliency_scores(m, tokenizer, w, settings)

        collator, head = DataCollatorWithPadding(tokenizer), ("classifier",)
    else:
        model = LabelAttentionForSequenceClassification.from_encoder(
            args.backbone,
            labels=TYPES,
            problem_type="multi_label_classification",
            max_length=settings.max_length,
            min_attention_loss_weight=args.l2,
            max_attention_loss_weight=args.l3,
        )
        features = model.prepare_dataset(train_words, data["train"]["labels"], max_length=settings.max_length)

        def score(m, w):
            return common.label_attention_scores(m, w, settings)

        collator, head = DataCollatorWithPadding(model.tokenizer), common.HEAD
    record = common.train(
        model,
        features,
        collator,
        settings,
        head,
        lambda m: _macro_dev(score(m, dev_words), data["dev"]["gold"]),
    )
    start = time.time()
    result = {"dev": score(model, dev_words), "test": score(model, test_words)}
    record["test_seconds"] = time.time() - start
    return {**result, "record": record}


def evaluate(result: dict, data: dict) -> list[dict]:
    """Per word aggregation: per-type token metrics at dev-tuned thresholds, macro F0.5 / MAP, and seqeval."""
    rows = []
    for how in (h for h in result["test"] if h != "sentence"):
        per_type, entity_thresholds, gated_test = {}, {}, {}
        for k, entity_type in enumerate(TYPES):
            dev_sentence = result["dev"]["sentence"][k] if "sentence" in result["dev"] else None
            test_sentence = result["test"]["sentence"][k] if "sentence" in result["test"] else None
            choice = tune_thresholds(result["dev"][how][k], data["dev"]["gold"][k], dev_sentence)
            metrics = token_metrics(
                result["test"][how][k],
                data["test"]["gold"][k],
                choice.threshold,
                test_sentence,
                choice.sentence_threshold,
            )
            per_type[entity_type] = {
                **metrics,
                "threshold": choice.threshold,
                "gate": choice.sentence_threshold,
            }
            gated_dev, gated_test[entity_type] = result["dev"][how][k], result["test"][how][k]
            if choice.sentence_threshold is not None:
                gated_dev = gate_by_sentence(gated_dev, dev_sentence, choice.sentence_threshold)
                gated_test[entity_type] = gate_by_sentence(
                    gated_test[entity_type], test_sentence, choice.sentence_threshold
                )
            entity_thresholds[entity_type] = tune_entity_threshold(
                gated_dev, data["dev"]["tags"], entity_type, choice.threshold
            )
        predicted = [
            tags_from_word_scores({t: gated_test[t][i] for t in TYPES}, entity_thresholds)
            for i in range(len(data["test"]["tags"]))
        ]
        entities = compute_ner_metrics(predicted, data["test"]["tags"])
        rows.append(
            {
                "how": how,
                "per_type": per_type,
                "macro_f05": sum(m["F0.5"] for m in per_type.values()) / len(TYPES),
                "macro_map": sum(m["MAP"] for m in per_type.values()) / len(TYPES),
                "entity_thresholds": entity_thresholds,
                "entities": entities,
            }
        )
    return rows


def _split(path: Path, limit: int, seed: int | None = None) -> dict:
    rows = read_column_file(path)
    rows = common.seeded_sample(rows, limit, seed) if seed is not None else rows[: limit or None]
    tags = [r["ner_tags"] for r in rows]
    labels = sentence_labels_from_tags(tags, TYPES)
    return {
        "words": [r["tokens"] for r in rows],
        "tags": tags,
        "labels": labels,
        "targets": multi_hot(labels, TYPES),
        "gold": [[entity_word_labels(t, entity_type) for t in tags] for entity_type in TYPES],
    }


def run_conll(args) -> dict:
    folder = Path(args.data) / "ner" / "conll2003"
    data = {
        "train": _split(folder / "train.txt", args.conll_train_sentences, args.seed),
        "dev": _split(folder / "valid.txt", args.conll_dev_sentences),
        "test": _split(folder / "test.txt", args.conll_test_sentences),
    }
    settings = common.settings_from(args)
    sizes = {split: len(part["words"]) for split, part in data.items()}
    out = {"sizes": sizes, "settings": settings, "methods": []}
    out["label_counts"] = {
        split: {t: sum(t in labels for labels in part["labels"]) for t in TYPES}
        for split, part in data.items()
    }
    out["no_entity"] = {split: sum(not labels for labels in part["labels"]) for split, part in data.items()}
    for key in args.conll_methods:
        cache_key = {
            "stage": "conll",
            "method": key,
            "settings": common.settings_key(settings),
            "l2l3": (args.l2, args.l3),
            "backbone": args.backbone_source,
            "sizes": sizes,
            "sample_seed": args.seed,
        }
        result = args.cache.get(METHODS[key], cache_key)
        if result is None:
            result = run_method(key, args, settings, data)
            args.cache.put(METHODS[key], cache_key, result)
        rows = evaluate(result, data)
        out["methods"].append({"name": METHODS[key], "record": result["record"], "rows": rows})
        logger.info(
            "%s: macro F0.5 %.3f, macro MAP %.3f", METHODS[key], rows[0]["macro_f05"], rows[0]["macro_map"]
        )
    return out


def write_report(args, out: dict, run_lines: list[str]) -> None:
    sizes, settings = out["sizes"], out["settings"]
    counts = out["label_counts"]
    lines = [
        "# Per-label word evidence on CoNLL-2003: entity words from sentence labels",
        "",
        "Written by `benchmarks/zero_shot_labelling.py` (its CoNLL stage, `benchmarks/zero_shot_conll.py`); every "
        "number below was measured in this run.",
        "",
        *run_lines,
        f"- data: `ner/conll2003` train {sizes['train']} sentences (seeded sample, seed {args.seed}, when fewer than "
        f"all), dev (`valid.txt`) {sizes['dev']}, test {sizes['test']}; sentence labels per split "
        + "; ".join(
            f"{s}: " + ", ".join(f"{t} {counts[s][t]}" for t in TYPES) + f", none {out['no_entity'][s]}"
            for s in counts
        ),
        f"- training: {settings.describe()}, early stopping on the dev macro F0.5; trained on the sentence labels "
        "only; label attention L2/L3 " + f"{args.l2}/{args.l3}",
        "- thresholds: per type, tuned on dev: the word threshold (and a sentence gate for methods with sentence "
        "probabilities) for token F0.5; for entities, the threshold (grid 0.05-0.95 and the token one) for that "
        "type's entity F1",
        "",
        "Token level: each type's word scores against the words inside that type's gold entities (test). MAP = "
        "mean over test sentences holding that type of the average precision of their word ranking.",
        "",
        "| method | "
        + " | ".join(f"{t} F0.5" for t in TYPES)
        + " | macro F0.5 | "
        + " | ".join(f"{t} MAP" for t in TYPES)
        + " | macro MAP | epochs | time |",
        "|---|" + "---|" * (2 * len(TYPES) + 4),
    ]
    for method in out["methods"]:
        record = method["record"]
        epochs = "-" if record["epochs_run"] is None else f"{record['best_epoch']} / {record['epochs_run']}"
        seconds = (record["seconds"] + record.get("test_seconds", 0.0)) / 60
        for row in method["rows"]:
            name = method["name"] + (f" ({row['how']} sub-token)" if len(method["rows"]) > 1 else "")
            cells = [row["per_type"][t]["F0.5"] for t in TYPES] + [row["macro_f05"]]
            cells += [row["per_type"][t]["MAP"] for t in TYPES] + [row["macro_map"]]
            lines.append(
                f"| {name} | " + " | ".join(_cell(c) for c in cells) + f" | {epochs} | {seconds:.1f} min |"
            )
    lines += [
        "",
        "Entity level (seqeval, default mode) on test: thresholded word labels, a word claimed by several types "
        "taking the highest score, adjacent words of one type grouped into one entity.",
        "",
        "| method | " + " | ".join(f"{t} F1" for t in TYPES) + " | overall P | overall R | overall F1 |",
        "|---|" + "---|" * (len(TYPES) + 3),
    ]
    for method in out["methods"]:
        for row in method["rows"]:
            name = method["name"] + (f" ({row['how']} sub-token)" if len(method["rows"]) > 1 else "")
            e = row["entities"]
            cells = [e.get(f"{t}_f1", 0.0) for t in TYPES] + [
                e["overall_precision"],
                e["overall_recall"],
                e["overall_f1"],
            ]
            lines.append(f"| {name} | " + " | ".join(_cell(c) for c in cells) + " |")
    args.conll_output.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _cell(value: float) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.3f}"
