"""Few-shot fine-tuning that keeps what the source taught: a lower-rate or frozen label side, and L2-SP."""

from __future__ import annotations

import datasets
import pytest
import torch
from transformers import TrainingArguments

from label_semantics import LabelSemanticsForTokenClassification
from label_semantics.cli import main
from label_semantics.training import finetune, keep_source

SOURCE = {
    "tokens": [["john", "visited", "paris"], ["mary", "lives", "in", "london"], ["acme", "bought", "google"]]
    * 4,
    "ner_tags": [["B-PER", "O", "B-LOC"], ["B-PER", "O", "O", "B-LOC"], ["B-ORG", "O", "B-ORG"]] * 4,
}
SUPPORT = {
    "tokens": [["john", "smith", "film"], ["a", "sad", "movie"]],
    "ner_tags": [["B-actor", "I-actor", "O"], ["O", "B-genre", "O"]],
}
SOURCE_LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG"]
TARGET_LABELS = ["O", "B-actor", "I-actor", "B-genre", "I-genre"]


def _batch(model):
    encoded = model.tokenizer(
        SOURCE["tokens"][:3], is_split_into_words=True, padding=True, return_tensors="pt"
    )
    labels = torch.full(encoded["input_ids"].shape, -100)
    for row, tags in enumerate(SOURCE["ner_tags"][:3]):
        previous = None
        for position, word in enumerate(encoded.word_ids(row)):
            if word is not None and word != previous:
                labels[row, position] = model.config.label2id[tags[word]]
            previous = word
    return {**encoded, "labels": labels}


def _grads(model, batch, **forward):
    model.eval()  # no dropout: the same batch gives the same gradients
    model.zero_grad()
    model(**batch, **forward).loss.backward()
    return torch.cat([p.grad.flatten() for p in model.text_encoder.parameters() if p.grad is not None])


def test_shared_towers_scale_the_gradient_through_the_label_descriptions(tiny_encoder_dir, tmp_path):
    model = LabelSemanticsForTokenClassification.from_encoder(tiny_encoder_dir, labels=SOURCE_LABELS)
    batch = _batch(model)
    full = _grads(model, batch)
    text_only = _grads(model, batch, description_embeddings=model.encode_labels().detach())
    args = TrainingArguments(output_dir=str(tmp_path), learning_rate=1e-4, report_to="none")
    with keep_source(model, args, label_learning_rate=0.0) as optimizer:
        assert optimizer is None
        frozen = _grads(model, batch)
    with keep_source(model, args, label_learning_rate=5e-5):
        half = _grads(model, batch)
    assert model.label_gradient_scale == 1.0  # undone after the run
    torch.testing.assert_close(frozen, text_only)
    torch.testing.assert_close(half, (full + text_only) / 2)
    assert not torch.allclose(full, text_only)


def test_a_separate_label_tower_is_frozen_or_gets_its_own_learning_rate(tiny_encoder_dir, tmp_path):
    model = LabelSemanticsForTokenClassification.from_encoder(
        tiny_encoder_dir, labels=SOURCE_LABELS, share_towers=False
    )
    label_before = [p.detach().clone() for p in model.label_encoder.parameters()]
    text_before = [p.detach().clone() for p in model.text_encoder.parameters()]
    data = datasets.Dataset.from_dict(SOURCE)
    finetune(
        model, data, output_dir=str(tmp_path / "a"), max_steps=3, learning_rate=1e-3, label_learning_rate=0
    )
    assert all(torch.equal(a, b) for a, b in zip(label_before, model.label_encoder.parameters()))
    assert not all(torch.equal(a, b) for a, b in zip(text_before, model.text_encoder.parameters()))
    assert all(p.requires_grad for p in model.label_encoder.parameters())  # undone after the run

    args = TrainingArguments(output_dir=str(tmp_path / "b"), learning_rate=1e-3, report_to="none")
    with keep_source(model, args, label_learning_rate=1e-5) as optimizer:
        rates = sorted(group["lr"] for group in optimizer.param_groups)
        assert rates == [1e-5, 1e-3]
        assert sum(len(g["params"]) for g in optimizer.param_groups) == len(list(model.parameters()))


def test_l2sp_adds_the_pull_towards_the_starting_weights_to_the_gradient(tiny_encoder_dir, tmp_path):
    model = LabelSemanticsForTokenClassification.from_encoder(tiny_encoder_dir, labels=SOURCE_LABELS)
    batch = _batch(model)
    plain = _grads(model, batch)
    args = TrainingArguments(output_dir=str(tmp_path), report_to="none")
    with keep_source(model, args, l2sp=0.5):
        torch.testing.assert_close(_grads(model, batch), plain)  # w == w0: nothing added
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.add_(0.01)
        pulled = _grads(model, batch)
    unpulled = _grads(model, batch)  # same weights, the hooks removed after the run
    torch.testing.assert_close(pulled - unpulled, torch.full_like(pulled, 0.5 * 0.01), rtol=1e-3, atol=1e-6)


def _source_loss(model, batch):
    model.set_labels(SOURCE_LABELS)
    model.eval()
    with torch.no_grad():
        return float(model(**batch).loss)


def test_l2sp_keeps_the_sources_behaviour_where_plain_fine_tuning_drifts(tiny_encoder_dir, tmp_path):
    """A toy source model, then 40 steps on a 2-sentence support set of new types at a high rate: the loss on the
    source's own data (its behaviour on the source types) rises with plain fine-tuning and hardly with L2-SP, and
    the weights stay closer to the source's."""
    source = LabelSemanticsForTokenClassification.from_encoder(tiny_encoder_dir, labels=SOURCE_LABELS)
    data = datasets.Dataset.from_dict(SOURCE)
    finetune(source, data, output_dir=str(tmp_path / "s"), max_steps=60, batch_size=4, learning_rate=1e-3)
    batch = _batch(source)
    before = _source_loss(source, batch)
    source.save_pretrained(tmp_path / "source")
    results = {}
    for name, options in {"plain": {}, "l2sp": {"l2sp": 1.0}}.items():
        model = LabelSemanticsForTokenClassification.from_pretrained(tmp_path / "source")
        start = torch.cat([p.detach().flatten().clone() for p in model.parameters()])
        model.set_labels(TARGET_LABELS)
        support = datasets.Dataset.from_dict(SUPPORT)
        finetune(model, support, output_dir=str(tmp_path / name), max_steps=40, learning_rate=3e-3, **options)
        drift = float((torch.cat([p.detach().flatten() for p in model.parameters()]) - start).norm())
        results[name] = (_source_loss(model, batch) - before, drift)
    assert before < 0.05  # the source model has learned its data
    assert results["plain"][0] > 0.5  # plain fine-tuning forgets it
    assert results["l2sp"][0] < results["plain"][0] / 10
    assert results["l2sp"][1] < results["plain"][1] / 2


def test_negative_options_are_errors(tiny_encoder_dir, tmp_path):
    model = LabelSemanticsForTokenClassification.from_encoder(tiny_encoder_dir, labels=SOURCE_LABELS)
    args = TrainingArguments(output_dir=str(tmp_path), report_to="none")
    for name in ("label_learning_rate", "l2sp"):
        with pytest.raises(ValueError, match=f"{name}=-1 must be a number >= 0"):
            with keep_source(model, args, **{name: -1}):
                pass


def test_the_cli_passes_the_options_to_finetune(monkeypatch, tmp_path):
    import label_semantics.training as training

    seen = {}

    def fake_finetune(model, dataset=None, **options):
        seen.update(options)
        raise SystemExit(0)

    monkeypatch.setattr(training, "finetune", fake_finetune)
    monkeypatch.setattr(
        training,
        "fewshot_transfer",
        lambda *a, **options: seen.update(options) or (_ for _ in ()).throw(SystemExit(0)),
    )
    from .conftest import write_column_file

    write_column_file(tmp_path / "d" / "train.txt", 6, ["PER"], seed=0)
    write_column_file(tmp_path / "d" / "test.txt", 6, ["PER"], seed=1)
    monkeypatch.setattr(
        "label_semantics.cli._train_model", lambda args, labels, descriptions, scheme: (object(), None)
    )
    with pytest.raises(SystemExit):
        main(
            [
                "train",
                "--data",
                str(tmp_path / "d"),
                "--output",
                "o",
                "--label-learning-rate",
                "0",
                "--l2sp",
                "0.1",
            ]
        )
    assert seen["label_learning_rate"] == 0.0 and seen["l2sp"] == 0.1
    seen.clear()
    monkeypatch.setattr(
        "label_semantics.modeling_label_semantics.LabelSemanticsForTokenClassification.from_encoder",
        classmethod(lambda cls, *a, **k: object()),
    )
    argv = ["fewshot", "--source", str(tmp_path / "d"), "--target", str(tmp_path / "d"), "--backbone", "b"]
    with pytest.raises(SystemExit):
        main([*argv, "--target-label-learning-rate", "1e-6", "--target-l2sp", "2"])
    assert seen["target_label_learning_rate"] == 1e-6 and seen["target_l2sp"] == 2.0
