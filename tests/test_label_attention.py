"""Tests of the label-attention sentence classifier (zero-shot sequence labelling) and its rendering."""

from __future__ import annotations

import html

import pytest
import torch
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

import label_semantics  # noqa: F401  (registers the Auto classes)
from label_semantics.configuration_label_attention import LabelAttentionConfig, LabelAttentionConfigError
from label_semantics.label_attention_scoring import lowest_attention_loss, sentence_loss
from label_semantics.modeling_label_attention import (
    EmptyTrainingSetError,
    LabelAttentionForSequenceClassification,
    MissingTokenizerError,
    UnknownLabelError,
    aggregate_word_scores,
    attention_losses,
    attention_weights,
    check_threshold,
)
from label_semantics.rendering import RenderingError, render_html, render_html_page, render_text

EMOTIONS = ["joy", "sadness", "anger"]


@pytest.fixture
def binary_model(tiny_encoder_dir):
    torch.manual_seed(0)
    return LabelAttentionForSequenceClassification.from_encoder(
        tiny_encoder_dir, labels=["incorrect"], descriptions={"incorrect": "bad"}
    )


@pytest.fixture
def emotion_model(tiny_encoder_dir):
    torch.manual_seed(0)
    return LabelAttentionForSequenceClassification.from_encoder(tiny_encoder_dir, labels=EMOTIONS)


def config_dict(config) -> dict:
    """`to_dict()` without the load path, which differs between a built and a loaded config."""
    data = config.to_dict()
    data.pop("_name_or_path", None)
    data["encoder_config"].pop("_name_or_path", None)
    return data


def batch(model, texts):
    return model.tokenizer(texts, padding=True, return_tensors="pt")


# ----------------------------------------------------------------------------------------- config
def test_config_defaults_and_round_trip(tmp_path, binary_model):
    config = binary_model.config
    assert config.model_type == "label-attention"
    assert config.label_descriptions == ["bad"]
    assert config.problem_type == "multi_label_classification"
    config.save_pretrained(tmp_path)
    loaded = AutoConfig.from_pretrained(tmp_path)
    assert isinstance(loaded, LabelAttentionConfig)
    assert config_dict(loaded) == config_dict(config)
    assert loaded.encoder_config.hidden_size == 32


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("word_threshold", 1.5),
        ("sentence_threshold", -0.1),
        ("min_attention_loss_weight", -1.0),
        ("attention_function", "relu"),
        ("word_aggregation", "mean"),
        ("label_pooling", "max"),
        ("zero_attention_loss_weight", -0.1),
        ("zero_attention_tokens", -1),
    ],
)
def test_config_rejects_bad_values(field, value):
    with pytest.raises(LabelAttentionConfigError, match=field):
        LabelAttentionConfig(**{field: value})


def test_config_bujel_options_default_off_and_square_needs_sigmoid():
    config = LabelAttentionConfig()
    assert (config.square_attention, config.zero_attention_loss_weight, config.zero_attention_tokens) == (
        False,
        0.0,
        0,
    )
    with pytest.raises(LabelAttentionConfigError, match="square_attention=True.*'softmax'"):
        LabelAttentionConfig(square_attention=True, attention_function="softmax")


def test_config_rejects_description_count():
    with pytest.raises(LabelAttentionConfigError, match="one description per label"):
        LabelAttentionConfig(id2label={0: "a", 1: "b"}, label2id={"a": 0, "b": 1}, label_descriptions=["x"])


def test_config_rejects_regression():
    with pytest.raises(LabelAttentionConfigError, match="regression"):
        LabelAttentionConfig(problem_type="regression")


# -------------------------------------------------------------------------------- pure tensor parts
@pytest.mark.parametrize("function", ["sigmoid", "softmax"])
def test_attention_weights_sum_to_one_over_real_tokens(function):
    torch.manual_seed(0)
    energies = torch.randn(3, 6, 2)
    mask = torch.tensor([[0, 1, 1, 1, 0, 0], [0, 1, 1, 1, 1, 0], [0, 0, 0, 0, 0, 0]], dtype=torch.bool)
    scores, weights = attention_weights(energies, mask, function)
    assert torch.allclose(weights[:2].sum(1), torch.ones(2, 2))
    assert torch.all(weights[~mask] == 0) and torch.all(scores[~mask] == 0)
    assert torch.all(weights[2] == 0)  # no real tokens: nothing, not NaN
    if function == "sigmoid":
        assert torch.allclose(scores[mask], torch.sigmoid(energies)[mask])


def test_square_attention_weights_by_hand():
    # real tokens score 0.2, 0.4 (and 0.8 is padding): plain a = (1/3, 2/3), squared a = (0.04, 0.16) / 0.2
    energies = torch.logit(torch.tensor([[[0.2], [0.4], [0.8]]]))
    mask = torch.tensor([[1, 1, 0]])
    scores, plain = attention_weights(energies, mask, "sigmoid")
    squared_scores, squared = attention_weights(energies, mask, "sigmoid", square=True)
    assert plain[0, :, 0].tolist() == pytest.approx([1 / 3, 2 / 3, 0.0])
    assert squared[0, :, 0].tolist() == pytest.approx([0.2, 0.8, 0.0])
    assert torch.equal(scores, squared_scores)  # the token scores stay the sigmoid scores
    assert scores[0, :, 0].tolist() == pytest.approx([0.2, 0.4, 0.0])


def test_lowest_attention_loss_by_hand():
    # sentence 0: real 0.5, 0.1, 0.3 (padding 0.0 ignored) -> two lowest 0.1, 0.3: (0.01 + 0.09) / 2 = 0.05
    # sentence 1: one real token 0.6 -> only that one: 0.36; sentence 2: no real token, left out
    scores = torch.tensor([[[0.5], [0.1], [0.3], [0.0]], [[0.6], [0.0], [0.0], [0.0]], [[0.9]] * 4])
    mask = torch.tensor([[1, 1, 1, 0], [1, 0, 0, 0], [0, 0, 0, 0]])
    assert lowest_attention_loss(scores, mask, 2).item() == pytest.approx((0.05 + 0.36) / 2)
    assert lowest_attention_loss(scores, mask, 1).item() == pytest.approx((0.01 + 0.36) / 2)  # L2
    with pytest.raises(LabelAttentionConfigError, match="at least 1"):
        lowest_attention_loss(scores, mask, 0)
    logits, labels = torch.zeros(3, 1), torch.tensor([1.0, 0.0, 1.0])
    base = sentence_loss(logits, scores, mask, labels, problem_type=None)
    with_l5 = sentence_loss(
        logits,
        scores,
        mask,
        labels,
        problem_type=None,
        zero_attention_loss_weight=0.5,
        zero_attention_tokens=2,
    )
    assert (with_l5 - base).item() == pytest.approx(0.5 * (0.05 + 0.36) / 2)
    off = sentence_loss(logits, scores, mask, labels, problem_type=None, zero_attention_loss_weight=0.5)
    assert off.item() == base.item()  # zero_attention_tokens=0: L5 off


def test_attention_losses_on_hand_made_tensors():
    # sentence 0 (positive): real tokens score 0.2, 0.9, 0.5 -> min 0.2, max 0.9; the padded 0.0 is ignored
    # sentence 1 (negative): real tokens 0.3, 0.6 -> min 0.3, max 0.6; the special-token 1.0 is ignored
    scores = torch.tensor([[[0.2], [0.9], [0.5], [0.0]], [[1.0], [0.3], [0.6], [0.0]]])
    mask = torch.tensor([[1, 1, 1, 0], [0, 1, 1, 0]])
    targets = torch.tensor([[1.0], [0.0]])
    l2, l3 = attention_losses(scores, mask, targets)
    assert l2.item() == pytest.approx((0.2**2 + 0.3**2) / 2)
    assert l3.item() == pytest.approx(((0.9 - 1) ** 2 + (0.6 - 0) ** 2) / 2)


def test_attention_losses_skip_empty_sentences():
    scores = torch.tensor([[[0.5], [0.5]], [[0.9], [0.9]]])
    mask = torch.tensor([[1, 1], [0, 0]])
    l2, l3 = attention_losses(scores, mask, torch.tensor([[1.0], [1.0]]))
    assert l2.item() == pytest.approx(0.25) and l3.item() == pytest.approx(0.25)


@pytest.mark.parametrize(("how", "expected"), [("first", [0.1, 0.7, 0.2]), ("max", [0.4, 0.7, 0.9])])
def test_aggregate_word_scores(how, expected):
    # [CLS] w0 w0 w1 w2 w2 [SEP] [PAD]
    scores = torch.tensor([0.0, 0.1, 0.4, 0.7, 0.2, 0.9, 0.0, 0.0]).unsqueeze(-1)
    word_ids = [None, 0, 0, 1, 2, 2, None, None]
    assert aggregate_word_scores(scores, word_ids, how).squeeze(-1).tolist() == pytest.approx(expected)
    assert aggregate_word_scores(scores, [None, None], how).shape == (0, 1)


def test_aggregate_word_scores_rejects_unknown_mode():
    with pytest.raises(LabelAttentionConfigError, match="'first' or 'max'"):
        aggregate_word_scores(torch.zeros(2, 1), [0, 1], "mean")


@pytest.mark.parametrize("value", [-0.01, 1.01, "high", None, True, float("nan")])
def test_check_threshold_rejects(value):
    with pytest.raises(LabelAttentionConfigError, match=r"\[0, 1\]"):
        check_threshold(value)


# ------------------------------------------------------------------------------------- the model
def test_forward_masks_padding_and_special_tokens(binary_model):
    inputs = batch(binary_model, ["john visited paris", "a"])
    output = binary_model(**inputs, labels=torch.tensor([1, 0]))
    mask = binary_model.token_mask(inputs["input_ids"], inputs["attention_mask"])
    assert mask[1].sum() == 1  # "a" is the only real token of the short sentence
    assert not mask[:, 0].any()  # [CLS]
    assert torch.allclose(output.attention_weights.sum(1), torch.ones(2, 1))
    assert torch.all(output.attention_weights[~mask] == 0) and torch.all(output.token_scores[~mask] == 0)
    assert output.logits.shape == (2, 1) and output.loss.ndim == 0
    output.loss.backward()
    assert binary_model.token_projection.weight.grad is not None


def test_loss_is_weighted_sum(binary_model):
    inputs = batch(binary_model, ["john visited paris"])
    binary_model.eval()
    labels = torch.tensor([1])
    binary_model.config.min_attention_loss_weight = 0.0
    binary_model.config.max_attention_loss_weight = 0.0
    l1 = binary_model(**inputs, labels=labels).loss
    binary_model.config.min_attention_loss_weight = 0.5
    binary_model.config.max_attention_loss_weight = 2.0
    output = binary_model(**inputs, labels=labels)
    mask = binary_model.token_mask(inputs["input_ids"], inputs["attention_mask"])
    l2, l3 = attention_losses(output.token_scores, mask, torch.tensor([[1.0]]))
    assert output.loss.item() == pytest.approx((l1 + 0.5 * l2 + 2.0 * l3).item(), rel=1e-5)


def test_bujel_options_change_the_model_and_survive_save_and_load(tmp_path, tiny_encoder_dir):
    torch.manual_seed(0)
    model = LabelAttentionForSequenceClassification.from_encoder(
        tiny_encoder_dir,
        labels=["incorrect"],
        square_attention=True,
        zero_attention_loss_weight=0.25,
        zero_attention_tokens=2,
    )
    model.eval()
    inputs, labels = batch(model, ["john visited paris"]), torch.tensor([1])
    output = model(**inputs, labels=labels)
    mask = model.token_mask(inputs["input_ids"], inputs["attention_mask"])
    squared = output.token_scores**2 * mask.unsqueeze(-1)
    assert torch.allclose(output.attention_weights, squared / squared.sum(1, keepdim=True))
    model.config.zero_attention_loss_weight = 0.0
    without = model(**inputs, labels=labels).loss
    l5 = lowest_attention_loss(output.token_scores, mask, 2)
    assert output.loss.item() == pytest.approx((without + 0.25 * l5).item(), rel=1e-5)
    model.config.zero_attention_loss_weight = 0.25
    model.save_pretrained(tmp_path / "saved")
    loaded = AutoModelForSequenceClassification.from_pretrained(tmp_path / "saved")
    assert loaded.config.square_attention is True
    assert (loaded.config.zero_attention_loss_weight, loaded.config.zero_attention_tokens) == (0.25, 2)
    with torch.no_grad():
        assert torch.equal(loaded(**inputs).attention_weights, model(**inputs).attention_weights)


def test_multiclass_one_query_per_label(emotion_model):
    inputs = batch(emotion_model, ["happy joy", "sad", "anger at the company"])
    output = emotion_model(**inputs, labels=torch.tensor([0, 1, 2]))
    assert output.logits.shape == (3, 3) and output.token_scores.shape[-1] == 3
    assert emotion_model.config.problem_type == "single_label_classification"
    assert emotion_model.encode_labels().shape == (3, 32)
    # queries differ per label, so do the token scores
    assert not torch.allclose(output.token_scores[..., 0], output.token_scores[..., 1])


def test_label_ids_outside_the_set_raise(emotion_model, binary_model):
    inputs = batch(emotion_model, ["happy"])
    with pytest.raises(UnknownLabelError, match=r"\[5\]"):
        emotion_model(**inputs, labels=torch.tensor([5]))
    with pytest.raises(UnknownLabelError, match="0 or 1"):
        binary_model(**batch(binary_model, ["happy"]), labels=torch.tensor([2]))


def test_sentence_targets_and_bad_labels(emotion_model, binary_model):
    assert emotion_model.sentence_targets(["anger", "joy", 1]) == [2, 0, 1]
    assert binary_model.sentence_targets([True, 0, "incorrect"]) == [1, 0, 1]
    with pytest.raises(UnknownLabelError, match="'surprise'.*'joy', 'sadness', 'anger'"):
        emotion_model.prepare_dataset(["happy"], ["surprise"])
    with pytest.raises(UnknownLabelError, match="'correct'"):
        binary_model.prepare_dataset(["happy"], ["correct"])
    with pytest.raises(EmptyTrainingSetError, match="empty"):
        emotion_model.prepare_dataset([], [])


def test_multi_label(tiny_encoder_dir):
    model = LabelAttentionForSequenceClassification.from_encoder(
        tiny_encoder_dir, labels=EMOTIONS, problem_type="multi_label_classification"
    )
    features = model.prepare_dataset(["happy and sad", "good"], [["joy", "sadness"], []])
    assert features[0]["labels"] == [1.0, 1.0, 0.0] and features[1]["labels"] == [0.0, 0.0, 0.0]
    with pytest.raises(UnknownLabelError, match="list of label names"):
        model.sentence_targets(["joy"])
    collated = DataCollatorWithPadding(model.tokenizer)(features)
    assert model(**collated).loss.item() > 0
    result = model.predict("happy and sad", sentence_threshold=0.0)
    assert result["labels"] == EMOTIONS and set(result["evidence"]) == set(EMOTIONS)


# ------------------------------------------------------------------------------------- predict()
def test_predict_aligns_scores_to_words(binary_model):
    text = "John visited Paris, said Mary."
    result = binary_model.predict(text)
    words = [w["word"] for w in result["words"]]
    assert words == ["John", "visited", "Paris", ",", "said", "Mary", "."]
    assert all(text[w["start"] : w["end"]] == w["word"] for w in result["words"])
    # the word scores are exactly the first-sub-token scores of the forward pass
    encoding = binary_model.tokenizer([text], return_tensors="pt")
    binary_model.eval()
    with torch.no_grad():
        token_scores = binary_model(**encoding).token_scores[0, :, 0]
    firsts = {}
    for position, word in enumerate(encoding.word_ids(0)):
        if word is not None and word not in firsts:
            firsts[word] = token_scores[position].item()
    assert [w["scores"]["incorrect"] for w in result["words"]] == pytest.approx([firsts[i] for i in range(7)])


def test_predict_max_aggregation_and_pre_split_words(binary_model):
    binary_model.config.word_aggregation = "max"
    results = binary_model.predict([["Johnny", "visited", "Parisian"], ["a"]])
    assert [w["word"] for w in results[0]["words"]] == ["Johnny", "visited", "Parisian"]
    assert results[0]["words"][0]["start"] is None
    assert len(results[1]["words"]) == 1


def scores_of(result):
    return [w["scores"]["incorrect"] for w in result["words"]]


def test_predict_reads_a_word_without_tokens_as_the_unknown_token(binary_model):
    # a lone U+FE0F tokenises to nothing; like the dual tower, the model reads such a word as [UNK]
    unk = binary_model.tokenizer.unk_token
    pre_split = binary_model.predict([["good", "\ufe0f", "food"]])[0]
    assert [w["word"] for w in pre_split["words"]] == ["good", "\ufe0f", "food"]
    as_unknown = binary_model.predict([["good", unk, "food"]])[0]
    assert scores_of(pre_split) == pytest.approx(scores_of(as_unknown)) and not pre_split["truncated"]
    assert scores_of(pre_split)[1] > 0.0  # the unknown token takes part in attention
    text = "\ufe0f good \ufe0f food!"
    raw = binary_model.predict(text)
    assert [w["word"] for w in raw["words"]] == ["\ufe0f", "good", "\ufe0f", "food", "!"]
    assert [(w["start"], w["end"]) for w in raw["words"]] == [(0, 1), (2, 6), (7, 8), (9, 13), (13, 14)]
    assert all(text[w["start"] : w["end"]] == w["word"] for w in raw["words"])
    assert scores_of(raw) == pytest.approx(scores_of(binary_model.predict(f"{unk} good {unk} food!")))


def test_predict_str_in_one_out_list_in_list_out(binary_model):
    single = binary_model.predict("good")
    assert isinstance(single, dict) and set(single) >= {"labels", "probabilities", "words", "evidence"}
    many = binary_model.predict(["good", "bad food"], batch_size=1)
    assert isinstance(many, list) and len(many) == 2
    assert many[0]["probabilities"] == pytest.approx(single["probabilities"])


def test_predict_empty_text_gives_empty_word_list(binary_model):
    result = binary_model.predict("")
    assert result["words"] == [] and not result["truncated"]
    assert binary_model.predict([]) == []


def test_predict_thresholds(binary_model):
    everything = binary_model.predict("john visited paris", word_threshold=0.0, sentence_threshold=0.0)
    assert everything["labels"] == ["incorrect"]
    assert everything["evidence"]["incorrect"] == ["john", "visited", "paris"]
    nothing = binary_model.predict("john visited paris", word_threshold=1.0, sentence_threshold=1.0)
    assert nothing["labels"] == [] and all(w["labels"] == [] for w in nothing["words"])
    for bad in (-0.5, 1.5):
        with pytest.raises(LabelAttentionConfigError, match="word_threshold"):
            binary_model.predict("x", word_threshold=bad)
        with pytest.raises(LabelAttentionConfigError, match="sentence_threshold"):
            binary_model.predict("x", sentence_threshold=bad)


def test_predict_long_input_is_truncated_loudly(binary_model, caplog):
    binary_model.config.max_length = 8
    result = binary_model.predict(" ".join(["the"] * 20))
    assert result["truncated"] and len(result["words"]) == 20
    assert result["words"][-1]["scores"]["incorrect"] == 0.0
    assert "truncated" in caplog.text
    caplog.clear()
    short, long = binary_model.predict(["good", " ".join(["the"] * 20)], batch_size=1)
    assert not short["truncated"] and long["truncated"]
    assert "Input 1 was truncated" in caplog.text  # the input's index, not its place in the batch


def test_predict_without_tokenizer_raises(binary_model):
    binary_model.tokenizer = None
    with pytest.raises(MissingTokenizerError, match="AutoTokenizer"):
        binary_model.predict("x")


def test_predict_rejects_mixed_input(binary_model):
    with pytest.raises(ValueError, match="list of word lists"):
        binary_model.predict(["a", ["b"]])


# ------------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("batch_size", [0, -1, 1.5, True, "8"])
def test_predict_rejects_a_bad_batch_size(binary_model, batch_size):
    with pytest.raises(ValueError, match=r"batch_size.*e\.g\. batch_size=32"):
        binary_model.predict(["good", "bad"], batch_size=batch_size)


def test_words_must_be_strings_and_inputs_of_one_kind(binary_model):
    with pytest.raises(ValueError, match="every word a str"):
        binary_model.predict([["good", None]])
    with pytest.raises(ValueError, match="item 1"):
        binary_model.prepare_dataset(["good", ["bad"]], [True, False])
    with pytest.raises(ValueError, match="list of word lists"):
        binary_model.predict(3)
    assert binary_model.predict([[]])[0]["words"] == []


def test_descriptions_must_name_labels(tiny_encoder_dir):
    with pytest.raises(LabelAttentionConfigError, match=r"\['incorect'\].*not among the labels"):
        LabelAttentionForSequenceClassification.from_encoder(
            tiny_encoder_dir, labels=["incorrect"], descriptions={"incorect": "bad"}
        )


@pytest.mark.parametrize("value", [2, 65])
def test_max_length_fits_the_encoder(binary_model, value):
    encoder = BertConfig(
        hidden_size=32, num_hidden_layers=1, num_attention_heads=2, max_position_embeddings=64
    )
    with pytest.raises(LabelAttentionConfigError, match=f"max_length.*{value}"):
        LabelAttentionConfig(encoder_config=encoder, max_length=value)
    with pytest.raises(LabelAttentionConfigError, match=f"max_length.*{value}"):
        binary_model.prepare_dataset(["good"], [True], max_length=value)


def test_over_long_input_is_a_clear_error_and_the_pipeline_truncates(tmp_path, binary_model):
    long = " ".join(["the"] * 100)
    with pytest.raises(ValueError, match="102 tokens but the encoder reads at most 64.*truncation=True"):
        binary_model(**binary_model.tokenizer([long], return_tensors="pt"))
    assert binary_model.tokenizer.model_max_length == 64
    binary_model.save_pretrained(tmp_path)
    classifier = pipeline("text-classification", model=str(tmp_path))
    assert classifier(long, truncation=True)[0]["label"] == "incorrect"


def test_from_pretrained_loads_the_tokenizer_with_the_same_options(tmp_path, binary_model):
    binary_model.save_pretrained(tmp_path / "sub")
    loaded = LabelAttentionForSequenceClassification.from_pretrained(tmp_path, subfolder="sub")
    assert loaded.tokenizer is not None and loaded.predict("good") == binary_model.eval().predict("good")


# ---------------------------------------------------------------------------------- save / load
def test_save_load_equality(tmp_path, emotion_model):
    emotion_model.eval()
    emotion_model.save_pretrained(tmp_path / "saved")
    loaded = AutoModelForSequenceClassification.from_pretrained(tmp_path / "saved")
    assert isinstance(loaded, LabelAttentionForSequenceClassification)
    assert loaded.tokenizer is not None and loaded.tokenizer.is_fast
    assert config_dict(loaded.config) == config_dict(emotion_model.config)
    for name, tensor in emotion_model.state_dict().items():
        assert torch.equal(tensor, loaded.state_dict()[name]), name
    inputs = batch(emotion_model, ["happy joy", "the sad film"])
    with torch.no_grad():
        before, after = emotion_model(**inputs), loaded(**inputs)
    assert torch.equal(before.logits, after.logits)
    assert torch.equal(before.token_scores, after.token_scores)
    assert emotion_model.predict("sad film") == loaded.predict("sad film")
    assert isinstance(AutoModel.from_pretrained(tmp_path / "saved"), LabelAttentionForSequenceClassification)


def test_from_encoder_keeps_pretrained_weights(tiny_encoder_dir, binary_model):
    reference = AutoModel.from_pretrained(tiny_encoder_dir)
    for name, tensor in reference.state_dict().items():
        assert torch.equal(tensor, binary_model.encoder.state_dict()[name]), name


def test_set_labels_swaps_label_set(binary_model):
    binary_model.set_labels(["joy", "anger"], descriptions=["happy", "anger"])
    assert binary_model.config.label2id == {"joy": 0, "anger": 1}
    assert binary_model.config.problem_type == "multi_label_classification"  # kept from the binary model
    assert binary_model.encode_labels().shape == (2, 32)
    with pytest.raises(UnknownLabelError, match="duplicates"):
        binary_model.set_labels(["a", "a"])
    with pytest.raises(LabelAttentionConfigError, match="one description per label"):
        binary_model.set_labels(["a", "b"], descriptions=["x"])


# -------------------------------------------------------------------------------------- Trainer
def test_trainer_with_default_arguments(tmp_path, binary_model):
    texts = ["john visited paris", "the bad bad food", "mary met john", "bad movie"] * 4
    labels = [False, True, False, True] * 4
    features = binary_model.prepare_dataset(texts, labels)
    before = {k: v.clone() for k, v in binary_model.state_dict().items()}
    trainer = Trainer(
        model=binary_model,
        args=TrainingArguments(output_dir=str(tmp_path / "run")),
        train_dataset=features,
        data_collator=DataCollatorWithPadding(binary_model.tokenizer),
    )
    trainer.train()
    after = binary_model.state_dict()
    assert not torch.equal(before["token_projection.weight"], after["token_projection.weight"])
    assert not torch.equal(
        before["encoder.embeddings.word_embeddings.weight"],
        after["encoder.embeddings.word_embeddings.weight"],
    )
    prediction = trainer.predict(features[:3])
    logits, token_scores, weights = prediction.predictions
    assert logits.shape == (3, 1) and prediction.label_ids.tolist() == [0, 1, 0]
    assert token_scores.shape == weights.shape and token_scores.shape[-1] == 1


# ------------------------------------------------------------------------------------ rendering
RESULT = {
    "labels": ["incorrect"],
    "probabilities": {"incorrect": 0.8},
    "words": [
        {"word": "I", "scores": {"incorrect": 0.1}},
        {"word": "saws", "scores": {"incorrect": 0.93}},
        {"word": "<b>", "scores": {"incorrect": 0.5}},
    ],
}


def test_render_html_shades_and_escapes():
    fragment = render_html(RESULT)
    assert "rgba(220, 50, 47, 0.93)" in fragment and "rgba(220, 50, 47, 0.10)" in fragment
    assert "&lt;b&gt;" in fragment and "<b>" not in fragment.replace(
        '<b style="color: rgb(220, 50, 47)">', ""
    )
    assert 'title="incorrect: 0.93"' in fragment
    page = render_html_page([RESULT], title="FCE <demo>")
    assert page.startswith("<!DOCTYPE html>") and html.escape("FCE <demo>") in page
    assert "predicted: incorrect | incorrect 0.80" in page


def test_render_text_plain():
    assert render_text(RESULT, shades=False) == "incorrect: I [saws 0.93] [<b> 0.50]"
    shaded = render_text(RESULT).splitlines()
    assert len(shaded) == 2 and set(shaded[1].strip()) <= set(" ░▒▓█")
    assert render_text(RESULT, threshold=0.95, shades=False) == "incorrect: I saws <b>"


def test_render_real_prediction(emotion_model):
    result = emotion_model.predict("happy joy at the film")
    fragment = render_html(result, labels=EMOTIONS)
    assert fragment.count("<p>") == 3 and fragment.count("film") == 3
    assert render_text(result, labels="anger").startswith("anger: ")


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: render_html("text"), "prediction dict"),
        (lambda: render_html(RESULT, labels="joy"), r"\['joy'\]"),
        (lambda: render_text(RESULT, threshold=2), r"\[0, 1\]"),
        (lambda: render_text({"words": [{"word": "x", "scores": {"a": 3.0}}]}), "score 3.0"),
    ],
)
def test_render_bad_input(call, match):
    with pytest.raises(RenderingError, match=match):
        call()


@pytest.mark.slow
def test_minilm_backbone_end_to_end(minilm_path):
    model = LabelAttentionForSequenceClassification.from_encoder(minilm_path, labels=["incorrect"])
    assert model.config.encoder_config.hidden_size == 384
    result = model.predict("I saws the show yesterday.")
    assert [w["word"] for w in result["words"]] == ["I", "saws", "the", "show", "yesterday", "."]
    assert all(0.0 <= w["scores"]["incorrect"] <= 1.0 for w in result["words"])
