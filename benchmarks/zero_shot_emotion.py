"""The emotion part of `zero_shot_labelling.py`: a six-label `LabelAttentionForSequenceClassification` (one
attention query per label, from the label name) trained on the emotion set, its test accuracy and macro F1, and
the per-label word evidence of the first two test sentences of each gold label, rendered as HTML."""

from __future__ import annotations

import logging
from pathlib import Path

import torch
import zero_shot_common as common
from transformers import DataCollatorWithPadding

from label_semantics.modeling_label_attention import LabelAttentionForSequenceClassification
from label_semantics.rendering import render_html_page

logger = logging.getLogger("zero_shot_labelling")
EMOTIONS = ["sadness", "joy", "love", "anger", "fear", "surprise"]


def read_emotion(path: Path) -> list[tuple[str, str]]:
    """The emotion set: a `text;label_name` header, then `text;label` lines."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines()[1:]:
        text, label = line.rsplit(";", 1)
        rows.append((text, label))
    return rows


def run_emotion(args, results: dict) -> None:
    data = Path(args.data) / "classification" / "emotion"
    train_all, test_set = read_emotion(data / "train.txt"), read_emotion(data / "test.txt")
    test_set = test_set[: args.test_sentences or None]
    train_set = common.seeded_sample(train_all, args.emotion_sentences, args.seed)
    torch.manual_seed(args.seed)
    model = LabelAttentionForSequenceClassification.from_encoder(
        args.backbone, labels=EMOTIONS, max_length=args.max_length
    )
    settings = common.settings_from(args).but(max_epochs=args.emotion_epochs)
    seconds = common.train(
        model,
        model.prepare_dataset(
            [t for t, _ in train_set], [y for _, y in train_set], max_length=args.max_length
        ),
        DataCollatorWithPadding(model.tokenizer),
        settings,
        common.HEAD,
    )["seconds"]
    predictions = model.predict([t for t, _ in test_set], batch_size=args.eval_batch_size)
    correct = [p["labels"][0] == y for p, (_, y) in zip(predictions, test_set)]
    f1s = []
    for label in EMOTIONS:
        tp = sum(p["labels"][0] == label and y == label for p, (_, y) in zip(predictions, test_set))
        fp = sum(p["labels"][0] == label and y != label for p, (_, y) in zip(predictions, test_set))
        fn = sum(p["labels"][0] != label and y == label for p, (_, y) in zip(predictions, test_set))
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    results["emotion"] = {
        "info": f"{len(train_set)} of {len(train_all)} training sentences (`random.Random({args.seed}).sample`), "
        f"all {len(test_set)} test sentences",
        "accuracy": sum(correct) / len(correct),
        "macro_f1": sum(f1s) / len(f1s),
        "f1": dict(zip(EMOTIONS, f1s)),
        "seconds": seconds,
    }
    shown = []
    for label in EMOTIONS:  # the first two test sentences of each gold label
        shown.extend([i for i, (_, y) in enumerate(test_set) if y == label][:2])
    examples = []
    for i in shown:
        result = {**predictions[i], "gold": test_set[i][1]}  # the predicted "labels" stay as predicted
        examples.append((test_set[i][1], predictions[i]["labels"][0], result))
    title = f"Per-label word evidence on the emotion test set ({args.backbone_name})"
    page = render_html_page([r for _, _, r in examples], title=title)
    note = (
        "<p>Each line shades the words by their attention score for one label: the predicted label, then "
        "the gold label when different. Produced by benchmarks/zero_shot_labelling.py.</p>"
    )
    args.html.write_text(page.replace("</h1>\n", "</h1>\n" + note + "\n", 1), encoding="utf-8")
    results["emotion"]["examples"] = [
        (g, p, " ".join(f"{w['word']}" for w in r["words"])) for g, p, r in examples
    ]
    logger.info("emotion done: %s", results["emotion"])


def write_emotion_report(args, results: dict, run_lines: list[str]) -> None:
    """`emotion_word_evidence.md`: the emotion metrics of this run and the blocks of the HTML page."""
    e = results["emotion"]
    lines = [
        "# Per-label word evidence: emotion",
        "",
        "Written by `benchmarks/zero_shot_labelling.py`; every number below was measured in this run.",
        "",
        *run_lines,
        f"- data: {e['info']}",
        f"- model: six-label single-label `LabelAttentionForSequenceClassification` (one attention query per "
        "label, from the label name encoded by the same encoder), sigmoid attention + L2/L3 "
        f"{args.l2}/{args.l3}",
        f"- training: {args.emotion_epochs} epoch(s), batch {args.batch_size}, AdamW lr {args.lr} (encoder) / "
        f"{args.head_lr} (head), linear warm-up 10% and decay, max_length {args.max_length}, seed {args.seed}",
        "",
        f"Test accuracy {e['accuracy']:.3f}, macro F1 {e['macro_f1']:.3f}; training {e['seconds'] / 60:.1f} min.",
        "",
        "| " + " | ".join(EMOTIONS) + " |",
        "|" + "---|" * len(EMOTIONS),
        "| " + " | ".join(f"{e['f1'][label]:.3f}" for label in EMOTIONS) + " |",
        "",
        f"Rendered examples, the first two test sentences of each gold label: [`{args.html.name}`]({args.html.name}).",
        "",
        "| gold | predicted | sentence |",
        "|---|---|---|",
    ]
    for gold, predicted, text in e["examples"]:
        lines.append(f"| {gold} | {predicted} | {text.replace('|', '&#124;')} |")
    args.emotion_output.write_text("\n".join(lines) + "\n", encoding="utf-8")
