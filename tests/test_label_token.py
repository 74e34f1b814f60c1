from __future__ import annotations

import json
import logging

import pytest
import torch
from datasets import Dataset
from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForSequenceClassification,
    BertConfig,
    DataCollatorWithPadding,
    Trainer,
    TrainingArguments,
    pipeline,
)

from label_semantics import LabelTokenConfig, LabelTokenForSequenceClassification
from label_semantics.modeling_label_token import (
    combine_window_probabilities,
    initial_label_embeddings,
    label_attention_mask,
    mean_pool,
)

LABELS = ["sadness", "joy", "anger", "creative-work"]
TOY = [
    ("i feel sad", 0),
    ("sad bad terrible", 0),
    ("she was sad", 0),
    ("i feel happy", 1),
    ("joy and love", 1),
    ("good great happy", 1),
    ("anger at the company", 2),
    ("he said anger", 2),
    ("anger anger", 2),
    ("a book or a film", 3),
    ("the song and the movie", 3),
    ("a creative work", 3),
]


def make_model(path, labels=LABELS, **kwargs) -> LabelTokenForSequenceClassification:
    torch.manual_seed(0)
    return LabelTokenForSequenceClassification.from_encoder(path, labels=labels, **kwargs)


def encode(model, texts, **kwargs):
    return dict(model.tokenizer(texts, padding=True, return_tensors="pt", **kwargs))


def tiny_encoder_config(**kwargs) -> dict:
    return BertConfig(
        vocab_size=100,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=37,
        **kwargs,
    ).to_dict()


@pytest.fixture(scope="module")
def trained(_tiny_encoder_dir, tmp_path_factory):
    """A tiny single-label model fine-tuned with the stock Trainer and default TrainingArguments."""
    model = make_model(_tiny_encoder_dir)
    data = Dataset.from_dict({"text": [t for t, _ in TOY], "label": [y for _, y in TOY]})
    data = data.map(lambda batch: model.tokenizer(batch["text"], truncation=True), batched=True)
    args = TrainingArguments(
        output_dir=str(tmp_path_factory.mktemp("trainer")),
        num_train_epochs=30,
        per_device_train_batch_size=4,
        learning_rate=3e-3,
        report_to="none",
        save_strategy="no",
        use_cpu=True,
        logging_steps=10,
        seed=0,
    )
    trainer = Trainer(
        model=model, args=args, train_dataset=data, data_collator=DataCollatorWithPadding(model.tokenizer)
    )
    result = trainer.train()
    model.eval()
    return model, trainer, result


# ---------------------------------------------------------------------------------------------- config


def test_config_derives_descriptions_token_ids_and_window():
    config = LabelTokenConfig(encoder_config=tiny_encoder_config(), id2label=dict(enumerate(LABELS)))
    assert isinstance(config.encoder_config, BertConfig)
    assert config.label_descriptions == ["sadness", "joy", "anger", "creative work"]
    assert config.label_token_ids == [96, 97, 98, 99]
    assert config.max_seq_length == 512
    assert config.labels == LABELS
    assert not config.is_multi_label
    reloaded = AutoConfig.for_model(**config.to_dict())
    assert isinstance(reloaded, LabelTokenConfig)
    assert isinstance(reloaded.encoder_config, BertConfig)
    assert reloaded.label_token_ids == config.label_token_ids
    assert reloaded.id2label == config.id2label
    one = LabelTokenConfig(encoder_config=tiny_encoder_config(), id2label={0: "joy"})
    assert one.is_multi_label


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"id2label": {}}, "No labels given"),
        ({"id2label": {0: "joy", 1: "joy"}}, r"Duplicate labels \['joy'\]"),
        ({"id2label": {0: "joy", 2: "anger"}}, "without gaps"),
        (
            {"id2label": {0: "joy", 1: "anger"}, "label_descriptions": ["joy"]},
            "label_descriptions has 1 entries",
        ),
        ({"id2label": {0: "joy", 1: "anger"}, "label_token_ids": [5, 5]}, "distinct ids"),
        ({"id2label": {0: "joy", 1: "anger"}, "label_token_ids": [5, 100]}, "distinct ids"),
        (
            {"id2label": dict(enumerate("abcde")), "max_seq_length": 8, "label_attention": "shared"},
            "5 labels do not fit.*at most 4 labels fit.*label_attention='isolated'",
        ),
        ({"label_attention": "full"}, "label_attention='full' is not supported"),
        ({"label_head": "mlp"}, "label_head='mlp' is not supported"),
        ({"label_smoothing": 1.0}, "label_smoothing=1.0 must be"),
        ({"label_smoothing": -0.1}, "label_smoothing=-0.1 must be"),
        ({"labels_per_pass": 0}, "labels_per_pass=0 must be an int from 1 to 508"),
        (
            {"labels_per_pass": 1, "label_attention": "shared"},
            "labels_per_pass=1 needs label_attention='isolated'",
        ),
        (
            {"id2label": {0: "joy", 1: "anger"}, "description_token_ids": [[2, 3]]},
            "description_token_ids has 1",
        ),
        ({"max_seq_length": 1024}, "exceeds the encoder's max_position_embeddings=512"),
        ({"threshold": 1.5}, "threshold=1.5"),
        ({"threshold": 0.0}, "threshold=0.0"),
        ({"problem_type": "regression"}, "regression"),
    ],
)
def test_config_rejects_bad_values(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LabelTokenConfig(encoder_config=tiny_encoder_config(), **kwargs)


# ---------------------------------------------------------------------------------------------- construction


def test_from_encoder_adds_special_tokens_and_keeps_pretrained_weights(tiny_encoder_dir, tokenizer):
    encoder = AutoModel.from_pretrained(tiny_encoder_dir)
    model = make_model(tiny_encoder_dir)
    tokens = [f"[{label}]" for label in LABELS]
    assert model.tokenizer.convert_tokens_to_ids(tokens) == model.config.label_token_ids
    assert model.config.label_token_ids == list(range(len(tokenizer), len(tokenizer) + len(LABELS)))
    assert set(tokens) <= set(model.tokenizer.all_special_tokens)
    assert model.config.encoder_config.vocab_size == len(tokenizer) + len(LABELS)
    assert model.config.sep_token_id == tokenizer.sep_token_id
    assert model.config.pad_token_id == tokenizer.pad_token_id
    assert model.tokenizer.model_max_length == 64 - len(LABELS) - 1
    original = encoder.state_dict()
    for name, value in model.encoder.state_dict().items():
        expected = (
            original[name][: len(tokenizer)] if name.endswith("word_embeddings.weight") else original[name]
        )
        assert torch.equal(value[: len(expected)], expected), name


@pytest.mark.parametrize("init", ["description", "random", "cls", "mean"])
def test_label_embedding_initialisations(tiny_encoder_dir, tokenizer, init):
    encoder = AutoModel.from_pretrained(tiny_encoder_dir)
    base = encoder.get_input_embeddings().weight.detach()
    descriptions = {"joy": "happy good"}
    model = make_model(tiny_encoder_dir, init=init, descriptions=descriptions)
    assert model.config.label_descriptions == ["sadness", "happy good", "anger", "creative work"]
    vectors = model.encoder.get_input_embeddings().weight[model.config.label_token_ids].detach()
    if init == "description":
        for vector, text in zip(vectors, model.config.label_descriptions, strict=True):
            ids = tokenizer(text, add_special_tokens=False)["input_ids"]
            assert len(ids) >= 1
            torch.testing.assert_close(vector, base[ids].mean(0))
        # "creative-work" is read as the two words "creative work".
        assert tokenizer.convert_ids_to_tokens(
            tokenizer("creative work", add_special_tokens=False)["input_ids"]
        ) == [
            "creative",
            "work",
        ]
    elif init == "cls":
        torch.testing.assert_close(vectors, base[tokenizer.cls_token_id].expand_as(vectors))
    elif init == "mean":
        torch.testing.assert_close(vectors, base.mean(0).expand_as(vectors))
    else:
        assert 0.005 < vectors.std().item() < 0.05
        assert not torch.allclose(vectors[0], vectors[1])


def test_initial_label_embeddings_on_random_tensors():
    embeddings = torch.randn(10, 4)
    out = initial_label_embeddings(embeddings, [[1, 2], [3]], "description")
    assert out.shape == (2, 4)
    torch.testing.assert_close(out[0], (embeddings[1] + embeddings[2]) / 2)
    torch.testing.assert_close(out[1], embeddings[3])
    with pytest.raises(ValueError, match="cls_token_id"):
        initial_label_embeddings(embeddings, [[1]], "cls")
    with pytest.raises(ValueError, match="init='zeros' is not supported"):
        initial_label_embeddings(embeddings, [[1]], "zeros")


# ---------------------------------------------------------------------------------------------- inputs and forward


def test_build_inputs_layout_and_shared_label_position(tiny_encoder_dir):
    model = make_model(tiny_encoder_dir, labels=["joy", "anger"])
    batch = encode(model, ["i feel happy", "sad"])
    built = model.build_inputs(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])
    tok = model.tokenizer
    joy, anger = model.config.label_token_ids
    expected = [tok.cls_token_id, joy, anger, tok.sep_token_id] + tok("i feel happy")["input_ids"][1:]
    assert built["input_ids"][0].tolist() == expected
    short = [tok.cls_token_id, joy, anger, tok.sep_token_id] + tok("sad")["input_ids"][1:]
    assert built["input_ids"][1, : len(short)].tolist() == short
    assert built["position_ids"][0].tolist() == [0, 1, 1] + list(range(2, len(expected) - 1))
    assert built["attention_mask"][1].tolist() == [1] * len(short) + [0] * (len(expected) - len(short))
    assert built["token_type_ids"].sum() == 0


@pytest.mark.parametrize("texts", [["i feel happy"], ["i feel happy", "a much longer sad text about anger"]])
def test_logits_shape_and_padding_independence(tiny_encoder_dir, texts):
    model = make_model(tiny_encoder_dir).eval()
    logits = model(**encode(model, texts)).logits
    assert logits.shape == (len(texts), len(LABELS))
    alone = model(**encode(model, texts[:1])).logits
    torch.testing.assert_close(logits[:1], alone, atol=1e-5, rtol=1e-5)


def test_text_is_truncated_never_a_label_token(tiny_encoder_dir, caplog):
    model = make_model(tiny_encoder_dir, max_seq_length=16).eval()
    room = 16 - len(LABELS) - 1
    assert model.max_text_length == room == model.tokenizer.model_max_length
    long_text = "the " * 40
    batch = encode(model, [long_text, "sad"])
    with caplog.at_level(logging.WARNING, logger="label_semantics.modeling_label_token"):
        built = model.build_inputs(batch["input_ids"], batch["attention_mask"])
        logits = model(**batch).logits
    assert "cut at their end" in caplog.text
    assert built["input_ids"].shape == (2, 16)
    assert built["input_ids"][:, 1:5].tolist() == [model.config.label_token_ids] * 2
    assert built["input_ids"][0, -1] == model.tokenizer.sep_token_id
    assert built["input_ids"][1, 6:8].tolist() == model.tokenizer("sad")["input_ids"][1:]
    # Truncating up front with the tokenizer gives the same logits.
    torch.testing.assert_close(logits, model(**encode(model, [long_text, "sad"], truncation=True)).logits)
    caplog.clear()  # at inference every call that cuts says so, not only the first
    with caplog.at_level(logging.WARNING, logger="label_semantics.modeling_label_token"):
        model(**encode(model, [long_text]))
    assert "cut at their end" in caplog.text


def test_too_many_labels_for_the_window_says_how_many_fit(tiny_encoder_dir):
    with pytest.raises(ValueError, match="6 labels do not fit.*at most 4 labels fit"):
        make_model(tiny_encoder_dir, labels=list("abcdef"), max_seq_length=8, label_attention="shared")
    # isolated label tokens: not an error, the labels are read in passes of half the window
    model = make_model(tiny_encoder_dir, labels=list("abcdef"), max_seq_length=8).eval()
    assert (model.config.labels_per_pass, model.config.num_passes, model.max_text_length) == (4, 2, 3)
    assert model(**encode(model, ["sad"])).logits.shape == (1, 6)


def test_single_label_loss_is_cross_entropy_and_infers_problem_type(tiny_encoder_dir):
    model = make_model(tiny_encoder_dir).eval()
    targets = torch.tensor([1, 3])
    out = model(**encode(model, ["i feel happy", "a film"]), labels=targets)
    assert model.config.problem_type == "single_label_classification"
    torch.testing.assert_close(out.loss, torch.nn.functional.cross_entropy(out.logits, targets))
    out.loss.backward()
    assert model.classifier.weight.grad.abs().sum() > 0
    # the description head's W starts at zero, so the label tokens get gradients once W has moved
    label_rows = model.encoder.get_input_embeddings().weight.grad[model.config.label_token_ids]
    assert label_rows.abs().sum() == 0
    with torch.no_grad():
        model.classifier.weight.normal_(std=0.02)
    model.zero_grad()
    model(**encode(model, ["i feel happy", "a film"]), labels=targets).loss.backward()
    assert model.encoder.get_input_embeddings().weight.grad[model.config.label_token_ids].abs().sum() > 0
    with pytest.raises(ValueError, match="Multi-label targets.*single-label model"):
        model(**encode(model, ["x"]), labels=torch.tensor([[0.0, 1.0, 0.0, 1.0]]))


def test_multi_label_loss_is_bce_and_infers_problem_type(tiny_encoder_dir):
    model = make_model(tiny_encoder_dir).eval()
    targets = torch.tensor([[0.0, 1.0, 1.0, 0.0], [1.0, 0.0, 0.0, 0.0]])
    out = model(**encode(model, ["i feel happy", "a film"]), labels=targets)
    assert model.config.problem_type == "multi_label_classification"
    torch.testing.assert_close(
        out.loss, torch.nn.functional.binary_cross_entropy_with_logits(out.logits, targets)
    )
    # Integer multi-hot targets are accepted too.
    torch.testing.assert_close(
        model(**encode(model, ["i feel happy", "a film"]), labels=targets.long()).loss, out.loss
    )
    with pytest.raises(ValueError, match="Single-label targets.*multi-label model"):
        model(**encode(model, ["x"]), labels=torch.tensor([2]))


def test_one_label_is_a_binary_detector_at_batch_size_one(tiny_encoder_dir):
    model = make_model(tiny_encoder_dir, labels=["joy"]).eval()
    out = model(**encode(model, ["i feel happy"]), labels=torch.tensor([1]))
    assert out.logits.shape == (1, 1)
    assert model.config.problem_type == "multi_label_classification"
    torch.testing.assert_close(
        out.loss, torch.nn.functional.binary_cross_entropy_with_logits(out.logits, torch.ones(1, 1))
    )
    with torch.no_grad():  # move the logit to 0 (probability 0.5), away from a saturated sigmoid
        model.logit_bias.sub_(out.logits.item())
    result = model.predict("i feel happy", threshold=0.49)
    assert [r["label"] for r in result] == ["joy"]
    assert model.predict(["i feel happy"], threshold=0.51) == [[]]


# ---------------------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("labels", "kwargs", "error", "message"),
    [
        ([], {}, ValueError, "No labels given"),
        (["joy", "anger", "joy"], {}, ValueError, r"Duplicate labels \['joy'\]"),
        (
            ["joy", "snow"],
            {"descriptions": {"snow": "\u2603\u2603"}},
            ValueError,
            "'snow' tokenises to nothing",
        ),
        (["joy", "CLS"], {}, ValueError, r"label tokens \['\[CLS\]'\] already exist"),
        (["joy"], {"init": "zeros"}, ValueError, "init='zeros' is not supported"),
    ],
)
def test_bad_labels_are_clear_errors(tiny_encoder_dir, labels, kwargs, error, message):
    with pytest.raises(error, match=message):
        make_model(tiny_encoder_dir, labels=labels, **kwargs)


def test_descriptions_must_name_labels(tiny_encoder_dir):
    with pytest.raises(ValueError, match=r"\['jy'\], which are not among the labels"):
        make_model(tiny_encoder_dir, labels=["joy", "anger"], descriptions={"jy": "happy"})


@pytest.mark.parametrize("threshold", [1.5, 0.0, 1.0, -0.1, True, "0.5", float("nan")])
def test_predict_validates_the_threshold_as_the_config_does(tiny_encoder_dir, threshold):
    model = make_model(tiny_encoder_dir, problem_type="multi_label_classification")
    with pytest.raises(ValueError, match="threshold=.*strictly between 0 and 1"):
        model.predict("i feel happy", threshold=threshold)
    model.config.threshold = threshold  # set after construction, where the config does not look
    with pytest.raises(ValueError, match="threshold=.*strictly between 0 and 1"):
        model.predict("i feel happy")


@pytest.mark.parametrize("batch_size", [0, -1, 1.5, True])
def test_predict_rejects_a_bad_batch_size(tiny_encoder_dir, batch_size):
    model = make_model(tiny_encoder_dir)
    with pytest.raises(ValueError, match=r"batch_size=.*e\.g\. batch_size=32"):
        model.predict(["i feel happy"], batch_size=batch_size)


def test_predict_takes_strings_only(tiny_encoder_dir):
    model = make_model(tiny_encoder_dir)
    with pytest.raises(ValueError, match="takes a str or a list of str, got None"):
        model.predict(["i feel happy", None])
    with pytest.raises(ValueError, match="takes a str or a list of str"):
        model.predict(3)
    assert model.predict([]) == []


def test_combine_window_probabilities():
    probabilities = torch.tensor([[0.2, 0.8], [0.6, 0.4], [0.5, 0.5]])
    single = combine_window_probabilities(probabilities, [0, 0, 1], 2, multi_label=False)
    torch.testing.assert_close(single, torch.tensor([[0.4, 0.6], [0.5, 0.5]]))
    multi = combine_window_probabilities(probabilities, [0, 0, 1], 2, multi_label=True)
    torch.testing.assert_close(multi, torch.tensor([[0.6, 0.8], [0.5, 0.5]]))
    with pytest.raises(ValueError, match="do not cover the 3 texts"):
        combine_window_probabilities(probabilities, [0, 0, 1], 3, multi_label=False)


@pytest.mark.parametrize("problem_type", ["single_label_classification", "multi_label_classification"])
def test_predict_reads_a_long_text_in_windows(tiny_encoder_dir, caplog, problem_type):
    # 4 labels in a window of 16 leave 11 tokens: [CLS], 9 of text, [SEP]; many labels used to leave one word
    model = make_model(tiny_encoder_dir, max_seq_length=16, problem_type=problem_type, threshold=0.01).eval()
    head = "the " * 30
    with caplog.at_level(logging.WARNING):
        sad, happy = model.predict([head + "sad terrible", head + "happy good"])
    assert "cut" not in caplog.text  # nothing is cut
    if problem_type == "single_label_classification":
        assert sad != happy  # the end of the text counts (a maximum over windows may not show it)
    tok = model.tokenizer
    windows = tok(
        head + "sad terrible", truncation=True, max_length=11, stride=2, return_overflowing_tokens=True
    )
    assert len(windows["input_ids"]) > 3
    features = {k: windows[k] for k in ("input_ids", "attention_mask", "token_type_ids")}
    logits = model(**tok.pad(features, return_tensors="pt")).logits
    if problem_type == "single_label_classification":
        expected = logits.softmax(-1).mean(0)
        assert sad == {"label": LABELS[int(expected.argmax())], "score": pytest.approx(expected.max().item())}
    else:
        expected = logits.sigmoid().amax(0)
        assert {row["label"]: row["score"] for row in sad} == {
            label: pytest.approx(p) for label, p in zip(LABELS, expected.tolist(), strict=True)
        }
    assert model.predict([head + "sad terrible", "sad"], batch_size=1) == [sad, model.predict("sad")]
    with pytest.raises(ValueError, match="stride=9 must be an int from 0 to 8"):
        model.predict("sad", stride=9)


def test_predict_batches_by_length_and_keeps_the_input_order(tiny_encoder_dir, monkeypatch):
    """Windows are batched shortest first (little padding), without autograd; results come back in input order."""
    model = make_model(tiny_encoder_dir).eval()
    texts = ["sad " * n + "happy" for n in (7, 0, 12, 3, 1, 9)]
    one_by_one = [model.predict(text) for text in texts]
    widths, grads = [], []
    forward = model.forward

    def spy(*args, **kwargs):
        widths.append(kwargs["input_ids"].shape[1])
        grads.append(torch.is_grad_enabled())
        return forward(*args, **kwargs)

    monkeypatch.setattr(model, "forward", spy)
    batched = model.predict(texts, batch_size=2)
    assert [row["label"] for row in batched] == [row["label"] for row in one_by_one]
    assert [row["score"] for row in batched] == pytest.approx([row["score"] for row in one_by_one], abs=1e-5)
    assert widths == sorted(widths) and len(widths) == 3 and not any(grads)


def test_missing_encoder_path_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        make_model(tmp_path / "nowhere")


# ---------------------------------------------------------------------------------------------- trained model


def test_trainer_fine_tunes_with_default_arguments(trained):
    model, trainer, result = trained
    losses = [row["loss"] for row in trainer.state.log_history if "loss" in row]
    assert result.training_loss < 1.0 and losses[-1] < losses[0]
    predicted = [model.predict(text)["label"] for text, _ in TOY]
    accuracy = sum(p == LABELS[y] for p, (_, y) in zip(predicted, TOY, strict=True)) / len(TOY)
    assert accuracy >= 0.9


def test_prediction_does_not_depend_on_label_order(trained):
    model, _, _ = trained
    texts = [text for text, _ in TOY]
    logits = model(**encode(model, texts)).logits.detach()
    for order in ([3, 2, 1, 0], [1, 3, 0, 2]):
        config = LabelTokenConfig.from_dict(model.config.to_dict())
        config.id2label = {i: LABELS[j] for i, j in enumerate(order)}
        config.label2id = {label: i for i, label in config.id2label.items()}
        config.label_token_ids = [model.config.label_token_ids[j] for j in order]
        config.label_descriptions = [model.config.label_descriptions[j] for j in order]
        config.description_token_ids = [model.config.description_token_ids[j] for j in order]
        permuted = LabelTokenForSequenceClassification(config).eval()
        permuted.load_state_dict(model.state_dict())
        permuted.tokenizer = model.tokenizer
        torch.testing.assert_close(
            permuted(**encode(model, texts)).logits, logits[:, order], atol=1e-5, rtol=1e-5
        )
        for got, want in zip(permuted.predict(texts), model.predict(texts), strict=True):
            assert got["label"] == want["label"]
            assert got["score"] == pytest.approx(want["score"], abs=1e-5)


def test_save_and_load_restore_model_tokenizer_and_labels(trained, tmp_path):
    model, _, _ = trained
    model.config.threshold = 0.3
    model.save_pretrained(tmp_path)
    texts = ["i feel happy", "she was sad about the film"]
    expected = model(**encode(model, texts)).logits
    for loader in (LabelTokenForSequenceClassification, AutoModelForSequenceClassification):
        loaded = loader.from_pretrained(tmp_path).eval()
        assert isinstance(loaded, LabelTokenForSequenceClassification)
        assert loaded.config.labels == LABELS
        assert loaded.config.label_descriptions == model.config.label_descriptions
        assert loaded.config.label_token_ids == model.config.label_token_ids
        assert loaded.config.threshold == 0.3
        assert loaded.tokenizer.convert_tokens_to_ids("[joy]") == model.config.label_token_ids[1]
        assert loaded.tokenizer.model_max_length == model.max_text_length
        torch.testing.assert_close(loaded(**encode(loaded, texts)).logits, expected)
        for name, value in model.state_dict().items():
            assert torch.equal(loaded.state_dict()[name], value), name


def test_text_classification_pipeline_on_a_saved_checkpoint(trained, tmp_path):
    model, _, _ = trained
    model.save_pretrained(tmp_path)
    classifier = pipeline("text-classification", model=str(tmp_path), device=-1)
    text = "i feel happy"
    probabilities = model(**encode(model, [text])).logits.softmax(-1)[0]
    top = classifier(text)
    assert top == [{"label": "joy", "score": pytest.approx(probabilities[1].item(), abs=1e-5)}]
    everything = classifier([text, "she was sad"], top_k=None, batch_size=2)
    assert [{row["label"] for row in rows} for rows in everything] == [set(LABELS)] * 2
    assert everything[1][0]["label"] == "sadness"


def test_pipeline_and_predict_use_sigmoid_for_a_multi_label_model(tiny_encoder_dir, tmp_path):
    model = make_model(tiny_encoder_dir, problem_type="multi_label_classification", threshold=0.2).eval()
    model.save_pretrained(tmp_path)
    text = "i feel happy"
    probabilities = model(**encode(model, [text])).logits.sigmoid()[0]
    scores = {
        row["label"]: row["score"]
        for row in pipeline("text-classification", model=str(tmp_path))(text, top_k=None)
    }
    assert scores == {
        label: pytest.approx(p, abs=1e-5) for label, p in zip(LABELS, probabilities.tolist(), strict=True)
    }
    predicted = model.predict(text)
    assert [row["label"] for row in predicted] == [  # best first; equal scores in label order
        LABELS[i]
        for i in probabilities.argsort(descending=True, stable=True).tolist()
        if probabilities[i] >= 0.2
    ]


@pytest.mark.slow
def test_minilm_backbone_builds_and_initialises_from_descriptions(minilm_path):
    labels = ["sadness", "joy", "love", "anger", "fear", "surprise"]
    model = LabelTokenForSequenceClassification.from_encoder(minilm_path, labels=labels).eval()
    base = AutoModel.from_pretrained(minilm_path).get_input_embeddings().weight
    weight = model.encoder.get_input_embeddings().weight
    assert weight.shape[0] == base.shape[0] + len(labels)
    anger = model.tokenizer("anger", add_special_tokens=False)["input_ids"]
    torch.testing.assert_close(weight[model.config.label_token_ids[3]], base[anger].mean(0))
    assert model(**encode(model, ["i am so happy today"])).logits.shape == (1, len(labels))


# ---------------------------------------------------------------------------------------------- design (issue 10)


def test_design_fields_save_and_load(tiny_encoder_dir, tmp_path):
    model = make_model(tiny_encoder_dir, label_smoothing=0.1, labels_per_pass=3).eval()
    assert (model.config.label_attention, model.config.label_head) == ("isolated", "description")
    assert model.config.description_token_ids[3] == model.tokenizer("creative work")["input_ids"]
    model.save_pretrained(tmp_path)
    loaded = LabelTokenForSequenceClassification.from_pretrained(tmp_path).eval()
    for field in (
        "label_attention",
        "label_head",
        "label_smoothing",
        "labels_per_pass",
        "description_token_ids",
    ):
        assert getattr(loaded.config, field) == getattr(model.config, field), field
    assert loaded.config.num_passes == 2
    texts = ["i feel happy", "she was sad"]
    torch.testing.assert_close(loaded(**encode(loaded, texts)).logits, model(**encode(model, texts)).logits)
    shared = make_model(tiny_encoder_dir, label_attention="shared", label_head="linear")
    shared.save_pretrained(tmp_path / "shared")
    config = AutoConfig.from_pretrained(tmp_path / "shared")
    assert (config.label_attention, config.label_head, config.labels_per_pass) == ("shared", "linear", 4)


def test_a_config_saved_before_the_design_fields_loads_as_the_old_design(tiny_encoder_dir, tmp_path):
    old = make_model(tiny_encoder_dir, label_attention="shared", label_head="linear").eval()
    old.save_pretrained(tmp_path)
    path = tmp_path / "config.json"
    saved = json.loads(path.read_text())
    for field in (
        "label_attention",
        "label_head",
        "label_smoothing",
        "labels_per_pass",
        "description_token_ids",
    ):
        saved.pop(field)
    path.write_text(json.dumps(saved))
    loaded = LabelTokenForSequenceClassification.from_pretrained(tmp_path).eval()
    assert (loaded.config.label_attention, loaded.config.label_head) == ("shared", "linear")
    texts = ["i feel happy"]
    torch.testing.assert_close(loaded(**encode(loaded, texts)).logits, old(**encode(old, texts)).logits)


def test_label_attention_mask_on_random_tensors():
    padding = torch.tensor([[1, 1, 1, 1, 1, 1, 0], [1, 1, 1, 1, 1, 1, 1]])  # [CLS] l1 l2 [SEP] w w [SEP]/pad
    mask = label_attention_mask(padding, 2)
    assert mask.shape == (2, 1, 7, 7)
    allowed = (mask[:, 0] == 0).int()
    expected = torch.tensor(
        [
            [1, 0, 0, 1, 1, 1, 1],  # [CLS]: no label token
            [1, 1, 0, 1, 1, 1, 1],  # label 1: itself, not label 2
            [1, 0, 1, 1, 1, 1, 1],  # label 2: itself, not label 1
            [1, 0, 0, 1, 1, 1, 1],
            [1, 0, 0, 1, 1, 1, 1],
            [1, 0, 0, 1, 1, 1, 1],
            [1, 0, 0, 1, 1, 1, 1],
        ]
    )
    assert torch.equal(allowed[1], expected)
    assert torch.equal(allowed[0], expected * torch.tensor([1, 1, 1, 1, 1, 1, 0]))  # no padded key
    assert mask.min() == torch.finfo(torch.float32).min
    states = torch.randn(2, 3, 4)
    pooled = mean_pool(states, torch.tensor([[1, 1, 0], [1, 0, 0]]))
    torch.testing.assert_close(pooled, torch.stack([states[0, :2].mean(0), states[1, 0]]))


def test_isolated_label_tokens_see_no_other_label_under_eager_and_sdpa(tiny_encoder_dir):
    model = make_model(tiny_encoder_dir).eval()
    model.encoder.set_attn_implementation("eager")
    batch = encode(model, ["i feel happy", "sad"])
    out = model(**batch, output_attentions=True, output_hidden_states=True)
    n = len(LABELS)
    for layer in out.attentions:  # (batch, heads, query, key)
        to_labels = layer[..., 1 : 1 + n]
        among_labels = to_labels[:, :, 1 : 1 + n]
        off_diagonal = among_labels * (1 - torch.eye(n))
        assert off_diagonal.abs().max() == 0  # a label token never attends to another
        text_rows = torch.cat([to_labels[:, :, :1], to_labels[:, :, 1 + n :]], dim=2)
        assert text_rows.abs().max() == 0  # the text never attends to a label token
        assert torch.diagonal(among_labels, dim1=-2, dim2=-1).min() > 0  # each label attends to itself
    # the text is read as if no label were there: its states do not depend on the labels
    fewer = make_model(tiny_encoder_dir, labels=LABELS[:2]).eval()
    fewer.encoder.set_attn_implementation("eager")
    text_states = fewer(**batch, output_hidden_states=True).hidden_states[-1][:, 1 + 2 :]
    torch.testing.assert_close(out.hidden_states[-1][:, 1 + n :], text_states, atol=1e-5, rtol=1e-5)
    model.encoder.set_attn_implementation("sdpa")
    torch.testing.assert_close(model(**batch).logits, out.logits, atol=1e-5, rtol=1e-5)


def test_shared_attention_lets_label_tokens_see_each_other(tiny_encoder_dir):
    model = make_model(tiny_encoder_dir, label_attention="shared").eval()
    model.encoder.set_attn_implementation("eager")
    attentions = model(**encode(model, ["i feel happy"]), output_attentions=True).attentions
    assert attentions[0][0, :, 1, 2].min() > 0


def test_an_attention_without_4d_masks_is_a_clear_error(tiny_encoder_dir, monkeypatch):
    model = make_model(tiny_encoder_dir).eval()
    monkeypatch.setattr(model.encoder.config, "_attn_implementation", "flash_attention_2")
    with pytest.raises(ValueError, match="'flash_attention_2' does not take.*attn_implementation='sdpa'"):
        model(**encode(model, ["sad"]))


@pytest.mark.parametrize("labels_per_pass", [1, 2, 3])
def test_several_passes_give_the_logits_of_one(trained, labels_per_pass):
    model, _, _ = trained
    texts = [text for text, _ in TOY]
    one = model(**encode(model, texts)).logits.detach()
    config = LabelTokenConfig.from_dict({**model.config.to_dict(), "labels_per_pass": labels_per_pass})
    passes = LabelTokenForSequenceClassification(config).eval()
    passes.load_state_dict(model.state_dict())
    passes.tokenizer = model.tokenizer
    assert passes.config.num_passes == -(-len(LABELS) // labels_per_pass)
    torch.testing.assert_close(passes(**encode(model, texts)).logits, one, atol=1e-5, rtol=1e-5)
    for got, want in zip(passes.predict(texts), model.predict(texts), strict=True):
        assert got["label"] == want["label"] and got["score"] == pytest.approx(want["score"], abs=1e-5)


def test_a_label_set_larger_than_the_window_works_in_passes(tiny_encoder_dir):
    labels = [f"label{i}" for i in range(30)]
    wide = make_model(tiny_encoder_dir, labels=labels).eval()  # window 64: one pass
    narrow = make_model(tiny_encoder_dir, labels=labels, max_seq_length=16).eval()  # 30 labels > 12 places
    assert (wide.config.num_passes, narrow.config.num_passes, narrow.config.labels_per_pass) == (1, 4, 8)
    narrow.load_state_dict(wide.state_dict())
    texts = ["happy joy", "sad"]  # short enough for the 7 text tokens left beside 8 labels
    torch.testing.assert_close(
        narrow(**encode(wide, texts)).logits, wide(**encode(wide, texts)).logits, atol=1e-5, rtol=1e-5
    )
    assert [r["label"] for r in narrow.predict(texts)] == [r["label"] for r in wide.predict(texts)]


def test_an_untrained_model_ranks_labels_by_their_descriptions(tiny_encoder_dir):
    """Zero-shot: fresh from from_encoder, label i's logit is 20 * cos(mean text state, encoded description i)."""
    model = make_model(tiny_encoder_dir).eval()
    texts = ["i feel happy", "anger at the company"]
    batch = encode(model, texts)
    plain = model.encoder(**batch).last_hidden_state  # the text read alone, label tokens nowhere
    descriptions = model.encode_descriptions()
    assert descriptions.shape == (len(LABELS), 32)
    alone = model.encoder(**model.tokenizer("creative work", return_tensors="pt")).last_hidden_state
    torch.testing.assert_close(descriptions[3], alone[0].mean(0))
    logits = model(**batch).logits
    # the text's positions move by two (the label tokens share position 1, their [SEP] takes 2), so the text
    # vector is not the plain one; the logits are the cosines with the descriptions all the same
    built = model.build_inputs(batch["input_ids"], batch["attention_mask"])
    states = model.encoder(
        **{**built, "attention_mask": label_attention_mask(built["attention_mask"], len(LABELS))}
    ).last_hidden_state
    keep = built["attention_mask"].clone()
    keep[:, 1 : 2 + len(LABELS)] = 0
    text = mean_pool(states, keep)
    expected = 20 * torch.nn.functional.cosine_similarity(text[:, None], descriptions[None], dim=-1)
    torch.testing.assert_close(logits, expected, atol=1e-5, rtol=1e-5)
    assert plain.shape[1] == batch["input_ids"].shape[1]
    predicted = model.predict(texts)
    assert [p["label"] for p in predicted] == [LABELS[i] for i in expected.argmax(-1).tolist()]


def test_label_smoothing_is_the_cross_entropy_s(tiny_encoder_dir):
    model = make_model(tiny_encoder_dir, label_smoothing=0.2).eval()
    targets = torch.tensor([1, 3])
    out = model(**encode(model, ["i feel happy", "a film"]), labels=targets)
    expected = torch.nn.functional.cross_entropy(out.logits, targets, label_smoothing=0.2)
    torch.testing.assert_close(out.loss, expected)


TWO = [
    ("i feel happy", 0),
    ("joy and love", 0),
    ("good great happy", 0),
    ("happy happy joy", 0),
    ("i feel sad", 1),
    ("sad bad terrible", 1),
    ("she was sad", 1),
    ("terrible sad news", 1),
]


@pytest.mark.parametrize(
    "design", [{}, {"label_attention": "shared"}, {"label_head": "linear", "init": "random"}]
)
def test_a_two_label_toy_task_is_separated_without_collapse(tiny_encoder_dir, design):
    model = make_model(tiny_encoder_dir, labels=["joy", "sadness"], **design)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    batch = encode(model, [t for t, _ in TWO])
    targets = torch.tensor([y for _, y in TWO])
    model.train()
    for _ in range(40):
        model(**batch, labels=targets).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.eval()
    predicted = model(**batch).logits.argmax(-1)
    assert torch.equal(predicted, targets)  # both classes given, every text right
    held_out = [p["label"] for p in model.predict(["happy good joy", "sad terrible"])]
    assert held_out == ["joy", "sadness"]


def test_trainer_averages_the_loss_itself(trained):
    # forward takes **kwargs, so without `accepts_loss_kwargs = False` the Trainer would treat the (mean) loss as a
    # sum over items: not divided over gradient-accumulation steps, multiplied by the number of processes
    _, trainer, _ = trained
    assert trainer.model_accepts_loss_kwargs is False
