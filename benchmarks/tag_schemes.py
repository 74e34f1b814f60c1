"""Tag-scheme benchmark (issue 18): a dual-tower model trained in IOB2 (the few-shot harness's CoNLL-2003 source
checkpoint) on IO, IOB1 and BIOES copies of CoNLL-2003 test and WNUT-17 test, against its IOB2 F1:

* zero-shot, right after the label set is given in that scheme;
* after 5-shot fine-tuning on the same support set (sampled from the IOB2 train split) written in that scheme,
  against the same fine-tuning in IOB2;
* the alternatives to mapping labels into the model's scheme: scoring the given IO labels as they are ("inside
  person", the behaviour before the fix), and IO labels described without a position word ("person").

Every finished cell is a JSON file in ``benchmarks/results/tag_schemes/cells/`` and is skipped on the next run.

    python benchmarks/tag_schemes.py run                 # every cell (resumable)
    python benchmarks/tag_schemes.py run --seeds 0 1 2   # more 5-shot seeds
    python benchmarks/tag_schemes.py report              # tables into benchmarks/results/tag_schemes.md and BENCHMARKS.md
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fewshot_ner  # noqa: E402  (the source checkpoint, data loading and support sets of the grid)

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "tag_schemes"
SCHEMES = ("IOB2", "IO", "IOB1", "BIOES")
DATASETS = {"conll2003": "conll2003", "wnut17": "wnut17"}
METHODS = ("mapped", "as_given", "no_position_word")  # how labels in another scheme are scored
logger = logging.getLogger("tag_schemes")


def _copy(rows, scheme: str):
    from label_semantics.verbalizer import convert_scheme

    return [
        {"tokens": list(r["tokens"]), "ner_tags": convert_scheme(r["ner_tags"], scheme, source="IOB2")}
        for r in rows
    ]


def _model(source: Path, types: list[str], scheme: str, method: str):
    """The source model with the label set given in `scheme`, scored as `method` says."""
    from label_semantics import LabelSemanticsForTokenClassification
    from label_semantics.verbalizer import describe_type, labels_from_types

    model = LabelSemanticsForTokenClassification.from_pretrained(source)
    labels = labels_from_types(types, scheme)
    if method == "mapped":  # the default: labels mapped to their types, scored in the model's own scheme
        model.set_labels(labels, tag_scheme=scheme)
    elif method == "as_given":  # before the fix: the model re-labelled in the data's scheme
        model.set_labels(labels, tag_scheme=scheme, model_scheme=scheme)
    else:  # IO labels read as the bare type: "person", not "inside person"
        descriptions = {f"I-{t}": describe_type(t) for t in types}
        model.set_labels(labels, tag_scheme=scheme, model_scheme=scheme, descriptions=descriptions)
    return model


def _evaluate(model, rows) -> dict:
    from label_semantics.training import evaluate_ner

    metrics = evaluate_ner(model, rows, batch_size=64)
    return {
        "f1": metrics["overall_f1"],
        "precision": metrics["overall_precision"],
        "recall": metrics["overall_recall"],
    }


def cell(args, name: str, fn) -> None:
    path = RESULTS / "cells" / f"{name}.json"
    if path.exists():
        return
    start = time.time()
    result = fn()
    result.update(cell=name, seconds=round(time.time() - start, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1))
    logger.info("%s: F1 %.4f (%.0f s)", name, result["f1"], result["seconds"])


def zeroshot(args, source, dataset: str, scheme: str, method: str) -> dict:
    from label_semantics.verbalizer import entity_types

    train = fewshot_ner.load(DATASETS[dataset], "train", args.data)
    test = fewshot_ner.load(DATASETS[dataset], "test", args.data)
    types = entity_types(t for s in train["ner_tags"] for t in s)
    model = _model(source, types, scheme, method)
    out = _evaluate(model, _copy(test, scheme))
    out.update(dataset=dataset, scheme=scheme, method=method, k=0, labels=model.labels)
    return out


def fewshot(args, source, dataset: str, scheme: str, seed: int) -> dict:
    from datasets import Dataset

    from label_semantics.sampling import sample_support_set
    from label_semantics.training import finetune
    from label_semantics.verbalizer import entity_types

    train = fewshot_ner.load(DATASETS[dataset], "train", args.data)
    test = fewshot_ner.load(DATASETS[dataset], "test", args.data)
    types = entity_types(t for s in train["ner_tags"] for t in s)
    support = train.select(sample_support_set(train["ner_tags"], 5, seed=seed))
    model = _model(source, types, scheme, "mapped")
    finetune(
        model,
        Dataset.from_list(_copy(support, scheme)),
        output_dir=str(fewshot_ner.CACHE / "tag_schemes_tmp"),
        max_steps=fewshot_ner.steps_for(5),
        learning_rate=args.target_lr,
        batch_size=8,
        seed=seed,
        disable_tqdm=True,
    )
    out = _evaluate(model, _copy(test, scheme))
    out.update(dataset=dataset, scheme=scheme, method="mapped", k=5, seed=seed, support=len(support))
    return out


def cmd_run(args) -> None:
    source = fewshot_ner.build_source("dual", args)
    for dataset in args.datasets:
        for scheme in SCHEMES:
            cell(
                args,
                f"{dataset}_{scheme}_k0_mapped",
                lambda d=dataset, s=scheme: zeroshot(args, source, d, s, "mapped"),
            )
        for method in METHODS[1:]:
            cell(
                args,
                f"{dataset}_IO_k0_{method}",
                lambda d=dataset, m=method: zeroshot(args, source, d, "IO", m),
            )
    for seed in args.seeds:
        for dataset in args.datasets:
            for scheme in SCHEMES:
                cell(
                    args,
                    f"{dataset}_{scheme}_k5_seed{seed}",
                    lambda d=dataset, s=scheme, seed=seed: fewshot(args, source, d, s, seed),
                )


def _commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
        ).stdout.strip()
    except OSError:
        return "unknown"


def cmd_report(args) -> None:
    cells = [json.loads(p.read_text()) for p in sorted((RESULTS / "cells").glob("*.json"))]
    by = {}
    for c in cells:
        by.setdefault((c["dataset"], c["scheme"], c["method"], c["k"]), []).append(c["f1"])

    def fmt(values):
        if not values:
            return "–"
        mean = 100 * statistics.mean(values)
        return (
            f"{mean:.1f}"
            if len(values) == 1
            else f"{mean:.1f} ± {100 * statistics.stdev(values):.1f} ({len(values)})"
        )

    def delta(values, reference):
        if not values or not reference:
            return "–"
        return f"{100 * (statistics.mean(values) - statistics.mean(reference)):+.2f}"

    lines = [
        "## Tag schemes: one IOB2-trained model on IO, IOB1 and BIOES copies of its test data",
        "",
        f"Command: `python benchmarks/tag_schemes.py run --seeds {' '.join(map(str, sorted({c['seed'] for c in cells if 'seed' in c})))}` "
        f"then `report` (commit {_commit()}, {date.today().isoformat()}). The model is the few-shot grid's CoNLL-2003 "
        "source checkpoint (`benchmarks/fewshot_ner.py`, 1 epoch on CoNLL-2003 train), backbone all-MiniLM-L6-v2; "
        "entity-level seqeval F1 (default mode) on the full test sets, Viterbi decoding; each gold copy is the IOB2 "
        "test split converted with `convert_scheme`. 5-shot: the support set is sampled from the IOB2 train split "
        f"(greedy sampler, seed as listed), written in the scheme, fine-tuned {fewshot_ner.steps_for(5)} steps at "
        f"lr {args.target_lr}, batch 8. Δ is the scheme's F1 minus the IOB2 F1 of the same row.",
        "",
        "| data | labels given in | zero-shot F1 | Δ vs IOB2 | 5-shot F1 | Δ vs IOB2 |",
        "|---|---|---|---|---|---|",
    ]
    for dataset in DATASETS:
        ref0 = by.get((dataset, "IOB2", "mapped", 0), [])
        ref5 = by.get((dataset, "IOB2", "mapped", 5), [])
        for scheme in SCHEMES:
            z = by.get((dataset, scheme, "mapped", 0), [])
            f = by.get((dataset, scheme, "mapped", 5), [])
            lines.append(
                f"| {dataset} | {scheme} | {fmt(z)} | {delta(z, ref0) if scheme != 'IOB2' else ''} | {fmt(f)} | "
                f"{delta(f, ref5) if scheme != 'IOB2' else ''} |"
            )
    counts = []
    for dataset in DATASETS:
        from label_semantics.verbalizer import tags_to_spans

        gold = fewshot_ner.load(DATASETS[dataset], "test", args.data)["ner_tags"]
        iob2 = sum(len(tags_to_spans(t)) for t in gold)
        io = sum(
            len(tags_to_spans(r["ner_tags"]))
            for r in _copy([{"tokens": [], "ner_tags": t} for t in gold], "IO")
        )
        counts.append(f"{dataset} {iob2:,} -> {io:,}")
    lines += [
        "",
        "IOB1 and BIOES hold the very same entities, so their F1 equals IOB2's. An IO copy cannot mark where two "
        "adjacent entities of one type meet, so they become one, in the gold and in the predictions alike "
        f"(gold entities in IOB2 -> IO: {'; '.join(counts)}): the IO rows score that easier task, which is what "
        "the IOB2 predictions converted to IO score too.",
    ]
    lines += [
        "",
        "Alternatives for IO labels, zero-shot (the default maps them into the model's scheme; see above):",
        "",
        "| data | IO labels scored as | zero-shot F1 | Δ vs IOB2 |",
        "|---|---|---|---|",
    ]
    names = {
        "mapped": "mapped to the model's IOB2 labels (default)",
        "as_given": 'given (`I-PER` = "inside person"; before the fix)',
        "no_position_word": 'given, described without a position word ("person")',
    }
    for dataset in DATASETS:
        ref0 = by.get((dataset, "IOB2", "mapped", 0), [])
        for method in METHODS:
            z = by.get((dataset, "IO", method, 0), [])
            lines.append(f"| {dataset} | {names[method]} | {fmt(z)} | {delta(z, ref0)} |")
    lines.append("")
    text = "\n".join(lines)
    (ROOT / "benchmarks" / "results" / "tag_schemes.md").write_text(text)
    path = ROOT / "BENCHMARKS.md"
    start, end = "<!-- tag_schemes:start -->", "<!-- tag_schemes:end -->"
    current = path.read_text()
    if start not in current:
        current += f"\n{start}\n{end}\n"
    head, rest = current.split(start, 1)
    path.write_text(head + start + "\n" + text + "\n" + end + rest.split(end, 1)[1])
    print(text)


def main(argv=None) -> None:
    global RESULTS
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=["run", "report"])
    parser.add_argument("--backbone", default=None, help="any BERT-like encoder (default: all-MiniLM-L6-v2)")
    parser.add_argument("--data", type=Path, default=fewshot_ner.DATA, help="folder of the NER data sets")
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--source-epochs", type=float, default=1.0)
    parser.add_argument("--source-lr", type=float, default=5e-5)
    parser.add_argument("--target-lr", type=float, default=1e-4)
    parser.add_argument(
        "--tag", default="minilm", help="the grid configuration whose source checkpoint is used"
    )
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    RESULTS = args.results
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    args.backbone = args.backbone or fewshot_ner.default_backbone()
    {"run": cmd_run, "report": cmd_report}[args.command](args)


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
