"""Multi-source NER benchmark (issue 11): the dual tower pre-finetuned on every labelled data set at once, against
its CoNLL-only self, TransferBERT with a source stage on the union of tags, and GLiNER on the same backbone and
sources, at K = 0, 1 and 5 on each target's full test set.

Leave one group out: no target's data is in its source.

- protocol A: source CoNLL-2003 + WNUT-17 + MIT Movie + MIT Restaurant (train splits), targets the five CrossNER
  domains;
- protocol B: source CoNLL-2003 + the five CrossNER domains (train splits), targets WNUT-17, MIT Movie, MIT
  Restaurant.

Rows (`ROWS`): ``dual_conll`` (today's: the few-shot harness's CoNLL-2003 source, reused from
``benchmarks/cache/fewshot_ner/minilm/source_dual`` when it was trained with the same settings, and its finished
cells reused when they ran with the same target settings); ``dual_multi_names`` and ``dual_multi_definitions`` (one
dual tower on the union of the protocol's sources, each sentence scored against its own data set's labels:
`label_semantics.multi_source`; the built-in label names, or definitions); ``transfer_union``
(`AutoModelForTokenClassification` trained on the union of tags, then a new head for the target, as the harness
does; no zero-shot); ``keep_*``: the "keep what the source taught" options of the K-shot stage on the multi-source
names model (L2-SP, a lower or zero label-tower rate, fewer steps, source rows mixed into each batch), so that
the report can choose the default; ``conll_label_lr``: the lower label-side rate on the CoNLL-only model (the main
job's kind of source);
``gliner_names`` / ``gliner_definitions``: joined from ``benchmarks/gliner_baseline.py score`` (same support sets,
``fewshot_ner.support_set``; same seqeval scoring, `compute_ner_metrics`).

Every stage reuses the few-shot harness (`benchmarks/fewshot_ner.py`): its readers, support sets, steps
(`steps_for`), model loading with a new label set or head (`load_for_target`), scoring (`evaluate_both`, Viterbi
reported) and resumable, locked cells (`run_cell`).

    python benchmarks/multi_source_ner.py grid                   # everything (resumable; cells skipped when done)
    python benchmarks/multi_source_ner.py grid --protocols A     # one protocol (a second process can run B)
    python benchmarks/multi_source_ner.py grid --rows dual_multi_names --targets crossner_ai --ks 1 --seeds 1
    python benchmarks/multi_source_ner.py grid --max-source-sentences 5000   # subsampled source stage (own tag)
    python benchmarks/multi_source_ner.py report                 # benchmarks/results/multi_source_ner.md / .json
    python benchmarks/multi_source_ner.py grid --smoke           # a tiny end-to-end run, written under /tmp
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import statistics
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fewshot_ner as harness  # noqa: E402  (the few-shot harness, reused)

logger = logging.getLogger("multi_source_ner")

ROOT = harness.ROOT
RESULTS = ROOT / "benchmarks" / "results" / "multi_source_ner"
CACHE = ROOT / "benchmarks" / "cache" / "multi_source_ner"
HARNESS_SOURCE = ROOT / "benchmarks" / "cache" / "fewshot_ner" / "minilm" / "source_dual"
HARNESS_CELLS = harness.RESULTS_DEFAULT / "cells" / "minilm"
GLINER_RESULTS = ROOT / "benchmarks" / "results" / "gliner"
CROSSNER = ("crossner_ai", "crossner_literature", "crossner_music", "crossner_politics", "crossner_science")
PROTOCOLS = {
    "A": (("conll2003", "wnut17", "mit_movie", "mit_restaurant"), CROSSNER),
    "B": (("conll2003", *CROSSNER), ("wnut17", "mit_movie", "mit_restaurant")),
}
TODAY = {1: 37.1, 5: 45.7}  # the few-shot grid's dual-tower averages over the 8 targets (BENCHMARKS.md)
ROWS = {
    # name: model kind, source ("conll" or "multi"), description style, K-shot options
    "dual_conll": {"kind": "dual", "source": "conll", "style": "names"},
    "dual_multi_names": {"kind": "dual", "source": "multi", "style": "names"},
    "dual_multi_definitions": {"kind": "dual", "source": "multi", "style": "definitions"},
    "transfer_union": {"kind": "transfer", "source": "multi", "style": "names"},
    "keep_l2sp": {"kind": "dual", "source": "multi", "style": "names", "keep": "l2sp"},
    "keep_label_lr": {"kind": "dual", "source": "multi", "style": "names", "keep": "label_lr"},
    "keep_frozen_labels": {"kind": "dual", "source": "multi", "style": "names", "keep": "frozen_labels"},
    "keep_fewer_steps": {"kind": "dual", "source": "multi", "style": "names", "keep": "fewer_steps"},
    "keep_mix_source": {"kind": "dual", "source": "multi", "style": "names", "keep": "mix_source"},
    "conll_label_lr": {"kind": "dual", "source": "conll", "style": "names", "keep": "label_lr"},
    "gliner_names": {"kind": "gliner", "style": "names"},
    "gliner_definitions": {"kind": "gliner", "style": "definitions"},
}
KEEP_CANDIDATES = (
    "dual_multi_names",
    "keep_l2sp",
    "keep_label_lr",
    "keep_frozen_labels",
    "keep_fewer_steps",
    "keep_mix_source",
)


# ------------------------------------------------------------------------------------------------ protocol


def data_folder(name: str) -> str:
    return harness.TARGETS.get(name, name)


def check_leave_one_group_out(protocol: str, targets) -> None:
    """Every target is one of the protocol's targets, and no target's data folder is one of its sources'."""
    sources, own = PROTOCOLS[protocol]
    folders = {data_folder(s) for s in sources}
    for target in targets:
        if data_folder(target) in folders:
            raise SystemExit(
                f"error: target {target} ({data_folder(target)}) is in the source of protocol {protocol} "
                f"({', '.join(sources)}): a target's data must not be in its source (leave one group out)"
            )
        if target not in own:
            raise SystemExit(f"error: {target} is not a target of protocol {protocol}; its targets: {own}")


def protocol_targets(args, protocol: str) -> list[str]:
    """The targets of `--targets` that are `protocol`'s; a target that is no selected protocol's target is refused
    (in a selected protocol's source: the leave-one-group-out error)."""
    for target in args.targets:
        if not any(target in PROTOCOLS[p][1] for p in args.protocols):
            for p in args.protocols:
                check_leave_one_group_out(p, [target])
    targets = [t for t in args.targets if t in PROTOCOLS[protocol][1]]
    check_leave_one_group_out(protocol, targets)
    return targets


def _subsample(data, n: int | None, seed: int = 0):
    if n is None or n >= len(data):
        return data
    return data.select(sorted(random.Random(seed).sample(range(len(data)), n)))


def source_data(args, names) -> dict:
    """Each source's train split, subsampled in proportion to its size when `--max-source-sentences` is given."""
    full = {name: harness.load(data_folder(name), "train", args.data) for name in names}
    if args.max_source_sentences is None:
        return full
    total = sum(len(d) for d in full.values())
    share = {n: max(1, round(args.max_source_sentences * len(d) / total)) for n, d in full.items()}
    return {name: _subsample(data, share[name]) for name, data in full.items()}


def overlap_with_source(args, protocol: str, targets) -> dict[str, int]:
    """Test sentences of each target found word for word in the protocol's source (recorded, not an error: short
    sentences such as a lone ``.`` can occur anywhere)."""
    seen = {tuple(t) for d in source_data(args, PROTOCOLS[protocol][0]).values() for t in d["tokens"]}
    return {t: sum(tuple(s) in seen for s in _test(args, t)["tokens"]) for t in targets}


def _test(args, target: str):
    test = harness.load_target(target, "test", args.data)
    return test.select(range(min(args.test_limit, len(test)))) if args.test_limit else test


# ------------------------------------------------------------------------------------------------ sources


def _settings(args, sentences: dict) -> dict:
    out = {"sentences": sum(sentences.values()), "epochs": args.source_epochs}
    out.update(learning_rate=args.source_lr, batch_size=16)
    if args.max_source_sentences is not None or len(sentences) > 1:
        out.update(per_source=sentences, max_source_sentences=args.max_source_sentences)
    return out


def _train_source(args, path: Path, build) -> Path:
    """Run `build()` (which trains and saves into `path`) once, under a lock shared with other workers."""
    if (path / "config.json").exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = path.with_suffix(".lock")
    while not harness._take_lock(lock):
        logger.info("another worker is building %s; waiting", path)
        time.sleep(30)
        if (path / "config.json").exists():
            return path
    try:
        if not (path / "config.json").exists():
            start = time.time()
            settings = build()
            (path / "train_seconds.txt").write_text(f"{time.time() - start:.1f}\n")
            (path / "source_settings.json").write_text(json.dumps(settings))
    finally:
        lock.unlink(missing_ok=True)
    return path


def conll_source(args) -> Path:
    """The CoNLL-only dual tower: the harness's own checkpoint when it was trained as this run would train it."""
    if getattr(args, "conll_source_path", None) is None:
        args.conll_source_path = _conll_source(args)
    return args.conll_source_path


def _conll_source(args) -> Path:
    conll = _subsample(harness.load("conll2003", "train", args.data), args.max_source_sentences)
    settings = _settings(args, {"conll2003": len(conll)})
    recorded = HARNESS_SOURCE / "source_settings.json"
    if (
        args.backbone_name == "all-MiniLM-L6-v2"
        and recorded.exists()
        and json.loads(recorded.read_text()) == settings
    ):
        return HARNESS_SOURCE

    def build():
        labels, scheme = harness.target_labels(conll)
        model, tokenizer = harness.new_model("dual", args.backbone, labels, scheme)
        _finetune_source(args, model, conll, tokenizer=tokenizer)
        model.save_pretrained(path)
        tokenizer.save_pretrained(path)
        return settings

    path = args.cache / args.tag / "source_conll_dual"
    return _train_source(args, path, build)


def _finetune_source(args, model, data=None, **kwargs) -> None:
    from label_semantics.training import finetune

    finetune(
        model,
        data,
        output_dir=str(args.cache / args.tag / "tmp"),
        epochs=args.source_epochs,
        learning_rate=args.source_lr,
        batch_size=16,
        seed=0,
        disable_tqdm=True,
        **kwargs,
    )


def combined_sources(args, protocol: str, style: str):
    """The protocol's sources merged into one label set (`combine_sources`), with `style`'s descriptions."""
    from label_semantics.label_descriptions import describe_type
    from label_semantics.multi_source import Source, combine_sources
    from label_semantics.verbalizer import entity_types

    data = source_data(args, PROTOCOLS[protocol][0])
    sources = []
    for name, rows in data.items():
        types = entity_types(t for sentence in rows["ner_tags"] for t in sentence)
        descriptions = {t: describe_type(t, style=style) for t in types}
        sources.append(Source(name, rows, descriptions=descriptions))
    return combine_sources(sources), {name: len(rows) for name, rows in data.items()}


def multi_source(args, protocol: str, kind: str, style: str) -> Path:
    """The dual tower on the union of the protocol's sources (masked per sentence), or TransferBERT on the union of
    their tags (one head over every label, no mask: the model cannot score labels it has no row for)."""
    name = f"source_{protocol}_dual_{style}" if kind == "dual" else f"source_{protocol}_transfer"
    path = args.cache / args.tag / name

    def build():
        from datasets import concatenate_datasets

        from label_semantics import LabelSemanticsForTokenClassification

        combined, sizes = combined_sources(args, protocol, style)
        if kind == "dual":
            model = LabelSemanticsForTokenClassification.from_encoder(
                args.backbone, labels=combined.labels, tag_scheme=combined.scheme, description_style=style
            )
            tokenizer = model.tokenizer
            _finetune_source(args, model, sources=combined, tokenizer=tokenizer)
        else:
            model, tokenizer = harness.new_model("transfer", args.backbone, combined.labels, combined.scheme)
            union = concatenate_datasets(combined.datasets)
            _finetune_source(args, model, union, tokenizer=tokenizer)
        model.save_pretrained(path)
        tokenizer.save_pretrained(path)
        return {
            **_settings(args, sizes),
            "labels": len(combined.labels),
            "merged": sorted(map(list, combined.merged)),
        }

    return _train_source(args, path, build)


def source_for(args, protocol: str, row: str) -> Path:
    spec = ROWS[row]
    if spec["source"] == "conll":
        return conll_source(args)
    return multi_source(args, protocol, spec["kind"], spec["style"])


def zero_shot_key(row: str) -> str | None:
    """The row whose zero-shot cell is this row's K=0 (a keep row shares its source model's: the multi-source
    names model's, or the CoNLL-only model's)."""
    spec = ROWS[row]
    if spec["kind"] == "transfer":
        return None
    if "keep" not in spec:
        return row
    return "dual_multi_names" if spec["source"] == "multi" else "dual_conll"


# ------------------------------------------------------------------------------------------------ cells


def keep_options(args, row: str, k: int) -> dict:
    """The K-shot stage's settings of a row: steps, learning rate and the keep-source options."""
    keep = ROWS[row].get("keep")
    out = {"steps": args.target_steps or harness.steps_for(k), "target_lr": args.target_lr}
    if keep == "l2sp":
        out["l2sp"] = args.l2sp
    elif keep == "label_lr":
        out["label_learning_rate"] = args.target_lr * args.label_lr_ratio
    elif keep == "frozen_labels":
        out["label_learning_rate"] = 0.0
    elif keep == "fewer_steps":
        out["steps"] = max(1, round(out["steps"] * args.fewer_steps_fraction))
    elif keep == "mix_source":
        out["replay_fraction"] = args.replay_fraction
    return out


def zero_shot_cell(args, protocol: str, row: str, target: str) -> dict:
    reused = _harness_cell(args, row, target, 0, None, {})
    if reused is not None:
        return {**reused, "protocol": protocol, "row": row, "source": _where(HARNESS_SOURCE)}
    labels, scheme = harness.target_labels(harness.load_target(target, "train", args.data))
    source = source_for(args, protocol, row)
    model, tokenizer = harness.load_for_target("dual", source, labels, scheme)
    test = _test(args, target)
    models = {row: harness.evaluate_both(model, tokenizer, test)}
    return {
        "source": _where(source),
        "protocol": protocol,
        "row": row,
        "target": target,
        "k": 0,
        "test_sentences": len(test),
        "models": models,
    }


def _harness_cell(args, row: str, target: str, k: int, seed: int, options: dict) -> dict | None:
    """The few-shot harness's finished cell for the same model, support set and training, if there is one."""
    if (
        row != "dual_conll"
        or conll_source(args) != HARNESS_SOURCE
        or args.test_limit
        or args.no_harness_cells
    ):
        return None
    path = HARNESS_CELLS / (f"{target}_zeroshot.json" if k == 0 else f"{target}_k{k}_seed{seed}.json")
    if not path.exists():
        return None
    cell = json.loads(path.read_text())
    # cells written before the harness recorded lr and steps ran with its defaults (1e-4, steps_for(k)), as its
    # own report assumes; those are marked
    recorded = (cell.get("target_lr", 1e-4), cell.get("steps", harness.steps_for(k)))
    if k and recorded != (options["target_lr"], options["steps"]):
        return None
    unrecorded = bool(k) and not ("target_lr" in cell and "steps" in cell)
    if "dual" not in cell.get("models", {}):
        return None
    out = {**cell, "models": {row: cell["models"]["dual"]}, "from_harness_cell": _where(path)}
    return {**out, "harness_defaults_assumed": True} if unrecorded else out


def fewshot_cell(args, protocol: str, row: str, target: str, k: int, seed: int) -> dict:
    from label_semantics.sampling import SamplingError
    from label_semantics.training import finetune

    options = keep_options(args, row, k)
    result = {"protocol": protocol, "row": row, "target": target, "k": k, "seed": seed, **options}
    reused = _harness_cell(args, row, target, k, seed, options)
    if reused is not None:
        return {**reused, **result, "source": _where(HARNESS_SOURCE)}
    train = harness.load_target(target, "train", args.data)
    labels, scheme = harness.target_labels(train)
    try:
        support, pool = harness.support_set(target, k, seed, args.data)
    except SamplingError as err:
        return {**result, "infeasible": str(err), "models": {}}
    source = source_for(args, protocol, row)
    result["source"] = _where(source)
    model, tokenizer = harness.load_for_target(ROWS[row]["kind"], source, labels, scheme)
    start = time.time()
    finetune(
        model,
        support,
        tokenizer=tokenizer,
        output_dir=str(args.cache / args.tag / "tmp"),
        max_steps=options["steps"],
        learning_rate=options["target_lr"],
        batch_size=8,
        seed=seed,
        disable_tqdm=True,
        label_learning_rate=options.get("label_learning_rate"),
        l2sp=options.get("l2sp", 0.0),
        replay=replayed(args, protocol) if "replay_fraction" in options else None,
        replay_fraction=options.get("replay_fraction"),
    )
    train_seconds = round(time.time() - start, 1)
    test = _test(args, target)
    scores = {**harness.evaluate_both(model, tokenizer, test), "train_seconds": train_seconds}
    result.update(support_sentences=len(support), support_pool=pool, test_sentences=len(test))
    return {**result, "models": {row: scores}}


def replayed(args, protocol: str):
    """keep_mix_source's replay data: the protocol's source rows that trained its names model, combined once."""
    cache = args.__dict__.setdefault("replay_sources", {})
    if protocol not in cache:
        cache[protocol] = combined_sources(args, protocol, "names")[0]
    return cache[protocol]


def _where(path: Path) -> str:
    path = Path(path).resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def cell_name(protocol: str, row: str, target: str, k: int, seed: int | None) -> str:
    return f"{protocol}/{row}/{target}_k0" if k == 0 else f"{protocol}/{row}/{target}_k{k}_seed{seed}"


def plan(args) -> list[tuple]:
    """Every (protocol, row, target, K, seed) cell the arguments ask for, seed-major (an interrupted run still
    covers every row and target); K=0 once per model that can tag zero-shot."""
    cells = []
    trained = [r for r in args.rows if ROWS[r]["kind"] != "gliner"]
    for protocol in args.protocols:
        targets = protocol_targets(args, protocol)
        if 0 in args.ks:
            zero = dict.fromkeys(zero_shot_key(r) for r in trained if zero_shot_key(r))
            cells += [(protocol, r, t, 0, None) for r in zero for t in targets]
        for seed in range(args.seeds):
            for k in (k for k in args.ks if k):
                cells += [(protocol, r, t, k, seed) for r in trained for t in targets]
    return cells


def cmd_grid(args) -> None:
    for protocol in args.protocols:  # leave one group out, before any training
        protocol_targets(args, protocol)
    todo = plan(args)
    if args.reverse:
        todo = todo[::-1]
    log = args.results / "cells" / args.tag / "commands.txt"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a") as f:
        f.write(f"{date.today().isoformat()} {harness._git_commit()} {args.command_line}\n")
    for protocol, row, target, k, seed in todo:
        if k == 0:
            fn = lambda p=protocol, r=row, t=target: zero_shot_cell(args, p, r, t)  # noqa: E731
        else:
            fn = lambda p=protocol, r=row, t=target, k=k, s=seed: fewshot_cell(args, p, r, t, k, s)  # noqa: E731
        harness.run_cell(args, cell_name(protocol, row, target, k, seed), fn)
    for protocol in args.protocols:
        path = args.results / "cells" / args.tag / f"{protocol}_overlap.json"
        known = json.loads(path.read_text()) if path.exists() else {}
        missing = [t for t in protocol_targets(args, protocol) if t not in known]
        if missing:
            path.write_text(json.dumps({**known, **overlap_with_source(args, protocol, missing)}))


# ------------------------------------------------------------------------------------------------ report


def _cells(args) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((args.results / "cells" / args.tag).glob("*/*/*.json"))]


def gliner_scores(args, protocol: str, style: str, targets) -> tuple[dict, list[str]]:
    """F1 (%) per (target, K) of `gliner_baseline.py score`'s file for this protocol and style, and notes on what
    could not be joined (another test-set size or steps than this run's, other sources)."""
    tag = f"{args.gliner_prefix}_{protocol}_{style}"
    path = args.gliner_results / f"{tag}.json"
    if not path.exists():
        return {}, []
    notes, scores = [], {}
    settings = args.gliner_cache / tag / "source" / "source_settings.json"
    if settings.exists():
        recorded = json.loads(settings.read_text())
        if list(recorded["sources"]) != list(PROTOCOLS[protocol][0]):
            return {}, [f"{path.name}: trained on {recorded['sources']}, not protocol {protocol}'s"]
        if recorded.get("max_source_sentences") != args.max_source_sentences:
            return {}, [
                f"{path.name}: source subsampled to {recorded.get('max_source_sentences')} sentences, "
                f"not this run's {args.max_source_sentences}"
            ]
    sizes = {t: len(_test(args, t)) for t in targets}
    for cell in json.loads(path.read_text())["cells"]:
        target, k, seed = cell["target"], cell["k"], cell.get("seed")
        if target not in targets or k not in args.ks or (k and seed >= args.seeds):
            continue
        if cell.get("test_sentences") != sizes[target] or (k and cell.get("steps") != harness.steps_for(k)):
            notes.append(
                f"{path.name} {target} K={k}: {cell.get('test_sentences')} test sentences and "
                f"{cell.get('steps')} steps, not {sizes[target]} and {harness.steps_for(k) if k else 0}: left out"
            )
            continue
        scores.setdefault((target, k), []).append(100 * cell["metrics"]["overall_f1"])
    return scores, notes


def row_scores(args, cells: list[dict]) -> tuple[dict, list[str]]:
    """F1 (%) per row and (target, K), Viterbi decoding; a keep row's K=0 is the multi-source names model's."""
    out: dict[str, dict] = {row: {} for row in args.rows}
    notes = []
    for cell in cells:
        for row, scores in cell.get("models", {}).items():
            if (
                cell["target"] in args.targets
                and cell["k"] in args.ks
                and (not cell["k"] or cell["seed"] < args.seeds)
            ):
                out.setdefault(row, {}).setdefault((cell["target"], cell["k"]), []).append(
                    100 * scores["viterbi"]["overall_f1"]
                )
    for row in args.rows:
        key = zero_shot_key(row) if ROWS[row]["kind"] != "gliner" else None
        if key and key != row and out[row]:  # a keep row with no K-shot cell of its own is not shown
            for (target, k), values in list(out.get(key, {}).items()):
                if k == 0:
                    out[row][target, 0] = values
        if ROWS[row]["kind"] == "gliner":
            for protocol in args.protocols:
                scores, why = gliner_scores(
                    args, protocol, ROWS[row]["style"], protocol_targets(args, protocol)
                )
                out[row].update(scores)
                notes += why
    return out, notes


def summarize(scores: dict, targets, ks) -> dict:
    """`gliner_baseline.summarize` (per-target means, averages over every target, K-shot below zero-shot) plus
    the targets where some K ends below zero-shot."""
    import gliner_baseline

    summary = gliner_baseline.summarize(scores, targets, [k for k in ks if k])
    summary["targets_below"] = sorted({t for t, _ in summary["below_zero_shot"]})
    summary["std"] = {(t, k): statistics.stdev(v) if len(v) > 1 else 0.0 for (t, k), v in scores.items()}
    summary["n"] = {(t, k): len(v) for (t, k), v in scores.items()}
    return summary


def choose_keep(summaries: dict, ks) -> str | None:
    """The K-shot recipe with the fewest (target, K) pairs below zero-shot, then the best mean over the K > 0, on
    the targets `summaries` cover; None until every candidate that ran has every K."""
    shots = [k for k in ks if k]
    complete = [
        r
        for r in KEEP_CANDIDATES
        if r in summaries and shots and all(k in summaries[r]["average"] for k in shots)
    ]
    if not complete:
        return None
    return min(
        complete,
        key=lambda r: (
            len(summaries[r]["below_zero_shot"]),
            -statistics.mean(summaries[r]["average"][k] for k in shots),
        ),
    )


def choose_keep_held_out(scores: dict, args) -> dict[str, str | None]:
    """For each protocol, the recipe `choose_keep` picks on the *other* protocol's targets, so that no reported
    test set chooses its own recipe (the targets have no development split; the two protocols' targets are
    disjoint). A protocol whose other protocol has not run gets None."""
    chosen = {}
    for protocol in PROTOCOLS:
        other = next(p for p in PROTOCOLS if p != protocol)
        targets = [t for t in args.targets if t in PROTOCOLS[other][1]]
        if not targets:
            chosen[protocol] = None
            continue
        held_out = {
            row: summarize(values, targets, args.ks)
            for row, values in scores.items()
            if row in KEEP_CANDIDATES and all((t, 0) in values for t in targets)
        }  # choose_keep takes only rows with every K on every target (`summarize`'s averages)
        chosen[protocol] = choose_keep(held_out, args.ks)
    return chosen


def check_targets(summaries: dict, ks, n_targets: int) -> list[str]:
    """The issue's targets, each met or missed with its numbers, for every multi-source dual-tower row."""

    def avg(row, k):
        return summaries.get(row, {}).get("average", {}).get(k)

    lines = []
    for row in (r for r in summaries if ROWS[r]["kind"] == "dual" and ROWS[r]["source"] == "multi"):
        gliner = f"gliner_{ROWS[row]['style']}"
        checks = []
        zero = avg(row, 0)
        if zero is not None:
            checks.append(
                f"zero-shot {zero:.1f} {'≥' if zero >= 40 else '<'} 40: {'met' if zero >= 40 else 'missed'}"
            )
            if avg(gliner, 0) is not None:
                ok = zero >= avg(gliner, 0) + 5
                checks.append(
                    f"vs {gliner} {avg(gliner, 0):.1f} + 5: {'met' if ok else 'missed'} ({zero - avg(gliner, 0):+.1f})"
                )
            else:
                checks.append(f"vs {gliner}: not measured on every target")
        for k in (k for k in ks if k):
            value = avg(row, k)
            if value is None:
                continue
            for name, other in ((gliner, avg(gliner, k)), ("today", TODAY.get(k))):
                if other is not None:
                    checks.append(
                        f"K={k} {value:.1f} vs {name} {other:.1f}: {'met' if value >= other else 'missed'} ({value - other:+.1f})"
                    )
        below = summaries[row]["targets_below"]
        shots = [k for k in ks if k]
        rows = summaries[row]["rows"]
        measured = [t for t, v in rows.items() if shots and 0 in v and all(k in v for k in shots)]
        if zero is not None and measured:
            checks.append(
                f"below zero-shot on {len(below)} of {len(measured)} targets"
                + (f" (of {n_targets}: the others lack a K)" if len(measured) < n_targets else "")
                + f": {'met' if not below else 'missed'}"
                + (f" ({', '.join(below)})" if below else "")
            )
        elif zero is not None:
            checks.append("below zero-shot: not measured (no target has every K)")
        lines.append(f"- **{row}**: " + "; ".join(checks))
    if lines and n_targets != 8:
        lines.append(f"- (on {n_targets} of the 8 targets only: the issue's targets are averages over all 8)")
    return lines


def _fmt(summary: dict, target: str, k: int) -> str:
    value = summary["rows"].get(target, {}).get(k)
    if value is None:
        return "–"
    n = summary["n"].get((target, k), 1)
    return f"{value:.1f}" if k == 0 else f"{value:.1f} ± {summary['std'][target, k]:.1f} ({n})"


def _source_lines(args, cells: list[dict]) -> list[str]:
    lines = []
    for source in sorted({c["source"] for c in cells if c.get("source")}):
        path = ROOT / source if not Path(source).is_absolute() else Path(source)
        settings_file = path / "source_settings.json"
        seconds = path / "train_seconds.txt"
        if settings_file.exists():
            s = json.loads(settings_file.read_text())
            text = f"{s['sentences']} sentences, {s['epochs']:g} epoch(s), lr {s['learning_rate']:g}, batch {s['batch_size']}"
            if s.get("per_source"):
                text += " (" + ", ".join(f"{n} {c}" for n, c in s["per_source"].items()) + ")"
            if s.get("max_source_sentences"):
                text += f"; **subsampled by --max-source-sentences {s['max_source_sentences']}**"
            if seconds.exists():
                text += f"; {float(seconds.read_text()):.0f} s to train"
            lines.append(f"- `{path.name}`: {text}")
    return lines


def cmd_report(args) -> None:
    cells = _cells(args)
    targets = [t for p in args.protocols for t in protocol_targets(args, p)]
    scores, notes = row_scores(args, cells)
    summaries = {row: summarize(scores[row], targets, args.ks) for row in args.rows if scores.get(row)}
    ks = sorted(args.ks)
    log = args.results / "cells" / args.tag / "commands.txt"
    commands = sorted(set(log.read_text().splitlines())) if log.exists() else []
    lines = [
        "## Multi-source NER: every label set at once (issue 11)",
        "",
        f"Report written {date.today().isoformat()}, commit {harness._git_commit()}, tag `{args.tag}`, backbone "
        f"`{args.backbone_name}`; {harness.machine_line(cells) if cells else 'no cells'}. Cells computed by "
        "(date, commit, command):",
        "",
        "```",
        *commands,
        args.command_line,
        "```",
        "",
        "Leave one group out: protocol A trains on CoNLL-2003 + WNUT-17 + MIT Movie + MIT Restaurant and tests on "
        "the five CrossNER domains; protocol B trains on CoNLL-2003 + the five CrossNER domains and tests on WNUT-17, "
        "MIT Movie, MIT Restaurant (train splits as sources). K-shot: the harness's support sets "
        "(`fewshot_ner.support_set`), AdamW, batch 8, steps 40 (K=1) / 80 (K=5) unless the row says otherwise, lr "
        f"{args.target_lr:g}; micro-F1 (seqeval, entity level, %, Viterbi) on each target's "
        f"{'first ' + str(args.test_limit) + ' test sentences' if args.test_limit else 'full test set'}, mean ± std "
        "over seeds (n).",
        "",
        "Source stages:",
        *_source_lines(args, cells),
        "",
    ]
    if args.rows and any(r.startswith("keep_") for r in args.rows):
        lines += [
            f"Keep-source rows (K-shot on the multi-source names model): keep_l2sp: L2-SP alpha {args.l2sp:g}; "
            f"keep_label_lr: label side at {args.label_lr_ratio:g} × lr; keep_frozen_labels: label side at 0; "
            f"keep_fewer_steps: {args.fewer_steps_fraction:g} × the steps; keep_mix_source: {args.replay_fraction:g} "
            f"of each batch's rows drawn from the source stage's own rows, each scored against its source's labels. "
            f"Their K=0 is dual_multi_names'. conll_label_lr: keep_label_lr's K-shot stage on the CoNLL-only "
            f"model; its K=0 is dual_conll's.",
            "",
        ]
    for k in ks:
        lines += [
            f"### K={k}" if k else "### Zero-shot (K=0)",
            "",
            "| row | " + " | ".join(targets) + " | average |",
            "|---" * (len(targets) + 2) + "|",
        ]
        for row, summary in summaries.items():
            if not any(k in summary["rows"].get(t, {}) for t in targets):
                continue
            average = summary["average"].get(k)
            cells_text = [_fmt(summary, t, k) for t in targets]
            lines.append(
                f"| {row} | "
                + " | ".join(cells_text)
                + (f" | **{average:.1f}** |" if average is not None else " | – |")
            )
        lines.append("")
    lines += [
        "### Summary",
        "",
        "| row | " + " | ".join(f"K={k} avg" for k in ks) + " | targets below zero-shot | seconds |",
    ]
    lines.append("|---" * (len(ks) + 3) + "|")
    for row, summary in summaries.items():
        averages = [f"{summary['average'][k]:.1f}" if k in summary["average"] else "–" for k in ks]
        below = summary["targets_below"]
        both = sum(0 in r and any(k in r for k in ks if k) for r in summary["rows"].values())
        has_zero = any(0 in r for r in summary["rows"].values())
        below_text = (
            (f"{len(below)} of {both}" + (f" ({', '.join(below)})" if below else "")) if has_zero else "n/a"
        )
        seconds = sum(c.get("seconds", 0) for c in cells if row in c.get("models", {}))
        lines.append(f"| {row} | " + " | ".join(averages) + f" | {below_text} | {seconds:.0f} |")
    lines.append("")
    lines.append(
        "Averages only over all targets of the run; seconds: the cells' wall time, source stages excluded."
    )
    held_out = choose_keep_held_out(scores, args)
    chosen = held_out["A"] if held_out["A"] is not None and held_out["A"] == held_out["B"] else None
    if any(held_out.values()):
        lines += [
            "",
            "K-shot recipe chosen for each protocol on the *other* protocol's targets (fewest (target, K) pairs "
            "below zero-shot, then best mean F1 over K>0), so that no reported test set picks its own recipe: "
            + "; ".join(
                f"for {p} (chosen on {next(q for q in PROTOCOLS if q != p)}'s targets): **{r or 'not chosen'}**"
                for p, r in held_out.items()
            )
            + (
                f". Both agree: **{chosen}** is the candidate default."
                if chosen
                else ". They disagree or one is missing: no default is adopted from this run."
            ),
        ]
    checks = check_targets(summaries, ks, len(targets))
    if checks:
        lines += ["", "### The issue's targets", "", *checks]
    if notes:
        lines += ["", "Not joined:", *[f"- {n}" for n in notes]]
    reused = [c for c in cells if c.get("from_harness_cell")]
    if reused:
        assumed = sum(bool(c.get("harness_defaults_assumed")) for c in reused)
        lines += [
            "",
            f"dual_conll: {len(reused)} cells read from the few-shot harness's grid (`{HARNESS_CELLS.name}` cells, "
            f"same source checkpoint, support sets and training); {assumed} of them predate its recording of lr and "
            "steps and are taken to have run with its defaults (lr 1e-4, steps 40 / 80).",
        ]
    overlap = {}
    for protocol in args.protocols:
        path = args.results / "cells" / args.tag / f"{protocol}_overlap.json"
        if path.exists():
            overlap.update(json.loads(path.read_text()))
    if overlap:
        lines += [
            "",
            "Test sentences found word for word in their protocol's source: "
            + ", ".join(f"{t} {n}" for t, n in overlap.items())
            + ".",
        ]
    text = "\n".join(lines) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".md").write_text(text)
    payload = {
        "command": args.command_line,
        "grid_commands": commands,
        "commit": harness._git_commit(),
        "date": date.today().isoformat(),
        "tag": args.tag,
        "targets": targets,
        "rows": {
            row: {
                "rows": {t: {str(k): v for k, v in r.items()} for t, r in s["rows"].items()},
                "average": {str(k): v for k, v in s["average"].items()},
                "below_zero_shot": [list(p) for p in s["below_zero_shot"]],
                "targets_below": s["targets_below"],
            }
            for row, s in summaries.items()
        },
        "chosen_keep": chosen,
        "chosen_keep_held_out": held_out,
        "targets_check": checks,
        "not_joined": notes,
        "overlap": overlap,
    }
    args.out.with_suffix(".json").write_text(json.dumps(payload, indent=1))
    print(text)


# ------------------------------------------------------------------------------------------------ main


def main(argv=None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=["grid", "report"])
    parser.add_argument("--protocols", nargs="+", default=list(PROTOCOLS), choices=list(PROTOCOLS))
    parser.add_argument("--rows", nargs="+", default=list(ROWS), choices=list(ROWS))
    parser.add_argument("--targets", nargs="+", default=None, help="default: the protocols' targets")
    parser.add_argument("--ks", nargs="+", type=int, default=None, help="default: 0 1 5")
    parser.add_argument("--seeds", type=int, default=None, help="seeds 0..N-1 per K (default: 3)")
    parser.add_argument("--backbone", default=None, help="any BERT-like encoder (default: all-MiniLM-L6-v2)")
    parser.add_argument("--data", type=Path, default=harness.DATA, help="folder of the NER data sets")
    parser.add_argument("--source-epochs", type=float, default=1.0)
    parser.add_argument("--source-lr", type=float, default=5e-5)
    parser.add_argument(
        "--max-source-sentences",
        type=int,
        default=None,
        help="subsample the source stage to about N sentences, each source in proportion to its size (own tag)",
    )
    parser.add_argument("--target-lr", type=float, default=1e-4)
    parser.add_argument(
        "--target-steps", type=int, default=None, help="K-shot steps (default: the harness's)"
    )
    parser.add_argument("--l2sp", type=float, default=1.0, help="keep_l2sp: L2-SP strength")
    parser.add_argument("--label-lr-ratio", type=float, default=0.1, help="keep_label_lr: label rate / lr")
    parser.add_argument("--fewer-steps-fraction", type=float, default=0.25, help="keep_fewer_steps")
    parser.add_argument(
        "--replay-fraction", type=float, default=0.5, help="keep_mix_source: share of source rows per batch"
    )
    parser.add_argument("--test-limit", type=int, default=None, help="score the first N test sentences only")
    parser.add_argument(
        "--no-harness-cells", action="store_true", help="recompute dual_conll's harness cells"
    )
    parser.add_argument(
        "--tag", default=None, help="default: minilm, or minilm_max<N> with --max-source-sentences"
    )
    parser.add_argument("--results", type=Path, default=None, help=f"cells (default: {RESULTS})")
    parser.add_argument("--cache", type=Path, default=None, help=f"source checkpoints (default: {CACHE})")
    parser.add_argument("--out", type=Path, default=None, help="report path without suffix (.md and .json)")
    parser.add_argument("--gliner-results", type=Path, default=GLINER_RESULTS)
    parser.add_argument("--gliner-cache", type=Path, default=ROOT / "benchmarks" / "cache" / "gliner")
    parser.add_argument(
        "--gliner-prefix", help="gliner_baseline.py's tags: <prefix>_<P>_<style> (default: this run's --tag)"
    )
    parser.add_argument("--reverse", action="store_true", help="grid: walk the cells from the other end")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="tiny run: 32 source sentences, 16 test sentences, 2 steps, K 0 1, 1 seed, under /tmp (numbers mean nothing)",
    )
    args = parser.parse_args(argv)
    if args.smoke:
        smoke = Path("/tmp/multi_source_ner_smoke")
        args.max_source_sentences = args.max_source_sentences or 32
        args.test_limit = args.test_limit or 16
        args.target_steps = args.target_steps or 2
        args.ks = args.ks or [0, 1]
        args.seeds = args.seeds or 1
        args.tag = args.tag or "smoke"
        args.results = args.results or smoke / "results"
        args.cache = args.cache or smoke / "cache"
        args.out = args.out or smoke / "multi_source_ner"
    args.ks = args.ks if args.ks is not None else [0, 1, 5]
    args.seeds = args.seeds if args.seeds is not None else 3
    args.tag = args.tag or (
        "minilm" if args.max_source_sentences is None else f"minilm_max{args.max_source_sentences}"
    )
    args.gliner_prefix = args.gliner_prefix or args.tag
    args.results = args.results or RESULTS
    args.cache = args.cache or CACHE
    name = "multi_source_ner" if args.tag == "minilm" else f"multi_source_ner_{args.tag}"
    args.out = args.out or ROOT / "benchmarks" / "results" / name
    args.command_line = "python benchmarks/multi_source_ner.py " + " ".join(argv)
    args.targets = args.targets or [t for p in args.protocols for t in PROTOCOLS[p][1]]
    unknown = sorted(set(args.targets) - {t for p in PROTOCOLS.values() for t in p[1]})
    if unknown:
        parser.error(
            f"unknown targets {unknown}; the protocols' targets are {[t for p in PROTOCOLS.values() for t in p[1]]}"
        )
    harness.RESULTS = args.results  # run_cell writes under it
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    args.backbone = args.backbone or harness.default_backbone()
    args.backbone_name = "all-MiniLM-L6-v2" if "minilm" in args.backbone.lower() else args.backbone
    {"grid": cmd_grid, "report": cmd_report}[args.command](args)


if __name__ == "__main__":
    main()
