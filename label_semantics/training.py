"""Fine-tuning with the stock `Trainer` and word-level evaluation: the building blocks of the two-stage
few-shot recipe (pre-finetune on a source data set, then fine-tune on K shots of a target)."""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence
from contextlib import contextmanager

import torch
from transformers import Trainer, TrainingArguments

from .alignment import NERDataCollator, align_dataset
from .evaluation import compute_ner_metrics
from .prediction import predict_tags
from .verbalizer import (
    convert_scheme,
    detect_scheme,
    entity_types,
    is_valid_sequence,
    normalize_scheme,
    spans_to_tags,
    tags_to_spans,
)

logger = logging.getLogger(__name__)

REPLAY_FRACTION = 0.5
"""`finetune`'s share of replayed rows when `replay` is given and `replay_fraction` is not."""


def encode_for_training(dataset, tokenizer, label2id, *, max_length: int | None = None):
    """Tokenise a `tokens` / `ner_tags` data set and align the labels (long sentences become several rows).

    Args:
        dataset (`datasets.Dataset`): rows with `tokens` (list of str) and `ner_tags` (list of str tags).
        tokenizer: a fast tokenizer.
        label2id (`dict[str, int]`): the model's label ids.
        max_length (`int`, *optional*): tokens per row; defaults to the tokenizer's limit.

    Returns:
        `datasets.Dataset` with `input_ids`, `attention_mask`, (`token_type_ids`) and `labels`.
    """
    return align_dataset(dataset, tokenizer, label2id, max_length=max_length)


def to_model_scheme(dataset, model, *, scheme: str | None = None):
    """Rewrite the `ner_tags` of a data set in the model's own scheme (`config.tag_scheme`) before alignment.

    The data's scheme is `scheme`, else detected from the tags. IOB1 and BIOES keep every entity exactly; IO data
    cannot mark where two adjacent entities of one type meet, so each run of one type becomes a single entity (a
    warning says so when the data hold such runs).

    Args:
        dataset (`datasets.Dataset` or `Sequence[dict]`): rows with `tokens` and `ner_tags` (str tags).
        model: a token classifier; its config's `tag_scheme` is the target (nothing happens without one).
        scheme (`str`, *optional*): the scheme the tags are written in.

    Returns:
        The same kind of object, with `ner_tags` in the model's scheme (the input itself when nothing changes).
    """
    target = getattr(model.config, "tag_scheme", None)
    rows = dataset["ner_tags"] if hasattr(dataset, "column_names") else [row["ner_tags"] for row in dataset]
    if target is None or not rows:
        return dataset
    source = normalize_scheme(scheme) if scheme is not None else detect_scheme(rows)
    if source == target:
        return dataset
    if source == "IO":
        logger.warning(
            "The training data are IO-tagged and the model works in %s: each run of words of one type is read as "
            "ONE entity (IO cannot mark where two adjacent entities meet).",
            target,
        )
    else:
        logger.info("Converting the training tags from %s to the model's scheme %s", source, target)
    converted = [convert_scheme(tags, target, source=source) for tags in rows]
    if hasattr(dataset, "column_names"):
        return dataset.remove_columns("ner_tags").add_column("ner_tags", converted)
    return [{**row, "ner_tags": tags} for row, tags in zip(dataset, converted)]


def finetune(
    model,
    dataset=None,
    *,
    output_dir: str,
    sources=None,
    tokenizer=None,
    epochs: float = 3.0,
    learning_rate: float = 5e-5,
    batch_size: int = 16,
    max_steps: int = -1,
    seed: int = 0,
    max_length: int | None = None,
    warmup_ratio: float = 0.0,
    disable_tqdm: bool | None = None,
    scheme: str | None = None,
    label_learning_rate: float | None = None,
    l2sp: float = 0.0,
    replay=None,
    replay_fraction: float | None = None,
    **training_args,
) -> Trainer:
    r"""
    Fine-tune a token classifier on `tokens` / `ner_tags` rows with the stock `Trainer`; nothing is saved unless
    asked through `training_args`.

    Args:
        model: `LabelSemanticsForTokenClassification` or any `*ForTokenClassification` whose `config.label2id`
            covers the data's tags.
        dataset (`datasets.Dataset`): the training rows; leave it out when `sources` is given.
        output_dir (`str`): the Trainer's output folder.
        sources (`Sequence[Source]`, `Mapping[str, datasets.Dataset]` or `CombinedSources`, *optional*): several
            data sets with label sets of their own, for multi-source pre-finetuning of a
            `LabelSemanticsForTokenClassification` (see `label_semantics.multi_source`): the model's labels become the
            union of theirs, and each sentence is scored against its own source's labels only. The sources' tags are
            converted to the model's scheme; `scheme` does not apply.
        tokenizer (*optional*): defaults to `model.tokenizer`.
        epochs (`float`, *optional*, defaults to `3.0`), learning_rate (`float`, *optional*, defaults to `5e-5`),
        batch_size (`int`, *optional*, defaults to `16`), max_steps (`int`, *optional*, defaults to `-1`),
        seed (`int`, *optional*, defaults to `0`), warmup_ratio (`float`, *optional*, defaults to `0.0`):
            as in `TrainingArguments`.
        max_length (`int`, *optional*): tokens per training row.
        scheme (`str`, *optional*): the tag scheme of `dataset`; detected when not given. Tags in another scheme
            than the model's are converted into it first (see [`to_model_scheme`]).
        label_learning_rate (`float`, *optional*): the learning rate of the label side, to keep what a
            pre-finetuned model learned about label descriptions while it fine-tunes on a few shots; `0` freezes it,
            `None` (the default) trains it at `learning_rate`. With a label tower of its own
            (`share_towers=False`) that tower's parameters get this rate (an optimizer parameter group; `0`: no
            gradient at all). With shared towers (the default) the label and text sides are one encoder: the
            gradient that flows back through the label descriptions is then scaled by
            `label_learning_rate / learning_rate`, so `0` keeps the label vectors fixed within each step and the
            encoder learns through the sentences only.
        l2sp (`float`, *optional*, defaults to `0.0`): the strength `alpha` of L2-SP (Li et al., 2018): the loss
            gains `alpha / 2 * ||w - w0||^2` over every trained parameter, `w0` the weights when this call starts
            (the source model's, in the few-shot recipe), so fine-tuning stays near them. Added to the gradients
            by hooks removed after training; the logged loss does not show it.
        replay (`Sequence[Source]`, `Mapping[str, datasets.Dataset]` or `CombinedSources`, *optional*): earlier
            training data (the source stage's) to mix into `dataset`, another way to keep what the source taught
            while fine-tuning a `LabelSemanticsForTokenClassification` on a few shots: each batch then holds rows of
            both, every row scored against its own labels (`multi_source.mix_replay`), and the model's labels are
            `dataset`'s again when training ends.
        replay_fraction (`float`, *optional*): the share of replayed rows in training, `0.5` when not given. With
            `max_steps`, the run sees `max_steps * batch_size * gradient_accumulation_steps` rows, `dataset`'s
            repeated to fill their share; with `epochs`, an epoch is `dataset` once plus its share of replayed rows.
        **training_args: any other `TrainingArguments` field.

    Returns:
        The `Trainer`, after training.
    """
    tokenizer = tokenizer if tokenizer is not None else model.tokenizer
    if (dataset is None) == (sources is None):
        raise ValueError(
            "finetune takes the training rows as dataset=... or several data sets as sources=[...], not "
            f"{'both' if sources is not None else 'neither'}; e.g. finetune(model, train, output_dir='runs/x')"
        )
    restore = None
    if replay is None and replay_fraction is not None:
        raise ValueError(
            f"replay_fraction={replay_fraction!r} is the share of replayed rows, and no replay=... data were given; "
            f"pass the source data to replay, e.g. replay=[Source('conll', conll_train)], or leave it out"
        )
    if replay is not None:
        replay_fraction = REPLAY_FRACTION if replay_fraction is None else replay_fraction
        if dataset is None:
            raise ValueError(
                "replay=... mixes earlier data into the rows of dataset=...; with sources=..., list the data to "
                "replay among the sources instead"
            )
        if not 0 < replay_fraction < 1:
            raise ValueError(
                f"replay_fraction={replay_fraction!r} must lie between 0 and 1 (the share of replayed rows in "
                f"training), e.g. replay_fraction=0.5"
            )
        dataset = to_model_scheme(dataset, model, scheme=scheme)
        if max_steps > 0:
            rows = max_steps * batch_size * training_args.get("gradient_accumulation_steps", 1)
        else:
            rows = math.ceil(len(dataset) / (1 - replay_fraction))
        restore = _label_state(model)
        try:
            sources = _replay_sources(model, dataset, replay, fraction=replay_fraction, rows=rows, seed=seed)
            encoded, collator = _encode_sources(model, sources, tokenizer, scheme=None, max_length=max_length)
        except Exception:
            model.set_labels(**restore)
            raise
    elif sources is not None:
        encoded, collator = _encode_sources(model, sources, tokenizer, scheme=scheme, max_length=max_length)
    else:
        dataset = to_model_scheme(dataset, model, scheme=scheme)
        encoded = encode_for_training(dataset, tokenizer, model.config.label2id, max_length=max_length)
        collator = NERDataCollator(tokenizer)
    existed = os.path.exists(output_dir)
    args = TrainingArguments(
        output_dir=output_dir,
        num_train_epochs=epochs,
        learning_rate=learning_rate,
        per_device_train_batch_size=batch_size,
        max_steps=max_steps,
        seed=seed,
        warmup_steps=warmup_ratio,
        save_strategy=training_args.pop("save_strategy", "no"),
        report_to=training_args.pop("report_to", "none"),
        logging_steps=training_args.pop("logging_steps", 50),
        disable_tqdm=disable_tqdm,
        **training_args,
    )
    with keep_source(model, args, label_learning_rate=label_learning_rate, l2sp=l2sp) as optimizer:
        trainer = Trainer(
            model=model,
            args=args,
            train_dataset=encoded,
            data_collator=collator,
            processing_class=tokenizer,
            optimizers=(optimizer, None),
        )
        try:
            trainer.train()
        finally:
            if restore is not None:
                model.set_labels(**restore)
    model.eval()
    if not existed and trainer.is_world_process_zero():
        remove_if_empty(output_dir)  # nothing was saved: leave no empty folder behind
    return trainer


def remove_if_empty(path: str | os.PathLike) -> bool:
    """Remove the folder `path` if it exists and holds nothing; whether it did. Only the main process of a run
    across processes calls it, and a folder that another process removed or wrote into meanwhile is left as it
    is, not an error."""
    try:
        os.rmdir(path)
    except OSError:  # gone already, not a folder, or not empty
        return False
    return True


@contextmanager
def keep_source(
    model, args: TrainingArguments, *, label_learning_rate: float | None = None, l2sp: float = 0.0
):
    r"""
    Set up the "keep what the source taught" options of [`finetune`] for one run, and undo them afterwards.

    Args:
        model: the model about to be trained.
        args (`TrainingArguments`): the run's arguments (learning rate, AdamW settings, accumulation steps).
        label_learning_rate (`float`, *optional*), l2sp (`float`, *optional*, defaults to `0.0`): as in
            [`finetune`].

    Yields:
        `torch.optim.Optimizer` or `None`: an AdamW with a parameter group for a separate label tower, for
        `Trainer(optimizers=(optimizer, None))`; `None` lets the Trainer build its own.

    Raises:
        `ValueError`: a negative `label_learning_rate` or `l2sp`, or a `label_learning_rate` for a model without a
        label side.
    """
    for name, value in (("label_learning_rate", label_learning_rate), ("l2sp", l2sp)):
        if value is not None and not value >= 0:
            raise ValueError(f"{name}={value!r} must be a number >= 0, e.g. {name}=0 (freeze) or {name}=1e-5")
    optimizer, handles, frozen, scale = None, [], [], None
    if label_learning_rate is not None and label_learning_rate != args.learning_rate:
        if not hasattr(model, "label_gradient_scale"):
            raise ValueError(
                f"label_learning_rate={label_learning_rate!r}: {type(model).__name__} has no label tower; leave "
                f"it out, or train a LabelSemanticsForTokenClassification"
            )
        tower = getattr(model, "label_encoder", None)
        if tower is None:  # shared towers: scale the gradient that flows through the label descriptions
            scale = model.label_gradient_scale
            model.label_gradient_scale = label_learning_rate / args.learning_rate
        elif label_learning_rate == 0:
            frozen = [p for p in tower.parameters() if p.requires_grad]
            for parameter in frozen:
                parameter.requires_grad_(False)
        else:
            own = {id(p) for p in tower.parameters()}
            groups = [
                {"params": [p for p in model.parameters() if p.requires_grad and id(p) not in own]},
                {"params": [p for p in tower.parameters() if p.requires_grad], "lr": label_learning_rate},
            ]
            optimizer = torch.optim.AdamW(
                groups,
                lr=args.learning_rate,
                betas=(args.adam_beta1, args.adam_beta2),
                eps=args.adam_epsilon,
                weight_decay=args.weight_decay,
            )
    if l2sp:
        # the Trainer divides each micro-batch's loss by the accumulation steps: so does the penalty's gradient
        alpha = l2sp / max(1, args.gradient_accumulation_steps)
        for parameter in model.parameters():
            if parameter.requires_grad:
                anchor = parameter.detach().clone()
                handles.append(
                    parameter.register_hook(
                        lambda grad, p=parameter, w0=anchor: grad + alpha * (p.detach() - w0)
                    )
                )
    try:
        yield optimizer
    finally:
        for handle in handles:
            handle.remove()
        for parameter in frozen:
            parameter.requires_grad_(True)
        if scale is not None:
            model.label_gradient_scale = scale


def _label_state(model) -> dict:
    """`set_labels` arguments that give `model` its present labels back, texts and schemes included."""
    if not hasattr(model, "set_labels"):
        raise ValueError(
            f"replay=... mixes rows of other label sets into training, which needs a model that scores labels by "
            f"their descriptions; {type(model).__name__} has a fixed label set. Leave replay out."
        )
    config = model.config
    return {
        "labels": list(model.labels),
        "descriptions": dict(zip(model.labels, config.label_descriptions)),
        "outside_description": config.outside_description,
        "tag_scheme": config.data_scheme or config.tag_scheme,
    }


def _replay_sources(model, dataset, replay, *, fraction: float, rows: int, seed: int):
    from .multi_source import mix_replay

    config = model.config
    return mix_replay(
        model.labels,
        config.label_descriptions,
        dataset,
        replay,
        fraction=fraction,
        rows=rows,
        scheme=config.tag_scheme or "IOB2",
        outside=config.outside_description,
        style=config.description_style,
        seed=seed,
    )


def _encode_sources(model, sources, tokenizer, *, scheme: str | None, max_length: int | None):
    """Give the model the sources' union of labels and encode their rows with `allowed_tags`."""
    from .multi_source import MultiSourceCollator, as_combined, encode_sources

    if scheme is not None:
        raise ValueError(
            f"scheme={scheme!r} names the scheme of one data set; with sources=..., give each its own: "
            f"Source(name, data, scheme={scheme!r})"
        )
    if not hasattr(model, "set_labels"):
        raise ValueError(
            f"sources=... trains a model that scores labels by their descriptions; {type(model).__name__} has a "
            f"fixed label set. Use LabelSemanticsForTokenClassification, or train on one data set."
        )
    sources = as_combined(sources, model.config.tag_scheme or "IOB2")
    model.set_labels(sources.labels, descriptions=sources.descriptions, tag_scheme=sources.scheme)
    encoded = encode_sources(sources, tokenizer, model.config.label2id, max_length=max_length)
    return encoded, MultiSourceCollator(tokenizer)


def evaluate_ner(
    model,
    dataset,
    *,
    tokenizer=None,
    batch_size: int = 64,
    viterbi: bool = True,
) -> dict[str, float]:
    r"""
    Entity-level precision, recall and F1 (seqeval), overall and per type, on every word of every sentence.

    Args:
        model: a token classifier.
        dataset (`datasets.Dataset` or `Sequence[dict]`): rows with `tokens` and `ner_tags`.
        tokenizer (*optional*): defaults to `model.tokenizer`.
        batch_size (`int`, *optional*, defaults to `64`): windows per forward pass.
        viterbi (`bool`, *optional*, defaults to `True`): decode with valid tag transitions only.

    Returns:
        `dict[str, float]` as returned by [`~label_semantics.evaluation.compute_ner_metrics`].
    """
    tokens: Sequence[Sequence[str]] = (
        dataset["tokens"] if hasattr(dataset, "column_names") else [row["tokens"] for row in dataset]
    )
    references = (
        dataset["ner_tags"] if hasattr(dataset, "column_names") else [row["ner_tags"] for row in dataset]
    )
    references = [list(r) for r in references]
    predictions = predict_tags(model, tokens, batch_size=batch_size, viterbi=viterbi, tokenizer=tokenizer)
    known = set(entity_types(model.config.id2label.values()))
    unknown = [t for t in entity_types(t for sentence in references for t in sentence) if t not in known]
    if unknown:
        logger.warning(
            "The gold tags hold the entity types %s, which the model does not predict (its types: %s); they are "
            "scored as missed entities. Give the model these labels with set_labels(...) to tag them.",
            unknown,
            sorted(known),
        )
    data_scheme = getattr(model.config, "data_scheme", None) or getattr(model.config, "tag_scheme", None)
    if data_scheme is not None and not all(is_valid_sequence(tags, data_scheme) for tags in references):
        # never score tags of one scheme against gold of another: write the predictions in the gold's scheme
        gold_scheme = detect_scheme(references)
        logger.warning(
            "evaluate_ner: the gold tags are %s and the model's labels %s; the predictions are converted to %s "
            "before scoring.",
            gold_scheme,
            data_scheme,
            gold_scheme,
        )
        predictions = [spans_to_tags(tags_to_spans(p), len(p), gold_scheme) for p in predictions]
    return compute_ner_metrics(predictions, references)


TARGET_LABEL_RATE = 0.1
"""The few-shot recipe's default rate of the label side in the target stage, as a share of the target learning
rate: measured best of the "keep what the source taught" options on 8 held-out targets (BENCHMARKS.md, issue 11)."""


def fewshot_transfer(
    model,
    source,
    target_train,
    *,
    k: int,
    seed: int = 0,
    output_dir: str,
    source_epochs: float = 1.0,
    target_steps: int = 100,
    learning_rate: float = 5e-5,
    target_learning_rate: float = 5e-5,
    batch_size: int = 16,
    target_batch_size: int = 8,
    target_labels: Sequence[str] | None = None,
    descriptions=None,
    disable_tqdm: bool | None = None,
    source_scheme: str | None = None,
    target_scheme: str | None = None,
    target_label_learning_rate: float | None = None,
    target_l2sp: float = 0.0,
    target_replay_fraction: float | None = None,
):
    r"""
    The two-stage recipe of Ma et al. (2022): pre-finetune on a source data set, replace the label set with the
    target's, then fine-tune on a K-shot support set sampled from the target's training data.

    Args:
        model: a `LabelSemanticsForTokenClassification` whose labels are the source's (or `None` to skip the
            source stage because the model is already pre-finetuned).
        source (`datasets.Dataset`, *optional*): source training rows; `None` skips the source stage. Several
            sources (a list of `multi_source.Source`, a mapping of name -> data set, or `CombinedSources`) train one
            multi-source model first (see [`finetune`]'s `sources`).
        target_train (`datasets.Dataset`): the target's training rows, from which the support set is sampled.
        k (`int`): mentions per entity type in the support set.
        seed (`int`, *optional*, defaults to `0`): seeds the sampler and the training.
        target_labels (`Sequence[str]`, *optional*): the target's label set; read off `target_train` when not given.
        descriptions (`Mapping[str, str]`, *optional*): descriptions of the target's types.
        source_scheme, target_scheme (`str`, *optional*): the tag schemes of the two data sets; detected when not
            given. The model keeps its own scheme: target labels and tags are mapped into it.
        target_label_learning_rate (`float`, *optional*), target_l2sp (`float`, *optional*, defaults to `0.0`): the
            "keep what the source taught" options of the target stage, `label_learning_rate` and `l2sp` of
            [`finetune`] (L2-SP pulls towards the weights the source stage ended with). The label side's rate
            defaults to `TARGET_LABEL_RATE` (0.1) × `target_learning_rate`, the best of those options measured
            (issue 11: +0.6 F1 at 1 shot and +0.9 at 5 over the full rate after a CoNLL-2003 source, 8 held-out
            targets); pass `target_label_learning_rate=target_learning_rate` for the full rate.
        target_replay_fraction (`float`, *optional*): mix `source`'s rows into the target stage, this share of
            each run's rows (`replay` and `replay_fraction` of [`finetune`]); needs `source`.

    Returns:
        `tuple[model, datasets.Dataset]`: the fine-tuned model and the support set it was trained on.
    """
    from .multi_source import Source
    from .sampling import sample_support_set
    from .verbalizer import labels_from_types

    if target_label_learning_rate is None:
        target_label_learning_rate = TARGET_LABEL_RATE * target_learning_rate
    replay = None
    if target_replay_fraction is not None:
        if source is None:
            raise ValueError(
                f"target_replay_fraction={target_replay_fraction!r} replays the source's rows, and source is None; "
                f"pass the source data, or fine-tune with finetune(model, support, replay=..., replay_fraction=...)"
            )
        several = not hasattr(source, "column_names")
        replay = source if several else [Source("source", source, scheme=source_scheme)]
    if source is not None:
        several = not hasattr(source, "column_names")
        finetune(
            model,
            None if several else source,
            sources=source if several else None,
            output_dir=f"{output_dir}/source",
            epochs=source_epochs,
            scheme=None if several else source_scheme,
            learning_rate=learning_rate,
            batch_size=batch_size,
            seed=seed,
            disable_tqdm=disable_tqdm,
        )
    tags = target_train["ner_tags"]
    scheme = normalize_scheme(target_scheme) if target_scheme is not None else detect_scheme(tags)
    if target_labels is None:
        target_labels = labels_from_types(entity_types(t for sentence in tags for t in sentence), scheme)
    model.set_labels(target_labels, descriptions=descriptions, tag_scheme=scheme)
    support = target_train.select(sample_support_set(tags, k, seed=seed))
    finetune(
        model,
        support,
        output_dir=f"{output_dir}/target",
        max_steps=target_steps,
        scheme=scheme,
        learning_rate=target_learning_rate,
        batch_size=target_batch_size,
        seed=seed,
        disable_tqdm=disable_tqdm,
        label_learning_rate=target_label_learning_rate,
        l2sp=target_l2sp,
        replay=replay,
        replay_fraction=target_replay_fraction,
    )
    return model, support
