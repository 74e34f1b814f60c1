from __future__ import annotations

import pytest
import torch
from transformers import AutoConfig, AutoModel, AutoModelForTokenClassification

from label_semantics import LabelSemanticsConfig, LabelSemanticsForTokenClassification
from label_semantics.modeling_label_semantics import pool_label_states
from label_semantics.verbalizer import InvalidTagError

LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
TOY = [
    (["john", "smith", "visited", "paris"], ["B-PER", "I-PER", "O", "B-LOC"]),
    (["mary", "lives", "in", "london"], ["B-PER", "O", "O", "B-LOC"]),
    (["he", "visited", "berlin"], ["O", "O", "B-LOC"]),
    (["mary", "jones", "met", "john"], ["B-PER", "I-PER", "O", "B-PER"]),
]


def make_model(path, **kwargs) -> LabelSemanticsForTokenClassification:
    torch.manual_seed(0)
    return LabelSemanticsForTokenClassification.from_encoder(path, labels=LABELS, **kwargs)


def toy_batch(model):
    enc = model.tokenizer([w for w, _ in TOY], is_split_into_words=True, padding=True, return_tensors="pt")
    labels = torch.full(enc["input_ids"].shape, -100)
    for i, (_, tags) in enumerate(TOY):
        previous = None
        for pos, word in enumerate(enc.word_ids(i)):
            if word is not None and word != previous:
                labels[i, pos] = model.config.label2id[tags[word]]
            previous = word
    return dict(enc), labels


def train(model, steps=60, lr=3e-3):
    inputs, labels = toy_batch(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    model.train()
    losses = []
    for _ in range(steps):
        loss = model(**inputs, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    model.eval()
    return losses


@pytest.fixture(scope="module")
def trained(_tiny_encoder_dir):
    model = make_model(_tiny_encoder_dir)
    losses = train(model)
    return model, losses


def test_config_derives_descriptions_and_validates():
    config = LabelSemanticsConfig(id2label=dict(enumerate(LABELS)))
    assert config.label_descriptions == [
        "other",
        "begin person",
        "inside person",
        "begin location",
        "inside location",
    ]
    assert config.text_config.model_type == "bert"
    with pytest.raises(ValueError, match="label_pooling='max'"):
        LabelSemanticsConfig(id2label={0: "O"}, label_pooling="max")
    with pytest.raises(ValueError, match="label_descriptions has 1 entries but there are 2 labels"):
        LabelSemanticsConfig(id2label={0: "O", 1: "B-PER"}, label_descriptions=["other"])


def test_nested_config_cannot_enable_remote_code():
    config = LabelSemanticsConfig(
        text_config={"model_type": "bert", "trust_remote_code": True, "auto_map": {"x": 1}}
    )
    assert not hasattr(config.text_config, "trust_remote_code")
    assert "auto_map" not in config.text_config.to_dict()


def test_shapes_and_descriptions(tiny_encoder_dir):
    model = make_model(tiny_encoder_dir)
    assert model.config.label_descriptions[1] == "begin person"
    assert model.config.tag_scheme == "IOB2"
    inputs, labels = toy_batch(model)
    out = model(**inputs, labels=labels)
    assert out.logits.shape == (*inputs["input_ids"].shape, len(LABELS))
    assert out.loss.ndim == 0 and out.loss.item() > 0
    assert model(**inputs).loss is None


def test_loss_decreases_and_both_towers_train(tiny_encoder_dir):
    model = make_model(tiny_encoder_dir, share_towers=False)
    assert model.label_encoder is not None
    inputs, labels = toy_batch(model)
    model.train()
    model(**inputs, labels=labels).loss.backward()
    assert model.text_encoder.embeddings.word_embeddings.weight.grad.abs().sum() > 0
    assert model.label_encoder.embeddings.word_embeddings.weight.grad.abs().sum() > 0
    model.zero_grad()
    losses = train(model, steps=40)
    assert losses[-1] < 0.5 * losses[0]


def test_trained_model_learns_toy_set(trained):
    model, losses = trained
    assert losses[-1] < 0.2 * losses[0]
    inputs, labels = toy_batch(model)
    with torch.no_grad():
        predictions = model(**inputs).logits.argmax(-1)
    mask = labels != -100
    assert (predictions[mask] == labels[mask]).float().mean() == 1.0


def test_mean_pooling_masks_padding():
    states = torch.arange(2 * 3 * 2, dtype=torch.float).view(2, 3, 2)
    mask = torch.tensor([[1, 1, 0], [1, 0, 0]])
    pooled = pool_label_states(states, mask, "mean")
    assert torch.equal(pooled[0], states[0, :2].mean(0))
    assert torch.equal(pooled[1], states[1, 0])
    assert torch.equal(pool_label_states(states, mask, "cls"), states[:, 0])


def test_save_load_gives_identical_scores_and_needs_no_arguments(trained, tmp_path):
    model, _ = trained
    model.save_pretrained(tmp_path)
    loaded = LabelSemanticsForTokenClassification.from_pretrained(tmp_path)
    assert loaded.tokenizer is not None
    assert loaded.config.label_descriptions == model.config.label_descriptions
    inputs, _ = toy_batch(model)
    with torch.no_grad():
        assert torch.equal(model(**inputs).logits, loaded(**inputs).logits)
    assert loaded.predict("john visited paris") == model.predict("john visited paris")


def test_auto_classes_load_the_checkpoint(trained, tmp_path):
    model, _ = trained
    model.save_pretrained(tmp_path)
    assert isinstance(AutoConfig.from_pretrained(tmp_path), LabelSemanticsConfig)
    for auto in (AutoModel, AutoModelForTokenClassification):
        loaded = auto.from_pretrained(tmp_path)
        assert isinstance(loaded, LabelSemanticsForTokenClassification)


def test_separate_towers_save_and_load(tiny_encoder_dir, tmp_path):
    model = make_model(tiny_encoder_dir, label_encoder_name_or_path=tiny_encoder_dir)
    model.label_encoder.embeddings.word_embeddings.weight.data.add_(1.0)  # towers now differ
    model.save_pretrained(tmp_path)
    loaded = LabelSemanticsForTokenClassification.from_pretrained(tmp_path)
    assert loaded.label_tokenizer is not None
    model.eval()
    inputs, _ = toy_batch(model)
    with torch.no_grad():
        assert torch.equal(model(**inputs).logits, loaded(**inputs).logits)


def test_set_labels_adds_no_parameters(trained):
    model, _ = trained
    before = sum(p.numel() for p in model.parameters())
    inputs, _ = toy_batch(model)
    with torch.no_grad():
        full = model(**inputs).logits
    model.set_labels(["O", "B-city", "I-city"], descriptions={"city": "location"})
    try:
        assert sum(p.numel() for p in model.parameters()) == before
        assert model.config.label_descriptions == ["other", "begin location", "inside location"]
        with torch.no_grad():
            subset = model(**inputs).logits
        # the same descriptions as O, B-LOC and I-LOC give the same scores: a label's score depends on its words only
        torch.testing.assert_close(subset, full[..., [0, 3, 4]], rtol=1e-5, atol=1e-5)
    finally:
        model.set_labels(LABELS)
    with torch.no_grad():
        torch.testing.assert_close(model(**inputs).logits, full, rtol=1e-5, atol=1e-5)


def test_label_vectors_cached_in_eval_and_invalidated(tiny_encoder_dir, monkeypatch):
    model = make_model(tiny_encoder_dir)
    calls = []
    original = model.encode_labels
    monkeypatch.setattr(model, "encode_labels", lambda *a, **k: calls.append(1) or original(*a, **k))
    inputs, labels = toy_batch(model)
    model.eval()
    with torch.no_grad():
        first = model(**inputs).logits
        second = model(**inputs).logits
    assert len(calls) == 1 and torch.equal(first, second)
    # a weight update invalidates the cache
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    model(**inputs, labels=labels).loss.backward()
    optimizer.step()
    model.eval()
    calls.clear()
    with torch.no_grad():
        after_step = model(**inputs).logits
    assert len(calls) == 1 and not torch.equal(after_step, first)
    # new labels invalidate the cache
    inputs, _ = toy_batch(model)
    model.set_labels(["O", "B-PER", "I-PER"])
    with torch.no_grad():
        assert model(**inputs).logits.shape[-1] == 3
    assert len(calls) == 2
    # with gradients on, labels are always encoded afresh
    model(**inputs)
    model(**inputs)
    assert len(calls) == 4


def test_trainer_sees_only_labels_as_label_columns():
    from transformers.utils import find_labels

    assert find_labels(LabelSemanticsForTokenClassification) == ["labels"]


def test_explicit_label_embeddings_override(trained):
    model, _ = trained
    inputs, _ = toy_batch(model)
    with torch.no_grad():
        vectors = model.encode_labels()
        full = model(**inputs).logits
        subset = model(**inputs, description_embeddings=vectors[[3, 1]]).logits
        shifted = model(**inputs, description_embeddings=vectors[[3, 1]] + 1.0).logits
    assert subset.shape[-1] == 2
    torch.testing.assert_close(subset, full[..., [3, 1]])  # the columns of B-LOC and B-PER, in that order
    assert not torch.allclose(shifted, subset)  # the vectors given are the ones used


@pytest.mark.parametrize(
    "labels, error, match",
    [
        ([], ValueError, "No labels given"),
        (["O", "B-PER", "B-PER"], ValueError, r"Duplicate labels \['B-PER'\]"),
        (["O", "X-PER"], InvalidTagError, "X-PER"),
    ],
)
def test_bad_labels(tiny_encoder_dir, labels, error, match):
    with pytest.raises(error, match=match):
        LabelSemanticsForTokenClassification.from_encoder(tiny_encoder_dir, labels=labels)


def test_unknown_backbone_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="Could not load a BERT-like encoder from"):
        LabelSemanticsForTokenClassification.from_encoder(tmp_path / "nope", labels=LABELS)


def test_description_that_tokenises_to_nothing(tiny_encoder_dir):
    with pytest.raises(ValueError, match="tokenises to nothing"):
        make_model(tiny_encoder_dir, outside_description="\u200b")
