"""The three configuration modules: defaults, derived fields and every validation message, word for word.

These tests kill mutmut's mutants in `configuration_label_semantics.py`, `configuration_label_token.py` and
`configuration_label_attention.py` (README, "Mutation score"); they build configs only, no model.
"""

from __future__ import annotations

import logging

import pytest
from transformers import BertConfig

from label_semantics import LabelAttentionConfig, LabelSemanticsConfig, LabelTokenConfig
from label_semantics.configuration_label_attention import (
    MIN_LENGTH,
    LabelAttentionConfigError,
    check_max_length,
)
from label_semantics.configuration_label_token import LEGACY_FIELDS, RESERVED_TOKENS, check_threshold
from label_semantics.verbalizer import SchemeError

VOCAB = 99
POSITIONS = 64


def encoder_dict(**overrides) -> dict:
    config = BertConfig(
        vocab_size=VOCAB,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=37,
        max_position_embeddings=POSITIONS,
    ).to_dict()
    config.update(overrides)
    return config


def remote(config: dict) -> dict:
    return {**config, "trust_remote_code": True, "auto_map": {"AutoModel": "evil.Model"}}


def raises_exactly(error: type[Exception], message: str, build, **kwargs):
    with pytest.raises(error) as info:
        build(**kwargs)
    assert str(info.value) == message
    return info.value


def assert_no_remote_code(config) -> None:
    assert not hasattr(config, "auto_map")
    assert not getattr(config, "trust_remote_code", False)


# --------------------------------------------------------------------------------------------------------------
# LabelSemanticsConfig


def test_label_semantics_nested_configs_never_switch_on_remote_code():
    config = LabelSemanticsConfig(
        text_config=remote(encoder_dict()),
        label_config=remote(encoder_dict(vocab_size=77)),
        share_towers=False,
    )
    assert config.text_config.vocab_size == VOCAB
    assert config.label_config.vocab_size == 77
    assert_no_remote_code(config.text_config)
    assert_no_remote_code(config.label_config)


def test_label_semantics_towers():
    shared = LabelSemanticsConfig(text_config=encoder_dict(), label_config=encoder_dict(vocab_size=77))
    assert shared.share_towers is True and shared.label_config is None
    from_dict = LabelSemanticsConfig(text_config=encoder_dict(), share_towers=False)
    assert from_dict.label_config.vocab_size == VOCAB
    from_object = LabelSemanticsConfig(
        text_config=BertConfig(**encoder_dict(vocab_size=55)), share_towers=False
    )
    assert from_object.text_config.vocab_size == 55 and from_object.label_config.vocab_size == 55
    assert from_object.label_config is not from_object.text_config
    default = LabelSemanticsConfig(share_towers=False)
    assert default.label_config.vocab_size == BertConfig().vocab_size


def test_label_semantics_descriptions_and_labels():
    config = LabelSemanticsConfig(text_config=encoder_dict(), id2label={0: "O", 1: "B-PER", 2: "I-PER"})
    assert config.labels == ["O", "B-PER", "I-PER"]
    assert config.label_descriptions == ["other", "begin person", "inside person"]
    outside = LabelSemanticsConfig(
        text_config=encoder_dict(), id2label={0: "O", 1: "B-PER"}, outside_description="none"
    )
    assert outside.label_descriptions == ["none", "begin person"]
    given = LabelSemanticsConfig(
        text_config=encoder_dict(), id2label={0: "O"}, label_descriptions=["nothing"]
    )
    assert given.label_descriptions == ["nothing"]
    placeholder = LabelSemanticsConfig(text_config=encoder_dict(), id2label={0: "LABEL_0", 1: "LABEL_1"})
    assert placeholder.label_descriptions is None
    # one label short of the placeholders: verbalized
    near = LabelSemanticsConfig(text_config=encoder_dict(), id2label={0: "B-LABEL_0", 1: "B-PER"})
    assert near.label_descriptions == ["begin label 0", "begin person"]
    assert LabelSemanticsConfig(text_config=encoder_dict()).labels == ["LABEL_0", "LABEL_1"]


def test_label_semantics_defaults():
    config = LabelSemanticsConfig(text_config=encoder_dict())
    assert (config.label_pooling, config.crf, config.crf_loss, config.outside_description) == (
        "cls",
        False,
        "nll+ce",
        "other",
    )
    assert config.classifier_dropout == 0.1 and config.tag_scheme is None and config.data_scheme is None


def test_label_semantics_messages():
    build = LabelSemanticsConfig
    raises_exactly(
        ValueError,
        "label_pooling='max' is not supported; use one of ('cls', 'mean'), e.g. LabelSemanticsConfig(label_pooling='cls').",
        build,
        label_pooling="max",
    )
    assert build(label_pooling="mean").label_pooling == "mean"
    raises_exactly(
        ValueError,
        "crf_loss='ce' is not supported; use one of ('nll', 'nll+ce'), e.g. "
        "LabelSemanticsConfig(crf=True, crf_loss='nll').",
        build,
        crf_loss="ce",
    )
    assert build(crf_loss="nll+ce").crf_loss == "nll+ce"
    raises_exactly(
        SchemeError,
        "the CRF transitions were trained for the BIOES scheme but the model's labels are IOB2; load the checkpoint "
        "as saved, or build a new CRF with LabelSemanticsForTokenClassification.from_encoder(..., crf=True)",
        build,
        crf=True,
        crf_scheme="BIOES",
        tag_scheme="IOB2",
    )
    # no CRF, or one side unknown: nothing to compare
    assert build(crf=False, crf_scheme="BIOES", tag_scheme="IOB2").crf_scheme == "BIOES"
    assert build(crf=True, crf_scheme="BIOES").tag_scheme is None
    assert build(crf=True, tag_scheme="IOB2").crf_scheme is None
    assert build(crf=True, crf_scheme="IOB2", tag_scheme="IOB2").crf is True
    for name in ("tag_scheme", "data_scheme", "crf_scheme"):
        raises_exactly(
            ValueError,
            f"{name}='iob2' is not a scheme name; use one of IO, IOB1, IOB2 or BIOES, "
            f"e.g. LabelSemanticsConfig({name}='IOB2').",
            build,
            **{name: "iob2"},
        )
        assert getattr(build(**{name: "BIOES"}), name) == "BIOES"
    # a gap in the ids is the clear error, from the constructor too (it was a bare KeyError: 1 there)
    raises_exactly(
        ValueError,
        "id2label must map the ids 0..1 without gaps, got ids [0, 2].",
        build,
        id2label={0: "O", 2: "B-PER"},
    )
    gap = build(id2label={0: "O", 1: "B-PER"})
    gap.id2label = {0: "O", 2: "B-PER"}
    raises_exactly(ValueError, "id2label must map the ids 0..1 without gaps, got ids [0, 2].", gap._check)
    raises_exactly(
        ValueError,
        "Duplicate labels ['B-PER'] in id2label; every label must appear once.",
        build,
        id2label={0: "O", 1: "B-PER", 2: "B-PER"},
    )
    labels = {0: "O", 1: "B-PER"}
    raises_exactly(
        ValueError,
        "label_descriptions has 1 entries but there are 2 labels ['O', 'B-PER']; give one entry per label, in id "
        "order, or leave it out to derive it from the labels.",
        build,
        id2label=labels,
        label_descriptions=["other"],
    )
    raises_exactly(
        ValueError,
        "label_input_ids has 3 entries but there are 2 labels ['O', 'B-PER']; give one entry per label, in id "
        "order, or leave it out to derive it from the labels.",
        build,
        id2label=labels,
        label_input_ids=[[1], [2], [3]],
    )
    assert build(id2label=labels, label_input_ids=[[1], [2]]).label_input_ids == [[1], [2]]
    assert build(id2label={}).labels == []
    unlabelled = build()
    unlabelled.id2label = None  # no labels at all: nothing to check
    unlabelled._check()


# --------------------------------------------------------------------------------------------------------------
# LabelTokenConfig


def token_config(**kwargs) -> LabelTokenConfig:
    kwargs.setdefault("encoder_config", encoder_dict())
    kwargs.setdefault("id2label", {0: "anger", 1: "joy"})
    return LabelTokenConfig(**kwargs)


def test_check_threshold():
    assert check_threshold(0.25) == 0.25 and isinstance(check_threshold(1e-9), float)
    assert check_threshold(0.999) == 0.999
    for bad in (0, 0.0, 1, 1.0, -0.5, 2, True, "0.5", None):
        raises_exactly(
            ValueError,
            f"threshold={bad!r} must be a number strictly between 0 and 1, e.g. threshold=0.5.",
            check_threshold,
            value=bad,
        )
    raises_exactly(
        ValueError,
        "cut=1 must be a number strictly between 0 and 1, e.g. cut=0.5.",
        check_threshold,
        value=1,
        name="cut",
    )


def test_label_token_defaults_and_derived_fields():
    config = token_config(encoder_config=remote(encoder_dict()))
    assert config.encoder_config.vocab_size == VOCAB
    assert_no_remote_code(config.encoder_config)
    assert config.labels == ["anger", "joy"]
    assert config.label_descriptions == ["anger", "joy"]
    assert config.label_token_ids == [VOCAB - 2, VOCAB - 1]
    assert config.max_seq_length == POSITIONS
    assert (config.threshold, config.label_attention, config.label_head, config.label_smoothing) == (
        0.5,
        "isolated",
        "description",
        0.0,
    )
    assert config.labels_per_pass == 2 and config.num_passes == 1
    assert config.is_multi_label is False
    described = token_config(id2label={0: "B-PER", 1: "sci_fi"})
    assert described.label_descriptions == ["b per", "sci fi"]
    assert token_config(label_descriptions=["a", "b"]).label_descriptions == ["a", "b"]
    assert token_config(label_token_ids=[0, VOCAB - 1]).label_token_ids == [0, VOCAB - 1]


def test_label_token_max_seq_length_without_positions(monkeypatch):
    config = BertConfig(**encoder_dict())
    monkeypatch.delattr(BertConfig, "max_position_embeddings", raising=False)
    del config.max_position_embeddings
    built = token_config(encoder_config=config)
    assert built.max_seq_length == 512


def test_label_token_multi_label_and_passes():
    assert token_config(id2label={0: "joy"}).is_multi_label is True
    assert token_config(problem_type="multi_label_classification").is_multi_label is True
    assert token_config(problem_type="single_label_classification").is_multi_label is False
    labels = {i: f"l{i}" for i in range(40)}
    config = token_config(id2label=labels)
    assert config.labels_per_pass == POSITIONS // 2 and config.num_passes == 2
    exact = token_config(id2label={i: f"l{i}" for i in range(32)})
    assert exact.labels_per_pass == 32 and exact.num_passes == 1
    small = token_config(id2label={i: f"l{i}" for i in range(33)}, max_seq_length=16)
    assert small.labels_per_pass == 8 and small.num_passes == 5
    assert token_config(labels_per_pass=1).num_passes == 2
    assert token_config(labels_per_pass=7).labels_per_pass == 2
    # the smallest window: one label per pass, though half the window would be two
    assert token_config(id2label={0: "joy"}, max_seq_length=5).labels_per_pass == 1
    fit = POSITIONS - RESERVED_TOKENS
    assert token_config(id2label=labels, labels_per_pass=fit).labels_per_pass == 40
    shared = token_config(id2label=labels, label_attention="shared")
    assert shared.labels_per_pass == 40 and shared.num_passes == 1
    assert token_config(id2label=labels, label_attention="shared", labels_per_pass=40).labels_per_pass == 40
    assert token_config(id2label={i: f"l{i}" for i in range(fit)}, label_attention="shared").num_passes == 1


def test_label_token_legacy_from_dict():
    saved = token_config().to_dict()
    for key in LEGACY_FIELDS:
        saved.pop(key)
    old = LabelTokenConfig.from_dict(saved)
    assert (old.label_attention, old.label_head) == ("shared", "linear")
    one = LabelTokenConfig.from_dict({**saved, "label_head": "linear"})
    assert (one.label_attention, one.label_head) == ("isolated", "linear")
    other = LabelTokenConfig.from_dict({**saved, "label_attention": "shared"})
    assert (other.label_attention, other.label_head) == ("shared", "description")
    config, unused = LabelTokenConfig.from_dict(
        saved, return_unused_kwargs=True, threshold=0.25, colour="red"
    )
    assert config.threshold == 0.25 and unused == {"colour": "red"}


def test_label_token_messages():
    raises_exactly(
        ValueError,
        "No labels given. Pass the classes to predict, e.g. id2label={0: 'anger', 1: 'joy'}.",
        token_config,
        id2label={},
    )
    raises_exactly(
        ValueError,
        "Duplicate labels ['joy'] in ['joy', 'anger', 'joy']; list every label once.",
        token_config,
        id2label={0: "joy", 1: "anger", 2: "joy"},
    )
    raises_exactly(
        ValueError,
        "id2label must map the ids 0..1 without gaps, got ids [0, 2].",
        token_config,
        id2label={0: "a", 2: "b"},
    )
    for name, values in (("label_descriptions", ["a"]), ("label_token_ids", [1, 2, 3])):
        raises_exactly(
            ValueError,
            f"{name} has {len(values)} entries but there are 2 labels ['anger', 'joy']; give one entry per label, in "
            "id order, or leave it out to derive it from the labels.",
            token_config,
            **{name: values},
        )
    for ids in ([5, 5], [-1, 3], [3, VOCAB]):
        raises_exactly(
            ValueError,
            f"label_token_ids={ids} must be 2 distinct ids inside the encoder's vocabulary of {VOCAB}; build the model "
            "with LabelTokenForSequenceClassification.from_encoder(path, labels=[...]), which adds the tokens and "
            "sets the ids.",
            token_config,
            label_token_ids=ids,
        )
    raises_exactly(
        ValueError,
        f"max_seq_length=65 exceeds the encoder's max_position_embeddings={POSITIONS}; pass max_seq_length=64 or less.",
        token_config,
        max_seq_length=65,
    )
    assert token_config(max_seq_length=POSITIONS).max_seq_length == POSITIONS
    for name, value, allowed in (
        ("label_attention", "global", ("isolated", "shared")),
        ("label_head", "mlp", ("description", "linear")),
    ):
        raises_exactly(
            ValueError,
            f"{name}={value!r} is not supported; use one of {allowed}, e.g. {name}={allowed[0]!r}.",
            token_config,
            **{name: value},
        )
    assert token_config(label_head="linear").label_head == "linear"
    for bad in (True, "0.1", 1.0, 1, -0.1):
        raises_exactly(
            ValueError,
            f"label_smoothing={bad!r} must be a number from 0 to below 1, e.g. 0.1.",
            token_config,
            label_smoothing=bad,
        )
    assert token_config(label_smoothing=0).label_smoothing == 0
    assert token_config(label_smoothing=0.99).label_smoothing == 0.99
    fit = POSITIONS - RESERVED_TOKENS
    too_many = {i: f"l{i}" for i in range(fit + 1)}
    raises_exactly(
        ValueError,
        f"{fit + 1} labels do not fit in a window of max_seq_length={POSITIONS} tokens: at most {fit} labels fit "
        f"({RESERVED_TOKENS} places go to [CLS], two [SEP] and at least one text token). Use "
        "label_attention='isolated', which reads a large label set in several passes, fewer labels, or a larger "
        "max_seq_length if the encoder allows it.",
        token_config,
        id2label=too_many,
        label_attention="shared",
    )
    raises_exactly(
        ValueError,
        "labels_per_pass=1 needs label_attention='isolated': with shared attention all 2 labels are read in one pass. "
        "Leave labels_per_pass unset.",
        token_config,
        label_attention="shared",
        labels_per_pass=1,
    )
    for bad in (0, fit + 1, True):
        raises_exactly(
            ValueError,
            f"labels_per_pass={bad!r} must be an int from 1 to {fit} (max_seq_length={POSITIONS} less "
            f"{RESERVED_TOKENS} places for [CLS], two [SEP] and a text token), e.g. labels_per_pass=2.",
            token_config,
            labels_per_pass=bad,
        )
    many = {i: f"l{i}" for i in range(40)}
    raises_exactly(
        ValueError,
        f"labels_per_pass=0 must be an int from 1 to {fit} (max_seq_length={POSITIONS} less {RESERVED_TOKENS} places "
        "for [CLS], two [SEP] and a text token), e.g. labels_per_pass=32.",
        token_config,
        id2label=many,
        labels_per_pass=0,
    )
    for ids in ([[1]], [[1], []]):
        raises_exactly(
            ValueError,
            f"description_token_ids has {len(ids)} entries for 2 labels ['anger', 'joy'] (or an empty one); give "
            "each label's encoded description, in id order.",
            token_config,
            description_token_ids=ids,
        )
    assert token_config(description_token_ids=[[1], [2, 3]]).description_token_ids == [[1], [2, 3]]
    raises_exactly(
        ValueError,
        "threshold=1.0 must be a number strictly between 0 and 1, e.g. threshold=0.5.",
        token_config,
        threshold=1.0,
    )
    raises_exactly(
        ValueError,
        "problem_type='regression' is not supported: every label token gives a label score. Use "
        "'single_label_classification' or 'multi_label_classification', or leave it unset.",
        token_config,
        problem_type="regression",
    )


# --------------------------------------------------------------------------------------------------------------
# LabelAttentionConfig


def test_check_max_length():
    assert check_max_length(None, 10) is None
    assert check_max_length(MIN_LENGTH, None) == 3
    assert check_max_length(64, 64) == 64
    assert check_max_length(100, "64") == 100
    for bad in (2, True, 3.0, "8"):
        raises_exactly(
            LabelAttentionConfigError,
            f"`max_length` must be an int of at least 3 ([CLS], a token, [SEP]), got {bad!r}; e.g. max_length=128.",
            check_max_length,
            value=bad,
            positions=None,
        )
    raises_exactly(
        LabelAttentionConfigError,
        "`limit` must be an int of at least 3 ([CLS], a token, [SEP]), got 1; e.g. limit=128.",
        check_max_length,
        value=1,
        positions=None,
        name="limit",
    )
    raises_exactly(
        LabelAttentionConfigError,
        "`limit`=65 exceeds the encoder's max_position_embeddings=64; pass limit=64 or less.",
        check_max_length,
        value=65,
        positions=64,
        name="limit",
    )
    raises_exactly(
        LabelAttentionConfigError,
        "`max_length`=65 exceeds the encoder's max_position_embeddings=64; pass max_length=64 or less.",
        check_max_length,
        value=65,
        positions=64,
    )


def attention_config(**kwargs) -> LabelAttentionConfig:
    kwargs.setdefault("encoder_config", encoder_dict())
    return LabelAttentionConfig(**kwargs)


def test_label_attention_derived_fields():
    config = attention_config(encoder_config=remote(encoder_dict()), id2label={0: "error", 1: "ok"})
    assert config.encoder_config.vocab_size == VOCAB
    assert_no_remote_code(config.encoder_config)
    assert config.label_descriptions == ["error", "ok"]
    assert attention_config(id2label={0: 7}).label_descriptions == ["7"]
    assert attention_config(id2label={0: "a"}, label_descriptions=["bad grammar"]).label_descriptions == [
        "bad grammar"
    ]
    assert attention_config(max_length=POSITIONS).max_length == POSITIONS
    assert attention_config(id2label={}).label_descriptions == []
    unbounded = attention_config()
    unbounded.encoder_config = {}
    unbounded.max_length = 4096
    unbounded.check()  # an encoder config without max_position_embeddings sets no upper bound
    with pytest.raises(LabelAttentionConfigError):
        attention_config(max_length=4096)
    # derived from the default id2label
    assert LabelAttentionConfig().label_descriptions == ["LABEL_0", "LABEL_1"]


def test_label_attention_messages():
    for name in ("word_threshold", "sentence_threshold"):
        for bad in (-0.1, 1.5):
            raises_exactly(
                LabelAttentionConfigError,
                f"`{name}` must lie in [0, 1], got {bad!r}; e.g. LabelAttentionConfig(..., {name}=0.5).",
                attention_config,
                **{name: bad},
            )
        assert getattr(attention_config(**{name: 0}), name) == 0
        assert getattr(attention_config(**{name: 1}), name) == 1
    for name in ("sentence_loss_weight", "min_attention_loss_weight", "max_attention_loss_weight"):
        raises_exactly(
            LabelAttentionConfigError,
            f"`{name}` must be >= 0, got -0.5; use 0.0 to switch that loss off, e.g. LabelAttentionConfig(..., {name}=0.0).",
            attention_config,
            **{name: -0.5},
        )
        assert getattr(attention_config(**{name: 0}), name) == 0
    config = attention_config()
    for name, choices in (
        ("attention_function", ("sigmoid", "softmax")),
        ("word_aggregation", ("first", "max")),
        ("label_pooling", ("cls", "mean")),
    ):
        setattr(config, name, "bogus")
        raises_exactly(
            LabelAttentionConfigError,
            f"`{name}` must be one of {choices}, got 'bogus'; e.g. LabelAttentionConfig(..., {name}={choices[0]!r}).",
            config.check,
        )
        setattr(config, name, choices[1])
        config.check()
    raises_exactly(
        LabelAttentionConfigError,
        "`problem_type='regression'` is not supported by the label-attention classifier; use "
        "'single_label_classification' (one label per sentence) or 'multi_label_classification'.",
        attention_config,
        problem_type="regression",
    )
    raises_exactly(
        LabelAttentionConfigError,
        "`max_length`=65 exceeds the encoder's max_position_embeddings=64; pass max_length=64 or less.",
        attention_config,
        max_length=65,
    )
    raises_exactly(
        LabelAttentionConfigError,
        "1 label descriptions for 2 labels (['a', 'b']); give one description per label, in id2label order, "
        "e.g. label_descriptions=['grammatical error'].",
        attention_config,
        id2label={0: "a", 1: "b"},
        label_descriptions=["x"],
    )
    config = attention_config(id2label={0: "a"})
    config.id2label = None
    config.label_descriptions = ["x", "y"]
    with pytest.raises(LabelAttentionConfigError) as info:
        config.check()
    assert str(info.value).startswith("2 label descriptions for ")
    assert "labels ([]); give one" in str(info.value)
    raises_exactly(
        LabelAttentionConfigError,
        "3 tokenised descriptions for 2 labels; rebuild them with model.set_labels(labels, descriptions) rather "
        "than editing the config.",
        attention_config,
        id2label={0: "a", 1: "b"},
        label_description_ids=[[1], [2], [3]],
    )
    assert attention_config(id2label={0: "a"}, label_description_ids=[[1]]).label_description_ids == [[1]]


def test_no_log_noise(caplog):
    with caplog.at_level(logging.WARNING, logger="label_semantics"):
        token_config()
        attention_config()
        LabelSemanticsConfig(text_config=encoder_dict())
    assert not [r for r in caplog.records if r.name.startswith("label_semantics")]
