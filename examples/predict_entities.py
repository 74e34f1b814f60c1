"""Tag text with a saved dual-tower checkpoint: `predict()`, the stock pipeline, and zero-shot entity types.

make demo                                  # trains and saves runs/fewshot (CoNLL-2003 -> 5-shot WNUT-17)
python examples/predict_entities.py runs/fewshot "john smith was great in the new star wars movie"
"""

from __future__ import annotations

import json
import sys

from transformers import pipeline

from label_semantics import LabelSemanticsForTokenClassification


def main() -> None:
    folder = sys.argv[1] if len(sys.argv) > 1 else "runs/fewshot"
    text = sys.argv[2] if len(sys.argv) > 2 else "john smith was great in the new star wars movie"
    model = LabelSemanticsForTokenClassification.from_pretrained(folder)
    print("labels:", dict(zip(model.labels, model.config.label_descriptions)))

    # 1. predict(): entities with character offsets; valid-transition decoding; long texts are windowed
    for entity in model.predict(text):
        print(json.dumps(entity))

    # 2. the stock transformers pipeline works on the same checkpoint
    ner = pipeline("token-classification", model=folder, aggregation_strategy="first")
    print(ner(text))

    # 3. zero-shot: entity types named at call time, never seen in training
    tagger = pipeline("label-semantics-ner", model=folder)
    print(tagger(text, labels=["person", "movie title"]))


if __name__ == "__main__":
    main()
